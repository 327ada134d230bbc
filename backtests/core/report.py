"""Backtest reports: a plain JSON document, and one self-contained HTML page that opens offline."""

import dataclasses
import functools
import html
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from backtests.core.metrics import drawdowns
from backtests.core.results import BacktestResult, EquityCurve, PerformanceMetrics, Trade
from execution.core.option_book import OptionTrade

MAX_PLOT_POINTS = 5000  # per plotted line
MAX_TRADE_ROWS = 5000  # in the HTML trades table; the JSON document holds every trade
MAX_IMPORTANCE_BARS = 25  # features in a model's importance chart
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
GREEN, RED, BLUE, GREY = "#15803d", "#b91c1c", "#1d4ed8", "#6b7280"
NONE = "—"

# Buys point up in green, sells down in red; entries are filled, exits hollow.
MARKERS = {
    ("long", "entry"): ("Long entry", "triangle-up", GREEN),
    ("long", "exit"): ("Long exit", "triangle-down-open", RED),
    ("short", "entry"): ("Short entry", "triangle-down", RED),
    ("short", "exit"): ("Short exit", "triangle-up-open", GREEN),
}

CSS = """
body{margin:0;background:#f5f6f8;color:#1f2937;font:14px/1.45 system-ui,"Segoe UI",Roboto,sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:0 0 12px}
h3{font-size:14px;margin:16px 0 4px}
.sub{color:#6b7280;margin:0 0 20px;line-height:1.7}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px 20px;margin:0 0 20px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:8px 24px}
table{border-collapse:collapse;width:100%}
caption{text-align:left;font-weight:600;padding:4px 8px}
th,td{padding:4px 8px;border-bottom:1px solid #eef0f3;text-align:left;white-space:nowrap}
thead th{position:sticky;top:0;background:#f9fafb}
.kv th{font-weight:normal;color:#4b5563}
.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:#15803d}
.neg{color:#b91c1c}
.note{color:#6b7280;font-style:italic}
.scroll{max-height:640px;overflow:auto}
.wrap{white-space:normal;min-width:260px}
"""


_JSON_SCALARS = frozenset({type(None), bool, int, str})


def to_plain(value: Any) -> Any:
    """A JSON-serialisable copy of value: Decimal and UUID as strings, datetimes in ISO 8601,
    enums by value, numpy scalars and arrays as Python numbers and lists, dataclasses and mappings as
    dicts, NaN and inf as None (JSON has no such numbers); anything else as its str()."""
    kind = type(value)  # the plain types first, by exact type (an enum may be an int or a str)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind in _JSON_SCALARS:
        return value
    if isinstance(value, Enum):
        return to_plain(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, np.generic | np.ndarray):
        return to_plain(value.tolist())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_plain(v) for v in value]
    return str(value)


def downsample_indices(values: np.ndarray, max_points: int = MAX_PLOT_POINTS) -> np.ndarray:
    """Sorted indices of at most max_points of values that draw the same line at report scale.

    A series of at most max_points is kept whole. A longer one is cut into max_points // 4 equal
    buckets of consecutive points, and each bucket keeps its first, lowest, highest and last point:
    peaks and troughs (the deepest drawdown) stay exactly where they are, as do the first and last.
    """
    values = np.asarray(values, dtype="float64")
    n = values.size
    if n <= max_points:
        return np.arange(n)
    if max_points < 4:
        raise ValueError("max_points must be at least 4")
    size = -(-n // (max_points // 4))
    buckets = -(-n // size)
    lows = np.full(buckets * size, np.inf)
    lows[:n] = values
    highs = np.full(buckets * size, -np.inf)
    highs[:n] = values
    starts = np.arange(buckets) * size
    ends = np.minimum(starts + size, n) - 1
    low_at = starts + lows.reshape(buckets, size).argmin(axis=1)
    high_at = starts + highs.reshape(buckets, size).argmax(axis=1)
    return np.unique(np.concatenate((starts, low_at, high_at, ends)))


def monthly_returns(
    timestamps: Sequence[datetime], equity: np.ndarray, initial_capital: float
) -> pd.DataFrame:
    """Month-by-month returns in percent: a frame of years (rows) x months 1..12 (columns), NaN
    where the curve has no bar. A month's return is its last equity over the previous month's last
    (initial_capital before the first month), minus 1; months are UTC calendar months; a month after
    equity fell to zero or below has none."""
    columns = pd.Index(range(1, 13), name="month")
    if len(timestamps) == 0:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="year"), dtype="float64")
    index = pd.to_datetime(timestamps, utc=True)
    month_end = (
        pd.Series(np.asarray(equity, dtype="float64"), index=index).groupby([index.year, index.month]).last()
    )
    base = month_end.shift(1)
    base.iloc[0] = float(initial_capital)
    returns = (month_end / base.where(base > 0) - 1.0) * 100.0
    table = returns.unstack().reindex(columns=columns)
    table.index.name = "year"
    return table


