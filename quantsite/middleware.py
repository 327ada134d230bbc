"""Middleware of the web tier."""

from urllib.parse import unquote_to_bytes

from django.http import JsonResponse

from quantsite.read_cache import reads_renew

NUL = b"\x00"
JSON_NUL = b"\\u0000"


def api_nul_refusal(get_response):
    """A request to the API with a NUL character (in its path, query or body) is refused with 400
    in the error shape: no text column or JSON document PostgreSQL stores may hold one, and a query
    with one would fail there as a server error."""

    def middleware(request):
        if request.path.startswith("/api/") and _has_nul(request):
            body = {"error": "invalid_input", "message": "a NUL character is not accepted", "details": {}}
            return JsonResponse(body, status=400)
        return get_response(request)

    return middleware


def reads_renewed_on_write(get_response):
    """A write that succeeds (any method but GET, HEAD and OPTIONS; a status below 400) renews the
    polled reads of quantsite.read_cache: the next ones show it."""

    def middleware(request):
        response = get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 400:
            reads_renew()
        return response

    return middleware


def _has_nul(request) -> bool:
    if "\x00" in request.path or NUL in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
        return True
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    body = request.body
    return NUL in body or JSON_NUL in body
