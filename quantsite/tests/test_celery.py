"""Celery wiring: one queue per workload, every schedule declared once and pointing at a real task."""

import pytest
from celery import signals

import quantsite.celery
from quantsite.celery import QUEUES, app
from quantsite.schedules import BEAT_SCHEDULE


@pytest.fixture(autouse=True)
def discovered_tasks():
    app.loader.import_default_modules()  # what a worker does at start: autodiscover every tasks.py


def test_every_project_task_names_a_declared_queue():
    project_tasks = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}

    assert {name: task.queue for name, task in project_tasks.items()} == {
        "marketdata.tasks.ingest_bars_task": "ingestion",
        "marketdata.tasks.ingest_universe_task": "ingestion",
        "marketdata.tasks.check_data_freshness_task": "monitoring",
        "features.tasks.compute_features_task": "features",
        "strategies.tasks.train_model_task": "training",
        "strategies.tasks.retrain_models_task": "training",
        "strategies.tasks.predict_universe_task": "training",
        "backtests.tasks.backtest_run_execute_task": "backtests",
        "execution.tasks.trading_session_task": "execution",
        "execution.tasks.reconcile_task": "execution",
        "execution.tasks.trading_sessions_ensure_task": "monitoring",
        "backtests.tasks.walk_forward_run_execute_task": "backtests",
        "backtests.tasks.walk_forward_chunk_task": "backtests",
        "backtests.tasks.walk_forward_assemble_task": "backtests",
        "backtests.tasks.walk_forward_stalled_resume_task": "backtests",
        "monitoring.tasks.alert_deliver_task": "monitoring",
        "monitoring.tasks.deliveries_retry_task": "monitoring",
        "monitoring.tasks.metric_snapshots_take_task": "monitoring",
        "monitoring.tasks.system_snapshot_take_task": "monitoring",
        "monitoring.tasks.risk_refusals_check_task": "monitoring",
        "monitoring.tasks.snapshots_prune_task": "monitoring",
        "monitoring.tasks.daily_summary_task": "monitoring",
    }
    assert {task.queue for task in project_tasks.values()} <= set(QUEUES)


def test_every_schedule_runs_a_registered_task_on_a_declared_queue():
    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
        assert entry["options"]["queue"] == app.tasks[entry["task"]].queue


def test_embedded_mode_runs_tasks_eagerly():
    assert app.conf.task_always_eager is True
    assert app.conf.task_acks_late is True


@pytest.mark.parametrize(("eager", "checks"), [(False, 1), (True, 0)])
def test_a_worker_checks_its_database_connections_before_each_task(monkeypatch, eager, checks):
    # Given a task about to run in a worker (or eagerly, inside its caller's transaction)
    calls = []
    monkeypatch.setattr(quantsite.celery, "close_old_connections", lambda: calls.append("checked"))
    task = app.tasks["backtests.tasks.walk_forward_chunk_task"]
    task.push_request(is_eager=eager)
    try:
        # When Celery announces it
        signals.task_prerun.send(sender=task, task_id="t1", task=task, args=(), kwargs={})
    finally:
        task.pop_request()

    # Then a worker's stale or broken connections are closed first; an eager task's are left alone
    assert len(calls) == checks
    assert app.conf.db_reuse_max == 1000  # and Celery itself no longer reconnects for every task
