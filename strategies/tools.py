"""The strategy agent's model tools: a registered model (its artifact checked against the registry)
and its signals at the newest bars, as the ml_classifier strategy reads them."""

from typing import Annotated

import numpy as np
from pydantic import Field

from agents.registry import tool
from marketdata.tools import Symbol
from quantsite.db import row_get
from quantsite.roles import OPERATOR, VIEWER
from strategies.api import TrainedModelDetailSerializer
from strategies.core.base import NO_SIGNAL, SIGNAL_FLAT, SIGNAL_LONG, SIGNAL_SHORT
from strategies.core.ml import holding_codes
from strategies.models import TrainedModel
from strategies.selectors import model_artifact_get
from strategies.services import model_predictions_make

ModelId = Annotated[int, Field(ge=1, description="a model of the registry (GET /api/v1/models/)")]
SIGNALS = {NO_SIGNAL: "none", SIGNAL_LONG: "long", SIGNAL_SHORT: "short", SIGNAL_FLAT: "flat"}


@tool(agent="strategy", role=VIEWER)
def load_model(actor, model_id: ModelId) -> dict:
    """A registered model, as GET /api/v1/models/{id}/ shows it (type, label, feature set, training
    range, validation figures, feature importance, latest predictions), after its artifact file is
    loaded and checked to hold the registered content (its hash)."""
    trained = row_get(TrainedModel.objects.all(), model_id, "model")
    artifact = model_artifact_get(str(trained.pk))
    return {
        **TrainedModelDetailSerializer(trained).data,
        "artifact": {
            "verified": True,
            "content_hash": artifact.content_hash,
            "classes": list(artifact.classes),
        },
    }


@tool(agent="strategy", role=OPERATOR)
def generate_signals(
    actor,
    model_id: ModelId,
    symbols: Annotated[list[Symbol], Field(min_length=1, max_length=100)],
    threshold: Annotated[float, Field(ge=0.5, lt=1.0, description="as ml_classifier's threshold")] = 0.55,
    allow_short: bool = False,
) -> dict:
    """The model's predictions at the newest bar of each symbol (its feature set over the stored bars;
    kept in the registry as the schedule keeps them), and for a classifier the signal ml_classifier
    would enter on: long when the top class's probability reaches threshold, short on the bottom
    class's (with allow_short and more than two classes), else none. A symbol whose newest bar lacks
    a feature is left out."""
    trained = row_get(TrainedModel.objects.all(), model_id, "model")
    classes = list(model_artifact_get(str(trained.pk)).classes)
    signals = []
    for prediction in model_predictions_make(trained=trained, symbols=symbols):
        row = {"symbol": prediction.instrument.symbol, "ts": prediction.ts, "values": prediction.values}
        if classes:
            up = np.array([prediction.values[str(max(classes))] >= threshold])
            down = np.array([prediction.values[str(min(classes))] >= threshold])
            code = holding_codes(up, down, 1, shorts=allow_short and len(classes) > 2)[0]
            row["signal"] = SIGNALS[int(code)]
        signals.append(row)
    return {"model": trained.pk, "threshold": threshold, "signals": signals}
