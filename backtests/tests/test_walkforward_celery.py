"""Walk-forwards through real Celery workers (Redis broker and result backend, PostgreSQL): the
chord's result equals the walk-forward in one process, a worker killed mid-run loses nothing, and
one run's jobs spread over workers that serve different queues (as on several machines).

The workers are subprocesses (`celery -A quantsite worker -Q backtests --pool solo`) on a Redis
database of their own (flushed first) and on pytest's test database, which they read and write as
the test does: the test's rows are committed (transaction=True)."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection, transaction
from kombu import Queue

from backtests.core.results import BacktestConfig
from backtests.core.walkforward import WalkForwardConfig, WalkForwardEngine, trial_json, walk_forward_json
from backtests.models import WalkForwardChunk, WalkForwardRun
from backtests.selectors import walk_forward_progress
from backtests.tasks import walk_forward_run_execute_task, walk_forward_stalled_resume_task
from backtests.walkforward_services import _trial_from_row, walk_forward_run_create
from marketdata.core.bars import Timeframe
from marketdata.selectors import stored_bars_get
from quantsite.celery import QUEUES
from strategies.core.config import StrategyConfig

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("artifacts"),
]

ROOT = Path(settings.BASE_DIR)
BROKER_DB = 5  # a Redis database of these tests' own: flushed before each
TIMEOUT = 120  # seconds a run may take through the workers
MOMENTUM = StrategyConfig(strategy="momentum", universe=["AAA"])
RESTORE_FAST = {"visibility_timeout": 1, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}


def the_test_database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "") + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def broker_url() -> str:
    parts = urlsplit(settings.REDIS_URL)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{BROKER_DB}", "", ""))
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def worker_env(broker_url, artifacts, tmp_path) -> dict[str, str]:
    """What a worker process (or the CLI) needs to share this test's database, broker and artifacts."""
    return {
        **os.environ,
        "DATABASE_URL": the_test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
        "ARTIFACT_STORAGE": str(artifacts),
        "VAR_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "0",
    }


