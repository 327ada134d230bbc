"""Training on stored bars: purged cross-validation, a registered candidate, its artifact."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from features.core.labels import label_spec_parse
from features.selectors import feature_set_get
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput
from strategies.core.models.artifact import ModelArtifact
from strategies.models import TrainedModel
from strategies.services import model_train, training_rows
from strategies.tasks import train_model_task

pytestmark = pytest.mark.django_db


def test_a_trained_model_is_registered_with_its_validation_and_artifact(aaa, artifacts):
    feature_set = feature_set_get(name="default")
    label = label_spec_parse("fixed:5:0.02")

    trained, result = model_train(
        model_type="logistic_regression",
        feature_set=feature_set,
        label=label,
        symbols=[aaa],
        timeframe=Timeframe.D1,
        validation="purged-kfold:4",
        embargo=3,
    )

    # 502 bars, less 199 of warm-up (the 200-bar average) and 5 whose horizon runs past the data
    assert trained.rows == 502 - 199 - 5
    assert (trained.status, trained.label, trained.feature_set_version) == (
        "candidate",
        "fixed:5:0.02:2",
        feature_set.version,
    )
    assert trained.validation == "purged-kfold:4, embargo 3"
    assert [f["fold"] for f in trained.metrics["folds"]] == [0, 1, 2, 3]
    assert trained.metrics["overall"] == result.overall.figures
    assert all(f["train_rows"] < trained.rows - f["test_rows"] for f in trained.metrics["folds"])  # purged
    assert list(trained.importance) == sorted(trained.importance, key=trained.importance.get, reverse=True)
    assert trained.artifact_path == f"models/{trained.content_hash}.json"
    artifact = ModelArtifact.load(artifacts / trained.artifact_path)
    assert artifact.content_hash == trained.content_hash
    assert artifact.feature_set_version == feature_set.version
    data, _ = training_rows(feature_set=feature_set, label=label, symbols=[aaa], timeframe=Timeframe.D1)
    assert artifact.model().predict(data.features).values.shape == (trained.rows, 2)


def test_the_train_command_prints_the_folds_the_top_features_and_the_model(aaa, artifacts):
    out = StringIO()
    call_command(
        "train",
        "--model",
        "lightgbm",
        "--symbols",
        "AAA",
        "--label",
        "triple:5",
        "--cv",
        "purged-walk-forward:3",
        "--param",
        "n_estimators=20",
        stdout=out,
    )
    lines = out.getvalue().splitlines()

    trained = TrainedModel.objects.get()
    assert lines[0].startswith("lightgbm_classifier on AAA 1d: ")
    assert lines[0].endswith("label triple:5:2:2, purged-walk-forward:3, embargo 0")
    assert lines[1].split() == [
        "fold",
        "train",
        "test",
        "accuracy",
        "precision",
        "recall",
        "roc_auc",
        "log_loss",
        "ic",
    ]
    assert [line.split()[0] for line in lines[2:6]] == ["0", "1", "2", "all"]
    assert lines[6].startswith("top features: ")
    assert lines[7] == f"model #{trained.pk} (candidate), artifact {artifacts / trained.artifact_path}"
    assert trained.params["n_estimators"] == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "xgboost"), "unknown model 'xgboost'"),
        (("--cv", "kfold:5"), "validation 'kfold:5': write purged-kfold:FOLDS or purged-walk-forward:FOLDS"),
        (("--label", "up:5"), "label 'up:5'"),
        (("--param", "n_estimators"), "--param 'n_estimators' is not NAME=VALUE"),
    ],
)
def test_bad_training_requests_say_why(aaa, artifacts, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("train", "--symbols", "AAA", *args, stdout=StringIO())


def test_no_labelled_rows_is_refused(aaa, artifacts):
    with pytest.raises(InvalidInput, match=r"no bar of AAA has every feature and a fixed:400:0\.02:2 label"):
        training_rows(
            feature_set=feature_set_get(name="default"),
            label=label_spec_parse("fixed:400:0.02"),
            symbols=["AAA"],
            timeframe=Timeframe.D1,
        )


def test_the_task_trains_and_registers_a_model(aaa, artifacts):
    model_id = train_model_task.delay(
        "random_forest",
        "default",
        "fixed:5:0.02",
        [aaa],
        validation="purged-kfold:3",
        params={"n_estimators": 20},
    ).get()

    assert TrainedModel.objects.get().pk == model_id
    assert train_model_task.delay("random_forest", "default", "fixed:5:0.02", ["ZZZ"]).get() is None
