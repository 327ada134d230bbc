"""What a model trains on: the rows of a feature set's features that have every feature and a label.

Rows are indexed by (symbol, ts) and ordered by time, then symbol, as purged validation wants them;
with each row comes the time its label is known (its end), which purging needs. A span (start, end)
keeps the rows from start whose label is known by end: a model trained on them has seen nothing
that happened after end.
"""

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from features.core.labels import LabelSpec
from features.core.pipeline import FeaturePipeline, FeatureSet
from marketdata.core.errors import InvalidInput
from strategies.core.models.trading import TrainData


def labelled_rows(
    bars: Mapping[str, pd.DataFrame],
    feature_set: FeatureSet,
    label: LabelSpec,
    *,
    features: pd.DataFrame | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[TrainData, np.ndarray]:
    """The labelled rows of bars (a BarFrame per symbol) with every feature, and each one's label
    end. features: the feature set over the same bars, indexed by (symbol, ts), when already at
    hand (the feature cache); computed here otherwise."""
    if not bars:
        raise InvalidInput("no symbols to train on")
    if features is None:
        features = FeaturePipeline(feature_set).compute(dict(bars))
    labels = pd.concat({s: label.generate(frame) for s, frame in bars.items()}, names=["symbol", "ts"])
    labels = labels.reindex(features.index)
    rows = features.notna().all(axis=1) & labels["label"].notna()
    ts = features.index.get_level_values("ts")
    if start is not None:
        rows &= ts >= start
    if end is not None:
        rows &= (ts <= end) & (labels["end"] <= end)
    table = features[rows].join(labels[rows]).reset_index().sort_values(["ts", "symbol"], kind="stable")
    if table.empty:
        raise InvalidInput(f"no bar of {', '.join(bars)} has every feature and a {label} label")
    table = table.set_index(["symbol", "ts"])
    data = TrainData(
        table[feature_set.columns],
        table["label"].astype(int),
        feature_set,
        str(label),
        tuple(bars),
    )
    return data, table["end"].to_numpy(dtype="datetime64[ns]")
