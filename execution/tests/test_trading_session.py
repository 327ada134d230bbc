"""A paper trading session end to end: an approved strategy version on replayed bars, through the
risk manager and the OMS into the database; equal to the backtest of the same bars. The kill switch
during the session; the checks before a session starts."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backtests.core.engine import BacktestEngine
from backtests.core.results import BacktestConfig
from execution.models import Fill, Order, Position, TradingAccount
from execution.trading_services import TradingSession, replay_bars, trading_check
from marketdata.core.bars import Timeframe
from marketdata.core.errors import Forbidden
from marketdata.core.providers.synthetic import SyntheticProvider
from quantsite.models import AuditRecord
from risk.services import kill_switch_engage
from strategies.core.config import Sizing, StrategyConfig
from strategies.core.registry import strategy_build
from strategies.lifecycle_services import strategy_version_create

pytestmark = pytest.mark.django_db

START = datetime(2023, 1, 2, tzinfo=UTC)
BARS = SyntheticProvider(seed=7).get_bars(
    "AAA", datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 6, 30, tzinfo=UTC), Timeframe.D1
)


# Inside the default policy (level 6): 120 of 10,000 is under its 1.33% risk per trade without a stop.
CONFIG = StrategyConfig(
    strategy="momentum",
    name="paper_e2e",
    universe=["AAA"],
    parameters={"fast": 5, "slow": 20},
    sizing=Sizing(mode="notional", value=120),
)


def test_a_paper_session_on_replayed_bars_equals_the_backtest_and_keeps_everything_in_the_database(
    people, promoted
):
    version = promoted(CONFIG)
    costs = BacktestConfig(trade_start=START, risk_policy={"level": 6})
    history, steps = replay_bars({"AAA": BARS}, START)

    session = TradingSession(
        version=version,
        mode="paper",
        broker="simulated",
        capital=Decimal(10_000),
        history=history,
        costs=costs,
    )
    for step in steps:
        session.on_bars(step)
    session.stop()

    expected = BacktestEngine().run(strategy_build(CONFIG), {"AAA": BARS}, costs, fast=False)
    trades = expected.trades
    assert len(trades) > 5
    legs = sorted(
        [(t.entry_time, t.quantity, t.entry_price) for t in trades]
        + [(t.exit_time, t.quantity, t.exit_price) for t in trades]
    )
    fills = sorted((f.ts, float(f.qty), float(f.price)) for f in Fill.objects.all())
    assert [f[:2] for f in fills[: len(legs)]] == [leg[:2] for leg in legs]
    # exact on PostgreSQL; SQLite keeps decimals to 15 significant digits
    assert [f[2] for f in fills[: len(legs)]] == pytest.approx([leg[2] for leg in legs], rel=1e-14)
    held = Position.objects.get(strategy_version=version, mode="paper")
    assert float(held.qty) == session.portfolio.position("AAA")
    cash = TradingAccount.objects.get(strategy_version=version).cash
    assert float(cash) == pytest.approx(float(expected.equity_curve.cash[-1]), rel=1e-12)
    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}
    version.refresh_from_db()
    assert version.stage == "paper"  # trading started
    actions = set(AuditRecord.objects.values_list("action", flat=True))
    assert {"session.start", "order.create", "order.submit", "order.filled", "session.stop"} <= actions


def test_the_kill_switch_during_a_session_cancels_open_orders_and_accepts_no_new_one(people, promoted):
    config = CONFIG.model_copy(update={"sizing": Sizing(mode="qty", value=1)})
    version = promoted(config)
    costs = BacktestConfig(trade_start=START, fill_timing="next_open")
    history, steps = replay_bars({"AAA": BARS}, START)
    session = TradingSession(
        version=version,
        mode="paper",
        broker="simulated",
        capital=Decimal(10_000),
        history=history,
        costs=costs,
    )
    n = 0
    while not Order.objects.filter(status="accepted").exists():  # until an order waits for the next open
        session.on_bars(steps[n])
        n += 1
    waiting = Order.objects.get(status="accepted")
    orders_before = Order.objects.count()

    cancelled, failed = kill_switch_engage(reason="drill", by=people["rita"])
    for step in steps[n:]:
        session.on_bars(step)

    waiting.refresh_from_db()
    assert (cancelled, failed) == ([waiting], [])
    assert waiting.status == "canceled"
    assert not waiting.fills.exists()  # the paper broker dropped it: it never filled
    assert Order.objects.count() == orders_before  # no new order while halted
    refused = AuditRecord.objects.filter(action="order.refused")
    assert refused.exists()
    assert all("trading_halted" in r.data["codes"] for r in refused)
    assert AuditRecord.objects.filter(action="kill_switch.engage", actor=people["rita"]).count() == 1


def test_a_session_starts_only_when_everything_holds(people, promoted, settings):
    version = strategy_version_create(config=CONFIG, created_by=people["olga"])

    with pytest.raises(
        Forbidden, match="paper trading of paper_e2e v1 refused: the version is draft, not live"
    ):
        trading_check(version=version, mode="paper", broker="simulated")
    settings.LIVE_TRADING_ENABLED = False
    with pytest.raises(Forbidden) as refused:
        trading_check(version=version, mode="live", broker="simulated")
    assert refused.value.message == (
        "live trading of paper_e2e v1 refused: the version is draft, not live or live_approved; "
        "LIVE_TRADING_ENABLED is false; "
        "live trading needs a real broker (alpaca or ib), not the simulated one"
    )
    kill_switch_engage(reason="drill", by=people["rita"])
    approved = promoted(CONFIG.model_copy(update={"name": "other"}))
    with pytest.raises(Forbidden, match="trading is HALTED"):
        trading_check(version=approved, mode="paper", broker="simulated")


def test_the_kill_switch_can_have_the_session_close_its_positions(people, promoted):
    config = CONFIG.model_copy(update={"sizing": Sizing(mode="qty", value=1)})
    version = promoted(config)
    history, steps = replay_bars({"AAA": BARS}, START)
    session = TradingSession(
        version=version, mode="paper", broker="simulated", capital=Decimal(10_000), history=history
    )
    n = 0
    while not session.portfolio.position("AAA"):  # until it holds a position
        session.on_bars(steps[n])
        n += 1

    kill_switch_engage(reason="flatten drill", by=people["rita"], flatten=True)
    session.on_bars(steps[n])
    session.on_bars(steps[n + 1])

    assert session.portfolio.position("AAA") == 0
    assert Position.objects.get().qty == 0
    closing = Order.objects.get(reason="kill switch: flatten")
    assert (closing.side, closing.qty, closing.status) == ("sell", Decimal(1), "filled")
    assert Order.objects.filter(reason="kill switch: flatten").count() == 1  # once, not at every bar
    assert AuditRecord.objects.filter(action="kill_switch.flatten").count() == 1
