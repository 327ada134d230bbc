"""API throttling: writes per user, and unauthenticated requests per address (each of those is
answered 401, or 429 once its address is past the rate: guessing tokens gets slow). Authenticated
reads are never throttled. The rates are settings (API_THROTTLE_WRITES, API_THROTTLE_ANON), read at
each request, so a changed setting applies at once."""

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class SettingsRate:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class WriteRateThrottle(SettingsRate, UserRateThrottle):
    """Writes (anything but GET, HEAD, OPTIONS) per user."""

    scope = "writes"

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class AnonymousRateThrottle(SettingsRate, AnonRateThrottle):
    """Requests without a user, per address."""

    scope = "anon"


def unauthenticated_throttled(request, view) -> exceptions.Throttled | None:
    """A request refused for its credentials counts against its address's rate: Throttled once it
    is past it. DRF checks throttles after permissions, so without this a refused request would
    never be counted."""
    throttle = AnonymousRateThrottle()
    if request is None or throttle.allow_request(request, view):
        return None
    return exceptions.Throttled(throttle.wait())
