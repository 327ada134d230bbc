"""The Prometheus exposition of /metrics: gauges read from the latest metric and system snapshots
(each scrape costs a few queries, never a call to a broker or a worker) and the open alerts."""

from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, StateSetMetricFamily

from monitoring.choices import HealthStatus
from monitoring.models import Alert, MetricSnapshot, SystemSnapshot
from monitoring.selectors import metric_snapshots_latest, system_snapshot_latest

STATES = HealthStatus.values
# Per account / strategy: (metric, help, the snapshot's attribute).
ACCOUNT_GAUGES = [
    ("quant_equity", "Equity: cash and positions marked at the latest closes", "equity"),
    ("quant_cash", "Cash", "cash"),
    ("quant_pnl_day", "P&L since the previous close", "pnl_day"),
    ("quant_pnl_total", "P&L since the start (equity - initial capital)", "pnl_total"),
    ("quant_exposure_gross", "Sum of |position value|", "gross_exposure"),
    ("quant_exposure_net", "Sum of signed position value", "net_exposure"),
    ("quant_exposure_pct", "Gross exposure / equity, percent", "exposure_pct"),
    ("quant_positions", "Open positions", "positions"),
    ("quant_drawdown_pct", "Drawdown from the peak equity now, percent", "drawdown_pct"),
    ("quant_max_drawdown_pct", "Largest drawdown seen, percent", "max_drawdown_pct"),
    ("quant_sharpe", "Rolling Sharpe ratio of daily equity, annualised", "sharpe"),
    ("quant_sortino", "Rolling Sortino ratio of daily equity, annualised", "sortino"),
    ("quant_win_rate_pct", "Winning round trips / round trips, percent", "win_rate"),
    ("quant_trades", "Closed round trips", "trades"),
    ("quant_turnover", "Notional traded today / equity at the previous close", "turnover"),
]


class SnapshotCollector:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def collect(self):
        latest = metric_snapshots_latest()
        labels = ["scope", "mode", "strategy"]
        for name, text, attribute in ACCOUNT_GAUGES:
            gauge = GaugeMetricFamily(name, text, labels=labels)
            for snapshot in latest:
                value = getattr(snapshot, attribute)
                if value is not None:
                    gauge.add_metric(_labels(snapshot), float(value))
            yield gauge
        age = GaugeMetricFamily(
            "quant_snapshot_age_seconds", "Age of the latest metric snapshot", labels=labels
        )
        for snapshot in latest:
            age.add_metric(_labels(snapshot), (self.now - snapshot.taken_at).total_seconds())
        yield age
        yield from self._system(system_snapshot_latest())
        open_alerts = GaugeMetricFamily("quant_alerts_open", "Alerts not resolved", labels=["severity"])
        counts = dict.fromkeys(Alert.Severity.values, 0)
        for severity in Alert.objects.filter(resolved=False).values_list("severity", flat=True):
            counts[severity] += 1
        for severity, n in counts.items():
            open_alerts.add_metric([severity], n)
        yield open_alerts

    def _system(self, system: SystemSnapshot | None):
        health = StateSetMetricFamily("quant_health", "Each health check's state", labels=["check"])
        staleness = GaugeMetricFamily(
            "quant_data_staleness_seconds",
            "Since the provider's last successful ingestion",
            labels=["provider"],
        )
        latency = GaugeMetricFamily(
            "quant_broker_latency_seconds", "Broker get_account latency", labels=["broker"]
        )
        broker_up = GaugeMetricFamily("quant_broker_up", "1 when the broker answered", labels=["broker"])
        errors = GaugeMetricFamily(
            "quant_broker_error_rate", "Failed probes over the last hour", labels=["broker"]
        )
        queues = GaugeMetricFamily("quant_celery_queue_depth", "Messages waiting", labels=["queue"])
        workers = GaugeMetricFamily(
            "quant_celery_worker_heartbeat_age_seconds", "Since the worker last answered", labels=["worker"]
        )
        failures = GaugeMetricFamily("quant_task_failures_24h", "Celery task failures in the last 24 hours")
        stale = GaugeMetricFamily("quant_stale_symbols", "Instruments without the last session's daily bar")
        age = GaugeMetricFamily("quant_system_snapshot_age_seconds", "Age of the latest system snapshot")
        if system is not None:
            age.add_metric([], (self.now - system.taken_at).total_seconds())
            for check, result in system.health.items():
                health.add_metric([check], {state: result.get("status") == state for state in STATES})
            for provider, figures in system.data_staleness.items():
                if figures.get("age_seconds") is not None:
                    staleness.add_metric([provider], figures["age_seconds"])
            for broker, probe in system.brokers.items():
                if probe.get("detail") == "not configured":
                    continue
                broker_up.add_metric([broker], 1.0 if probe.get("status") == "ok" else 0.0)
                if probe.get("latency_ms") is not None:
                    latency.add_metric([broker], probe["latency_ms"] / 1000.0)
                if probe.get("error_rate") is not None:
                    errors.add_metric([broker], probe["error_rate"])
            for queue, depth in system.queues.items():
                queues.add_metric([queue], depth)
            for worker, seen in system.workers.items():
                workers.add_metric([worker], seen["age_seconds"])
            failures.add_metric([], system.task_failures)
            stale.add_metric([], system.stale_symbols)
        yield from (health, staleness, latency, broker_up, errors, queues, workers, failures, stale, age)


def _labels(snapshot: MetricSnapshot) -> list[str]:
    strategy = snapshot.label if snapshot.scope == MetricSnapshot.Scope.STRATEGY else ""
    return [snapshot.scope, snapshot.mode, strategy]


def metrics_exposition(*, now: datetime) -> tuple[bytes, str]:
    """The text exposition and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(now))
    return generate_latest(registry), CONTENT_TYPE_LATEST
