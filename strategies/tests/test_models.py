"""TradingModels: fit, predict, explain; an artifact loaded back predicts exactly the same."""

import numpy as np
import pandas as pd
import pytest

from features.core.pipeline import FeatureSet, FeatureSpec
from marketdata.core.errors import InvalidInput
from strategies.core.models.artifact import ModelArtifact
from strategies.core.models.trading import MODELS, LightGBMClassifier, LightGBMRegressor, TrainData

RSI_SET = FeatureSet(name="rsi-only", features=[FeatureSpec(kind="rsi")])


def data(n=600, seed=1, classes=2):
    """Four features of which only "signal" tells the label (with noise)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    features = pd.DataFrame(
        rng.normal(size=(n, 4)), columns=["signal", "noise_1", "noise_2", "noise_3"], index=index
    )
    score = features["signal"] + 0.5 * rng.normal(size=n)
    labels = (score > 0).astype(int) if classes == 2 else np.sign(score.round(0)).astype(int)
    return TrainData(
        features,
        pd.Series(labels, index=index),
        feature_set=RSI_SET,
        label_definition="fixed:5:0.02",
        instruments=("AAA",),
    )


@pytest.mark.parametrize("model_type", ["lightgbm_classifier", "logistic_regression", "random_forest"])
def test_a_classifier_learns_the_signal_and_its_artifact_predicts_the_same_after_loading(
    tmp_path, model_type
):
    train = data()
    model = MODELS[model_type]()

    artifact = model.fit(train)
    loaded = ModelArtifact.load(artifact.save(tmp_path / "model.json")).model()

    test = data(seed=2)
    probabilities = model.predict(test.features).values
    assert list(probabilities.columns) == [0, 1]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    accuracy = ((probabilities[1] > 0.5).astype(int) == test.labels).mean()
    assert accuracy > 0.75  # the signal explains most of the label; a coin would give 0.5
    pd.testing.assert_frame_equal(loaded.predict(test.features).values, probabilities, check_exact=True)
    assert model.explain(test.features).importance.index[0] == "signal"
    assert loaded.artifact.content_hash == artifact.content_hash


def test_an_artifact_carries_its_lineage():
    artifact = LightGBMClassifier().fit(data())

    assert artifact.model_type == "lightgbm_classifier"
    assert artifact.feature_columns == ("signal", "noise_1", "noise_2", "noise_3")
    assert artifact.feature_set_definition() == RSI_SET
    assert (artifact.feature_set_version, artifact.label_definition, artifact.instruments) == (
        RSI_SET.version,
        "fixed:5:0.02",
        ("AAA",),
    )
    assert (artifact.training_start, artifact.training_end) == (
        "2020-01-01 00:00:00+00:00",
        "2021-08-22 00:00:00+00:00",
    )
    assert artifact.params["random_state"] == 7
    assert set(artifact.packages) == {"numpy", "pandas", "lightgbm", "scikit-learn"}
    assert len(artifact.content_hash) == 64
    assert LightGBMClassifier().fit(data()).content_hash == artifact.content_hash  # seeded: the same model
    assert LightGBMClassifier().fit(data(), {"num_leaves": 7}).content_hash != artifact.content_hash


def test_lightgbm_contributions_add_up_to_the_raw_score():
    train = data()
    model = LightGBMClassifier()
    model.fit(train)

    contributions = model.explain(train.features.iloc[:20]).contributions

    assert list(contributions.columns) == ["signal", "noise_1", "noise_2", "noise_3", "bias"]
    probability = model.predict(train.features.iloc[:20]).values[1]
    np.testing.assert_allclose(1 / (1 + np.exp(-contributions.sum(axis=1))), probability, rtol=1e-9)


def test_three_classes_give_three_probabilities_and_the_regressor_values():
    three = data(classes=3)
    classifier = LightGBMClassifier()
    classifier.fit(three)
    regressor = LightGBMRegressor()
    regressor.fit(TrainData(three.features, three.features["signal"] * 0.01))

    assert list(classifier.predict(three.features).values.columns) == [-1, 0, 1]
    assert classifier.explain(three.features).contributions.shape == (600, 5)
    values = regressor.predict(three.features).values
    assert list(values.columns) == ["value"]
    assert np.corrcoef(values["value"], three.features["signal"])[0, 1] > 0.95


def test_a_tampered_artifact_is_refused(tmp_path):
    path = LightGBMClassifier().fit(data()).save(tmp_path / "model.json")
    path.write_text(path.read_text().replace('"fixed:5:0.02"', '"fixed:10:0.02"'))

    with pytest.raises(InvalidInput, match="does not match its content hash"):
        ModelArtifact.load(path)


def test_bad_training_data_and_features_are_refused():
    train = data()
    model = LightGBMClassifier()

    with pytest.raises(InvalidInput, match="1 row\\(s\\) have no label"):
        model.fit(
            TrainData(
                train.features, train.labels.astype(float).where(train.labels.index != train.labels.index[3])
            )
        )
    with pytest.raises(InvalidInput, match="every label is 1: a classifier needs rows of two classes"):
        model.fit(TrainData(train.features, train.labels * 0 + 1))
    with pytest.raises(InvalidInput, match="share one index"):
        model.fit(TrainData(train.features, train.labels.iloc[1:]))
    with pytest.raises(InvalidInput, match="not fitted"):
        model.predict(train.features)
    model.fit(train)
    with pytest.raises(InvalidInput, match="the features lack the model's column\\(s\\) noise_3"):
        model.predict(train.features.drop(columns="noise_3"))
    with pytest.raises(InvalidInput, match="the features lack the model's column\\(s\\) noise_3"):
        model.explain(train.features.drop(columns="noise_3"))
