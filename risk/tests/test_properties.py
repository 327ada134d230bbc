"""Properties of the policy risk manager over generated orders and books: nothing passes while HALTED,
a reduce-only order never grows a position, and an option order that passes never risks more than
the policy allows."""

import math
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from hypothesis import event, given, settings
from hypothesis import strategies as st

from execution.core.portfolio import Portfolio
from marketdata.core.options import OptionContract, Right
from risk.core.manager import PolicyRiskManager
from risk.core.policy import RiskPolicy
from risk.core.state import TradingState
from risk.tests.books import OptionAccount
from strategies.core.options import OptionExposure, OptionLeg, OptionOrder
from strategies.core.types import Fill, Order, OrderType, Side

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True)

held_qty = st.integers(-300, 300)
marks = st.floats(0.5, 1_000.0)
sizes = st.one_of(
    st.builds(dict, qty=st.one_of(st.integers(1, 600).map(float), st.floats(0.001, 600.0))),
    st.builds(dict, notional=st.floats(1.0, 200_000.0)),
    st.builds(dict, equity_fraction=st.floats(0.001, 1.0)),
)


def book(held: float, mark: float) -> Portfolio:
    portfolio = Portfolio(100_000.0)
    if held:
        side = Side.BUY if held > 0 else Side.SELL
        portfolio.apply_fill(Fill("seed", "AAA", side, abs(held), 100.0, 0.0, T0, 0))
    portfolio.mark("AAA", mark)
    return portfolio


def started(level: int) -> PolicyRiskManager:
    risk = PolicyRiskManager(RiskPolicy(level=level))
    risk.on_step(T0, 100_000.0, new_session=True)
    return risk


@st.composite
def orders(draw, *, reduce_only: bool | None = None) -> Order:
    fields = draw(sizes)
    if draw(st.booleans()):
        fields |= {"order_type": OrderType.LIMIT, "limit_price": draw(st.floats(0.5, 1_000.0))}
    stop = draw(st.one_of(st.none(), st.floats(0.5, 1_000.0)))
    return Order(
        "AAA",
        draw(st.sampled_from(Side)),
        reduce_only=draw(st.booleans()) if reduce_only is None else reduce_only,
        stop_loss=stop,
        **fields,
    )


@PROPERTY
@given(
    held=held_qty,
    mark=marks,
    order=orders(),
    level=st.integers(1, 10),
    halt=st.sampled_from(["global", "strategy", "drawdown"]),
)
def test_no_order_ever_passes_while_halted(held, mark, order, level, halt):
    # given a manager HALTED from outside (global or strategy) or by its own kill switch
    risk, portfolio = started(level), book(held, mark)
    if halt == "global":
        risk.set_external_state(TradingState.HALTED, TradingState.ACTIVE)
    elif halt == "strategy":
        risk.set_external_state(TradingState.ACTIVE, TradingState.HALTED)
    else:
        risk.on_step(T0 + timedelta(days=1), 80_000.0, new_session=True)  # 20% down: beyond every level
    assert risk.state is TradingState.HALTED

    # when any order is checked
    decision = risk.check_order(order, portfolio)

    # then it is refused, saying why
    assert decision.approved is False
    assert {reason.code for reason in decision.reasons} & {"trading_halted", "max_drawdown"}


@PROPERTY
@given(
    held=held_qty,
    mark=marks,
    order=orders(reduce_only=True),
    level=st.integers(1, 10),
    state=st.sampled_from([TradingState.ACTIVE, TradingState.REDUCING]),
)
def test_a_reduce_only_order_never_grows_a_position(held, mark, order, level, state):
    risk, portfolio = started(level), book(held, mark)
    risk.set_external_state(TradingState.ACTIVE, state)

    decision = risk.check_order(order, portfolio)

    # the broker sizes an order in money in whole shares at the price it was checked at
    price = order.limit_price or mark
    if order.qty is not None:
        qty = order.qty
    elif order.notional is not None:
        qty = math.floor(order.notional / price + 1e-9)
    else:
        qty = math.floor(order.equity_fraction * portfolio.buying_power() / price + 1e-9)
    shrinks = held != 0 and 0 < qty <= abs(held) and (held > 0) != (order.side is Side.BUY)
    # a close passes every other check of the policy: it is approved exactly when it shrinks
    event(f"approved: {decision.approved}")
    assert decision.approved is shrinks
    if decision.approved:
        portfolio.apply_fill(Fill(order.id, "AAA", order.side, qty, price, 0.0, T0, 1))
        after = portfolio.position("AAA")
        assert after == 0 or ((after > 0) == (held > 0) and abs(after) < abs(held))


