"""The ml_classifier strategy: a model's predictions become positions, with no lookahead."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from backtests.core.engine import BacktestEngine
from backtests.core.overfitting import lookahead_check
from backtests.core.results import BacktestConfig
from features.core.labels import label_spec_parse
from features.core.pipeline import FeaturePipeline, FeatureSet, FeatureSpec
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.core.providers.synthetic import SyntheticProvider
from strategies.core.base import NO_SIGNAL, SIGNAL_FLAT, SIGNAL_LONG, SIGNAL_SHORT
from strategies.core.config import RiskCaps, StrategyConfig
from strategies.core.models.trading import LightGBMClassifier, LightGBMRegressor
from strategies.core.models.training import labelled_rows
from strategies.core.registry import strategy_build

FEATURES = FeatureSet(
    name="small",
    features=[
        FeatureSpec(kind="rsi"),
        FeatureSpec(kind="returns", params={"horizon": 1}),
        FeatureSpec(kind="returns", params={"horizon": 5}),
        FeatureSpec(kind="volatility"),
        FeatureSpec(kind="ma_distance", params={"period": 50}),
    ],
)
_, L, S, F = NO_SIGNAL, SIGNAL_LONG, SIGNAL_SHORT, SIGNAL_FLAT


def bars(symbol="AAA", years=4):
    return SyntheticProvider(seed=7).get_bars(
        symbol, datetime(2019, 1, 1, tzinfo=UTC), datetime(2019 + years, 1, 1, tzinfo=UTC), Timeframe.D1
    )


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A LightGBM classifier of "up 1% in 5 bars", trained on BBB and CCC, saved as an artifact."""
    data, _ = labelled_rows({s: bars(s) for s in ("BBB", "CCC")}, FEATURES, label_spec_parse("fixed:5:0.01"))
    artifact = LightGBMClassifier().fit(data, {"n_estimators": 50})
    return str(artifact.save(tmp_path_factory.mktemp("models") / "model.json"))


def ml(model, **parameters):
    return StrategyConfig(
        strategy="ml_classifier", universe=["AAA"], parameters={"model": model, **parameters}
    )


@pytest.mark.parametrize(
    ("up", "down", "shorts", "expected"),
    [
        # enter on up; each further up renews the 3-bar holding; out 3 bars after the last
        ("1101000000", "0000000000", False, [L, 0, 0, 0, 0, 0, F, 0, 0, 0]),
        # the opposite signal exits early; without shorts a down signal alone does nothing
        ("1000000000", "0100100000", False, [L, F, 0, 0, 0, 0, 0, 0, 0, 0]),
        # with shorts, down turns the long into a short, and up turns it back
        ("1000100000", "0110000000", True, [L, S, 0, 0, L, 0, 0, F, 0, 0]),
        ("0000000000", "0010000000", True, [0, 0, S, 0, 0, F, 0, 0, 0, 0]),
    ],
)
def test_holding_codes_enter_renew_turn_and_exit_after_the_horizon(up, down, shorts, expected):
    from strategies.core.ml import holding_codes

    flags = [np.array([c == "1" for c in text]) for text in (up, down)]

    assert holding_codes(*flags, 3, shorts=shorts).tolist() == expected


def test_the_signals_are_the_loaded_models_predictions_over_the_pipelines_features(model_file):
    strategy = strategy_build(ml(model_file, threshold=0.55))
    data = bars()

    result = BacktestEngine().run(strategy, data, BacktestConfig())

    features = FeaturePipeline(FEATURES).compute(data)
    complete = features.notna().all(axis=1)
    expected = strategy.trading_model.predict(features[complete]).values[1].to_numpy()
    up = strategy.indicators()["probability_up"]
    assert np.isnan(up[~complete.to_numpy()]).all()  # no prediction in the features' warm-up
    np.testing.assert_array_equal(up[complete.to_numpy()], expected)
    assert len(result.trades) > 5
    assert all(up[t.entry_bar] >= 0.55 for t in result.trades)
    assert result.metadata["model"]["horizon"] == 5
    assert result.metadata["model"]["label"] == "fixed:5:0.01:2"
    assert set(result.metadata["model"]["importance"]) == set(FEATURES.columns)


