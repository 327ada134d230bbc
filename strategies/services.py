"""Writes of strategies and models: train a model on stored bars and keep it in the registry,
retrain the ones marked for it, and keep the predictions of the approved ones.

Training reads the feature set's features through the feature cache, labels every bar of every
symbol (LabelSpec), keeps the rows that have every feature and a label, and orders them by time
(then symbol). It cross-validates on purged splits (each row's label end is its purging time; the
embargo is in rows), then fits the model on all the rows and stores the artifact in the artifact
storage with a TrainedModel row (status candidate).
"""

from typing import Any

import numpy as np
import pandas as pd
import structlog
from django.db import transaction

from features.core.labels import LabelSpec, forward_returns, label_spec_parse
from features.core.pipeline import FeatureSet
from features.services import features_compute
from marketdata.core.bars import Timeframe
from marketdata.core.errors import ApplicationError, Conflict, InvalidInput
from marketdata.selectors import active_symbols_with_bars, instrument_get, stored_bars_get
from quantsite.artifacts import artifact_write
from strategies.choices import ModelStatus
from strategies.core.models.evaluation import CrossValidation, cross_validate
from strategies.core.models.trading import MODELS, TrainData
from strategies.core.models.training import labelled_rows
from strategies.core.models.validation import purged_kfold, purged_walk_forward
from strategies.models import ModelPrediction, TrainedModel
from strategies.selectors import model_artifact_get

log = structlog.get_logger(__name__)
VALIDATIONS = {"purged-kfold": purged_kfold, "purged-walk-forward": purged_walk_forward}
EMBARGO = ", embargo "  # TrainedModel.validation reads "purged-kfold:5, embargo 5"


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
    retrained_from: TrainedModel | None = None,
) -> tuple[TrainedModel, CrossValidation]:
    """Cross-validate and fit the model; keep it in the registry as a candidate. retrained_from: the
    model whose recipe this is, trained again on newer bars (it hands its weekly mark over); a
    Conflict when no labelled bar was added since it was trained."""
    if model_type not in MODELS:
        raise InvalidInput(f"unknown model {model_type!r}; the models: {', '.join(MODELS)}")
    scheme, folds = validation_parse(validation)
    data, ends, bars = _labelled(feature_set, label, symbols, timeframe)
    times = data.features.index.get_level_values("ts")
    if retrained_from is not None and times.max() <= retrained_from.training_end:
        raise Conflict(
            f"model #{retrained_from.pk}: no labelled bar since it was trained (up to "
            f"{retrained_from.training_end:%Y-%m-%d}); nothing to retrain on"
        )
    splits = VALIDATIONS[scheme](times.values, ends, folds, embargo)
    forward = pd.concat(
        {s: forward_returns(frame, label.horizon) for s, frame in bars.items()}, names=["symbol", "ts"]
    )
    result = cross_validate(model_type, data, splits, params=params, forward_returns=forward)
    model = MODELS[model_type]()
    artifact = model.fit(data, params)
    name = artifact_write(f"models/{artifact.content_hash}.json", artifact.to_bytes())
    with transaction.atomic():
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
            validation=f"{scheme}:{folds}{EMBARGO}{embargo}",
            metrics={
                "overall": result.overall.figures,
                "folds": [
                    {"fold": f.fold, "train_rows": f.train_rows, "test_rows": f.test_rows, **f.figures}
                    for f in result.folds
                ],
            },
            importance=dict(sorted(artifact.importance.items(), key=lambda item: -item[1])),
            artifact_path=name,
            content_hash=artifact.content_hash,
            requested_by=requested_by,
            retrained_from=retrained_from,
            retrain_weekly=retrained_from is not None,
        )
        if retrained_from is not None:
            TrainedModel.objects.filter(pk=retrained_from.pk).update(retrain_weekly=False)
    return trained, result


def model_retrain(*, trained: TrainedModel) -> TrainedModel:
    """Train a registered model's recipe again (its type, parameters, feature set as it was, label,
    validation) on its symbols' bars as they are now: a new candidate (see model_train)."""
    artifact = model_artifact_get(str(trained.pk))
    validation, _, embargo = trained.validation.partition(EMBARGO)
    retrained, _ = model_train(
        model_type=trained.model_type,
        feature_set=artifact.feature_set_definition(),
        label=label_spec_parse(trained.label),
        symbols=list(trained.symbols),
        timeframe=Timeframe(trained.timeframe),
        validation=validation,
        embargo=int(embargo or 0),
        params=dict(artifact.params),
        retrained_from=trained,
    )
    return retrained


def models_retrain_weekly() -> list[TrainedModel]:
    """Retrain every model marked for it (and not retired); one that cannot be retrained is logged
    and skipped, the others go on. The new candidates."""
    retrained = []
    for trained in TrainedModel.objects.filter(retrain_weekly=True).exclude(status=ModelStatus.RETIRED):
        try:
            retrained.append(model_retrain(trained=trained))
        except ApplicationError as exc:
            log.warning("model not retrained", model=trained.pk, error=exc.message)
    return retrained


def model_predictions_make(*, trained: TrainedModel, symbols: list[str]) -> list[ModelPrediction]:
    """The model's prediction at the newest bar of each symbol, from its feature set over the stored
    bars (through the feature cache), kept (again, the same) per bar. A symbol whose newest bar
    lacks a feature (too little history) is logged and left out."""
    artifact = model_artifact_get(str(trained.pk))
    timeframe = Timeframe(trained.timeframe)
    feature_set = artifact.feature_set_definition()
    newest = {}
    for symbol in symbols:
        features = features_compute(feature_set=feature_set, symbols=[symbol], timeframe=timeframe)
        row = features.iloc[-1:]
        if row.isna().any(axis=None):
            log.info("no prediction: the newest bar lacks features", model=trained.pk, symbol=symbol)
            continue
        newest[symbol] = row
    if not newest:
        return []
    rows = pd.concat(newest, names=["symbol", "ts"])
    values = artifact.model().predict(rows).values
    kept = []
    with transaction.atomic():
        for (symbol, ts), predicted in values.iterrows():
            prediction, _ = ModelPrediction.objects.update_or_create(
                model=trained,
                instrument=instrument_get(symbol=symbol),
                timeframe=timeframe,
                ts=ts,
                defaults={"values": {str(k): float(v) for k, v in predicted.items()}},
            )
            kept.append(prediction)
    return kept


def universe_predictions_make(*, timeframe: Timeframe) -> int:
    """After an ingestion: every approved model of the timeframe predicts at the newest bar of each
    active instrument. The number of predictions kept."""
    symbols = active_symbols_with_bars(timeframe=timeframe)
    made = 0
    for trained in TrainedModel.objects.filter(status=ModelStatus.APPROVED, timeframe=timeframe):
        try:
            made += len(model_predictions_make(trained=trained, symbols=symbols))
        except ApplicationError as exc:
            log.warning("model made no predictions", model=trained.pk, error=exc.message)
    return made


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
