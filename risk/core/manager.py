"""The RiskManager interface every order passes through, in backtests, paper and live alike."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from strategies.core.types import Order, PortfolioView


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class Decision:
    approved: bool
    reasons: list[Reason] = field(default_factory=list)


APPROVED = Decision(approved=True)


class RiskManager(ABC):
    #: True when check_order approves every order: the engine may then use its compiled fast path,
    #: which cannot consult a risk manager bar by bar.
    approves_everything = False

    @abstractmethod
    def check_order(self, order: Order, portfolio: PortfolioView) -> Decision: ...


class PermissiveRiskManager(RiskManager):
    """Approves every order: the strategy's own risk_check is the only cap."""

    approves_everything = True

    def check_order(self, order: Order, portfolio: PortfolioView) -> Decision:
        return APPROVED
