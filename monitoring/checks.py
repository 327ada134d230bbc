"""System checks of monitoring's settings: every channel named exists (a typo fails at start)."""

from django.conf import settings
from django.core import checks

from monitoring.channels import CHANNELS


@checks.register()
def channels_known(app_configs=None, **kwargs) -> list[checks.Error]:
    errors = []
    named = {
        "ALERT_CHANNELS": [n for names in settings.ALERT_CHANNELS.values() for n in names],
        "DAILY_SUMMARY_CHANNELS": list(settings.DAILY_SUMMARY_CHANNELS),
    }
    for setting, names in named.items():
        for name in names:
            if name not in CHANNELS:
                errors.append(
                    checks.Error(
                        f"{setting} names the channel {name!r}; the channels: {', '.join(CHANNELS)}",
                        id="monitoring.E001",
                    )
                )
    severities = set(settings.ALERT_CHANNELS) - {"info", "warning", "critical"}
    if severities:
        errors.append(
            checks.Error(
                f"ALERT_CHANNELS has keys {sorted(severities)}: the severities are info, warning, critical",
                id="monitoring.E002",
            )
        )
    return errors
