"""Ingestion service: validate then load, idempotent re-runs, corrections, nothing lost."""

from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection

from marketdata.choices import RunStatus
from marketdata.core.bars import Timeframe, bar_frame
from marketdata.core.errors import InvalidInput
from marketdata.models import IngestionRun, Instrument, PriceBar, QualityReport
from marketdata.services import bars_upsert, ingestion_run_create, ingestion_run_execute

pytestmark = pytest.mark.django_db

GOOD = """Date,Open,High,Low,Close,Volume
2024-01-02,100,101,99,100.5,1000
2024-01-03,100.5,102,100,101.25,1200
2024-01-04,101.25,103,101,102,900
"""


def csv_run(path, symbol="GOOG"):
    run = ingestion_run_create(provider="csv", symbols=[symbol], timeframe="1d", params={"path": str(path)})
    return ingestion_run_execute(run=run)


def stored(symbol="GOOG"):
    return list(
        PriceBar.objects.filter(instrument__symbol=symbol)
        .order_by("ts")
        .values_list("ts", "open", "high", "low", "close", "volume")
    )


def test_csv_rows_are_stored_as_exact_decimals(tmp_path):
    path = tmp_path / "goog.csv"
    path.write_text(GOOD)

    run = csv_run(path)

    assert (run.status, run.rows_inserted, run.rows_updated, run.rows_rejected) == (
        RunStatus.SUCCEEDED,
        3,
        0,
        0,
    )
    assert stored()[1] == (
        datetime(2024, 1, 3, tzinfo=UTC),
        Decimal("100.5"),
        Decimal("102"),
        Decimal("100"),
        Decimal("101.25"),
        Decimal("1200"),
    )
    assert PriceBar.objects.get(ts=datetime(2024, 1, 3, tzinfo=UTC)).source == "csv"


def test_ingesting_the_same_file_twice_adds_no_rows(tmp_path):
    path = tmp_path / "goog.csv"
    path.write_text(GOOD)
    csv_run(path)

    again = csv_run(path)

    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 3)
    assert PriceBar.objects.count() == 3


def test_a_corrected_bar_updates_and_the_others_stay(tmp_path):
    path = tmp_path / "goog.csv"
    path.write_text(GOOD)
    csv_run(path)
    path.write_text(GOOD.replace("100.5,102,100,101.25,1200", "100.5,102,100,101.75,1250"))

    run = csv_run(path)

    assert (run.rows_inserted, run.rows_updated, run.rows_unchanged) == (0, 1, 2)
    assert [(row[4], row[5]) for row in stored()] == [
        (Decimal("100.5"), Decimal("1000")),
        (Decimal("101.75"), Decimal("1250")),
        (Decimal("102"), Decimal("900")),
    ]


def test_bad_rows_are_rejected_with_reasons_and_good_rows_beside_them_load(tmp_path):
    path = tmp_path / "goog.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,100,101,99,100.5,1000\n"
        "2024-01-03,100.5,102,100,abc,1200\n"
        "2024-01-04,101,100,102,101,900\n"
        "2024-01-05,101,103,100,102,-5\n"
        "2024-01-08,102,103,101,102.5,800\n"
    )

    run = csv_run(path)

    assert (run.status, run.rows_inserted, run.rows_rejected) == (RunStatus.PARTIAL, 2, 3)
    report = QualityReport.objects.get(run=run)
    assert report.rejected == [
        {"row": 3, "ts": "2024-01-03", "reason": "close is not a number: 'abc'"},
        {"row": 4, "ts": "2024-01-04T00:00:00+00:00", "reason": "high 100 is below low 102"},
        {"row": 5, "ts": "2024-01-05T00:00:00+00:00", "reason": "volume is negative (-5)"},
    ]
    assert [row[0].day for row in stored()] == [2, 8]


def test_a_bad_reingest_loses_nothing_already_stored(tmp_path):
    path = tmp_path / "goog.csv"
    path.write_text(GOOD)
    csv_run(path)
    path.write_text("Date,Open,High,Low,Close,Volume\n2024-01-03,100.5,102,100,NaN,1200\n")

    with pytest.raises(InvalidInput, match=r"no valid rows to load \(1 rejected\)"):
        csv_run(path)

    run = IngestionRun.objects.latest("pk")
    assert (run.status, run.error) == (RunStatus.FAILED, "no valid rows to load (1 rejected)")
    assert stored()[1][4] == Decimal("101.25")
    assert PriceBar.objects.count() == 3


