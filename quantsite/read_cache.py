"""A short-lived shared cache of the API's polled reads (the figures and tables a dashboard asks for
every few seconds: the metrics summary, positions).

A 200 answer to a GET with credentials is kept for API_READ_CACHE_SECONDS under a key made of
the credential (the Authorization header, or the session cookie), the full path with its query,
the Accept header and the write generation: a caller is only ever answered with what was computed
for its own credential, so fifty screens of one user polling the same table cost one computation
per period, not fifty.

A kept answer older than the period is still served while one request (the first to take the
refresh lock) computes the new one, so an expiry never makes every caller compute at once; past
STALE_PERIODS periods it is dropped. Any write through the web tier (a POST, PUT, PATCH or DELETE
that succeeds: closing a position, acknowledging an alert, the kill switch) starts a new write
generation, so the next reads are computed afresh. What the workers write (fills, snapshots) shows
within a period: an answer is at most that old, and its Age header says how old. A credential
revoked during a period still reads its own kept answers until they expire. Requests without
credentials, writes and errors are never kept. API_READ_CACHE_SECONDS = 0 turns it off.
"""

import hashlib
import time
import uuid
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

STALE_PERIODS = 10
GENERATION = "read-cache:generation"
_KEPT_HEADERS = ("Content-Type", "Vary", "Allow")
clock = time.time


def read_cached(view):
    """Wrap a view (a DRF view's as_view()) with the cache of polled reads."""

    @wraps(view)
    def cached(request, *args, **kwargs):
        seconds = settings.API_READ_CACHE_SECONDS
        credential = request.META.get("HTTP_AUTHORIZATION") or request.COOKIES.get(
            settings.SESSION_COOKIE_NAME
        )
        if request.method != "GET" or seconds <= 0 or not credential:
            return view(request, *args, **kwargs)
        parts = (
            credential,
            request.get_full_path(),
            request.META.get("HTTP_ACCEPT", ""),
            cache.get(GENERATION, ""),
        )
        key = "read-cache:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()
        kept, now = cache.get(key), clock()
        if kept is not None and (
            now < kept["computed"] + seconds or not cache.add(f"{key}:refresh", 1, seconds)
        ):
            return _answer(kept, now)  # fresh, or stale while another request computes it again
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming:
            if hasattr(response, "render"):
                response.render()
            kept = {
                "computed": now,
                "body": response.content,
                "headers": [(h, response[h]) for h in _KEPT_HEADERS if response.has_header(h)],
            }
            cache.set(key, kept, seconds * STALE_PERIODS)
        cache.delete(f"{key}:refresh")
        return response

    return cached


class ReadCachedView:
    """A DRF view or viewset whose GETs go through read_cached (first in its bases)."""

    @classmethod
    def as_view(cls, *args, **kwargs):
        return read_cached(super().as_view(*args, **kwargs))


def reads_renew() -> None:
    """Start a new write generation: no read kept before is served after it."""
    cache.set(GENERATION, uuid.uuid4().hex, None)


def _answer(kept: dict, now: float) -> HttpResponse:
    response = HttpResponse(kept["body"])
    for header, value in kept["headers"]:
        response[header] = value
    response["Age"] = str(max(0, int(now - kept["computed"])))
    return response
