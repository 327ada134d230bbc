"""AlpacaOptionChainProvider against a local fake of Alpaca's option contracts, option bars and
option chain endpoints, with the real alpaca-py."""

from datetime import UTC, date, datetime

import numpy as np
import pytest

from marketdata.core.errors import InvalidInput, ProviderError, ProviderNotConfigured
from marketdata.core.providers import alpaca_options
from marketdata.core.providers.alpaca_options import AlpacaOptionChainProvider
from marketdata.core.providers.option_chains import CHAIN_COLUMNS

START = datetime(2024, 1, 2, tzinfo=UTC)
END = datetime(2024, 1, 4, tzinfo=UTC)
CONTRACTS_PATH = "/v2/options/contracts"
BARS_PATH = "/v1beta1/options/bars"
CHAIN_PATH = "/v1beta1/options/snapshots/AAPL"


def contract(symbol: str, *, root: str = "AAPL", multiplier: str = "100", status: str = "active") -> dict:
    """A contract as Alpaca's trading API lists it."""
    return {
        "id": "6e58f870-fe73-4583-81e4-b9a37892c36f",
        "symbol": symbol,
        "name": f"{root} option",
        "status": status,
        "tradable": status == "active",
        "expiration_date": f"20{symbol[-15:-13]}-{symbol[-13:-11]}-{symbol[-11:-9]}",
        "root_symbol": root,
        "underlying_symbol": "AAPL",
        "underlying_asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "type": "call" if symbol[-9] == "C" else "put",
        "style": "american",
        "strike_price": str(int(symbol[-8:]) / 1000),
        "multiplier": multiplier,
        "size": multiplier,
        "open_interest": "1234",
        "open_interest_date": "2024-01-03",
        "close_price": "1.5",
        "close_price_date": "2024-01-03",
    }


def bar(t: str, close: float, volume: int) -> dict:
    return {"t": t, "o": close, "h": close, "l": close, "c": close, "v": volume, "n": 12, "vw": close}


def make_provider(httpserver, **kwargs) -> AlpacaOptionChainProvider:
    url = httpserver.url_for("").rstrip("/")
    return AlpacaOptionChainProvider(
        "key-id", "secret", data_url=url, trading_url=url, sleep=_no_sleep, **kwargs
    )


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected back-off of {seconds} s")


def expect_contracts(httpserver, status: str, *pages: list[dict]) -> None:
    """Pages of contracts of one status, in order, each but the last pointing to the next."""
    for n, listed in enumerate(pages, start=1):
        token = f"{status}-page-{n + 1}" if n < len(pages) else None
        httpserver.expect_ordered_request(CONTRACTS_PATH).respond_with_json(
            {"option_contracts": listed, "next_page_token": token}
        )


def test_historical_chains_read_listed_and_expired_contracts_then_their_daily_bars(httpserver):
    # given two pages of active contracts, one of expired ones (an adjusted contract among them)
    expect_contracts(
        httpserver,
        "active",
        [contract("AAPL240119C00190000"), contract("AAPL240119P00190000")],
        [contract("AAPL240216C00200000")],
    )
    expect_contracts(
        httpserver,
        "inactive",
        [
            contract("AAPL240105C00185000", status="inactive"),
            contract("AAPL1240105C00185000", root="AAPL1", multiplier="150", status="inactive"),
        ],
    )
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {
            "bars": {
                "AAPL240105C00185000": [
                    bar("2024-01-02T05:00:00Z", 2.15, 310),
                    bar("2024-01-03T05:00:00Z", 1.2, 95),
                ],
                "AAPL240119P00190000": [bar("2024-01-03T05:00:00Z", 6.4, 1200)],
            },
            "next_page_token": None,
        }
    )
    provider = make_provider(httpserver)

    # when
    chains = provider.get_chains("aapl", START, END)

    # then the contract requests named the underlying, both statuses and the expiry window
    contract_requests = [r.args.to_dict() for r, _ in httpserver.log if r.path == CONTRACTS_PATH]
    assert contract_requests[0] == {
        "underlying_symbols": "AAPL",
        "status": "active",
        "expiration_date_gte": "2024-01-02",
        "expiration_date_lte": "2024-04-04",
        "limit": "10000",
    }
    assert [(r["status"], r.get("page_token")) for r in contract_requests] == [
        ("active", None),
        ("active", "active-page-2"),
        ("inactive", None),
    ]
    # and one bars request named the standard contracts
    ((bars_request, _),) = [(r, s) for r, s in httpserver.log if r.path == BARS_PATH]
    assert bars_request.args.to_dict() == {
        "symbols": "AAPL240105C00185000,AAPL240119C00190000,AAPL240119P00190000,AAPL240216C00200000",
        "timeframe": "1Day",
        "start": "2024-01-02T00:00:00+00:00",
        "end": "2024-01-04T00:00:00+00:00",
        "limit": "10000",
    }
    assert (bars_request.headers["APCA-API-KEY-ID"], bars_request.headers["APCA-API-SECRET-KEY"]) == (
        "key-id",
        "secret",
    )
    assert tuple(chains.columns) == CHAIN_COLUMNS
    assert chains[["ts", "symbol", "strike", "right", "last", "volume"]].astype(
        {"ts": str}
    ).values.tolist() == [
        ["2024-01-02 00:00:00+00:00", "AAPL240105C00185000", 185.0, "call", 2.15, 310.0],
        ["2024-01-03 00:00:00+00:00", "AAPL240105C00185000", 185.0, "call", 1.2, 95.0],
        ["2024-01-03 00:00:00+00:00", "AAPL240119P00190000", 190.0, "put", 6.4, 1200.0],
    ]
    # Alpaca keeps no historical option quotes: nothing is made up for them
    assert chains[["bid", "ask", "mid", "iv", "delta", "gamma", "vega", "theta", "rho"]].isna().all().all()


