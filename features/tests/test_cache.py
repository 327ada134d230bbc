"""The feature cache: the second call reads it; new bars extend it; changed bars recompute it."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from features.core.pipeline import FeaturePipeline, FeatureSet
from features.models import ComputedFeatures
from features.services import features_compute
from features.tasks import compute_features_task
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput, NotFound
from marketdata.selectors import bars_frame_get, instrument_get
from marketdata.services import ingestion_run_create, ingestion_run_execute

pytestmark = pytest.mark.django_db

FEATURES = FeatureSet(
    name="small",
    features=[
        {"kind": "rsi"},
        {"kind": "macd"},
        {"kind": "returns", "params": {"horizon": 5}},
        {"kind": "calendar"},
    ],
)


@pytest.fixture
def computations(monkeypatch):
    """Every computation of the pipeline, counted (the cache avoids them)."""
    calls = []
    compute = FeaturePipeline.compute

    def counted(self, bars):
        calls.append(len(bars))
        return compute(self, bars)

    monkeypatch.setattr(FeaturePipeline, "compute", counted)
    return calls


def ingest(symbol, start, end, seed=7):
    run = ingestion_run_create(
        provider="synthetic", symbols=[symbol], timeframe="1d", start=start, end=end, params={"seed": seed}
    )
    ingestion_run_execute(run=run)


def stored_features(symbol="AAA"):
    bars = bars_frame_get(instrument=instrument_get(symbol=symbol), timeframe=Timeframe.D1)
    return FeaturePipeline(FEATURES).compute(bars)


def test_the_second_call_reads_the_cache_and_returns_the_same_frame(aaa, artifacts, computations):
    first = features_compute(feature_set=FEATURES, symbols=[aaa], timeframe=Timeframe.D1)
    second = features_compute(feature_set=FEATURES, symbols=[aaa], timeframe=Timeframe.D1)

    assert computations == [len(first)]  # computed once, read once
    pd.testing.assert_frame_equal(second, first, check_exact=True)
    entry = ComputedFeatures.objects.get()
    assert (entry.version, entry.rows, entry.feature_set) == (FEATURES.version, len(first), "small")
    assert (entry.first_ts, entry.last_ts) == (first.index[0], first.index[-1])
    assert entry.path == f"features/AAA-1d-{FEATURES.version}.parquet"
    assert (artifacts / entry.path).is_file()
    pd.testing.assert_frame_equal(first, stored_features(), check_exact=True)


def test_new_bars_at_the_end_extend_the_cache(aaa, artifacts, computations):
    before = features_compute(feature_set=FEATURES, symbols=[aaa], timeframe=Timeframe.D1)

    ingest(aaa, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 3, 31, tzinfo=UTC))
    after = features_compute(feature_set=FEATURES, symbols=[aaa], timeframe=Timeframe.D1)

    again = features_compute(feature_set=FEATURES, symbols=[aaa], timeframe=Timeframe.D1)

    assert computations == [len(before), len(after)]  # the extended cache is read the third time
    assert len(after) > len(before)
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before, check_exact=True)
    pd.testing.assert_frame_equal(again, after, check_exact=True)
    assert ComputedFeatures.objects.get().last_ts == after.index[-1]
    pd.testing.assert_frame_equal(after, stored_features(), check_exact=True)


def test_changed_or_earlier_bars_recompute_and_other_versions_are_kept_apart(aaa, artifacts, computations):
    features_compute(feature_set=FEATURES, symbols=[aaa], timeframe=Timeframe.D1)

    ingest(aaa, datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 30, tzinfo=UTC), seed=8)  # a revision
    revised = features_compute(feature_set=FEATURES, symbols=[aaa], timeframe=Timeframe.D1)
    ingest(aaa, datetime(2022, 6, 1, tzinfo=UTC), datetime(2022, 12, 31, tzinfo=UTC))  # a backfill
    backfilled = features_compute(feature_set=FEATURES, symbols=[aaa], timeframe=Timeframe.D1)
    other = FeatureSet(name="other", features=[{"kind": "rsi", "params": {"period": 10}}])
    features_compute(feature_set=other, symbols=[aaa], timeframe=Timeframe.D1)

    assert len(computations) == 4  # nothing read from the cache: each call had new grounds
    pd.testing.assert_frame_equal(backfilled, stored_features(), check_exact=True)
    assert backfilled.index[0] < revised.index[0]
    assert ComputedFeatures.objects.count() == 2


def test_several_symbols_and_bad_requests(aaa, artifacts):
    ingest("BBB", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC))

    both = features_compute(feature_set=FEATURES, symbols=["AAA", "BBB"], timeframe=Timeframe.D1)

    assert both.index.names == ["symbol", "ts"]
    assert list(both.index.get_level_values("symbol").unique()) == ["AAA", "BBB"]
    with pytest.raises(NotFound, match="unknown symbol 'ZZZ'"):
        features_compute(feature_set=FEATURES, symbols=["ZZZ"], timeframe=Timeframe.D1)
    with pytest.raises(InvalidInput, match="no 1h bars of AAA stored"):
        features_compute(feature_set=FEATURES, symbols=["AAA"], timeframe=Timeframe.H1)
    with pytest.raises(InvalidInput, match="no symbols"):
        features_compute(feature_set=FEATURES, symbols=[], timeframe=Timeframe.D1)


def test_the_task_brings_the_cache_up_to_date(aaa, artifacts, computations):
    rows = compute_features_task.delay("default", [aaa]).get()
    again = compute_features_task.delay("default", [aaa]).get()

    assert rows == again == 502
    assert len(computations) == 1  # the second run read the cache
    assert compute_features_task.delay("nope", [aaa]).get() == 0  # refused, logged, not retried
