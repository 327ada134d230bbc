"""Labels: what a model learns to predict, from the bars after each one.

- Fixed horizon (the seed's "price up 2% in 5 days"): the return from a bar's close to the close
  `horizon` bars later, against a threshold; binary (1 above it, else 0) or three classes (1 above
  +threshold, -1 below -threshold, else 0).
- Triple barrier (López de Prado, Advances in Financial Machine Learning, ch. 3): from a bar's
  close, a profit-take barrier `profit_take` rolling volatilities above and a stop-loss barrier
  `stop_loss` below, and a vertical barrier `horizon` bars later. The label is 1 when the high of a
  later bar reaches the upper barrier first, -1 when a low reaches the lower one first, 0 when
  neither is reached by the vertical barrier. A bar that reaches both counts as the stop (which
  came first inside it is unknown; the worse one is assumed). Each label comes with the barrier
  touched and when: a label is only known at its touch time, which purged validation needs.

A bar whose horizon runs past the end of the data has no label (NaN), never a guess; so has a bar
before the volatility is known.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.core.catalog import rolling_volatility
from marketdata.core.errors import InvalidInput


class LabelGenerator:
    def generate(self, bars: pd.DataFrame, horizon: int, threshold: float, *, classes: int = 2) -> pd.Series:
        """Fixed-horizon labels of a symbol's bars (horizon in bars: days for daily bars)."""
        _check(bars, horizon, ("close",))
        if classes not in {2, 3}:
            raise InvalidInput(f"fixed-horizon labels have 2 or 3 classes, not {classes}")
        if not threshold >= 0:
            raise InvalidInput(f"the threshold is a return of 0 or more, not {threshold}")
        forward = forward_returns(bars, horizon)
        labels = (forward > threshold).astype("float64")
        if classes == 3:
            labels -= (forward < -threshold).astype("float64")
        labels[forward.isna()] = np.nan
        return labels.rename("label")

    def triple_barrier(
        self,
        bars: pd.DataFrame,
        horizon: int,
        *,
        profit_take: float = 2.0,
        stop_loss: float = 2.0,
        volatility_window: int = 20,
    ) -> pd.DataFrame:
        """Triple-barrier labels: per bar, label (1, -1, 0 or NaN), barrier ("upper", "lower",
        "vertical" or None), touched (the time of the bar that touched it) and return (close to
        the barrier's price, or to the vertical barrier's close)."""
        _check(bars, horizon, ("close", "high", "low"))
        if not (profit_take > 0 and stop_loss > 0):
            raise InvalidInput(
                f"barriers are a positive number of volatilities, not {profit_take} / {stop_loss}"
            )
        close, high, low = (bars[c].to_numpy(dtype="float64") for c in ("close", "high", "low"))
        n = len(close)
        volatility = rolling_volatility(close, volatility_window)
        upper = close * (1.0 + profit_take * volatility)
        lower = close * (1.0 - stop_loss * volatility)
        labelled = np.flatnonzero(~np.isnan(volatility[: max(n - horizon, 0)]))
        # Rows: labelled bars; columns: the bars 1..horizon after each.
        later = labelled[:, None] + np.arange(1, horizon + 1)
        up = high[later] >= upper[labelled, None]
        down = low[later] <= lower[labelled, None]
        first_up = np.where(up.any(axis=1), up.argmax(axis=1), horizon)
        first_down = np.where(down.any(axis=1), down.argmax(axis=1), horizon)
        stop = first_down <= first_up
        vertical = (first_up == horizon) & (first_down == horizon)
        step = np.where(vertical, horizon - 1, np.minimum(first_up, first_down))
        label = np.where(vertical, 0.0, np.where(stop, -1.0, 1.0))
        exit_price = np.where(
            vertical, close[labelled + horizon], np.where(stop, lower[labelled], upper[labelled])
        )

        full = np.full(n, np.nan)
        position = np.full(n, -1)
        position[labelled] = labelled + 1 + step
        barrier = np.full(n, None, dtype=object)
        barrier[labelled] = np.where(vertical, "vertical", np.where(stop, "lower", "upper"))
        returns = full.copy()
        returns[labelled] = exit_price / close[labelled] - 1.0
        labels = full.copy()
        labels[labelled] = label
        return pd.DataFrame(
            {
                "label": labels,
                "barrier": barrier,
                "touched": bars.index.take(np.maximum(position, 0)).where(position >= 0),
                "return": returns,
            },
            index=bars.index,
        )


