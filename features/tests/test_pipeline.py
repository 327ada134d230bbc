"""Feature sets and the pipeline: no lookahead, honest warm-up, content-hashed versions, clear errors."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.core.catalog import KINDS
from features.core.pipeline import FeaturePipeline, FeatureSet, feature_set_load
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.synthetic import SyntheticProvider

DEFAULT_SET = Path(__file__).resolve().parents[2] / "configs" / "features" / "default.yaml"
CUTS = (1, 57, 150, 333, 601)  # prefix lengths: inside and past every warm-up


def synthetic(symbol: str = "AAA", years: int = 3) -> pd.DataFrame:
    start, end = datetime(2018, 1, 1, tzinfo=UTC), datetime(2018 + years, 1, 1, tzinfo=UTC)
    return SyntheticProvider(seed=7).get_bars(symbol, start, end, Timeframe.D1)


def one_kind(kind: str) -> FeatureSet:
    return FeatureSet(name=kind, features=[{"kind": kind}])


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_feature_on_the_bars_up_to_t_equals_the_whole_computation_up_to_t(kind):
    # Given the whole computation of the feature over three years of bars
    bars = synthetic()
    pipeline = FeaturePipeline(one_kind(kind))
    whole = pipeline.compute(bars)

    # When it is computed again on every prefix
    for t in CUTS:
        prefix = pipeline.compute(bars.iloc[:t])

        # Then the rows it has are exactly the whole computation's (no value reads a later bar)
        pd.testing.assert_frame_equal(prefix, whole.iloc[:t], check_exact=True)


@pytest.mark.parametrize("kind", list(KINDS))
def test_warm_up_rows_are_nan_and_every_later_row_has_a_value(kind):
    feature_set = one_kind(kind)
    bars = synthetic()

    features = FeaturePipeline(feature_set).compute(bars)

    warm_up = feature_set.warm_up
    assert features.iloc[:warm_up].isna().all().all()
    assert features.iloc[warm_up:].notna().all().all()
    assert len(features) == len(bars)


def test_too_few_bars_for_the_warm_up_give_nan_rows_not_values_from_too_little_history():
    feature_set = FeatureSet(name="slow", features=[{"kind": "ma_distance", "params": {"period": 200}}])

    features = FeaturePipeline(feature_set).compute(synthetic().iloc[:150])

    assert features["ma_distance_200"].isna().all()


def test_exponential_indicators_wait_three_smoothing_periods_past_ta_libs_look_back():
    rsi = FeatureSet(name="rsi", features=[{"kind": "rsi", "params": {"period": 10}}])
    macd = FeatureSet(name="macd", features=[{"kind": "macd"}])

    assert rsi.warm_up == 10 + 30  # TA-Lib's RSI(10) starts at row 10
    assert macd.warm_up == 25 + 8 + 78  # MACD(12, 26, 9) starts at row 33


def test_several_symbols_come_back_in_one_frame_keyed_by_symbol_and_time():
    feature_set = feature_set_load(DEFAULT_SET)
    bars = {"BBB": synthetic("BBB", 2), "AAA": synthetic("AAA", 1)}

    features = FeaturePipeline(feature_set).compute(bars)

    assert features.index.names == ["symbol", "ts"]
    assert list(features.index.get_level_values("symbol").unique()) == ["BBB", "AAA"]
    assert list(features.columns) == feature_set.columns
    for symbol, frame in bars.items():
        pd.testing.assert_frame_equal(
            features.loc[symbol], FeaturePipeline(feature_set).compute(frame), check_exact=True
        )


def test_the_default_set_declares_the_built_in_indicators():
    feature_set = feature_set_load(DEFAULT_SET)

    assert feature_set.name == "default"
    assert {spec.kind for spec in feature_set.features} == set(KINDS)
    assert feature_set.columns[:4] == [
        "rsi_14",
        "macd_12_26_9_line",
        "macd_12_26_9_signal",
        "macd_12_26_9_hist",
    ]
    assert {"returns_1", "returns_5", "returns_20", "zscore_20_close", "zscore_20_volume"} <= set(
        feature_set.columns
    )
    assert {"atr_14", "atr_14_pct", "calendar_day_of_week", "calendar_month"} <= set(feature_set.columns)
    assert feature_set.warm_up == 200 - 1  # the 200-bar moving average


def test_the_version_is_a_hash_of_the_content():
    base = FeatureSet(name="a", features=[{"kind": "rsi", "params": {"period": 14}}])
    defaults_implicit = FeatureSet(name="b", description="same features", features=[{"kind": "rsi"}])
    changed = FeatureSet(name="a", features=[{"kind": "rsi", "params": {"period": 15}}])
    renamed = FeatureSet(name="a", features=[{"kind": "rsi", "params": {"period": 14}, "name": "momentum"}])

    assert base.version == defaults_implicit.version  # the same computation
    assert len({base.version, changed.version, renamed.version}) == 3
    assert len(base.version) == 12
    assert int(base.version, 16) >= 0


def test_calendar_features_read_the_bar_times():
    bars = synthetic().iloc[:5]  # Tuesday 2 January 2018 on

    features = FeaturePipeline(one_kind("calendar")).compute(bars)

    assert features["calendar_day_of_week"].tolist() == [1.0, 2.0, 3.0, 4.0, 0.0]
    assert features["calendar_month"].tolist() == [1.0] * 5


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "momentum"}, "unknown feature kind 'momentum'; the kinds: rsi, macd"),
        (
            {"kind": "rsi", "params": {"period": 1}},
            "rsi params: period: Input should be greater than or equal to 2",
        ),
        ({"kind": "rsi", "params": {"length": 14}}, "rsi params: length: unknown field"),
        ({"kind": "macd", "params": {"fast": 30}}, "macd params: fast \\(30\\) must be below slow \\(26\\)"),
        ({"kind": "zscore", "params": {"field": "open"}}, "zscore params: field: String should match"),
    ],
)
def test_a_bad_feature_is_refused_naming_it(tmp_path, spec, message):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\nfeatures:\n  - {spec}\n".replace("'", '"'))

    with pytest.raises(InvalidInput, match=f"{path}: features.0: {message}"):
        feature_set_load(path)


def test_two_features_making_one_column_are_refused():
    with pytest.raises(ValueError, match="two features make the column 'rsi_14': name one of them"):
        FeatureSet(name="twice", features=[{"kind": "rsi"}, {"kind": "rsi", "params": {"period": 14}}])


def test_a_file_that_is_not_a_feature_set_is_refused(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- rsi\n")

    with pytest.raises(InvalidInput, match="a feature set is a mapping of keys to values"):
        feature_set_load(path)
    with pytest.raises(InvalidInput, match="No such file or directory"):
        feature_set_load(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda f: f.drop(columns="volume"), "bars lack column\\(s\\) volume"),
        (lambda f: f.tz_localize(None), "bars need a UTC DatetimeIndex"),
        (lambda f: f.iloc[::-1], "bar times must increase, each once"),
        (lambda f: f.assign(close=np.where(np.arange(len(f)) == 3, np.nan, f["close"])), "bars contain NaN"),
    ],
)
def test_bad_bars_are_refused_naming_the_symbol(broken, message):
    pipeline = FeaturePipeline(one_kind("rsi"))

    with pytest.raises(InvalidInput, match=f"AAA: {message}"):
        pipeline.compute({"AAA": broken(synthetic().iloc[:30])})
    with pytest.raises(InvalidInput, match="no bars to compute features on"):
        pipeline.compute({})
