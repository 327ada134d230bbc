"""The risk policy: the seed's five limits and the two limits of an options book's greeks (net delta,
net vega), picked inside their ranges by a level 1..10 or set one by one, plus the broker-grade limits
and the protections (cooldown, stoploss guard) every order meets.

The policy keeps what was configured (the level and each value set on its own); `resolved()` gives
the limits in force, `values()` the same as a flat mapping for display and audit.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from marketdata.core.errors import InvalidInput, validation_message

LEVELS = (1, 10)
DEFAULT_LEVEL = 6

#: The ranges: (tightest, loosest, unit). Level 1 takes the tightest end, level 10 the loosest. The
#: seed's five, then the greeks of the options held (with the shares) after an option order: net delta
#: in money (the value of the shares the book moves like) and net vega in money per volatility point.
RANGES: dict[str, tuple[float, float, str]] = {
    "max_risk_per_trade_pct": (0.5, 2.0, "% of equity"),
    "max_capital_deployed_pct": (50.0, 80.0, "% of equity"),
    "max_concurrent_positions": (5, 15, "positions"),
    "daily_loss_limit_pct": (1.0, 3.0, "% of the session's start equity"),
    "max_drawdown_pct": (5.0, 12.0, "% of the peak equity"),
    "max_net_delta_pct": (10.0, 50.0, "% of equity"),
    "max_net_vega_pct": (0.1, 0.5, "% of equity per volatility point"),
}
_INTEGER = frozenset({"max_concurrent_positions"})


def level_value(name: str, level: int) -> float | int:
    """The value a level gives a ranged limit: tight + (loose - tight) x (level - 1) / 9, the number
    of positions rounded."""
    tight, loose, _ = RANGES[name]
    value = tight + (loose - tight) * (level - 1) / 9
    return round(value) if name in _INTEGER else float(value)


def _range_text(name: str) -> str:
    tight, loose, unit = RANGES[name]
    return f"{name} must be between {tight:g} and {loose:g} ({unit})"


class StoplossGuard(BaseModel):
    """freqtrade's StoplossGuard: trade_limit losing round trips within lookback_bars bars pause the
    strategy's entries for stop_duration_bars bars."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trade_limit: int = Field(ge=1)
    lookback_bars: int = Field(ge=1)
    stop_duration_bars: int = Field(ge=1)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits in force: every value resolved (None: that limit is off)."""

    level: int
    max_risk_per_trade_pct: float
    max_capital_deployed_pct: float
    max_concurrent_positions: int
    daily_loss_limit_pct: float
    max_drawdown_pct: float
    max_net_delta_pct: float
    max_net_vega_pct: float
    max_order_notional: float | None
    min_qty: float | None
    max_qty: float | None
    qty_decimals: int | None
    max_orders_per_minute: int | None
    max_orders_per_minute_global: int | None
    cooldown_bars: int
    stoploss_guard: StoplossGuard | None


class RiskPolicy(BaseModel):
    """What a risk officer configures. A ranged value left unset (None) follows the level; one set on
    its own must lie inside its range. The broker-grade limits are off when None."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: int = DEFAULT_LEVEL
    # The seed's limits (None: from the level)
    max_risk_per_trade_pct: float | None = None
    max_capital_deployed_pct: float | None = None
    max_concurrent_positions: int | None = None
    daily_loss_limit_pct: float | None = None
    max_drawdown_pct: float | None = None
    # The options book's greeks (None: from the level)
    max_net_delta_pct: float | None = None
    max_net_vega_pct: float | None = None
    # Broker-grade limits (None: off)
    max_order_notional: float | None = Field(None, gt=0, allow_inf_nan=False)
    min_qty: float | None = Field(None, gt=0, allow_inf_nan=False)
    max_qty: float | None = Field(None, gt=0, allow_inf_nan=False)
    qty_decimals: int | None = Field(None, ge=0, le=12)
    max_orders_per_minute: int | None = Field(None, ge=1)  # per strategy
    max_orders_per_minute_global: int | None = Field(None, ge=1)
    # Protections (entries only)
    cooldown_bars: int = Field(0, ge=0)  # after a losing round trip on a symbol; 0 = off
    stoploss_guard: StoplossGuard | None = None

    @field_validator("level")
    @classmethod
    def _level_in_range(cls, level: int) -> int:
        low, high = LEVELS
        if not low <= level <= high:
            raise ValueError(f"level must be between {low} and {high}, not {level}")
        return level

    @field_validator(*RANGES, mode="after")
    @classmethod
    def _in_range(cls, value: float | int | None, info) -> float | int | None:
        if value is None:
            return None
        tight, loose, _ = RANGES[info.field_name]
        if not tight <= value <= loose:  # NaN too
            raise ValueError(f"{_range_text(info.field_name)}, not {value:g}")
        return value

    @model_validator(mode="after")
    def _qty_bounds_ordered(self) -> "RiskPolicy":
        if self.min_qty is not None and self.max_qty is not None and self.min_qty > self.max_qty:
            raise ValueError(f"min_qty {self.min_qty:g} is above max_qty {self.max_qty:g}")
        return self

    @classmethod
    def default(cls) -> "RiskPolicy":
        return cls(level=DEFAULT_LEVEL)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "RiskPolicy":
        """A policy from a mapping (YAML, API, database), refused as InvalidInput in one line."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise InvalidInput(validation_message(exc, "risk policy")) from None

    def resolved(self) -> RiskLimits:
        ranged = {name: getattr(self, name) for name in RANGES}
        for name, value in ranged.items():
            if value is None:
                ranged[name] = level_value(name, self.level)
        return RiskLimits(
            level=self.level,
            **ranged,
            max_order_notional=self.max_order_notional,
            min_qty=self.min_qty,
            max_qty=self.max_qty,
            qty_decimals=self.qty_decimals,
            max_orders_per_minute=self.max_orders_per_minute,
            max_orders_per_minute_global=self.max_orders_per_minute_global,
            cooldown_bars=self.cooldown_bars,
            stoploss_guard=self.stoploss_guard,
        )

    def values(self) -> dict[str, float | int | None]:
        """Every limit in force, flat (the stoploss guard as its three numbers, None when off)."""
        limits = self.resolved()
        flat: dict[str, float | int | None] = {
            name: value for name, value in asdict(limits).items() if name != "stoploss_guard"
        }
        guard = limits.stoploss_guard
        for name in StoplossGuard.model_fields:
            flat[f"stoploss_guard_{name}"] = getattr(guard, name) if guard else None
        return flat

    def overridden(self) -> frozenset[str]:
        """The ranged values set on their own rather than taken from the level."""
        return frozenset(name for name in RANGES if getattr(self, name) is not None)