def html_page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """A report page that opens offline: plotly.js inlined once in the head, no URL loaded.
    subtitle is HTML (escaped by the caller); sections are (anchor, heading, HTML content)."""
    body = "\n".join(
        f'<section id="{key}">\n<h2>{heading}</h2>\n{content}\n</section>'
        for key, heading, content in sections
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{CSS}</style>",
            f'<script type="text/javascript">{_plotly_js()}</script>',
            "</head>",
            "<body>",
            "<main>",
            f"<h1>{_e(title)}</h1>",
            f'<p class="sub">{subtitle}</p>',
            body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


class ReportGenerator:
    """Reports of a BacktestResult: generate_json for machines, generate_html for people."""

    def __init__(self, *, max_plot_points: int = MAX_PLOT_POINTS, max_trade_rows: int = MAX_TRADE_ROWS):
        self.max_plot_points = max_plot_points
        self.max_trade_rows = max_trade_rows

    def generate_json(self, result: BacktestResult) -> dict[str, Any]:
        """The whole result as plain JSON types: every equity point and every trade; config
        Decimals as strings; times in ISO 8601; NaN and inf as null."""
        return {
            "backtest_id": str(result.backtest_id),
            "strategy_id": result.strategy_id,
            "config": to_plain(result.config),
            "start_time": result.start_time.isoformat(),
            "end_time": result.end_time.isoformat(),
            "metadata": to_plain(result.metadata),
            "metrics": to_plain(result.metrics),
            "equity_curve": equity_curve_json(result.equity_curve),
            "trades": [trade_json(t) for t in result.trades],
            "option_trades": [option_trade_json(t) for t in result.option_trades],
        }

    def generate_html(self, result: BacktestResult, *, title: str | None = None) -> str:
        """One HTML page that opens offline: plotly.js is inlined once in the head, no URL is loaded.

        Sections: headline metrics, the model (for a strategy that trades one: its lineage, whether
        the backtest's bars lie in its training span, and its feature importance chart), equity vs
        benchmark, drawdown (%), each symbol's price with its trades' entries and exits, monthly
        returns, the trades table, the option trades (of an options backtest: legs, net premium,
        greeks at entry, P&L per leg) and the configuration. Each plotted line is downsampled to
        max_plot_points (see downsample_indices: the first, lowest, highest and last point of every
        bucket), so a million-bar backtest stays a few megabytes; the trades table shows the first
        max_trade_rows trades.
        """
        title = title or f"Backtest of {result.strategy_id}"
        timestamps, equity = result.equity_curve.ts, result.equity_curve.equity
        initial = float(result.config.initial_capital)
        sections = [
            ("metrics", "Headline metrics", _metrics_html(result.metrics)),
            ("equity", "Equity vs benchmark", self._equity_html(timestamps, equity, result.benchmark_curve)),
            ("drawdown", "Drawdown", self._drawdown_html(timestamps, equity, initial)),
            ("prices", "Prices and trades", self._prices_html(result.prices, result.trades)),
            ("monthly", "Monthly returns", _monthly_html(timestamps, equity, initial)),
            ("trades", "Trades", self._trades_html(result.trades)),
            ("config", "Configuration", _config_html(result)),
        ]
        if result.option_trades or result.metadata.get("path") == "options":
            sections.insert(-1, ("options", "Option trades", self._option_trades_html(result.option_trades)))
        model = result.metadata.get("model")
        if model:
            sections.insert(1, ("model", "Model and feature importance", _model_html(model, result)))
        subtitle = " · ".join(
            [
                f"Strategy {_e(result.strategy_id)}",
                f"{_when(result.start_time)} to {_when(result.end_time)}",
                f"{len(result.equity_curve):,} bars of {_e(to_plain(result.config.timeframe))}",
                f"backtest {_e(str(result.backtest_id))}",
            ]
        )
        return html_page(title, subtitle, sections)

    # --- figures --------------------------------------------------------------------------------

    def _line(self, ts: Sequence[datetime], y: np.ndarray, **kwargs: Any) -> go.Scatter:
        keep = downsample_indices(y, self.max_plot_points)
        x = ts[keep] if isinstance(ts, pd.DatetimeIndex) else [ts[i] for i in keep]
        return go.Scatter(x=_plot_times(x), y=y[keep], mode="lines", **kwargs)

    def _equity_html(
        self, timestamps: pd.DatetimeIndex, equity: np.ndarray, benchmark: pd.Series | None
    ) -> str:
        if not len(equity):
            return _note("No equity curve.")
        fig = go.Figure(self._line(timestamps, equity, name="Strategy", line={"color": BLUE, "width": 1.5}))
        has_benchmark = benchmark is not None and len(benchmark) > 0
        if has_benchmark:
            fig.add_trace(
                self._line(
                    benchmark.index,
                    benchmark.to_numpy(dtype="float64"),
                    name="Benchmark",
                    line={"color": GREY, "width": 1.2, "dash": "dot"},
                )
            )
        fig.update_layout(yaxis_title="Equity", hovermode="x unified")
        note = "" if has_benchmark else _note("No benchmark for this backtest.")
        return note + _figure_html(fig, "equity", height=420)

    def _drawdown_html(self, timestamps: pd.DatetimeIndex, equity: np.ndarray, initial: float) -> str:
        if not len(equity):
            return _note("No equity curve.")
        below_peak = -drawdowns(equity, initial)[1]
        fig = go.Figure(
            self._line(
                timestamps,
                below_peak,
                name="Drawdown",
                fill="tozeroy",
                line={"color": RED, "width": 1},
                hovertemplate="%{x}<br>%{y:.2f}%<extra></extra>",
            )
        )
        fig.update_layout(yaxis_title="Below running peak", yaxis_ticksuffix="%", showlegend=False)
        return _figure_html(fig, "drawdown", height=280)

    def _prices_html(self, prices: dict[str, pd.Series], trades: list[Trade]) -> str:
        symbols = sorted(set(prices) | {t.symbol for t in trades})
        if not symbols:
            return _note("No prices.")
        parts = []
        for number, symbol in enumerate(symbols):
            fig = go.Figure()
            closes = prices.get(symbol)
            if closes is not None and len(closes):
                fig.add_trace(
                    self._line(
                        closes.index,
                        closes.to_numpy(dtype="float64"),
                        name="Close",
                        line={"color": BLUE, "width": 1.2},
                    )
                )
            for trace in _marker_traces([t for t in trades if t.symbol == symbol]):
                fig.add_trace(trace)
            fig.update_layout(yaxis_title="Price")
            parts.append(f"<h3>{_e(symbol)}</h3>\n{_figure_html(fig, f'price-{number}', height=380)}")
        return "\n".join(parts)

    def _trades_html(self, trades: list[Trade]) -> str:
        if not trades:
            return _note("No trades.")
        head = (
            "<tr><th class='num'>#</th><th>Symbol</th><th>Direction</th><th class='num'>Quantity</th>"
            "<th>Entry (UTC)</th><th class='num'>Entry price</th><th>Exit (UTC)</th>"
            "<th class='num'>Exit price</th><th class='num'>P&amp;L</th><th class='num'>Commission</th>"
            "<th class='num'>Return</th><th class='num'>Bars held</th></tr>"
        )
        rows = [
            "<tr>"
            f"<td class='num'>{number}</td><td>{_e(t.symbol)}</td><td>{_e(t.direction)}</td>"
            f"<td class='num'>{_quantity(t.quantity)}</td><td>{_when(t.entry_time)}</td>"
            f"<td class='num'>{_price(t.entry_price)}</td><td>{_when(t.exit_time)}</td>"
            f"<td class='num'>{_price(t.exit_price)}</td>"
            f"<td class='{_num(t.pnl)}'>{_money(t.pnl)}</td><td class='num'>{_money(t.commission)}</td>"
            f"<td class='{_num(t.return_pct)}'>{_pct(t.return_pct)}</td>"
            f"<td class='num'>{t.bars_held}</td>"
            "</tr>"
            for number, t in enumerate(trades[: self.max_trade_rows], start=1)
        ]
        return self._cut_note(len(trades), "trades") + _scroll_table(head, rows)

    def _cut_note(self, count: int, what: str) -> str:
        """The note of a table cut to max_trade_rows rows ("" when it is whole)."""
        if count <= self.max_trade_rows:
            return ""
        return _note(f"The first {self.max_trade_rows:,} of {count:,} {what}; the JSON report has them all.")

    def _option_trades_html(self, trades: list[OptionTrade]) -> str:
        """A row per spread: its legs (side, ratio and OCC symbol, each leg's entry and exit price and
        P&L), units, the net premium per unit per share at entry and exit (negative: a credit), the
        greeks at entry, commission, P&L and why it closed."""
        if not trades:
            return _note("No option trades.")
        head = (
            "<tr><th class='num'>#</th><th>Opened (UTC)</th><th>Closed (UTC)</th><th>Legs</th>"
            "<th class='num'>Units</th><th class='num'>Net at entry</th><th class='num'>Net at exit</th>"
            "<th class='num'>Delta</th><th class='num'>Vega</th><th class='num'>Theta</th>"
            "<th class='num'>Commission</th><th class='num'>P&amp;L</th><th>Exit reason</th></tr>"
        )
        rows = []
        for number, t in enumerate(trades[: self.max_trade_rows], start=1):
            legs = "<br>".join(
                f"{leg['side']} {leg['ratio']} {_e(leg['symbol'])} {_price(leg['entry_price'])} &rarr; "
                f"{_price(leg['exit_price'])} <span class='{_num(leg['pnl'])}'>{_money(leg['pnl'])}</span>"
                for leg in option_legs_json(t)
            )
            delta, vega, theta = (to_plain(float(value)) for value in t.entry_exposure)  # NaN: unknown
            rows.append(
                "<tr>"
                f"<td class='num'>{number}</td><td>{_when(t.entry_time)}</td><td>{_when(t.exit_time)}</td>"
                f"<td>{legs}</td><td class='num'>{t.units:,}</td>"
                f"<td class='num'>{_price(t.entry_price)}</td><td class='num'>{_price(t.exit_price)}</td>"
                f"<td class='num'>{_money(delta)}</td><td class='num'>{_money(vega)}</td>"
                f"<td class='num'>{_money(theta)}</td><td class='num'>{_money(t.commission)}</td>"
                f"<td class='{_num(t.pnl)}'>{_money(t.pnl)}</td><td class='wrap'>{_e(t.exit_reason)}</td>"
                "</tr>"
            )
        note = _note(
            "Net prices are per unit per share (a credit received is negative); greeks at entry are in "
            "money for the position: delta as the shares' value it moves like, vega per volatility "
            "point, theta per calendar day. P&L is after commissions; leg P&L before them."
        )
        return note + self._cut_note(len(trades), "option trades") + _scroll_table(head, rows)


def equity_curve_json(curve: EquityCurve, points: np.ndarray | None = None) -> list[dict[str, Any]]:
    """The curve's points ({ts, equity, cash, exposure}) as plain JSON values: all of them, or those
    at the indices `points` (a downsampled curve)."""
    points = np.arange(len(curve)) if points is None else points
    columns = [_plain_floats(getattr(curve, name)[points]) for name in ("equity", "cash", "exposure")]
    return [
        {"ts": ts.isoformat(), "equity": equity, "cash": cash, "exposure": exposure}
        for ts, equity, cash, exposure in zip(curve.ts[points], *columns, strict=True)
    ]


def _plain_floats(values: list[float]) -> list[float | None]:
    """Python floats, None where not finite; vectorised because curves can hold millions of points."""
    array = np.asarray(values, dtype="float64")
    plain = array.tolist()
    for i in np.flatnonzero(~np.isfinite(array)):
        plain[i] = None
    return plain


def trade_json(t: Trade) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "direction": t.direction,
        "quantity": to_plain(float(t.quantity)),
        "entry_time": t.entry_time.isoformat(),
        "entry_price": to_plain(float(t.entry_price)),
        "exit_time": t.exit_time.isoformat(),
        "exit_price": to_plain(float(t.exit_price)),
        "pnl": to_plain(float(t.pnl)),
        "commission": to_plain(float(t.commission)),
        "return_pct": to_plain(float(t.return_pct)),
        "bars_held": t.bars_held,
    }


