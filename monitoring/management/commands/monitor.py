"""python manage.py monitor: take snapshots, make the daily summary, list alerts, try the channels.

The same services as the schedules (monitoring.tasks), run now, in this process.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from marketdata.core.errors import ApplicationError
from monitoring.account_selectors import trading_day
from monitoring.models import Alert
from monitoring.services import alert_raise
from monitoring.snapshot_services import metric_snapshots_take, system_snapshot_take
from monitoring.summary_services import daily_summary_create, daily_summary_send


class Command(BaseCommand):
    help = (
        "snapshot: the metric snapshots of every account and a system snapshot, now. summary: the "
        "daily summary of a New York day (default today), printed, sent with --send. alerts: the open "
        "alerts (--all: every one). test-alert: raise an alert of --severity to try the channels."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["snapshot", "summary", "alerts", "test-alert"])
        parser.add_argument("--day", type=date.fromisoformat, help="summary: YYYY-MM-DD (New York)")
        parser.add_argument("--send", action="store_true", help="summary: send it through the channels")
        parser.add_argument("--all", action="store_true", help="alerts: resolved ones too")
        parser.add_argument("--severity", default="info", choices=Alert.Severity.values)

    def handle(self, *args, **opts) -> None:
        now = timezone.now()
        try:
            getattr(self, opts["action"].replace("-", "_"))(opts, now)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None

    def snapshot(self, opts, now) -> None:
        for s in metric_snapshots_take(now=now):
            ratio = "-" if s.sharpe is None else f"{s.sharpe:.2f}"
            win = "-" if s.win_rate is None else f"{s.win_rate:.1f}%"
            self.stdout.write(
                f"{s.mode:<6} {s.label:<28} equity {s.equity:>14,.2f}  day {s.pnl_day:>+12,.2f}  "
                f"total {s.pnl_total:>+12,.2f}  exposure {s.exposure_pct:5.1f}%  "
                f"max dd {s.max_drawdown_pct:5.2f}%  sharpe {ratio}  win {win} of {s.trades}"
            )
        system = system_snapshot_take(now=now)
        self.stdout.write(f"system: {system.status}")
        for name, check in system.health.items():
            self.stdout.write(f"  {name:<15} {check['status']:<9} {check['detail']}")

    def summary(self, opts, now) -> None:
        summary = daily_summary_create(day=opts["day"] or trading_day(now), now=now)
        self.stdout.write(summary.text)
        if opts["send"]:
            attempts = daily_summary_send(summary=summary, now=now)
            for attempt in attempts:
                self.stdout.write(f"sent to {attempt.channel}: {'ok' if attempt.ok else attempt.error}")
            if not attempts:
                self.stdout.write("no channel to send to (DAILY_SUMMARY_CHANNELS, each one's settings)")

    def alerts(self, opts, now) -> None:
        alerts = Alert.objects.all() if opts["all"] else Alert.objects.filter(resolved=False)
        for alert in alerts.select_related("acknowledged_by"):
            state = "resolved" if alert.resolved else "acknowledged" if alert.acknowledged_at else "open"
            self.stdout.write(
                f"#{alert.pk:<5} {alert.created_at:%Y-%m-%d %H:%M} {alert.severity:<8} {state:<12} "
                f"{alert.source}: {alert.message} (x{alert.occurrences})"
            )

    def test_alert(self, opts, now) -> None:
        alert, _ = alert_raise(
            severity=opts["severity"],
            source="test",
            key=f"test {now.isoformat()}",
            message=f"a test alert from manage.py monitor at {now:%Y-%m-%d %H:%M:%S} UTC",
        )
        self.stdout.write(f"alert #{alert.pk} raised ({alert.severity})")
        attempts = list(alert.deliveries.all())
        for attempt in attempts:
            self.stdout.write(f"  {attempt.channel}: {'ok' if attempt.ok else attempt.error}")
        if not attempts:
            self.stdout.write("  no delivery yet: no channel configured for it, or a worker sends it")
