"""The API error shape for every kind of failure."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions

from marketdata.core.errors import Conflict, InvalidInput, ProviderNotConfigured
from quantsite.errors import api_exception_handler


def answer(exc):
    response = api_exception_handler(exc, {})
    return response.status_code, response.data


def test_application_errors_carry_their_code_status_and_details():
    assert answer(InvalidInput("bad range", details={"start": "2024-02-01"})) == (
        400,
        {"error": "invalid_input", "message": "bad range", "details": {"start": "2024-02-01"}},
    )
    assert answer(Conflict("already approved")) == (
        409,
        {"error": "conflict", "message": "already approved", "details": {}},
    )
    assert answer(ProviderNotConfigured("Alpaca keys are not set"))[0] == 503


def test_drf_and_django_exceptions_take_the_same_shape():
    assert answer(exceptions.ValidationError({"qty": ["Must be positive."]})) == (
        400,
        {
            "error": "invalid_input",
            "message": "qty: Must be positive.",
            "details": {"qty": ["Must be positive."]},
        },
    )
    assert (
        answer(DjangoValidationError({"qty": ["Must be positive."]}))[1]["message"]
        == "qty: Must be positive."
    )
    assert answer(Http404("no such run")) == (
        404,
        {"error": "not_found", "message": "no such run", "details": {}},
    )
    assert answer(exceptions.PermissionDenied()) == (
        403,
        {
            "error": "permission_denied",
            "message": "You do not have permission to perform this action.",
            "details": {},
        },
    )


def test_an_unexpected_exception_is_left_to_django():
    assert api_exception_handler(ZeroDivisionError("bug"), {}) is None


def test_the_site_root_leads_to_the_console(client):
    response = client.get("/")

    assert (response.status_code, response["Location"]) == (302, "/admin/")


NUL_REFUSED = {"error": "invalid_input", "message": "a NUL character is not accepted", "details": {}}


@pytest.mark.django_db
def test_a_nul_character_anywhere_in_an_api_request_is_refused_in_the_error_shape(api):
    # PostgreSQL stores no NUL in text or JSON: it must never reach a query
    answers = [
        api.get("/api/v1/instruments/AA%00A/"),
        api.get("/api/v1/strategies/?name=a%00b"),
        api.post("/api/v1/controls/kill-switch/", {"reason": "a\x00b"}),
    ]

    assert [(r.status_code, r.json()) for r in answers] == [(400, NUL_REFUSED)] * 3


@pytest.mark.django_db
def test_a_url_under_the_api_that_matches_no_route_is_a_404_in_the_error_shape(api, client):
    response = api.get("/api/v1/positions/-1/close/")

    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "no such resource: /api/v1/positions/-1/close/",
        "details": {},
    }
    assert client.get("/nowhere/")["Content-Type"].startswith("text/html")
