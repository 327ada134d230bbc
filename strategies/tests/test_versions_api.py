"""/api/v1/strategies/: versions with the trading state they trade under, their detail, and their
lifecycle actions (promotion, retire, backtest, pause, resume, enable, disable) by role."""

import pytest

from execution.models import TradingSessionRecord
from quantsite.models import AuditRecord
from risk.services import kill_switch_engage
from strategies.core.config import StrategyConfig
from strategies.lifecycle_services import promotion_request, strategy_version_create
from strategies.models import Approval, StrategyVersion

pytestmark = pytest.mark.django_db


def config(name: str, strategy: str = "momentum") -> StrategyConfig:
    return StrategyConfig(strategy=strategy, name=name, universe=["AAA"], parameters={})


def test_the_list_shows_each_version_with_the_state_it_trades_under(api, promoted, people):
    paper = promoted(config("alpha"), "paper")
    draft = strategy_version_create(config=config("beta", "mean_reversion"), created_by=people["olga"])
    kill_switch_engage(reason="drill", by=people["rita"], version=paper, flatten=True)

    listed = api.get("/api/v1/strategies/").json()

    assert listed["count"] == 2
    first, second = listed["results"]
    assert (first["id"], first["name"], first["version"], first["strategy"], first["stage"]) == (
        paper.pk,
        "alpha",
        1,
        "momentum",
        "paper",
    )
    assert (first["enabled"], first["timeframe"], first["universe"], first["created_by"]) == (
        True,
        "1d",
        ["AAA"],
        "olga",
    )
    assert first["trading_state"] == {
        "state": "halted",
        "reason": "drill",
        "flatten_requested": True,
        "platform": "active",
        "effective": "halted",
    }
    assert (second["id"], second["strategy"], second["stage"]) == (draft.pk, "mean_reversion", "draft")
    assert second["trading_state"] == {
        "state": "active",
        "reason": "",
        "flatten_requested": False,
        "platform": "active",
        "effective": "active",
    }


def test_the_list_filters_by_stage_name_strategy_enabled_and_state(api, promoted, people):
    paper = promoted(config("alpha"), "paper")
    draft = strategy_version_create(config=config("beta", "mean_reversion"), created_by=people["olga"])
    StrategyVersion.objects.filter(pk=draft.pk).update(enabled=False)
    kill_switch_engage(reason="drill", by=people["rita"], version=paper)

    def ids(query: str) -> list[int]:
        return [v["id"] for v in api.get(f"/api/v1/strategies/?{query}").json()["results"]]

    assert ids("stage=paper&stage=draft") == [paper.pk, draft.pk]
    assert ids("stage=draft") == [draft.pk]
    assert ids("name=ALPHA") == [paper.pk]
    assert ids("search=et") == [draft.pk]
    assert ids("strategy=mean_reversion") == [draft.pk]
    assert ids("enabled=false") == [draft.pk]
    assert ids("state=halted") == [paper.pk]
    assert ids("state=active") == [draft.pk]
    assert ids("ordering=-name") == [draft.pk, paper.pk]
    assert api.get("/api/v1/strategies/?stage=nowhere").json()["error"] == "invalid_input"


def test_the_detail_has_the_config_its_hash_runs_approvals_and_session(api, promoted, people):
    version = promoted(config("alpha"), "paper")
    request = promotion_request(version=version, requested_by=people["olga"], comment="ready for live")
    TradingSessionRecord.objects.create(
        strategy_version=version, mode="paper", broker="simulated", host="w:1"
    )

    detail = api.get(f"/api/v1/strategies/{version.pk}/").json()

    assert detail["config"] == version.config
    assert (detail["config_hash"], detail["model"], detail["model_hash"]) == (version.config_hash, None, "")
    assert detail["runs"] == []
    assert [(a["id"], a["stage"], a["decision"], a["request_comment"]) for a in detail["approvals"]] == [
        (request.pk, "live_approved", "pending", "ready for live"),
        *[
            (a.pk, a.stage, "approved", "")
            for a in Approval.objects.filter(decision="approved").order_by("-requested_at", "-id")
        ],
    ]
    assert (detail["session"]["mode"], detail["session"]["status"], detail["session"]["host"]) == (
        "paper",
        "running",
        "w:1",
    )
    assert api.get("/api/v1/strategies/12345/").status_code == 404


