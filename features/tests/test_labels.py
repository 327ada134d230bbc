"""Fixed-horizon and triple-barrier labels: worked by hand, against a plain loop, never guessed."""

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from features.core.catalog import rolling_volatility
from features.core.labels import LabelGenerator, forward_returns, label_spec_parse
from marketdata.core.bars import Timeframe, bar_frame
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.synthetic import SyntheticProvider

NAN = float("nan")


def closes(values, highs=None, lows=None):
    ts = pd.date_range("2024-01-01", periods=len(values), freq="D", tz="UTC")
    highs = values if highs is None else highs
    lows = values if lows is None else lows
    return bar_frame(ts, values, highs, lows, values, [1_000] * len(values))


def same(actual, expected):
    return [a if not math.isnan(a) else "nan" for a in actual] == [
        e if not math.isnan(e) else "nan" for e in expected
    ]


def test_fixed_horizon_labels_worked_by_hand():
    # Given closes whose 2-bar forward returns are +3%, -1.98%, +0.97%, +5.05%, -3.85%, then unknown
    bars = closes([100.0, 101.0, 103.0, 99.0, 104.0, 104.0, 100.0])

    # When labelled against a 2% threshold, in two classes and in three
    binary = LabelGenerator().generate(bars, 2, 0.02)
    three = LabelGenerator().generate(bars, 2, 0.02, classes=3)

    # Then up more than 2% is 1; in three classes down more than 2% is -1; the last two are NaN
    assert same(binary.tolist(), [1.0, 0.0, 0.0, 1.0, 0.0, NAN, NAN])
    assert same(three.tolist(), [1.0, 0.0, 0.0, 1.0, -1.0, NAN, NAN])
    assert forward_returns(bars, 2).iloc[0] == pytest.approx(0.03)


def triple_barrier_by_loop(bars, horizon, profit_take, stop_loss, window):
    """The definition, bar by bar."""
    close, high, low = (bars[c].to_numpy() for c in ("close", "high", "low"))
    volatility = rolling_volatility(close, window)
    rows = []
    for t in range(len(bars)):
        if t + horizon >= len(bars) or math.isnan(volatility[t]):
            rows.append((NAN, None, None))
            continue
        upper = close[t] * (1 + profit_take * volatility[t])
        lower = close[t] * (1 - stop_loss * volatility[t])
        for k in range(t + 1, t + horizon + 1):
            if low[k] <= lower:
                rows.append((-1.0, "lower", bars.index[k]))
                break
            if high[k] >= upper:
                rows.append((1.0, "upper", bars.index[k]))
                break
        else:
            rows.append((0.0, "vertical", bars.index[t + horizon]))
    return rows


@pytest.mark.parametrize(
    ("horizon", "profit_take", "stop_loss"), [(10, 2.0, 2.0), (5, 1.0, 3.0), (1, 0.5, 0.5)]
)
def test_triple_barrier_labels_are_the_definition_bar_by_bar(horizon, profit_take, stop_loss):
    bars = SyntheticProvider(seed=3).get_bars(
        "AAA", datetime(2019, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC), Timeframe.D1
    )

    labels = LabelGenerator().triple_barrier(
        bars, horizon, profit_take=profit_take, stop_loss=stop_loss, volatility_window=20
    )

    expected = triple_barrier_by_loop(bars, horizon, profit_take, stop_loss, 20)
    actual = list(
        zip(
            labels["label"],
            [None if pd.isna(b) else b for b in labels["barrier"]],
            [None if pd.isna(t) else t for t in labels["touched"]],
            strict=True,
        )
    )
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert (got[1], got[2]) == (want[1], want[2])
        assert same([got[0]], [want[0]])
    assert {"upper", "lower", "vertical"} <= set(labels["barrier"].dropna())  # every case is tried


