"""Backtests of strategy versions: only once approved, under the version's risk policy; the first
one done makes the version BACKTESTED."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backtests.models import BacktestRun
from strategies.core.config import Sizing, StrategyConfig

pytestmark = pytest.mark.django_db

CONFIG = StrategyConfig(
    strategy="momentum",
    name="gated",
    universe=["AAA"],
    parameters={"fast": 5, "slow": 20},
    sizing=Sizing(mode="notional", value=120),
)


@pytest.fixture
def draft(promoted):
    return promoted(CONFIG, stage="draft")


def test_a_draft_version_is_not_backtested_without_approval(draft, aaa):
    with pytest.raises(
        CommandError, match=r"a backtest run needs gated v1 to be .*backtest_approved.*, not draft"
    ):
        call_command("backtest", "--strategy-version", str(draft.pk), stdout=StringIO())
    assert not BacktestRun.objects.exists()


def test_an_approved_version_runs_under_its_policy_and_becomes_backtested(promoted, aaa, artifacts):
    draft = promoted(CONFIG, stage="backtest_approved")
    out = StringIO()

    call_command("backtest", "--strategy-version", str(draft.pk), stdout=out)

    run = BacktestRun.objects.get()
    draft.refresh_from_db()
    assert (run.status, run.strategy_version, draft.stage) == ("done", draft, "backtested")
    assert run.config["backtest"]["risk_policy"] == {"level": 6}  # the default policy, applied
    assert run.config["strategy"]["name"] == "gated"
    assert (
        out.getvalue()
        .splitlines()[1]
        .endswith("event path, " + out.getvalue().splitlines()[1].split(", ")[-1])
    )
    with pytest.raises(
        CommandError, match="--strategy-version backtests the version's own config: drop --symbols"
    ):
        call_command("backtest", "--strategy-version", str(draft.pk), "--symbols", "BBB", stdout=StringIO())
