"""The trading step of an options strategy at a session's chain, the same in backtests and in paper
or live sessions: the strategy decides on the chain and its book, each order meets the risk manager,
and the approved ones are sent (to the simulated broker in a backtest, to the OMS in a session).

What comes before it is its caller's: the session of the book opened at the chain (expiries
settled, marks: OptionBook.session_open), working orders met (the broker's), the risk manager
stepped. Fills reach the strategy through on_option_fill and on_fill, from whoever applies them;
fill_since turns a broker's cumulative report of an order into the fill of what is new in it.
"""

from collections.abc import Callable

from execution.core.runner import StepReport
from risk.core.manager import Decision, RiskManager
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionFill, OptionOrder, OptionPortfolioView
from strategies.core.types import Order, OrderStatus

Send = Callable[[OptionOrder | Order, str], None]  # an approved order and the signal it answers
Refused = Callable[[OptionOrder | Order, Decision], None]


class OptionRunner:
    """Runs an options strategy (strategies.core.option_strategies.OptionStrategy) chain by chain."""

    def __init__(
        self,
        strategy,
        *,
        risk_manager: RiskManager,
        portfolio: OptionPortfolioView,
        send: Send,
        refused: Refused | None = None,
    ) -> None:
        self.strategy, self.risk_manager, self.portfolio = strategy, risk_manager, portfolio
        self.send, self.refused = send, refused
        self.steps: list = []

    def on_chain(self, chain: ChainSnapshot) -> StepReport:
        """The strategy's orders at chain: each checked, then sent (its signal names the chain's
        time and its place among them) or refused (REJECTED, with the manager's reasons)."""
        self.steps.append(chain.ts)
        report = StepReport(chain.ts)
        orders = self.strategy.on_chain(chain, self.portfolio)
        report.signals = len(orders)
        for n, order in enumerate(orders, start=1):
            decision = self.risk_manager.check_order(order, self.portfolio)
            if decision.approved:
                self.send(order, f"{chain.underlying} option order {n} {chain.ts.isoformat()}")
                report.sent.append(order)
                continue
            order.status = OrderStatus.REJECTED
            report.refused.append((order, decision))
            if self.refused is not None:
                self.refused(order, decision)
        return report


def fill_since(cumulative: OptionFill, before: OptionFill | None, order_id: str) -> OptionFill | None:
    """What an order filled since `before`, both cumulative reports of it (units, average prices,
    commission so far), as the fill of order_id; None when nothing is new."""
    if before is None:
        return cumulative._replace(order_id=order_id)
    units = cumulative.qty - before.qty
    if units <= 0:
        return None

    def since(now: float, then: float) -> float:
        return (now * cumulative.qty - then * before.qty) / units

    return OptionFill(
        order_id,
        cumulative.underlying,
        units,
        since(cumulative.net_price, before.net_price),
        tuple(since(now, then) for now, then in zip(cumulative.leg_prices, before.leg_prices, strict=True)),
        cumulative.commission - before.commission,
        cumulative.ts,
    )
