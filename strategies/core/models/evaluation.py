"""Cross-validation of a TradingModel over purged splits: metrics per fold and over all the
out-of-fold predictions.

Classifiers: accuracy, precision and recall (of the highest class, "up", with two classes; the
mean over classes with more), ROC AUC (one class against the rest, averaged, with more than two),
log loss. Every model: the information coefficient, the Spearman rank correlation of its score
with the forward return (the score is the probability of the highest class, less that of the
lowest with three classes, or the regressor's value).
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics

from marketdata.core.errors import InvalidInput
from strategies.core.models.trading import MODELS, Predictions, TrainData
from strategies.core.models.validation import Split


@dataclass(frozen=True)
class FoldMetrics:
    fold: int | None  # None: all the out-of-fold predictions together
    train_rows: int
    test_rows: int
    figures: dict[str, float | None]


@dataclass(frozen=True)
class CrossValidation:
    folds: list[FoldMetrics]
    overall: FoldMetrics
    predictions: pd.DataFrame  # every row's out-of-fold prediction


def cross_validate(
    model_type: str,
    train_data: TrainData,
    splits: Sequence[Split],
    *,
    params: dict[str, Any] | None = None,
    forward_returns: pd.Series | None = None,
) -> CrossValidation:
    """Fit a fresh model on each split's training rows, predict its test rows, and measure."""
    if model_type not in MODELS:
        raise InvalidInput(f"unknown model {model_type!r}; the models: {', '.join(MODELS)}")
    if not splits:
        raise InvalidInput("no splits to cross-validate on")
    features, labels = train_data.features, train_data.labels
    folds, predicted = [], []
    for split in splits:
        model = MODELS[model_type]()
        training = dataclasses.replace(
            train_data, features=features.iloc[split.train], labels=labels.iloc[split.train]
        )
        model.fit(training, params)
        predictions = model.predict(features.iloc[split.test])
        predicted.append(predictions.values)
        figures = prediction_metrics(predictions, labels.iloc[split.test], forward_returns)
        folds.append(FoldMetrics(split.fold, len(split.train), len(split.test), figures))
    out_of_fold = pd.concat(predicted)
    overall = prediction_metrics(Predictions(out_of_fold), labels.loc[out_of_fold.index], forward_returns)
    return CrossValidation(folds, FoldMetrics(None, len(features), len(out_of_fold), overall), out_of_fold)


def prediction_metrics(
    predictions: Predictions, labels: pd.Series, forward_returns: pd.Series | None = None
) -> dict[str, float | None]:
    values = predictions.values
    figures: dict[str, float | None] = {}
    if list(values.columns) == ["value"]:
        score = values["value"]
    else:
        classes = list(values.columns)
        chosen = np.asarray(classes)[values.to_numpy().argmax(axis=1)]
        two = len(classes) == 2
        average = "binary" if two else "macro"
        present = set(labels.unique())
        figures["accuracy"] = float(metrics.accuracy_score(labels, chosen))
        figures["precision"] = float(
            metrics.precision_score(labels, chosen, average=average, pos_label=classes[-1], zero_division=0)
        )
        figures["recall"] = float(
            metrics.recall_score(labels, chosen, average=average, pos_label=classes[-1], zero_division=0)
        )
        probabilities = values.to_numpy()
        if len(present) < 2:
            figures["roc_auc"] = None  # one class in the fold: nothing to rank
        elif two:
            figures["roc_auc"] = float(metrics.roc_auc_score(labels == classes[-1], probabilities[:, -1]))
        else:
            figures["roc_auc"] = (
                float(metrics.roc_auc_score(labels, probabilities, multi_class="ovr", labels=classes))
                if present == set(classes)
                else None
            )
        figures["log_loss"] = float(metrics.log_loss(labels, probabilities, labels=classes))
        score = values[classes[-1]] - (0.0 if two else values[classes[0]])
    figures["ic"] = information_coefficient(score, forward_returns)
    return figures


def information_coefficient(score: pd.Series, forward_returns: pd.Series | None) -> float | None:
    """Spearman's rank correlation of score with the forward returns of the same rows (those that
    have one); None without forward returns, with fewer than 3 rows, or when either is constant."""
    if forward_returns is None:
        return None
    joined = pd.concat(
        [score.rename("score"), forward_returns.rename("forward")], axis=1, join="inner"
    ).dropna()
    if len(joined) < 3 or joined["score"].nunique() < 2 or joined["forward"].nunique() < 2:
        return None
    return float(joined["score"].rank().corr(joined["forward"].rank()))
