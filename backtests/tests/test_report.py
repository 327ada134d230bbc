"""ReportGenerator on a small hand-built BacktestResult: the exact JSON document and the offline HTML page."""

import json
import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from backtests.core.report import ReportGenerator, downsample_indices, monthly_returns, to_plain
from backtests.core.results import (
    BacktestConfig,
    BacktestResult,
    EquityCurve,
    EquityPoint,
    PerformanceMetrics,
    Trade,
)
from marketdata.core.bars import Timeframe

BACKTEST_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
SECTIONS = (
    "Headline metrics",
    "Equity vs benchmark",
    "Drawdown",
    "Prices and trades",
    "Monthly returns",
    "Trades",
    "Configuration",
)


def utc(day: int, month: int = 1) -> datetime:
    return datetime(2024, month, day, tzinfo=UTC)


CONFIG = BacktestConfig(initial_capital=Decimal("10000"), start_date=utc(30), end_date=utc(29, 2))
CURVE = [
    EquityPoint(ts=utc(30), equity=10100.0, cash=9100.0, exposure=0.25),
    EquityPoint(ts=utc(31), equity=10200.0, cash=9200.0, exposure=0.5),
    EquityPoint(ts=utc(1, 2), equity=9996.0, cash=9996.0, exposure=0.0),
    EquityPoint(ts=utc(29, 2), equity=10302.0, cash=10302.0, exposure=0.0),
]
TRADES = [
    Trade("AAPL", "long", 10.0, utc(30), 100.0, utc(1, 2), 125.0, 248.0, 2.0, 0, 2),
    Trade("MSFT", "short", 4.0, utc(31), 200.0, utc(29, 2), 150.0, 198.0, 2.0, 1, 3),
]
METRICS = PerformanceMetrics(
    total_return=302.0,
    total_return_pct=3.02,
    sharpe_ratio=1.25,
    max_drawdown=204.0,
    max_drawdown_pct=2.0,
    win_rate=100.0,
    total_trades=2,
    winning_trades=2,
    losing_trades=0,
    avg_win=223.0,
    avg_loss=None,
    profit_factor=None,
    final_equity=10302.0,
    cagr_pct=20.5,
    volatility_pct=12.5,
    sortino_ratio=2.5,
    calmar_ratio=10.25,
    exposure_pct=50.0,
    turnover=3.5,
    avg_holding_bars=2.0,
    best_trade_pct=25.0,
    worst_trade_pct=25.0,
    benchmark_return_pct=1.5,
    excess_return_pct=1.52,
    alpha_pct=-0.75,
    beta=0.5,
    periods_per_year=252.0,
)


def curve_of(points: list[EquityPoint]) -> EquityCurve:
    return EquityCurve(
        pd.DatetimeIndex([p.ts for p in points], tz="UTC") if points else pd.DatetimeIndex([], tz="UTC"),
        np.array([p.equity for p in points], dtype="float64"),
        np.array([p.cash for p in points], dtype="float64"),
        np.array([p.exposure for p in points], dtype="float64"),
    )


def series(pairs: list[tuple[datetime, float]]) -> pd.Series:
    return pd.Series([v for _, v in pairs], index=pd.DatetimeIndex([t for t, _ in pairs]), dtype="float64")


def result(**changes) -> BacktestResult:
    fields = {
        "strategy_id": "sma-cross",
        "config": CONFIG,
        "equity_curve": curve_of(CURVE),
        "trades": TRADES,
        "metrics": METRICS,
        "start_time": utc(30),
        "end_time": utc(29, 2),
        "metadata": {"seed": 7, "params": {"fast": 10, "slow": Decimal("20.5")}, "note": "<b>bold</b>"},
        "backtest_id": BACKTEST_ID,
        "prices": {
            "AAPL": series([(utc(30), 100.0), (utc(31), 110.0), (utc(1, 2), 125.0), (utc(29, 2), 120.0)]),
            "MSFT": series([(utc(30), 210.0), (utc(31), 200.0), (utc(1, 2), 180.0), (utc(29, 2), 150.0)]),
        },
        "benchmark_curve": series(
            [(utc(30), 10000.0), (utc(31), 10050.0), (utc(1, 2), 10100.0), (utc(29, 2), 10150.0)]
        ),
    }
    return BacktestResult(**{**fields, **changes})


def without_plotly_js(page: str) -> str:
    """The page minus the inlined plotly.js bundle, which must be there exactly once."""
    bundle = get_plotlyjs()
    assert page.count(bundle) == 1
    return page.replace(bundle, "")


