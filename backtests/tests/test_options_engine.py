"""The options backtest: spreads to expiry to the cent, cash or shares at expiry, covered calls,
buying power, refusals, limits, sessions without a chain, and a synthetic run end to end."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from backtests.core.options_engine import OptionsBacktestEngine, OptionsConfig
from backtests.core.results import BacktestConfig
from marketdata.core.bars import Timeframe, bar_frame
from marketdata.core.errors import InvalidInput
from marketdata.core.options import OptionContract
from marketdata.core.providers.option_chains import chain_frame
from marketdata.core.providers.synthetic import SyntheticProvider
from marketdata.core.providers.synthetic_chains import SyntheticChainConfig, synthetic_chains
from risk.core.manager import Decision, Reason, RiskManager
from strategies.core.options import OptionLeg, OptionOrder
from strategies.core.types import Order, OrderStatus, OrderType, Side

DAYS = [datetime(2024, 3, d, tzinfo=UTC) for d in (11, 12, 13, 14, 15)]  # Monday to Friday
EXPIRY = date(2024, 3, 15)
# strike, right: (bid, ask), the same every session
QUOTES = {
    (90, "P"): (0.80, 0.90),
    (95, "P"): (1.90, 2.00),
    (100, "P"): (3.90, 4.10),
    (105, "C"): (2.10, 2.25),
    (110, "C"): (0.95, 1.05),
}
NO_COSTS = BacktestConfig(
    initial_capital=Decimal("10000"), commission_per_trade=Decimal("0"), slippage_bps=Decimal("0")
)


def contract(strike, right) -> OptionContract:
    return OptionContract("AAA", EXPIRY, Decimal(strike), right)


def leg(strike, right, side) -> OptionLeg:
    return OptionLeg(contract(strike, right), side)


def bars(closes, days=DAYS):
    return bar_frame(
        days, closes, [c + 1 for c in closes], [c - 1 for c in closes], closes, [1e6] * len(closes)
    )


def chains(days=DAYS, quotes=QUOTES):
    symbols = [contract(k, r).symbol for k, r in quotes] * len(days)
    ts = [day for day in days for _ in quotes]
    bids, asks = zip(*quotes.values(), strict=True)
    return chain_frame(ts, symbols, bid=list(bids) * len(days), ask=list(asks) * len(days))


class Scripted:
    """Places the orders given for each session's day, and writes down what it is told and sees."""

    name = "scripted"
    underlying = "AAA"

    def __init__(self, orders=None):
        self.orders = orders or {}
        self.seen, self.option_fills, self.fills = [], [], []

    def on_chain(self, chain, book):
        self.seen.append((chain.today, round(book.buying_power(), 2), book.position("AAA")))
        return self.orders.get(chain.today, [])

    def on_option_fill(self, fill):
        self.option_fills.append(fill)

    def on_fill(self, fill):
        self.fills.append(fill)


def iron_condor(qty=1, **kw) -> OptionOrder:
    return OptionOrder(
        (leg(90, "P", Side.BUY), leg(95, "P", Side.SELL), leg(105, "C", Side.SELL), leg(110, "C", Side.BUY)),
        qty,
        **kw,
    )


def run(strategy, closes, config=NO_COSTS, options=None, chain_frame_=None, risk_manager=None):
    return OptionsBacktestEngine(risk_manager).run(
        strategy, bars(closes), chains() if chain_frame_ is None else chain_frame_, config, options
    )


