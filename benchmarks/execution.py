"""Execution speed on PostgreSQL, one run:

1. Orders per second through the full path of a trading session on paper: at each bar the strategy
   (10 symbols, each bought or sold every bar) signals, the risk manager checks each order (the
   default policy), the OMS stores it (one statement, committed before it is sent) and sends it to
   the paper broker, which fills it; at the bar's end the fills are applied in one transaction
   (Fill rows, orders, positions, cash, audit rows). Per order: the latency from its risk check to
   the broker's answer, and to its fill stored; median and p99. First one session alone, then
   BENCH_SESSIONS sessions (default 2, one per core) at once, each in its own process as trading
   workers run them: orders of all of them over the time from the first start to the last end.
2. Bar-to-order latency of the trading loop over Redis: a new bar is stored and its ingestion
   announced on the Redis event bus; a trading session in another thread wakes, reads the new bar
   from the database, runs the strategy over the bars so far, checks and sends its order. From the
   announcement to the order's fill stored; median and p99.

Targets: at least 500 orders/s, p99 bar-to-order under 50 ms. Run with `make bench`; needs
PostgreSQL (BENCH_DATABASE_URL) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/0, and
BENCH_BROKER_URL, default redis://127.0.0.1:6379/8).
"""

import multiprocessing
import os
import queue
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from benchmarks.ingest import django_setup

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# Tasks the sessions ask for (metric snapshots after fills) go to a broker, as deployed; no worker
# takes them here, and the database is emptied at each start.
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/8")
ORDERS = int(os.environ.get("BENCH_ORDERS", "3000"))
SYMBOLS = 10
BARS = int(os.environ.get("BENCH_LIVE_BARS", "200"))
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "2"))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def setup() -> None:
    """Django set up, and the benchmark's strategy registered (in each process)."""
    django_setup(REDIS_URL=REDIS_URL, CELERY_BROKER_URL=BROKER_URL)
    from strategies.core.base import SIGNAL_FLAT, SIGNAL_LONG
    from strategies.core.builtin import ArraySignalStrategy
    from strategies.core.registry import register

    @register
    class Alternate(ArraySignalStrategy):
        """Long on even bars, out on odd ones: an order for each symbol at every bar."""

        name = "bench_alternate"

        def signal_codes(self, data, config):
            return np.where(np.arange(len(data)) % 2 == 0, SIGNAL_LONG, SIGNAL_FLAT).astype(np.int8)


