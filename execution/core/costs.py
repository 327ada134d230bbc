"""Commission and slippage models, and the size a budget affords once both are paid."""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CommissionModel:
    """per_trade on every order's first fill (the seed's $1), per_share with a minimum, and bps of
    notional; any mix of the three."""

    per_trade: float = 0.0
    per_share: float = 0.0
    minimum: float = 0.0
    bps: float = 0.0

    def __post_init__(self) -> None:
        if min(self.per_trade, self.per_share, self.minimum, self.bps) < 0:
            raise ValueError("commissions cannot be negative")

    def cost(self, qty: float, price: float, *, first_fill: bool = True) -> float:
        share_part = max(self.minimum, self.per_share * qty) if self.per_share > 0 else 0.0
        return (self.per_trade if first_fill else 0.0) + share_part + self.bps / 10_000 * qty * price

    def affordable_qty(self, budget: float, price: float, *, whole: bool, first_fill: bool = True) -> float:
        """The largest quantity whose cost plus commission fits in budget."""
        fixed = self.per_trade if first_fill else 0.0
        unit = price * (1 + self.bps / 10_000) + self.per_share
        qty = max(0.0, (budget - fixed) / unit)
        if whole:
            qty = float(math.floor(qty + 1e-9))
            while qty > 0 and qty * price + self.cost(qty, price, first_fill=first_fill) > budget + 1e-9:
                qty -= 1.0
        elif (
            self.per_share > 0
            and qty > 0
            and qty * price + self.cost(qty, price, first_fill=first_fill) > budget
        ):
            qty = max(0.0, (budget - fixed - self.minimum) / (price * (1 + self.bps / 10_000)))
        return qty


@dataclass(frozen=True)
class SlippageModel:
    """A fixed cost in bps, plus market impact that grows with the square root of participation
    (qty / bar volume): impact_bps at 100% participation."""

    bps: float = 10.0
    impact_bps: float = 0.0

    def __post_init__(self) -> None:
        if self.bps < 0 or self.impact_bps < 0:
            raise ValueError("slippage cannot be negative")

    def fill_price(self, price: float, side_sign: int, qty: float = 0.0, bar_volume: float = 0.0) -> float:
        bps = self.bps
        if self.impact_bps and bar_volume > 0:
            bps += self.impact_bps * math.sqrt(qty / bar_volume)
        return price * (1 + side_sign * bps / 10_000)
