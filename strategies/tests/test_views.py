"""The Strategies pages: the versions with their stage and state, and a promotion asked by one
person and decided by another, through the page's forms; a viewer sees no button and gets 403."""

import pytest

from strategies.core.config import StrategyConfig
from strategies.models import Approval

pytestmark = pytest.mark.django_db

CONFIG = StrategyConfig(strategy="momentum", name="page_momentum", universe=["AAA"])


def test_the_list_and_the_detail_show_stage_and_state(console_as, promoted):
    version = promoted(CONFIG, "backtested")
    client = console_as("vera")

    listing = client.get("/strategies/")
    detail = client.get(f"/strategies/{version.pk}/")

    assert listing.status_code == detail.status_code == 200
    assert b"page_momentum v1</a>" in listing.content
    assert b'<span class="badge active">active</span>' in listing.content
    assert b"Request approval" not in detail.content  # a viewer sees no action
    assert b"An operator may request its promotion to paper_approved." in detail.content


def test_a_promotion_is_asked_by_one_operator_and_approved_by_another(console_as, promoted):
    version = promoted(CONFIG, "backtested")

    asked = console_as("olga").post(f"/strategies/{version.pk}/promote/", {"comment": "ready"})
    approval = Approval.objects.get(decision="pending")
    decide = f"/approvals/{approval.pk}/decide/"
    own = console_as("olga").post(decide, {"decision": "approve"}, follow=True)
    page = console_as("otto").get(f"/strategies/{version.pk}/")
    decided = console_as("otto").post(decide, {"decision": "approve", "comment": "ok"})

    assert (asked.status_code, asked["Location"]) == (302, f"/strategies/{version.pk}/")
    assert b"the requester cannot decide their own request (four-eyes)" in own.content
    assert b'value="approve"' in page.content
    assert decided.status_code == 302
    version.refresh_from_db()
    assert version.stage == "paper_approved"


def test_a_viewer_posting_anyway_gets_403_and_changes_nothing(console_as, promoted):
    version = promoted(CONFIG, "backtested")

    response = console_as("vera").post(f"/strategies/{version.pk}/promote/")

    assert response.status_code == 403
    assert not Approval.objects.filter(decision="pending").exists()


def test_a_page_needs_a_login(client):
    response = client.get("/strategies/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/strategies/")