def test_historical_bars_are_asked_for_in_batches_of_contracts(httpserver, monkeypatch):
    # given
    monkeypatch.setattr(alpaca_options, "SYMBOLS_PER_REQUEST", 2)
    symbols = ["AAPL240119C00190000", "AAPL240119C00195000", "AAPL240119C00200000"]
    expect_contracts(httpserver, "active", [contract(s) for s in symbols])
    expect_contracts(httpserver, "inactive", [])
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"bars": {symbols[0]: [bar("2024-01-02T05:00:00Z", 3.1, 10)]}, "next_page_token": None}
    )
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"bars": {symbols[2]: [bar("2024-01-02T05:00:00Z", 1.05, 7)]}, "next_page_token": None}
    )

    # when
    chains = make_provider(httpserver).get_chains("AAPL", START, END)

    # then
    asked = [r.args["symbols"] for r, _ in httpserver.log if r.path == BARS_PATH]
    assert asked == [",".join(symbols[:2]), symbols[2]]
    assert chains["symbol"].tolist() == [symbols[0], symbols[2]]


def test_no_contracts_give_an_empty_chain_without_asking_for_bars(httpserver):
    expect_contracts(httpserver, "active", [])
    expect_contracts(httpserver, "inactive", [])

    chains = make_provider(httpserver).get_chains("AAPL", START, END)

    assert (len(chains), tuple(chains.columns)) == (0, CHAIN_COLUMNS)
    assert [r.path for r, _ in httpserver.log] == [CONTRACTS_PATH, CONTRACTS_PATH]


SNAPSHOTS = {
    "AAPL240119C00190000": {
        "latestQuote": {
            "t": "2024-01-03T20:59:59.5Z",
            "bp": 3.1,
            "bs": 12,
            "bx": "C",
            "ap": 3.25,
            "as": 8,
            "ax": "X",
            "c": "A",
        },
        "latestTrade": {"t": "2024-01-03T20:58:10Z", "p": 3.2, "s": 1, "x": "C", "c": "I"},
        "dailyBar": {
            "t": "2024-01-03T05:00:00Z",
            "o": 3.5,
            "h": 3.6,
            "l": 3.0,
            "c": 3.2,
            "v": 5400,
            "n": 310,
            "vw": 3.3,
        },
        "impliedVolatility": 0.2473,
        "greeks": {"delta": 0.4312, "gamma": 0.0521, "rho": 0.0253, "theta": -0.1402, "vega": 0.1371},
    },
    "AAPL240119P00180000": {
        "latestTrade": {"t": "2024-01-03T19:30:00Z", "p": 0.81, "s": 3, "x": "N", "c": "I"},
    },
    "AAPL1240119C00190000": {
        "latestQuote": {
            "t": "2024-01-03T20:59:59Z",
            "bp": 1.0,
            "bs": 1,
            "bx": "C",
            "ap": 1.2,
            "as": 1,
            "ax": "C",
            "c": "A",
        },
    },
    "AAPL240216C00250000": {"impliedVolatility": 0.31},
}


