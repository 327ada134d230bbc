"""The API error shape for every kind of failure."""

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

    assert (response.status_code, response["Location"]) == (302, "/overview/")
