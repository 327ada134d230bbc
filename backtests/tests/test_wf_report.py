"""walk_forward_html on real walk-forwards of synthetic bars: one offline page with every window, the
DSR and PBO read plainly, the grid of the chosen window, and the empty cases."""

import base64
import dataclasses
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from plotly.offline import get_plotlyjs

from backtests.core.results import BacktestConfig
from backtests.core.walkforward import WalkForwardConfig, WalkForwardEngine
from backtests.core.wf_report import walk_forward_html
from marketdata.core.bars import Timeframe
from marketdata.core.providers.synthetic import SyntheticProvider
from strategies.core.config import StrategyConfig

GRID = {"fast": [5, 10, 20], "slow": [20, 40]}
MOMENTUM = StrategyConfig(strategy="momentum", universe=["AAA"])
NO_COSTS = BacktestConfig(commission_per_trade=Decimal(0), slippage_bps=Decimal(0), fill_timing="next_open")
HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SECTIONS = (
    "Overfitting checks",
    "Windows",
    "Stitched out-of-sample equity",
    "Per-window results",
    "Parameter stability",
    "Objective over the grid",
    "Out-of-sample metrics (stitched)",
    "PBO logit distribution",
)
# (in sample, out of sample) of the six windows over 1,006 sessions: 250 + 125, step 125.
DATES = [
    ("2020-01-02 to 2020-12-28", "2020-12-29 to 2021-06-28"),
    ("2020-07-01 to 2021-06-28", "2021-06-29 to 2021-12-23"),
    ("2020-12-29 to 2021-12-23", "2021-12-27 to 2022-06-24"),
    ("2021-06-29 to 2022-06-24", "2022-06-27 to 2022-12-21"),
    ("2021-12-27 to 2022-12-21", "2022-12-22 to 2023-06-23"),
    ("2022-06-27 to 2023-06-23", "2023-06-26 to 2023-12-20"),
]


@pytest.fixture(scope="module")
def bars():
    """Four years of synthetic daily AAA bars (seed 7): 1,006 sessions."""
    return SyntheticProvider(seed=7).bars(
        "AAA", datetime(2020, 1, 1, tzinfo=UTC), datetime(2023, 12, 31, tzinfo=UTC), Timeframe.D1
    )


def run(bars, config: StrategyConfig = MOMENTUM, **changes):
    values = {"in_sample_days": 250, "out_of_sample_days": 125, "step_days": 125, "parameter_grid": GRID}
    return WalkForwardEngine().run(None, config, bars, WalkForwardConfig(**(values | changes)), NO_COSTS)


@pytest.fixture(scope="module")
def result(bars):
    return run(bars)


@pytest.fixture(scope="module")
def page(result):
    return walk_forward_html(result)


def without_plotly_js(page: str) -> str:
    """The page minus the inlined plotly.js bundle, which must be there exactly once."""
    bundle = get_plotlyjs()
    assert page.count(bundle) == 1
    return page.replace(bundle, "")


def figure(page: str, name: str) -> tuple[list[dict], dict]:
    """The traces and layout of the plotly figure in the div figure-<name>."""
    start = re.search(rf'Plotly\.newPlot\(\s*"figure-{re.escape(name)}",\s*', page)
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(page, start.end())
    layout, _ = decoder.raw_decode(page, re.compile(r",\s*").match(page, end).end())
    return data, layout


def numbers(values) -> list[float]:
    """A plotted array: plain JSON, or plotly's base64 typed array."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return values


def figures(metrics) -> str:
    """The out-of-sample cells of a window's row, formatted independently of the report."""

    def signed(value: float | None) -> str:
        return "num" if not value else ("num pos" if value > 0 else "num neg")

    sharpe = "—" if metrics.sharpe_ratio is None else f"{metrics.sharpe_ratio:,.2f}"
    return (
        f"<td class='{signed(metrics.total_return_pct)}'>{metrics.total_return_pct:,.2f}%</td>"
        f"<td class='{signed(metrics.sharpe_ratio)}'>{sharpe}</td>"
        f"<td class='num'>{metrics.total_trades}</td><td class='num'>{metrics.max_drawdown_pct:,.2f}%</td>"
    )


# --- the page -----------------------------------------------------------------------------------


def test_the_page_opens_offline_with_every_section(page):
    # given a walk-forward of a 3 x 2 grid / when rendered / then nothing is fetched from anywhere
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Walk-forward of momentum</title>" in page
    for heading in SECTIONS:
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<script") == page.count('<script type="text/javascript">') + page.count("<script>")
    rest = without_plotly_js(page)
    assert "://" not in rest
    assert "<link" not in rest
    assert "@import" not in rest
    assert "src=" not in rest
    assert re.findall(r'Plotly\.newPlot\(\s*"figure-([\w-]+)"', rest) == [
        "timeline",
        "equity",
        "stability-0",
        "stability-1",
        "grid",
        "logits",
    ]


