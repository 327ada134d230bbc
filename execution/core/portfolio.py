"""Positions and the portfolio: cash, marks, equity and exposure, updated by fills.

Invariants (property-tested): equity = cash + sum of positions at their marks; a position's
quantity is the sum of its signed fills; cash moves by -(signed qty x price) - commission per fill.
"""

from dataclasses import dataclass

from strategies.core.types import Fill


@dataclass
class Position:
    symbol: str
    qty: float = 0.0
    avg_price: float = 0.0
    realized_pnl: float = 0.0  # before commissions

    def apply(self, signed_qty: float, price: float) -> None:
        """The fill of signed_qty at price. The same arithmetic on floats (the engines) and on
        Decimals (the OMS's stored positions): zeros and signs keep the numbers' own type."""
        if self.qty == 0 or (self.qty > 0) == (signed_qty > 0):
            total = self.qty + signed_qty
            self.avg_price = (self.avg_price * self.qty + price * signed_qty) / total
            self.qty = total
            return
        closing = min(abs(signed_qty), abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        self.realized_pnl += closing * (price - self.avg_price) * direction
        remainder = signed_qty + direction * closing  # what is left after closing, same sign as signed_qty
        self.qty -= direction * closing
        if abs(self.qty) < 1e-12:
            self.qty -= self.qty
            self.avg_price -= self.avg_price
        if abs(remainder) > 1e-12:  # a flip: the rest opens the other way
            self.qty, self.avg_price = remainder, price

    def unrealized_pnl(self, mark: float) -> float:
        return self.qty * (mark - self.avg_price)


class Portfolio:
    """Cash, positions and the last price of every symbol."""

    def __init__(self, cash: float) -> None:
        self._cash = float(cash)
        self.positions: dict[str, Position] = {}
        self.marks: dict[str, float] = {}
        self.commission_paid = 0.0
        self.traded_notional = 0.0

    @property
    def cash(self) -> float:
        return self._cash

    def valuation(self) -> tuple[float, float]:
        """(equity, gross exposure) at the marks, in one pass over the positions."""
        net = gross = 0.0
        for symbol, held in self.positions.items():
            if held.qty:
                value = held.qty * self.marks.get(symbol, held.avg_price)
                net += value
                gross += abs(value)
        return self._cash + net, gross

    @property
    def equity(self) -> float:
        return self.valuation()[0]

    @property
    def gross_exposure(self) -> float:
        return self.valuation()[1]

    def buying_power(self) -> float:
        """What new positions may use: equity not already committed to open positions."""
        equity, gross = self.valuation()
        return max(0.0, equity - gross)

    def position(self, symbol: str) -> float:
        held = self.positions.get(symbol)
        return held.qty if held else 0.0

    def price(self, symbol: str) -> float:
        return self.marks.get(symbol, 0.0)

    def mark(self, symbol: str, price: float) -> None:
        self.marks[symbol] = price

    def apply_fill(self, fill: Fill) -> None:
        signed = fill.side.sign * fill.qty
        held = self.positions.get(fill.symbol)
        if held is None:
            held = self.positions[fill.symbol] = Position(fill.symbol)
        held.apply(signed, fill.price)
        self._cash -= signed * fill.price + fill.commission
        self.commission_paid += fill.commission
        self.traded_notional += fill.qty * fill.price
