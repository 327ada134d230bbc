"""Registered models at work: ML backtests and walk-forwards by model id, weekly retraining, and the
predictions of the approved models after each ingestion."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backtests.models import BacktestRun
from conftest import _ingest_synthetic
from features.core.labels import label_spec_parse
from features.selectors import feature_set_get
from features.services import features_compute
from marketdata.core.bars import Timeframe
from marketdata.services import ingestion_run_create, ingestion_run_enqueue
from strategies.choices import ModelStatus
from strategies.core.models.artifact import ModelArtifact
from strategies.models import ModelPrediction, TrainedModel
from strategies.services import model_train
from strategies.tasks import predict_universe_task, retrain_models_task

pytestmark = pytest.mark.django_db(transaction=True)

SMALL_SET = """
name: small
features:
  - kind: rsi
  - kind: returns
    params: {horizon: 1}
  - kind: returns
    params: {horizon: 5}
  - kind: volatility
  - kind: ma_distance
    params: {period: 50}
"""


@pytest.fixture
def small_set(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SET)
    return feature_set_get(name=str(path))


def trained_on(symbols, feature_set, trees=30):
    trained, _ = model_train(
        model_type="lightgbm_classifier",
        feature_set=feature_set,
        label=label_spec_parse("fixed:5:0.01"),
        symbols=symbols,
        timeframe=Timeframe.D1,
        validation="purged-kfold:3",
        embargo=5,
        params={"n_estimators": trees},
    )
    return trained


def test_the_backtest_command_runs_a_registered_model_and_reports_it(aaa, artifacts, small_set, tmp_path):
    trained = trained_on([aaa], small_set)
    out = StringIO()

    call_command(
        "backtest",
        "--strategy",
        "ml_classifier",
        "--param",
        f"model={trained.pk}",
        "--param",
        "threshold=0.5",
        "--symbols",
        "AAA",
        "--html",
        str(tmp_path / "ml.html"),
        stdout=out,
    )

    lines = out.getvalue().splitlines()
    run = BacktestRun.objects.get()
    assert (run.status, run.strategy, run.config["strategy"]["parameters"]["model"]) == (
        "done",
        "ml_classifier",
        trained.pk,
    )
    assert lines[2] == (
        f"model {trained.pk}: lightgbm_classifier {trained.content_hash[:12]}, trained on AAA "
        f"{trained.training_start:%Y-%m-%d}..{trained.training_end:%Y-%m-%d}"
    )
    assert lines[3].startswith(
        f"In sample: {trained.rows:,} of the 502 bars lie in the model's training span"
    )
    assert run.metrics["total_trades"] > 0
    page = (tmp_path / "ml.html").read_text()
    assert 'id="figure-importance"' in page
    assert next(iter(trained.importance)) in page


def test_a_missing_or_replaced_registered_model_is_refused(aaa, artifacts, small_set):
    trained = trained_on([aaa], small_set)
    args = ("backtest", "--strategy", "ml_classifier", "--symbols", "AAA", "--param")

    with pytest.raises(CommandError, match="no registered model #999"):
        call_command(*args, "model=999", stdout=StringIO())
    other = trained_on([aaa], small_set, trees=31)
    (artifacts / trained.artifact_path).write_text((artifacts / other.artifact_path).read_text())
    with pytest.raises(CommandError, match=f"model #{trained.pk}: its artifact file holds another model"):
        call_command(*args, f"model={trained.pk}", stdout=StringIO())
    (artifacts / trained.artifact_path).unlink()
    missing = f"its artifact {trained.artifact_path} is missing from the artifact storage"
    with pytest.raises(CommandError, match=f"model #{trained.pk}: {missing}"):
        call_command(*args, f"model={trained.pk}", stdout=StringIO())
    assert not BacktestRun.objects.exists()


def test_the_walkforward_command_trains_the_model_in_each_window(aaa, artifacts, small_set):
    trained = trained_on([aaa], small_set)
    out = StringIO()

    call_command(
        "walkforward",
        "--strategy",
        "ml_classifier",
        "--param",
        f"model={trained.pk}",
        "--symbols",
        "AAA",
        "--in-sample-days",
        "252",
        "--out-of-sample-days",
        "63",
        "--step-days",
        "63",
        "--grid",
        "threshold=0.5,0.55",
        "--min-trades",
        "1",
        stdout=out,
    )

    lines = out.getvalue().splitlines()
    assert lines[1].startswith("3 window(s), 8 backtests of a set, out of sample 2024-01-04..2024-10-03")
    assert [line.split()[3].startswith("threshold=0.5") for line in lines[3:6]] == [True] * 3
    assert any(line.startswith("deflated Sharpe ratio") for line in lines)


def test_weekly_retraining_trains_the_marked_models_again_on_new_bars_once(artifacts, small_set):
    _ingest_synthetic("AAA", datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 6, 30, tzinfo=UTC))
    marked = trained_on(["AAA"], small_set)
    TrainedModel.objects.filter(pk=marked.pk).update(retrain_weekly=True)
    unmarked = trained_on(["AAA"], small_set, trees=20)
    _ingest_synthetic("AAA", datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC))

    first = retrain_models_task.delay().get()
    again = retrain_models_task.delay().get()

    assert len(first) == 1
    assert again == []  # no bar since: nothing to retrain on
    retrained = TrainedModel.objects.get(pk=first[0])
    marked.refresh_from_db()
    assert (retrained.retrained_from, retrained.status, retrained.retrain_weekly) == (
        marked,
        "candidate",
        True,
    )
    assert not marked.retrain_weekly  # the mark moved to the newest of the line
    assert retrained.training_end > marked.training_end
    assert (retrained.model_type, retrained.label, retrained.params) == (
        marked.model_type,
        marked.label,
        marked.params,
    )
    assert retrained.feature_set_version == marked.feature_set_version
    assert retrained.validation == marked.validation == "purged-kfold:3, embargo 5"
    assert TrainedModel.objects.count() == 3
    assert not unmarked.retrainings.exists()


def test_after_an_ingestion_the_approved_models_predict_at_each_active_instruments_newest_bar(
    artifacts, small_set, django_capture_on_commit_callbacks, api
):
    for symbol in ("AAA", "BBB"):
        _ingest_synthetic(symbol, datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 6, 28, tzinfo=UTC))
    approved = trained_on(["AAA"], small_set)
    TrainedModel.objects.filter(pk=approved.pk).update(status=ModelStatus.APPROVED)
    candidate = trained_on(["AAA"], small_set, trees=20)

    run = ingestion_run_create(
        provider="synthetic",
        symbols=["AAA", "BBB"],
        timeframe="1d",
        start=datetime(2024, 7, 1, tzinfo=UTC),
        end=datetime(2024, 7, 31, tzinfo=UTC),
        params={"seed": 7},
    )
    with django_capture_on_commit_callbacks(execute=True):
        ingestion_run_enqueue(run=run)  # the task runs eagerly; its success starts the predictions

    predictions = list(ModelPrediction.objects.order_by("instrument__symbol"))
    assert [(p.model, p.instrument.symbol) for p in predictions] == [(approved, "AAA"), (approved, "BBB")]
    assert not candidate.predictions.exists()
    model = ModelArtifact.load(artifacts / approved.artifact_path).model()
    for p in predictions:
        features = features_compute(
            feature_set=small_set, symbols=[p.instrument.symbol], timeframe=Timeframe.D1
        )
        assert p.ts == features.index[-1]
        assert p.ts.date().isoformat() == "2024-07-31"
        expected = model.predict(features.iloc[-1:]).values.iloc[0]
        assert p.values == {"0": expected[0], "1": expected[1]}
    assert predict_universe_task.delay(run.pk).get() == 2  # again: the same two, not new ones
    assert ModelPrediction.objects.count() == 2
    latest = api.get(f"/api/v1/models/{approved.pk}/").json()["latest_predictions"]
    assert [(p["symbol"], p["ts"][:10], p["values"]) for p in latest] == [
        (p.instrument.symbol, "2024-07-31", p.values) for p in predictions
    ]