def test_the_latest_chain_reads_alpacas_option_chain_snapshots(httpserver):
    # given two pages of snapshots
    first = dict(list(SNAPSHOTS.items())[:2])
    rest = dict(list(SNAPSHOTS.items())[2:])
    httpserver.expect_ordered_request(CHAIN_PATH).respond_with_json(
        {"snapshots": first, "next_page_token": "cDI="}
    )
    httpserver.expect_ordered_request(CHAIN_PATH).respond_with_json(
        {"snapshots": rest, "next_page_token": None}
    )

    # when
    chain = make_provider(httpserver, feed="opra").latest_chain("AAPL", expiring_by=date(2024, 3, 15))

    # then
    first_request, second_request = (r.args.to_dict() for r, _ in httpserver.log)
    assert first_request == {"feed": "opra", "expiration_date_lte": "2024-03-15", "limit": "1000"}
    assert second_request == {**first_request, "page_token": "cDI="}
    # the adjusted contract and the one with neither quote nor trade are not rows
    assert chain["symbol"].tolist() == ["AAPL240119P00180000", "AAPL240119C00190000"]
    call = chain.iloc[1]
    assert (str(call.ts), call.bid, call.ask, call.mid, call.last, call.volume, call.iv) == (
        "2024-01-03 20:59:59.500000+00:00",
        3.1,
        3.25,
        3.175,
        3.2,
        5400.0,
        0.2473,
    )
    # greeks in option_pricing's units: vega and rho per 1.00, theta per year
    assert [round(call[g], 6) for g in ("delta", "gamma", "vega", "theta", "rho")] == [
        0.4312,
        0.0521,
        13.71,
        -51.173,
        2.53,
    ]
    put = chain.iloc[0]
    assert (str(put.ts), put["last"]) == ("2024-01-03 19:30:00+00:00", 0.81)
    assert np.isnan([put.bid, put.ask, put.mid, put.iv, put.delta]).all()


def test_a_refused_contract_list_is_a_provider_error(httpserver):
    httpserver.expect_request(CONTRACTS_PATH).respond_with_json(
        {"code": 40010001, "message": "invalid expiration_date_lte"}, status=422
    )

    with pytest.raises(ProviderError) as caught:
        make_provider(httpserver).get_chains("AAPL", START, END)

    assert (
        caught.value.message
        == "Alpaca refused option contracts of AAPL: HTTP 422: invalid expiration_date_lte"
    )


def test_a_rate_limited_bars_page_backs_off_and_is_asked_again(httpserver):
    expect_contracts(httpserver, "active", [contract("AAPL240119C00190000")])
    expect_contracts(httpserver, "inactive", [])
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"message": "too many requests."}, status=429
    )
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"bars": {"AAPL240119C00190000": [bar("2024-01-02T05:00:00Z", 3.1, 10)]}, "next_page_token": None}
    )
    sleeps = []
    url = httpserver.url_for("").rstrip("/")
    provider = AlpacaOptionChainProvider(
        "key-id", "secret", data_url=url, trading_url=url, sleep=sleeps.append, backoff_seconds=0.25
    )

    chains = provider.get_chains("AAPL", START, END)

    assert sleeps == [0.25]
    assert chains["last"].tolist() == [3.1]


def test_an_error_reply_of_the_chain_endpoint_is_a_provider_error(httpserver):
    httpserver.expect_request(CHAIN_PATH).respond_with_data("bad gateway", status=502)

    with pytest.raises(ProviderError) as caught:
        make_provider(httpserver).latest_chain("AAPL")

    assert caught.value.message == "Alpaca refused the option chain of AAPL: HTTP 502: bad gateway"


def test_a_bar_without_its_close_is_a_provider_error(httpserver):
    expect_contracts(httpserver, "active", [contract("AAPL240119C00190000")])
    expect_contracts(httpserver, "inactive", [])
    broken = {k: v for k, v in bar("2024-01-02T05:00:00Z", 3.1, 10).items() if k not in {"c", "vw"}}
    httpserver.expect_ordered_request(BARS_PATH).respond_with_json(
        {"bars": {"AAPL240119C00190000": [broken]}, "next_page_token": None}
    )

    with pytest.raises(ProviderError) as caught:
        make_provider(httpserver).get_chains("AAPL", START, END)

    assert caught.value.message == (
        "Alpaca sent an option bar of AAPL240119C00190000 without c: "
        "{'t': '2024-01-02T05:00:00Z', 'o': 3.1, 'h': 3.1, 'l': 3.1, 'v': 10, 'n': 12}"
    )


def test_missing_keys_and_bad_settings_are_refused():
    with pytest.raises(ProviderNotConfigured):
        AlpacaOptionChainProvider("", "secret")
    with pytest.raises(InvalidInput) as feed:
        AlpacaOptionChainProvider("key-id", "secret", feed="sip")
    with pytest.raises(InvalidInput) as days:
        AlpacaOptionChainProvider("key-id", "secret", listed_days=0)

    assert feed.value.message == "unknown Alpaca options feed 'sip'; use one of opra, indicative"
    assert days.value.message == "listed_days must be at least 1, not 0"