def test_an_iron_condor_held_to_expiry_makes_the_arithmetic_to_the_cent():
    strategy = Scripted({DAYS[0].date(): [iron_condor(qty=2)]})

    result = run(
        strategy, [100, 101, 99, 102, 93.37], options=OptionsConfig(commission_per_contract=Decimal("0.65"))
    )

    # credit 0.90 - 1.90 - 2.10 + 1.05 = -2.05 x 100 x 2 = 410.00; the 95 put settles in cash at 1.63:
    # -326.00; commission 8 contracts x 0.65 = 5.20; P&L 78.80
    [condor] = result.option_trades
    assert (condor.units, round(condor.entry_price, 2), round(condor.exit_price, 2)) == (2, -2.05, -1.63)
    assert round(condor.pnl, 2) == 78.80
    assert [round(one.pnl, 2) for one in condor.legs] == [-180.0, 54.0, 420.0, -210.0]
    assert (condor.entry_time, condor.exit_time, condor.exit_reason) == (
        DAYS[0],
        DAYS[4],
        "expired, cash_settled",
    )
    assert round(result.equity_curve.equity[-1], 2) == 10_078.80
    assert round(result.metrics.total_return, 2) == 78.80
    assert result.metrics.total_trades == 1
    assert [s.reason for s in result.option_settlements] == ["expired", "cash_settled", "expired", "expired"]
    assert list(result.trades) == []
    # marked at the mids in between: the condor's mid is -(0.85 - 1.95 - 2.175 + 1.00) = 2.275 short
    assert round(result.equity_curve.equity[0], 2) == round(10_000 + 410 - 5.20 - 455.0, 2)


def test_a_vertical_that_expires_worthless_keeps_its_credit():
    spread = OptionOrder((leg(95, "P", Side.SELL), leg(90, "P", Side.BUY)), 3)
    strategy = Scripted({DAYS[1].date(): [spread]})

    result = run(
        strategy, [100, 100, 100, 100, 96.0], options=OptionsConfig(commission_per_contract=Decimal("1"))
    )

    [trade] = result.option_trades
    assert round(trade.pnl, 2) == 300.0 - 6.0
    assert result.equity_curve.equity[-1] == pytest.approx(10_294.0)
    assert strategy.option_fills[0].net_price == pytest.approx(-1.0)


def test_a_put_in_the_money_settles_in_cash_or_into_shares_at_the_strike_to_the_same_equity():
    def short_put(settlement):
        strategy = Scripted({DAYS[0].date(): [OptionOrder((leg(100, "P", Side.SELL),), 1)]})
        result = run(
            strategy,
            [100, 100, 100, 100, 97.0],
            options=OptionsConfig(commission_per_contract=Decimal("0"), settlement=settlement),
        )
        return strategy, result

    cash_strategy, cash = short_put("cash")
    assign_strategy, assigned = short_put("assign")

    # 3.90 received; cash: 3.00 x 100 paid; assigned: 100 shares bought at 100 and held at 97
    assert cash.equity_curve.equity[-1] == pytest.approx(10_000 + 390 - 300)
    assert assigned.equity_curve.equity[-1] == pytest.approx(10_000 + 390 - 300)
    assert assigned.equity_curve.cash[-1] == pytest.approx(10_000 + 390 - 10_000)
    assert cash_strategy.seen[-1][2] == 0
    assert assign_strategy.seen[-1][2] == 100  # the strategy sees the shares at the expiry session
    assert [(f.side, f.qty, f.price) for f in assign_strategy.fills] == [(Side.BUY, 100.0, 100.0)]
    assert [s.reason for s in assigned.option_settlements] == ["assigned"]
    assert assigned.option_trades[0].pnl == pytest.approx(390.0)


def test_a_covered_call_assigned_sells_the_shares_at_the_strike():
    call = OptionOrder((leg(105, "C", Side.SELL),), 1)
    strategy = Scripted({DAYS[0].date(): [Order("AAA", Side.BUY, qty=100), call]})
    config = BacktestConfig(
        initial_capital=Decimal("20000"), commission_per_trade=Decimal("1"), slippage_bps=Decimal("0")
    )

    result = run(
        strategy,
        [100, 102, 104, 106, 108.0],
        config=config,
        options=OptionsConfig(commission_per_contract=Decimal("0.65"), settlement="assign"),
    )

    # shares bought at 100 ($1), call sold for 2.10 ($0.65), shares called away at 105
    assert result.equity_curve.equity[-1] == pytest.approx(20_000 + 500 - 1 + 210 - 0.65)
    assert strategy.seen[-1][2] == 0
    [shares] = result.trades
    assert (shares.entry_price, shares.exit_price, shares.pnl) == (100.0, 105.0, pytest.approx(499.0))
    assert result.option_trades[0].exit_reason == "assigned"
    assert result.metrics.total_trades == 2


