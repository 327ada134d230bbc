"""The API's error answers: every failure becomes {"error", "message", "details"} with a 4xx.

ApplicationError (marketdata.core.errors) carries its own code and status; DRF's and Django's
own exceptions are mapped onto the same shape. Only a real bug is left to become a 500. A URL under
/api/ that matches no route answers 404 in the same shape (api_not_found).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

from marketdata.core.errors import ApplicationError
from quantsite.throttles import unauthenticated_throttled


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            text = _first_message(value)
            return text if key == "non_field_errors" else f"{key}: {text}"
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        _as_json(context.get("request"))
        body = {"error": exc.code, "message": exc.message, "details": exc.details}
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        exc = unauthenticated_throttled(context.get("request"), context.get("view")) or exc

    response = exception_handler(exc, context)
    if response is None:
        return None
    _as_json(context.get("request"))
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "error": "invalid_input",
            "message": _first_message(exc.detail),
            "details": response.data,
        }
    else:
        response.data = {"error": exc.default_code, "message": _first_message(exc.detail), "details": {}}
    return response


def _as_json(request) -> None:
    """An error is rendered as JSON even where the answer would have been another format (the
    schema's YAML, a report's HTML); the browsable API keeps its page for a browser."""
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is not None and renderer.format not in ("json", "api"):
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type


def api_not_found(request, exception=None):
    """Django's 404 for a URL no route matches: in the API's error shape under /api/, the usual page
    elsewhere."""
    if not request.path.startswith("/api/"):
        return page_not_found(request, exception)
    body = {"error": "not_found", "message": f"no such resource: {request.path}", "details": {}}
    return JsonResponse(body, status=404)
