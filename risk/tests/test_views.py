"""The Controls page: the kill switch (a reason and a confirmation), pause and resume, a risk-limit
proposal and a reset request decided by a risk officer; a viewer gets 403."""

import pytest

from quantsite.models import AuditRecord
from risk.services import trading_state_get
from strategies.core.config import StrategyConfig
from strategies.models import Approval

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(promoted):
    return promoted(StrategyConfig(strategy="momentum", name="on_paper", universe=["AAA"]), "paper")


def test_the_kill_switch_needs_its_confirmation_then_halts_everything(console_as, paper):
    client = console_as("olga")

    unconfirmed = client.post("/controls/kill-switch/", {"reason": "feed broken"}, follow=True)
    assert b"the kill switch needs its confirmation ticked" in unconfirmed.content
    assert trading_state_get() == "active"

    engaged = client.post("/controls/kill-switch/", {"reason": "feed broken", "confirm": "yes"}, follow=True)

    assert b"Trading HALTED: 0 open order(s) cancelled" in engaged.content
    assert b'<span class="badge halted" id="platform-state">halted</span>' in engaged.content
    assert trading_state_get(version=paper) == "halted"
    assert AuditRecord.objects.filter(action="kill_switch.engage").count() == 1


def test_pause_resume_and_a_reset_decided_by_a_risk_officer(console_as, paper):
    console_as("olga").post(f"/controls/strategies/{paper.pk}/pause/", {"reason": "earnings"})
    assert trading_state_get(version=paper) == "reducing"
    console_as("otto").post(f"/controls/strategies/{paper.pk}/resume/")
    assert trading_state_get(version=paper) == "active"

    console_as("olga").post("/controls/kill-switch/", {"reason": "outage", "confirm": "yes"})
    console_as("olga").post("/controls/reset/", {"reason": "broker back"})
    reset = Approval.objects.get(kind="halt_reset")
    decide = f"/approvals/{reset.pk}/decide/"
    as_operator = console_as("otto").post(decide, {"decision": "approve"}, follow=True)
    assert b"deciding it needs the role admin or risk_officer" in as_operator.content
    page = console_as("rita").get("/controls/")
    assert f'action="/approvals/{reset.pk}/decide/"'.encode() in page.content
    console_as("rita").post(decide, {"decision": "approve"})

    assert trading_state_get() == "active"


def test_the_controls_page_shows_and_proposes_the_greeks_limits(console_as):
    page = console_as("olga").get("/controls/")
    console_as("olga").post("/controls/risk-policy/", {"max_net_delta_pct": "25", "max_net_vega_pct": "0.2"})

    assert b'<td>max_net_vega_pct</td><td class="num">0.3222</td>' in page.content  # level 6
    assert b"0.1 to 0.5 % of equity per volatility point" in page.content
    assert b'<input name="max_net_delta_pct" placeholder="10.0\xe2\x80\x9350.0"' in page.content
    approval = Approval.objects.get(kind="risk_policy")
    assert approval.payload["values"] == {"max_net_delta_pct": 25.0, "max_net_vega_pct": 0.2}


def test_a_risk_limit_change_is_proposed_inside_its_range(console_as):
    refused = console_as("olga").post("/controls/risk-policy/", {"max_drawdown_pct": "30"}, follow=True)
    assert b"max_drawdown_pct must be between 5 and 12" in refused.content

    proposal = {"level": "4", "max_drawdown_pct": "8", "comment": "calmer"}
    console_as("olga").post("/controls/risk-policy/", proposal)

    approval = Approval.objects.get(kind="risk_policy")
    assert approval.payload["values"] == {"level": 4, "max_drawdown_pct": 8.0}


@pytest.mark.parametrize(
    "url",
    ["/controls/kill-switch/", "/controls/reset/", "/controls/risk-policy/", "/controls/strategies/1/pause/"],
)
def test_a_viewer_sees_no_control_and_gets_403_when_posting(console_as, url):
    client = console_as("vera")

    page = client.get("/controls/")
    response = client.post(url, {"reason": "x", "confirm": "yes"})

    assert page.status_code == 200
    assert b"Engage the kill switch" not in page.content
    assert response.status_code == 403
    assert trading_state_get() == "active"