# --- option orders ---------------------------------------------------------------------------------

EXPIRY = date(2024, 2, 16)
contracts = st.tuples(st.sampled_from([90, 95, 100, 105, 110]), st.sampled_from(Right))
exposures = st.builds(
    OptionExposure, st.floats(-20_000.0, 20_000.0), st.floats(-200.0, 200.0), st.floats(-50.0, 50.0)
)


@st.composite
def option_orders(draw) -> OptionOrder:
    """One to four legs of XYZ (at 100) at a limit net price in cents, with the greeks of a unit."""
    legs = tuple(
        OptionLeg(
            OptionContract("XYZ", EXPIRY, strike, right), draw(st.sampled_from(Side)), draw(st.integers(1, 2))
        )
        for strike, right in draw(st.lists(contracts, min_size=1, max_size=4, unique=True))
    )
    return OptionOrder(
        legs,
        qty=draw(st.integers(1, 20)),
        order_type=OrderType.LIMIT,
        limit_price=draw(st.integers(-1_000, 1_000)) / 100,
        reduce_only=draw(st.booleans()),
        exposure=draw(exposures),
    )


@st.composite
def option_books(draw, order: OptionOrder) -> OptionAccount:
    """A book of 100,000 holding shares of XYZ and some of the order's contracts, long or short."""
    return OptionAccount(
        power=draw(st.floats(0.0, 100_000.0)),
        cash=draw(st.floats(0.0, 200_000.0)),
        gross_exposure=draw(st.floats(0.0, 90_000.0)),
        positions={"XYZ": SimpleNamespace(qty=draw(st.integers(0, 1_000)))},
        contracts={leg.symbol: draw(st.integers(-40, 40)) for leg in order.legs},
        greeks=draw(exposures),
    )


@PROPERTY
@given(data=st.data(), order=option_orders(), level=st.integers(1, 10))
def test_an_option_order_that_passes_never_risks_more_than_the_policy_allows(data, order, level):
    risk, book = started(level), data.draw(option_books(order))

    decision = risk.check_order(order, book)

    event(f"approved: {decision.approved}")
    held = [book.option_position(leg.symbol) for leg in order.legs]
    closes = all(
        h != 0 and leg.ratio * order.qty <= abs(h) and (h > 0) != (leg.side is Side.BUY)
        for leg, h in zip(order.legs, held, strict=True)
    )
    event(f"closes: {closes}")
    if closes:  # closing contracts held is always possible while ACTIVE
        assert decision.approved is True
        return
    if order.reduce_only:
        assert decision.approved is False
    if not decision.approved:
        return
    # an opening order that passed: bounded by its own legs or by the shares held, and within the limits
    limits, equity = risk.limits, book.equity
    loss = order.max_loss(order.limit_price)
    calls_sold = -sum(leg.signed_ratio for leg in order.legs if leg.contract.right is Right.CALL)
    if loss is None:
        assert book.position("XYZ") >= order.multiplier * calls_sold * order.qty
        return
    total = loss * order.qty
    assert total <= book.power
    assert total <= equity * limits.max_risk_per_trade_pct / 100
    assert book.gross_exposure + total <= equity * limits.max_capital_deployed_pct / 100
    if sum(leg.signed_ratio for leg in order.legs if leg.contract.right is Right.PUT) < 0:
        assert total <= book.cash


@PROPERTY
@given(
    data=st.data(),
    order=option_orders(),
    level=st.integers(1, 10),
    scope=st.sampled_from(["global", "strategy"]),
)
def test_no_option_order_passes_while_halted(data, order, level, scope):
    risk, book = started(level), data.draw(option_books(order))
    risk.set_external_state(*(("halted", "active") if scope == "global" else ("active", "halted")))

    decision = risk.check_order(order, book)

    assert decision.approved is False
    assert "trading_halted" in {reason.code for reason in decision.reasons}
