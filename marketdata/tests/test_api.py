"""Market data API: authentication, instruments, bars with filters, error shapes."""

from datetime import UTC, datetime

import pytest

from marketdata.core.bars import Timeframe, bar_frame
from marketdata.models import Instrument
from marketdata.services import bars_upsert

pytestmark = pytest.mark.django_db


@pytest.fixture
def goog():
    instrument = Instrument.objects.create(symbol="GOOG", name="Alphabet")
    ts = [datetime(2024, 1, d, tzinfo=UTC) for d in (2, 3, 4)]
    bars = bar_frame(
        ts, [100, 101, 102], [101, 102, 103], [99, 100, 101], [100.5, 101.5, 102.5], [10, 20, 30]
    )
    bars_upsert(instrument=instrument, timeframe=Timeframe.D1, bars=bars, source="test")
    return instrument


@pytest.mark.parametrize(
    "url", ["/api/v1/instruments/", "/api/v1/bars/?symbol=GOOG&timeframe=1d", "/api/v1/health/"]
)
def test_unauthenticated_calls_get_401_in_the_error_shape(anon, url):
    response = anon.get(url)

    assert response.status_code == 401
    assert response.json() == {
        "error": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "details": {},
    }
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_authentication_too(anon, url):
    assert anon.get(url).status_code == 401


def test_token_authentication_works(anon, user):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user)

    response = anon.get("/api/v1/instruments/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200


def test_instruments_list_and_detail_by_symbol(api, goog):
    listing = api.get("/api/v1/instruments/").json()
    detail = api.get("/api/v1/instruments/GOOG/").json()

    assert listing["count"] == 1
    assert detail == {
        "id": goog.pk,
        "symbol": "GOOG",
        "name": "Alphabet",
        "asset_class": "equity",
        "exchange": "XNYS",
        "currency": "USD",
        "active": True,
    }


def test_bars_filtered_by_range_are_ordered_and_paginated(api, goog):
    response = api.get(
        "/api/v1/bars/",
        {"symbol": "goog", "timeframe": "1d", "start": "2024-01-03T00:00:00Z", "page_size": 1},
    )

    body = response.json()
    assert response.status_code == 200
    assert body["results"] == [
        {
            "ts": "2024-01-03T00:00:00Z",
            "open": "101.00000000",
            "high": "102.00000000",
            "low": "100.00000000",
            "close": "101.50000000",
            "volume": "20.00000000",
            "source": "test",
        }
    ]
    second = api.get(body["next"]).json()
    assert [b["ts"] for b in second["results"]] == ["2024-01-04T00:00:00Z"]
    assert second["next"] is None


def test_bars_without_symbol_is_a_400_naming_the_field(api):
    response = api.get("/api/v1/bars/", {"timeframe": "1d"})

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_input",
        "message": "symbol: This field is required.",
        "details": {"symbol": ["This field is required."]},
    }


def test_bars_of_an_unknown_symbol_is_a_404(api, goog):
    response = api.get("/api/v1/bars/", {"symbol": "NOPE", "timeframe": "1d"})

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "unknown symbol 'NOPE'", "details": {}}


def test_bars_with_a_bad_timeframe_or_date_is_a_400(api, goog):
    bad_tf = api.get("/api/v1/bars/", {"symbol": "GOOG", "timeframe": "2d"})
    bad_date = api.get("/api/v1/bars/", {"symbol": "GOOG", "timeframe": "1d", "start": "yesterday"})

    assert (bad_tf.status_code, bad_tf.json()["error"]) == (400, "invalid_input")
    assert bad_tf.json()["message"].startswith("timeframe: Select a valid choice.")
    assert (bad_date.status_code, bad_date.json()["message"]) == (400, "start: Enter a valid date/time.")


def test_schema_and_docs_are_served_to_an_authenticated_user(api):
    schema = api.get("/api/schema/", {"format": "json"})
    docs = api.get("/api/docs/")

    assert schema.status_code == 200
    assert {"/api/v1/bars/", "/api/v1/instruments/", "/api/v1/health/"} <= set(schema.json()["paths"])
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()
