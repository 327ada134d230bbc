"""The strategy agent's tools: features through the feature cache, a registered model (its artifact
checked), and its signals at the newest bars."""

import pytest

from features.selectors import feature_set_get
from features.services import features_compute
from marketdata.core.bars import Timeframe
from strategies.models import ModelPrediction
from strategies.tests.test_ml_registry import SMALL_SET, trained_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def small(settings, tmp_path, artifacts):
    """The feature set "small" (configs/features/ is a temporary folder holding it)."""
    settings.FEATURE_SETS_DIR = tmp_path / "features"
    settings.FEATURE_SETS_DIR.mkdir()
    (settings.FEATURE_SETS_DIR / "small.yaml").write_text(SMALL_SET)
    return feature_set_get(name="small")


def test_features_are_the_newest_rows_of_the_cached_computation(as_role, invoke, aaa, small):
    answer = invoke(
        as_role("operator"), "compute_features", symbol="AAA", lookback=2, feature_set="small"
    ).json()

    frame = features_compute(feature_set=small, symbols=["AAA"], timeframe=Timeframe.D1)
    result = answer["result"]
    assert (result["feature_set"], result["version"], result["columns"]) == (
        "small",
        small.version,
        list(frame.columns),
    )
    assert [row["ts"] for row in result["rows"]] == ["2024-12-30T00:00:00+00:00", "2024-12-31T00:00:00+00:00"]
    assert result["rows"][1] == {"ts": "2024-12-31T00:00:00+00:00", **frame.iloc[-1].to_dict()}


def test_the_first_rows_of_a_feature_are_null_while_it_warms_up(as_role, invoke, aaa, small):
    result = invoke(
        as_role("operator"), "compute_features", symbol="AAA", lookback=502, feature_set="small"
    ).json()

    first = result["result"]["rows"][0]
    assert first["ts"] == "2023-01-03T00:00:00+00:00"
    assert first["ma_distance_50"] is None


def test_a_feature_set_is_named_never_given_as_a_path(as_role, invoke, aaa):
    answer = invoke(as_role("operator"), "compute_features", symbol="AAA", feature_set="../../etc/passwd")

    assert answer.status_code == 400
    assert answer.json()["details"]["errors"][0]["field"] == "feature_set"


def test_a_model_is_loaded_with_its_artifact_checked_and_gives_signals(as_role, invoke, aaa, small):
    trained = trained_on(["AAA"], small)
    operator = as_role("operator")

    loaded = invoke(operator, "load_model", model_id=trained.pk).json()["result"]
    signals = invoke(operator, "generate_signals", model_id=trained.pk, symbols=["AAA"], threshold=0.5).json()

    assert (loaded["id"], loaded["content_hash"], loaded["artifact"]["verified"]) == (
        trained.pk,
        trained.content_hash,
        True,
    )
    assert loaded["artifact"]["content_hash"] == trained.content_hash
    kept = ModelPrediction.objects.get(model=trained)
    [signal] = signals["result"]["signals"]
    assert (signal["symbol"], signal["ts"], signal["values"]) == ("AAA", "2024-12-31T00:00:00Z", kept.values)
    classes = sorted(kept.values, key=float)
    assert signal["signal"] == ("long" if kept.values[classes[-1]] >= 0.5 else "none")  # no shorts
    assert invoke(operator, "load_model", model_id=trained.pk + 1).status_code == 404
