"""A paper trading session of an options strategy: an iron condor on replayed synthetic bars, its
chains built from the bars so far as the backtest builds them, through the risk manager and the OMS
into the database; the kill switch during the session."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backtests.core.engine import costs_of
from backtests.core.results import BacktestConfig
from execution.core.brokers.simulated import SimulatedBrokerClient
from execution.models import Fill, Order, Position, TradingAccount
from execution.trading_services import TradingSession, replay_bars
from marketdata.core.bars import Timeframe
from marketdata.core.options import OptionContract
from marketdata.core.providers.synthetic import SyntheticProvider
from quantsite.models import AuditRecord
from risk.services import kill_switch_engage
from strategies.core.config import StrategyConfig
from strategies.core.options import OptionFill, OptionLeg, OptionOrder
from strategies.core.types import Order as CoreOrder
from strategies.core.types import OrderStatus, Side

pytestmark = pytest.mark.django_db

START = datetime(2023, 6, 1, tzinfo=UTC)
BARS = SyntheticProvider(seed=7).get_bars(
    "AAA", datetime(2022, 6, 1, tzinfo=UTC), datetime(2023, 9, 30, tzinfo=UTC), Timeframe.D1
)
CONFIG = StrategyConfig(
    strategy="iron_condor",
    name="paper_condor",
    universe=["AAA"],
    parameters={"short_delta": 0.2, "dte": 21, "exit_dte": 5, "units": 1},
)


def session_of(version, capital: int = 10_000) -> tuple[TradingSession, list[dict]]:
    history, steps = replay_bars({"AAA": BARS}, START)
    session = TradingSession(
        version=version,
        mode="paper",
        broker="simulated",
        capital=Decimal(capital),
        history=history,
        costs=BacktestConfig(trade_start=START),
    )
    return session, steps


def test_a_paper_session_of_an_iron_condor_opens_and_closes_condors_kept_in_the_database(promoted):
    # given
    version = promoted(CONFIG)
    session, steps = session_of(version)

    # when
    for step in steps:
        session.on_bars(step)
    session.stop()

    # then: condors opened and closed (by an order, or left to expire: a close sells only the legs
    # quoted both ways, the rest expires), each order stored with its legs, sent once and recorded
    # per leg
    book = session.portfolio
    trades = book.option_trades
    orders = list(Order.objects.filter(asset_class="option").order_by("id"))
    filled = [o for o in orders if o.status == "filled"]
    opened = [o for o in filled if not o.reduce_only]
    assert len(opened) == 7
    assert [t.exit_reason for t in trades] == [
        "closed, expired",
        "closed, expired",
        "closed",
        "expired",
        "closed",
        "closed",
    ]
    assert [t.order_id for t in trades] == [o.client_order_id for o in opened[: len(trades)]]
    assert all(len(trade.legs) == 4 for trade in trades)
    assert [o.legs.count() for o in opened] == [4] * 7
    assert {o.status for o in orders} == {"filled"}
    assert Fill.objects.count() == sum(o.legs.count() for o in filled)
    assert len({f.execution_id for f in Fill.objects.all()}) == Fill.objects.count()
    # positions by OCC symbol, as the paper broker's book holds them
    held = {p.symbol: p.qty for p in Position.objects.filter(strategy_version=version).exclude(qty=0)}
    assert held == {symbol: Decimal(int(p.qty)) for symbol, p in book.option_positions.items()}
    # the cash the OMS keeps is the book's, commissions included; equity is the book's
    account = TradingAccount.objects.get(strategy_version=version)
    assert float(account.cash) == pytest.approx(book.cash, abs=1e-9)
    assert float(account.commission_paid) == pytest.approx(book.commission_paid, abs=1e-9)
    assert session.client.get_account().equity == Decimal(repr(book.equity))
    realised = sum(t.pnl for t in trades)
    open_value = sum(
        p.qty * book.contracts[s].multiplier * (book.option_marks[s] - p.avg_price)
        for s, p in book.option_positions.items()
    )
    assert book.equity == pytest.approx(10_000 + realised + open_value - _open_commission(book), abs=1e-6)
    assert not AuditRecord.objects.filter(action="order.refused").exists()


def _open_commission(book) -> float:
    """Commission paid on the contracts still open (not yet in a closed trade's P&L)."""
    closed = sum(t.commission for t in book.option_trades)
    return book.commission_paid - closed


def test_the_kill_switch_stops_new_option_orders(promoted, people):
    # given: a session up to its first condor
    version = promoted(CONFIG)
    session, steps = session_of(version)
    n = 0
    while not Order.objects.exists():
        session.on_bars(steps[n])
        n += 1
    orders_before = Order.objects.count()

    # when
    kill_switch_engage(reason="drill", by=people["rita"])
    for step in steps[n:]:
        session.on_bars(step)

    # then: nothing new was stored or sent; the strategy's orders were refused as halted
    assert Order.objects.count() == orders_before
    refused = AuditRecord.objects.filter(action="order.refused")
    assert refused.exists()
    assert all(r.data["codes"] == ["trading_halted"] for r in refused)


def test_the_kill_switchs_flatten_closes_the_contracts_held_one_leg_per_order_shorts_first(promoted, people):
    # given: a session holding its first condor, and a call the chain does not quote
    version = promoted(CONFIG)
    session, steps = session_of(version)
    book = session.portfolio
    n = 0
    while not any(p.qty for p in book.option_positions.values()):
        session.on_bars(steps[n])
        n += 1
    condor = {s: p.qty for s, p in book.option_positions.items() if p.qty}
    unquoted = OptionLeg(OptionContract.parse("AAA230623C00300000"), Side.BUY)
    bought = OptionOrder((unquoted,), 1)
    book.apply_option_fill(
        bought, OptionFill(bought.id, "AAA", 1, 0.05, (0.05,), 0.0, steps[n - 1]["AAA"].ts)
    )

    # when
    kill_switch_engage(reason="flatten drill", by=people["rita"], flatten=True)
    session.on_bars(steps[n])
    session.on_bars(steps[n + 1])

    # then: each contract closed by its own reduce-only order, the short legs bought back first; the
    # unquoted call's close rejected with the reason, the rest filled
    shorts = sorted(s for s, q in condor.items() if q < 0)
    longs = sorted(s for s, q in condor.items() if q > 0)
    closes = list(Order.objects.filter(reason="kill switch: flatten").order_by("id"))
    assert [(o.legs.get().symbol, o.legs.get().side, o.qty, o.reduce_only) for o in closes] == [
        *((s, "buy", Decimal(1), True) for s in shorts),
        *((s, "sell", Decimal(1), True) for s in sorted([*longs, unquoted.symbol])),
    ]
    (rejected,) = [o for o in closes if o.status != "filled"]
    assert (rejected.legs.get().symbol, rejected.status) == (unquoted.symbol, "rejected")
    assert rejected.status_reason.startswith(f"{unquoted.symbol} is not quoted in the chain of ")
    assert {s: p.qty for s, p in book.option_positions.items() if p.qty} == {unquoted.symbol: 1}
    stored = Position.objects.filter(strategy_version=version, symbol__in=list(condor))
    assert sorted(stored.values_list("symbol", "qty")) == sorted((s, Decimal(0)) for s in condor)
    flattened = AuditRecord.objects.get(action="kill_switch.flatten")
    assert flattened.summary == "paper_condor v1 (paper): 5 closing order(s) sent"


COVERED = StrategyConfig(
    strategy="covered_call",
    name="paper_covered_call",
    universe=["AAA"],
    parameters={"short_delta": 0.3, "dte": 30, "exit_dte": 5, "profit_target": 0.6, "units": 1},
)


def listened(session: TradingSession) -> tuple[list[CoreOrder], list]:
    """The share orders the session's strategy places, and the fills it hears of (on_fill)."""
    strategy = session.strategy
    decide, ordered, heard = strategy.on_chain, [], []

    def on_chain(chain, book):
        orders = decide(chain, book)
        ordered.extend(o for o in orders if isinstance(o, CoreOrder))
        return orders

    strategy.on_chain, strategy.on_fill = on_chain, heard.append
    return ordered, heard


def test_a_covered_calls_share_fills_reach_the_strategy_as_in_the_backtest(promoted):
    # given: a covered call on paper, what it orders and what it hears of its fills recorded
    version = promoted(COVERED)
    session, steps = session_of(version, capital=1_000_000)  # 100 shares within the risk per trade
    ordered, heard = listened(session)

    # when
    for step in steps:
        session.on_bars(step)

    # then: its share order filled, heard under its own id with the fill the OMS recorded, and the
    # order carries the broker's status and fill as the backtest's broker leaves it
    (shares,) = ordered
    stored = Fill.objects.get(order__asset_class="equity")
    price = pytest.approx(float(stored.price), abs=1e-9)  # the paper broker's float, stored to 18 places
    assert heard == [(shares.id, "AAA", Side.BUY, 100.0, price, float(stored.commission), START, -1, 0.0)]
    assert (shares.status, shares.filled_qty, shares.avg_fill_price) == (OrderStatus.FILLED, 100.0, price)
    assert (
        Order.objects.filter(asset_class="option", status="filled").count() == 15
    )  # calls sold and bought back


def test_assigned_calls_shares_reach_the_strategy_and_the_ledger_and_it_buys_them_again(promoted):
    # given: calls held to expiry on a paper broker that settles by assignment
    config = COVERED.model_copy(
        update={
            "name": "assigned_calls",
            "parameters": {**COVERED.parameters, "exit_dte": 0, "profit_target": 0.99, "short_delta": 0.5},
        }
    )
    version = promoted(config)
    history, steps = replay_bars({"AAA": BARS}, START)
    commission, slippage = costs_of(BacktestConfig())
    client = SimulatedBrokerClient(
        cash=1_000_000.0, commission=commission, slippage=slippage, option_settlement="assign"
    )
    session = TradingSession(
        version=version,
        mode="paper",
        broker="simulated",
        capital=Decimal(1_000_000),
        history=history,
        client=client,
    )
    ordered, heard = listened(session)

    # when
    for step in steps:
        session.on_bars(step)

    # then: two calls assigned (their shares sold at the strike), each time shares bought again
    day = lambda d: datetime(2023, *d, tzinfo=UTC)  # noqa: E731
    first, second, third = (o.id for o in ordered)
    assert [(f.order_id, f.side, f.qty, round(f.price, 5), f.ts) for f in heard] == [
        (first, Side.BUY, 100.0, 62.87281, day((6, 1))),
        ("assigned-AAA230630C00063000", Side.SELL, 100.0, 63.0, day((6, 30))),
        (second, Side.BUY, 100.0, 64.49443, day((6, 30))),
        ("assigned-AAA230804C00065000", Side.SELL, 100.0, 65.0, day((8, 4))),
        (third, Side.BUY, 100.0, 66.9669, day((8, 4))),
    ]
    assert [(t.entry_price, t.exit_price) for t in session.ledger.trades] == [
        (heard[0].price, 63.0),
        (heard[2].price, 65.0),
    ]
    assert Position.objects.get(strategy_version=version, symbol="AAA").qty == Decimal(100)
