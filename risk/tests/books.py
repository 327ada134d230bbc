"""Portfolios whose figures a test sets itself, for the risk manager to read."""

from dataclasses import dataclass, field

from strategies.core.options import OptionExposure


@dataclass
class Account:
    """A broker account whose buying power is its own figure (margin), not equity - gross exposure."""

    power: float
    cash: float = 100_000.0
    equity: float = 100_000.0
    gross_exposure: float = 0.0
    positions: dict = field(default_factory=dict)

    def buying_power(self) -> float:
        return self.power

    def position(self, symbol: str) -> float:
        return self.positions[symbol].qty if symbol in self.positions else 0.0

    def price(self, symbol: str) -> float:
        return 100.0


@dataclass
class OptionAccount(Account):
    """An Account that holds options too: contracts by OCC symbol and the greeks of them all, as given
    (every symbol, the underlyings too, is priced at 100)."""

    power: float = 100_000.0
    contracts: dict[str, int] = field(default_factory=dict)
    greeks: OptionExposure = field(default_factory=OptionExposure)

    def option_position(self, symbol: str) -> int:
        return self.contracts.get(symbol, 0)

    def option_exposure(self) -> OptionExposure:
        return self.greeks
