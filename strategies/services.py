"""Writes of strategies and models: train a model on stored bars and keep it in the registry.

Training reads the feature set's features through the feature cache, labels every bar of every
symbol (LabelSpec), keeps the rows that have every feature and a label, and orders them by time
(then symbol). It cross-validates on purged splits (each row's label end is its purging time; the
embargo is in rows), then fits the model on all the rows and stores the artifact in the artifact
storage with a TrainedModel row (status candidate).
"""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from features.core.labels import LabelSpec, forward_returns
from features.core.pipeline import FeatureSet
from features.services import features_compute
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.selectors import stored_bars_get
from strategies.core.models.evaluation import CrossValidation, cross_validate
from strategies.core.models.trading import MODELS, TrainData
from strategies.core.models.training import labelled_rows
from strategies.core.models.validation import purged_kfold, purged_walk_forward
from strategies.models import TrainedModel

VALIDATIONS = {"purged-kfold": purged_kfold, "purged-walk-forward": purged_walk_forward}


def validation_parse(text: str) -> tuple[str, int]:
    """ "purged-kfold:5" or "purged-walk-forward:4": the scheme and its number of test folds."""
    scheme, _, folds = text.partition(":")
    if scheme not in VALIDATIONS or not folds.isdigit() or int(folds) < 2:
        raise InvalidInput(
            f"validation {text!r}: write {' or '.join(f'{s}:FOLDS' for s in VALIDATIONS)}, FOLDS >= 2"
        )
    return scheme, int(folds)


def model_train(
    *,
    model_type: str,
    feature_set: FeatureSet,
    label: LabelSpec,
    symbols: list[str],
    timeframe: Timeframe,
    validation: str = "purged-kfold:5",
    embargo: int = 0,
    params: dict[str, Any] | None = None,
    requested_by=None,
) -> tuple[TrainedModel, CrossValidation]:
    if model_type not in MODELS:
        raise InvalidInput(f"unknown model {model_type!r}; the models: {', '.join(MODELS)}")
    scheme, folds = validation_parse(validation)
    data, ends, bars = _labelled(feature_set, label, symbols, timeframe)
    times = data.features.index.get_level_values("ts")
    splits = VALIDATIONS[scheme](times.values, ends, folds, embargo)
    forward = pd.concat(
        {s: forward_returns(frame, label.horizon) for s, frame in bars.items()}, names=["symbol", "ts"]
    )
    result = cross_validate(model_type, data, splits, params=params, forward_returns=forward)
    model = MODELS[model_type]()
    artifact = model.fit(data, params)
    path = artifact.save(Path(settings.ARTIFACT_STORAGE) / "models" / f"{artifact.content_hash}.json")
    trained = TrainedModel.objects.create(
        model_type=model_type,
        feature_set=feature_set.name,
        feature_set_version=feature_set.version,
        label=str(label),
        symbols=symbols,
        timeframe=timeframe,
        training_start=times.min(),
        training_end=times.max(),
        rows=len(data.labels),
        params=artifact.params,
        validation=f"{scheme}:{folds}, embargo {embargo}",
        metrics={
            "overall": result.overall.figures,
            "folds": [
                {"fold": f.fold, "train_rows": f.train_rows, "test_rows": f.test_rows, **f.figures}
                for f in result.folds
            ],
        },
        importance=dict(sorted(artifact.importance.items(), key=lambda item: -item[1])),
        artifact_path=str(path),
        content_hash=artifact.content_hash,
        requested_by=requested_by,
    )
    return trained, result


def training_rows(
    *, feature_set: FeatureSet, label: LabelSpec, symbols: list[str], timeframe: Timeframe
) -> tuple[TrainData, np.ndarray]:
    """The labelled rows with every feature, indexed by (symbol, ts) in time order, and the time
    each row's label is known."""
    data, ends, _ = _labelled(feature_set, label, symbols, timeframe)
    return data, ends


def _labelled(
    feature_set: FeatureSet, label: LabelSpec, symbols: list[str], timeframe: Timeframe
) -> tuple[TrainData, np.ndarray, dict[str, pd.DataFrame]]:
    """training_rows(), with the bars they come from; the features through the feature cache."""
    if not symbols:
        raise InvalidInput("no symbols to train on")
    features = features_compute(feature_set=feature_set, symbols=symbols, timeframe=timeframe)
    if not isinstance(features.index, pd.MultiIndex):
        features = pd.concat({symbols[0]: features}, names=["symbol", "ts"])
    bars = stored_bars_get(symbols=symbols, timeframe=timeframe, start=None, end=None)
    data, ends = labelled_rows(bars, feature_set, label, features=features)
    return data, ends, bars