def test_a_bar_reaching_both_barriers_counts_as_the_stop_and_returns_are_at_the_barrier():
    # Given closes swinging 2% (log returns of +-0.0198: a volatility of 0.0198 over 2 of them),
    # then a last bar whose range spans both barriers of the bar before
    bars = closes([100.0, 102.0, 100.0, 102.0, 100.0], lows=[100.0, 102.0, 100.0, 102.0, 90.0])
    bars.loc[bars.index[4], "high"] = 110.0
    volatility = math.log(1.02)

    # When labelled one bar ahead, barriers one volatility away
    labels = LabelGenerator().triple_barrier(bars, 1, profit_take=1.0, stop_loss=1.0, volatility_window=2)

    # Then bar 2 (100, barriers 101.98 and 98.02) is taken up by the 102 close of bar 3
    assert (labels.iloc[2]["label"], labels.iloc[2]["barrier"], labels.iloc[2]["touched"]) == (
        1.0,
        "upper",
        bars.index[3],
    )
    assert labels.iloc[2]["return"] == pytest.approx(volatility)
    # and bar 3 (102) meets both barriers in bar 4's range: which came first inside it is unknown, so
    # it is the stop, at the barrier's price
    assert (labels.iloc[3]["label"], labels.iloc[3]["barrier"], labels.iloc[3]["touched"]) == (
        -1.0,
        "lower",
        bars.index[4],
    )
    assert labels.iloc[3]["return"] == pytest.approx(-volatility)
    assert labels["label"].iloc[:2].isna().all()  # fewer than 2 returns: no volatility yet


def test_labels_whose_horizon_runs_past_the_data_are_nan():
    bars = closes([100.0 + i for i in range(30)])

    fixed = LabelGenerator().generate(bars, 5, 0.0)
    barrier = LabelGenerator().triple_barrier(bars, 5, volatility_window=3)

    assert fixed.iloc[-5:].isna().all()
    assert fixed.iloc[:-5].notna().all()
    assert barrier["label"].iloc[-5:].isna().all()
    assert barrier["touched"].iloc[-5:].isna().all()
    assert barrier["label"].iloc[:3].isna().all()  # no volatility yet: no barriers
    assert barrier["label"].iloc[3:-5].notna().all()
    assert LabelGenerator().generate(bars.iloc[:3], 5, 0.0).isna().all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda g, b: g.generate(b, 0, 0.02), "the label horizon is at least 1 bar, not 0"),
        (lambda g, b: g.generate(b, 5, 0.02, classes=4), "2 or 3 classes, not 4"),
        (lambda g, b: g.generate(b, 5, -0.01), "the threshold is a return of 0 or more"),
        (
            lambda g, b: g.triple_barrier(b, 5, profit_take=0),
            "barriers are a positive number of volatilities",
        ),
        (lambda g, b: g.triple_barrier(b.drop(columns="high"), 5), "missing: \\['high'\\]"),
        (lambda g, b: g.generate(b.assign(close=np.nan), 5, 0.02), "the bars contain NaN"),
    ],
)
def test_bad_label_requests_are_refused(call, message):
    with pytest.raises(InvalidInput, match=message):
        call(LabelGenerator(), closes([100.0 + i for i in range(10)]))


def test_label_specs_parse_name_themselves_and_say_when_each_label_is_known():
    bars = closes([100.0, 101.0, 103.0, 99.0, 104.0, 104.0, 100.0])

    fixed = label_spec_parse("fixed:2:0.02")
    triple = label_spec_parse("triple:10:1.5")
    generated = fixed.generate(bars)

    assert (str(fixed), str(triple), str(label_spec_parse("fixed:5:0.02:3"))) == (
        "fixed:2:0.02:2",
        "triple:10:1.5:2",
        "fixed:5:0.02:3",
    )
    assert same(generated["label"].tolist(), [1.0, 0.0, 0.0, 1.0, 0.0, NAN, NAN])
    assert generated["end"].iloc[0] == bars.index[2]  # known two bars later
    assert generated["end"].iloc[-2:].isna().all()


@pytest.mark.parametrize(
    "text", ["fixed:5", "fixed:5:x", "triple", "triple:2.5", "up:5:0.02", "fixed:5:0.02:3:1"]
)
def test_bad_label_specs_are_refused(text):
    with pytest.raises(InvalidInput, match=f"label '{text}'"):
        label_spec_parse(text)
