"""/api/v1/controls/: the trading states, the kill switch and a reset through an approval, the risk
policy in force and a change through an approval, and the approvals themselves (four-eyes, the
roles of each kind) by role."""

import pytest

from execution.models import Order
from quantsite.models import AuditRecord
from risk.core.policy import RiskPolicy
from risk.services import kill_switch_engage, risk_policy_get, trading_state_get
from strategies.core.config import StrategyConfig
from strategies.lifecycle_services import promotion_request, strategy_version_create
from strategies.models import Approval

pytestmark = pytest.mark.django_db


@pytest.fixture
def officers(as_role):
    """Two risk officers' clients (rita2, ray2) and a viewer's."""
    return as_role("risk_officer", "rita2"), as_role("risk_officer", "ray2"), as_role("viewer", "vic2")


def test_the_trading_states_show_the_platform_and_each_version_with_its_own(api, promoted, people):
    version = promoted(StrategyConfig(strategy="momentum", name="alpha", universe=["AAA"]), "paper")

    before = api.get("/api/v1/controls/trading-states/").json()
    kill_switch_engage(reason="drill", by=people["rita"], version=version)
    after = api.get("/api/v1/controls/trading-states/").json()

    assert before == {
        "platform": {
            "scope": "global",
            "strategy_version": None,
            "strategy": None,
            "state": "active",
            "reason": "",
            "flatten_requested": False,
            "changed_by": None,
            "changed_at": None,
        },
        "versions": [],
    }
    assert after["platform"]["state"] == "active"
    assert [
        (v["scope"], v["strategy_version"], v["strategy"], v["state"], v["changed_by"])
        for v in after["versions"]
    ] == [(f"version:{version.pk}", version.pk, "alpha v1", "halted", "rita")]


def test_an_operator_halts_the_platform_and_a_risk_officer_approves_the_reset(api, book, officers, user):
    version = book(positions=1)
    working = Order.objects.create(
        client_order_id="w-1",
        strategy_version=version,
        mode="paper",
        broker="simulated",
        symbol="AAA",
        side="buy",
        qty=1,
        status="accepted",
        signal="s",
    )
    rita, ray, _ = officers

    engaged = api.post("/api/v1/controls/kill-switch/", {"reason": "runaway fills", "flatten": True})
    asked = api.post("/api/v1/controls/kill-switch/reset/", {"reason": "feed fixed"})
    own = api.post(f"/api/v1/controls/approvals/{asked.json()['id']}/approve/", {"comment": "mine"})
    approved = rita.post(f"/api/v1/controls/approvals/{asked.json()['id']}/approve/", {"comment": "checked"})

    assert engaged.status_code == 200
    body = engaged.json()
    assert (body["state"]["scope"], body["state"]["state"], body["state"]["reason"]) == (
        "global",
        "halted",
        "runaway fills",
    )
    assert [(o["id"], o["status"]) for o in body["cancelled"]] == [(working.pk, "canceled")]
    assert body["failed"] == []
    assert asked.status_code == 201
    assert (asked.json()["kind"], asked.json()["subject_id"], asked.json()["request_comment"]) == (
        "halt_reset",
        "global",
        "feed fixed",
    )
    assert (own.status_code, own.json()["message"]) == (
        403,
        "deciding a halt_reset approval needs the role admin or risk_officer",
    )
    assert approved.status_code == 200
    assert (approved.json()["decision"], approved.json()["decided_by"], approved.json()["comment"]) == (
        "approved",
        "rita2",
        "checked",
    )
    assert trading_state_get() == "active"
    assert AuditRecord.objects.filter(action="kill_switch.engage", actor=user).count() == 1
    again = ray.post(f"/api/v1/controls/approvals/{asked.json()['id']}/reject/")
    assert (again.status_code, again.json()["error"]) == (409, "conflict")


def test_the_kill_switch_can_halt_one_version_and_needs_a_reason(api, promoted):
    version = promoted(StrategyConfig(strategy="momentum", name="alpha", universe=["AAA"]), "paper")

    halted = api.post("/api/v1/controls/kill-switch/", {"reason": "bad feed", "strategy_version": version.pk})
    no_reason = api.post("/api/v1/controls/kill-switch/", {"strategy_version": version.pk})
    unknown = api.post("/api/v1/controls/kill-switch/", {"reason": "x", "strategy_version": 999})

    assert (halted.json()["state"]["scope"], halted.json()["state"]["strategy"]) == (
        f"version:{version.pk}",
        "alpha v1",
    )
    assert (trading_state_get(), trading_state_get(version=version)) == ("active", "halted")
    assert (no_reason.status_code, no_reason.json()["message"]) == (400, "reason: This field is required.")
    assert (unknown.status_code, unknown.json()["message"]) == (
        400,
        'strategy_version: Invalid pk "999" - object does not exist.',
    )
    not_halted = api.post("/api/v1/controls/kill-switch/reset/", {"reason": "x"})
    assert (not_halted.status_code, not_halted.json()["message"]) == (409, "global is not halted")


