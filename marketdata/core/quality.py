"""Data-quality checks of bars: which rows are rejected (and why) and what looks wrong.

A row is rejected when it cannot be a real bar (missing or non-finite values, non-positive
prices, negative volume, inconsistent OHLC, more precision than storage keeps, a conflicting
duplicate). The good rows beside it are kept. Series-level findings (missing sessions, bars off
the calendar, out-of-order rows, stale data, jumps that look like an unadjusted split) are issues:
reported, never a reason to drop a bar.
"""

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from marketdata.core.bars import BAR_COLUMNS, PRICE_COLUMNS, RawBars, RejectedRow, Timeframe
from marketdata.core.calendar import last_closed_session, sessions_between

STORAGE_DECIMALS = 8
SIGNIFICANT_DIGITS = 14
SPLIT_RATIOS = (2, 3, 4, 5, 8, 10, 20)
SPLIT_TOLERANCE = 0.03
EXAMPLES = 5


@dataclass(frozen=True)
class Issue:
    check: str
    message: str
    count: int
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"check": self.check, "message": self.message, "count": self.count, "examples": self.examples}


@dataclass
class CheckResult:
    symbol: str
    timeframe: Timeframe
    rows_checked: int
    bars: pd.DataFrame
    rejected: list[RejectedRow]
    issues: list[Issue]

    def as_report(self) -> dict:
        return {
            "symbol": self.symbol,
            "timeframe": str(self.timeframe),
            "rows_checked": self.rows_checked,
            "rows_valid": len(self.bars),
            "rows_rejected": len(self.rejected),
            "rejected": [r.as_dict() for r in self.rejected],
            "issues": [i.as_dict() for i in self.issues],
        }


def check_bars(
    raw: RawBars,
    *,
    exchange_calendar: bool = False,
    as_of: datetime | None = None,
    previous_close: float | None = None,
) -> CheckResult:
    """Validate raw bars.

    exchange_calendar: the instrument trades on XNYS sessions (US equities), so missing sessions
    and bars off the calendar are looked for. as_of: when given, the data should reach the last
    session closed by then (stale check). previous_close: the stored close just before these bars,
    so a split-like jump across the boundary is seen too.
    """
    frame = raw.frame
    reasons = _row_reasons(frame)
    bad = np.zeros(len(frame), dtype=bool)
    bad[list(reasons)] = True
    rejected = list(raw.rejected)
    rows = frame["row"].to_numpy()
    for i, why in reasons.items():
        rejected.append(
            RejectedRow(row=int(rows[i]), ts=_ts_text(frame["ts"].iloc[i]), reason="; ".join(why))
        )

    good = frame.loc[~bad]
    issues: list[Issue] = []
    unsorted = np.flatnonzero(np.diff(pd.DatetimeIndex(good["ts"]).asi8) < 0)
    if unsorted.size:
        first = int(good["row"].iloc[unsorted[0] + 1])
        issues.append(
            Issue(
                "unsorted",
                f"{unsorted.size} row(s) out of time order (first at row {first}); loaded sorted",
                int(unsorted.size),
                [f"row {int(good['row'].iloc[i + 1])}" for i in unsorted[:EXAMPLES]],
            )
        )
    good, dup_rejected = _split_duplicates(good)
    rejected.extend(dup_rejected)
    rejected.sort(key=lambda r: (r.row is None, r.row or 0))

    bars = good.sort_values("ts", kind="stable").set_index("ts")[list(BAR_COLUMNS)]
    bars.index.name = "ts"
    if exchange_calendar and len(bars):
        issues.extend(_calendar_issues(bars, raw.timeframe))
    if as_of is not None:
        issues.extend(_stale_issue(bars, as_of))
    issues.extend(_split_issues(bars, previous_close))
    return CheckResult(raw.symbol, raw.timeframe, len(frame) + len(raw.rejected), bars, rejected, issues)


def _ts_text(ts) -> str:
    return "" if pd.isna(ts) else ts.isoformat()


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def _row_reasons(frame: pd.DataFrame) -> dict[int, list[str]]:
    """The reasons of every bad row, by position; good rows are absent."""
    reasons: dict[int, list[str]] = {}

    def add(mask: np.ndarray, text) -> None:
        for i in np.flatnonzero(mask):
            reasons.setdefault(int(i), []).append(text(i))

    add(frame["ts"].isna().to_numpy(), lambda i: "timestamp is missing")
    values = {c: frame[c].to_numpy(dtype="float64") for c in BAR_COLUMNS}
    for c, v in values.items():
        add(np.isnan(v), lambda i, c=c: f"{c} is NaN")
        add(np.isinf(v), lambda i, c=c: f"{c} is infinite")
    finite = {c: np.where(np.isfinite(v), v, np.nan) for c, v in values.items()}
    with np.errstate(invalid="ignore"):
        for c in PRICE_COLUMNS:
            v = finite[c]
            add(v <= 0, lambda i, c=c, v=v: f"{c} is not positive ({_fmt(v[i])})")
        vol = finite["volume"]
        add(vol < 0, lambda i: f"volume is negative ({_fmt(vol[i])})")
        o, h, lo, c = (finite[k] for k in PRICE_COLUMNS)
        add(h < lo, lambda i: f"high {_fmt(h[i])} is below low {_fmt(lo[i])}")
        add(
            (h >= lo) & (h < np.maximum(o, c)),
            lambda i: f"high {_fmt(h[i])} is below open/close {_fmt(max(o[i], c[i]))}",
        )
        add(
            (h >= lo) & (lo > np.minimum(o, c)),
            lambda i: f"low {_fmt(lo[i])} is above open/close {_fmt(min(o[i], c[i]))}",
        )
        for name, v in finite.items():
            decimals, digits = _storable(v)
            add(
                decimals,
                lambda i, name=name, v=v: (
                    f"{name} {float(v[i])!r} has more than {STORAGE_DECIMALS} decimal places"
                ),
            )
            add(
                digits & ~decimals,
                lambda i, name=name, v=v: (
                    f"{name} {float(v[i])!r} has more than {SIGNIFICANT_DIGITS} significant digits"
                ),
            )
    return reasons


