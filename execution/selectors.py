"""Reads of execution: positions, orders and fills, each with what its lists show beside it."""

import pandas as pd
from django.conf import settings
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from execution.models import Fill, Order, OrderLeg, Position, TradingSessionRecord
from marketdata.core.bars import Timeframe
from marketdata.core.errors import InvalidInput, NotFound
from marketdata.core.providers.synthetic_chains import DEFAULT_SEED, synthetic_chains
from marketdata.models import PriceBar
from marketdata.selectors import stored_bars_get
from quantsite.db import row_get
from strategies.core.option_chain import ChainSnapshot
from strategies.models import StrategyVersion


def position_list() -> QuerySet[Position]:
    """Positions with their version and, in the same query, their mark: the latest stored close of
    the symbol in the version's timeframe (`mark`, `mark_ts`; None without a bar), read through the
    bars' (instrument, timeframe, ts) index."""
    latest = PriceBar.objects.filter(
        instrument__symbol=OuterRef("symbol"), timeframe=OuterRef("mark_timeframe")
    ).order_by("-ts")
    return (
        Position.objects.select_related("strategy_version", "close_requested_by")
        .annotate(mark_timeframe=KeyTextTransform("timeframe", "strategy_version__config"))
        .annotate(mark=Subquery(latest.values("close")[:1]), mark_ts=Subquery(latest.values("ts")[:1]))
    )


def order_list() -> QuerySet[Order]:
    """Orders with their version and an option order's legs (one query for all the legs)."""
    return Order.objects.select_related("strategy_version").prefetch_related(
        Prefetch("legs", queryset=OrderLeg.objects.order_by("index"))
    )


def fill_list() -> QuerySet[Fill]:
    """Fills with their order and what they traded (`traded_symbol`, `traded_side`): the order's
    symbol and side, or for an option order's fill its leg's."""
    return Fill.objects.select_related("order", "order__strategy_version").annotate(
        traded_symbol=Coalesce("leg__symbol", "order__symbol"),
        traded_side=Coalesce("leg__side", "order__side"),
    )


def position_get(*, position_id) -> Position:
    return row_get(position_list(), position_id, "position")


def trading_session_latest_get(*, version: StrategyVersion) -> TradingSessionRecord | None:
    """The version's latest trading session (running, or how the last one ended)."""
    sessions = TradingSessionRecord.objects.filter(strategy_version=version)
    return sessions.order_by("-started_at", "-id").first()


def chain_latest_get(*, underlying: str, bars: pd.DataFrame | None = None) -> ChainSnapshot | None:
    """The latest option chain of underlying from the configured source (MARKETDATA_PROVIDER):
    through Alpaca, its latest chain with the underlying at its last daily close; otherwise the
    synthetic chain at the last of the underlying's daily bars (bars, the stored ones by default),
    seeded as backtests seed it. None when no chain can be had: no bars, or too few to price one."""
    if bars is None:
        try:
            bars = stored_bars_get(symbols=[underlying], timeframe=Timeframe.D1, start=None, end=None)[
                underlying
            ]
        except (NotFound, InvalidInput):  # the symbol or its bars are not stored
            return None
    if bars.empty:
        return None
    last = bars.index[-1]
    spot = float(bars["close"].iloc[-1])
    if settings.MARKETDATA_PROVIDER == "alpaca":
        from marketdata.core.providers.alpaca_options import AlpacaOptionChainProvider  # slow to import

        provider = AlpacaOptionChainProvider(
            settings.ALPACA_API_KEY, settings.ALPACA_API_SECRET, data_url=settings.ALPACA_DATA_URL
        )
        frame = provider.latest_chain(underlying)
        if frame.empty:
            return None
        ts = frame["ts"].max()  # each contract's last quote: the chain is as of the latest of them
        return ChainSnapshot(frame.assign(ts=ts), spot=spot, ts=ts.to_pydatetime())
    try:
        frame = synthetic_chains(underlying, bars, last, last, seed=DEFAULT_SEED)
    except InvalidInput:  # too few bars before it to price a chain
        return None
    return ChainSnapshot(frame, spot=spot, ts=last.to_pydatetime())