def option_legs_json(t: OptionTrade) -> list[dict[str, Any]]:
    """The legs of an option trade: OCC symbol, side and ratio per unit, contracts (negative short),
    prices per share at entry and exit, and P&L in money before commissions."""
    return [
        {
            "symbol": leg.symbol,
            "side": "buy" if leg.contracts > 0 else "sell",
            "ratio": abs(leg.contracts) // t.units,
            "contracts": leg.contracts,
            "entry_price": to_plain(float(leg.entry_price)),
            "exit_price": to_plain(float(leg.exit_price)),
            "pnl": to_plain(float(leg.pnl)),
        }
        for leg in t.legs
    ]


def option_trade_json(t: OptionTrade) -> dict[str, Any]:
    """A spread opened and closed (or settled) as one: its legs, units, net premium per unit per
    share at entry and exit (negative: a credit), greeks at entry (money), commission, P&L after
    it, and why it closed."""
    return {
        "underlying": t.underlying,
        "order_id": t.order_id,
        "units": t.units,
        "legs": option_legs_json(t),
        "entry_time": t.entry_time.isoformat(),
        "exit_time": t.exit_time.isoformat(),
        "entry_price": to_plain(float(t.entry_price)),
        "exit_price": to_plain(float(t.exit_price)),
        "entry_greeks": to_plain(t.entry_exposure._asdict()),
        "commission": to_plain(float(t.commission)),
        "pnl": to_plain(float(t.pnl)),
        "exit_reason": t.exit_reason,
    }


