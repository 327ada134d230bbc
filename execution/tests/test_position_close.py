"""Closing a position on a person's request: through a real broker the reduce-only market order is
sent at once; on the paper broker the running session sends it at its next bar. Both are checked
by the version's risk manager and written to the audit trail."""

from decimal import Decimal

import pytest

from execution.models import Order, Position, TradingAccount
from execution.position_services import position_close
from execution.tests.fake_alpaca import KEY, SECRET
from execution.tests.test_trading_session import BARS, START
from execution.tests.test_trading_session import CONFIG as SESSION_CONFIG
from execution.trading_services import TradingSession, replay_bars
from marketdata.core.errors import Conflict, Forbidden
from quantsite.models import AuditRecord
from risk.services import kill_switch_engage, strategy_pause
from strategies.core.config import Sizing

pytestmark = pytest.mark.django_db

CONFIG = SESSION_CONFIG.model_copy(update={"name": "closing", "sizing": Sizing(mode="qty", value=1)})


@pytest.fixture
def at_alpaca(promoted, settings, fake, aaa):
    """A paper version trading through Alpaca (the local fake) that holds 3 AAA."""
    settings.ALPACA_PAPER_API_KEY, settings.ALPACA_PAPER_API_SECRET = KEY, SECRET
    settings.ALPACA_TRADING_URL = fake.url
    version = promoted(CONFIG, "paper")
    TradingAccount.objects.create(
        strategy_version=version, mode="paper", broker="alpaca", initial_capital=10_000, cash=9_700
    )
    return Position.objects.create(
        strategy_version=version, mode="paper", symbol="AAA", qty=Decimal(3), avg_price=Decimal(100)
    )


def test_through_a_real_broker_the_closing_order_is_sent_at_once(people, at_alpaca, fake):
    closed = position_close(position=at_alpaca, by=people["olga"])

    order = Order.objects.get()
    assert closed.outcome == "sent"
    assert closed.order == order
    assert (order.side, order.qty, order.order_type, order.broker, order.reason) == (
        "sell",
        Decimal(3),
        "market",
        "alpaca",
        "position close",
    )
    assert order.status == "accepted"
    sent = fake.order(order.client_order_id)
    assert (sent["side"], sent["qty"], sent["type"]) == ("sell", "3", "market")
    trail = AuditRecord.objects.filter(actor=people["olga"], action__regex=r"^(order|position)\.")
    assert list(trail.order_by("id").values_list("action", flat=True)) == [
        "order.create",
        "position.close",
        "order.submit",
    ]
    with pytest.raises(Conflict, match="a close of AAA is already working"):
        position_close(position=at_alpaca, by=people["otto"])


def test_a_close_passes_while_paused_but_not_while_halted_and_never_for_a_viewer(
    people, at_alpaca, django_user_model
):
    version = at_alpaca.strategy_version
    strategy_pause(version=version, by=people["olga"], reason="earnings")
    kill_switch_engage(reason="drill", by=people["rita"], version=version)
    viewer = django_user_model.objects.create_user("vic")

    with pytest.raises(Conflict) as refused:
        position_close(position=at_alpaca, by=people["olga"])
    with pytest.raises(Forbidden, match="to close a position needs the role operator"):
        position_close(position=at_alpaca, by=viewer)

    assert refused.value.message.startswith("the risk manager refuses to close AAA: ")
    assert [r["code"] for r in refused.value.details["reasons"]] == ["trading_halted"]
    assert not Order.objects.exists()
    assert AuditRecord.objects.filter(action="position.close_refused").count() == 1


def test_a_flat_position_has_nothing_to_close(people, at_alpaca):
    Position.objects.filter(pk=at_alpaca.pk).update(qty=0)
    at_alpaca.refresh_from_db()

    with pytest.raises(Conflict, match=r"AAA of closing v1 .* is flat: nothing to close"):
        position_close(position=at_alpaca, by=people["olga"])


