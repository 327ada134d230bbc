"""Alerts in the admin: listed, and acknowledged or resolved through the services (an operator's act)."""

import pytest

from monitoring.models import Alert
from monitoring.services import alert_raise

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_as(client, django_user_model):
    def login(username: str, role: str | None):
        from django.contrib.auth.models import Group, Permission

        user = django_user_model.objects.create_user(username=username, password="pw", is_staff=True)
        user.user_permissions.add(Permission.objects.get(codename="view_alert"))
        if role:
            user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return client

    return login


def test_an_operator_acknowledges_then_resolves_alerts_from_the_admin(admin_client_as):
    alert, _ = alert_raise(severity="warning", source="data_freshness", key="1d", message="BBB stale")
    client = admin_client_as("olga", "operator")

    listed = client.get("/admin/monitoring/alert/")
    client.post("/admin/monitoring/alert/", {"action": "acknowledge", "_selected_action": [alert.pk]})
    client.post("/admin/monitoring/alert/", {"action": "resolve", "_selected_action": [alert.pk]})

    alert.refresh_from_db()
    assert listed.status_code == 200
    assert "BBB stale" in listed.content.decode()
    assert (alert.acknowledged_by.username, alert.resolved_by.username, alert.resolved) == (
        "olga",
        "olga",
        True,
    )


def test_a_viewer_is_told_no_in_the_admin(admin_client_as):
    alert, _ = alert_raise(severity="warning", source="data_freshness", key="1d", message="BBB stale")
    client = admin_client_as("vic", "viewer")

    response = client.post(
        "/admin/monitoring/alert/", {"action": "resolve", "_selected_action": [alert.pk]}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        f"alert #{alert.pk}: to resolve an alert needs the role operator"
    ]
    assert Alert.objects.get().resolved is False
