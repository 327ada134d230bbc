"""Feature computation and training speed: 500 symbols x 10 years of daily bars, one run.

1. The default feature set (23 columns) over every stored bar of 500 seeded synthetic symbols
   (2,520 sessions each: 1.26 M rows) through features_compute: cold (the cache emptied: bars
   read from PostgreSQL, features computed, Parquet written), then from the cache.
2. The pipeline alone on the same bars in memory, and beside it, on the same bars, pandas' own
   rolling computations of a few of the same features (returns over 1 and 20 bars, rolling
   volatility of log returns, z-score of the close, distance from the 50-bar average) against
   the pipeline computing just those: the same NaN warm-ups, values equal to 1e-6 (TA-Lib keeps
   running sums for its standard deviations where pandas updates them one value at a time; a
   z-score divides what they leave), and timed.
3. LightGBM (the registry's defaults: 200 trees, 31 leaves) fitted on the whole matrix with the
   fixed:5:0.02 label.

Peak memory is the process's (VmHWM) after each step. Run with `make bench`; needs PostgreSQL
(BENCH_DATABASE_URL, default postgres://root@127.0.0.1:5432/quant_bench).
"""

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.ingest import django_setup, peak_rss_mb, synthetic_daily_stored

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = [f"F{i:03d}" for i in range(500)]
SESSIONS = 2520
FEW = [
    {"kind": "returns", "params": {"horizon": 1}},
    {"kind": "returns", "params": {"horizon": 20}},
    {"kind": "volatility", "params": {"window": 20}},
    {"kind": "zscore", "params": {"window": 20, "field": "close"}},
    {"kind": "ma_distance", "params": {"period": 50}},
]


def pandas_reference(bars: pd.DataFrame) -> pd.DataFrame:
    """The FEW features with pandas' shift and rolling windows (same definitions and warm-ups)."""
    close = bars["close"]
    log_returns = np.log(close / close.shift(1))
    mean20, std20 = close.rolling(20).mean(), close.rolling(20).std(ddof=0)
    return pd.DataFrame(
        {
            "returns_1": close / close.shift(1) - 1.0,
            "returns_20": close / close.shift(20) - 1.0,
            "volatility_20": log_returns.rolling(20).std(ddof=0),
            "zscore_20_close": ((close - mean20) / std20).where(std20 > 0, 0.0).where(mean20.notna()),
            "ma_distance_50": close / close.rolling(50).mean() - 1.0,
        },
        index=bars.index,
    )


def main() -> None:
    django_setup(ARTIFACT_STORAGE=str(ROOT / "var" / "bench-artifacts"))
    from django.core.management import call_command
    from django.db import connection

    from features.core.labels import label_spec_parse
    from features.core.pipeline import FeaturePipeline, FeatureSet
    from features.models import ComputedFeatures
    from features.selectors import feature_set_get
    from features.services import features_compute
    from marketdata.core.bars import Timeframe
    from strategies.core.models.trading import LightGBMClassifier
    from strategies.services import training_rows

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    bars = synthetic_daily_stored(
        SYMBOLS, datetime(2015, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC)
    )
    rows = sum(len(frame) for frame in bars.values())
    seconds = time.perf_counter() - started
    print(f"stored {len(SYMBOLS)} synthetic symbols, {rows:,} daily bars, in {seconds:.1f} s (not timed)")

    feature_set = feature_set_get(name="default")
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {ComputedFeatures._meta.db_table}")
    shutil.rmtree(Path(os.environ["ARTIFACT_STORAGE"]) / "features", ignore_errors=True)
    print(f"feature set default ({feature_set.version}): {len(feature_set.columns)} columns\n")
    print(f"{'step':<58}{'seconds':>9}{'rows/s':>12}{'peak MB':>9}")

    def line(what: str, seconds: float, count: int) -> None:
        print(f"{what:<58}{seconds:>9.2f}{count / seconds:>12,.0f}{peak_rss_mb():>9,.0f}")

    started = time.perf_counter()
    cold = features_compute(feature_set=feature_set, symbols=SYMBOLS, timeframe=Timeframe.D1)
    line("features_compute, cold (read bars, compute, write cache)", time.perf_counter() - started, len(cold))
    started = time.perf_counter()
    cached = features_compute(feature_set=feature_set, symbols=SYMBOLS, timeframe=Timeframe.D1)
    line("features_compute, from the cache", time.perf_counter() - started, len(cached))
    assert cached.equals(cold), "the cache gave back another frame"

    pipeline = FeaturePipeline(feature_set)
    started = time.perf_counter()
    memory = pipeline.compute(bars)
    line("FeaturePipeline, bars in memory (default set)", time.perf_counter() - started, len(memory))
    assert memory.equals(cold)

    few = FeaturePipeline(FeatureSet(name="few", features=FEW))
    started = time.perf_counter()
    ours = few.compute(bars)
    line("FeaturePipeline, the 5 reference features", time.perf_counter() - started, len(ours))
    started = time.perf_counter()
    reference = pd.concat({s: pandas_reference(frame) for s, frame in bars.items()}, names=["symbol", "ts"])
    line("pandas shift / rolling, the same 5 features", time.perf_counter() - started, len(reference))
    differences = (ours - reference[ours.columns]).abs().max()
    print("largest difference, ours vs pandas: " + ", ".join(f"{c} {d:.1e}" for c, d in differences.items()))
    assert (ours.isna() == reference[ours.columns].isna()).all().all(), "the warm-ups differ"
    assert differences.max() < 1e-6, differences

    data, _ = training_rows(
        feature_set=feature_set,
        label=label_spec_parse("fixed:5:0.02"),
        symbols=SYMBOLS,
        timeframe=Timeframe.D1,
    )
    started = time.perf_counter()
    LightGBMClassifier().fit(data)
    seconds = time.perf_counter() - started
    print(
        f"\nLightGBM classifier (200 trees, 31 leaves) on {len(data.labels):,} rows x "
        f"{len(data.features.columns)} features: {seconds:.1f} s, peak {peak_rss_mb():,.0f} MB"
    )


if __name__ == "__main__":
    main()
