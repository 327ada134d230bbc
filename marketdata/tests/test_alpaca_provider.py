"""AlpacaProvider against local fakes of Alpaca's bars endpoint and quote stream, with the real alpaca-py."""

import itertools
import socket
import threading
from datetime import UTC, datetime

import msgpack
import pandas as pd
import pytest
from websockets.sync.server import serve

from marketdata.core.errors import InvalidInput, ProviderError, ProviderNotConfigured, RateLimited
from marketdata.core.providers.alpaca import AlpacaProvider
from marketdata.core.providers.base import Quote

START = datetime(2024, 1, 2, tzinfo=UTC)
END = datetime(2024, 1, 5, tzinfo=UTC)
BARS_PATH = "/v2/stocks/bars"

BAR_1 = {
    "t": "2024-01-02T05:00:00Z",
    "o": 187.15,
    "h": 188.44,
    "l": 183.885,
    "c": 185.64,
    "v": 82488674,
    "n": 1009074,
    "vw": 185.9465,
}
BAR_2 = {
    "t": "2024-01-03T05:00:00Z",
    "o": 184.22,
    "h": 185.88,
    "l": 183.43,
    "c": 184.25,
    "v": 58414460,
    "n": 656956,
    "vw": 184.3226,
}
BAR_3 = {
    "t": "2024-01-04T05:00:00Z",
    "o": 182.15,
    "h": 183.0872,
    "l": 180.88,
    "c": 181.91,
    "v": 71983570,
    "n": 712850,
    "vw": 181.9851,
}


def make_provider(httpserver, sleeps=None, **kwargs) -> AlpacaProvider:
    return AlpacaProvider(
        "key-id",
        "secret",
        data_url=httpserver.url_for("").rstrip("/"),
        sleep=(sleeps.append if sleeps is not None else _no_sleep),
        **kwargs,
    )


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected back-off of {seconds} s")


def frame_rows(raw) -> list[tuple]:
    return [
        (row.ts.isoformat(), row.open, row.high, row.low, row.close, row.volume, row.row)
        for row in raw.frame.itertuples(index=False)
    ]


def test_fetch_bars_sends_alpacas_query_and_returns_raw_bars(httpserver):
    # given
    httpserver.expect_request(BARS_PATH).respond_with_json(
        {"bars": {"AAPL": [BAR_1, BAR_2]}, "next_page_token": None}
    )
    provider = make_provider(httpserver)

    # when
    raw = provider.fetch_bars("AAPL", START, END, "1d")

    # then
    ((request, _),) = httpserver.log
    assert request.args.to_dict() == {
        "symbols": "AAPL",
        "timeframe": "1Day",
        "start": "2024-01-02T00:00:00+00:00",
        "end": "2024-01-05T00:00:00+00:00",
        "adjustment": "all",
        "feed": "iex",
        "limit": "10000",
    }
    assert (request.headers["APCA-API-KEY-ID"], request.headers["APCA-API-SECRET-KEY"]) == (
        "key-id",
        "secret",
    )
    assert (raw.symbol, raw.timeframe, raw.rejected) == ("AAPL", "1d", [])
    assert list(raw.frame.columns) == ["ts", "open", "high", "low", "close", "volume", "row"]
    assert frame_rows(raw) == [
        ("2024-01-02T05:00:00+00:00", 187.15, 188.44, 183.885, 185.64, 82488674.0, 1),
        ("2024-01-03T05:00:00+00:00", 184.22, 185.88, 183.43, 184.25, 58414460.0, 2),
    ]


def test_fetch_bars_joins_pages_following_next_page_token(httpserver):
    # given
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"bars": {"AAPL": [BAR_1, BAR_2]}, "next_page_token": "QUFQTHxEfDIwMjQtMDEtMDM="}
    )
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"bars": {"AAPL": [BAR_3]}, "next_page_token": None}
    )
    provider = make_provider(httpserver)

    # when
    raw = provider.fetch_bars("AAPL", START, END, "1d")

    # then
    first, second = (request.args.to_dict() for request, _ in httpserver.log)
    assert "page_token" not in first
    assert second["page_token"] == "QUFQTHxEfDIwMjQtMDEtMDM="
    assert {k: v for k, v in second.items() if k != "page_token"} == first
    assert frame_rows(raw) == [
        ("2024-01-02T05:00:00+00:00", 187.15, 188.44, 183.885, 185.64, 82488674.0, 1),
        ("2024-01-03T05:00:00+00:00", 184.22, 185.88, 183.43, 184.25, 58414460.0, 2),
        ("2024-01-04T05:00:00+00:00", 182.15, 183.0872, 180.88, 181.91, 71983570.0, 3),
    ]


