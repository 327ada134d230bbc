"""The ML classifier strategy: a registered model's predictions, turned into positions.

At every bar the model's feature set is computed through the feature pipeline (every value from
bars up to that one) and the model predicts the probability of each class of its label. The
strategy enters long when the probability of the highest class ("up") reaches the threshold, and
short, when shorting is allowed and the model has a "down" class (three-class labels), when that
one's does. It exits on the opposite signal (the other class reaching the threshold: with a binary
label, "not up") or when the label's horizon has passed since the last bar that signalled the
position held: each prediction speaks for the horizon bars after it. Orders are sized as for any
strategy (the config's sizing and caps).

The model is named by the `model` parameter: a reference the installed model registry knows (the
strategies app installs its registry: a TrainedModel id), else a model artifact file
(ModelArtifact.save). In a walk-forward, learn() trains the model's recipe (type, parameters, feature
set, label) again in each window's in-sample span, so no model sees out-of-sample labels.
"""

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.core.labels import label_spec_parse
from features.core.pipeline import FeaturePipeline, FeatureSet
from marketdata.core.bars import BarArrays
from marketdata.core.errors import InvalidInput
from strategies.core.base import NO_SIGNAL, SIGNAL_FLAT, SIGNAL_LONG, SIGNAL_SHORT
from strategies.core.builtin import ArraySignalStrategy
from strategies.core.config import StrategyConfig
from strategies.core.models.artifact import ModelArtifact
from strategies.core.models.trading import MODELS, TradingModel
from strategies.core.models.training import labelled_rows
from strategies.core.registry import model_registry, register

LEARNED_CACHE_SIZE = 32
_learned: OrderedDict[str, TradingModel] = OrderedDict()


def model_artifact_find(reference: str) -> ModelArtifact:
    """The artifact a `model` parameter names: through the installed registry, else a file."""
    registry = model_registry()
    found = None if registry is None else registry(reference)
    if found is not None:
        return found
    path = Path(reference)
    if not path.is_file():
        known = "" if registry is None else "a registered model's id or "
        raise InvalidInput(f"no model {reference!r}: give {known}the path of a model artifact file")
    return ModelArtifact.load(path)


class MLClassifierParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    threshold: float = Field(0.55, ge=0.5, lt=1.0)
    horizon: int | None = Field(None, ge=1)  # bars; None: the label's horizon

    @field_validator("model", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        """model=7 on a command line is the registered model #7."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


@register
class MLClassifier(ArraySignalStrategy):
    name = "ml_classifier"
    Parameters = MLClassifierParameters
    reasons = {
        SIGNAL_LONG: "the model predicts up",
        SIGNAL_SHORT: "the model predicts down",
        SIGNAL_FLAT: "the prediction turned or its horizon passed",
    }

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        artifact = model_artifact_find(self.params.model)
        if not artifact.classes:
            raise InvalidInput(
                f"model {self.params.model!r} is a {artifact.model_type}: ml_classifier needs a classifier"
            )
        self.feature_set: FeatureSet = artifact.feature_set_definition()
        self.label = label_spec_parse(artifact.label_definition)
        self.horizon = self.params.horizon or self.label.horizon
        self.trading_model = artifact.model()
        self.recipe = artifact

    @property
    def artifact(self) -> ModelArtifact:
        """The model trading now: the registered one, or the one learn() trained."""
        return self.trading_model.artifact

    def learn(self, datas: Mapping[str, BarArrays], start: datetime, end: datetime) -> None:
        """Train the model's recipe on the labelled bars from start whose label is known by end."""
        frames = {symbol: bars.between(None, end).frame() for symbol, bars in datas.items()}
        data, _ = labelled_rows(frames, self.feature_set, self.label, start=start, end=end)
        recipe = self.recipe
        digest = hashlib.sha256(
            json.dumps(
                [recipe.model_type, recipe.params, recipe.feature_set_version, str(self.label)]
            ).encode()
        )
        for part in (data.features, data.labels):  # every value and its (symbol, ts)
            digest.update(pd.util.hash_pandas_object(part).to_numpy().tobytes())
        key = digest.hexdigest()
        if key in _learned:
            _learned.move_to_end(key)
        else:
            model = MODELS[recipe.model_type]()
            model.fit(data, recipe.params)
            _learned[key] = model
            if len(_learned) > LEARNED_CACHE_SIZE:
                _learned.popitem(last=False)
        self.trading_model = _learned[key]

    def signal_codes(self, data: BarArrays, config: StrategyConfig) -> np.ndarray:
        features = FeaturePipeline(self.feature_set).compute(data.frame())
        complete = features.notna().all(axis=1).to_numpy()
        classes = list(self.artifact.classes)
        probabilities = np.full((len(data), len(classes)), np.nan)
        if complete.any():
            probabilities[complete] = self.trading_model.predict(features[complete]).values.to_numpy()
        up = probabilities[:, classes.index(max(classes))]
        down = probabilities[:, classes.index(min(classes))]
        self.keep_indicators(data.symbol, probability_up=up, probability_down=down)
        shorts = config.risk.allow_short and len(classes) > 2
        threshold = self.params.threshold
        with np.errstate(invalid="ignore"):
            return holding_codes(up >= threshold, down >= threshold, self.horizon, shorts=shorts)

    def describe(self) -> dict[str, Any]:
        a = self.artifact
        return {
            "model": {
                "reference": self.params.model,
                "model_type": a.model_type,
                "content_hash": a.content_hash,
                "feature_set": self.feature_set.name,
                "feature_set_version": a.feature_set_version,
                "label": a.label_definition,
                "training_start": a.training_start,
                "training_end": a.training_end,
                "instruments": list(a.instruments),
                "threshold": self.params.threshold,
                "horizon": self.horizon,
                "importance": dict(sorted(a.importance.items(), key=lambda item: -item[1])),
            }
        }


def holding_codes(up: np.ndarray, down: np.ndarray, horizon: int, *, shorts: bool) -> np.ndarray:
    """Signal codes from per-bar "up" and "down" predictions: enter long on up (short on down when
    shorts are allowed), renew the holding on a repeat of the held side's signal, turn or exit on
    the other side's, and exit when horizon bars have passed since the last signal of the side
    held."""
    codes = np.full(len(up), NO_SIGNAL, dtype=np.int8)
    side, left = 0, 0
    for i, (is_up, is_down) in enumerate(zip(up.tolist(), down.tolist(), strict=True)):
        if (is_up and side == 1) or (is_down and side == -1):
            left = horizon
        elif is_up:
            codes[i], side, left = SIGNAL_LONG, 1, horizon
        elif is_down and (side == 1 or shorts):
            codes[i], side, left = (SIGNAL_SHORT, -1, horizon) if shorts else (SIGNAL_FLAT, 0, 0)
        elif side:
            left -= 1
            if left == 0:
                codes[i], side = SIGNAL_FLAT, 0
    return codes
