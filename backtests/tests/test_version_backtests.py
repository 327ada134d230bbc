"""Backtests of strategy versions: only once approved, under the version's risk policy; the first
one done makes the version BACKTESTED."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from backtests.models import BacktestRun
from quantsite.roles import OPERATOR
from strategies.core.config import Sizing, StrategyConfig
from strategies.lifecycle_services import approval_decide, promotion_request, strategy_version_create

pytestmark = pytest.mark.django_db

CONFIG = StrategyConfig(
    strategy="momentum",
    name="gated",
    universe=["AAA"],
    parameters={"fast": 5, "slow": 20},
    sizing=Sizing(mode="notional", value=120),
)


@pytest.fixture
def version(django_user_model):
    olga, otto = (
        django_user_model.objects.create_user(username=n, password=f"pw-{n}-123") for n in ("olga", "otto")
    )
    for person in (olga, otto):
        person.groups.add(Group.objects.get(name=OPERATOR))
    return strategy_version_create(config=CONFIG, created_by=olga), olga, otto


def test_a_draft_version_is_not_backtested_without_approval(version, aaa):
    draft, _, _ = version

    with pytest.raises(
        CommandError, match=r"a backtest run needs gated v1 to be .*backtest_approved.*, not draft"
    ):
        call_command("backtest", "--strategy-version", str(draft.pk), stdout=StringIO())
    assert not BacktestRun.objects.exists()


def test_an_approved_version_runs_under_its_policy_and_becomes_backtested(version, aaa, artifacts):
    draft, olga, otto = version
    approval_decide(
        approval=promotion_request(version=draft, requested_by=olga), decided_by=otto, approve=True
    )
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
