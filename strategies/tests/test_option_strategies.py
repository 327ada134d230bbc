"""The option strategies on hand-built chains and a small book: contracts picked by delta and days
to expiry, sizing, exits at the profit target, the stop and days to expiry, closing orders that
reverse the legs, positions kept from fills, and bad parameters refused with a message."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from marketdata.core.errors import InvalidInput
from marketdata.core.option_pricing import bsm_greeks, bsm_price
from marketdata.core.options import OptionContract
from marketdata.core.providers.option_chains import chain_frame
from strategies.core.config import StrategyConfig, strategy_config_load
from strategies.core.option_chain import ChainSnapshot
from strategies.core.option_strategies import OptionStrategy
from strategies.core.options import OptionExposure, OptionFill, OptionOrder
from strategies.core.registry import strategy_build, strategy_names
from strategies.core.types import Order, OrderStatus, OrderType, Side

DAY = datetime(2024, 3, 15, tzinfo=UTC)
EXPIRIES = (date(2024, 3, 22), date(2024, 4, 19), date(2024, 5, 17))  # 7, 35 and 63 days out
STRIKES = [Decimal(80) + Decimal("2.5") * i for i in range(17)]  # 80 to 120
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "strategies"


def model_chain(ts: datetime = DAY, spot: float = 100.0, vol: float = 0.25) -> ChainSnapshot:
    """AAA's chain at ts: every strike of STRIKES for each expiry to come, priced by BSM at a flat vol, quoted
    0.05 either side of the model price."""
    symbols, rows = [], []
    for expiry in (e for e in EXPIRIES if e > ts.date()):
        t = (expiry - ts.date()).days / 365
        for strike in STRIKES:
            for right in ("call", "put"):
                symbols.append(OptionContract("AAA", expiry, strike, right).symbol)
                greeks = bsm_greeks(right, spot, float(strike), t, 0.04, vol)
                price = float(bsm_price(right, spot, float(strike), t, 0.04, vol))
                rows.append((max(price - 0.05, 0.0), price + 0.05, greeks.delta, greeks.vega, greeks.theta))
    bid, ask, delta, vega, theta = map(list, zip(*rows, strict=True))
    frame = chain_frame(
        [ts] * len(symbols),
        symbols,
        bid=bid,
        ask=ask,
        iv=[vol] * len(symbols),
        delta=delta,
        vega=vega,
        theta=theta,
    )
    return ChainSnapshot(frame, spot=spot, ts=ts)


def quoted_chain(ts: datetime, quotes: dict[str, tuple[float, float]], spot: float = 100.0) -> ChainSnapshot:
    """A chain of the given (bid, ask) quotes, with made-up greeks (delta 0.2, vega 10, theta -5)."""
    n = len(quotes)
    bid, ask = zip(*quotes.values(), strict=True)
    frame = chain_frame(
        [ts] * n,
        list(quotes),
        bid=bid,
        ask=ask,
        iv=[0.25] * n,
        delta=[0.2] * n,
        vega=[10.0] * n,
        theta=[-5.0] * n,
    )
    return ChainSnapshot(frame, spot=spot, ts=ts)


class Book:
    """What an option strategy reads of a book: cash as equity, shares and contracts held."""

    def __init__(self, equity: float = 100_000.0) -> None:
        self.cash = self.equity = equity
        self.shares: dict[str, float] = {}
        self.contracts: dict[str, int] = {}

    def position(self, symbol: str) -> float:
        return self.shares.get(symbol, 0.0)

    def price(self, symbol: str) -> float:
        return 100.0

    def option_position(self, symbol: str) -> int:
        return self.contracts.get(symbol, 0)

    def option_exposure(self) -> OptionExposure:
        return OptionExposure()


def fill(
    strategy, book: Book, order: OptionOrder, prices, ts: datetime = DAY, qty: int | None = None
) -> None:
    """The order filled at prices (per leg): the book holds its contracts, the strategy is told."""
    qty = order.qty if qty is None else qty
    for leg in order.legs:
        book.contracts[leg.symbol] = book.contracts.get(leg.symbol, 0) + leg.signed_ratio * qty
        if book.contracts[leg.symbol] == 0:
            del book.contracts[leg.symbol]
    net = sum(leg.signed_ratio * p for leg, p in zip(order.legs, prices, strict=True))
    order.filled_qty += qty
    order.status = OrderStatus.FILLED if order.filled_qty == order.qty else OrderStatus.PARTIALLY_FILLED
    strategy.on_option_fill(OptionFill(order.id, order.underlying, qty, net, tuple(prices), 0.65 * qty, ts))


def build(name: str, **parameters) -> OptionStrategy:
    return strategy_build(StrategyConfig(strategy=name, universe=["AAA"], parameters=parameters))


def described(order: OptionOrder) -> list[tuple[str, str, int]]:
    return [(leg.symbol, leg.side.value, leg.ratio) for leg in order.legs]


# --- entries -------------------------------------------------------------------------------------


def test_the_option_strategies_are_registered_and_told_apart_from_share_strategies():
    assert {"bull_put_spread", "covered_call", "iron_condor"} <= set(strategy_names())
    assert isinstance(build("iron_condor"), OptionStrategy)
    assert not isinstance(strategy_build(StrategyConfig(strategy="momentum")), OptionStrategy)
    assert build("iron_condor").underlying == "AAA"


def test_an_iron_condor_sells_the_deltas_of_the_expiry_nearest_its_days_with_wings_width_out():
    strategy = build("iron_condor", short_delta=0.16, dte=30, width=5)
    chain = model_chain()

    [order] = strategy.on_chain(chain, Book())

    # 35 days is nearest 30; the 92.5 put (delta -0.137) and the 110 call (0.127) are nearest 0.16.
    assert described(order) == [
        ("AAA240419P00087500", "buy", 1),
        ("AAA240419P00092500", "sell", 1),
        ("AAA240419C00110000", "sell", 1),
        ("AAA240419C00115000", "buy", 1),
    ]
    assert (order.qty, order.order_type, order.reduce_only) == (1, OrderType.MARKET, False)
    assert order.expected_price == pytest.approx(chain.net_mark(order.legs))
    assert order.expected_price < 0  # a credit
    assert order.exposure == chain.exposure(order.legs, 1)
    assert order.reason == "open iron_condor: 35 days to expiry"


def test_a_bull_put_spreads_long_put_is_the_next_strike_down_or_the_one_at_long_delta():
    chain = model_chain()
    [nearest] = build("bull_put_spread", short_delta=0.30).on_chain(chain, Book())
    [by_delta] = build("bull_put_spread", short_delta=0.30, long_delta=0.10).on_chain(chain, Book())
    [by_width] = build("bull_put_spread", short_delta=0.30, width=6).on_chain(chain, Book())

    short = ("AAA240419P00097500", "sell", 1)  # delta -0.339, nearest 0.30
    assert described(nearest) == [("AAA240419P00095000", "buy", 1), short]
    assert described(by_delta) == [("AAA240419P00090000", "buy", 1), short]  # -0.074 nearest 0.10
    assert described(by_width) == [("AAA240419P00092500", "buy", 1), short]  # 91.5: 92.5 is nearer than 90


def test_no_position_opens_without_a_strike_further_out_for_the_wing():
    strategy = build("bull_put_spread", short_delta=0.001)  # the 80 put: nothing listed below
    assert strategy.on_chain(model_chain(), Book()) == []


def test_risk_pct_sizes_a_spread_by_its_max_loss():
    strategy = build("bull_put_spread", short_delta=0.30, risk_pct=2)
    chain = model_chain()

    [order] = strategy.on_chain(chain, Book(equity=50_000))

    # 2.5 wide, a credit of about 0.77 at the mids: a max loss of about 173 per unit; 1,000 to risk.
    credit = -chain.net_mark(order.legs)
    assert credit == pytest.approx(0.77, abs=0.01)
    assert order.qty == 5


def test_a_limit_order_is_placed_at_the_mid_of_its_legs():
    strategy = build("iron_condor", order_type="limit")
    chain = model_chain()
    [order] = strategy.on_chain(chain, Book())
    assert order.order_type is OrderType.LIMIT
    assert order.limit_price == pytest.approx(chain.net_mark(order.legs))


def test_one_entry_works_at_a_time_and_a_refused_one_is_tried_again():
    strategy = build("iron_condor")
    book = Book()
    [order] = strategy.on_chain(model_chain(), book)

    assert strategy.on_chain(model_chain(), book) == []  # still working: no second order
    order.status = OrderStatus.REJECTED
    [again] = strategy.on_chain(model_chain(), book)
    assert described(again) == described(order)
    assert again.id != order.id


def test_max_open_positions_are_held_at_once():
    strategy = build("bull_put_spread", max_open=2)
    book = Book()
    for _ in range(2):
        [order] = strategy.on_chain(model_chain(), book)
        fill(strategy, book, order, [0.5, 1.5])

    assert strategy.on_chain(model_chain(), book) == []
    assert [p.units for p in strategy.positions] == [1, 1]
    assert book.contracts == {"AAA240419P00095000": 2, "AAA240419P00097500": -2}


def test_a_covered_call_buys_its_shares_first_then_sells_calls_against_them():
    strategy = build("covered_call", units=2)
    book = Book()
    chain = model_chain()

    [shares] = strategy.on_chain(chain, book)
    assert isinstance(shares, Order)
    assert (shares.symbol, shares.side, shares.qty) == ("AAA", Side.BUY, 200.0)
    assert strategy.on_chain(chain, book) == []  # the share order is still working

    shares.status = OrderStatus.FILLED
    book.shares["AAA"] = 200.0
    [call] = strategy.on_chain(chain, book)
    assert described(call) == [("AAA240419C00105000", "sell", 1)]  # delta 0.294, nearest 0.30
    assert call.qty == 2


# --- positions and exits --------------------------------------------------------------------------

PUT_LONG, PUT_SHORT = "AAA240419P00095000", "AAA240419P00097500"


def opened(strategy_name: str = "bull_put_spread", **parameters):
    """A bull put spread of 3 units opened at fill prices 0.50 (long) and 1.50 (short): credit 1.00."""
    strategy = build(strategy_name, short_delta=0.30, units=3, **parameters)
    book = Book()
    [order] = strategy.on_chain(model_chain(), book)
    assert described(order) == [(PUT_LONG, "buy", 1), (PUT_SHORT, "sell", 1)]
    fill(strategy, book, order, [0.50, 1.50])
    return strategy, book


def later(day: int, long: tuple[float, float], short: tuple[float, float]) -> ChainSnapshot:
    return quoted_chain(datetime(2024, 3, day, tzinfo=UTC), {PUT_LONG: long, PUT_SHORT: short})


def test_the_position_is_what_the_fill_said():
    strategy, _ = opened()
    [position] = strategy.positions
    assert position.units == 3
    assert position.prices == (0.50, 1.50)
    assert position.entry_price == pytest.approx(-1.00)
    assert position.expiry == date(2024, 4, 19)


def test_the_profit_target_closes_the_position_with_its_legs_reversed():
    strategy, book = opened(profit_target=0.5)
    # Marks 0.20 and 0.75: worth -0.55, 0.45 of the 1.00 credit captured: held.
    assert strategy.on_chain(later(18, (0.15, 0.25), (0.70, 0.80)), book) == []

    chain = later(19, (0.10, 0.20), (0.55, 0.65))  # worth -0.45: 55% captured
    [close] = strategy.on_chain(chain, book)

    assert described(close) == [(PUT_LONG, "sell", 1), (PUT_SHORT, "buy", 1)]
    assert (close.qty, close.reduce_only, close.order_type) == (3, True, OrderType.MARKET)
    assert close.reason == "profit target: 55% of the credit captured"
    assert close.expected_price == pytest.approx(0.45)
    assert close.exposure == chain.exposure(close.legs, 1)
    assert strategy.on_chain(chain, book) == []  # the close is working: not sent twice

    fill(strategy, book, close, [0.10, 0.65])
    assert strategy.positions == []
    assert book.contracts == {}


def test_a_long_leg_nobody_bids_for_is_left_to_expire_and_the_position_is_over_once_closed():
    strategy, book = opened(profit_target=0.5)
    chain = later(26, (0.00, 0.05), (0.20, 0.30))  # worth -0.225: 77% captured

    [close] = strategy.on_chain(chain, book)
    assert described(close) == [(PUT_SHORT, "buy", 1)]
    assert close.expected_price == pytest.approx(0.25)
    fill(strategy, book, close, [0.30])

    assert strategy.positions == []
    assert book.contracts == {PUT_LONG: 3}  # held until it expires
    [entry] = strategy.on_chain(model_chain(datetime(2024, 3, 26, tzinfo=UTC)), book)
    assert entry.reduce_only is False


def test_legs_not_quoted_both_ways_stay_to_expire_and_a_short_one_still_counts_as_held():
    strategy = build("iron_condor", exit_dte=10)
    book = Book()
    [entry] = strategy.on_chain(model_chain(), book)
    fill(strategy, book, entry, [0.30, 0.60, 0.50, 0.25])  # credit 0.55
    long_put, short_put, short_call, long_call = (leg.symbol for leg in entry.legs)
    nine_days = datetime(2024, 4, 10, tzinfo=UTC)
    quotes = {
        long_put: (0.05, 0.10),
        short_put: (0.20, 0.25),
        short_call: (0.00, 0.03),
        long_call: (0.00, 0.02),
    }

    [close] = strategy.on_chain(quoted_chain(nine_days, quotes), book)

    assert described(close) == [(long_put, "sell", 1), (short_put, "buy", 1)]
    assert close.reason == "9 days to expiry"
    fill(strategy, book, close, [0.05, 0.25])
    [rest] = strategy.positions
    assert rest.legs == entry.legs[2:]
    assert rest.prices == (0.50, 0.25)
    assert strategy.on_chain(quoted_chain(nine_days, quotes), book) == []  # held: no entry, no close
    book.contracts.clear()  # settled at expiry
    assert strategy.on_chain(model_chain(datetime(2024, 4, 19, tzinfo=UTC)), book)[0].reduce_only is False


def test_the_stop_closes_at_a_loss_of_its_multiple_of_the_credit():
    strategy, book = opened(stop_multiple=1.5)
    assert strategy.on_chain(later(20, (1.40, 1.60), (3.70, 3.90)), book) == []  # lost 1.30 x
    [close] = strategy.on_chain(later(21, (1.50, 1.70), (4.05, 4.25)), book)  # lost 1.55 x
    assert close.reason == "stop: lost 1.55x the credit"


def test_days_to_expiry_close_the_position_whatever_its_pnl():
    strategy, book = opened(exit_dte=10)
    assert strategy.on_chain(later(28, (0.35, 0.45), (1.20, 1.30)), book) == []  # 22 days left
    [close] = strategy.on_chain(
        quoted_chain(datetime(2024, 4, 9, tzinfo=UTC), {PUT_LONG: (0.35, 0.45), PUT_SHORT: (1.20, 1.30)}),
        book,
    )
    assert close.reason == "10 days to expiry"


def test_a_partly_filled_close_leaves_the_rest_of_the_position():
    strategy, book = opened(profit_target=0.5)
    chain = later(19, (0.10, 0.20), (0.55, 0.65))
    [close] = strategy.on_chain(chain, book)
    fill(strategy, book, close, [0.10, 0.65], qty=1)
    close.status = OrderStatus.CANCELED

    [position] = strategy.positions
    assert position.units == 2
    [again] = strategy.on_chain(chain, book)
    assert again.qty == 2


def test_a_position_the_book_no_longer_holds_is_over_and_a_new_one_may_open():
    strategy, book = opened()
    book.contracts.clear()  # settled at expiry

    [entry] = strategy.on_chain(model_chain(), book)

    assert strategy.positions == []
    assert entry.reduce_only is False


def test_a_fill_of_an_order_the_strategy_did_not_place_is_refused():
    strategy = build("iron_condor")
    with pytest.raises(InvalidInput, match="a fill of option order oo0, which 'iron_condor' did not place"):
        strategy.on_option_fill(OptionFill("oo0", "AAA", 1, -1.0, (1.0,), 0.65, DAY))


def test_a_chain_of_another_underlying_is_refused():
    chain = quoted_chain(DAY, {"BBB240419P00097500": (1.0, 1.1)})
    with pytest.raises(InvalidInput, match="trades AAA, not BBB"):
        build("iron_condor").on_chain(chain, Book())


# --- configs and parameters -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["covered_call", "bull_put_spread", "iron_condor"])
def test_the_example_configs_build(name):
    config = strategy_config_load(CONFIGS / f"{name}_v1.yaml")
    strategy = strategy_build(config)
    assert strategy.name == name
    assert isinstance(strategy, OptionStrategy)


@pytest.mark.parametrize(
    ("name", "parameters", "message"),
    [
        ("iron_condor", {"dte": 7, "exit_dte": 7}, "dte \\(7\\) must be above exit_dte \\(7\\)"),
        ("iron_condor", {"width": 5, "long_delta": 0.05}, "give width or long_delta"),
        ("bull_put_spread", {"long_delta": 0.4}, "long_delta \\(0.4\\) must be below short_delta \\(0.3\\)"),
        ("iron_condor", {"units": 2, "risk_pct": 1}, "size by units or by risk_pct, not both"),
        ("iron_condor", {"short_delta": 1.2}, "short_delta: Input should be less than 1"),
        ("covered_call", {"risk_pct": 1}, "strategy 'covered_call' parameters: risk_pct: unknown field"),
        ("bull_put_spread", {"order_type": "stop"}, "order_type: Input should be 'market' or 'limit'"),
    ],
)
def test_bad_parameters_are_refused_with_a_message(name, parameters, message):
    with pytest.raises(InvalidInput, match=message):
        build(name, **parameters)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"universe": ["AAA", "BBB"]}, "trades the options of one underlying; the config names AAA, BBB"),
        ({"universe": []}, "one underlying; the config names none"),
        ({"universe": ["AAA"], "timeframe": "1h"}, "its timeframe is 1d, not 1h"),
        ({"universe": ["AAA"], "sizing": {"mode": "qty", "value": 5}}, "sizing and risk sections"),
    ],
)
def test_a_config_an_option_strategy_cannot_trade_is_refused(config, message):
    with pytest.raises(InvalidInput, match=message):
        strategy_build(StrategyConfig(strategy="iron_condor", **config))
