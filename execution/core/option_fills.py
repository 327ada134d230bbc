"""How an option order fills against a session's chain: as one order at the net price of its legs at
the touch, with a commission per contract.

Each leg buys at its ask and sells at its bid; the net price per unit is the sum of each leg's
signed ratio times its price (positive: a debit paid; negative: a credit received). A leg without a
two-sided quote gives no fill, and says why. A limit order fills only when that net is at or below
its limit, for debits and credits alike: a debit limit of 1.50 pays at most 1.50, a credit limit of
-1.00 receives at least 1.00. A marketable limit order fills at the natural net (the touch), not at
its limit: the touch is what the chain offers, and a limit only caps it.
"""

from dataclasses import dataclass
from typing import NamedTuple

from marketdata.core.errors import InvalidInput, NotFound
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionFill, OptionOrder
from strategies.core.types import OrderType, Side


@dataclass(frozen=True)
class OptionCommission:
    """A commission per contract traded, over all the legs' contracts (brokers' usual $0.65)."""

    per_contract: float = 0.65

    def __post_init__(self) -> None:
        if not self.per_contract >= 0:  # NaN too
            raise InvalidInput(f"a commission per contract cannot be negative, not {self.per_contract}")

    def cost(self, contracts: int) -> float:
        return self.per_contract * contracts


class NoFill(NamedTuple):
    """Why an option order did not fill against a chain."""

    reason: str


def touch_prices(order: OptionOrder, chain: ChainSnapshot) -> tuple[float, ...] | NoFill:
    """Each leg's price at the touch (the ask of a leg bought, the bid of a leg sold), in the order
    of the legs; NoFill when a leg is not quoted on both sides."""
    prices = []
    for leg in order.legs:
        try:
            quote = chain.quote(leg.symbol)
        except NotFound:
            return NoFill(f"{leg.symbol} is not quoted in the chain of {chain.today}")
        if not quote.two_sided:
            return NoFill(
                f"{leg.symbol} has no two-sided quote on {chain.today} (bid {quote.bid}, ask {quote.ask})"
            )
        prices.append(quote.ask if leg.side is Side.BUY else quote.bid)
    return tuple(prices)


def fill_option_order(
    order: OptionOrder, chain: ChainSnapshot, commission: OptionCommission
) -> OptionFill | NoFill:
    """All of the order's remaining units at the touch of chain, as one fill at the net price; or
    why not. The order itself is left as it is (its broker updates it)."""
    if chain.underlying and chain.underlying != order.underlying:
        raise InvalidInput(
            f"an order on {order.underlying} cannot fill against the chain of {chain.underlying}"
        )
    prices = touch_prices(order, chain)
    if isinstance(prices, NoFill):
        return prices
    net = sum(leg.signed_ratio * price for leg, price in zip(order.legs, prices, strict=True))
    if order.order_type is OrderType.LIMIT and net > order.limit_price + 1e-9:
        return NoFill(
            f"the net price at the touch on {chain.today}, {net:.4f}, is worse than the limit "
            f"{order.limit_price:.4f}"
        )
    units = order.remaining
    contracts = sum(leg.ratio for leg in order.legs) * units
    return OptionFill(order.id, order.underlying, units, net, prices, commission.cost(contracts), chain.ts)