def test_fetch_bars_backs_off_on_429_then_returns_the_bars(httpserver):
    # given
    too_many = {"message": "too many requests."}
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(too_many, status=429)
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(too_many, status=429)
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"bars": {"AAPL": [BAR_1]}, "next_page_token": None}
    )
    sleeps = []
    provider = make_provider(httpserver, sleeps, backoff_seconds=0.5)

    # when
    raw = provider.fetch_bars("AAPL", START, END, "1d")

    # then
    assert sleeps == [0.5, 1.0]
    assert len(httpserver.log) == 3
    assert frame_rows(raw) == [("2024-01-02T05:00:00+00:00", 187.15, 188.44, 183.885, 185.64, 82488674.0, 1)]


def test_fetch_bars_retries_only_the_rate_limited_page(httpserver):
    # given
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"bars": {"AAPL": [BAR_1]}, "next_page_token": "cGFnZTI="}
    )
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"message": "too many requests."}, status=429
    )
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"bars": {"AAPL": [BAR_2]}, "next_page_token": None}
    )
    sleeps = []
    provider = make_provider(httpserver, sleeps)

    # when
    raw = provider.fetch_bars("AAPL", START, END, "1d")

    # then
    assert sleeps == [1.0]
    assert [request.args.get("page_token") for request, _ in httpserver.log] == [None, "cGFnZTI=", "cGFnZTI="]
    assert [row[0] for row in frame_rows(raw)] == ["2024-01-02T05:00:00+00:00", "2024-01-03T05:00:00+00:00"]


def test_fetch_bars_raises_rate_limited_after_max_attempts(httpserver):
    # given
    httpserver.expect_request(BARS_PATH).respond_with_json({"message": "too many requests."}, status=429)
    sleeps = []
    provider = make_provider(httpserver, sleeps, max_attempts=4, backoff_seconds=1.0)

    # when
    with pytest.raises(RateLimited) as caught:
        provider.fetch_bars("AAPL", START, END, "1d")

    # then
    assert caught.value.message == "Alpaca rate limit: HTTP 429 on 4 attempts in a row; try again later"
    assert (caught.value.code, caught.value.status) == ("rate_limited", 429)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(httpserver.log) == 4


def test_fetch_bars_server_error_raises_provider_error(httpserver):
    # given
    httpserver.expect_request(BARS_PATH).respond_with_json(
        {"code": 50010000, "message": "internal server error occurred"}, status=500
    )
    provider = make_provider(httpserver)

    # when
    with pytest.raises(ProviderError) as caught:
        provider.fetch_bars("AAPL", START, END, "1d")

    # then
    assert type(caught.value) is ProviderError
    assert caught.value.message == "Alpaca refused bars of AAPL: HTTP 500: internal server error occurred"
    assert len(httpserver.log) == 1


def test_fetch_bars_error_reply_that_is_not_json_gives_its_first_line(httpserver):
    # given
    httpserver.expect_request(BARS_PATH).respond_with_data("bad gateway\n<html>", status=502)
    provider = make_provider(httpserver)

    # when
    with pytest.raises(ProviderError) as caught:
        provider.fetch_bars("AAPL", START, END, "1d")

    # then
    assert caught.value.message == "Alpaca refused bars of AAPL: HTTP 502: bad gateway"


def test_fetch_bars_unreachable_server_raises_provider_error():
    # given a port that nothing listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = AlpacaProvider("key-id", "secret", data_url=f"http://127.0.0.1:{port}")

    # when
    with pytest.raises(ProviderError) as caught:
        provider.fetch_bars("AAPL", START, END, "1d")

    # then
    assert (
        caught.value.message
        == f"Alpaca bars request for AAPL failed: ConnectionError (http://127.0.0.1:{port})"
    )


def test_fetch_bars_silent_server_times_out_as_provider_error():
    # given a socket that accepts connections (in its backlog) and never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        provider = AlpacaProvider("key-id", "secret", data_url=url, timeout=0.05)

        # when
        with pytest.raises(ProviderError) as caught:
            provider.fetch_bars("AAPL", START, END, "1d")

    # then
    assert caught.value.message == f"Alpaca bars request for AAPL failed: ReadTimeout ({url})"


@pytest.mark.parametrize(("key", "secret"), [("", "secret"), ("key-id", ""), (None, None)])
def test_missing_keys_raise_provider_not_configured(key, secret):
    # when
    with pytest.raises(ProviderNotConfigured) as caught:
        AlpacaProvider(key, secret)

    # then
    assert caught.value.message == "Alpaca keys are not set: set ALPACA_API_KEY and ALPACA_API_SECRET"


def test_unknown_feed_raises_invalid_input():
    with pytest.raises(InvalidInput) as caught:
        AlpacaProvider("key-id", "secret", feed="nasdaq")

    assert caught.value.message == (
        "unknown Alpaca feed 'nasdaq'; use one of iex, sip, delayed_sip, otc, boats, overnight"
    )