def forward_returns(bars: pd.DataFrame, horizon: int) -> pd.Series:
    """The return from each bar's close to the close `horizon` bars later (NaN where the data ends
    before it): the forward return the information coefficient compares predictions with."""
    close = bars["close"]
    return (close.shift(-horizon) / close - 1.0).rename(f"forward_return_{horizon}")


def _check(bars: pd.DataFrame, horizon: int, columns: tuple[str, ...]) -> None:
    if horizon < 1:
        raise InvalidInput(f"the label horizon is at least 1 bar, not {horizon}")
    missing = [c for c in columns if c not in bars.columns]
    if missing or not isinstance(bars.index, pd.DatetimeIndex):
        raise InvalidInput(
            f"labels need bars on a DatetimeIndex with {', '.join(columns)} (missing: {missing})"
        )
    if bars[list(columns)].isna().to_numpy().any():
        raise InvalidInput("the bars contain NaN; validate them first (marketdata.core.quality)")


@dataclass(frozen=True)
class LabelSpec:
    """A label definition, written "fixed:HORIZON:THRESHOLD[:CLASSES]" (the seed's "up 2% in 5
    bars" is fixed:5:0.02) or "triple:HORIZON[:PROFIT_TAKE[:STOP_LOSS]]" (barriers in rolling
    volatilities, 2 by default)."""

    kind: str
    horizon: int
    threshold: float = 0.0
    classes: int = 2
    profit_take: float = 2.0
    stop_loss: float = 2.0

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.horizon}:{self.threshold:g}:{self.classes}"
        return f"triple:{self.horizon}:{self.profit_take:g}:{self.stop_loss:g}"

    def generate(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Per bar: label (NaN when unknown) and end, the time from which it is known (purging
        needs it): the bar `horizon` later, or the bar that touched a barrier."""
        generator = LabelGenerator()
        if self.kind == "fixed":
            labels = generator.generate(bars, self.horizon, self.threshold, classes=self.classes)
            ends = pd.Series(bars.index, index=bars.index).shift(-self.horizon)
            return pd.DataFrame({"label": labels, "end": ends.where(labels.notna())})
        barrier = generator.triple_barrier(
            bars, self.horizon, profit_take=self.profit_take, stop_loss=self.stop_loss
        )
        return pd.DataFrame({"label": barrier["label"], "end": barrier["touched"]})


def label_spec_parse(text: str) -> LabelSpec:
    kind, *values = text.strip().split(":")
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        raise InvalidInput(f"label {text!r}: the values after the kind must be numbers") from None
    if kind == "fixed" and len(numbers) in {2, 3} and all(n.is_integer() for n in (numbers[0], *numbers[2:])):
        return LabelSpec("fixed", int(numbers[0]), numbers[1], int(numbers[2]) if len(numbers) == 3 else 2)
    if kind == "triple" and 1 <= len(numbers) <= 3 and numbers[0].is_integer():
        return LabelSpec("triple", int(numbers[0]), 0.0, 2, *numbers[1:])
    raise InvalidInput(
        f"label {text!r}: write fixed:HORIZON:THRESHOLD[:CLASSES] (fixed:5:0.02) or "
        "triple:HORIZON[:PROFIT_TAKE[:STOP_LOSS]] (triple:10:2:2)"
    )
