"""The scheduled market-data tasks: the after-close ingestion and the freshness check."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.contrib.auth.models import Group

from marketdata.models import IngestionRun, Instrument, PriceBar
from marketdata.services import ingestion_run_create, ingestion_run_execute
from marketdata.tasks import check_data_freshness_task, ingest_universe_task
from quantsite.events import InProcessBus

pytestmark = pytest.mark.django_db

TUESDAY_NIGHT = datetime(2024, 1, 9, 23, 0, tzinfo=UTC)


def ingest(symbol: str, start: datetime, end: datetime) -> None:
    run = ingestion_run_create(provider="synthetic", symbols=[symbol], timeframe="1d", start=start, end=end)
    ingestion_run_execute(run=run)


def test_universe_ingestion_brings_every_active_symbol_to_the_last_session(
    settings, django_capture_on_commit_callbacks
):
    settings.MARKETDATA_PROVIDER = "synthetic"
    ingest("AAA", datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 5, 23, 59, tzinfo=UTC))
    ingest("BBB", datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 8, 23, 59, tzinfo=UTC))
    Instrument.objects.create(symbol="OLD", active=False)

    with (
        mock.patch("marketdata.tasks.timezone.now", return_value=TUESDAY_NIGHT),
        django_capture_on_commit_callbacks(execute=True),  # the run is queued once its row is committed
    ):
        run_id = ingest_universe_task.apply().get()

    run = IngestionRun.objects.get(pk=run_id)
    assert (run.symbols, f"{run.start:%Y-%m-%d}", f"{run.end:%Y-%m-%d}") == (
        ["AAA", "BBB"],
        "2024-01-05",
        "2024-01-09",
    )
    assert (run.status, run.rows_inserted, run.rows_unchanged) == ("succeeded", 3, 3)
    assert sorted(PriceBar.objects.values_list("instrument__symbol", "ts__day")) == [
        ("AAA", d) for d in (2, 3, 4, 5, 8, 9)
    ] + [("BBB", d) for d in (2, 3, 4, 5, 8, 9)]


def test_freshness_check_names_stale_symbols_and_publishes_an_event():
    ingest("AAA", datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 9, 23, 59, tzinfo=UTC))
    ingest("BBB", datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 5, 23, 59, tzinfo=UTC))
    bus, events = InProcessBus(), []
    bus.subscribe("data.stale", lambda channel, payload: events.append(payload))

    with (
        mock.patch("marketdata.tasks.timezone.now", return_value=TUESDAY_NIGHT),
        mock.patch("marketdata.tasks.event_bus", return_value=bus),
    ):
        stale = check_data_freshness_task.apply().get()

    assert stale == ["BBB"]
    assert events == [{"symbols": ["BBB"]}]


def test_roles_exist_as_groups():
    assert sorted(Group.objects.values_list("name", flat=True)) == [
        "admin",
        "operator",
        "risk_officer",
        "viewer",
    ]