def _marker_traces(trades: list[Trade]) -> list[go.Scatter]:
    traces = []
    for (direction, leg), (name, symbol, color) in MARKERS.items():
        legs = [t for t in trades if t.direction == direction]
        if not legs:
            continue
        entry = leg == "entry"
        traces.append(
            go.Scatter(
                x=_plot_times([t.entry_time if entry else t.exit_time for t in legs]),
                y=[t.entry_price if entry else t.exit_price for t in legs],
                mode="markers",
                name=name,
                marker={"symbol": symbol, "color": color, "size": 11, "line": {"width": 2, "color": color}},
                text=[
                    f"{name}: {_quantity(t.quantity)} @ {_price(t.entry_price if entry else t.exit_price)}"
                    + ("" if entry else f"<br>P&L {_money(t.pnl)} ({_pct(t.return_pct)})")
                    for t in legs
                ],
                hovertemplate="%{x}<br>%{text}<extra></extra>",
            )
        )
    return traces


def _monthly_html(timestamps: pd.DatetimeIndex, equity: np.ndarray, initial: float) -> str:
    table = monthly_returns(timestamps, equity, initial)
    if table.empty:
        return _note("No equity curve.")
    z = [[None if math.isnan(v) else round(v, 4) for v in row] for row in table.to_numpy()]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(MONTHS),
            y=[str(year) for year in table.index],
            text=[["" if v is None else f"{v:.1f}%" for v in row] for row in z],
            texttemplate="%{text}",
            colorscale="RdYlGn",
            zmid=0,
            xgap=2,
            ygap=2,
            colorbar={"ticksuffix": "%"},
            hovertemplate="%{x} %{y}: %{z:.2f}%<extra></extra>",
        )
    )
    fig.update_layout(yaxis={"autorange": "reversed", "type": "category"}, xaxis={"side": "top"})
    return _figure_html(fig, "monthly", height=120 + 28 * len(table))


