"""Strategy configs: what to trade, with which parameters, sized how, capped where (YAML files)."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from marketdata.core.bars import Timeframe
from marketdata.core.files import yaml_model_load


class Sizing(BaseModel):
    """How a signal becomes an order size.

    qty: value shares. notional: value in money. equity_fraction: value of the buying power at fill
    time (1.0, the default, is backtesting.py's buy(): floor(cash / fill price) shares).
    fixed_fractional: value of equity at signal time, as money. atr_risk: risk value of equity
    per trade with a stop atr_multiple ATRs away.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["qty", "notional", "equity_fraction", "fixed_fractional", "atr_risk"] = "equity_fraction"
    value: float = Field(1.0, gt=0)
    whole_shares: bool = True
    atr_period: int = Field(14, ge=1)
    atr_multiple: float = Field(2.0, gt=0)

    @field_validator("value")
    @classmethod
    def _fraction_at_most_one(cls, value: float, info) -> float:
        mode = info.data.get("mode")
        if mode in {"equity_fraction", "fixed_fractional", "atr_risk"} and value > 1:
            raise ValueError(f"a {mode} size is a fraction of equity: at most 1, not {value}")
        return value


class RiskCaps(BaseModel):
    """The strategy's own caps, applied in its risk_check (the risk manager checks again)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_short: bool = False
    max_position_pct: float | None = Field(None, gt=0, le=100)  # of equity, per symbol


class StrategyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str
    name: str = ""
    universe: list[str] = Field(default_factory=list)
    timeframe: Timeframe = Timeframe.D1
    parameters: dict = Field(default_factory=dict)
    sizing: Sizing = Field(default_factory=Sizing)
    risk: RiskCaps = Field(default_factory=RiskCaps)

    @field_validator("universe")
    @classmethod
    def _upper(cls, symbols: list[str]) -> list[str]:
        return [s.strip().upper() for s in symbols if s.strip()]


def strategy_config_load(path: str | Path) -> StrategyConfig:
    return yaml_model_load(path, StrategyConfig, "a strategy config")
