"""Orders through the OMS services: stored before they are sent, never sent twice, and their fills
applied once to positions and cash, whoever reports them."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execution.core.brokers.base import BrokerUnavailable
from execution.core.brokers.simulated import SimulatedBrokerClient
from execution.core.costs import CommissionModel, SlippageModel
from execution.models import Fill, Order, Position, TradingAccount
from execution.services import (
    Later,
    OrderSpec,
    Progress,
    account_open,
    order_create,
    order_place,
    order_submit,
    orders_progress,
)
from marketdata.core.errors import Conflict
from quantsite.models import AuditRecord
from strategies.core.config import StrategyConfig
from strategies.core.types import OrderStatus, PriceBar, Side
from strategies.lifecycle_services import strategy_version_create

pytestmark = pytest.mark.django_db

TS = datetime(2024, 5, 2, 20, tzinfo=UTC)


@pytest.fixture
def version(user):
    config = StrategyConfig(strategy="momentum", name="paper_test", universe=["AAA"])
    return strategy_version_create(config=config, created_by=user)


@pytest.fixture
def paper():
    client = SimulatedBrokerClient(
        cash=10_000.0, commission=CommissionModel(per_trade=1.0), slippage=SlippageModel(bps=0)
    )
    client.bar_open(PriceBar("AAA", TS, 100.0, 102.0, 99.0, 101.25, 1e6, 0))
    return client


def test_an_order_is_stored_then_sent_once_and_its_fill_moves_position_and_cash(version, paper):
    account_open(version=version, mode="paper", broker="simulated", capital=Decimal(10_000))
    updates = []
    paper.stream_updates(updates.append)
    order = order_create(
        version=version,
        mode="paper",
        broker="simulated",
        spec=OrderSpec("AAA", Side.BUY, Decimal(10)),
        signal="AAA long 1",
    )

    assert (order.status, order.client_order_id) == ("new", order.client_order_id)
    order = order_submit(order=order, client=paper)
    for update in updates:  # the stream reports the same fill again: applied once
        orders_progress(items=[Progress.of(update)])
    again = order_submit(order=order, client=paper)

    order.refresh_from_db()
    assert (order.status, order.filled_qty, order.avg_fill_price) == (
        "filled",
        Decimal(10),
        Decimal("101.25"),
    )
    assert again.status == "filled"
    fill = Fill.objects.get()
    assert (fill.qty, fill.notional, fill.commission) == (Decimal(10), Decimal("1012.5"), Decimal(1))
    position = Position.objects.get()
    assert (position.qty, position.avg_price) == (Decimal(10), Decimal("101.25"))
    assert TradingAccount.objects.get().cash == Decimal(10_000) - Decimal("1012.5") - Decimal(1)
    assert (
        order_create(
            version=version,
            mode="paper",
            broker="simulated",
            spec=OrderSpec("AAA", Side.BUY, Decimal(10)),
            signal="AAA long 1",
        )
        == order
    )  # the same signal and attempt: the stored order, not a second
    assert list(
        AuditRecord.objects.filter(subject_type="order").values_list("action", flat=True).order_by("id")
    ) == [
        "order.create",
        "order.submit",
        "order.filled",
    ]


def test_a_refused_order_is_rejected_with_the_brokers_reason(version, paper):
    order = order_create(
        version=version,
        mode="paper",
        broker="simulated",
        spec=OrderSpec("ZZZ", Side.BUY, Decimal(1)),
        signal="ZZZ long",
    )

    order = order_submit(order=order, client=paper)

    assert order.status == "rejected"
    assert order.status_reason == "no price of ZZZ yet: the paper broker has seen no bar of it"


def test_an_unknown_outcome_leaves_the_order_submitted_for_reconciliation(version, paper, monkeypatch):
    def down(*args, **kwargs):
        raise BrokerUnavailable("connection reset")

    monkeypatch.setattr(paper, "place_order", down)
    monkeypatch.setattr(paper, "get_order", down)
    order = order_create(
        version=version,
        mode="paper",
        broker="simulated",
        spec=OrderSpec("AAA", Side.BUY, Decimal(1)),
        signal="s",
    )

    order = order_submit(order=order, client=paper)

    assert order.status == "submitted"
    assert order.status_reason == "outcome unknown: connection reset; the lookup failed too: connection reset"


@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fills=st.lists(
        st.tuples(st.integers(1, 40), st.decimals("50", "150", places=2), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_positions_are_the_sum_of_signed_fills_and_cash_moves_by_their_notional(version, fills):
    Position.objects.all().delete()
    Fill.objects.all().delete()
    Order.objects.all().delete()
    TradingAccount.objects.all().delete()
    account_open(version=version, mode="paper", broker="simulated", capital=Decimal(100_000))
    signed_total, cash_moved = Decimal(0), Decimal(0)
    for n, (qty, price, buy) in enumerate(fills):
        side = Side.BUY if buy else Side.SELL
        order = order_create(
            version=version,
            mode="paper",
            broker="simulated",
            spec=OrderSpec("AAA", side, Decimal(qty)),
            signal=f"{n}",
        )
        Order.objects.filter(pk=order.pk).update(status="accepted")
        order.refresh_from_db()
        half = Decimal(qty // 2)
        # two reports: a partial fill and then the whole, each also reported twice
        for filled in ([half] if half else []) + [Decimal(qty)]:
            report = _report(order, filled, price)
            orders_progress(items=[Progress(report, TS), Progress(report, TS)], derive=True)
        signed_total += Decimal(qty) if buy else -Decimal(qty)
        cash_moved += -(Decimal(qty) * price) if buy else Decimal(qty) * price
        order.refresh_from_db()
        assert order.filled_qty == Decimal(qty)  # never past the order's quantity

    assert Position.objects.get().qty == signed_total
    assert TradingAccount.objects.get().cash - Decimal(100_000) == cash_moved


def _report(order, filled, price):
    from execution.core.brokers.base import BrokerOrder
    from strategies.core.types import OrderStatus, OrderType

    status = OrderStatus.FILLED if filled == order.qty else OrderStatus.PARTIALLY_FILLED
    return BrokerOrder(
        order.client_order_id,
        "b",
        order.symbol,
        Side(order.side),
        order.qty,
        OrderType.MARKET,
        status,
        str(status),
        filled_qty=filled,
        avg_fill_price=price,
    )


def _sent(version, paper, n, later=None):
    orders = []
    for k in range(n):
        order = order_create(
            version=version,
            mode="paper",
            broker="simulated",
            spec=OrderSpec("AAA", Side.BUY, Decimal(1)),
            signal=f"batch {k}",
        )
        orders.append(order_submit(order=order, client=paper, later=later))
    return orders


@pytest.mark.django_db(transaction=True)
def test_a_session_stores_its_order_before_sending_it_and_never_sends_it_twice(
    version, paper, django_assert_num_queries
):
    account_open(version=version, mode="paper", broker="simulated", capital=Decimal(10_000))
    later = Later()
    paper.stream_updates(lambda update: later.progress.append(Progress.of(update)))
    spec = OrderSpec("AAA", Side.BUY, Decimal(2))

    def place():
        return order_place(
            version=version,
            mode="paper",
            broker="simulated",
            spec=spec,
            signal="AAA 1",
            client=paper,
            later=later,
        )

    with django_assert_num_queries(1):  # its INSERT; the audit records and answers wait in later
        order = place()
    assert Order.objects.get().status == "submitted"  # stored as sent, before the broker's answer is
    answers = len(later.progress)
    again = place()

    assert (again.pk, Order.objects.count(), len(later.progress)) == (order.pk, 1, answers)
    assert [r.action for r in later.audits] == ["order.create", "order.submit"]
    orders_progress(items=later.progress, audits=later.audits)
    assert (Position.objects.get().qty, Order.objects.get().status) == (Decimal(2), "filled")


@pytest.mark.parametrize("n", [1, 12])
def test_a_batch_of_reports_is_stored_in_the_same_few_queries_however_many_orders(
    version, paper, n, django_assert_num_queries
):
    account_open(version=version, mode="paper", broker="simulated", capital=Decimal(10_000))
    later = Later()
    paper.stream_updates(lambda update: later.progress.append(Progress.of(update)))
    _sent(version, paper, n, later)

    # orders locked, their fills, positions locked (here missing: created, then read again),
    # accounts; then orders, fills, positions, accounts and audit rows written: 11 queries and
    # the transaction's 2
    with django_assert_num_queries(13):
        orders_progress(items=later.progress, audits=later.audits)

    assert Position.objects.get().qty == Decimal(n)
    assert Fill.objects.count() == n
    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}
    assert TradingAccount.objects.get().cash == Decimal(10_000) - n * (Decimal("101.25") + 1)


def test_a_stale_report_is_passed_over_and_a_bad_one_is_named_after_the_others_are_stored(version, paper):
    account_open(version=version, mode="paper", broker="simulated", capital=Decimal(10_000))
    fills: list[Progress] = []
    paper.stream_updates(lambda update: fills.append(Progress.of(update)))
    answers = Later()
    first, second = _sent(version, paper, 2, answers)
    stale = Progress(
        replace(answers.progress[0].report, status=OrderStatus.ACCEPTED, broker_status="accepted"), TS
    )
    too_much = replace(fills[1].execution, fill_qty=Decimal(5), execution_id="x-extra")

    with pytest.raises(Conflict, match=f"{second.client_order_id}: a fill of 5 takes it past its quantity"):
        orders_progress(items=[*fills, stale, Progress.of(too_much)])

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.filled_qty) == ("filled", Decimal(1))  # "accepted" after "filled": stale
    assert (second.status, second.filled_qty) == ("filled", Decimal(1))
    assert Position.objects.get().qty == Decimal(2)