def paper_version(config):
    """A strategy version of config, approved for paper trading by two operators."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from quantsite.roles import OPERATOR
    from strategies.lifecycle_services import (
        approval_decide,
        promotion_request,
        strategy_version_advance,
        strategy_version_create,
    )

    users = []
    for name in ("bench-olga", "bench-otto"):
        user, _ = get_user_model().objects.get_or_create(username=name)
        user.groups.add(Group.objects.get(name=OPERATOR))
        users.append(user)
    version = strategy_version_create(config=config, created_by=users[0])
    for _ in range(2):
        approval = promotion_request(version=version, requested_by=users[0])
        approval_decide(approval=approval, decided_by=users[1], approve=True)
        version.refresh_from_db()
        if version.stage == "backtest_approved":
            strategy_version_advance(version=version, to="backtested")
    return version


def days(n: int) -> list[datetime]:
    return [datetime(2020, 1, 1, 21, tzinfo=UTC) + timedelta(days=d) for d in range(n)]


def paper_session_run(name: str, start=None) -> dict:
    """A paper session of its own strategy version (name) through ORDERS orders; start, a barrier,
    lets sessions in other processes begin together. Its orders, its first and last instants
    (time.monotonic: one clock for every process of the machine) and each order's latencies (ms)
    from its risk check to the broker's answer and to its fill stored."""
    from execution.models import Fill
    from execution.trading_services import TradingSession, replay_bars
    from marketdata.core.bars import bar_frame
    from strategies.core.config import Sizing, StrategyConfig

    symbols = [f"B{k:02d}" for k in range(SYMBOLS)]
    rng = np.random.default_rng(7)
    frames = {}
    for symbol in symbols:
        prices = 100 + np.cumsum(rng.normal(0, 0.5, 30 + ORDERS // SYMBOLS))
        times = days(len(prices))
        frames[symbol] = bar_frame(times, prices, prices + 1, prices - 1, prices, np.full(len(prices), 1e6))
    history, steps = replay_bars(frames, days(30)[-1])
    config = StrategyConfig(
        strategy="bench_alternate", name=name, universe=symbols, sizing=Sizing(mode="qty", value=1)
    )
    session = TradingSession(
        version=paper_version(config),
        mode="paper",
        broker="simulated",
        capital=Decimal(1_000_000),
        history=history,
    )
    checked, answered = [], []
    check, place = session.risk.check_order, session.client.place_order

    def timed_check(order, portfolio):
        checked.append(time.monotonic())
        return check(order, portfolio)

    def timed_place(request):
        answer = place(request)
        answered.append(time.monotonic())
        return answer

    session.risk.check_order, session.client.place_order = timed_check, timed_place
    to_broker, to_stored = [], []
    if start is not None:
        start.wait()
    started = time.monotonic()
    for step in steps:
        first = len(checked)
        report = session.on_bars(step)
        stored = time.monotonic()
        assert not report.refused, report.refused
        to_broker += [(a - c) * 1000 for c, a in zip(checked[first:], answered[first:], strict=True)]
        to_stored += [(stored - c) * 1000 for c in checked[first:]]
    finished = time.monotonic()
    session.stop()
    assert Fill.objects.filter(order__strategy_version=session.version).count() == len(to_stored)
    return {
        "bars": len(steps),
        "started": started,
        "finished": finished,
        "to_broker": to_broker,
        "to_stored": to_stored,
    }


def _session_process(name: str, start, results) -> None:
    setup()
    results.put(paper_session_run(name, start))


def paper_sessions_parallel(names: list[str]) -> list[dict]:
    """paper_session_run of each name at once, each in its own process (as trading workers host
    sessions), started together."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(len(names)), context.Queue()
    processes = [context.Process(target=_session_process, args=(n, start, results)) for n in names]
    for process in processes:
        process.start()
    runs = [results.get(timeout=900) for _ in processes]
    for process in processes:
        process.join()
    return runs


def orders_line(label: str, runs: list[dict]) -> str:
    to_broker = [ms for run in runs for ms in run["to_broker"]]
    to_stored = [ms for run in runs for ms in run["to_stored"]]
    total = max(r["finished"] for r in runs) - min(r["started"] for r in runs)
    return (
        f"orders through {label} on PostgreSQL (strategy -> risk -> OMS -> paper broker -> fills "
        f"stored), {runs[0]['bars']} bars x {SYMBOLS} symbols each: {len(to_stored):,} in {total:.2f} s, "
        f"{len(to_stored) / total:,.0f} orders/s; per order, risk check to the broker's answer: median "
        f"{statistics.median(to_broker):.2f} ms, p99 {percentile(to_broker, 99):.2f} ms; "
        f"to its fill stored: median {statistics.median(to_stored):.2f} ms, "
        f"p99 {percentile(to_stored, 99):.2f} ms"
    )


def main() -> None:
    setup()
    import redis
    from django.core.management import call_command
    from django.db import connection

    from execution.models import Fill
    from execution.trading_services import TradingSession, trading_session_live
    from marketdata.core.bars import Timeframe, bar_frame
    from marketdata.selectors import stored_bars_get
    from marketdata.services import bars_upsert, instrument_ensure
    from quantsite.events import event_bus
    from strategies.core.config import Sizing, StrategyConfig

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(BROKER_URL).flushdb()
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")

    # --- 1. orders per second through paper sessions: risk, OMS, paper broker -------------------
    print(orders_line("one paper session", [paper_session_run(f"bench-oms-{run}")]), flush=True)
    names = [f"bench-oms-{run}-{k}" for k in range(SESSIONS)]
    label = f"{SESSIONS} paper sessions at once (one process each)"
    print(orders_line(label, paper_sessions_parallel(names)), flush=True)

    # --- 2. bar-to-order latency over Redis ------------------------------------------------------
    symbol = f"L{run[-8:]}"
    instrument = instrument_ensure(symbol=symbol)
    times = days(300 + BARS)
    prices = 100 + np.cumsum(np.random.default_rng(7).normal(0, 1, len(times)))

    def store(i: int) -> None:
        p = float(prices[i])
        bars_upsert(
            instrument=instrument,
            timeframe=Timeframe.D1,
            bars=bar_frame([times[i]], [p], [p + 1], [p - 1], [p], [1e6]),
            source="bench",
        )

    for i in range(300):
        store(i)
    version = paper_version(
        StrategyConfig(
            strategy="bench_alternate",
            name=f"bench-live-{run}",
            universe=[symbol],
            sizing=Sizing(mode="qty", value=1),
        )
    )
    history = stored_bars_get(symbols=[symbol], timeframe=Timeframe.D1, start=None, end=None)
    session = TradingSession(
        version=version, mode="paper", broker="simulated", capital=Decimal(100_000), history=history
    )
    stored: queue.Queue = queue.Queue()
    step = session.on_bars

    def timed_step(bars):
        report = step(bars)  # its orders' fills are stored when it returns
        stored.put(time.perf_counter())
        return report

    session.on_bars = timed_step
    done = threading.Event()

    def loop() -> None:
        try:
            trading_session_live(
                session=session,
                timeframe=Timeframe.D1,
                after=times[299],
                stop=done.is_set,
                wait_seconds=0.05,
            )
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    time.sleep(0.5)  # the subscription is confirmed inside trading_session_live
    bus = event_bus()
    bar_to_order = []
    for i in range(300, 300 + BARS):
        store(i)
        t = time.perf_counter()
        bus.publish("bars.ingested", {"symbols": [symbol], "timeframe": "1d"})
        bar_to_order.append((stored.get(timeout=10) - t) * 1000)
    done.set()
    thread.join(timeout=5)
    session.stop()
    assert Fill.objects.filter(order__strategy_version=version).count() == BARS
    print(
        f"bar to order over Redis (announcement -> strategy -> risk -> OMS -> paper fill stored), "
        f"{BARS} bars: median {statistics.median(bar_to_order):.1f} ms, "
        f"p99 {percentile(bar_to_order, 99):.1f} ms, max {max(bar_to_order):.1f} ms"
    )


if __name__ == "__main__":
    main()
