"""Round-trip trades from fills: lots are matched first in, first out."""

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

import numpy as np

from strategies.core.types import Fill


class Trade(NamedTuple):
    """A round trip: a position opened by fills and closed by later ones. (A named tuple: a run
    can hold hundreds of thousands, and tuples are the cheapest immutable records to build.)"""

    symbol: str
    direction: Literal["long", "short"]
    quantity: float
    entry_time: datetime
    entry_price: float
    exit_time: datetime
    exit_price: float
    pnl: float  # (exit - entry) x qty for longs, (entry - exit) x qty for shorts, less commissions
    commission: float
    entry_bar: int
    exit_bar: int

    @property
    def return_pct(self) -> float:
        sign = 1.0 if self.direction == "long" else -1.0
        return sign * (self.exit_price / self.entry_price - 1.0) * 100.0

    @property
    def bars_held(self) -> int:
        return self.exit_bar - self.entry_bar


@dataclass
class _Lot:
    signed_qty: float
    price: float
    ts: datetime
    bar: int
    commission: float  # the entry commission still carried by this lot


class TradeLedger:
    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self._lots: dict[str, deque[_Lot]] = {}

    def open_lots(self, symbol: str) -> list[tuple[float, float]]:
        return [(lot.signed_qty, lot.price) for lot in self._lots.get(symbol, ())]

    def record(self, fill: Fill) -> None:
        lots = self._lots.setdefault(fill.symbol, deque())
        signed = fill.side.sign * fill.qty
        per_unit_commission = fill.commission / fill.qty if fill.qty else 0.0
        while lots and signed and (lots[0].signed_qty > 0) != (signed > 0):
            lot = lots[0]
            closed = min(abs(signed), abs(lot.signed_qty))
            long = lot.signed_qty > 0
            entry_commission = lot.commission * closed / abs(lot.signed_qty)
            commission = entry_commission + per_unit_commission * closed
            gross = (fill.price - lot.price) * closed * (1 if long else -1)
            self.trades.append(
                Trade(
                    symbol=fill.symbol,
                    direction="long" if long else "short",
                    quantity=closed,
                    entry_time=lot.ts,
                    entry_price=lot.price,
                    exit_time=fill.ts,
                    exit_price=fill.price,
                    pnl=gross - commission,
                    commission=commission,
                    entry_bar=lot.bar,
                    exit_bar=fill.bar_index,
                )
            )
            lot.commission -= entry_commission
            lot.signed_qty += closed if not long else -closed
            signed += closed if not (signed > 0) else -closed
            if abs(lot.signed_qty) < 1e-12:
                lots.popleft()
        if abs(signed) > 1e-12:
            lots.append(_Lot(signed, fill.price, fill.ts, fill.bar_index, per_unit_commission * abs(signed)))


def round_trips(
    symbol: str, times: Mapping[int, datetime], bars, signs, qtys, prices, commissions
) -> list[Trade]:
    """The trades of fills that alternate between opening a position from flat and closing all of
    it (fill 2k opens, fill 2k+1 closes), from arrays: what record() gives for such fills, with the
    same arithmetic in the same order, at numpy speed. A last, unclosed fill opens no trade."""
    n = len(qtys) // 2 * 2
    entry, exit_ = slice(0, n, 2), slice(1, n, 2)
    qty = qtys[entry]
    lot_commission = commissions[entry] / qty * qty
    commission = lot_commission * qty / qty + commissions[exit_] / qtys[exit_] * qty
    direction = signs[entry].astype("float64")
    pnl = (prices[exit_] - prices[entry]) * qty * direction - commission
    sides = signs[entry]
    when = times.__getitem__
    columns = (
        [symbol] * len(qty),
        np.where(sides > 0, "long", "short").tolist(),
        qty.tolist(),
        list(map(when, bars[entry].tolist())),
        prices[entry].tolist(),
        list(map(when, bars[exit_].tolist())),
        prices[exit_].tolist(),
        pnl.tolist(),
        commission.tolist(),
        bars[entry].tolist(),
        bars[exit_].tolist(),
    )
    return list(map(Trade._make, zip(*columns, strict=True)))
