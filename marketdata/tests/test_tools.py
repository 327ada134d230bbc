"""The data agent's tools: fetching bars through an ingestion run (remembered in the agent's memory),
checking the stored bars' quality and their freshness."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from marketdata.models import IngestionRun, PriceBar, QualityReport

pytestmark = pytest.mark.django_db

Q1 = {"symbol": "aaa", "start_date": "2024-01-01", "end_date": "2024-03-31", "limit": 2}


def test_fetching_ingests_from_the_configured_provider_and_remembers_it(as_role, invoke, memory, settings):
    settings.MARKETDATA_PROVIDER = "synthetic"
    operator = as_role("operator")

    first = invoke(operator, "fetch_historical_data", **Q1).json()["result"]
    again = invoke(operator, "fetch_historical_data", **Q1).json()["result"]

    runs = list(IngestionRun.objects.order_by("id"))
    assert [(r.provider, r.symbols, r.status, r.requested_by.username) for r in runs] == [
        ("synthetic", ["AAA"], "succeeded", "the-operator"),
        ("synthetic", ["AAA"], "succeeded", "the-operator"),
    ]
    sessions = 61  # XNYS sessions of 2024's first quarter
    assert (first["inserted"], first["unchanged"], again["inserted"], again["unchanged"]) == (
        sessions,
        0,
        0,
        sessions,
    )
    assert PriceBar.objects.count() == first["bars_in_range"] == sessions
    newest = PriceBar.objects.order_by("-ts")[:2]
    assert [b["ts"] for b in first["bars"]] == ["2024-03-27T00:00:00Z", "2024-03-28T00:00:00Z"]
    assert [b["close"] for b in first["bars"]] == [str(b.close) for b in reversed(newest)]
    remembered = memory.entries("data")["last_fetch:AAA"]
    assert remembered["value"] == {
        "run": runs[1].pk,
        "provider": "synthetic",
        "status": "succeeded",
        "symbol": "AAA",
        "timeframe": "1d",
        "start_date": "2024-01-01",
        "end_date": "2024-03-31",
        "inserted": 0,
        "updated": 0,
        "unchanged": sessions,
        "rejected": 0,
        "at": runs[1].finished_at.isoformat(),
    }
    read = invoke(as_role("viewer"), "get_agent_memory", agent="data").json()["result"]
    assert read["entries"]["last_fetch:AAA"]["value"] == remembered["value"]
    assert (read["backend"], read["ttl_seconds"]) == ("in-process", settings.AGENT_MEMORY_TTL_SECONDS)


def test_a_fetch_with_the_ends_reversed_is_refused_before_anything_is_stored(as_role, invoke):
    answer = invoke(as_role("operator"), "fetch_historical_data", **{**Q1, "start_date": "2024-04-01"})

    assert (answer.status_code, answer.json()["message"]) == (
        400,
        "end 2024-03-31 is before start 2024-04-01",
    )
    assert not IngestionRun.objects.exists()


def test_validating_the_stored_bars_keeps_a_quality_report(as_role, invoke, aaa, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2025, 1, 2, 12, tzinfo=UTC))  # the bars are fresh
    answer = invoke(as_role("operator"), "validate_data_quality", symbol="AAA").json()["result"]

    assert (answer["ok"], answer["rows_checked"], answer["rows_rejected"], answer["issues"]) == (
        True,
        PriceBar.objects.count(),
        0,
        [],
    )
    assert answer["report"] == QualityReport.objects.filter(run=None).get().pk
    assert (answer["first_ts"], answer["last_ts"]) == ("2023-01-03T00:00:00Z", "2024-12-31T00:00:00Z")
    assert invoke(as_role("operator", "o2"), "validate_data_quality", symbol="ZZZ").status_code == 404


@pytest.mark.parametrize(
    ("now", "expected", "stale"),
    [
        (datetime(2025, 1, 2, 12, tzinfo=UTC), "2024-12-31", False),
        (datetime(2025, 1, 3, 12, tzinfo=UTC), "2025-01-02", True),
    ],
)
def test_freshness_compares_the_last_daily_bar_with_the_last_closed_session(
    as_role, invoke, aaa, monkeypatch, now, expected, stale
):
    monkeypatch.setattr(timezone, "now", lambda: now)

    answer = invoke(as_role("viewer"), "check_data_freshness", symbol="AAA").json()["result"]

    assert answer == {
        "expected": expected,
        "stale": int(stale),
        "instruments": [{"symbol": "AAA", "last_bar": "2024-12-31", "stale": stale}],
    }
