"""Bars and live quotes from Alpaca's market-data API, through alpaca-py."""

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from marketdata.core.bars import RawBars, Timeframe, bar_frame, raw_from_frame
from marketdata.core.errors import InvalidInput, ProviderError, ProviderNotConfigured, RateLimited
from marketdata.core.providers.base import DataProvider, Quote, check_range

DEFAULT_DATA_URL = "https://data.alpaca.markets"

TIMEFRAMES = {
    Timeframe.M1: TimeFrame(1, TimeFrameUnit.Minute),
    Timeframe.M5: TimeFrame(5, TimeFrameUnit.Minute),
    Timeframe.M15: TimeFrame(15, TimeFrameUnit.Minute),
    Timeframe.H1: TimeFrame(1, TimeFrameUnit.Hour),
    Timeframe.D1: TimeFrame(1, TimeFrameUnit.Day),
}

_STOPPED = object()


class AlpacaProvider(DataProvider):
    name = "alpaca"

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        data_url: str | None = None,
        stream_url: str | None = None,
        feed: str = "iex",
        adjustment: str = "all",
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        backoff = backoff_settings(
            api_key,
            secret_key,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
            sleep=sleep,
            timeout=timeout,
        )
        self._api_key = api_key
        self._secret_key = secret_key
        self._data_url = data_url or DEFAULT_DATA_URL
        self._stream_url = stream_url
        self._feed = alpaca_choice(DataFeed, feed, "feed")
        self._adjustment = alpaca_choice(Adjustment, adjustment, "adjustment")
        self._client = _BarsClient(api_key, secret_key, raw_data=True, url_override=self._data_url, **backoff)

    def fetch_bars(self, symbol: str, start: datetime, end: datetime, timeframe: Timeframe) -> RawBars:
        check_range(start, end)
        timeframe = Timeframe.parse(timeframe)
        request = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=TIMEFRAMES[timeframe],
            start=start,
            end=end,
            adjustment=self._adjustment,
            feed=self._feed,
        )
        with alpaca_errors(f"bars of {symbol}", f"bars request for {symbol}", self._data_url):
            # The SDK follows next_page_token itself and returns {symbol: [bar, ...]} of all pages.
            reply = self._client.get_stock_bars(request)
        bars = reply.get(symbol) or []
        frame = bar_frame(
            # A malformed time becomes NaT so that validation rejects that row by number.
            pd.to_datetime([bar.get("t") for bar in bars], utc=True, errors="coerce"),
            *([bar.get(key) for bar in bars] for key in ("o", "h", "l", "c", "v")),
        )
        return raw_from_frame(symbol, timeframe, frame)

    def stream_live_quotes(self, symbols: list[str]) -> Iterator[Quote]:
        """Quotes of ``symbols`` as they arrive; closing the iterator stops the stream."""
        # Not a generator itself, so that a bad call fails here rather than at the first next().
        if not symbols:
            raise InvalidInput("no symbols to stream quotes of")
        try:
            stream = StockDataStream(
                self._api_key, self._secret_key, feed=self._feed, url_override=self._stream_url
            )
        except ValueError as exc:
            raise InvalidInput(f"live quotes need the iex or sip feed, not {self._feed.value}") from exc
        quotes: queue.Queue = queue.Queue()

        async def on_quote(quote) -> None:
            quotes.put(
                Quote(
                    symbol=quote.symbol,
                    ts=quote.timestamp,
                    bid=quote.bid_price,
                    ask=quote.ask_price,
                    bid_size=quote.bid_size,
                    ask_size=quote.ask_size,
                )
            )

        stream.subscribe_quotes(on_quote, *symbols)
        return _drain(stream, quotes)


def backoff_settings(api_key, secret_key, *, max_attempts, backoff_seconds, sleep, timeout) -> dict:
    """The checked settings of a BackoffClient: refused without keys or without an attempt."""
    if not api_key or not secret_key:
        raise ProviderNotConfigured("Alpaca keys are not set: set ALPACA_API_KEY and ALPACA_API_SECRET")
    if max_attempts < 1:
        raise InvalidInput(f"max_attempts must be at least 1, not {max_attempts}")
    return {
        "max_attempts": max_attempts,
        "backoff_seconds": backoff_seconds,
        "sleep": sleep,
        "timeout": timeout,
    }


class BackoffClient:
    """A mixin for alpaca-py's REST clients: a request timeout and our back-off on HTTP 429.

    The SDK would retry a 429 itself, sleeping a fixed 3 s through time.sleep; that retry is
    switched off (the data clients do not pass retry_attempts on, and 0 would mean "default")
    so that each page request backs off exponentially through the injected sleep. Retrying one
    request, not the whole call, keeps the pages already read.
    """

    def __init__(self, *args, timeout, max_attempts, backoff_seconds, sleep, **kwargs):
        super().__init__(*args, **kwargs)
        self._retry = 0
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep

    def _one_request(self, method: str, url: str, opts: dict, retry: int) -> dict:
        # requests waits forever without a timeout, and the SDK sets none.
        opts = {**opts, "timeout": self._timeout}
        for attempt in range(self._max_attempts):
            try:
                return super()._one_request(method, url, opts, retry)
            except APIError as exc:
                if exc.status_code != 429:
                    raise
            if attempt + 1 < self._max_attempts:
                self._sleep(self._backoff_seconds * 2**attempt)
        raise RateLimited(
            f"Alpaca rate limit: HTTP 429 on {self._max_attempts} attempts in a row; try again later"
        )


class _BarsClient(BackoffClient, StockHistoricalDataClient):
    pass


@contextmanager
def alpaca_errors(refused: str, request: str, url: str) -> Iterator[None]:
    """Alpaca's errors as ProviderError: "Alpaca refused <refused>: HTTP ..." for an error reply,
    "Alpaca <request> failed: ..." for a request that got no reply."""
    try:
        yield
    except APIError as exc:
        raise ProviderError(f"Alpaca refused {refused}: HTTP {exc.status_code}: {_reason(exc)}") from exc
    except (requests.RequestException, ValueError) as exc:
        raise ProviderError(
            f"Alpaca {request} failed: {type(exc).__name__} ({url})", details={"error": str(exc)}
        ) from exc


def _drain(stream: StockDataStream, quotes: queue.Queue) -> Iterator[Quote]:
    def run() -> None:
        try:
            stream.run()
        finally:
            # The SDK returns on its own only when it gives up (an insufficient subscription).
            quotes.put(_STOPPED)

    thread = threading.Thread(target=run, name="alpaca-quotes", daemon=True)
    thread.start()
    try:
        while (quote := quotes.get()) is not _STOPPED:
            yield quote
        raise ProviderError("the Alpaca quote stream stopped")
    finally:
        # The SDK notices a stop within its 5 s receive timeout; joining keeps a second stream from
        # overlapping this one (Alpaca allows one stream connection per key).
        stream.stop()
        thread.join(timeout=10)


def alpaca_choice(enum, value: str, what: str):
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidInput(f"unknown Alpaca {what} {value!r}; use one of {allowed}") from None


def _reason(exc: APIError) -> str:
    """Alpaca's own message from an error reply, or the first line of a reply that is not JSON."""
    try:
        return str(exc.message)
    except (ValueError, KeyError, TypeError):
        lines = str(exc).strip().splitlines()
        return lines[0][:200] if lines else "no message"
