"""The operator console in a real browser (Debian's chromium, headless, driven by Playwright):
log in, start a backtest and watch it finish, approve a strategy as a second person, engage the
kill switch and see the state change. Screenshots go to test-artifacts/."""

import os
from pathlib import Path

import pytest

from conftest import CHROMIUM
from strategies.core.config import StrategyConfig

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are not async.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def login(chromium, live_server, people):
    """login(name): a new browser page logged in as one of the people, through the login form."""
    pages = []

    def open_as(name: str):
        page = chromium.new_page(viewport={"width": 1366, "height": 860})
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", f"pw-{name}-123")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/overview/")
        pages.append(page)
        return page

    yield open_as
    for page in pages:
        page.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_log_in_and_see_the_overview_numbers(login, book):
    book(positions=2)
    page = login("vera")

    assert page.inner_text("h1") == "Overview"
    assert page.inner_text("[data-figure=positions-paper]") == "2"
    assert page.inner_text("#overview-state") == "active"
    shot(page, "overview")


def test_start_a_backtest_and_watch_it_finish(login, live_server, aaa, artifacts):
    page = login("olga")
    page.click("nav >> text=Runs")
    page.fill("input[name=symbols]", "AAA")
    page.fill("input[name=start]", "2023-02-01")
    page.fill("input[name=end]", "2024-06-28")
    page.fill("input[name=parameters]", '{"fast": 5, "slow": 20}')
    page.click("button:text-is('Start')")

    page.wait_for_selector("#run-state:text('done')")
    assert page.inner_text(".messages").startswith("backtest #")
    assert page.locator(".figure").count() == 9
    assert page.locator(".plotly-graph-div").count() == 1
    shot(page, "backtest-done")


def test_a_second_person_approves_a_promotion(login, promoted):
    version = promoted(
        StrategyConfig(strategy="momentum", name="browser_momentum", universe=["AAA"]), "backtested"
    )
    olga = login("olga")
    olga.click("nav >> text=Strategies")
    olga.click("text=browser_momentum v1")
    olga.click("text=Request approval to paper_approved")
    assert "requested: a second person decides it" in olga.inner_text(".messages")
    assert olga.locator("text=yours: another person decides").count() == 1

    otto = login("otto")
    otto.goto(olga.url)
    otto.click("button[value=approve]")

    otto.wait_for_selector(".messages li.success")
    assert otto.locator(".badge.pending").count() == 0
    version.refresh_from_db()
    assert version.stage == "paper_approved"
    shot(otto, "promotion-approved")


def test_engage_the_kill_switch_and_see_the_state_change(login, promoted):
    promoted(StrategyConfig(strategy="momentum", name="browser_paper", universe=["AAA"]), "paper")
    page = login("olga")
    page.click("nav >> text=Controls")
    assert page.inner_text("#platform-state") == "active"
    page.click("#kill-switch summary")
    page.fill("#kill-switch input[name=reason]", "data feed broken")
    page.check("#kill-switch input[name=confirm]")
    shot(page, "kill-switch-confirm")
    page.click("button:text-is('Engage the kill switch')")

    page.wait_for_selector("#platform-state:text('halted')")
    assert "Trading HALTED" in page.inner_text(".messages")
    assert page.locator("text=Request a reset").count() == 1  # the platform's: the strategy trades under it
    assert page.locator("#states td .badge.halted").count() == 1
    shot(page, "kill-switch-engaged")
    page.click("nav >> text=Overview")
    assert page.inner_text("#overview-state") == "halted"


def test_a_viewer_sees_no_action(login):
    page = login("vera")
    page.click("nav >> text=Controls")

    assert page.locator("text=Engage the kill switch").count() == 0
    assert page.locator("button").all_inner_texts() == ["Log out"]
