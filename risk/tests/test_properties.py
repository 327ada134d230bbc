"""Properties of the policy risk manager over generated orders and books: nothing passes while HALTED,
and a reduce-only order never grows a position."""

import math
from datetime import UTC, datetime, timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from execution.core.portfolio import Portfolio
from risk.core.manager import PolicyRiskManager
from risk.core.policy import RiskPolicy
from risk.core.state import TradingState
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
