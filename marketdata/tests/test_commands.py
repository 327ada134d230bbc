"""The market data CLI: what it prints, and its exit codes."""

from datetime import UTC, datetime
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from marketdata.core.errors import RateLimited
from marketdata.core.providers.synthetic import SyntheticProvider
from marketdata.models import IngestionRun, PriceBar, QualityReport
from marketdata.services import ingestion_run_create
from marketdata.tasks import ingest_bars_task

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_ingest_synthetic_prints_counts():
    out = run(
        "ingest",
        "--provider",
        "synthetic",
        "--symbols",
        "AAA,BBB",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-31",
        "--seed",
        "7",
    )

    pk = IngestionRun.objects.get().pk
    assert out.splitlines()[0] == f"ingestion run #{pk}: synthetic 1d 2024-01-01..2024-01-31, 2 symbol(s)"
    assert out.splitlines()[1].startswith("inserted 42  updated 0  unchanged 0  rejected 0  in ")
    assert out.splitlines()[1].endswith("s  (succeeded)")


def test_ingest_csv_prints_the_first_rejected_rows_and_loads_the_rest(tmp_path):
    path = tmp_path / "goog.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,0.5,NaN,10\n")

    out = run("ingest", "--provider", "csv", "--path", str(path), "--symbol", "GOOG")

    assert "rejected rows (first 1 of 1):" in out
    assert "  GOOG row 3 (2024-01-03T00:00:00+00:00): close is NaN" in out
    assert PriceBar.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "bloomberg", "--symbols", "A", "--years", "1"], "unknown provider 'bloomberg'"),
        (["--provider", "synthetic", "--symbols", "A"], "give --start or --years"),
        (
            ["--provider", "synthetic", "--symbols", "A", "--start", "01/02/2024"],
            "--start '01/02/2024' is not a date",
        ),
        (["--provider", "alpaca", "--symbols", "AAPL", "--years", "1"], "Alpaca keys are not set"),
    ],
)
def test_ingest_refuses_bad_requests_with_one_line(args, message, settings):
    settings.ALPACA_API_KEY = settings.ALPACA_API_SECRET = ""

    with pytest.raises(CommandError, match=message):
        run("ingest", *args)

    assert PriceBar.objects.count() == 0


def test_ingest_of_a_file_with_no_valid_row_fails(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,-1,10\n")

    with pytest.raises(CommandError, match=r"no valid rows to load \(1 rejected\)"):
        run("ingest", "--provider", "csv", "--path", str(path), "--symbol", "BAD")


def test_ingest_of_an_unreadable_file_fails(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    with pytest.raises(CommandError, match="not a CSV or Parquet file"):
        run("ingest", "--provider", "csv", "--path", str(path), "--symbol", "IMG")


def test_data_quality_checks_stored_bars_and_keeps_the_report():
    run(
        "ingest",
        "--provider",
        "synthetic",
        "--symbols",
        "AAA",
        "--start",
        "2024-01-01",
        "--end",
        "2024-03-28",
    )

    with mock.patch("marketdata.services.timezone.now", return_value=datetime(2024, 3, 29, 12, tzinfo=UTC)):
        out = run("data_quality", "--symbol", "AAA")

    assert out.splitlines() == [
        "AAA      1d          61 bars  2024-01-02..2024-03-28  ok",
        "data quality: 1 of 1 instrument(s) clean",
    ]
    assert QualityReport.objects.filter(run=None).count() == 1


def test_data_quality_reports_stale_data():
    run(
        "ingest",
        "--provider",
        "synthetic",
        "--symbols",
        "AAA",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-31",
    )

    with mock.patch("marketdata.services.timezone.now", return_value=datetime(2024, 3, 29, 12, tzinfo=UTC)):
        out = run("data_quality")

    assert (
        out.splitlines()[1]
        == "    last bar is on 2024-01-31, older than the last closed session 2024-03-28 (e.g. 2024-01-31)"
    )


def test_data_quality_of_an_unknown_symbol_fails():
    with pytest.raises(CommandError, match="unknown symbol 'NOPE'"):
        run("data_quality", "--symbol", "NOPE")


def test_ingest_task_retries_a_provider_error_and_is_idempotent_once_done():
    ingestion = ingestion_run_create(
        provider="synthetic",
        symbols=["AAA"],
        timeframe="1d",
        start=datetime(2024, 1, 2, tzinfo=UTC),
        end=datetime(2024, 1, 5, tzinfo=UTC),
    )
    calls = []
    real_fetch = SyntheticProvider.fetch_bars

    def flaky(self, *args):
        calls.append(1)
        if len(calls) == 1:
            raise RateLimited("slow down")
        return real_fetch(self, *args)

    with mock.patch("marketdata.core.providers.synthetic.SyntheticProvider.fetch_bars", flaky):
        # Eager apply() runs the retry at once instead of after the back-off a worker would wait.
        ingest_bars_task.apply(args=[ingestion.pk], throw=False)
        ingest_bars_task.apply(args=[ingestion.pk], throw=False)

    ingestion.refresh_from_db()
    assert (ingestion.status, ingestion.rows_inserted, len(calls)) == ("succeeded", 4, 2)