# --- JSON ---------------------------------------------------------------------------------------


def test_json_holds_the_exact_result_and_round_trips():
    # given a hand-built result
    # when
    doc = ReportGenerator().generate_json(result())
    # then
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    assert doc == {
        "backtest_id": "12345678-1234-5678-1234-567812345678",
        "strategy_id": "sma-cross",
        "config": {
            "initial_capital": "10000",
            "commission_per_trade": "1.00",
            "commission_per_share": "0",
            "commission_minimum": "0",
            "commission_bps": "0",
            "slippage_bps": "10",
            "volume_impact_bps": "0",
            "max_participation": None,
            "fill_timing": "close",
            "start_date": "2024-01-30T00:00:00+00:00",
            "end_date": "2024-02-29T00:00:00+00:00",
            "trade_start": None,
            "timeframe": "1d",
            "risk_free_rate": 0.0,
            "risk_policy": None,
        },
        "start_time": "2024-01-30T00:00:00+00:00",
        "end_time": "2024-02-29T00:00:00+00:00",
        "metadata": {"seed": 7, "params": {"fast": 10, "slow": "20.5"}, "note": "<b>bold</b>"},
        "metrics": {
            "total_return": 302.0,
            "total_return_pct": 3.02,
            "sharpe_ratio": 1.25,
            "max_drawdown": 204.0,
            "max_drawdown_pct": 2.0,
            "win_rate": 100.0,
            "total_trades": 2,
            "winning_trades": 2,
            "losing_trades": 0,
            "avg_win": 223.0,
            "avg_loss": None,
            "profit_factor": None,
            "final_equity": 10302.0,
            "cagr_pct": 20.5,
            "volatility_pct": 12.5,
            "sortino_ratio": 2.5,
            "calmar_ratio": 10.25,
            "exposure_pct": 50.0,
            "turnover": 3.5,
            "avg_holding_bars": 2.0,
            "best_trade_pct": 25.0,
            "worst_trade_pct": 25.0,
            "benchmark_return_pct": 1.5,
            "excess_return_pct": 1.52,
            "alpha_pct": -0.75,
            "beta": 0.5,
            "periods_per_year": 252.0,
        },
        "equity_curve": [
            {"ts": "2024-01-30T00:00:00+00:00", "equity": 10100.0, "cash": 9100.0, "exposure": 0.25},
            {"ts": "2024-01-31T00:00:00+00:00", "equity": 10200.0, "cash": 9200.0, "exposure": 0.5},
            {"ts": "2024-02-01T00:00:00+00:00", "equity": 9996.0, "cash": 9996.0, "exposure": 0.0},
            {"ts": "2024-02-29T00:00:00+00:00", "equity": 10302.0, "cash": 10302.0, "exposure": 0.0},
        ],
        "trades": [
            {
                "symbol": "AAPL",
                "direction": "long",
                "quantity": 10.0,
                "entry_time": "2024-01-30T00:00:00+00:00",
                "entry_price": 100.0,
                "exit_time": "2024-02-01T00:00:00+00:00",
                "exit_price": 125.0,
                "pnl": 248.0,
                "commission": 2.0,
                "return_pct": 25.0,
                "bars_held": 2,
            },
            {
                "symbol": "MSFT",
                "direction": "short",
                "quantity": 4.0,
                "entry_time": "2024-01-31T00:00:00+00:00",
                "entry_price": 200.0,
                "exit_time": "2024-02-29T00:00:00+00:00",
                "exit_price": 150.0,
                "pnl": 198.0,
                "commission": 2.0,
                "return_pct": 25.0,
                "bars_held": 2,
            },
        ],
        "option_trades": [],
    }


def test_json_turns_nan_into_null_and_odd_metadata_into_plain_values():
    # given a curve with a NaN exposure and metadata of numpy, Decimal, tuple and NaN values
    curve = [EquityPoint(ts=utc(30), equity=10100.0, cash=9100.0, exposure=float("nan"))]
    metadata = {"n": np.int64(3), "x": np.float64(0.5), "arr": np.array([1.0, 2.0]), "d": Decimal("1.5")}
    metadata |= {"pair": (1, "a"), "nan": float("nan"), 7: uuid.UUID(int=1)}
    # when
    doc = ReportGenerator().generate_json(result(equity_curve=curve_of(curve), metadata=metadata, trades=[]))
    # then
    json.dumps(doc, allow_nan=False)
    assert doc["equity_curve"] == [
        {"ts": "2024-01-30T00:00:00+00:00", "equity": 10100.0, "cash": 9100.0, "exposure": None}
    ]
    assert doc["metadata"] == {
        "n": 3,
        "x": 0.5,
        "arr": [1.0, 2.0],
        "d": "1.5",
        "pair": [1, "a"],
        "nan": None,
        "7": "00000000-0000-0000-0000-000000000001",
    }
    assert doc["trades"] == []