def _storable(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of values that storage would round: too many decimals, too many significant digits.

    Values arrive as float64, which holds 15 to 17 significant digits; up to 14 are kept exactly
    (a decimal that needs more cannot be told from its float neighbours), with at most 8 decimals.
    """
    magnitude = np.abs(np.nan_to_num(v))
    with np.errstate(divide="ignore"):
        whole_digits = np.where(magnitude >= 1, np.floor(np.log10(np.maximum(magnitude, 1))) + 1, 0)
    allowed = np.clip(SIGNIFICANT_DIGITS - whole_digits, 0, STORAGE_DECIMALS)
    scaled = magnitude * 10.0**allowed
    off_grid = np.abs(scaled - np.rint(scaled)) > 0.05
    return off_grid & (allowed == STORAGE_DECIMALS), (off_grid & (allowed < STORAGE_DECIMALS)) | (
        whole_digits > SIGNIFICANT_DIGITS
    )


def _split_duplicates(good: pd.DataFrame) -> tuple[pd.DataFrame, list[RejectedRow]]:
    dup_mask = good.duplicated("ts", keep=False).to_numpy()
    if not dup_mask.any():
        return good, []
    rejected: list[RejectedRow] = []
    drop: list[int] = []
    for _, group in good.loc[dup_mask].groupby("ts", sort=False):
        rows = [int(r) for r in group["row"]]
        when = _ts_text(group["ts"].iloc[0])
        identical = (group[list(BAR_COLUMNS)].nunique(dropna=False) == 1).all()
        if identical:
            drop.extend(group.index[1:])
            rejected.extend(RejectedRow(r, when, f"duplicate of row {rows[0]}") for r in rows[1:])
        else:
            drop.extend(group.index)
            listed = ", ".join(str(r) for r in rows)
            rejected.extend(
                RejectedRow(r, when, f"conflicting duplicate timestamp (rows {listed})") for r in rows
            )
    return good.drop(index=drop), rejected


def _calendar_issues(bars: pd.DataFrame, timeframe: Timeframe) -> list[Issue]:
    days = bars.index.tz_convert("UTC").tz_localize(None).normalize()
    expected = sessions_between(days[0].date(), days[-1].date())
    present = pd.DatetimeIndex(days.unique())
    missing = expected.difference(present)
    off = present.difference(expected)
    issues = []
    if len(missing):
        issues.append(
            Issue(
                "missing_sessions",
                f"{len(missing)} XNYS session(s) with no {timeframe} bar",
                len(missing),
                [d.strftime("%Y-%m-%d") for d in missing[:EXAMPLES]],
            )
        )
    if len(off):
        issues.append(
            Issue(
                "off_calendar",
                f"{len(off)} day(s) with bars that are not XNYS sessions",
                len(off),
                [d.strftime("%Y-%m-%d") for d in off[:EXAMPLES]],
            )
        )
    return issues


def _stale_issue(bars: pd.DataFrame, as_of: datetime) -> list[Issue]:
    expected = last_closed_session(as_of)
    if not len(bars):
        return [Issue("stale", f"no bars; the last closed session is {expected}", 1, [])]
    last = bars.index[-1].tz_convert("UTC").date()
    if last < expected:
        return [
            Issue(
                "stale",
                f"last bar is on {last}, older than the last closed session {expected}",
                1,
                [str(last)],
            )
        ]
    return []


def _split_issues(bars: pd.DataFrame, previous_close: float | None) -> list[Issue]:
    if len(bars) == 0:
        return []
    closes = bars["close"].to_numpy()
    before = np.concatenate(([previous_close if previous_close else np.nan], closes[:-1]))
    ratio = bars["open"].to_numpy() / before
    with np.errstate(invalid="ignore"):
        hits = np.zeros(len(ratio), dtype=bool)
        labels = np.full(len(ratio), "", dtype=object)
        for k in SPLIT_RATIOS:
            for r, label in ((1.0 / k, f"{k}:1 split"), (float(k), f"1:{k} reverse split")):
                near = np.abs(ratio / r - 1.0) < SPLIT_TOLERANCE
                labels[near & ~hits] = label
                hits |= near
    idx = np.flatnonzero(hits)
    if not idx.size:
        return []
    examples = [
        f"{bars.index[i]:%Y-%m-%d %H:%M}: {before[i]:.2f} -> {bars['open'].iloc[i]:.2f} "
        f"(x{ratio[i]:.3f}, looks like an unadjusted {labels[i]})"
        for i in idx[:EXAMPLES]
    ]
    return [
        Issue("split_jump", f"{idx.size} jump(s) that look like an unadjusted split", int(idx.size), examples)
    ]