def test_the_risk_policy_in_force_with_its_level_and_ranges(api, promoted):
    version = promoted(StrategyConfig(strategy="momentum", name="alpha", universe=["AAA"]), "paper")

    policy = api.get("/api/v1/controls/risk-policy/").json()
    of_version = api.get(f"/api/v1/controls/risk-policy/?strategy_version={version.pk}").json()

    assert (policy["scope"], policy["source"], policy["level"], policy["policy_version"]) == (
        "global",
        "default",
        6,
        None,
    )
    assert policy["configured"] == {"level": 6}
    assert policy["limits"] == RiskPolicy.default().values()
    assert policy["ranges"][0] == {
        "name": "max_risk_per_trade_pct",
        "value": 1.3333333333333335,  # 0.5 + 1.5 x 5 / 9
        "tightest": 0.5,
        "loosest": 2.0,
        "unit": "% of equity",
        "from_level": True,
    }
    assert [r["name"] for r in policy["ranges"]] == [
        "max_risk_per_trade_pct",
        "max_capital_deployed_pct",
        "max_concurrent_positions",
        "daily_loss_limit_pct",
        "max_drawdown_pct",
        "max_net_delta_pct",
        "max_net_vega_pct",
    ]
    assert policy["ranges"][6] == {
        "name": "max_net_vega_pct",
        "value": 0.3222222222222222,  # 0.1 + 0.4 x 5 / 9
        "tightest": 0.1,
        "loosest": 0.5,
        "unit": "% of equity per volatility point",
        "from_level": True,
    }
    assert policy["pending_change"] is None
    assert (of_version["scope"], of_version["strategy_version"], of_version["source"]) == (
        f"version:{version.pk}",
        version.pk,
        "default",
    )
    assert api.get("/api/v1/controls/risk-policy/?strategy_version=abc").status_code == 400


def test_a_proposed_policy_change_applies_once_a_risk_officer_approves_it(api, officers, user):
    rita, _, viewer = officers

    proposed = api.post(
        "/api/v1/controls/risk-policy/",
        {"values": {"level": 3, "max_drawdown_pct": 8}, "comment": "tighter for earnings season"},
    )
    out_of_range = api.post("/api/v1/controls/risk-policy/", {"values": {"max_drawdown_pct": 30}})
    waiting = api.get("/api/v1/controls/risk-policy/").json()
    listed = viewer.get("/api/v1/controls/approvals/?kind=risk_policy&decision=pending").json()
    decided = rita.post(f"/api/v1/controls/approvals/{proposed.json()['id']}/approve/")
    in_force = api.get("/api/v1/controls/risk-policy/").json()

    assert proposed.status_code == 201
    assert proposed.json()["payload"] == {"values": {"level": 3, "max_drawdown_pct": 8.0}, "base_version": 0}
    assert (out_of_range.status_code, out_of_range.json()["message"]) == (
        400,
        "risk policy: max_drawdown_pct: "
        "max_drawdown_pct must be between 5 and 12 (% of the peak equity), not 30",
    )
    assert waiting["pending_change"]["id"] == proposed.json()["id"]
    assert [a["id"] for a in listed["results"]] == [proposed.json()["id"]]
    assert decided.json()["decision"] == "approved"
    assert (in_force["source"], in_force["policy_version"], in_force["level"], in_force["set_by"]) == (
        "global",
        1,
        3,
        "alice",
    )
    assert in_force["approval"] == proposed.json()["id"]
    assert [(r["name"], r["value"], r["from_level"]) for r in in_force["ranges"]][4] == (
        "max_drawdown_pct",
        8.0,
        False,
    )
    assert risk_policy_get() == RiskPolicy(level=3, max_drawdown_pct=8)
    assert in_force["pending_change"] is None


