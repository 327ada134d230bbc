"""Walk-forward speed: in-process, then fanned out over 1 and 2 Celery worker processes, one run.

The work: 10 years of seeded synthetic daily bars (2,520 sessions) for 20 symbols; for each symbol a
walk-forward of the momentum strategy with 8 rolling windows (in-sample 504 sessions, out-of-sample
252, step 252) over the 90 valid sets of the grid fast 5..50 step 5 x slow 20..200 step 20 (the 10
sets with fast >= slow are refused at once and count for nothing). Each set is backtested in every
window's in-sample span and once over the whole span: 20 x 9 x 90 = 16,200 sets evaluated.

1. In-process: WalkForwardEngine.run for each symbol, one after another.
2. Celery: the same 20 walk-forwards as stored runs on PostgreSQL (BENCH_DATABASE_URL, default
   postgres://root@127.0.0.1:5432/quant_bench), fanned out as chords on the backtests queue through
   Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/7, flushed first) to 1 and then 2 worker
   processes started here (timed from the first enqueue to the last run done; workers start before
   the clock). Every run's stitched out-of-sample equity must equal the in-process one exactly.

Run with `make bench`.
"""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from benchmarks.ingest import django_setup, synthetic_daily_stored

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
SYMBOLS = [f"WF{i:02d}" for i in range(1, 21)]
SESSIONS = 2520
GRID = {"fast": list(range(5, 55, 5)), "slow": list(range(20, 220, 20))}
VALID_SETS = sum(1 for f in GRID["fast"] for s in GRID["slow"] if f < s)
WORKER_TIMEOUT = 900


def configs(start: datetime | None = None):
    """The strategy per symbol, the walk-forward and the backtest (from start: the last SESSIONS bars)."""
    from backtests.core.results import BacktestConfig
    from backtests.core.walkforward import WalkForwardConfig
    from strategies.core.config import StrategyConfig

    wf = WalkForwardConfig(
        in_sample_days=504, out_of_sample_days=252, step_days=252, parameter_grid=GRID, min_trades_required=1
    )
    backtest = BacktestConfig(commission_per_trade=Decimal("1"), slippage_bps=Decimal("5"), start_date=start)
    strategies = {s: StrategyConfig(strategy="momentum", universe=[s]) for s in SYMBOLS}
    return strategies, wf, backtest


def in_process(data) -> tuple[float, dict[str, float]]:
    from backtests.core.walkforward import WalkForwardEngine

    strategies, wf, backtest = configs()
    engine = WalkForwardEngine()
    started = time.perf_counter()
    finals = {}
    for symbol in SYMBOLS:
        result = engine.run(None, strategies[symbol], data[symbol], wf, backtest)
        assert len(result.windows) == 8, len(result.windows)
        finals[symbol] = float(result.aggregated_equity_curve.equity[-1])
    return time.perf_counter() - started, finals


def start_workers(processes: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """A Celery worker with `processes` processes on the backtests queue, once it answers a ping."""
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "quantsite",
            "worker",
            "-Q",
            "backtests",
            "--concurrency",
            str(processes),
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"bench{processes}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    from quantsite.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the celery worker exited ({worker.returncode}); see {log}")
        if app.control.ping(timeout=1.0):
            return worker
    worker.kill()
    raise SystemExit(f"the celery worker did not answer within 60 s; see {log}")