def test_to_plain_keeps_enums_by_value():
    # given / when / then
    assert to_plain({"tf": Timeframe.M15, "when": utc(2)}) == {
        "tf": "15m",
        "when": "2024-01-02T00:00:00+00:00",
    }


# --- HTML ---------------------------------------------------------------------------------------


def test_html_has_the_title_every_section_and_each_trade_row():
    # given
    # when
    page = ReportGenerator().generate_html(result(), title="Momentum <AAPL> & co")
    # then
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Momentum &lt;AAPL&gt; &amp; co</title>" in page
    assert "<h1>Momentum &lt;AAPL&gt; &amp; co</h1>" in page
    for heading in SECTIONS:
        assert f"<h2>{heading}</h2>" in page
    assert "<h3>AAPL</h3>" in page
    assert "<h3>MSFT</h3>" in page
    assert (
        "<tr><td class='num'>1</td><td>AAPL</td><td>long</td><td class='num'>10</td>"
        "<td>2024-01-30 00:00</td><td class='num'>100.00</td><td>2024-02-01 00:00</td>"
        "<td class='num'>125.00</td><td class='num pos'>248.00</td><td class='num'>2.00</td>"
        "<td class='num pos'>25.00%</td><td class='num'>2</td></tr>"
    ) in page
    assert (
        "<tr><td class='num'>2</td><td>MSFT</td><td>short</td><td class='num'>4</td>"
        "<td>2024-01-31 00:00</td><td class='num'>200.00</td><td>2024-02-29 00:00</td>"
        "<td class='num'>150.00</td><td class='num pos'>198.00</td><td class='num'>2.00</td>"
        "<td class='num pos'>25.00%</td><td class='num'>2</td></tr>"
    ) in page


def test_html_headline_metrics_show_values_and_a_dash_for_none():
    # given / when
    page = ReportGenerator().generate_html(result())
    # then
    assert "<title>Backtest of sma-cross</title>" in page
    assert "<tr><th>Total return</th><td class='num pos'>302.00</td></tr>" in page
    assert "<tr><th>Sharpe ratio</th><td class='num pos'>1.25</td></tr>" in page
    assert "<tr><th>Max drawdown %</th><td class='num'>2.00%</td></tr>" in page
    assert "<tr><th>Alpha (annual)</th><td class='num neg'>-0.75%</td></tr>" in page
    assert "<tr><th>Average loss</th><td class='num'>—</td></tr>" in page
    assert "<tr><th>Profit factor</th><td class='num'>—</td></tr>" in page
    assert "<tr><th>Winning / losing</th><td class='num'>2 / 0</td></tr>" in page
    assert "<tr><th>Turnover (per year)</th><td class='num'>3.50x</td></tr>" in page


def test_html_plots_entries_and_exits_and_monthly_returns():
    # given / when
    page = ReportGenerator().generate_html(result())
    # then buys point up in green, sells down in red
    assert '"name":"Long entry"' in page
    assert (
        '"marker":{"color":"#15803d","line":{"color":"#15803d","width":2},"size":11,"symbol":"triangle-up"}'
        in page
    )
    assert '"symbol":"triangle-down-open"},"mode":"markers","name":"Long exit"' in page
    assert '"symbol":"triangle-down"},"mode":"markers","name":"Short entry"' in page
    assert '"symbol":"triangle-up-open"},"mode":"markers","name":"Short exit"' in page
    # January 10200 / 10000, February 10302 / 10200
    assert '"text":[["2.0%","1.0%","","","","","","","","","",""]]' in page
    assert '"y":["2024"]' in page


def test_html_escapes_text_from_the_result():
    # given a hostile strategy id and symbol
    hostile = "<script>alert(1)</script>"
    trades = [Trade(hostile, "long", 1.0, utc(30), 100.0, utc(31), 101.0, 1.0, 0.0, 0, 1)]
    # when
    page = ReportGenerator().generate_html(result(strategy_id=hostile, trades=trades, prices={}))
    # then
    assert hostile not in page
    assert "Strategy &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert "<h3>&lt;script&gt;alert(1)&lt;/script&gt;</h3>" in page
    assert "<tr><th>metadata.note</th><td>&lt;b&gt;bold&lt;/b&gt;</td></tr>" in page