def test_the_header_names_the_run(page, result):
    # given / when / then
    assert (
        '<p class="sub">Strategy momentum · symbols AAA · rolling windows: 250 in-sample and 125 '
        "out-of-sample sessions, step 125 · objective sharpe_ratio, at least 1 in-sample trade(s) · grid of "
        "6 sets (fast (3) × slow (2)) · 42 trials, 7 could not run · 6 windows, out of sample 2020-12-29 to "
        "2023-12-20 · positions closed at each window end · walk-forward "
        f"{result.walk_forward_id}</p>"
    ) in page


def test_every_window_has_its_row_with_dates_parameters_and_figures(page, result):
    # given the chosen sets of the six windows
    chosen = [w.best_parameters for w in result.windows]
    assert chosen == [
        {"fast": 10, "slow": 20},
        {"fast": 5, "slow": 40},
        {"fast": 5, "slow": 40},
        {"fast": 10, "slow": 40},
        {"fast": 10, "slow": 40},
        {"fast": 5, "slow": 40},
    ]
    # when / then each row holds its dates, set, eligible sets, in-sample and out-of-sample figures
    for number, (window, (in_sample, out_of_sample)) in enumerate(zip(result.windows, DATES, strict=True)):
        parameters = f"fast={window.best_parameters['fast']}, slow={window.best_parameters['slow']}"
        ins = window.in_sample_metrics
        efficiency = "—" if window.efficiency is None else f"{window.efficiency:.2f}"
        assert (
            f"<tr><td>W{number + 1}</td><td>{in_sample}</td><td>{out_of_sample}</td><td>{parameters}</td>"
            f"<td class='num'>5 of 6</td>"
            f"<td class='num {'pos' if ins.sharpe_ratio > 0 else 'neg'}'>{ins.sharpe_ratio:.2f}</td>"
            f"<td class='num {'pos' if ins.total_return_pct > 0 else 'neg'}'>{ins.total_return_pct:.2f}%</td>"
            f"{figures(window.out_of_sample_metrics)}<td class='num'>{efficiency}</td>"
            "<td class='wrap'></td></tr>"
        ) in page


def test_dsr_and_pbo_are_shown_with_a_plain_reading(page, result):
    # given a DSR that does not pass
    dsr, pbo = result.deflated_sharpe, result.overfitting
    assert not dsr.passes()
    assert (dsr.trials, pbo.splits, pbo.partitions) == (5, 12870, 16)
    # when / then
    assert (
        f"<p><strong>DSR {dsr.probability:.2f}</strong>: the stitched out-of-sample Sharpe ratio is not "
        "significant once the 5 parameter sets tried are accounted for (needs &gt;= 0.95).</p>"
    ) in page
    assert (
        f"<p><strong>PBO {pbo.pbo:.2f}</strong>: in {round(pbo.pbo * 100)}% of the 12,870 splits of the "
        "whole span (16 blocks) the in-sample best set ranked at or below the median out of sample; in "
        f"{round(pbo.probability_of_loss * 100)}% its out-of-sample Sharpe ratio was negative.</p>"
    ) in page
    assert f"<p><strong>Efficiency {result.efficiency:.2f}</strong>: the stitched out-of-sample" in page


def test_a_passing_dsr_and_one_just_below_the_bar_read_apart(result):
    # given DSRs of 0.97 and of 0.9496 (which two decimals would round up to the bar)
    passing = dataclasses.replace(result.deflated_sharpe, probability=0.97)
    close = dataclasses.replace(result.deflated_sharpe, probability=0.9496)
    # when
    high = walk_forward_html(dataclasses.replace(result, deflated_sharpe=passing))
    below = walk_forward_html(dataclasses.replace(result, deflated_sharpe=close))
    # then
    assert "<strong>DSR 0.97</strong>: the stitched out-of-sample Sharpe ratio stays significant" in high
    assert "<strong>DSR 0.9496</strong>: the stitched out-of-sample Sharpe ratio is not significant" in below