def _figure_html(fig: go.Figure, name: str, *, height: int) -> str:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    # The template goes in as plain JSON: assigning it by name validates and copies the whole
    # template for every figure (most of a report's time).
    figure = fig.to_plotly_json()
    figure["layout"]["template"] = _white_template()
    return pio.to_html(
        figure,
        validate=False,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"figure-{name}",
        config={"displaylogo": False, "responsive": True},
    )


@functools.cache
def _white_template() -> dict[str, Any]:
    return pio.templates["plotly_white"].to_plotly_json()


def _plot_times(timestamps: Sequence[datetime]) -> np.ndarray:
    """UTC times as naive datetime64 to the second: plotly draws them as they are, and takes them far
    faster than aware ones."""
    return pd.to_datetime(timestamps, utc=True).tz_localize(None).to_numpy().astype("datetime64[s]")


@cache
def _plotly_js() -> str:
    # A "</script" inside the bundle would end the inline script early.
    return get_plotlyjs().replace("</script", "<\\/script")


# --- tables -------------------------------------------------------------------------------------


def _scroll_table(head: str, rows: list[str]) -> str:
    return (
        f"<div class='scroll'><table><thead>{head}</thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></div>"
    )


def _metrics_html(m: PerformanceMetrics) -> str:
    groups = {
        "Returns": [
            ("Total return", _money(m.total_return), m.total_return),
            ("Total return %", _pct(m.total_return_pct), m.total_return_pct),
            ("Final equity", _money(m.final_equity), None),
            ("CAGR", _pct(m.cagr_pct), m.cagr_pct),
            ("Benchmark return", _pct(m.benchmark_return_pct), m.benchmark_return_pct),
            ("Excess return", _pct(m.excess_return_pct), m.excess_return_pct),
        ],
        "Risk": [
            ("Volatility (annual)", _pct(m.volatility_pct), None),
            ("Sharpe ratio", _ratio(m.sharpe_ratio), m.sharpe_ratio),
            ("Sortino ratio", _ratio(m.sortino_ratio), m.sortino_ratio),
            ("Max drawdown", _money(m.max_drawdown), None),
            ("Max drawdown %", _pct(m.max_drawdown_pct), None),
            ("Calmar ratio", _ratio(m.calmar_ratio), m.calmar_ratio),
            ("Beta", _ratio(m.beta), None),
            ("Alpha (annual)", _pct(m.alpha_pct), m.alpha_pct),
        ],
        "Trades": [
            ("Trades", f"{m.total_trades:,}", None),
            ("Winning / losing", f"{m.winning_trades:,} / {m.losing_trades:,}", None),
            ("Win rate", _pct(m.win_rate), None),
            ("Average win", _money(m.avg_win), m.avg_win),
            ("Average loss", _money(m.avg_loss), m.avg_loss),
            ("Profit factor", _ratio(m.profit_factor), None),
            ("Best trade", _pct(m.best_trade_pct), m.best_trade_pct),
            ("Worst trade", _pct(m.worst_trade_pct), m.worst_trade_pct),
            (
                "Average holding",
                NONE if m.avg_holding_bars is None else f"{m.avg_holding_bars:,.1f} bars",
                None,
            ),
        ],
        "Activity": [
            ("Exposure", _pct(m.exposure_pct), None),
            ("Turnover (per year)", f"{m.turnover:,.2f}x", None),
            ("Bars per year", f"{m.periods_per_year:,.0f}", None),
        ],
    }
    tables = [
        f"<table class='kv'><caption>{caption}</caption>\n"
        + "\n".join(
            f"<tr><th>{label}</th><td class='{_num(signed)}'>{value}</td></tr>"
            for label, value, signed in rows
        )
        + "\n</table>"
        for caption, rows in groups.items()
    ]
    return "<div class='grid'>\n" + "\n".join(tables) + "\n</div>"


