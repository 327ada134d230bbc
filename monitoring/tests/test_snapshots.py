"""Metric snapshots of a small known portfolio: P&L of the day and in total, equity, exposure,
turnover, win rate, drawdown and the rolling ratios; the marks; retention."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from marketdata.core.bars import Timeframe, bar_frame
from marketdata.models import Instrument
from marketdata.services import bars_upsert
from monitoring.account_selectors import closes_get
from monitoring.models import MetricSnapshot, SystemSnapshot, TaskFailure
from monitoring.snapshot_services import metric_snapshots_take, snapshots_prune
from monitoring.tests.conftest import ny

pytestmark = pytest.mark.django_db

FIGURES = [
    "label",
    "cash",
    "equity",
    "pnl_day",
    "pnl_total",
    "gross_exposure",
    "net_exposure",
    "positions",
    "trades",
    "win_rate",
    "fills_day",
    "drawdown_pct",
    "max_drawdown_pct",
    "sharpe",
    "sortino",
    "unmarked",
]


def figures(snapshot: MetricSnapshot) -> dict:
    return {name: getattr(snapshot, name) for name in FIGURES}


def test_after_the_close_the_day_is_marked_at_its_closes_against_the_previous_ones(portfolio):
    # cash 8,006 + AAA 10 x 105 + BBB 20 x 48 = 10,016; at the day's start (Friday's closes, before
    # Monday's fills): 7,998 + 10 x 102 + 20 x 49 = 9,998
    total, strategy = metric_snapshots_take(now=ny(2024, 1, 8, 17))

    assert figures(strategy) == {
        "label": "watched v1",
        "cash": Decimal(8006),
        "equity": Decimal(10016),
        "pnl_day": Decimal(18),
        "pnl_total": Decimal(16),
        "gross_exposure": Decimal(2010),
        "net_exposure": Decimal(2010),
        "positions": 2,
        "trades": 1,
        "win_rate": 100.0,
        "fills_day": 2,
        "drawdown_pct": 0.0,
        "max_drawdown_pct": 0.0,
        "sharpe": None,
        "sortino": None,
        "unmarked": [],
    }
    assert strategy.exposure_pct == pytest.approx(2010 / 10016 * 100, rel=1e-12)
    assert strategy.turnover == pytest.approx(2070 / 9998, rel=1e-12)  # sold 1,040 and bought 1,030
    assert (strategy.scope, strategy.strategy_version_id) == ("strategy", portfolio.pk)
    assert (total.scope, total.strategy_version_id, total.label) == ("account", None, "account")
    assert figures(total) | {"label": "watched v1"} == figures(strategy)


def test_before_the_close_the_previous_closes_are_the_marks_and_later_fills_are_not_counted(portfolio):
    # 10:00 New York: Monday's fills (11:00, 12:00) have not happened, Monday's close is not known
    _, strategy = metric_snapshots_take(now=ny(2024, 1, 8, 10))

    assert (strategy.cash, strategy.equity, strategy.pnl_day, strategy.fills_day, strategy.trades) == (
        Decimal(7998),
        Decimal(9998),
        Decimal(0),
        0,
        0,
    )
    assert strategy.win_rate is None


def test_a_later_intraday_close_is_the_mark_until_the_daily_close_is_known(portfolio):
    aaa = Instrument.objects.get(symbol="AAA")
    ts = datetime(2024, 1, 8, 15, tzinfo=UTC)  # 10:00-11:00 New York
    bars_upsert(
        instrument=aaa,
        timeframe=Timeframe.H1,
        bars=bar_frame([ts], [103], [104], [102], [103.5], [10]),
        source="t",
    )

    during = closes_get(symbols={"AAA", "BBB", "CCC"}, at=ny(2024, 1, 8, 11, 30))
    after = closes_get(symbols={"AAA"}, at=ny(2024, 1, 8, 16))

    assert {s: (m.price, m.known_at) for s, m in during.items()} == {
        "AAA": (Decimal("103.5"), datetime(2024, 1, 8, 16, tzinfo=UTC)),
        "BBB": (Decimal(49), ny(2024, 1, 5, 16)),
    }
    assert after["AAA"].price == Decimal(105)


def test_a_symbol_without_a_close_is_marked_at_its_cost_and_named(version):
    from execution.services import account_open
    from monitoring.tests.conftest import fill
    from strategies.core.types import Side

    account_open(version=version, mode="paper", broker="simulated", capital=Decimal(1000))
    fill(version, "ZZZ", Side.BUY, 2, "40", ny(2024, 1, 8, 11), commission="0")

    _, strategy = metric_snapshots_take(now=ny(2024, 1, 8, 17))

    assert (strategy.equity, strategy.gross_exposure, strategy.unmarked) == (
        Decimal(1000),
        Decimal(80),
        ["ZZZ"],
    )


def stored(version, at: datetime, equity: int, peak: int, drawdown: float) -> None:
    MetricSnapshot.objects.create(
        taken_at=at,
        scope="strategy",
        mode="paper",
        strategy_version=version,
        label="watched v1",
        initial_capital=10_000,
        cash=equity,
        equity=equity,
        pnl_day=0,
        pnl_total=equity - 10_000,
        gross_exposure=0,
        net_exposure=0,
        exposure_pct=0,
        positions=0,
        peak_equity=peak,
        drawdown_pct=drawdown,
        max_drawdown_pct=drawdown,
        trades=0,
        fills_day=0,
        turnover=0,
    )


def test_sharpe_and_sortino_roll_over_the_last_snapshot_of_each_day_and_the_drawdown_carries_on(
    portfolio, settings
):
    settings.METRICS_ROLLING_DAYS = 10
    stored(portfolio, ny(2023, 12, 20, 17), 5_000, 10_000, 50.0)  # outside the 10 days
    stored(portfolio, ny(2024, 1, 3, 12), 9_990, 10_000, 0.1)  # not the day's last
    stored(portfolio, ny(2024, 1, 3, 17), 10_000, 10_000, 0.0)
    stored(portfolio, ny(2024, 1, 4, 17), 11_000, 11_000, 0.0)
    stored(portfolio, ny(2024, 1, 5, 17), 9_900, 11_000, 10.0)

    _, strategy = metric_snapshots_take(now=ny(2024, 1, 8, 17))

    # daily equity 10,000, 11,000, 9,900, 10,016
    assert strategy.sharpe == pytest.approx(0.6186005813980078, rel=1e-12)
    assert strategy.sortino == pytest.approx(1.0738965264947193, rel=1e-12)
    assert strategy.peak_equity == Decimal(11_000)
    assert strategy.drawdown_pct == pytest.approx((11_000 - 10_016) / 11_000 * 100, rel=1e-12)
    assert strategy.max_drawdown_pct == 10.0


def test_snapshots_older_than_the_retention_are_pruned(portfolio, settings):
    settings.METRICS_RETENTION_DAYS = 30
    now = ny(2024, 3, 1, 12)
    metric_snapshots_take(now=now - timedelta(days=31))
    metric_snapshots_take(now=now - timedelta(days=29))
    SystemSnapshot.objects.create(taken_at=now - timedelta(days=40), status="ok")
    TaskFailure.objects.create(task="t", exception="E", failed_at=now - timedelta(days=31))

    pruned = snapshots_prune(now=now)

    assert pruned == {"metric_snapshots": 2, "system_snapshots": 1, "task_failures": 1}
    assert set(MetricSnapshot.objects.values_list("taken_at", flat=True)) == {now - timedelta(days=29)}