def test_the_heatmap_shows_the_last_chosen_windows_objective_per_set(page, result):
    # given the in-sample Sharpe ratio of every set in the last window (W6), (20, 20) invalid
    sharpe = {
        (t.parameters["fast"], t.parameters["slow"]): t.metrics and t.metrics.sharpe_ratio
        for t in result.trials
        if t.window == 5
    }
    assert sharpe[20, 20] is None
    # when
    traces, layout = figure(page, "grid")
    # then one heatmap per window and one over the whole span; W6 shows, its choice (5, 40) starred
    assert [t["name"] for t in traces] == [
        "W1: in sample 2020-01-02 to 2020-12-28",
        "W2: in sample 2020-07-01 to 2021-06-28",
        "W3: in sample 2020-12-29 to 2021-12-23",
        "W4: in sample 2021-06-29 to 2022-06-24",
        "W5: in sample 2021-12-27 to 2022-12-21",
        "W6: in sample 2022-06-27 to 2023-06-23",
        "The whole span (the trials PBO reads)",
    ]
    assert [t["visible"] for t in traces] == [False] * 5 + [True, False]
    shown = traces[5]
    assert (shown["type"], shown["y"], shown["x"]) == ("heatmap", ["5", "10", "20"], ["20", "40"])
    assert shown["z"] == [
        [sharpe[5, 20], sharpe[5, 40]],
        [sharpe[10, 20], sharpe[10, 40]],
        [None, sharpe[20, 40]],
    ]
    assert shown["text"] == [
        [f"{sharpe[5, 20]:.2f}", f"{sharpe[5, 40]:.2f} ★"],
        [f"{sharpe[10, 20]:.2f}", f"{sharpe[10, 40]:.2f}"],
        ["", f"{sharpe[20, 40]:.2f}"],
    ]
    assert (
        "could not run: strategy &#x27;momentum&#x27; parameters: fast (20) must be below slow (20)"
        in (shown["hovertext"][2][0])
    )
    menu = layout["updatemenus"][0]
    assert menu["active"] == 5
    assert menu["buttons"][0]["args"] == [{"visible": [True] + [False] * 6}]
    assert "In-sample Sharpe ratio of every set in W6 (the last window with a chosen set)" in page


def test_stability_timeline_equity_and_logits_are_plotted(bars, result):
    # given room for 40 points of the 750-bar stitched curve
    page = walk_forward_html(result, max_plot_points=40)
    # when
    stability, _ = figure(page, "stability-0")
    timeline, _ = figure(page, "timeline")
    equity, layout = figure(page, "equity")
    logits, _ = figure(page, "logits")
    # then
    assert stability[0]["y"] == [10, 5, 5, 10, 10, 5]
    assert "<tr><th>Chosen per window</th><td>10, 5, 5, 10, 10, 5</td></tr>" in page
    assert "<tr><th>Spread (standard deviation)</th><td>2.50</td></tr>" in page
    assert [t["name"] for t in timeline] == ["In sample", "Out of sample"]
    assert timeline[1]["base"] == [f"{oos[:10]}T00:00:00" for _, oos in DATES]
    assert timeline[1]["hovertext"][0] == "W1 out of sample: 2020-12-29 to 2021-06-28<br>fast=10, slow=20"
    curve = result.aggregated_equity_curve.equity
    plotted = numbers(equity[0]["y"])
    assert len(plotted) <= 40
    assert (plotted[0], plotted[-1]) == (curve[0], curve[-1])
    assert (min(plotted), max(plotted)) == (curve.min(), curve.max())
    assert [s["x0"] for s in layout["shapes"]] == [f"{oos[:10]}T00:00:00" for _, oos in DATES]
    assert [a["text"] for a in layout["annotations"]] == ["W1", "W2", "W3", "W4", "W5", "W6"]
    assert numbers(logits[0]["x"]) == result.overfitting.logits.tolist()


# --- hostile text and empty cases ---------------------------------------------------------------


def test_text_from_the_run_is_escaped(bars):
    # given a strategy named with a script tag, and notes and a symbol with one
    hostile = run(bars, MOMENTUM.model_copy(update={"name": HOSTILE}))
    window = dataclasses.replace(hostile.windows[0], note=HOSTILE)
    oos = dataclasses.replace(hostile.out_of_sample, metadata={"symbols": [HOSTILE]})
    hostile = dataclasses.replace(
        hostile, windows=[window, *hostile.windows[1:]], out_of_sample=oos, notes=[HOSTILE]
    )
    # when
    page = walk_forward_html(hostile, title=f"Report {HOSTILE}")
    # then
    assert hostile.strategy_id == HOSTILE
    assert HOSTILE not in page
    assert f"<title>Report {ESCAPED}</title>" in page
    assert f"<h1>Report {ESCAPED}</h1>" in page
    assert f"Strategy {ESCAPED} · symbols {ESCAPED} ·" in page
    assert f"<td class='wrap'>{ESCAPED}</td></tr>" in page


