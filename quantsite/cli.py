"""Pieces shared by every app's command line."""

from typing import Any

from marketdata.core.errors import InvalidInput


def parse_value(raw: str) -> Any:
    """An int, else a float, else a bool (true/false), else the string."""
    raw = raw.strip()
    for parse in (int, float):
        try:
            return parse(raw)
        except ValueError:
            pass
    if raw.lower() in {"true", "false"}:
        return raw.lower() == "true"
    return raw


def parse_param(text: str) -> tuple[str, Any]:
    """NAME=VALUE; the value is an int, else a float, else a bool (true/false), else a string."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InvalidInput(f"--param {text!r} is not NAME=VALUE")
    return name, parse_value(raw)


def user_named(name: str | None):
    """The active user a command line names with --user (None when it names none)."""
    from django.contrib.auth import get_user_model

    if name is None:
        return None
    user = get_user_model().objects.filter(username=name, is_active=True).first()
    if user is None:
        raise InvalidInput(f"no active user {name!r}")
    return user