def test_html_opens_offline_with_plotly_js_inlined_once():
    # given / when
    page = ReportGenerator().generate_html(result())
    # then no script or stylesheet is fetched from anywhere
    assert '<script src="http' not in page
    assert page.count("<script") == page.count('<script type="text/javascript">') + page.count("<script>")
    # plotly.js itself names "https://cdn.plot.ly/un/" as the default topojsonURL of geo maps (which
    # these charts do not use): it is a setting, not a load, so the check runs on the rest of the page
    rest = without_plotly_js(page)
    assert "https://cdn" not in rest
    assert "://" not in rest
    assert "<link" not in rest
    assert "@import" not in rest
    assert "src=" not in rest


def test_html_renders_without_trades_benchmark_or_prices():
    # given
    empty = result(trades=[], benchmark_curve=None, prices={})
    # when
    page = ReportGenerator().generate_html(empty)
    # then
    for heading in SECTIONS:
        assert f"<h2>{heading}</h2>" in page
    assert '<p class="note">No trades.</p>' in page
    assert '<p class="note">No benchmark for this backtest.</p>' in page
    assert '<p class="note">No prices.</p>' in page
    assert '"name":"Strategy"' in page
    assert '"name":"Benchmark"' not in page


def test_html_renders_without_any_bar():
    # given a result with nothing in it
    empty = result(equity_curve=curve_of([]), trades=[], benchmark_curve=None, prices={})
    # when
    page = ReportGenerator().generate_html(empty)
    # then
    assert page.count('<p class="note">No equity curve.</p>') == 3
    assert "0 bars of 1d" in page
    assert "Plotly.newPlot" not in without_plotly_js(page)


def test_html_trades_table_is_capped():
    # given three trades and room for two rows
    trades = [TRADES[0], TRADES[1], TRADES[0]]
    # when
    page = ReportGenerator(max_trade_rows=2).generate_html(result(trades=trades))
    # then
    assert "<td class='num'>2</td><td>MSFT</td>" in page
    assert "<td class='num'>3</td><td>AAPL</td>" not in page
    assert "The first 2 of 3 trades; the JSON report has them all." in page


# --- helpers ------------------------------------------------------------------------------------


def test_monthly_returns_chain_month_ends_from_the_initial_capital():
    # given month ends of 10200 (January) and 10302 (February) from 10000
    # when
    table = monthly_returns([p.ts for p in CURVE], np.array([p.equity for p in CURVE]), 10000.0)
    # then
    assert table.index.tolist() == [2024]
    assert table.columns.tolist() == list(range(1, 13))
    assert table.loc[2024, 1] == pytest.approx(2.0, rel=1e-12)
    assert table.loc[2024, 2] == pytest.approx(1.0, rel=1e-12)
    assert all(math.isnan(table.loc[2024, month]) for month in range(3, 13))


def test_monthly_returns_of_nothing_is_an_empty_table():
    # given / when
    table = monthly_returns([], np.array([]), 10000.0)
    # then
    assert table.empty
    assert table.columns.tolist() == list(range(1, 13))


def test_downsampling_keeps_each_buckets_first_low_high_and_last():
    # given ten points and room for eight: two buckets of five
    values = np.array([0.0, 5.0, 1.0, 9.0, 2.0, 3.0, -4.0, 7.0, 6.0, 1.0])
    # when
    kept = downsample_indices(values, max_points=8)
    # then bucket 0..4 keeps 0 (first and low), 3 (high), 4 (last); bucket 5..9 keeps 5, 6, 7, 9
    assert kept.tolist() == [0, 3, 4, 5, 6, 7, 9]


def test_downsampling_a_long_walk_keeps_its_extremes_and_ends():
    # given a random walk of 1,000,003 points
    walk = np.cumsum(np.random.default_rng(3).normal(size=1_000_003))
    # when
    kept = downsample_indices(walk)
    # then
    assert len(kept) <= 5000
    assert kept[0] == 0
    assert kept[-1] == 1_000_002
    assert int(np.argmin(walk)) in kept
    assert int(np.argmax(walk)) in kept
    assert np.all(np.diff(kept) > 0)


def test_a_short_series_is_not_downsampled():
    # given / when / then
    assert downsample_indices(np.arange(5000.0)).tolist() == list(range(5000))