def test_windows_without_an_eligible_set_render_out_of_the_market(bars):
    # given 9 in-sample trades required: only the last window has an eligible set
    strict = run(bars, min_trades_required=9)
    assert [w.best_parameters for w in strict.windows] == [None] * 5 + [{"fast": 5, "slow": 20}]
    # when
    page = walk_forward_html(strict)
    # then
    note = (
        "no parameter set made at least 9 in-sample trade(s) with a sharpe_ratio: the window stays out "
        "of the market"
    )
    assert (
        "<tr><td>W1</td><td>2020-01-02 to 2020-12-28</td><td>2020-12-29 to 2021-06-28</td>"
        "<td>none eligible (out of the market)</td><td class='num'>0 of 6</td><td class='num'>—</td>"
        "<td class='num'>—</td><td class='num'>0.00%</td><td class='num'>—</td><td class='num'>0</td>"
        f"<td class='num'>0.00%</td><td class='num'>—</td><td class='wrap'>{note}</td></tr>"
    ) in page
    assert "Grey out-of-sample spans had no eligible parameter set: they stayed out of the market." in page
    assert "<tr><th>Chosen per window</th><td>—, —, —, —, —, 5</td></tr>" in page
    timeline, _ = figure(page, "timeline")
    assert timeline[1]["marker"]["color"] == ["#6b7280"] * 5 + ["#1d4ed8"]
    _, layout = figure(page, "equity")
    assert [s["type"] for s in layout["shapes"]].count("rect") == 5
    traces, _ = figure(page, "grid")
    assert [t["visible"] for t in traces] == [False] * 5 + [True, False]


def test_no_eligible_set_anywhere_shows_why_the_dsr_is_missing(bars):
    # given so many trades required that no window trades
    idle = run(bars, min_trades_required=1000)
    assert idle.deflated_sharpe is None
    # when
    page = walk_forward_html(idle)
    # then
    assert (
        '<p><strong>DSR —</strong>: not computed.</p><p class="note">deflated Sharpe ratio: the returns '
        "are constant: zero standard deviation, no Sharpe ratio</p>"
    ) in page
    assert "<tr><th>Trades</th><td class='num'>0</td></tr>" in page
    assert "every set in W6 (no window had an eligible set; the last one)" in page
    assert "<tr><th>Chosen per window</th><td>—, —, —, —, —, —</td></tr>" in page


def test_without_a_grid_dsr_and_pbo_give_their_notes(bars):
    # given the strategy's own parameters only
    config = StrategyConfig(strategy="momentum", universe=["AAA"], parameters={"fast": 10, "slow": 40})
    plain = run(bars, config, parameter_grid={})
    # when
    page = walk_forward_html(plain)
    # then
    assert (
        '<p><strong>DSR —</strong>: not computed.</p><p class="note">deflated Sharpe ratio: the '
        "deflated Sharpe ratio needs at least 2 trials, not 1</p>"
    ) in page
    note = "probability of backtest overfitting: overfitting needs at least 2 trials (columns), not 1"
    assert f'<p><strong>PBO —</strong>: not computed.</p><p class="note">{note}</p>' in page
    assert f'<h2>PBO logit distribution</h2>\n<p class="note">{note}</p>' in page
    assert "no grid (the strategy's own parameters) · 7 trials ·" in page
    assert "<td>as configured</td><td class='num'>1 of 1</td>" in page
    assert "No parameter grid: every window ran the strategy&#x27;s own parameters." in page
    assert "No parameter grid: there is one set per window, nothing to compare it with." in page
    assert "figure-grid" not in page
    assert "figure-logits" not in page


def test_one_parameter_is_a_bar_chart_and_more_than_two_a_table(bars):
    # given a grid over fast only, and one over mean reversion's four parameters
    one = run(bars, parameter_grid={"fast": [5, 10, 15]})
    four = run(
        bars,
        StrategyConfig(strategy="mean_reversion", universe=["AAA"]),
        parameter_grid={"period": [10, 20], "band_std": [1.5, 2.0], "rsi_period": [14], "rsi_entry": [30.0]},
    )
    # when
    bars_page, table_page = walk_forward_html(one), walk_forward_html(four)
    # then
    traces, _ = figure(bars_page, "grid")
    shown = traces[5]
    last = {t.parameters["fast"]: t.metrics.sharpe_ratio for t in one.trials if t.window == 5}
    chosen = one.windows[5].best_parameters["fast"]
    assert (shown["type"], shown["x"], shown["y"]) == (
        "bar",
        ["5", "10", "15"],
        [last[5], last[10], last[15]],
    )
    assert shown["text"] == [f"{last[v]:.2f}" + (" ★" if v == chosen else "") for v in (5, 10, 15)]
    assert "4 parameters: a heatmap shows two." in table_page
    assert (
        "<tr><th>period</th><th>band_std</th><th>rsi_period</th><th>rsi_entry</th>"
        "<th class='num'>Sharpe ratio</th><th class='num'>Trades</th><th></th></tr>"
    ) in table_page
    assert "figure-grid" not in table_page
    best = four.windows[5].best_parameters
    assert (f"<tr><td>{best['period']}</td><td>{best['band_std']}</td><td>14</td><td>30.0</td>") in table_page
