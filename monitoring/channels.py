"""Where alerts and daily summaries go: channels as plugins (Slack webhook, email, generic webhook),
one class each in a small registry.

A channel sends a Message or raises ChannelError saying why not; the caller records each attempt
(monitoring.services). Which channels an alert goes to depends on its severity (ALERT_CHANNELS); a
channel whose settings are empty (no URL, no recipients) is left out. Another channel is a class
with a name, `configured()` and `send()`, registered with @channel_register.
"""

import json
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from django.core.mail import send_mail

from marketdata.core.errors import ApplicationError, InvalidInput


class ChannelError(ApplicationError):
    code = "channel_error"


@dataclass(frozen=True)
class Message:
    """What a channel sends: a title (a subject line), a plain-text body, and the same as data
    (what a webhook posts)."""

    title: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)


class Channel(ABC):
    name: ClassVar[str]

    @abstractmethod
    def configured(self) -> bool:
        """Whether its settings are given (a channel without them is left out, not failed)."""

    @abstractmethod
    def send(self, message: Message) -> None:
        """Send it, or raise ChannelError."""


CHANNELS: dict[str, type[Channel]] = {}


def channel_register(cls: type[Channel]) -> type[Channel]:
    CHANNELS[cls.name] = cls
    return cls


def channel_get(name: str) -> Channel:
    try:
        return CHANNELS[name]()
    except KeyError:
        raise InvalidInput(f"unknown alert channel {name!r}; the channels: {', '.join(CHANNELS)}") from None


def channels_for(names: list[str]) -> list[Channel]:
    """The channels named (each once, in order) that are configured."""
    channels = [channel_get(name) for name in dict.fromkeys(names)]
    return [c for c in channels if c.configured()]


def channels_for_severity(severity: str) -> list[Channel]:
    """The configured channels of a severity (ALERT_CHANNELS)."""
    return channels_for(settings.ALERT_CHANNELS.get(severity, []))


def post_json(url: str, payload: dict[str, Any]) -> None:
    """POST payload as JSON; ChannelError unless the answer is a 2xx within the timeout."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.ALERT_CHANNEL_TIMEOUT_SECONDS):
            return
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode(errors="replace").strip()
        raise ChannelError(f"HTTP {exc.code}{': ' + body if body else ''}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChannelError(f"{type(exc).__name__}: {reason}") from None


@channel_register
class SlackChannel(Channel):
    """A Slack incoming webhook (SLACK_WEBHOOK_URL): the title in bold, then the text."""

    name = "slack"

    def configured(self) -> bool:
        return bool(settings.SLACK_WEBHOOK_URL)

    def send(self, message: Message) -> None:
        post_json(settings.SLACK_WEBHOOK_URL, {"text": f"*{message.title}*\n{message.text}"})


@channel_register
class WebhookChannel(Channel):
    """Any HTTP endpoint (ALERT_WEBHOOK_URL): the message's data as JSON, with its title and text."""

    name = "webhook"

    def configured(self) -> bool:
        return bool(settings.ALERT_WEBHOOK_URL)

    def send(self, message: Message) -> None:
        post_json(
            settings.ALERT_WEBHOOK_URL, {"title": message.title, "text": message.text, **message.payload}
        )


@channel_register
class EmailChannel(Channel):
    """Email through Django's mail backend (EMAIL_URL) to ALERT_EMAILS."""

    name = "email"

    def configured(self) -> bool:
        return bool(settings.ALERT_EMAILS)

    def send(self, message: Message) -> None:
        try:
            send_mail(
                subject=message.title[:200],
                message=message.text,
                from_email=settings.ALERT_EMAIL_FROM or None,
                recipient_list=settings.ALERT_EMAILS,
                fail_silently=False,
            )
        except Exception as exc:  # SMTP, DNS, socket: any failure of the backend is the channel's
            raise ChannelError(f"{type(exc).__name__}: {exc}") from None