def through_celery(
    processes: int, env: dict[str, str], log: Path, start: datetime
) -> tuple[float, dict[str, float]]:
    from backtests.choices import DataSource, RunStatus
    from backtests.models import WalkForwardRun
    from backtests.walkforward_services import walk_forward_run_create, walk_forward_run_enqueue

    strategies, wf, backtest = configs(start)
    worker = start_workers(processes, env, log)
    try:
        started = time.perf_counter()
        runs = []
        for symbol in SYMBOLS:
            run = walk_forward_run_create(
                strategy_config=strategies[symbol],
                walk_forward_config=wf,
                backtest_config=backtest,
                source=DataSource.STORED,
            )
            walk_forward_run_enqueue(run=run)  # sent on commit: autocommit here, so now
            runs.append(run.pk)
        deadline = time.monotonic() + WORKER_TIMEOUT
        while True:
            states = dict(WalkForwardRun.objects.filter(pk__in=runs).values_list("pk", "status"))
            if all(s in {RunStatus.DONE, RunStatus.FAILED} for s in states.values()):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the runs did not finish within {WORKER_TIMEOUT} s: {states}")
            time.sleep(0.1)
        seconds = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    failed = WalkForwardRun.objects.filter(pk__in=runs, status=RunStatus.FAILED)
    if failed:
        raise SystemExit("runs failed: " + "; ".join(f"{r.pk}: {r.error}" for r in failed))
    finals = {}
    for run in WalkForwardRun.objects.filter(pk__in=runs):
        finals[run.symbols[0]] = float(run.result["aggregated_metrics"]["final_equity"])
    return seconds, finals


def main() -> None:
    django_setup(
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_RESULT_BACKEND=REDIS_URL,
        ARTIFACT_STORAGE=str(ROOT / "var" / "bench-artifacts"),
    )
    env = dict(os.environ)  # the workers'
    import redis
    from django.core.management import call_command
    from django.db import connection

    from backtests.models import WalkForwardChunk, WalkForwardRun, WalkForwardTrial

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(REDIS_URL).flushdb()
    # Empty the walk-forward tables for good: rows deleted leave dead tuples behind, which a server
    # without autovacuum keeps, and every later run would pay for them.
    tables = ", ".join(m._meta.db_table for m in (WalkForwardTrial, WalkForwardChunk, WalkForwardRun))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables}")
    started = time.perf_counter()
    data = synthetic_daily_stored(
        SYMBOLS, datetime(2015, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)
    )
    data = {s: frame.iloc[-SESSIONS:] for s, frame in data.items()}
    print(
        f"stored and read back {len(SYMBOLS)} x {SESSIONS:,} synthetic daily bars (seed 7) in "
        f"{time.perf_counter() - started:.1f} s (not timed below)"
    )
    evaluated = len(SYMBOLS) * 9 * VALID_SETS
    print(
        f"work: {len(SYMBOLS)} walk-forwards of momentum, 8 rolling windows (504 / 252 / 252 sessions), "
        f"{VALID_SETS} parameter sets, each in every window and over the whole span: {evaluated:,} sets"
    )

    seconds, expected = in_process(data)
    rows = [("in-process (one process)", seconds)]
    logs = ROOT / "var" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    start = data[SYMBOLS[0]].index[0].to_pydatetime()
    for processes in (1, 2):
        seconds, finals = through_celery(processes, env, logs / f"walkforward-worker-{processes}.log", start)
        if finals != expected:
            differ = [s for s in SYMBOLS if finals.get(s) != expected[s]]
            raise SystemExit(f"{processes} worker(s): results differ from in-process for {differ}")
        rows.append((f"Celery, {processes} worker process{'es' if processes > 1 else ''}", seconds))

    print(f"\n{'how':<32}{'seconds':>9}{'sets/s':>9}")
    for how, secs in rows:
        print(f"{how:<32}{secs:>9.2f}{evaluated / secs:>9,.0f}")
    speedup = rows[1][1] / rows[2][1]
    print(f"results through Celery = in-process: yes ({len(SYMBOLS)} stitched final equities equal)")
    print(f"speed-up from 1 to 2 workers: {speedup:.2f}x")
    print("targets:")
    inline = rows[0][1]
    print(f"  whole walk-forward in-process < 10 s: {inline:.2f} s, {'met' if inline < 10 else 'NOT met'}")
    print(f"  speed-up 1 -> 2 workers >= 1.7x: {speedup:.2f}x, {'met' if speedup >= 1.7 else 'NOT met'}")


if __name__ == "__main__":
    main()
