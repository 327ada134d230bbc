"""Writes of features: compute a feature set over stored bars, through the feature cache.

The cache keeps, per (instrument, timeframe, feature set version), the features of every stored
bar from the instrument's first to last_ts, as a Parquet file in the artifact storage (the row's
path is its name there), with a ComputedFeatures row. It is read back when the bars are still the
ones it was computed from: as many in its range, none ingested (new or changed) since it was
computed, none added before its first. New bars after last_ts extend it: the indicators are
recursive (an exact RSI needs every earlier bar), so the series is computed again from the first
bar, its earlier rows are checked against the cached ones (they must come out the same), and the
file is written again with the new rows. Anything else computes it anew.
"""

import io
from datetime import datetime

import pandas as pd
import structlog
from django.db.models import Count, Max
from django.utils import timezone

from features.core.pipeline import FeaturePipeline, FeatureSet
from features.models import ComputedFeatures
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from marketdata.models import Instrument
from marketdata.selectors import bar_list, instrument_get, stored_bars_get
from quantsite.artifacts import artifact_read, artifact_storage, artifact_write

log = structlog.get_logger(__name__)


def features_compute(*, feature_set: FeatureSet, symbols: list[str], timeframe: Timeframe) -> pd.DataFrame:
    """The feature set over every stored bar of each symbol: indexed by (symbol, ts) with several
    symbols, by ts with one."""
    if not symbols:
        raise InvalidInput("no symbols to compute features for")
    frames = {symbol: _cached(feature_set, instrument_get(symbol=symbol), timeframe) for symbol in symbols}
    if len(frames) == 1:
        return next(iter(frames.values()))
    return pd.concat(frames, names=["symbol", "ts"])


def _cached(feature_set: FeatureSet, instrument: Instrument, timeframe: Timeframe) -> pd.DataFrame:
    entry = ComputedFeatures.objects.filter(
        instrument=instrument, timeframe=timeframe, version=feature_set.version
    ).first()
    bars = bar_list(instrument=instrument, timeframe=timeframe)
    cached = None
    if entry is not None and _still_valid(entry, bars):
        cached = pd.read_parquet(io.BytesIO(artifact_read(entry.path)))
        if not bars.filter(ts__gt=entry.last_ts).exists():
            log.info("features read from the cache", symbol=instrument.symbol, version=entry.version)
            return cached
    read_at = timezone.now()  # bars ingested from now on are not in this computation
    features = _computed(feature_set, instrument, timeframe)
    if cached is not None and not features.iloc[: len(cached)].equals(cached):
        log.warning("cached features differ from a new computation", symbol=instrument.symbol)
    log.info(
        "features computed",
        symbol=instrument.symbol,
        version=feature_set.version,
        rows=len(features),
        new_rows=len(features) - (0 if cached is None else len(cached)),
    )
    return _kept(entry, feature_set, instrument, timeframe, features, read_at)


def _still_valid(entry: ComputedFeatures, bars) -> bool:
    """The bars the entry was computed from are all still there, unchanged, with none before."""
    in_range = bars.filter(ts__gte=entry.first_ts, ts__lte=entry.last_ts).aggregate(
        rows=Count("id"), ingested=Max("ingested_at")
    )
    return (
        in_range["rows"] == entry.rows
        and in_range["ingested"] is not None
        and in_range["ingested"] <= entry.computed_at
        and not bars.filter(ts__lt=entry.first_ts).exists()
        and artifact_storage().exists(entry.path)
    )


def _computed(feature_set: FeatureSet, instrument: Instrument, timeframe: Timeframe) -> pd.DataFrame:
    symbol = instrument.symbol
    bars = stored_bars_get(symbols=[symbol], timeframe=timeframe, start=None, end=None)[symbol]
    return FeaturePipeline(feature_set).compute(bars)


def _kept(
    entry: ComputedFeatures | None,
    feature_set: FeatureSet,
    instrument: Instrument,
    timeframe: Timeframe,
    features: pd.DataFrame,
    computed_at: datetime,
) -> pd.DataFrame:
    name = f"{instrument.symbol}-{timeframe}-{feature_set.version}.parquet"
    parquet = io.BytesIO()
    features.to_parquet(parquet)
    path = artifact_write(f"features/{name}", parquet.getvalue())
    fields = {
        "feature_set": feature_set.name,
        "first_ts": features.index[0],
        "last_ts": features.index[-1],
        "rows": len(features),
        "path": path,
        "computed_at": computed_at,
    }
    if entry is None:
        ComputedFeatures.objects.create(
            instrument=instrument, timeframe=timeframe, version=feature_set.version, **fields
        )
    else:
        ComputedFeatures.objects.filter(pk=entry.pk).update(**fields)
    return features
