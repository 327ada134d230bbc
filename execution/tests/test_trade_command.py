"""python manage.py trade: a replayed paper session in the foreground, and a live session woken by
the announcement of newly ingested bars."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from conftest import _ingest_synthetic
from execution.models import Order, TradingAccount
from execution.trading_services import TradingSession, trading_session_live
from marketdata.core.bars import Timeframe
from marketdata.core.providers.synthetic import SyntheticProvider
from marketdata.selectors import stored_bars_get
from strategies.core.config import Sizing, StrategyConfig
from strategies.lifecycle_services import strategy_version_create

pytestmark = pytest.mark.django_db

CONFIG = StrategyConfig(
    strategy="momentum",
    name="cli_paper",
    universe=["AAA"],
    parameters={"fast": 5, "slow": 20},
    sizing=Sizing(mode="notional", value=120),
)


@pytest.fixture
def version(promoted):
    return promoted(CONFIG)


def test_the_command_replays_a_file_through_a_paper_session(version, tmp_path):
    path = tmp_path / "AAA.csv"
    bars = SyntheticProvider(seed=7).get_bars(
        "AAA", datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 6, 30, tzinfo=UTC), Timeframe.D1
    )
    bars.reset_index().to_csv(path, index=False)
    out = StringIO()

    call_command(
        "trade", "--strategy", str(version.pk), "--replay", str(path), "--start", "2023-01-02", stdout=out
    )

    lines = out.getvalue().splitlines()
    assert lines[0] == f"trading {version} paper on simulated"
    sent = [line for line in lines if " sent: " in line and "sent: none" not in line]
    assert len(sent) == Order.objects.count() > 5
    assert lines[-3] == f"replayed {len(bars.loc['2023-01-02':]):,} bar time(s)"
    assert lines[-2].startswith("positions: ")
    account = TradingAccount.objects.get()
    assert lines[-1].startswith(f"cash {account.cash:,.2f}, equity ")
    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}


def test_the_command_refuses_what_cannot_trade(version):
    with pytest.raises(CommandError, match="no strategy version #999"):
        call_command("trade", "--strategy", "999", "--replay", "stored", stdout=StringIO())
    with pytest.raises(
        CommandError, match="live trading of cli_paper v1 refused: the version is paper_approved"
    ):
        call_command(
            "trade", "--strategy", str(version.pk), "--mode", "live", "--replay", "stored", stdout=StringIO()
        )


def test_a_live_session_trades_new_bars_when_their_ingestion_is_announced(version):
    _ingest_synthetic("AAA", datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 3, 29, tzinfo=UTC))
    history = stored_bars_get(symbols=["AAA"], timeframe=Timeframe.D1, start=None, end=None)
    session = TradingSession(
        version=version, mode="paper", broker="simulated", capital=10_000, history=history
    )
    last = history["AAA"].index[-1]
    calls = []

    def stop() -> bool:
        calls.append(1)
        if len(calls) == 1:  # bars arrive: their ingestion announces them on the event bus
            _ingest_synthetic("AAA", datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 6, 28, tzinfo=UTC))
        return len(calls) > 2

    steps = trading_session_live(
        session=session, timeframe=Timeframe.D1, after=last, stop=stop, wait_seconds=0.05
    )

    new_bars = stored_bars_get(symbols=["AAA"], timeframe=Timeframe.D1, start=None, end=None)["AAA"]
    assert steps == len(new_bars.loc[new_bars.index > last]) > 50
    assert session.runner.steps[-1] == new_bars.index[-1]


def test_the_worker_refuses_a_session_the_version_may_not_run(django_user_model):
    from execution.tasks import trading_session_task

    draft = strategy_version_create(config=CONFIG, created_by=django_user_model.objects.create_user("dora"))

    assert trading_session_task.delay(draft.pk, "paper").get() == 0
    assert not TradingAccount.objects.exists()