def _config_html(result: BacktestResult) -> str:
    metadata = {k: v for k, v in to_plain(result.metadata).items() if k != "model"}  # its own section
    items = {**to_plain(result.config), **{f"metadata.{k}": v for k, v in metadata.items()}}
    rows = "\n".join(
        f"<tr><th>{_e(key)}</th><td>{_e(_text(value))}</td></tr>" for key, value in items.items()
    )
    return f"<table class='kv'>\n{rows}\n</table>"


def model_span_text(result: BacktestResult) -> str:
    """For a backtest of a model: how many of its bars lie in the model's training span, and
    whether on the symbols it was trained on (in sample)."""
    model = result.metadata["model"]
    start, end = pd.Timestamp(model["training_start"]), pd.Timestamp(model["training_end"])
    ts = result.equity_curve.ts
    inside = int(((ts >= start) & (ts <= end)).sum())
    traded = set(result.metadata.get("symbols", ())) & set(model["instruments"])
    if inside and traded:
        return (
            f"In sample: {inside:,} of the {len(ts):,} bars lie in the model's training span, on "
            f"symbols it was trained on ({', '.join(sorted(traded))}): there the results overstate "
            "what the model can do. A walk-forward trains it on each window's past alone."
        )
    if inside:
        return (
            f"{inside:,} of the {len(ts):,} bars lie in the model's training span, on other symbols "
            "than the ones it was trained on."
        )
    return "Out of sample: no bar of this backtest lies in the model's training span."