def test_a_naked_call_is_refused_with_the_reason():
    naked = OptionOrder((leg(105, "C", Side.SELL),), 1)
    strategy = Scripted({DAYS[0].date(): [naked]})

    result = run(strategy, [100] * 5)

    assert naked.status is OrderStatus.REJECTED
    assert result.metadata["rejected_orders"] == [
        {
            "order": naked.id,
            "reason": "the order would leave 1 short call contract(s) of AAA expiring 2024-03-15 uncovered "
            "(naked calls: neither long calls of that expiry nor shares cover them)",
        }
    ]
    assert strategy.option_fills == []
    assert np.all(result.equity_curve.equity == 10_000.0)


def test_a_defined_risk_spread_uses_its_max_loss_of_buying_power_and_no_more_than_there_is():
    fits, too_big = iron_condor(qty=3), iron_condor(qty=1)
    strategy = Scripted({DAYS[0].date(): [fits], DAYS[1].date(): [too_big]})
    config = BacktestConfig(initial_capital=Decimal("1000"), commission_per_trade=Decimal("0"))

    run(strategy, [100] * 5, config=config, options=OptionsConfig(commission_per_contract=Decimal("0")))

    # max loss (5 - 2.05) x 100 = 295 a condor: 3 use 885 of 1,000, and a fourth does not fit
    assert fits.max_loss(-2.05) == pytest.approx(295.0)
    assert [seen[1] for seen in strategy.seen[:2]] == [1_000.0, 115.0]
    assert (fits.status, too_big.status) == (OrderStatus.FILLED, OrderStatus.REJECTED)


def test_a_limit_order_the_touch_never_reaches_does_not_fill():
    greedy = iron_condor(order_type=OrderType.LIMIT, limit_price=-2.50)  # the touch gives 2.05
    strategy = Scripted({DAYS[0].date(): [greedy]})

    result = run(strategy, [100] * 5)

    assert greedy.status is OrderStatus.EXPIRED  # a DAY order, through the next session
    assert (strategy.option_fills, result.option_trades) == ([], [])
    assert np.all(result.equity_curve.equity == 10_000.0)


def test_a_working_limit_fills_when_a_later_chain_reaches_it():
    patient = iron_condor(order_type=OrderType.LIMIT, limit_price=-2.20, tif="gtc")
    strategy = Scripted({DAYS[0].date(): [patient]})
    richer = {**QUOTES, (95, "P"): (2.10, 2.20)}
    frame = chains(DAYS[:2]), chains(DAYS[2:], richer)

    run(strategy, [100] * 5, chain_frame_=pd.concat(frame, ignore_index=True))

    assert [(f.ts, round(f.net_price, 2)) for f in strategy.option_fills] == [(DAYS[2], -2.25)]


def test_every_order_passes_the_risk_manager_with_the_book():
    class Refuses(RiskManager):
        def __init__(self):
            self.seen = []

        def check_order(self, order, portfolio):
            self.seen.append((order.id, portfolio.option_position(contract(95, "P").symbol)))
            return Decision(False, [Reason("too_risky", "no condors today")])

    risk = Refuses()
    order = iron_condor()
    strategy = Scripted({DAYS[0].date(): [order]})

    result = run(strategy, [100] * 5, risk_manager=risk)

    assert risk.seen == [(order.id, 0)]
    assert result.metadata["rejected_orders"] == [{"order": order.id, "reason": "no condors today"}]


