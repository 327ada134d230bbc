"""Orders placed by hand (a person's or an agent's, not a strategy's), checked as every order is: the
version's trading checks (its stage, enabled, the trading states; live: LIVE_TRADING_ENABLED and a
real broker), then its risk manager (its policy, the states in force, its account as the OMS keeps
it), then the OMS.

Through a real broker (Alpaca, IB) the order is stored and sent at once. The simulated paper broker
lives in the running session's process, so there the order is stored NEW and the session sends it at
its next bar (manual_orders_take), checked again by its own risk manager, as a position close is.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
from django.utils import timezone

from execution.brokers import broker_client_build
from execution.choices import AssetClass, BrokerName
from execution.core.brokers.base import LegRequest, OrderRequest
from execution.models import Order, TradingAccount
from execution.selectors import chain_latest_get
from execution.services import OptionOrderSpec, OrderSpec, Spec, order_create, order_submit
from marketdata.core.bars import Timeframe
from marketdata.core.errors import Conflict, InvalidInput
from marketdata.core.options import OptionContract
from marketdata.selectors import last_closes_get
from quantsite.audit import audit
from quantsite.roles import OPERATOR, role_require
from risk.core.manager import Decision, PolicyRiskManager
from risk.services import risk_policy_get, trading_states_get
from strategies.core.option_chain import ChainSnapshot
from strategies.core.options import OptionLeg, OptionOrder
from strategies.core.types import Order as CoreOrder
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce
from strategies.models import StrategyVersion


@dataclass(frozen=True)
class ManualOrder:
    """An order placed by hand: sent to its broker, or requested of the paper session."""

    order: Order
    outcome: str  # "sent" or "requested"


def manual_order_spec(
    *,
    symbol: str | None,
    side: Side | None,
    legs: Sequence[LegRequest] | None,
    qty: Decimal,
    order_type: OrderType,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    tif: TimeInForce,
    reduce_only: bool,
    reason: str,
) -> Spec:
    """An order placed by hand, as its door (the API, a tool) was given it: of shares (a symbol and a
    side) or of options (legs: qty units of each leg's ratio of contracts; limit_price the net per unit
    per share, a debit positive, a credit negative). InvalidInput when it is neither, or mixes their
    fields; its terms are checked when it is placed (core_order_of)."""
    if legs is None:
        if symbol is None or side is None:
            raise InvalidInput("an order names a symbol and a side (shares), or its legs (options)")
        if reduce_only:
            raise InvalidInput("reduce_only is an option order's: a position of shares closes by its close")
        return OrderSpec(
            symbol=symbol.strip().upper(),
            side=side,
            qty=qty,
            order_type=order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            tif=tif,
            reason=reason,
        )
    if symbol is not None or side is not None or stop_price is not None:
        raise InvalidInput(
            "an option order names its contracts and their sides in its legs: no symbol, side or stop_price"
        )
    whole = qty.to_integral_value()
    return OptionOrderSpec(
        legs=tuple(LegRequest(leg.symbol.strip().upper(), leg.side, leg.ratio) for leg in legs),
        qty=whole if qty == whole else qty,  # units as brokers take them: "2", not "2.000000000"
        order_type=order_type,
        limit_price=limit_price,
        tif=tif,
        reduce_only=reduce_only,
        reason=reason,
    )


def core_order_of(spec: Spec) -> CoreOrder | OptionOrder:
    """The order as the risk manager reads it; a spec no broker would take (a price missing, a
    quantity not positive, legs that are no option order) is refused first, as the OMS refuses it."""
    if isinstance(spec, OptionOrderSpec):
        spec.request("check")
        legs = [
            OptionLeg(
                replace(OptionContract.parse(leg.symbol), multiplier=spec.multiplier), leg.side, leg.ratio
            )
            for leg in spec.legs
        ]
        return OptionOrder(
            legs,
            int(spec.qty),
            order_type=spec.order_type,
            limit_price=None if spec.limit_price is None else float(spec.limit_price),
            tif=spec.tif,
            reduce_only=spec.reduce_only,
            reason=spec.reason,
        )
    OrderRequest(
        "check", spec.symbol, spec.side, spec.qty, spec.order_type, spec.limit_price, spec.stop_price
    )
    return CoreOrder(
        spec.symbol,
        spec.side,
        qty=float(spec.qty),
        order_type=spec.order_type,
        limit_price=None if spec.limit_price is None else float(spec.limit_price),
        stop_price=None if spec.stop_price is None else float(spec.stop_price),
        tif=spec.tif,
        reason=spec.reason,
    )


def spec_of(order: Order) -> Spec:
    """A stored order's spec, with its choices as the core's enums."""
    if order.asset_class == AssetClass.OPTION:
        return OptionOrderSpec(
            legs=tuple(LegRequest(leg.symbol, Side(leg.side), leg.ratio) for leg in order.legs.all()),
            qty=order.qty,
            order_type=OrderType(order.order_type),
            limit_price=order.limit_price,
            tif=TimeInForce(order.tif),
            reduce_only=order.reduce_only,
            multiplier=order.multiplier,
            reason=order.reason,
        )
    return OrderSpec(
        symbol=order.symbol,
        side=Side(order.side),
        qty=order.qty,
        order_type=OrderType(order.order_type),
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        tif=TimeInForce(order.tif),
        reason=order.reason,
    )


def trading_account_get(*, version: StrategyVersion, mode: str) -> TradingAccount:
    account = TradingAccount.objects.filter(strategy_version=version, mode=mode).first()
    if account is None:
        raise Conflict(f"{version} has no {mode} account (it has never traded {mode})")
    return account


def core_order_text(order: CoreOrder | OptionOrder) -> str:
    """An order as the audit trail names it: "buy 10 AAA", or an option order's units and legs."""
    if isinstance(order, OptionOrder):
        legs = ", ".join(f"{leg.side} {leg.ratio} {leg.symbol}" for leg in order.legs)
        return f"{order.qty} x [{legs}]"
    return f"{order.side} {order.qty} {order.symbol}"