def _model_html(model: Mapping[str, Any], result: BacktestResult) -> str:
    """The model's lineage, how much of the backtest lies in its training span, and the global
    importance of its features (the largest MAX_IMPORTANCE_BARS, as horizontal bars)."""
    start, end = pd.Timestamp(model["training_start"]), pd.Timestamp(model["training_end"])
    rows = {
        "Model": f"{model['model_type']} ({model['reference']})",
        "Content hash": model["content_hash"],
        "Feature set": f"{model['feature_set']} (version {model['feature_set_version']})",
        "Label": model["label"],
        "Trained on": f"{', '.join(model['instruments'])}, {_when(start)} to {_when(end)}",
        "Threshold": f"{model['threshold']:g}",
        "Horizon": f"{model['horizon']} bars",
    }
    cells = "\n".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows.items())
    lineage = f"<table class='kv'>\n{cells}\n</table>\n{_note(model_span_text(result))}"
    importance = sorted(model["importance"].items(), key=lambda item: -item[1])[:MAX_IMPORTANCE_BARS]
    if not importance:
        return lineage
    names, values = zip(*reversed(importance), strict=True)
    fig = go.Figure(
        go.Bar(
            x=list(values),
            y=list(names),
            orientation="h",
            marker_color=BLUE,
            hovertemplate="%{y}: %{x:.4g}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="Importance (mean |contribution|, or permutation)", showlegend=False)
    chart = _figure_html(fig, "importance", height=120 + 22 * len(names))
    return f"{lineage}\n<h3>Feature importance</h3>\n{chart}"


# --- formatting ---------------------------------------------------------------------------------


def _e(text: Any) -> str:
    return html.escape(str(text))


def _text(value: Any) -> str:
    if value is None:
        return NONE
    return value if isinstance(value, str) else json.dumps(value)


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _when(ts: datetime) -> str:
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%d %H:%M")


def _money(value: float | None) -> str:
    return NONE if value is None else f"{value:,.2f}"


def _pct(value: float | None) -> str:
    return NONE if value is None else f"{value:,.2f}%"


def _ratio(value: float | None) -> str:
    return NONE if value is None else f"{value:,.2f}"


def _price(value: float) -> str:
    """Two decimals, or up to four when the price needs them (1.0845, not 1.08)."""
    text = f"{value:,.4f}"
    return text[:-2] + text[-2:].rstrip("0")


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6f}".rstrip("0")


def _num(signed: float | None) -> str:
    """CSS classes of a number's cell: green when above zero, red when below, for signed figures."""
    if signed is None or signed == 0:
        return "num"
    return "num pos" if signed > 0 else "num neg"
