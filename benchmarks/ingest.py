"""Ingestion speed: 1,000,000 synthetic 1-minute bars into PostgreSQL, three ways, one run.

1. the ingestion service (validate, binary COPY into staging, one INSERT ... ON CONFLICT), then
   the same rows again (the idempotent no-op re-ingest);
2. a plain binary COPY of the same rows into an empty table without indexes (the ceiling);
3. Django's bulk_create of the same rows (in 50,000-row chunks, as memory allows).

Run with `make bench`; needs PostgreSQL (BENCH_DATABASE_URL, default postgres://root@127.0.0.1:5432/quant_bench).
"""

import os
import resource
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

import psycopg

BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/quant_bench")
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
BULK_CHUNK = 50_000


PRODUCTION = {
    "DATABASE_URL": BENCH_URL,
    "LOG_LEVEL": "WARNING",
    "DEBUG": "false",  # as deployed: no query log, no debug pages
    "SECRET_KEY": "bench-only-secret-key-not-for-use-anywhere-else-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
}


def django_setup(**environ: str) -> None:
    """Django set up as it runs deployed (PRODUCTION), on the benchmark database (created when
    missing); environ adds to the environment (the benchmark's own settings, another database)."""
    environ = PRODUCTION | environ
    ensure_database(environ["DATABASE_URL"])
    os.environ.update(environ)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")
    import django

    django.setup()


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def synthetic_daily_stored(symbols: list[str], start: datetime, end: datetime) -> dict:
    """Seeded synthetic daily bars (seed 7) of the symbols, stored through the ingestion service
    (Django set up) and read back as BarFrames."""
    from marketdata.core.bars import Timeframe
    from marketdata.selectors import stored_bars_get
    from marketdata.services import ingestion_run_create, ingestion_run_execute

    run = ingestion_run_create(
        provider="synthetic", symbols=symbols, timeframe="1d", start=start, end=end, params={"seed": 7}
    )
    ingestion_run_execute(run=run)
    return stored_bars_get(symbols=symbols, timeframe=Timeframe.D1, start=None, end=None)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    django_setup()
    from django.core.management import call_command
    from django.db import connection

    from marketdata.core.bars import RawBars, Timeframe
    from marketdata.core.providers.base import DataProvider
    from marketdata.core.providers.synthetic import SyntheticProvider
    from marketdata.models import Instrument, PriceBar
    from marketdata.services import copy_binary, copy_rows, ingestion_run_create, ingestion_run_execute

    call_command("migrate", verbosity=0)

    def empty_bars_table() -> None:
        # TRUNCATE, not DELETE: dead rows left in the indexes would slow the next load down.
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE marketdata_pricebar")

    empty_bars_table()

    started = time.perf_counter()
    raw = SyntheticProvider(seed=7).fetch_bars(
        "BENCH", datetime(2015, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), Timeframe.M1
    )
    raw.frame = raw.frame.iloc[:ROWS]
    n = len(raw.frame)
    print(f"generated {n:,} synthetic 1m bars in {time.perf_counter() - started:.1f} s (not timed below)")

    class Preloaded(DataProvider):
        name = "synthetic"

        def fetch_bars(self, symbol, start, end, timeframe) -> RawBars:
            return RawBars(symbol, timeframe, raw.frame.copy())

    def service_run():
        run = ingestion_run_create(
            provider="synthetic",
            symbols=["BENCH"],
            timeframe="1m",
            start=raw.frame.ts.iloc[0],
            end=raw.frame.ts.iloc[-1],
        )
        t = time.perf_counter()
        run = ingestion_run_execute(run=run, provider=Preloaded())
        return time.perf_counter() - t, run

    first_s, first = service_run()
    assert first.rows_inserted == n, first.rows_inserted
    service_rss = peak_rss_mb()
    again_s, again = service_run()
    assert (again.rows_inserted, again.rows_unchanged) == (0, n)

    bars = raw.frame.set_index("ts")[["open", "high", "low", "close", "volume"]]
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_copy")
        cursor.execute(
            "CREATE TABLE bench_plain_copy (instrument_id bigint, timeframe varchar(3), ts timestamptz, "
            "open numeric(20, 8), high numeric(20, 8), low numeric(20, 8), close numeric(20, 8), "
            "volume numeric(28, 8), source varchar(32), ingested_at timestamptz)"
        )
        t = time.perf_counter()
        copy_binary(
            cursor,
            "bench_plain_copy",
            (
                copy_rows(1, Timeframe.M1, bars.iloc[b : b + 200_000], "bench", now)
                for b in range(0, n, 200_000)
            ),
        )
        copy_s = time.perf_counter() - t
        cursor.execute("SELECT count(*) FROM bench_plain_copy")
        assert cursor.fetchone()[0] == n
        cursor.execute("DROP TABLE bench_plain_copy")

    other, _ = Instrument.objects.get_or_create(symbol="BENCHORM")
    t = time.perf_counter()
    for begin in range(0, n, BULK_CHUNK):
        chunk = bars.iloc[begin : begin + BULK_CHUNK]
        PriceBar.objects.bulk_create(
            [
                PriceBar(
                    instrument=other,
                    timeframe="1m",
                    ts=ts.to_pydatetime(),
                    open=Decimal(repr(o)),
                    high=Decimal(repr(h)),
                    low=Decimal(repr(lo)),
                    close=Decimal(repr(c)),
                    volume=Decimal(repr(v)),
                    source="bench",
                    ingested_at=now,
                )
                for ts, o, h, lo, c, v in chunk.itertuples(name=None)
            ],
            batch_size=5_000,
        )
    bulk_s = time.perf_counter() - t
    assert PriceBar.objects.filter(instrument=other).count() == n
    empty_bars_table()

    rate = {
        name: n / s
        for name, s in [("service", first_s), ("reingest", again_s), ("copy", copy_s), ("bulk", bulk_s)]
    }
    print(f"\n{'path':<44}{'seconds':>9}{'rows/s':>12}")
    print(f"{'ingestion service (validate + COPY + upsert)':<44}{first_s:>9.2f}{rate['service']:>12,.0f}")
    print(f"{'ingestion service, same rows again (no-op)':<44}{again_s:>9.2f}{rate['reingest']:>12,.0f}")
    print(f"{'plain binary COPY into an empty table':<44}{copy_s:>9.2f}{rate['copy']:>12,.0f}")
    print(f"{'Django bulk_create':<44}{bulk_s:>9.2f}{rate['bulk']:>12,.0f}")
    print(
        f"\nservice / bulk_create: {rate['service'] / rate['bulk']:.1f}x   "
        f"service / plain COPY: {rate['service'] / rate['copy']:.2f}x"
    )
    print(
        f"peak memory after the service runs: {service_rss:,.0f} MB (whole process: {peak_rss_mb():,.0f} MB)"
    )
    ok = rate["service"] >= 150_000 and rate["service"] >= 5 * rate["bulk"] and service_rss < 1536
    print("targets (>= 150,000 rows/s, >= 5x bulk_create, < 1.5 GB):", "met" if ok else "NOT met")
    sys.exit(0)


if __name__ == "__main__":
    main()
