"""Feature sets (named, versioned lists of features, declared in YAML) and the pipeline that
computes them from bars, for one symbol or many.

A feature set's version is a hash of its content: the features, their kinds and their parameters
with the defaults filled in. Change any of them and the version changes; write a default out or
leave it implicit and it does not. Cached features are keyed by it.
"""

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.core.catalog import KINDS
from marketdata.core.bars import BAR_COLUMNS, BarArrays
from marketdata.core.errors import InvalidInput, validation_message
from marketdata.core.files import yaml_model_load


class FeatureSpec(BaseModel):
    """One feature of a set: a built-in kind with its parameters, named (by default after the kind
    and its parameters' values, "rsi_14"); a kind with several outputs names them name_output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _filled_in(cls, data: Any) -> Any:
        """The kind checked, its parameters validated with their defaults filled in, the name given."""
        if not isinstance(data, dict):
            return data
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown feature kind {kind!r}; the kinds: {', '.join(KINDS)}")
        try:
            params = KINDS[kind].params.model_validate(data.get("params") or {}).model_dump()
        except ValidationError as exc:
            raise ValueError(validation_message(exc, f"{kind} params")) from None
        name = data.get("name") or "_".join([kind, *(_label(v) for v in params.values())])
        return {**data, "params": params, "name": name}

    @property
    def columns(self) -> list[str]:
        return [f"{self.name}_{output}" if output else self.name for output in KINDS[self.kind].outputs]

    @property
    def warm_up(self) -> int:
        kind = KINDS[self.kind]
        return kind.warm_up(kind.params.model_validate(self.params))


class FeatureSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    features: list[FeatureSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_columns(self) -> "FeatureSet":
        seen: set[str] = set()
        for column in self.columns:
            if column in seen:
                raise ValueError(f"two features make the column {column!r}: name one of them")
            seen.add(column)
        return self

    @property
    def columns(self) -> list[str]:
        return [column for spec in self.features for column in spec.columns]

    @property
    def version(self) -> str:
        """The first 12 hex digits of the SHA-256 of the features as canonical JSON."""
        content = [{"name": f.name, "kind": f.kind, "params": f.params} for f in self.features]
        digest = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode())
        return digest.hexdigest()[:12]

    @property
    def warm_up(self) -> int:
        """Rows at the start of a symbol's bars where some feature is still NaN."""
        return max(spec.warm_up for spec in self.features)


def feature_set_load(path: str | Path) -> FeatureSet:
    return yaml_model_load(path, FeatureSet, "a feature set")


class FeaturePipeline:
    """FeaturePipeline(feature_set).compute(bars): a column per feature output, a row per bar."""

    def __init__(self, feature_set: FeatureSet) -> None:
        self.feature_set = feature_set

    def compute(self, bars: pd.DataFrame | Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """One symbol's BarFrame gives its features indexed by time; a mapping of symbol to BarFrame
        gives them all in one frame indexed by (symbol, ts), symbols in the mapping's order. Each
        feature's warm-up rows are NaN."""
        if isinstance(bars, pd.DataFrame):
            return self._one("the bars", bars)
        if not bars:
            raise InvalidInput("no bars to compute features on")
        frames = {symbol: self._one(symbol, frame) for symbol, frame in bars.items()}
        return pd.concat(frames, names=["symbol", "ts"])

    def _one(self, what: str, frame: pd.DataFrame) -> pd.DataFrame:
        bars = BarArrays.from_frame(what, _checked(what, frame))
        columns: dict[str, np.ndarray] = {}
        for spec in self.feature_set.features:
            kind = KINDS[spec.kind]
            computed = kind.compute(bars, kind.params.model_validate(spec.params))
            warm_up = spec.warm_up
            for name, output in zip(spec.columns, kind.outputs, strict=True):
                values = np.array(computed[output], dtype="float64")
                values[:warm_up] = np.nan
                columns[name] = values
        return pd.DataFrame(columns, index=frame.index)


def _checked(what: str, frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{what}: bars lack column(s) {', '.join(missing)}")
    if not isinstance(frame.index, pd.DatetimeIndex) or str(frame.index.tz) != "UTC":
        raise InvalidInput(f"{what}: bars need a UTC DatetimeIndex (marketdata.core.bars.bar_frame)")
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise InvalidInput(f"{what}: bar times must increase, each once")
    if frame[list(BAR_COLUMNS)].isna().to_numpy().any():
        raise InvalidInput(f"{what}: bars contain NaN; validate them first (marketdata.core.quality)")
    return frame


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
