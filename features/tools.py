"""The strategy agent's feature tool: a feature set over a symbol's stored bars, through the feature
cache, as training and the ML strategies compute it."""

from typing import Annotated

from pydantic import Field

from agents.registry import tool
from features.selectors import feature_set_get
from features.services import features_compute
from marketdata.core.bars import Timeframe
from marketdata.tools import Symbol
from quantsite.roles import OPERATOR

FeatureSetName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="a set of configs/features/ by name")
]


@tool(agent="strategy", role=OPERATOR)
def compute_features(
    actor,
    symbol: Symbol,
    lookback: Annotated[int, Field(ge=1, le=5000, description="the newest bars to answer")] = 20,
    feature_set: FeatureSetName = "default",
    timeframe: Timeframe = Timeframe.D1,
) -> dict:
    """A feature set (GET /api/v1/features/sets/ lists them) over every stored bar of a symbol,
    through the feature cache; answers the newest lookback rows (a feature still warming up is
    null), with the set's version and columns."""
    definition = feature_set_get(name=feature_set)
    frame = features_compute(feature_set=definition, symbols=[symbol], timeframe=timeframe).iloc[-lookback:]
    rows = frame.astype(object).where(frame.notna(), None)
    return {
        "symbol": symbol,
        "feature_set": definition.name,
        "version": definition.version,
        "columns": list(frame.columns),
        "rows": [
            {"ts": ts.isoformat(), **values}
            for ts, values in zip(frame.index, rows.to_dict("records"), strict=True)
        ],
    }
