"""Cross-validation over purged splits: per-fold and overall metrics, and the IC worked by hand."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from marketdata.core.errors import InvalidInput
from strategies.core.models.evaluation import cross_validate, information_coefficient, prediction_metrics
from strategies.core.models.trading import Predictions, TrainData
from strategies.core.models.validation import purged_kfold


def data(n=500, seed=1):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    features = pd.DataFrame(rng.normal(size=(n, 3)), columns=["signal", "noise_1", "noise_2"], index=index)
    forward = 0.01 * features["signal"] + 0.005 * rng.normal(size=n)
    return TrainData(features, (forward > 0).astype(int)), forward


def test_purged_cross_validation_measures_every_fold_and_the_out_of_fold_predictions():
    train, forward = data()
    starts = train.features.index.values
    splits = purged_kfold(starts, starts + np.timedelta64(5, "D"), 5, embargo=5)

    result = cross_validate("lightgbm_classifier", train, splits, forward_returns=forward)

    assert [f.fold for f in result.folds] == [0, 1, 2, 3, 4]
    assert [f.test_rows for f in result.folds] == [100] * 5
    assert all(f.train_rows < 400 for f in result.folds)  # purged and embargoed
    assert result.overall.test_rows == 500
    assert result.predictions.index.equals(train.features.index)
    for fold in result.folds:
        assert set(fold.figures) == {"accuracy", "precision", "recall", "roc_auc", "log_loss", "ic"}
        assert fold.figures["accuracy"] > 0.7
        assert fold.figures["roc_auc"] > 0.8
        assert fold.figures["ic"] > 0.5
    chosen = (result.predictions[1] > result.predictions[0]).astype(int)
    assert result.overall.figures["accuracy"] == pytest.approx(metrics.accuracy_score(train.labels, chosen))


def test_the_information_coefficient_is_spearmans_rank_correlation():
    score = pd.Series([0.1, 0.4, 0.2, 0.9, 0.5])
    forward = pd.Series([0.01, 0.02, -0.01, 0.03, 0.00])
    # ranks 1 3 2 5 4 against 3 4 1 5 2: d = -2 -1 1 0 2, sum d^2 = 10; rho = 1 - 6 * 10 / (5 * 24) = 0.5

    assert information_coefficient(score, forward) == pytest.approx(0.5)
    assert information_coefficient(score, None) is None
    assert information_coefficient(score.iloc[:2], forward.iloc[:2]) is None


def test_classification_metrics_worked_by_hand():
    labels = pd.Series([1, 0, 1, 1, 0, 0])
    probabilities = pd.DataFrame({0: [0.2, 0.7, 0.6, 0.1, 0.4, 0.8], 1: [0.8, 0.3, 0.4, 0.9, 0.6, 0.2]})

    figures = prediction_metrics(Predictions(probabilities), labels)

    # predicted 1 0 0 1 1 0: 4 of 6 right; of the three predicted up, two were; of three up, two found
    assert figures["accuracy"] == pytest.approx(4 / 6)
    assert figures["precision"] == pytest.approx(2 / 3)
    assert figures["recall"] == pytest.approx(2 / 3)
    assert figures["roc_auc"] == pytest.approx(8 / 9)  # of the 9 (up, down) pairs only 0.4 < 0.6 is wrong
    assert figures["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.4, 0.9, 0.4, 0.8])))
    assert figures["ic"] is None


def test_unknown_models_and_empty_splits_are_refused():
    train, _ = data(50)

    with pytest.raises(InvalidInput, match="unknown model 'xgboost'"):
        cross_validate("xgboost", train, [])
    with pytest.raises(InvalidInput, match="no splits"):
        cross_validate("random_forest", train, [])
