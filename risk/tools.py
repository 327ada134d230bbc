"""The risk agent's tools: a pre-trade check of an order by its version's risk manager, the accounts'
exposure, the kill switch's state (and whether an equity curve would trip the drawdown breaker), and
a risk report. Read-only: engaging the kill switch stays a person's act (the controls API)."""

from typing import Annotated, Literal

from django.utils import timezone
from pydantic import Field

from agents.registry import tool
from execution.manual_order_services import core_order_of, order_risk_check, refusal_details
from execution.tools import OrderInput
from monitoring.account_selectors import AccountFigures, account_figures_list, account_totals
from quantsite.roles import VIEWER
from risk.api import RiskPolicyInForceSerializer
from risk.core.breaker import CircuitBreaker
from risk.core.state import TradingState
from risk.selectors import risk_policy_in_force_get
from risk.services import risk_policy_get, trading_states_get
from strategies.selectors import strategy_version_get

VersionId = Annotated[int | None, Field(ge=1, description="a strategy version's id (default: the platform)")]


@tool(agent="risk", role=VIEWER)
def check_position_size(actor, order: OrderInput) -> dict:
    """Would the version's risk manager take this order (of shares, or an option order of legs) now?
    Its policy (risk per trade, capital deployed, concurrent positions, loss limits, net delta and
    vega), the trading states in force and its account as the OMS keeps it, marked at the latest
    stored closes and option chains; nothing is placed. Answers approved and, when refused, the
    reasons (code and message)."""
    version = strategy_version_get(version_id=order.strategy_version)
    decision = order_risk_check(version=version, mode=order.mode, order=core_order_of(order.spec("check")))
    return {"approved": decision.approved, **refusal_details(decision)}


def _exposure(figures: list[AccountFigures]) -> dict:
    """Each account's figures, and each mode's accounts together (money to the cent)."""
    return {"totals": _figures(account_totals(figures)), "accounts": _figures(figures)}


def _figures(figures: list[AccountFigures]) -> list[dict]:
    return [
        {
            "mode": f.mode,
            "strategy_version": None if f.version is None else f.version.pk,
            "label": f.label,
            "equity": f"{f.equity:.2f}",
            "cash": f"{f.cash:.2f}",
            "gross_exposure": f"{f.gross_exposure:.2f}",
            "net_exposure": f"{f.net_exposure:.2f}",
            "exposure_pct": round(f.exposure_pct, 4),
            "positions": f.positions,
            "unmarked": list(f.unmarked),
        }
        for f in figures
    ]


@tool(agent="risk", role=VIEWER)
def compute_portfolio_exposure(actor, mode: Literal["paper", "live"] | None = None) -> dict:
    """Each strategy version's account (of one mode, or both) and each mode's accounts together:
    equity, cash, gross and net exposure (money), gross exposure as a % of equity, open positions,
    and the symbols without a stored close to mark them (unmarked)."""
    return _exposure(account_figures_list(at=timezone.now(), mode=mode))


@tool(agent="risk", role=VIEWER)
def check_kill_switch(
    actor,
    strategy_version: VersionId = None,
    equity_curve: Annotated[
        list[float] | None,
        Field(
            max_length=100_000,
            description="equity values, oldest first: would they trip the drawdown breaker?",
        ),
    ] = None,
) -> dict:
    """The kill switch: the platform's trading state and the version's own (ACTIVE, REDUCING or
    HALTED; a version trades under the stricter), whether it is engaged (HALTED), and whether its
    positions are to be closed. With an equity curve: whether its drawdown exceeds the max drawdown
    of the risk policy in force (the breaker that halts a session)."""
    version = None if strategy_version is None else strategy_version_get(version_id=strategy_version)
    states = trading_states_get(version=version)
    answer = {
        "strategy_version": strategy_version,
        "platform": states.platform.value,
        "version": None if version is None else states.version.value,
        "effective": states.effective.value,
        "engaged": states.effective == TradingState.HALTED,
        "flatten_requested": states.flatten_requested,
    }
    if equity_curve is not None:
        breaker = CircuitBreaker.from_policy(risk_policy_get(version=version))
        answer["max_drawdown_pct"] = breaker.max_drawdown_pct
        answer["drawdown_tripped"] = breaker.check_drawdown(equity_curve)
    return answer


@tool(agent="risk", role=VIEWER)
def generate_risk_report(actor, strategy_version: VersionId = None) -> dict:
    """A risk summary of the platform (or one strategy version): the risk policy in force (its level,
    limits and ranges, a change waiting for approval), the kill switch's state, and the accounts'
    exposure."""
    version = None if strategy_version is None else strategy_version_get(version_id=strategy_version)
    policy = RiskPolicyInForceSerializer(risk_policy_in_force_get(version=version)).data
    figures = [
        f for f in account_figures_list(at=timezone.now()) if version is None or f.version.pk == version.pk
    ]
    return {
        "policy": policy,
        "kill_switch": check_kill_switch(actor, strategy_version=strategy_version),
        "exposure": _exposure(figures),
    }
