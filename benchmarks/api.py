"""The read API under load on PostgreSQL, one run: wrk (Debian's package) against gunicorn (as
deployed, quantsite/gunicorn.conf.py, with 4 sync workers) serving /api/v1/metrics/summary/ and
/api/v1/positions/ with 200 open positions (20 paper strategy versions of 10 symbols each) and
50,000 fills stored in a database of its own, 50 connections for 15 s each, a viewer's token.
Requests per second and the latency distribution (p50, p99) as wrk reports them: first as deployed
(the read cache of quantsite.read_cache with its default period of 1 s, in Redis), then with it off
(every request computed).

Target: p99 under 100 ms at 50 concurrent connections. Run with `make bench`; needs PostgreSQL
(BENCH_DATABASE_URL; its database is that name with "_api"), Redis (BENCH_REDIS_URL), gunicorn
(requirements.txt) and wrk (`apt-get install -y wrk`).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from benchmarks.ingest import BENCH_URL, django_setup

VERSIONS, SYMBOLS, FILLS = 20, 10, 50_000
PORT = int(os.environ.get("BENCH_API_PORT", "8765"))
# A database of its own: the book is exactly the one described, whatever other benchmarks left.
API_URL = BENCH_URL + "_api"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKERS = int(os.environ.get("BENCH_API_WORKERS", "4"))
CONFIG = Path(__file__).resolve().parent.parent / "quantsite" / "gunicorn.conf.py"


def seed() -> str:
    """The book (once per database: a second run reuses it) and a viewer's token."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from execution.models import Fill, Order, Position, TradingAccount
    from marketdata.core.bars import bar_frame
    from marketdata.services import bars_upsert, instrument_ensure
    from monitoring.snapshot_services import metric_snapshots_take
    from quantsite.roles import VIEWER
    from strategies.models import StrategyVersion

    call_command("migrate", verbosity=0)
    viewer, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    viewer.groups.add(Group.objects.get(name=VIEWER))
    token, _ = Token.objects.get_or_create(user=viewer)
    if StrategyVersion.objects.filter(name__startswith="bench-api-").count() >= VERSIONS:
        return token.key
    symbols = [f"API{k:02d}" for k in range(SYMBOLS)]
    day = datetime(2024, 12, 31, 21, tzinfo=UTC)
    for n, symbol in enumerate(symbols):
        price = 50.0 + n
        bars_upsert(
            instrument=instrument_ensure(symbol=symbol),
            timeframe="1d",
            bars=bar_frame([day], [price], [price + 1], [price - 1], [price], [1e6]),
            source="bench",
        )
    per_version = FILLS // VERSIONS
    for v in range(VERSIONS):
        config = {"strategy": "momentum", "name": f"bench-api-{v}", "universe": symbols, "timeframe": "1d"}
        version = StrategyVersion.objects.create(
            name=f"bench-api-{v}", version=1, config=config, config_hash=f"{v:064d}", stage="paper"
        )
        TradingAccount.objects.create(
            strategy_version=version, mode="paper", broker="simulated", initial_capital=100_000, cash=50_000
        )
        orders = Order.objects.bulk_create(
            Order(
                client_order_id=f"bench-api-{v}-{k}",
                strategy_version=version,
                mode="paper",
                broker="simulated",
                symbol=symbols[k % SYMBOLS],
                side="buy" if k % 2 == 0 else "sell",
                qty=Decimal(10),
                status="filled",
                filled_qty=Decimal(10),
                avg_fill_price=Decimal(50),
                signal=f"bench {k}",
            )
            for k in range(per_version)
        )
        Fill.objects.bulk_create(
            Fill(
                order=order,
                execution_id=f"x{order.pk}",
                qty=Decimal(10),
                notional=Decimal(500),
                price=Decimal(50),
                ts=day - timedelta(minutes=k),
            )
            for k, order in enumerate(orders)
        )
        Position.objects.bulk_create(
            Position(strategy_version=version, mode="paper", symbol=s, qty=Decimal(10), avg_price=Decimal(50))
            for s in symbols
        )
    metric_snapshots_take(now=datetime.now(UTC))
    return token.key


def wrk(url: str, token: str) -> str:
    result = subprocess.run(
        ["wrk", "-t2", "-c50", "-d15s", "--latency", "-H", f"Authorization: Token {token}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def summary(path: str, out: str) -> str:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
    p50 = re.search(r"50%\s+(\S+)", out).group(1)
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = f", {errors.group(1)} non-2xx" if errors else ""
    return f"GET {path}: {float(rate):,.0f} requests/s, p50 {p50}, p99 {p99} (wrk, 50 connections, 15 s{bad})"


def served(token: str, read_cache_seconds: str) -> None:
    """gunicorn with the read cache's period (API_READ_CACHE_SECONDS), each endpoint under wrk."""
    environ = {**os.environ, "API_READ_CACHE_SECONDS": read_cache_seconds}
    command = ["gunicorn", "-c", str(CONFIG), "-b", f"127.0.0.1:{PORT}", "-w", str(WORKERS)]
    server = subprocess.Popen([sys.executable, "-m", *command, "--log-level", "warning"], env=environ)
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{PORT}/healthz")
        for _ in range(100):
            try:
                urllib.request.urlopen(request, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        label = f"read cache {read_cache_seconds} s" if float(read_cache_seconds) else "read cache off"
        for path in ("/api/v1/metrics/summary/", "/api/v1/positions/"):
            print(f"{summary(path, wrk(f'http://127.0.0.1:{PORT}{path}', token))} [{label}]", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    django_setup(DATABASE_URL=API_URL, REDIS_URL=REDIS_URL)  # the cache in Redis, as deployed
    token = seed()
    served(token, "1")  # as deployed by default
    served(token, "0")  # every request computed


if __name__ == "__main__":
    main()
