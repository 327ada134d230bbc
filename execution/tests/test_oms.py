"""The OMS rules: order states, client order ids, and sending without ever sending twice."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from execution.core.brokers.base import (
    BrokerAccount,
    BrokerClient,
    BrokerOrder,
    BrokerPosition,
    BrokerUnavailable,
    OrderRejected,
    OrderRequest,
    TradeUpdate,
)
from execution.core.oms import (
    TRANSITIONS,
    FillRecord,
    client_order_id,
    fill_check,
    order_send,
    transition_check,
)
from marketdata.core.errors import Conflict, InvalidInput
from strategies.core.types import OrderStatus, OrderType, Side

TERMINAL = {s for s in OrderStatus if s.terminal}


class OrderLife(RuleBasedStateMachine):
    """Any sequence of updates a broker may send: the order only moves along allowed transitions,
    and once terminal it stays where it is."""

    def __init__(self) -> None:
        super().__init__()
        self.status = OrderStatus.NEW
        self.history = [OrderStatus.NEW]

    @rule(new=st.sampled_from(list(OrderStatus)))
    def update(self, new: OrderStatus) -> None:
        before = self.status
        try:
            moved = transition_check(before, new)
        except Conflict:
            assert new not in TRANSITIONS[before]
            assert new != before
            return
        assert moved == (new != before)
        assert before not in TERMINAL or not moved
        self.status = new
        if moved:
            self.history.append(new)

    @invariant()
    def terminal_is_final(self) -> None:
        terminal_at = [i for i, s in enumerate(self.history) if s in TERMINAL]
        assert not terminal_at or terminal_at[0] == len(self.history) - 1


OrderLife.TestCase.settings = settings(max_examples=200, stateful_step_count=20, derandomize=True)
test_an_order_never_leaves_a_terminal_state = OrderLife.TestCase


def test_the_documented_path_and_its_exits_are_allowed():
    path = [OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
    status = OrderStatus.NEW
    for new in path:
        assert transition_check(status, new)
        status = new
    assert not transition_check(OrderStatus.FILLED, OrderStatus.FILLED)  # a repeated report
    with pytest.raises(Conflict, match="an order cannot go from filled to canceled"):
        transition_check(OrderStatus.FILLED, OrderStatus.CANCELED)
    with pytest.raises(Conflict, match="an order cannot go from accepted to submitted"):
        transition_check(OrderStatus.ACCEPTED, OrderStatus.SUBMITTED)


def test_a_client_order_id_is_fixed_by_strategy_signal_and_attempt():
    first = client_order_id("momentum v1", "AAA long 2024-05-02T20:00Z")

    assert first == client_order_id("momentum v1", "AAA long 2024-05-02T20:00Z")
    assert first != client_order_id("momentum v1", "AAA long 2024-05-03T20:00Z")
    assert first != client_order_id("momentum v1", "AAA long 2024-05-02T20:00Z", attempt=2)
    assert first.startswith("momentumv1-")
    assert first.endswith("-1")
    assert len(client_order_id("x" * 200, "s", 999)) <= 48
    with pytest.raises(InvalidInput, match="counts from 1"):
        client_order_id("s", "signal", 0)


def test_a_fill_never_takes_an_order_past_its_quantity():
    ts = datetime(2024, 5, 2, tzinfo=UTC)
    fill_check(Decimal(10), Decimal(4), FillRecord("e1", Decimal(6), Decimal("101.25"), Decimal(0), ts))
    with pytest.raises(Conflict, match="takes the order past its quantity"):
        fill_check(Decimal(10), Decimal(4), FillRecord("e2", Decimal("6.5"), Decimal(101), Decimal(0), ts))
    with pytest.raises(InvalidInput, match="price must be positive"):
        fill_check(Decimal(10), Decimal(0), FillRecord("e3", Decimal(1), Decimal("NaN"), Decimal(0), ts))


# --- sending --------------------------------------------------------------------------------------


class ScriptedBroker(BrokerClient):
    """A broker whose answers to place_order and get_order are scripted, recording every call."""

    name = "scripted"
    paper = True

    def __init__(self, placements: list, lookups: list) -> None:
        self.placements, self.lookups = placements, lookups
        self.calls: list[str] = []

    def _next(self, script: list, call: str):
        self.calls.append(call)
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def place_order(self, request: OrderRequest) -> BrokerOrder:
        return self._next(self.placements, f"place {request.client_order_id}")

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        return self._next(self.lookups, f"get {client_order_id}")

    def _unexpected(self, call: str):
        raise AssertionError(f"sending an order must not call {call}")

    def cancel_order(self, client_order_id: str) -> None:
        self._unexpected("cancel_order")

    def get_open_orders(self) -> list[BrokerOrder]:
        self._unexpected("get_open_orders")

    def get_positions(self) -> list[BrokerPosition]:
        self._unexpected("get_positions")

    def get_account(self) -> BrokerAccount:
        self._unexpected("get_account")

    def stream_updates(self, handler: Callable[[TradeUpdate], None]) -> Callable[[], None]:
        self._unexpected("stream_updates")


REQUEST = OrderRequest("s-1", "AAA", Side.BUY, Decimal(10))
ACCEPTED = BrokerOrder(
    "s-1", "b-1", "AAA", Side.BUY, Decimal(10), OrderType.MARKET, OrderStatus.ACCEPTED, "new"
)
TIMEOUT = BrokerUnavailable("the broker timed out")


@pytest.mark.parametrize(
    ("placements", "lookups", "calls", "order", "resubmitted"),
    [
        ([ACCEPTED], [], ["place s-1"], ACCEPTED, False),
        # it did arrive: found by its id, never sent again
        ([TIMEOUT], [ACCEPTED], ["place s-1", "get s-1"], ACCEPTED, False),
        # it did not: sent again, with the same id
        ([TIMEOUT, ACCEPTED], [None], ["place s-1", "get s-1", "place s-1"], ACCEPTED, True),
        # still unknown: left for reconciliation, not sent a third time
        ([TIMEOUT, TIMEOUT], [None], ["place s-1", "get s-1", "place s-1"], None, True),
        ([TIMEOUT], [TIMEOUT], ["place s-1", "get s-1"], None, False),
        # the first arrived after the lookup: the second is refused as a duplicate, and found
        (
            [TIMEOUT, OrderRejected("client_order_id must be unique")],
            [None, ACCEPTED],
            ["place s-1", "get s-1", "place s-1", "get s-1"],
            ACCEPTED,
            True,
        ),
    ],
)
def test_an_unknown_outcome_is_looked_up_before_the_order_is_sent_again(
    placements, lookups, calls, order, resubmitted
):
    broker = ScriptedBroker(list(placements), list(lookups))

    sent = order_send(broker, REQUEST)

    assert broker.calls == calls
    assert (sent.order, sent.resubmitted) == (order, resubmitted)
    assert bool(sent.unknown_reason) == (order is None)


def test_a_refusal_is_final():
    broker = ScriptedBroker([OrderRejected("insufficient buying power")], [])

    with pytest.raises(OrderRejected, match="insufficient buying power"):
        order_send(broker, REQUEST)
    assert broker.calls == ["place s-1"]
