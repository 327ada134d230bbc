"""Option chains from Alpaca, through alpaca-py.

Historical chains: the contracts of the underlying listed by Alpaca's trading API (active and
expired ones), then their daily option bars (OptionHistoricalDataClient). Alpaca keeps no
historical option quotes, so these rows carry the day's last price and volume, and bid, ask,
implied volatility and greeks stay NaN. The latest chain: Alpaca's option chain snapshots,
with the latest quote and trade, implied volatility and greeks of each contract.

Only standard contracts (100 shares of the underlying, root = underlying) are read: an adjusted
contract, after a corporate action, delivers something else than its OCC symbol says.
"""

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from alpaca.common.enums import BaseURL
from alpaca.data.enums import OptionsFeed
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.requests import OptionBarsRequest, OptionChainRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetStatus
from alpaca.trading.requests import GetOptionContractsRequest

from marketdata.core.errors import InvalidInput, ProviderError
from marketdata.core.options import STANDARD_MULTIPLIER
from marketdata.core.providers.alpaca import (
    DEFAULT_DATA_URL,
    BackoffClient,
    alpaca_choice,
    alpaca_errors,
    backoff_settings,
)
from marketdata.core.providers.base import check_range
from marketdata.core.providers.option_chains import OptionChainProvider, chain_frame

SYMBOLS_PER_REQUEST = 100  # an option bars request names its contracts in the query string
CONTRACTS_PER_PAGE = 10_000  # the most Alpaca lists in one page
# Alpaca quotes vega and rho per percentage point and theta per calendar day (the market's
# convention); option_pricing's units are per 1.00 and per year.
GREEK_SCALES = {"delta": 1.0, "gamma": 1.0, "vega": 100.0, "theta": 365.0, "rho": 100.0}


