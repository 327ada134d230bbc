"""Broker clients from settings: which broker, paper or live, with whose keys.

Paper and live keys are separate settings and never stand in for each other: asking for live with
only paper keys set is refused, not served with the paper account. The simulated broker trades
paper only.
"""

from collections.abc import Callable
from functools import cache

from django.conf import settings

from backtests.core.engine import costs_of
from backtests.core.results import BacktestConfig
from execution.choices import BrokerName, TradingMode
from execution.core.brokers.base import BrokerClient
from execution.core.brokers.simulated import SimulatedBrokerClient
from execution.models import Order
from marketdata.core.errors import InvalidInput, ProviderNotConfigured


def broker_client_build(
    *, broker: str, mode: str, capital: float, costs: BacktestConfig | None = None
) -> BrokerClient:
    """The client of broker in mode. capital and costs set up the simulated broker (its cash, and the
    commission, slippage and fill timing of costs, a backtest's config)."""
    builders: dict[str, Callable[[], BrokerClient]] = {
        BrokerName.SIMULATED: lambda: _simulated(mode, capital, costs or BacktestConfig()),
        BrokerName.ALPACA: lambda: _alpaca(mode),
        BrokerName.IB: lambda: _ib(mode),
    }
    if mode not in TradingMode.values:
        raise InvalidInput(f"unknown trading mode {mode!r}; use {' or '.join(TradingMode.values)}")
    try:
        build = builders[broker]
    except KeyError:
        raise InvalidInput(
            f"unknown broker {broker!r}; the brokers: {', '.join(BrokerName.values)}"
        ) from None
    return build()


def order_clients() -> Callable[[Order], BrokerClient]:
    """The client of each order's broker and mode, built once per pair: for acting on many orders
    at once (the kill switch cancelling them)."""

    @cache
    def client(broker: str, mode: str) -> BrokerClient:
        return broker_client_build(broker=broker, mode=mode, capital=0.0)

    return lambda order: client(order.broker, order.mode)


def _simulated(mode: str, capital: float, costs: BacktestConfig) -> SimulatedBrokerClient:
    if mode != TradingMode.PAPER:
        raise InvalidInput("the simulated broker trades paper only")
    commission, slippage = costs_of(costs)
    return SimulatedBrokerClient(
        cash=capital,
        commission=commission,
        slippage=slippage,
        fill_timing=costs.fill_timing,
        max_participation=costs.max_participation,
    )


def _alpaca(mode: str) -> BrokerClient:
    from execution.core.brokers.alpaca import AlpacaBroker  # alpaca-py loads only when used

    prefix = "ALPACA_LIVE" if mode == TradingMode.LIVE else "ALPACA_PAPER"
    key, secret = getattr(settings, f"{prefix}_API_KEY"), getattr(settings, f"{prefix}_API_SECRET")
    if not key or not secret:
        raise ProviderNotConfigured(
            f"{mode} trading through Alpaca needs {prefix}_API_KEY and {prefix}_API_SECRET"
        )
    return AlpacaBroker(
        key, secret, paper=mode == TradingMode.PAPER, url_override=settings.ALPACA_TRADING_URL
    )


def _ib(mode: str) -> BrokerClient:
    from execution.core.brokers.ib import IBBroker  # ib_async loads only when used

    port_setting = "IB_LIVE_PORT" if mode == TradingMode.LIVE else "IB_PAPER_PORT"
    port = getattr(settings, port_setting)
    if not settings.IB_HOST or not port:
        raise ProviderNotConfigured(
            f"{mode} trading through Interactive Brokers needs IB_HOST and {port_setting}"
        )
    return IBBroker(
        host=settings.IB_HOST, port=port, client_id=settings.IB_CLIENT_ID, paper=mode == TradingMode.PAPER
    )
