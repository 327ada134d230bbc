"""Alerts: raised once while open, acknowledged and resolved by an operator."""

import pytest

from marketdata.core.errors import Conflict, Forbidden, InvalidInput
from monitoring.models import Alert
from monitoring.services import alert_acknowledge, alert_raise, alert_resolve
from quantsite.models import AuditRecord

pytestmark = pytest.mark.django_db


def test_an_open_alert_is_not_raised_twice_and_a_resolved_one_makes_way_for_a_new_one(people):
    first, new = alert_raise(
        severity="critical", source="reconciliation", key="alpaca:paper", message="AAA differs"
    )
    again, new_again = alert_raise(
        severity="critical", source="reconciliation", key="alpaca:paper", message="AAA still differs"
    )

    assert (new, new_again, again.pk, again.occurrences) == (True, False, first.pk, 2)
    alert_acknowledge(alert=again, by=people["olga"])
    with pytest.raises(Conflict, match="acknowledged already"):
        alert_acknowledge(alert=again, by=people["otto"])
    alert_resolve(alert=again, by=people["otto"])
    later, new_later = alert_raise(
        severity="critical", source="reconciliation", key="alpaca:paper", message="AAA differs again"
    )
    assert (new_later, later.pk != first.pk) == (True, True)
    assert Alert.objects.filter(resolved=False).count() == 1
    assert list(
        AuditRecord.objects.filter(subject_type="alert").order_by("id").values_list("action", flat=True)
    ) == [
        "alert.raise",
        "alert.acknowledge",
        "alert.resolve",
        "alert.raise",
    ]


def test_a_bad_severity_or_a_viewer_is_refused(django_user_model):
    with pytest.raises(InvalidInput, match="severity is one of info, warning, critical, not 'fatal'"):
        alert_raise(severity="fatal", source="x", message="y")
    alert, _ = alert_raise(severity="info", source="x", message="y")
    with pytest.raises(Forbidden, match="to acknowledge an alert needs the role operator"):
        alert_acknowledge(alert=alert, by=django_user_model.objects.create_user("vic"))