class AlpacaOptionChainProvider(OptionChainProvider):
    name = "alpaca"

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        data_url: str | None = None,
        trading_url: str | None = None,
        feed: str = "indicative",
        listed_days: int = 91,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        """``trading_url`` serves the contract list (Alpaca's paper API by default: the list is
        the same); historical chains hold the contracts expiring within ``listed_days`` of a day."""
        if listed_days < 1:
            raise InvalidInput(f"listed_days must be at least 1, not {listed_days}")
        self._data_url = data_url or DEFAULT_DATA_URL
        self._feed = alpaca_choice(OptionsFeed, feed, "options feed")
        self._listed_days = listed_days
        backoff = backoff_settings(
            api_key,
            secret_key,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
            sleep=sleep,
            timeout=timeout,
        )
        self._data = _OptionsClient(
            api_key, secret_key, raw_data=True, url_override=self._data_url, **backoff
        )
        self._trading = _ContractsClient(
            api_key, secret_key, raw_data=True, url_override=trading_url, **backoff
        )
        self._trading_url = trading_url or BaseURL.TRADING_PAPER.value

    def get_chains(self, underlying: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Daily rows (ts: the session at 00:00 UTC) of every contract that traded in [start, end]
        and expires by listed_days after end: last is the day's close, volume its volume."""
        check_range(start, end)
        underlying = underlying.strip().upper()
        symbols = self._contracts(underlying, start.date(), end.date() + timedelta(days=self._listed_days))
        bars: dict[str, list[dict]] = {}
        for first in range(0, len(symbols), SYMBOLS_PER_REQUEST):
            batch = symbols[first : first + SYMBOLS_PER_REQUEST]
            request = OptionBarsRequest(
                symbol_or_symbols=batch, timeframe=TimeFrame.Day, start=start, end=end
            )
            what = f"option bars of {underlying}"
            with alpaca_errors(what, f"{what} request", self._data_url):
                bars.update(self._data.get_option_bars(request))
        rows = [(symbol, bar) for symbol, those in bars.items() for bar in those]
        _check_fields(rows, ("t", "c", "v"), "an option bar")
        stamps = pd.to_datetime([bar["t"] for _, bar in rows], utc=True, format="ISO8601")
        return chain_frame(
            _session_days(stamps),
            [symbol for symbol, _ in rows],
            last=[bar["c"] for _, bar in rows],
            volume=[bar["v"] for _, bar in rows],
        )

    def latest_chain(self, underlying: str, *, expiring_by: date | None = None) -> pd.DataFrame:
        """The chain as Alpaca has it now: a row per contract with a quote or a trade (ts: the
        quote's time, else the trade's), bid, ask, last, the day's volume, iv and greeks."""
        underlying = underlying.strip().upper()
        request = OptionChainRequest(
            underlying_symbol=underlying, feed=self._feed, expiration_date_lte=expiring_by
        )
        what = f"the option chain of {underlying}"
        with alpaca_errors(what, f"request for {what}", self._data_url):
            snapshots = self._data.get_option_chain(request)
        rows = [
            (symbol, snapshot)
            for symbol, snapshot in snapshots.items()
            if _is_standard(symbol, underlying)
            and (snapshot.get("latestQuote") or snapshot.get("latestTrade"))
        ]

        def field(section: str, key: str) -> list:
            return [(snapshot.get(section) or {}).get(key, np.nan) for _, snapshot in rows]

        latest = [(symbol, s.get("latestQuote") or s["latestTrade"]) for symbol, s in rows]
        _check_fields(latest, ("t",), "a quote or trade")
        stamps = [quote["t"] for _, quote in latest]
        greeks = {
            name: np.asarray(field("greeks", name), dtype="float64") * scale
            for name, scale in GREEK_SCALES.items()
        }
        return chain_frame(
            pd.to_datetime(stamps, utc=True, format="ISO8601"),
            [symbol for symbol, _ in rows],
            bid=field("latestQuote", "bp"),
            ask=field("latestQuote", "ap"),
            last=field("latestTrade", "p"),
            volume=field("dailyBar", "v"),
            iv=[snapshot.get("impliedVolatility", np.nan) for _, snapshot in rows],
            **greeks,
        )

    def _contracts(self, underlying: str, first: date, last: date) -> list[str]:
        """The OCC symbols of the standard contracts of underlying expiring from first to last,
        listed or expired."""
        symbols = []
        for status in (AssetStatus.ACTIVE, AssetStatus.INACTIVE):
            page = None
            while True:
                request = GetOptionContractsRequest(
                    underlying_symbols=[underlying],
                    status=status,
                    expiration_date_gte=first,
                    expiration_date_lte=last,
                    limit=CONTRACTS_PER_PAGE,
                    page_token=page,
                )
                what = f"option contracts of {underlying}"
                with alpaca_errors(what, f"{what} request", self._trading_url):
                    reply = self._trading.get_option_contracts(request)
                symbols += [
                    c["symbol"]
                    for c in reply.get("option_contracts") or []
                    if c.get("root_symbol") == underlying and _multiplier(c) == STANDARD_MULTIPLIER
                ]
                page = reply.get("next_page_token")
                if not page:
                    break
        return sorted(set(symbols))


class _OptionsClient(BackoffClient, OptionHistoricalDataClient):
    pass


class _ContractsClient(BackoffClient, TradingClient):
    pass


def _check_fields(rows: list[tuple[str, dict]], keys: tuple[str, ...], what: str) -> None:
    for symbol, fields in rows:
        missing = [key for key in keys if fields.get(key) is None]
        if missing:
            raise ProviderError(f"Alpaca sent {what} of {symbol} without {', '.join(missing)}: {fields}")


def _multiplier(contract: dict) -> float:
    try:
        return float(contract.get("multiplier"))
    except (TypeError, ValueError):
        return float("nan")


def _is_standard(symbol: str, underlying: str) -> bool:
    """A standard contract's root is its underlying (an adjusted one's is another, like AAPL1)."""
    return symbol[:-15].rstrip() == underlying


def _session_days(stamps: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Daily bar times (Alpaca's: midnight in New York) as the session's day at 00:00 UTC."""
    return stamps.tz_convert("America/New_York").tz_localize(None).normalize().tz_localize("UTC")
