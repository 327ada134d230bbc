"""The Overview and System health pages, and the Positions page with its close button."""

from decimal import Decimal

import pytest

from execution.models import Position

pytestmark = pytest.mark.django_db


def test_the_overview_shows_the_accounts_figures_alerts_and_state(console_as, book):
    from monitoring.services import alert_raise

    book(positions=2)
    alert_raise(severity="critical", source="reconciliation", message="AAA: local 1, broker 0")
    client = console_as("vera")

    page = client.get("/overview/")
    fragment = client.get("/overview/", headers={"HX-Request": "true"})

    assert page.status_code == 200
    assert b'data-figure="positions-paper">2</div>' in page.content  # AAA and S001; ZZZ is flat
    assert b'<span class="badge active" id="overview-state">active</span>' in page.content
    assert b'<span class="badge warning" id="open-alerts">1</span>' in page.content
    assert b"AAA: local 1, broker 0" in page.content
    assert fragment.content.startswith(b'<div id="overview"')
    assert b'hx-trigger="every 5s"' in fragment.content


def test_the_health_page_lists_each_check(console_as):
    page = console_as("vera").get("/health/")

    assert page.status_code == 200
    for check in (b"database", b"redis", b"celery", b"data_freshness"):
        assert b"<td>" + check + b"</td>" in page.content
    assert b"No Celery broker: tasks run in the process that asks for them." in page.content


def test_an_operator_closes_a_position_from_the_page_and_a_viewer_may_not(console_as, book):
    version = book(positions=1)
    position = Position.objects.get(strategy_version=version, symbol="AAA")

    viewer = console_as("vera")
    page = viewer.get("/positions/")
    refused = viewer.post(f"/positions/{position.pk}/close/")
    assert b'<td class="num">1</td>' in page.content
    assert b">Close</button>" not in page.content
    assert refused.status_code == 403

    closed = console_as("olga").post(f"/positions/{position.pk}/close/", follow=True)

    position.refresh_from_db()
    assert position.close_requested_at is not None  # the paper session sends it at its next bar
    assert b"close of AAA requested: its session sends it at its next bar" in closed.content
    assert b'<span class="badge pending">closing</span>' in closed.content
    assert position.qty == Decimal(1)
