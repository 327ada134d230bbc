"""The daily summary, after the close: each strategy version's P&L, trades, alerts and risk events of
the New York day and each mode's totals; kept (one row a day) and sent through the channels of
DAILY_SUMMARY_CHANNELS (each attempt recorded, a failed channel tried again by the schedule)."""

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings

from monitoring.account_selectors import account_figures_list, account_totals, day_end, day_start
from monitoring.channels import Message, channels_for
from monitoring.models import Alert, DailySummary, SummaryDelivery
from monitoring.services import deliveries_attempt
from quantsite.models import AuditRecord

# The audit trail's actions that are risk events: refusals, state changes, the kill switch, a
# session lost.
RISK_ACTIONS = (
    "order.refused",
    "trading_state.set",
    "kill_switch.engage",
    "kill_switch.flatten",
    "kill_switch.cancel_failed",
    "session.lost",
)


def daily_summary_create(*, day: date, now: datetime) -> DailySummary:
    """The summary of a New York day (figures as at its end, or now if it has not ended), made or
    made again."""
    start, end = day_start(day), day_end(day)
    at = min(now, end - timedelta(microseconds=1))
    figures = account_figures_list(at=at)
    alerts = list(
        Alert.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
            "severity", "source", "context"
        )
    )
    events = list(
        AuditRecord.objects.filter(ts__gte=start, ts__lt=end, action__in=RISK_ACTIONS).values_list(
            "action", "subject_type", "subject_id"
        )
    )
    strategies = []
    for f in figures:
        scope = f"version:{f.version.pk}"
        strategies.append(
            {
                "strategy_version": f.version.pk,
                "label": f.label,
                "mode": f.mode,
                "pnl": _money(f.pnl_day),
                "pnl_total": _money(f.pnl_total),
                "equity": _money(f.equity),
                "trades": f.fills_day,
                "notional": _money(f.notional_day),
                "alerts": sum(1 for *_, context in alerts if context.get("version") == f.version.pk),
                "risk_events": sum(
                    1
                    for _, kind, subject in events
                    if (kind, subject) in {("strategyversion", str(f.version.pk)), ("tradingstate", scope)}
                ),
            }
        )
    totals = {
        t.mode: {
            "pnl": _money(t.pnl_day),
            "pnl_total": _money(t.pnl_total),
            "equity": _money(t.equity),
            "trades": t.fills_day,
            "notional": _money(t.notional_day),
        }
        for t in account_totals(figures)
    }
    alert_counts = {
        "raised": len(alerts),
        "by_severity": dict(Counter(severity for severity, _, _ in alerts)),
        "by_source": dict(Counter(source for _, source, _ in alerts)),
        "open": Alert.objects.filter(resolved=False, created_at__lt=end).count(),
    }
    risk_events = {"total": len(events), "by_action": dict(Counter(action for action, _, _ in events))}
    summary, _ = DailySummary.objects.update_or_create(
        day=day,
        defaults={
            "created_at": now,
            "totals": totals,
            "strategies": strategies,
            "alerts": alert_counts,
            "risk_events": risk_events,
            "text": _text(day, totals, strategies, alert_counts, risk_events),
        },
    )
    return summary


def daily_summary_send(*, summary: DailySummary, now: datetime) -> list[SummaryDelivery]:
    """Send the summary to the configured channels of DAILY_SUMMARY_CHANNELS it has not reached."""
    return deliveries_attempt(
        message=summary_message(summary),
        channels=channels_for(settings.DAILY_SUMMARY_CHANNELS),
        deliveries=summary.deliveries,
        now=now,
    )


def summary_message(summary: DailySummary) -> Message:
    return Message(
        title=f"Daily summary {summary.day:%Y-%m-%d}",
        text=summary.text,
        payload={
            "kind": "daily_summary",
            "day": summary.day.isoformat(),
            "totals": summary.totals,
            "strategies": summary.strategies,
            "alerts": summary.alerts,
            "risk_events": summary.risk_events,
        },
    )


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _signed(text: str) -> str:
    return text if text.startswith("-") else f"+{text}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _text(day: date, totals: dict, strategies: list[dict], alerts: dict, risk_events: dict) -> str:
    lines = [f"Daily summary {day:%Y-%m-%d} (New York)"]
    if not totals:
        lines.append("no trading account")
    for mode, t in totals.items():
        lines.append(
            f"{mode}: P&L {_signed(t['pnl'])} (total {_signed(t['pnl_total'])}, equity {t['equity']}), "
            f"{_plural(t['trades'], 'trade')}, {t['notional']} traded"
        )
        for s in (s for s in strategies if s["mode"] == mode):
            lines.append(
                f"  {s['label']}: P&L {_signed(s['pnl'])}, {_plural(s['trades'], 'trade')}, "
                f"{_plural(s['alerts'], 'alert')}, {_plural(s['risk_events'], 'risk event')}"
            )
    severities = ", ".join(f"{n} {severity}" for severity, n in sorted(alerts["by_severity"].items()))
    lines.append(
        f"alerts: {alerts['raised']} raised"
        + (f" ({severities})" if severities else "")
        + f", {alerts['open']} open"
    )
    actions = ", ".join(f"{action} {n}" for action, n in sorted(risk_events["by_action"].items()))
    lines.append(f"risk events: {risk_events['total']}" + (f" ({actions})" if actions else ""))
    return "\n".join(lines)
