"""Strategy configs: what to trade, with which parameters, sized how, capped where (YAML files)."""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput


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


def validation_message(exc: ValidationError, prefix: str) -> str:
    """Pydantic's errors as one line: 'prefix: where: what; where: what'."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        what = (
            "unknown field"
            if error["type"] == "extra_forbidden"
            else error["msg"].removeprefix("Value error, ")
        )
        parts.append(f"{where}: {what}" if where else what)
    return f"{prefix}: " + "; ".join(parts)


def strategy_config_load(path: str | Path) -> StrategyConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{path}: a strategy config is a mapping of keys to values")
    try:
        return StrategyConfig.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, str(path))) from None