def test_an_operator_pauses_resumes_disables_and_enables_a_version(api, promoted, user):
    version = promoted(config("alpha"), "paper")
    url = f"/api/v1/strategies/{version.pk}"

    paused = api.post(f"{url}/pause/", {"reason": "earnings"}).json()
    resumed = api.post(f"{url}/resume/").json()
    disabled = api.post(f"{url}/disable/", {"reason": "bad fills"}).json()
    enabled = api.post(f"{url}/enable/").json()

    assert (paused["trading_state"]["state"], paused["trading_state"]["reason"]) == (
        "reducing",
        "paused: earnings",
    )
    assert resumed["trading_state"]["state"] == "active"
    assert (disabled["enabled"], enabled["enabled"]) == (False, True)
    assert list(AuditRecord.objects.filter(actor=user).order_by("id").values_list("action", flat=True)) == [
        "trading_state.set",
        "trading_state.set",
        "strategy_version.disable",
        "strategy_version.enable",
    ]
    not_paused = api.post(f"{url}/resume/")
    assert (not_paused.status_code, not_paused.json()["message"]) == (409, "alpha v1 (paper) is not paused")
    no_reason = api.post(f"{url}/pause/", {})
    assert (no_reason.status_code, no_reason.json()["message"]) == (400, "reason: This field is required.")


def test_an_operator_asks_for_a_promotion_and_retires_a_version(api, people, user):
    version = strategy_version_create(config=config("alpha"), created_by=people["olga"])
    url = f"/api/v1/strategies/{version.pk}"

    asked = api.post(f"{url}/request-promotion/", {"comment": "ready"})
    twice = api.post(f"{url}/request-promotion/")
    retired = api.post(f"{url}/retire/", {"reason": "superseded"})

    assert asked.status_code == 201
    assert (asked.json()["kind"], asked.json()["stage"], asked.json()["requested_by"]) == (
        "promotion",
        "backtest_approved",
        "alice",
    )
    assert (twice.status_code, twice.json()["error"]) == (409, "conflict")
    assert retired.status_code == 200
    assert (retired.json()["stage"], retired.json()["approvals"][0]["decision"]) == ("retired", "voided")


def test_a_version_backtest_runs_its_own_config_once_a_backtest_was_approved(
    api, promoted, people, aaa, artifacts, django_capture_on_commit_callbacks
):
    draft = strategy_version_create(config=config("alpha"), created_by=people["olga"])
    approved = promoted(config("beta"), "backtest_approved")

    refused = api.post(f"/api/v1/strategies/{draft.pk}/backtest/", {})
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(
            f"/api/v1/strategies/{approved.pk}/backtest/", {"start": "2024-01-01", "initial_capital": "10000"}
        )

    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert started.status_code == 202
    run = started.json()
    assert (run["strategy"], run["symbols"], run["status"], run["start"]) == (
        "momentum",
        ["AAA"],
        "queued",  # the task runs once the request's transaction commits
        "2024-01-01T00:00:00Z",
    )
    approved.refresh_from_db()
    assert approved.stage == "backtested"
    runs = api.get(f"/api/v1/strategies/{approved.pk}/").json()["runs"]
    assert [(r["id"], r["status"]) for r in runs] == [(run["id"], "done")]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("request-promotion", {}),
        ("retire", {"reason": "x"}),
        ("backtest", {}),
        ("pause", {"reason": "x"}),
        ("resume", {}),
        ("enable", {}),
        ("disable", {}),
    ],
)
def test_a_viewer_reads_but_acts_on_no_version(as_role, anon, promoted, action, body):
    version = promoted(config("alpha"), "paper")
    viewer = as_role("viewer")

    assert viewer.get(f"/api/v1/strategies/{version.pk}/").status_code == 200
    assert viewer.post(f"/api/v1/strategies/{version.pk}/{action}/", body).status_code == 403
    assert anon.post(f"/api/v1/strategies/{version.pk}/{action}/", body).status_code == 401
    assert not AuditRecord.objects.filter(actor__username="the-viewer").exists()


def test_the_list_takes_the_same_queries_for_one_version_as_for_many(api, people, django_assert_num_queries):
    strategy_version_create(config=config("v0"), created_by=people["olga"])
    # the user's roles, the platform's state, the count, the page (states in it)
    with django_assert_num_queries(4):
        assert api.get("/api/v1/strategies/").json()["count"] == 1
    for n in range(1, 25):
        strategy_version_create(config=config(f"v{n}"), created_by=people["olga"])
    with django_assert_num_queries(4):
        assert api.get("/api/v1/strategies/").json()["count"] == 25
