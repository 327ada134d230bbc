"""The walk-forward report: one self-contained HTML page (plotly.js inlined, nothing fetched) that shows
the windows, what each chose and how it traded out of sample, and whether the edge survives the search.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backtests.core.report import (
    BLUE,
    GREEN,
    GREY,
    MAX_PLOT_POINTS,
    NONE,
    RED,
    _e,
    _figure_html,
    _metrics_html,
    _note,
    _num,
    _pct,
    _plot_times,
    _ratio,
    _scroll_table,
    _text,
    _when,
    downsample_indices,
    html_page,
    to_plain,
)
from backtests.core.walkforward import Objective, Trial, WalkForwardResult, WalkForwardWindowResult

DSR_CONFIDENCE = 0.95
LIGHT = "#cbd5e1"  # in-sample spans
OBJECTIVE_NAMES = {
    Objective.SHARPE_RATIO: "Sharpe ratio",
    Objective.TOTAL_RETURN: "total return",
    Objective.SORTINO_RATIO: "Sortino ratio",
    Objective.CALMAR_RATIO: "Calmar ratio",
    Objective.PROFIT_FACTOR: "profit factor",
}


def walk_forward_html(
    result: WalkForwardResult, *, title: str | None = None, max_plot_points: int = MAX_PLOT_POINTS
) -> str:
    """One HTML page that opens offline: plotly.js is inlined once in the head, no URL is loaded.

    Sections: the overfitting checks (DSR, PBO, efficiency, each with a plain reading), the windows on
    a timeline, the stitched out-of-sample equity with the window boundaries, a table per window,
    parameter stability, the objective over the grid in one window (a heatmap for two parameters, a
    bar chart for one; a selector switches windows), the aggregated out-of-sample metrics and the PBO
    logit histogram. Curves are downsampled to max_plot_points (extremes kept, as in the backtest
    report). Windows are numbered from 1 (W1 is window index 0).
    """
    title = title or f"Walk-forward of {result.strategy_id}"
    sections = [
        ("checks", "Overfitting checks", _checks_html(result)),
        ("timeline", "Windows", _timeline_html(result)),
        ("equity", "Stitched out-of-sample equity", _equity_html(result, max_plot_points)),
        ("windows", "Per-window results", _windows_html(result)),
        ("stability", "Parameter stability", _stability_html(result)),
        ("grid", "Objective over the grid", _grid_html(result)),
        ("metrics", "Out-of-sample metrics (stitched)", _metrics_html(result.aggregated_metrics)),
        ("logits", "PBO logit distribution", _logits_html(result)),
    ]
    return html_page(title, _subtitle(result), sections)


# --- header and checks ----------------------------------------------------------------------------


def _subtitle(result: WalkForwardResult) -> str:
    config = result.config
    symbols = result.out_of_sample.metadata.get("symbols") or []
    grid = config.parameter_grid
    failed = sum(1 for t in result.trials if t.error)
    sets = len(config.combinations())
    windows = result.windows
    parts = [
        f"Strategy {_e(result.strategy_id)}",
        f"symbols {_e(', '.join(map(str, symbols)) or NONE)}",
        f"{_e(config.window_type.value)} windows: {config.in_sample_days:,} in-sample and "
        f"{config.out_of_sample_days:,} out-of-sample sessions, step {config.step_days:,}",
        f"objective {_e(config.objective.value)}, at least {config.min_trades_required:,} in-sample trade(s)",
        (
            f"grid of {sets:,} sets ({_e(' × '.join(f'{name} ({len(v)})' for name, v in grid.items()))})"
            if grid
            else "no grid (the strategy's own parameters)"
        ),
        f"{len(result.trials):,} trials" + (f", {failed:,} could not run" if failed else ""),
        f"{len(windows):,} windows, out of sample {_day(windows[0].window.out_of_sample_start)} to "
        f"{_day(windows[-1].window.out_of_sample_end)}",
        "positions carried across windows"
        if config.carry_positions
        else "positions closed at each window end",
        f"walk-forward {_e(str(result.walk_forward_id))}",
    ]
    return " · ".join(parts)


def _checks_html(result: WalkForwardResult) -> str:
    return "\n".join([_dsr_html(result), _pbo_html(result), _efficiency_html(result)])


def _dsr_html(result: WalkForwardResult) -> str:
    dsr = result.deflated_sharpe
    if dsr is None:
        return _verdict(f"DSR {NONE}", "not computed.") + _notes(result.notes, "deflated Sharpe ratio")
    passes = dsr.passes(DSR_CONFIDENCE)
    reading = (
        f"the stitched out-of-sample Sharpe ratio {'stays' if passes else 'is not'} significant once the "
        f"{dsr.trials:,} parameter sets tried are accounted for (needs >= {DSR_CONFIDENCE:.2f})."
    )
    detail = (
        f"Per-bar Sharpe ratio {dsr.sharpe:.4f} against {dsr.expected_max_sharpe:.4f}, the best expected "
        f"from {dsr.trials:,} trials without skill; {dsr.observations:,} returns, skewness "
        f"{dsr.skewness:.2f}, kurtosis {dsr.kurtosis:.2f}."
    )
    return _verdict(f"DSR {_probability(dsr.probability, passes)}", reading) + _note(detail)


def _pbo_html(result: WalkForwardResult) -> str:
    pbo = result.overfitting
    if pbo is None:
        return _verdict(f"PBO {NONE}", "not computed.") + _notes(
            result.notes, "probability of backtest overfitting"
        )
    reading = (
        f"in {pbo.pbo:.0%} of the {pbo.splits:,} splits of the whole span ({pbo.partitions} blocks) the "
        "in-sample best set ranked at or below the median out of sample; in "
        f"{pbo.probability_of_loss:.0%} its out-of-sample Sharpe ratio was negative."
    )
    return _verdict(f"PBO {pbo.pbo:.2f}", reading) + _note(
        "A set picked at random would score about 0.50; lower is better."
    )


def _efficiency_html(result: WalkForwardResult) -> str:
    if result.efficiency is None:
        return _verdict(
            f"Efficiency {NONE}",
            "not computed: it needs an out-of-sample annualised return and a positive mean in-sample "
            "one of the chosen sets.",
        )
    return _verdict(
        f"Efficiency {result.efficiency:.2f}",
        f"the stitched out-of-sample annualised return is {result.efficiency:.2f} times the mean "
        "in-sample annualised return of the chosen sets (1.00 would keep all of it).",
    )


def _verdict(figure: str, reading: str) -> str:
    return f"<p><strong>{_e(figure)}</strong>: {_e(reading)}</p>"


def _notes(notes: Sequence[str], prefix: str) -> str:
    matching = [n for n in notes if n.startswith(prefix)] or list(notes)
    return "".join(_note(n) for n in matching)


def _probability(value: float, passes: bool) -> str:
    """Two decimals, more when two would round across the threshold (0.949 is not 0.95)."""
    text = f"{value:.2f}"
    return text if (float(text) >= DSR_CONFIDENCE) == passes else f"{value:.4f}"


# --- timeline and equity --------------------------------------------------------------------------


def _timeline_html(result: WalkForwardResult) -> str:
    windows = result.windows
    labels = [_label(w) for w in windows]
    # Bars are drawn from the span's first bar to the next span's first bar (out of sample: to the end
    # of its last day), so adjacent spans touch; the hover gives the spans' real first and last bars.
    is_starts = [w.window.in_sample_start for w in windows]
    oos_starts = [w.window.out_of_sample_start for w in windows]
    oos_ends = [_day_end(w.window.out_of_sample_end) for w in windows]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            name="In sample",
            y=labels,
            base=_plot_times(is_starts),
            x=_milliseconds(is_starts, oos_starts),
            orientation="h",
            marker={"color": LIGHT},
            hovertext=[
                f"{_label(w)} in sample: {_day(w.window.in_sample_start)} to {_day(w.window.in_sample_end)}"
                for w in windows
            ],
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Bar(
            name="Out of sample",
            y=labels,
            base=_plot_times(oos_starts),
            x=_milliseconds(oos_starts, oos_ends),
            orientation="h",
            marker={"color": [BLUE if w.best_parameters is not None else GREY for w in windows]},
            hovertext=[
                f"{_label(w)} out of sample: {_day(w.window.out_of_sample_start)} to "
                f"{_day(w.window.out_of_sample_end)}<br>{_e(_parameters(w.best_parameters))}"
                for w in windows
            ],
            hoverinfo="text",
        )
    )
    fig.update_layout(
        barmode="overlay",
        xaxis={"type": "date"},
        yaxis={"type": "category", "autorange": "reversed"},
    )
    note = _note("Grey out-of-sample spans had no eligible parameter set: they stayed out of the market.")
    return (note if any(w.best_parameters is None for w in windows) else "") + _figure_html(
        fig, "timeline", height=120 + 26 * len(windows)
    )


def _equity_html(result: WalkForwardResult, max_plot_points: int) -> str:
    curve = result.aggregated_equity_curve
    if not len(curve):
        return _note("No equity curve.")
    fig = go.Figure(_line(curve.ts, curve.equity, max_plot_points, "Walk-forward", BLUE, None))
    benchmark = result.out_of_sample.benchmark_curve
    if benchmark is not None and len(benchmark):
        fig.add_trace(
            _line(
                benchmark.index,
                benchmark.to_numpy(dtype="float64"),
                max_plot_points,
                "Buy and hold",
                GREY,
                "dot",
            )
        )
    windows = result.windows
    ends = [w.window.out_of_sample_start for w in windows[1:]] + [curve.ts[-1].to_pydatetime()]
    for w, end in zip(windows, ends, strict=True):
        start = _plot_time(w.window.out_of_sample_start)
        if w.best_parameters is None:
            fig.add_shape(
                type="rect",
                x0=start,
                x1=_plot_time(end),
                y0=0,
                y1=1,
                yref="paper",
                fillcolor=GREY,
                opacity=0.12,
                line={"width": 0},
                layer="below",
            )
        fig.add_shape(
            type="line",
            x0=start,
            x1=start,
            y0=0,
            y1=1,
            yref="paper",
            line={"color": GREY, "width": 1, "dash": "dot"},
        )
        fig.add_annotation(
            x=start,
            y=1,
            yref="paper",
            text=_label(w),
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"color": GREY, "size": 11},
        )
    fig.update_layout(yaxis_title="Equity", hovermode="x unified")
    note = _note(
        "Dotted lines mark where each window's out-of-sample span starts; shaded spans had no eligible "
        "set and stayed out of the market."
        if any(w.best_parameters is None for w in windows)
        else "Dotted lines mark where each window's out-of-sample span starts."
    )
    return note + _figure_html(fig, "equity", height=420)


def _line(
    ts: pd.DatetimeIndex, values: np.ndarray, max_points: int, name: str, color: str, dash: str | None
) -> go.Scatter:
    keep = downsample_indices(values, max_points)
    return go.Scatter(
        x=_plot_times(ts[keep]),
        y=values[keep],
        mode="lines",
        name=name,
        line={"color": color, "width": 1.5, "dash": dash or "solid"},
    )


# --- windows table --------------------------------------------------------------------------------


def _windows_html(result: WalkForwardResult) -> str:
    objective = result.config.objective
    sets = len(result.config.combinations())
    head = (
        "<tr><th>Window</th><th>In sample</th><th>Out of sample</th><th>Parameters</th>"
        f"<th class='num'>Eligible sets</th><th class='num'>In-sample {_e(_objective_name(objective))}</th>"
        "<th class='num'>In-sample return</th><th class='num'>OOS return</th><th class='num'>OOS Sharpe</th>"
        "<th class='num'>OOS trades</th><th class='num'>OOS max drawdown</th>"
        "<th class='num'>Efficiency</th><th>Note</th></tr>"
    )
    rows = []
    for w in result.windows:
        ins, oos = w.in_sample_metrics, w.out_of_sample_metrics
        score = None if ins is None else objective.of(ins)
        in_return = None if ins is None else ins.total_return_pct
        rows.append(
            "<tr>"
            f"<td>{_label(w)}</td>"
            f"<td>{_day(w.window.in_sample_start)} to {_day(w.window.in_sample_end)}</td>"
            f"<td>{_day(w.window.out_of_sample_start)} to {_day(w.window.out_of_sample_end)}</td>"
            f"<td>{_e(_parameters(w.best_parameters))}</td>"
            f"<td class='num'>{w.eligible_sets:,} of {sets:,}</td>"
            f"<td class='{_num(score)}'>{_objective_value(objective, score)}</td>"
            f"<td class='{_num(in_return)}'>{_pct(in_return)}</td>"
            f"<td class='{_num(oos.total_return_pct)}'>{_pct(oos.total_return_pct)}</td>"
            f"<td class='{_num(oos.sharpe_ratio)}'>{_ratio(oos.sharpe_ratio)}</td>"
            f"<td class='num'>{oos.total_trades:,}</td>"
            f"<td class='num'>{_pct(oos.max_drawdown_pct)}</td>"
            f"<td class='num'>{_ratio(w.efficiency)}</td>"
            f"<td class='wrap'>{_e(w.note)}</td>"
            "</tr>"
        )
    return _scroll_table(head, rows)


# --- parameter stability --------------------------------------------------------------------------


def _stability_html(result: WalkForwardResult) -> str:
    if not result.parameter_stability:
        return _note("No parameter grid: every window ran the strategy's own parameters.")
    labels = [_label(w) for w in result.windows]
    parts = [
        _note(
            "Spread: standard deviation of the chosen value over the windows. Neighbour drop: how far the "
            "in-sample objective falls, on average, one grid step from the chosen value along this "
            "parameter (the others fixed); a large drop is a sharp peak that small changes lose."
        )
    ]
    for number, s in enumerate(result.parameter_stability):
        drop = _ratio(s.neighbour_drop)
        if s.neighbour_drop_pct is not None:
            drop += f" ({_pct(s.neighbour_drop_pct)} of the best)"
        rows = [
            ("Chosen per window", ", ".join(NONE if v is None else _value(v) for v in s.values)),
            ("Distinct values", f"{s.distinct:,}"),
            ("Spread (standard deviation)", _ratio(s.spread)),
            ("Neighbour drop", drop),
        ]
        table = "<table class='kv'>\n" + "\n".join(
            f"<tr><th>{label}</th><td>{_e(value)}</td></tr>" for label, value in rows
        )
        fig = go.Figure(
            go.Scatter(
                x=labels,
                y=[None if v is None else _plot_value(v) for v in s.values],
                mode="lines+markers",
                name=_e(s.parameter),
                line={"color": BLUE, "width": 1.5},
                marker={"size": 9},
            )
        )
        fig.update_layout(xaxis={"type": "category", "title": "Window"}, yaxis_title=_e(s.parameter))
        parts.append(
            f"<h3>{_e(s.parameter)}</h3>\n{table}\n</table>\n"
            + _figure_html(fig, f"stability-{number}", height=260)
        )
    return "\n".join(parts)


# --- the grid in one window -----------------------------------------------------------------------


def _grid_html(result: WalkForwardResult) -> str:
    grid = result.config.parameter_grid
    if not grid:
        return _note("No parameter grid: there is one set per window, nothing to compare it with.")
    windows = result.windows
    chosen = [k for k, w in enumerate(windows) if w.best_parameters is not None]
    shown = chosen[-1] if chosen else len(windows) - 1
    why = "the last window with a chosen set" if chosen else "no window had an eligible set; the last one"
    intro = _note(
        f"In-sample {_objective_name(result.config.objective)} of every set in {_label(windows[shown])} "
        f"({why}); ★ marks the chosen set, blank cells could not run or have no value. "
        "The menu above the chart switches windows (and the whole span, the trials PBO reads)."
    )
    names = list(grid)
    if len(names) > 2:
        return _note(
            f"{len(names)} parameters: a heatmap shows two. The in-sample objective of every set in "
            f"{_label(windows[shown])} ({why}):"
        ) + _sets_table(result, windows[shown])
    options = [
        (
            f"{_label(w)}: in sample {_day(w.window.in_sample_start)} to {_day(w.window.in_sample_end)}",
            [t for t in result.trials if t.window == w.window.index],
            w.best_parameters,
        )
        for w in windows
    ]
    options.append(
        ("The whole span (the trials PBO reads)", [t for t in result.trials if t.window is None], None)
    )
    plot = _heatmap if len(names) == 2 else _bars
    fig = go.Figure()
    for k, (label, trials, best) in enumerate(options):
        fig.add_trace(plot(result, names, label, trials, best))
        fig.data[-1].visible = k == shown
    # The menu's labels say which window is shown: no title, which would need a wider top margin.
    fig.update_layout(
        updatemenus=[
            {
                "type": "dropdown",
                "active": shown,
                "x": 0,
                "y": 1.0,
                "xanchor": "left",
                "yanchor": "bottom",
                "pad": {"b": 2},
                "buttons": [
                    {
                        "label": label,
                        "method": "update",
                        "args": [{"visible": [j == k for j in range(len(options))]}],
                    }
                    for k, (label, _, _) in enumerate(options)
                ],
            }
        ],
    )
    if len(names) == 2:
        fig.update_layout(
            xaxis={"type": "category", "title": _e(names[1]), "side": "bottom"},
            yaxis={"type": "category", "title": _e(names[0]), "autorange": "reversed"},
        )
        height = 140 + 40 * len(grid[names[0]])
    else:
        fig.update_layout(
            xaxis={"type": "category", "title": _e(names[0])},
            yaxis_title=_e(_objective_name(result.config.objective)),
        )
        height = 380
    return intro + _figure_html(fig, "grid", height=max(height, 320))


@dataclass(frozen=True)
class _Cell:
    value: float | None  # the set's in-sample objective
    text: str  # its label, ★ when chosen
    hover: str
    chosen: bool


def _cell(objective: Objective, trial: Trial | None, best: Mapping[str, Any] | None) -> _Cell:
    if trial is None:
        return _Cell(None, "", "not tried", False)
    what = _e(_parameters(trial.parameters))
    if trial.metrics is None:
        return _Cell(None, "", f"{what}<br>could not run: {_e(trial.error or NONE)}", False)
    value = objective.of(trial.metrics)
    text = _objective_value(objective, value)
    chosen = best is not None and dict(trial.parameters) == dict(best)
    hover = f"{what}<br>{_objective_name(objective)} {text}<br>{trial.metrics.total_trades:,} trades" + (
        "<br>chosen" if chosen else ""
    )
    return _Cell(value, "" if value is None else text + (" ★" if chosen else ""), hover, chosen)


def _heatmap(
    result: WalkForwardResult,
    names: Sequence[str],
    label: str,
    trials: Sequence[Trial],
    best: Mapping[str, Any] | None,
) -> go.Heatmap:
    objective = result.config.objective
    rows, columns = (result.config.parameter_grid[name] for name in names)
    found = _by_values(trials, names)
    cells = [[_cell(objective, found.get((r, c)), best) for c in columns] for r in rows]
    return go.Heatmap(
        z=[[cell.value for cell in row] for row in cells],
        x=[_e(_value(c)) for c in columns],
        y=[_e(_value(r)) for r in rows],
        text=[[cell.text for cell in row] for row in cells],
        hovertext=[[cell.hover for cell in row] for row in cells],
        texttemplate="%{text}",
        hoverinfo="text",
        name=label,
        colorscale="RdYlGn",
        zmid=1.0 if objective is Objective.PROFIT_FACTOR else 0.0,
        xgap=2,
        ygap=2,
    )


def _bars(
    result: WalkForwardResult,
    names: Sequence[str],
    label: str,
    trials: Sequence[Trial],
    best: Mapping[str, Any] | None,
) -> go.Bar:
    objective = result.config.objective
    values = result.config.parameter_grid[names[0]]
    found = _by_values(trials, names)
    cells = [_cell(objective, found.get((v,)), best) for v in values]
    return go.Bar(
        x=[_e(_value(v)) for v in values],
        y=[cell.value for cell in cells],
        text=[cell.text for cell in cells],
        hovertext=[cell.hover for cell in cells],
        hoverinfo="text",
        textposition="outside",
        name=label,
        marker={"color": [GREEN if cell.chosen else BLUE for cell in cells]},
    )


def _sets_table(result: WalkForwardResult, window: WalkForwardWindowResult) -> str:
    objective = result.config.objective
    names = list(result.config.parameter_grid)
    trials = [t for t in result.trials if t.window == window.window.index]
    head = (
        "<tr>"
        + "".join(f"<th>{_e(name)}</th>" for name in names)
        + f"<th class='num'>{_e(_objective_name(objective))}</th><th class='num'>Trades</th><th></th></tr>"
    )
    rows = []
    for t in trials:
        value = None if t.metrics is None else objective.of(t.metrics)
        picked = window.best_parameters is not None and dict(t.parameters) == dict(window.best_parameters)
        status = "chosen" if picked else (f"could not run: {t.error}" if t.metrics is None else "")
        rows.append(
            "<tr>"
            + "".join(f"<td>{_e(_value(t.parameters.get(name)))}</td>" for name in names)
            + f"<td class='{_num(value)}'>{_objective_value(objective, value)}</td>"
            f"<td class='num'>{NONE if t.metrics is None else f'{t.metrics.total_trades:,}'}</td>"
            f"<td class='wrap'>{_e(status)}</td></tr>"
        )
    return _scroll_table(head, rows)


def _by_values(trials: Sequence[Trial], names: Sequence[str]) -> dict[tuple, Trial]:
    """The trials by their values of the named parameters (the first of any with the same)."""
    found: dict[tuple, Trial] = {}
    for trial in trials:
        found.setdefault(tuple(trial.parameters.get(name) for name in names), trial)
    return found


# --- PBO logits -----------------------------------------------------------------------------------


def _logits_html(result: WalkForwardResult) -> str:
    pbo = result.overfitting
    if pbo is None:
        return _notes(result.notes, "probability of backtest overfitting") or _note("No PBO.")
    fig = go.Figure(
        go.Histogram(
            x=np.asarray(pbo.logits, dtype="float64"), name="Splits", marker={"color": BLUE}, nbinsx=40
        )
    )
    fig.add_shape(
        type="line", x0=0, x1=0, y0=0, y1=1, yref="paper", line={"color": RED, "width": 1.5, "dash": "dash"}
    )
    fig.update_layout(
        xaxis_title="Logit of the in-sample best set's relative out-of-sample rank",
        yaxis_title="Splits",
        showlegend=False,
        bargap=0.05,
    )
    note = _note(
        f"One logit per split ({pbo.splits:,}). At or left of 0 the in-sample best ranked at or below "
        f"the out-of-sample median: those splits make the PBO of {pbo.pbo:.2f}."
    )
    return note + _figure_html(fig, "logits", height=320)


# --- formatting -----------------------------------------------------------------------------------


def _label(window: WalkForwardWindowResult) -> str:
    return f"W{window.window.index + 1}"


def _day(ts: datetime) -> str:
    """A session's UTC date: windows are counted in sessions (see walk_forward_windows)."""
    return _when(ts)[:10]


def _day_end(ts: datetime) -> datetime:
    return pd.Timestamp(ts).normalize().to_pydatetime() + timedelta(days=1)


def _plot_time(ts: datetime) -> str:
    return str(_plot_times([ts])[0])


def _milliseconds(starts: Sequence[datetime], ends: Sequence[datetime]) -> list[float]:
    return [(end - start).total_seconds() * 1000.0 for start, end in zip(starts, ends, strict=True)]


def _value(value: Any) -> str:
    return _text(to_plain(value))


def _plot_value(value: Any) -> Any:
    """Numbers as numbers (plotted on a numeric axis), anything else as escaped text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _e(_value(value))


def _parameters(parameters: Mapping[str, Any] | None) -> str:
    if parameters is None:
        return "none eligible (out of the market)"
    if not parameters:
        return "as configured"
    return ", ".join(f"{name}={_value(value)}" for name, value in parameters.items())


def _objective_name(objective: Objective) -> str:
    return OBJECTIVE_NAMES[objective]


def _objective_value(objective: Objective, value: float | None) -> str:
    return _pct(value) if objective is Objective.TOTAL_RETURN else _ratio(value)