def test_a_session_without_a_chain_settles_and_keeps_marks_but_asks_the_strategy_nothing():
    strategy = Scripted({DAYS[0].date(): [iron_condor()]})
    frame = chains([DAYS[0], DAYS[1], DAYS[3]])

    result = run(strategy, [100, 100, 100, 100, 101], chain_frame_=frame)

    assert [seen[0] for seen in strategy.seen] == [DAYS[0].date(), DAYS[1].date(), DAYS[3].date()]
    assert result.metadata["sessions_without_chain"] == 2
    assert result.equity_curve.equity[2] == result.equity_curve.equity[1]
    assert round(result.option_trades[0].pnl, 2) == 205.0 - 2.60


def test_bad_input_is_refused_with_a_reason():
    strategy = Scripted()
    with pytest.raises(InvalidInput, match="fill_timing 'close'"):
        run(strategy, [100] * 5, config=BacktestConfig(fill_timing="next_open"))
    with pytest.raises(InvalidInput, match="daily bars"):
        run(strategy, [100] * 5, config=BacktestConfig(timeframe=Timeframe.H1))
    other = chain_frame([DAYS[0]], ["BBB240315C00100000"], bid=[1.0], ask=[1.1])
    with pytest.raises(InvalidInput, match="the chains are of BBB; the strategy trades AAA"):
        run(strategy, [100] * 5, chain_frame_=other)
    with pytest.raises(InvalidInput, match="no option chain of AAA on any session"):
        run(strategy, [100] * 5, chain_frame_=chains([datetime(2024, 3, 18, tzinfo=UTC)]))
    with pytest.raises(InvalidInput, match="'cash' or 'assign'"):
        OptionsConfig(settlement="physical")


class Condors:
    """Sells a 16-delta / 8-delta iron condor about 35 days out whenever it holds none, until a day."""

    name = "condors"
    underlying = "AAA"

    def __init__(self, until: date):
        self.until = until

    def on_chain(self, chain, book):
        if book.option_positions or chain.today >= self.until:
            return []
        expiry = chain.expiry_near(35, at_least=20)
        picks = [
            chain.by_delta(expiry, right, delta)
            for right, delta in (("put", 0.08), ("put", 0.16), ("call", 0.16), ("call", 0.08))
        ]
        if len(set(picks)) < 4:
            return []
        sides = (Side.BUY, Side.SELL, Side.SELL, Side.BUY)
        return [OptionOrder(tuple(OptionLeg(c, s) for c, s in zip(picks, sides, strict=True)), 1)]

    def on_option_fill(self, fill):
        pass

    def on_fill(self, fill):
        pass


def test_a_synthetic_run_is_deterministic_and_every_dollar_is_in_a_trade():
    start, end = datetime(2023, 1, 3, tzinfo=UTC), datetime(2023, 8, 31, tzinfo=UTC)
    history = start - timedelta(days=SyntheticChainConfig().history_days)
    frame = SyntheticProvider(seed=7).bars("AAA", history, end, Timeframe.D1)
    chain_rows = synthetic_chains("AAA", frame, start, end, seed=7)
    config = BacktestConfig(initial_capital=Decimal("100000"), trade_start=start)

    first = OptionsBacktestEngine().run(Condors(until=date(2023, 6, 1)), frame, chain_rows, config)
    second = OptionsBacktestEngine().run(Condors(until=date(2023, 6, 1)), frame, chain_rows, config)

    assert np.array_equal(first.equity_curve.equity, second.equity_curve.equity)
    assert [t[1:] for t in first.option_trades] == [t[1:] for t in second.option_trades]  # but order ids
    assert first.equity_curve.ts[0] == start
    assert len(first.option_trades) == first.metrics.total_trades == 5
    # nothing is open at the end: the equity is the cash, and the cash moved by the trades' P&L
    assert first.equity_curve.equity[-1] == first.equity_curve.cash[-1]
    assert first.equity_curve.cash[-1] == pytest.approx(100_000 + sum(t.pnl for t in first.option_trades))
    assert first.metrics.final_equity == first.equity_curve.equity[-1]
