"""/api/v1/models/ and /api/v1/features/sets/: the registry and the declared feature sets."""

import pytest
from rest_framework.test import APIClient

from features.selectors import feature_set_get
from strategies.models import TrainedModel
from strategies.tasks import train_model_task

pytestmark = pytest.mark.django_db


def test_the_registry_lists_models_with_their_figures_and_details_their_importance(api, aaa, artifacts):
    model_id = train_model_task.delay(
        "logistic_regression", "default", "fixed:5:0.02", [aaa], validation="purged-kfold:3"
    ).get()
    trained = TrainedModel.objects.get(pk=model_id)

    listed = api.get("/api/v1/models/?status=candidate").json()
    detail = api.get(f"/api/v1/models/{model_id}/").json()

    assert listed["count"] == 1
    summary = listed["results"][0]
    assert (summary["id"], summary["model_type"], summary["label"], summary["status"]) == (
        model_id,
        "logistic_regression",
        "fixed:5:0.02:2",
        "candidate",
    )
    assert summary["overall"] == trained.metrics["overall"]
    assert set(summary["overall"]) == {"accuracy", "precision", "recall", "roc_auc", "log_loss", "ic"}
    assert list(detail["importance"]) == list(trained.importance)
    assert len(detail["metrics"]["folds"]) == 3
    assert detail["content_hash"] == trained.content_hash
    assert api.get("/api/v1/models/?status=approved").json()["count"] == 0


def test_the_feature_sets_come_with_their_versions_and_columns(api):
    default = feature_set_get(name="default")

    sets = api.get("/api/v1/features/sets/").json()

    assert [s["name"] for s in sets] == ["default"]
    assert sets[0]["version"] == default.version
    assert sets[0]["columns"] == default.columns
    assert sets[0]["warm_up"] == 199
    assert sets[0]["features"][0] == {
        "name": "rsi_14",
        "kind": "rsi",
        "params": {"period": 14},
        "columns": ["rsi_14"],
        "warm_up": 56,
    }


def test_both_need_a_login():
    client = APIClient()

    assert client.get("/api/v1/models/").status_code == 401
    assert client.get("/api/v1/features/sets/").status_code == 401