def order_risk_check(*, version: StrategyVersion, mode: str, order: CoreOrder | OptionOrder) -> Decision:
    """The version's risk manager on the order: its policy, the trading states in force, and its
    account in mode as the OMS keeps it, marked at the latest stored closes (the average price where a
    symbol has no bar). Nothing is stored."""
    from execution.trading_services import OmsPortfolio  # the session imports this module

    trading_account_get(version=version, mode=mode)
    manager = PolicyRiskManager(risk_policy_get(version=version), strategy=str(version))
    states = trading_states_get(version=version)
    manager.set_external_state(states.platform, states.version)
    portfolio = OmsPortfolio(version, mode)
    timeframe = Timeframe.parse(version.config.get("timeframe", "1d"))
    for symbol, held in portfolio.positions.items():
        portfolio.mark(symbol, held.avg_price)
    symbol = order.underlying if isinstance(order, OptionOrder) else order.symbol
    closes = last_closes_get(symbols={*portfolio.positions, symbol}, timeframe=timeframe)
    for symbol, (close, _) in closes.items():
        portfolio.mark(symbol, float(close))  # a symbol without a bar has no price: refused
    underlyings = {portfolio.contracts[symbol].underlying for symbol in portfolio.option_positions}
    if isinstance(order, OptionOrder):
        underlyings.add(order.underlying)
    for underlying in sorted(underlyings):
        if (chain := chain_latest_get(underlying=underlying)) is not None:
            portfolio.mark_chain(chain)
    if isinstance(order, OptionOrder):
        option_order_priced(order, portfolio.chains.get(order.underlying))
    manager.on_step(timezone.now(), portfolio.equity, new_session=True)
    return manager.check_order(order, portfolio)


def option_order_priced(order: OptionOrder, chain: ChainSnapshot | None) -> None:
    """An option order placed by hand gets what a strategy's carries, from the chain of its
    underlying: the net mark of its legs (expected_price) and their greeks (exposure), for the risk
    manager to measure it by. Without a chain that marks every leg it is left without them (and an
    order that opens is refused for it)."""
    if chain is None or any(leg.symbol not in chain for leg in order.legs):
        return
    try:
        expected, exposure = chain.net_mark(order.legs), chain.exposure(order.legs, 1)
    except InvalidInput:  # a leg neither quoted on both sides nor with a volatility
        return
    if order.expected_price is None:
        order.expected_price = expected
    if order.exposure is None and all(np.isfinite(exposure)):
        order.exposure = exposure


def refusal_text(decision: Decision) -> str:
    return "; ".join(r.message for r in decision.reasons)


def refusal_details(decision: Decision) -> dict:
    return {"reasons": [{"code": str(r.code), "message": r.message} for r in decision.reasons]}


def risk_refused(
    *, by, action: str, subject, what: str, decision: Decision, said: str = "the order"
) -> Conflict:
    """A refusal of the risk manager written to the audit trail (what: the order, for the record), and
    the Conflict that says it (said: the order, for the caller), with the manager's reasons."""
    refused = refusal_text(decision)
    audit(
        actor=by,
        action=action,
        subject=subject,
        summary=f"{what}: {refused}",
        codes=[str(r.code) for r in decision.reasons],
    )
    return Conflict(f"the risk manager refuses {said}: {refused}", details=refusal_details(decision))


def manual_order_place(*, version: StrategyVersion, mode: str, spec: Spec, by, key: str = "") -> ManualOrder:
    """Place an order by hand (an operator's act, in the audit trail). Forbidden when the version may
    not trade in mode (trading_check); Conflict with the risk manager's reasons when it refuses. key:
    the same key again answers the order placed with it, never a second one."""
    from execution.trading_services import trading_check  # the session imports this module

    role_require(by, OPERATOR, "place an order")
    account = trading_account_get(version=version, mode=mode)
    trading_check(version=version, mode=mode, broker=account.broker)
    order = core_order_of(spec)
    decision = order_risk_check(version=version, mode=mode, order=order)
    if not decision.approved:
        what = f"{core_order_text(order)} placed by hand"
        raise risk_refused(by=by, action="order.refused", subject=version, what=what, decision=decision)
    client = None  # the simulated broker's lives in its session
    if account.broker != BrokerName.SIMULATED:  # built first: a broker not configured stores nothing
        client = broker_client_build(broker=account.broker, mode=mode, capital=0.0)
    signal = f"by hand {key}" if key else f"by hand {core_order_text(order)} {timezone.now().isoformat()}"
    stored = order_create(
        version=version, mode=mode, broker=account.broker, spec=spec, signal=signal, actor=by
    )
    if client is None:
        return ManualOrder(stored, "requested" if stored.status == OrderStatus.NEW else "sent")
    return ManualOrder(order_submit(order=stored, client=client, actor=by), "sent")


def manual_orders_take(*, version: StrategyVersion, mode: str) -> list[Order]:
    """The orders placed by hand for a paper session's simulated broker and not sent yet (NEW),
    oldest first: the session sends each (or refuses it) at its next bar."""
    return list(
        Order.objects.filter(
            strategy_version=version, mode=mode, broker=BrokerName.SIMULATED, status=OrderStatus.NEW
        ).order_by("id")
    )