def test_the_bar_by_bar_loop_and_the_fast_path_trade_alike(model_file):
    data = bars()
    config = BacktestConfig()

    loop = BacktestEngine().run(strategy_build(ml(model_file)), data, config, fast=False)
    fast = BacktestEngine().run(strategy_build(ml(model_file)), data, config, fast=True)

    assert (loop.metadata["path"], fast.metadata["path"]) == ("event", "fast")
    assert [(t.entry_time, t.exit_time, t.quantity) for t in loop.trades] == [
        (t.entry_time, t.exit_time, t.quantity) for t in fast.trades
    ]
    np.testing.assert_allclose(loop.equity_curve.equity, fast.equity_curve.equity, rtol=1e-12)


def test_the_strategy_reads_no_bar_after_the_current_one(model_file):
    report = lookahead_check(ml(model_file, threshold=0.5), bars(years=3))

    assert report.clean, report.findings


def test_a_position_is_held_while_the_predictions_renew_it_then_for_the_horizon(model_file):
    data = bars()
    one = strategy_build(ml(model_file, threshold=0.55, horizon=1))
    five = strategy_build(ml(model_file, threshold=0.55))

    held_one = BacktestEngine().run(one, data, BacktestConfig()).trades
    held_five = BacktestEngine().run(five, data, BacktestConfig()).trades

    up = one.indicators()["probability_up"]
    for trade in held_one:  # out at the first bar that does not predict up
        assert (up[trade.entry_bar : trade.exit_bar] >= 0.55).all()
        assert up[trade.exit_bar] < 0.55
    for trade in held_five:  # out 5 bars after the last bar that predicted up, or on "not up"
        renewed = trade.entry_bar + np.flatnonzero(up[trade.entry_bar : trade.exit_bar] >= 0.55)[-1]
        assert trade.exit_bar - renewed == 5 or 1 - up[trade.exit_bar] >= 0.55
    assert (one.horizon, five.horizon) == (1, 5)
    assert np.mean([t.bars_held for t in held_five]) > np.mean([t.bars_held for t in held_one])