def test_on_the_paper_broker_the_running_session_closes_it_at_its_next_bar(people, promoted):
    version = promoted(CONFIG)
    history, steps = replay_bars({"AAA": BARS}, START)
    session = TradingSession(
        version=version, mode="paper", broker="simulated", capital=Decimal(10_000), history=history
    )
    n = 0
    while not session.portfolio.position("AAA"):  # until it holds a position
        session.on_bars(steps[n])
        n += 1
    # pausing keeps the strategy from buying again after the close
    strategy_pause(version=version, by=people["olga"], reason="close it")
    position = Position.objects.get()

    closed = position_close(position=position, by=people["otto"])
    with pytest.raises(Conflict, match="a close of AAA was already requested"):
        position_close(position=position, by=people["otto"])
    assert (closed.outcome, Order.objects.filter(reason="position close").count()) == ("requested", 0)
    session.on_bars(steps[n])
    session.on_bars(steps[n + 1])

    position.refresh_from_db()
    assert session.portfolio.position("AAA") == 0
    assert (position.qty, position.close_requested_at) == (Decimal(0), None)
    closing = Order.objects.get(reason="position close")
    assert (closing.side, closing.qty, closing.status) == ("sell", Decimal(1), "filled")
    trail = AuditRecord.objects.filter(actor=people["otto"], action__startswith="position.")
    assert list(trail.order_by("id").values_list("action", flat=True)) == [
        "position.close_request",
        "position.close",
    ]


def test_a_close_through_a_real_broker_first_cancels_the_versions_working_orders_on_the_symbol(
    people, at_alpaca, fake
):
    from execution.brokers import broker_client_build
    from execution.services import OrderSpec, order_create, order_submit
    from strategies.core.types import OrderType, Side

    version = at_alpaca.strategy_version
    spec = OrderSpec("AAA", Side.BUY, Decimal(5), OrderType.LIMIT, limit_price=Decimal(50))
    client = broker_client_build(broker="alpaca", mode="paper", capital=0.0)
    buying = order_submit(
        order=order_create(version=version, mode="paper", broker="alpaca", spec=spec, signal="dip"),
        client=client,
    )
    assert buying.status == "accepted"

    closed = position_close(position=at_alpaca, by=people["olga"])

    buying.refresh_from_db()
    assert buying.status == "canceled"
    assert fake.order(buying.client_order_id)["status"] == "canceled"
    assert (closed.order.side, closed.order.qty, closed.order.status) == ("sell", Decimal(3), "accepted")


def test_on_the_paper_broker_a_close_cancels_the_exit_the_strategy_just_sent(people, promoted):
    from backtests.core.results import BacktestConfig

    history, steps = replay_bars({"AAA": BARS}, START)

    def session_of(version) -> TradingSession:
        costs = BacktestConfig(fill_timing="next_open")
        return TradingSession(
            version=version,
            mode="paper",
            broker="simulated",
            capital=Decimal(10_000),
            history=history,
            costs=costs,
        )

    # a first run finds the bar at which the strategy sends an exit while it holds the position
    first = promoted(CONFIG)
    probe, k = session_of(first), 0
    while True:
        probe.on_bars(steps[k])
        if probe.portfolio.position("AAA") and Order.objects.filter(
            strategy_version=first, status="accepted"
        ):
            break
        k += 1
    version = promoted(CONFIG.model_copy(update={"name": "closing_again"}))
    session = session_of(version)
    for step in steps[:k]:
        session.on_bars(step)

    strategy_pause(version=version, by=people["olga"], reason="close it")  # no new entry after
    position_close(position=Position.objects.get(strategy_version=version), by=people["otto"])
    session.on_bars(steps[k])  # the strategy sends its exit; the close cancels it and sends its own
    session.on_bars(steps[k + 1])

    assert session.portfolio.position("AAA") == 0  # sold once, not twice
    sells = Order.objects.filter(strategy_version=version, side="sell").order_by("id")
    assert [(o.reason, o.status) for o in sells] == [
        ("fast below slow", "canceled"),
        ("position close", "filled"),
    ]