@pytest.fixture
def workers(transactional_db, worker_env, tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """start(queues, **env) starts a worker on those queues (the backtests queue by default); every
    one is killed at the end (before the test database is flushed)."""
    started: list[subprocess.Popen] = []

    def start(queues: str = "backtests", **env) -> subprocess.Popen:
        log = (tmp_path / f"worker{len(started)}.log").open("w")
        process = subprocess.Popen(
            [
                *(str(Path(sys.executable).with_name("celery")), "-A", "quantsite", "worker"),
                *("-Q", queues, "--pool", "solo", "--loglevel", "WARNING"),
                *("-n", f"walkforward{len(started)}@%h", "--without-gossip", "--without-mingle"),
            ],
            cwd=ROOT,
            env={**worker_env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole
        )
        started.append(process)
        return process

    yield start
    for process in started:
        kill(process)


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def worker_logs(tmp_path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in sorted(tmp_path.glob("worker*.log")))


def wait_for(condition: Callable[[], bool], what: str, tmp_path, *workers: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        for worker in workers:
            if worker.poll() is not None:
                pytest.fail(f"{what}: a worker exited ({worker.returncode})\n{worker_logs(tmp_path)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {TIMEOUT} s\n{worker_logs(tmp_path)}")
        time.sleep(0.01)


def finished(run: WalkForwardRun) -> Callable[[], bool]:
    return lambda: WalkForwardRun.objects.get(pk=run.pk).status != "running"


def client(broker_url: str) -> Celery:
    """A bare Celery client on the workers' broker (this test process runs its own tasks eagerly)."""
    app = Celery("walkforward-tests", broker=broker_url, backend=broker_url, set_as_current=False)
    app.conf.task_queues = [Queue(name) for name in QUEUES]
    return app


def in_process(walk_forward_config: WalkForwardConfig, backtest_config: BacktestConfig):
    bars = stored_bars_get(symbols=["AAA"], timeframe=Timeframe.D1, start=None, end=None)
    return WalkForwardEngine().run(None, MOMENTUM, bars, walk_forward_config, backtest_config)


def assert_equal_results(run: WalkForwardRun, expected) -> None:
    document = json.loads(json.dumps(walk_forward_json(expected)))
    assert {k: v for k, v in run.result.items() if k != "walk_forward_id"} == {
        k: v for k, v in document.items() if k != "walk_forward_id"
    }
    trials = [_trial_from_row(row) for row in run.trials.order_by("window", "combo")]
    assert [trial_json(t) for t in trials] == [trial_json(t) for t in expected.trials]


def test_the_cli_runs_a_walk_forward_on_the_workers_equal_to_one_in_process(
    aaa, workers, worker_env, artifacts, tmp_path
):
    workers()

    cli = subprocess.run(
        [
            *(sys.executable, "manage.py", "walkforward", "--strategy", "momentum", "--symbols", "AAA"),
            *("--in-sample-days", "250", "--out-of-sample-days", "63", "--step-days", "63"),
            *("--grid", "fast=5,10", "--grid", "slow=20,40", "--objective", "sharpe", "--min-trades", "1"),
            *("--workers", "celery"),
        ],
        cwd=ROOT,
        env={**worker_env, "WALK_FORWARD_CHUNK_SIZE": "2"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert cli.returncode == 0, f"{cli.stderr}\n{worker_logs(tmp_path)}"
    run = WalkForwardRun.objects.get()
    lines = cli.stdout.splitlines()
    assert lines[0] == (
        f"walk-forward run #{run.pk}: momentum on AAA 1d, stored bars (all of them), "
        "4 parameter set(s), on the Celery workers"
    )
    assert "jobs done: 10 of 10" in lines
    assert (run.status, run.error, run.chunk_size) == ("done", "", 2)
    assert walk_forward_progress(run=run) == {"done": 10, "total": 10}
    assert run.trials.count() == run.trials_count == 20
    wf = WalkForwardConfig(
        in_sample_days=250,
        out_of_sample_days=63,
        step_days=63,
        parameter_grid={"fast": [5, 10], "slow": [20, 40]},
    )
    assert_equal_results(run, in_process(wf, BacktestConfig()))
    assert (artifacts / run.report_path).read_text().startswith("<!DOCTYPE html>")


def test_a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing(aaa, workers, broker_url, tmp_path):
    wf = WalkForwardConfig(
        in_sample_days=250,
        out_of_sample_days=63,
        step_days=63,
        parameter_grid={"fast": [3, 5, 8, 10], "slow": [20, 30, 40, 60]},
    )
    run = walk_forward_run_create(
        strategy_config=MOMENTUM, walk_forward_config=wf, backtest_config=BacktestConfig(), chunk_size=1
    )
    first = workers()
    client(broker_url).send_task(walk_forward_run_execute_task.name, args=[run.pk], queue="backtests")

    wait_for(run.chunks.exists, "a first job done", tmp_path, first)
    kill(first)  # SIGKILL: the job it was running is never acknowledged
    done = run.chunks.count()
    run.refresh_from_db()
    assert (run.status, run.chunks_total) == ("running", 80)  # 4 windows + the span, x 16 jobs of one set
    assert 1 <= done < 80, done
    # A second worker puts the dead one's unacknowledged jobs back on the queue once they are a
    # second old: when it starts, and every second after. A job whose message the broker lost as
    # the first worker took it never comes back that way: the stalled-run sweep (here with no
    # quiet time) sends the jobs not done again, and duplicates find their done rows.
    time.sleep(1)
    second = workers(CELERY_BROKER_TRANSPORT_OPTIONS=json.dumps(RESTORE_FAST), WALK_FORWARD_STALL_SECONDS="0")
    client(broker_url).send_task(walk_forward_stalled_resume_task.name, queue="backtests")

    wait_for(finished(run), "the run finished", tmp_path, second)

    run.refresh_from_db()
    assert (run.status, run.error) == ("done", "")
    assert walk_forward_progress(run=run) == {"done": 80, "total": 80}
    assert run.trials.count() == run.trials_count == 80
    assert run.trials.values("window", "combo").distinct().count() == 80
    assert_equal_results(run, in_process(wf, BacktestConfig()))


def jobs_held_by() -> set[str]:
    """The workers (their database connections' application names) waiting to mark a job done."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity as it is now
        cursor.execute(
            "SELECT DISTINCT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.relation = %s::regclass AND NOT l.granted",
            [WalkForwardChunk._meta.db_table],
        )
        return {name for (name,) in cursor.fetchall()}


def test_one_walk_forward_spreads_over_workers_serving_different_queues(aaa, workers, broker_url, tmp_path):
    """A research worker (the Procfile's queue group: every queue but execution) and a worker of the
    backtests queue alone, as a second machine sharing the broker and the database would run. Until
    both hold a job of the run, no job can be marked done (the test locks the jobs' table), so
    whichever worker starts first cannot take them all: each is seen with a job of its own."""
    wf = WalkForwardConfig(
        in_sample_days=250,
        out_of_sample_days=63,
        step_days=63,
        parameter_grid={"fast": [5, 10], "slow": [20, 40]},
    )
    run = walk_forward_run_create(
        strategy_config=MOMENTUM, walk_forward_config=wf, backtest_config=BacktestConfig(), chunk_size=2
    )
    database = the_test_database_url()
    research = ",".join(queue for queue in QUEUES if queue != "execution")
    started = [
        workers(research, DATABASE_URL=f"{database}?application_name=research"),
        workers("backtests", DATABASE_URL=f"{database}?application_name=backtests"),
    ]

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {WalkForwardChunk._meta.db_table} IN EXCLUSIVE MODE")
        client(broker_url).send_task(walk_forward_run_execute_task.name, args=[run.pk], queue="backtests")
        both = {"research", "backtests"}
        wait_for(lambda: jobs_held_by() == both, "both workers hold a job", tmp_path, *started)
    wait_for(finished(run), "the run finished", tmp_path, *started)

    run.refresh_from_db()
    assert (run.status, run.error) == ("done", "")
    assert walk_forward_progress(run=run) == {"done": 10, "total": 10}  # 4 windows + the span, x 2 jobs
    assert_equal_results(run, in_process(wf, BacktestConfig()))