def test_the_strategy_learns_the_recipe_from_the_span_it_is_given_and_reuses_a_fit(model_file):
    data = {"AAA": bars()}
    from backtests.core.engine import prepare_bars

    arrays = prepare_bars(data, strategy_build(ml(model_file)), BacktestConfig())
    start, end = datetime(2019, 6, 1, tzinfo=UTC), datetime(2020, 12, 31, tzinfo=UTC)
    first, second = strategy_build(ml(model_file)), strategy_build(ml(model_file, threshold=0.6))

    first.learn(arrays, start, end)
    second.learn(arrays, start, end)

    learned = first.artifact
    assert learned.instruments == ("AAA",)
    assert learned.model_type == "lightgbm_classifier"
    assert learned.params == first.recipe.params
    # Rows from the span whose 5-bar label is known by its end: the last row is 5 bars before it.
    last_row = pd.Timestamp(learned.training_end)
    assert pd.Timestamp(learned.training_start) >= start
    assert arrays["AAA"].ts.get_loc(last_row) + 5 == arrays["AAA"].ts.searchsorted(end, side="right") - 1
    assert second.trading_model is first.trading_model  # the same rows: fitted once


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"threshold": 0.4}, "threshold"),
        ({"threshold": 1.0}, "threshold"),
        ({"horizon": 0}, "horizon"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_are_refused(model_file, parameters, message):
    with pytest.raises(InvalidInput, match=message):
        strategy_build(ml(model_file, **parameters))


def test_an_unknown_model_or_a_regressor_is_refused(tmp_path):
    with pytest.raises(
        InvalidInput, match=r"no model 'nowhere\.json': give a registered model's id or the path"
    ):
        strategy_build(ml("nowhere.json"))
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    with pytest.raises(InvalidInput, match="not a model artifact"):
        strategy_build(ml(str(garbled)))
    data, _ = labelled_rows({"BBB": bars("BBB")}, FEATURES, label_spec_parse("fixed:5:0.01"))
    regressor = LightGBMRegressor().fit(
        type(data)(data.features, data.labels.astype(float), data.feature_set, data.label_definition),
        {"n_estimators": 5},
    )
    path = regressor.save(tmp_path / "regressor.json")
    with pytest.raises(InvalidInput, match="is a lightgbm_regressor: ml_classifier needs a classifier"):
        strategy_build(ml(str(path)))


def test_shorts_need_a_three_class_model_and_permission(tmp_path):
    data, _ = labelled_rows({"BBB": bars("BBB")}, FEATURES, label_spec_parse("fixed:5:0.01:3"))
    path = LightGBMClassifier().fit(data, {"n_estimators": 50}).save(tmp_path / "three.json")
    shorting = ml(str(path), threshold=0.5).model_copy(update={"risk": RiskCaps(allow_short=True)})

    result = BacktestEngine().run(strategy_build(shorting), bars(), BacktestConfig())
    longs_only = BacktestEngine().run(strategy_build(ml(str(path), threshold=0.5)), bars(), BacktestConfig())

    assert {t.direction for t in result.trades} == {"long", "short"}
    assert {t.direction for t in longs_only.trades} == {"long"}


def test_the_report_shows_the_model_whether_the_bars_are_in_sample_and_the_feature_importance(
    model_file, tmp_path
):
    from backtests.core.report import ReportGenerator

    other_symbols = BacktestEngine().run(strategy_build(ml(model_file)), bars(), BacktestConfig())
    data, _ = labelled_rows({"AAA": bars()}, FEATURES, label_spec_parse("fixed:5:0.01"))
    own = LightGBMClassifier().fit(data, {"n_estimators": 20}).save(tmp_path / "aaa.json")
    same_symbol = BacktestEngine().run(strategy_build(ml(str(own))), bars(), BacktestConfig())
    later = BacktestConfig(start_date=datetime(2023, 1, 2, tzinfo=UTC))
    after = BacktestEngine().run(strategy_build(ml(str(own))), bars(years=5), later)

    pages = [ReportGenerator().generate_html(r) for r in (other_symbols, same_symbol, after)]

    for page, result in zip(pages, (other_symbols, same_symbol, after), strict=True):
        assert 'id="figure-importance"' in page
        top = next(iter(result.metadata["model"]["importance"]))
        assert top in page
        assert result.metadata["model"]["content_hash"] in page
    bars_in_span = len(other_symbols.equity_curve)
    assert f"{bars_in_span:,} bars lie in the model&#x27;s training span, on other symbols" in pages[0]
    assert "In sample:" in pages[1]
    assert "(AAA): there the results overstate" in pages[1]
    assert "Out of sample: no bar of this backtest lies in the model&#x27;s training span." in pages[2]


def test_a_walk_forward_trains_the_model_in_each_window_on_its_in_sample_span_alone(model_file):
    from backtests.core.walkforward import WalkForwardConfig, WalkForwardEngine

    built = []

    def factory(config):
        built.append(strategy_build(config))
        return built[-1]

    wf = WalkForwardConfig(
        in_sample_days=378,
        out_of_sample_days=126,
        step_days=126,
        parameter_grid={"threshold": [0.5, 0.6]},
        min_trades_required=1,
    )
    result = WalkForwardEngine().run(factory, ml(model_file), {"AAA": bars()}, wf, BacktestConfig())

    traded = built[-len(result.windows) :]  # assembly builds each window's chosen strategy last
    assert len(result.windows) == 5
    for window, strategy in zip(result.windows, traded, strict=True):
        w = window.window
        artifact = strategy.artifact
        assert artifact.instruments == ("AAA",)
        assert pd.Timestamp(artifact.training_start) >= w.in_sample_start
        # its last row's 5-bar label ends by the in-sample end, before out of sample begins
        ts = strategy.datas["AAA"].ts
        assert ts[ts.get_loc(pd.Timestamp(artifact.training_end)) + 5] <= w.in_sample_end
        assert strategy.params.threshold == window.best_parameters["threshold"]
    assert len({s.artifact.content_hash for s in traded}) == 5  # a model per window
    assert result.aggregated_trades  # the stitched out-of-sample run traded
    assert all(t.entry_time >= result.windows[0].window.out_of_sample_start for t in result.aggregated_trades)
