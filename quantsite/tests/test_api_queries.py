"""Every list of the API reads the same number of queries for one row as for many (no query per
row); the lists of the new endpoints assert theirs beside their own tests."""

from datetime import UTC, datetime

import pytest

from backtests.models import BacktestRun, WalkForwardRun
from marketdata.models import Instrument
from risk.services import kill_switch_engage
from strategies.core.config import StrategyConfig
from strategies.lifecycle_services import promotion_request, strategy_version_create
from strategies.models import Approval, StrategyVersion, TrainedModel

pytestmark = pytest.mark.django_db

TS = datetime(2024, 1, 2, tzinfo=UTC)


def instruments(n: int, user) -> None:
    Instrument.objects.bulk_create(
        Instrument(symbol=f"Q{i:04d}") for i in range(Instrument.objects.count(), n)
    )


def runs(n: int, user) -> None:
    for _ in range(n - BacktestRun.objects.count()):
        BacktestRun.objects.create(strategy="momentum", symbols=["AAA"], timeframe="1d", requested_by=user)
        WalkForwardRun.objects.create(
            strategy="momentum", symbols=["AAA"], timeframe="1d", chunk_size=10, requested_by=user
        )


def models(n: int, user) -> None:
    for i in range(TrainedModel.objects.count(), n):
        TrainedModel.objects.create(
            model_type="logistic_regression",
            feature_set="default",
            feature_set_version="abc",
            label="fixed:5:0.02:2",
            symbols=["AAA"],
            timeframe="1d",
            training_start=TS,
            training_end=TS,
            rows=100 + i,
            validation="purged-kfold:3",
            artifact_path="none",
            content_hash=f"h{i}",
        )


def halted_versions(n: int, user) -> None:
    for i in range(StrategyVersion.objects.count(), n):
        version = strategy_version_create(
            config=StrategyConfig(strategy="momentum", name=f"h{i}"), created_by=user
        )
        kill_switch_engage(reason="drill", by=user, version=version)


CASES = [
    # the user's roles, the count, the page
    ("/api/v1/instruments/", instruments, 3),
    # the user's roles, the count of both kinds, the page of both kinds, each kind's runs in bulk
    # (with their requesters; walk-forwards with their jobs done)
    ("/api/v1/runs/", runs, 5),
    ("/api/v1/walkforwards/", runs, 3),
    ("/api/v1/models/", models, 3),
    # the user's roles, the states, their versions' names
    ("/api/v1/controls/trading-states/", halted_versions, 3),
]


@pytest.mark.parametrize(("url", "make", "queries"), CASES, ids=[c[0] for c in CASES])
def test_a_list_takes_as_many_queries_for_one_row_as_for_many(
    api, user, django_assert_num_queries, url, make, queries
):
    make(1, user)
    with django_assert_num_queries(queries):
        assert api.get(url).status_code == 200
    make(30, user)
    with django_assert_num_queries(queries):
        assert api.get(url).status_code == 200


def test_a_version_detail_takes_as_many_queries_with_many_runs_and_approvals(
    api, people, django_assert_num_queries
):
    version = strategy_version_create(
        config=StrategyConfig(strategy="momentum", name="alpha"), created_by=people["olga"]
    )
    # the user's roles, the version (with its state), the platform's state, its runs, its approvals
    # (with requester and decider), its latest session
    with django_assert_num_queries(6):
        assert api.get(f"/api/v1/strategies/{version.pk}/").json()["runs"] == []
    for _ in range(10):
        BacktestRun.objects.create(
            strategy="momentum", symbols=["AAA"], timeframe="1d", strategy_version=version
        )
        promotion_request(version=version, requested_by=people["olga"])
        Approval.objects.filter(decision="pending").update(decision="rejected")  # the next may be asked
    with django_assert_num_queries(6):
        detail = api.get(f"/api/v1/strategies/{version.pk}/").json()
    assert (len(detail["runs"]), len(detail["approvals"])) == (10, 10)
