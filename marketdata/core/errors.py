"""The platform's error hierarchy.

It lives in the lowest pure core so that every layer above (other cores, services, API, CLI)
raises and catches the same classes. The API turns them into {"error", "message", "details"}
with the status below; the CLI prints the message on one line.
"""

from typing import Any

from pydantic import ValidationError


class ApplicationError(Exception):
    code = "application_error"
    status = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(ApplicationError):
    code = "invalid_input"


class DataFormatError(InvalidInput):
    """A file or payload that cannot be read as bars at all."""

    code = "data_format"


class NotFound(ApplicationError):
    code = "not_found"
    status = 404


class Conflict(ApplicationError):
    code = "conflict"
    status = 409


class Forbidden(ApplicationError):
    code = "forbidden"
    status = 403


class ServiceUnavailable(ApplicationError):
    code = "unavailable"
    status = 503


class ProviderNotConfigured(ServiceUnavailable):
    """A provider whose keys or host are not set."""

    code = "provider_not_configured"


class ProviderError(ServiceUnavailable):
    """A provider that failed, timed out or refused; worth retrying later."""

    code = "provider_error"


class RateLimited(ProviderError):
    code = "rate_limited"
    status = 429


def validation_message(exc: ValidationError, prefix: str) -> str:
    """Pydantic's errors as one line: 'prefix: where: what; where: what'."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        what = (
            "unknown field"
            if error["type"] == "extra_forbidden"
            else error["msg"].removeprefix("Value error, ")
        )
        parts.append(f"{where}: {what}" if where else what)
    return f"{prefix}: " + "; ".join(parts)
