"""The kill switch: HALTED, open orders cancelled, no new order accepted, audit rows written, engaged
twice harmlessly, and left only by a second person's approval."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from execution.core.brokers.simulated import SimulatedBrokerClient
from execution.core.costs import CommissionModel, SlippageModel
from execution.models import Order
from execution.services import OrderSpec, order_create, order_submit
from marketdata.core.errors import Conflict, Forbidden
from quantsite.models import AuditRecord
from risk.core.manager import PolicyRiskManager
from risk.core.state import TradingState
from risk.services import halt_reset_request, kill_switch_engage, trading_state_get
from strategies.core.config import StrategyConfig
from strategies.core.types import Order as CoreOrder
from strategies.core.types import OrderType, PriceBar, Side
from strategies.lifecycle_services import approval_decide, strategy_version_create

pytestmark = pytest.mark.django_db

TS = datetime(2024, 5, 2, 20, tzinfo=UTC)


@pytest.fixture
def session(people):
    """A version with a working limit order at a broker, one at the paper broker, and one not sent."""
    version = strategy_version_create(
        config=StrategyConfig(strategy="momentum", name="ks", universe=["AAA"]), created_by=people["olga"]
    )
    broker = SimulatedBrokerClient(cash=10_000.0, commission=CommissionModel(), slippage=SlippageModel())
    broker.bar_open(PriceBar("AAA", TS, 100.0, 101.0, 99.0, 100.0, 1e6, 0))

    def limit(broker_name, signal):
        spec = OrderSpec("AAA", Side.BUY, Decimal(5), OrderType.LIMIT, limit_price=Decimal(90))
        return order_create(version=version, mode="paper", broker=broker_name, spec=spec, signal=signal)

    at_broker = order_submit(order=limit("alpaca", "a"), client=broker)
    in_session = limit("simulated", "b")
    Order.objects.filter(pk=in_session.pk).update(status="accepted")
    never_sent = limit("alpaca", "c")
    return version, broker, [at_broker, in_session, never_sent]


def test_the_kill_switch_halts_cancels_every_open_order_and_writes_the_trail(people, session):
    version, broker, orders = session
    assert orders[0].status == "accepted"
    assert len(broker.get_open_orders()) == 1

    cancelled, failed = kill_switch_engage(
        reason="runaway losses", by=people["rita"], client_for=lambda order: broker
    )

    assert trading_state_get() == TradingState.HALTED
    assert trading_state_get(version=version) == TradingState.HALTED
    assert failed == []
    assert sorted(o.client_order_id for o in cancelled) == sorted(o.client_order_id for o in orders)
    assert set(Order.objects.values_list("status", flat=True)) == {"canceled"}
    assert broker.get_open_orders() == []  # the cancel reached the broker
    actions = list(AuditRecord.objects.filter(actor=people["rita"]).values_list("action", flat=True))
    assert actions.count("kill_switch.engage") == 1
    assert actions.count("order.cancel") == 3


def test_engaging_twice_is_harmless_and_recorded(people, session):
    kill_switch_engage(reason="first", by=people["rita"])

    again = kill_switch_engage(reason="second", by=people["ray"])

    assert again == ([], [])  # nothing left open
    summaries = (
        AuditRecord.objects.filter(action="kill_switch.engage")
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert list(summaries) == ["global halted: first", "global halted (already): second"]


def test_while_halted_the_risk_manager_accepts_no_new_order(people, session):
    version, broker, _ = session
    kill_switch_engage(reason="stop", by=people["rita"])
    manager = PolicyRiskManager()
    manager.set_external_state(trading_state_get(), trading_state_get(version=version))
    manager.on_step(TS, broker.portfolio.equity, new_session=True)

    decision = manager.check_order(CoreOrder("AAA", Side.BUY, qty=1), broker.portfolio)

    assert not decision.approved
    assert "trading_halted" in [reason.code for reason in decision.reasons]


def test_leaving_halted_needs_a_second_risk_officer(people, session):
    kill_switch_engage(reason="stop", by=people["rita"])
    request = halt_reset_request(requested_by=people["rita"], reason="fixed the feed")

    with pytest.raises(Forbidden, match="four-eyes"):
        approval_decide(approval=request, decided_by=people["rita"], approve=True)
    with pytest.raises(Forbidden, match="needs the role admin or risk_officer"):
        approval_decide(approval=request, decided_by=people["olga"], approve=True)
    assert trading_state_get() == TradingState.HALTED

    approval_decide(approval=request, decided_by=people["ray"], approve=True)

    assert trading_state_get() == TradingState.ACTIVE


def test_the_command_line_halts_without_the_web_tier(people, session):
    version, _, _ = session
    out = StringIO()

    # no Alpaca keys here: the order at Alpaca cannot be reached, and the command says so
    with pytest.raises(
        CommandError, match="1 open order\\(s\\) could not be cancelled: see above; trading is halted"
    ):
        call_command("kill_switch", "engage", "--reason", "drill", "--strategy", str(version.pk), stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "halted; 2 open order(s) cancelled"
    assert lines[1].startswith("NOT cancelled: buy 5.000000000 AAA (accepted, ")
    assert lines[1].endswith(
        "paper trading through Alpaca needs ALPACA_PAPER_API_KEY and ALPACA_PAPER_API_SECRET"
    )
    assert lines[2].split()[:2] == [f"version:{version.pk}", "halted"]
    assert trading_state_get() == TradingState.ACTIVE  # one version only
    assert AuditRecord.objects.get(action="kill_switch.engage").actor_label.startswith("cli:")
    with pytest.raises(CommandError, match="request-reset needs --user"):
        call_command("kill_switch", "request-reset", "--strategy", str(version.pk), stdout=StringIO())
    with pytest.raises(CommandError, match="the kill switch needs a reason"):
        call_command("kill_switch", "engage", stdout=StringIO())


def test_an_operator_pauses_a_strategy_to_reducing_and_resumes_it_but_never_out_of_halted(people, promoted):
    from risk.services import strategy_pause, strategy_resume

    version = promoted(StrategyConfig(strategy="momentum", name="pausing", universe=["AAA"]))
    with pytest.raises(Forbidden, match="to pause a strategy needs the role operator"):
        strategy_pause(version=version, by=None, reason="look at it")

    strategy_pause(version=version, by=people["olga"], reason="earnings tomorrow")
    assert trading_state_get(version=version) == "reducing"
    strategy_resume(version=version, by=people["otto"])
    assert trading_state_get(version=version) == "active"
    with pytest.raises(Conflict, match="is not paused"):
        strategy_resume(version=version, by=people["otto"])

    kill_switch_engage(reason="broker outage", by=people["rita"], version=version)
    with pytest.raises(Conflict, match="cannot be paused, only reset"):
        strategy_pause(version=version, by=people["olga"], reason="again")
    with pytest.raises(Conflict, match="leaving it needs an approved reset"):
        strategy_resume(version=version, by=people["olga"])
    assert trading_state_get(version=version) == "halted"