@pytest.mark.parametrize(
    ("timeframe", "alpaca_timeframe"),
    [("1m", "1Min"), ("5m", "5Min"), ("15m", "15Min"), ("1h", "1Hour"), ("1d", "1Day")],
)
def test_fetch_bars_maps_each_timeframe(httpserver, timeframe, alpaca_timeframe):
    # given
    httpserver.expect_request(BARS_PATH).respond_with_json({"bars": {}, "next_page_token": None})
    provider = make_provider(httpserver)

    # when
    raw = provider.fetch_bars("AAPL", START, END, timeframe)

    # then
    ((request, _),) = httpserver.log
    assert request.args["timeframe"] == alpaca_timeframe
    assert raw.timeframe == timeframe


def test_fetch_bars_empty_reply_gives_an_empty_frame(httpserver):
    # given
    httpserver.expect_request(BARS_PATH).respond_with_json({"bars": {}, "next_page_token": None})
    provider = make_provider(httpserver)

    # when
    raw = provider.fetch_bars("AAPL", START, END, "1m")

    # then
    assert (len(raw.frame), raw.rejected) == (0, [])
    assert list(raw.frame.columns) == ["ts", "open", "high", "low", "close", "volume", "row"]
    assert isinstance(raw.frame["ts"].dtype, pd.DatetimeTZDtype)
    assert str(raw.frame["ts"].dt.tz) == "UTC"
    assert raw.frame.dtypes.drop("ts").astype(str).to_dict() == {
        "open": "float64",
        "high": "float64",
        "low": "float64",
        "close": "float64",
        "volume": "float64",
        "row": "int64",
    }


def test_fetch_bars_keeps_a_bar_with_a_missing_price_for_validation(httpserver):
    # given
    broken = {k: v for k, v in BAR_2.items() if k != "h"}
    httpserver.expect_request(BARS_PATH).respond_with_json(
        {"bars": {"AAPL": [BAR_1, broken]}, "next_page_token": None}
    )
    provider = make_provider(httpserver)

    # when
    raw = provider.fetch_bars("AAPL", START, END, "1d")

    # then
    assert raw.frame["row"].tolist() == [1, 2]
    assert raw.frame["high"].isna().tolist() == [False, True]


# Live quotes: a fake of Alpaca's market-data stream (msgpack frames, as alpaca-py asks for).

QUOTE_AAPL = {
    "T": "q",
    "S": "AAPL",
    "bx": "V",
    "bp": 185.61,
    "bs": 3,
    "ax": "V",
    "ap": 185.64,
    "as": 2,
    "c": ["R"],
    "z": "C",
    "t": msgpack.Timestamp(1704205800, 123456000),
}
QUOTE_MSFT = {
    "T": "q",
    "S": "MSFT",
    "bx": "V",
    "bp": 370.2,
    "bs": 1,
    "ax": "V",
    "ap": 370.35,
    "as": 4,
    "c": ["R"],
    "z": "C",
    "t": msgpack.Timestamp(1704205801, 0),
}


@pytest.fixture
def quote_server():
    received = []

    def handler(ws):
        ws.send(msgpack.packb([{"T": "success", "msg": "connected"}]))
        received.append(msgpack.unpackb(ws.recv()))
        ws.send(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
        received.append(msgpack.unpackb(ws.recv()))
        ws.send(msgpack.packb([{"T": "subscription", "trades": [], "quotes": ["AAPL", "MSFT"], "bars": []}]))
        ws.send(msgpack.packb([QUOTE_AAPL, QUOTE_MSFT]))

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}", received
        server.shutdown()
        thread.join(timeout=5)


def take(iterator, count: int) -> list:
    # A worker thread, so that a broken stream fails the test instead of hanging it.
    taken = []
    worker = threading.Thread(target=lambda: taken.extend(itertools.islice(iterator, count)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), f"{count} quotes did not arrive within 10 s"
    return taken


def test_stream_live_quotes_yields_alpacas_quotes_and_stops_on_close(quote_server):
    # given
    url, received = quote_server
    provider = AlpacaProvider("key-id", "secret", stream_url=url)

    # when
    quotes = provider.stream_live_quotes(["AAPL", "MSFT"])
    taken = take(quotes, 2)
    quotes.close()

    # then
    assert taken == [
        Quote(
            symbol="AAPL",
            ts=datetime(2024, 1, 2, 14, 30, 0, 123456, tzinfo=UTC),
            bid=185.61,
            ask=185.64,
            bid_size=3.0,
            ask_size=2.0,
        ),
        Quote(
            symbol="MSFT",
            ts=datetime(2024, 1, 2, 14, 30, 1, tzinfo=UTC),
            bid=370.2,
            ask=370.35,
            bid_size=1.0,
            ask_size=4.0,
        ),
    ]
    assert received[:2] == [
        {"action": "auth", "key": "key-id", "secret": "secret"},
        {"action": "subscribe", "quotes": ["AAPL", "MSFT"]},
    ]
    assert [t.name for t in threading.enumerate() if t.name == "alpaca-quotes"] == []


def test_stream_live_quotes_without_symbols_raises_invalid_input():
    with pytest.raises(InvalidInput) as caught:
        AlpacaProvider("key-id", "secret").stream_live_quotes([])

    assert caught.value.message == "no symbols to stream quotes of"