def test_synthetic_run_creates_instruments_and_reports_per_symbol():
    run = ingestion_run_create(
        provider="synthetic",
        symbols=["aaa", "BBB"],
        timeframe="1d",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 1, 31, 23, 59, tzinfo=UTC),
        params={"seed": 7},
    )

    ingestion_run_execute(run=run)

    run.refresh_from_db()
    assert run.symbols == ["AAA", "BBB"]
    assert (run.status, run.rows_inserted) == (RunStatus.SUCCEEDED, 2 * 21)
    assert list(Instrument.objects.values_list("symbol", "asset_class", "exchange")) == [
        ("AAA", "equity", "XNYS"),
        ("BBB", "equity", "XNYS"),
    ]
    assert [(r.instrument.symbol, r.rows_checked, r.issues) for r in run.reports.order_by("pk")] == [
        ("AAA", 21, []),
        ("BBB", 21, []),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"provider": "yahoo", "symbols": ["A"], "timeframe": "1d"}, "unknown provider 'yahoo'"),
        ({"provider": "synthetic", "symbols": [], "timeframe": "1d"}, "no symbols given"),
        ({"provider": "synthetic", "symbols": ["A"], "timeframe": "2d"}, "unknown timeframe '2d'"),
        ({"provider": "synthetic", "symbols": ["A"], "timeframe": "1d"}, "needs a start and an end"),
        ({"provider": "csv", "symbols": ["A"], "timeframe": "1d"}, "the csv provider needs a path"),
    ],
)
def test_invalid_run_requests_are_refused_before_anything_is_stored(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        ingestion_run_create(**kwargs)

    assert IngestionRun.objects.count() == 0


def test_upsert_counts_inserts_updates_and_unchanged_in_one_batch():
    instrument = Instrument.objects.create(symbol="XYZ")
    ts = [datetime(2024, 1, d, tzinfo=UTC) for d in (2, 3)]
    bars_upsert(
        instrument=instrument,
        timeframe=Timeframe.D1,
        bars=bar_frame(ts, [10, 11], [12, 12], [9, 10], [11, 11.5], [100, 200]),
        source="test",
    )

    counts = bars_upsert(
        instrument=instrument,
        timeframe=Timeframe.D1,
        bars=bar_frame(
            [*ts, datetime(2024, 1, 4, tzinfo=UTC)],
            [10, 11, 12],
            [12, 12, 13],
            [9, 10, 11],
            [11, 11.25, 12.5],
            [100, 200, 300],
        ),
        source="test",
    )

    assert (counts.inserted, counts.updated, counts.unchanged) == (1, 1, 1)
    assert list(PriceBar.objects.order_by("ts").values_list("close", flat=True)) == [
        Decimal("11"),
        Decimal("11.25"),
        Decimal("12.5"),
    ]


def stage_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('pg_temp.marketdata_bar_stage') IS NOT NULL")
        return cursor.fetchone()[0]


def minute_bars(closes, volumes=None):
    ts = [datetime(2024, 1, 2, 14, 30 + i, tzinfo=UTC) for i in range(len(closes))]
    volumes = volumes or [100.0] * len(closes)
    return bar_frame(ts, closes, [c + 1 for c in closes], [c - 1 for c in closes], closes, volumes)


@pytest.mark.postgres
def test_postgres_copies_new_bars_straight_in_with_exact_decimals():
    instrument = Instrument.objects.create(symbol="XYZ")
    bars = minute_bars([10.01, 123456.12345678, 1.00000001], [1.5, 987654.12345678, 98765432109])

    counts = bars_upsert(instrument=instrument, timeframe=Timeframe.M1, bars=bars, source="test")

    assert (counts.inserted, counts.updated, counts.unchanged) == (3, 0, 0)
    assert not stage_exists()
    assert list(PriceBar.objects.order_by("ts").values_list("close", "volume", "timeframe", "source")) == [
        (Decimal("10.01000000"), Decimal("1.50000000"), "1m", "test"),
        (Decimal("123456.12345678"), Decimal("987654.12345678"), "1m", "test"),
        (Decimal("1.00000001"), Decimal("98765432109.00000000"), "1m", "test"),
    ]


@pytest.mark.postgres
def test_postgres_reloads_through_staging_and_one_upsert(django_assert_max_num_queries):
    instrument = Instrument.objects.create(symbol="XYZ")
    bars_upsert(instrument=instrument, timeframe=Timeframe.M1, bars=minute_bars([10, 11, 12]), source="test")

    with django_assert_max_num_queries(7) as captured:
        counts = bars_upsert(
            instrument=instrument, timeframe=Timeframe.M1, bars=minute_bars([10, 11.5, 12, 13]), source="test"
        )

    assert (counts.inserted, counts.updated, counts.unchanged) == (1, 1, 2)
    assert (
        sum("ON CONFLICT (instrument_id, timeframe, ts)" in q["sql"] for q in captured.captured_queries) == 1
    )
    assert stage_exists()
    assert list(PriceBar.objects.order_by("ts").values_list("close", flat=True)) == [
        Decimal("10"),
        Decimal("11.5"),
        Decimal("12"),
        Decimal("13"),
    ]


@pytest.mark.postgres
def test_postgres_falls_back_to_the_upsert_when_a_concurrent_load_stored_the_bars_first(monkeypatch):
    instrument = Instrument.objects.create(symbol="XYZ")
    bars_upsert(instrument=instrument, timeframe=Timeframe.M1, bars=minute_bars([10, 11]), source="test")
    # As if the rows arrived between the existence check and the COPY.
    monkeypatch.setattr(
        "marketdata.services._ANY_STORED_SQL", "SELECT %s < 0 AND %s IS NULL AND %s IS NULL AND %s IS NULL"
    )

    counts = bars_upsert(
        instrument=instrument, timeframe=Timeframe.M1, bars=minute_bars([10, 11]), source="t"
    )

    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 2)
    assert PriceBar.objects.count() == 2


def test_an_unexpected_failure_is_recorded_on_the_run(monkeypatch):
    run = ingestion_run_create(
        provider="synthetic",
        symbols=["AAA"],
        timeframe="1d",
        start=datetime(2024, 1, 2, tzinfo=UTC),
        end=datetime(2024, 1, 5, tzinfo=UTC),
    )
    monkeypatch.setattr("marketdata.services.bars_upsert", mock.Mock(side_effect=OSError("disk full")))

    with pytest.raises(OSError, match="disk full"):
        ingestion_run_execute(run=run)

    run.refresh_from_db()
    assert (run.status, run.error) == (RunStatus.FAILED, "OSError: disk full")
    assert PriceBar.objects.count() == 0
