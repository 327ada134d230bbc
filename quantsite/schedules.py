"""Every periodic task of the platform, declared in this one place.

django-celery-beat's DatabaseScheduler copies these entries into the database at start, where
an operator can see, pause or re-time them from the admin.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # 22:30 UTC is after the 16:00 New York close in both EST (21:00 UTC) and EDT (20:00 UTC).
    "ingest-daily-bars": {
        "task": "marketdata.tasks.ingest_universe_task",
        "schedule": crontab(minute=30, hour=22, day_of_week="mon-fri"),
        "options": {"queue": "ingestion"},
    },
    "check-data-freshness": {
        "task": "marketdata.tasks.check_data_freshness_task",
        "schedule": crontab(minute=0, hour=23, day_of_week="mon-fri"),
        "options": {"queue": "monitoring"},
    },
    # Sunday morning, when no session is open: new candidates for an approval to promote.
    "retrain-models-weekly": {
        "task": "strategies.tasks.retrain_models_task",
        "schedule": crontab(minute=0, hour=6, day_of_week="sun"),
        "options": {"queue": "training"},
    },
    # The OMS against the brokers (fail closed: a mismatch halts the strategies concerned).
    "reconcile-brokers": {
        "task": "execution.tasks.reconcile_task",
        "schedule": crontab(minute="*/5"),
        "options": {"queue": "execution"},
    },
    # A session for every paper or live strategy version (hosted by the execution workers).
    "ensure-trading-sessions": {
        "task": "execution.tasks.trading_sessions_ensure_task",
        "schedule": crontab(minute="*"),
        "options": {"queue": "monitoring"},
    },
    "resume-stalled-walk-forwards": {
        "task": "backtests.tasks.walk_forward_stalled_resume_task",
        "schedule": crontab(minute="*/5"),
        "options": {"queue": "backtests"},
    },
    # Monitoring: snapshots of the accounts and of the system (with the alerts they reveal), the
    # risk manager's refusal rate, channels that failed tried again, old snapshots pruned.
    "monitoring-metric-snapshots": {
        "task": "monitoring.tasks.metric_snapshots_take_task",
        "schedule": crontab(minute="*/5"),
        "options": {"queue": "monitoring"},
    },
    "monitoring-system-snapshot": {
        "task": "monitoring.tasks.system_snapshot_take_task",
        "schedule": crontab(minute="*/5"),
        "options": {"queue": "monitoring"},
    },
    "monitoring-risk-refusals": {
        "task": "monitoring.tasks.risk_refusals_check_task",
        "schedule": crontab(minute="*/5"),
        "options": {"queue": "monitoring"},
    },
    "monitoring-deliveries-retry": {
        "task": "monitoring.tasks.deliveries_retry_task",
        "schedule": crontab(minute="*/5"),
        "options": {"queue": "monitoring"},
    },
    "monitoring-prune": {
        "task": "monitoring.tasks.snapshots_prune_task",
        "schedule": crontab(minute=15, hour=4),
        "options": {"queue": "monitoring"},
    },
    # After the close, the daily ingestion (22:30) and the freshness check (23:00): the New York
    # day's summary (23:30 UTC is 18:30 or 19:30 in New York: still the same day).
    "daily-summary": {
        "task": "monitoring.tasks.daily_summary_task",
        "schedule": crontab(minute=30, hour=23, day_of_week="mon-fri"),
        "options": {"queue": "monitoring"},
    },
}