def test_the_greeks_limits_change_through_an_approval_like_the_others(api, officers):
    rita, _, _ = officers

    too_loose = api.post("/api/v1/controls/risk-policy/", {"values": {"max_net_vega_pct": 0.6}})
    proposed = api.post(
        "/api/v1/controls/risk-policy/", {"values": {"max_net_delta_pct": 20, "max_net_vega_pct": 0.25}}
    )
    rita.post(f"/api/v1/controls/approvals/{proposed.json()['id']}/approve/")
    in_force = api.get("/api/v1/controls/risk-policy/").json()

    assert (too_loose.status_code, too_loose.json()["message"]) == (
        400,
        "risk policy: max_net_vega_pct: "
        "max_net_vega_pct must be between 0.1 and 0.5 (% of equity per volatility point), not 0.6",
    )
    assert proposed.json()["payload"]["values"] == {"max_net_delta_pct": 20.0, "max_net_vega_pct": 0.25}
    assert [(r["name"], r["value"], r["from_level"]) for r in in_force["ranges"]][5:] == [
        ("max_net_delta_pct", 20.0, False),
        ("max_net_vega_pct", 0.25, False),
    ]
    assert (in_force["limits"]["max_net_delta_pct"], in_force["limits"]["max_net_vega_pct"]) == (20.0, 0.25)
    change = AuditRecord.objects.get(action="risk_policy.change")
    assert (change.data["values"]["max_net_delta_pct"], change.data["values"]["max_net_vega_pct"]) == (
        20.0,
        0.25,
    )


def test_approvals_list_filter_and_detail_and_an_operator_decides_a_promotion(api, people, as_role):
    version = strategy_version_create(
        config=StrategyConfig(strategy="momentum", name="alpha"), created_by=people["olga"]
    )
    request = promotion_request(version=version, requested_by=people["olga"])

    listed = api.get(f"/api/v1/controls/approvals/?strategy_version={version.pk}").json()
    detail = api.get(f"/api/v1/controls/approvals/{request.pk}/").json()
    rejected = api.post(f"/api/v1/controls/approvals/{request.pk}/reject/", {"comment": "not yet"})

    assert [a["id"] for a in listed["results"]] == [request.pk]
    assert (detail["kind"], detail["subject_type"], detail["subject_id"], detail["requested_by"]) == (
        "promotion",
        "strategyversion",
        str(version.pk),
        "olga",
    )
    assert (rejected.status_code, rejected.json()["decision"], rejected.json()["decided_by"]) == (
        200,
        "rejected",
        "alice",
    )
    assert api.get("/api/v1/controls/approvals/?decision=pending").json()["count"] == 0
    viewer = as_role("viewer")
    again = promotion_request(version=version, requested_by=people["olga"])
    assert viewer.post(f"/api/v1/controls/approvals/{again.pk}/approve/").status_code == 403
    assert Approval.objects.get(pk=again.pk).decision == "pending"


def test_nobody_decides_their_own_request(as_role):
    operator = as_role("operator", "oscar")
    other = as_role("operator", "opal")
    version = strategy_version_create(
        config=StrategyConfig(strategy="momentum", name="alpha"), created_by=operator.user
    )
    request = promotion_request(version=version, requested_by=operator.user)

    own = operator.post(f"/api/v1/controls/approvals/{request.pk}/approve/")
    theirs = other.post(f"/api/v1/controls/approvals/{request.pk}/approve/")

    assert (own.status_code, own.json()["error"]) == (403, "forbidden")
    assert own.json()["message"].endswith("the requester cannot decide their own request (four-eyes)")
    assert (theirs.status_code, theirs.json()["decision"]) == (200, "approved")
    version.refresh_from_db()
    assert version.stage == "backtest_approved"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/controls/kill-switch/", {"reason": "x"}),
        ("/api/v1/controls/kill-switch/reset/", {"reason": "x"}),
        ("/api/v1/controls/risk-policy/", {"values": {"level": 3}}),
    ],
)
def test_a_viewer_reads_the_controls_but_uses_none(officers, anon, url, body):
    _, _, viewer = officers

    assert viewer.get("/api/v1/controls/trading-states/").status_code == 200
    assert viewer.get("/api/v1/controls/risk-policy/").status_code == 200
    assert viewer.post(url, body).status_code == 403
    assert anon.post(url, body).status_code == 401
    assert not AuditRecord.objects.exists()


def test_the_approvals_list_takes_the_same_queries_for_one_as_for_many(
    api, people, django_assert_num_queries
):
    def ask(n: int) -> None:
        version = strategy_version_create(
            config=StrategyConfig(strategy="momentum", name=f"v{n}"), created_by=people["olga"]
        )
        promotion_request(version=version, requested_by=people["olga"])

    ask(0)
    # the user's roles, the count, the page (with requester and decider)
    with django_assert_num_queries(3):
        assert api.get("/api/v1/controls/approvals/").json()["count"] == 1
    for n in range(1, 20):
        ask(n)
    with django_assert_num_queries(3):
        assert api.get("/api/v1/controls/approvals/").json()["count"] == 20
