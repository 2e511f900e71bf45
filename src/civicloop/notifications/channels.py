"""How a message leaves civicloop: one small ``Sender`` interface, one class per channel.

``CIVICLOOP["NOTIFY_CHANNELS"]`` lists the channels a deployment uses, in-app first
(``"inapp"`` is the ``Notice`` table, written for staff by ``services``). Every other
channel is a sender configured in ``CIVICLOOP["NOTIFY_SENDERS"][channel]``:

* ``email``: Django's mail backend (``EMAIL_*`` settings), plain text with an HTML
  alternative;
* ``sms`` and ``wechat``: an HTTP gateway the deployment runs or rents. The sender
  POSTs JSON built from the ``PAYLOAD`` template (``$to``, ``$subject``, ``$text``,
  ``$short``, ``$ticket``, ``$link`` are filled in) to ``URL`` and counts any 2xx
  answer as delivered, unless ``OK_JSON`` names fields the answer must carry (WeChat's
  APIs answer 200 with ``{"errcode": 40001}`` on failure, hence ``{"errcode": 0}``);
* ``log``: writes the message to the ``civicloop.notifications`` log, for development.

A sender raises on failure; ``services.delivery_send`` records the error and retries.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from string import Template
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.module_loading import import_string

log = logging.getLogger("civicloop.notifications")

INAPP = "inapp"


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    html: str = ""
    short: str = ""
    ticket: str = ""
    link: str = ""


@dataclass(frozen=True)
class Recipient:
    """Someone to tell: a user, an anonymous resident's report, or a unit's mailbox."""

    user: Any  # org.User or None
    email: str
    phone: str
    language: str
    # The ticket this recipient follows: a resident's own report, else the case's.
    ticket_no: str
    name: str = ""
    resident: bool = False


class Sender(Protocol):
    channel: str

    def address(self, recipient: Recipient) -> str:
        """Where this channel reaches the recipient; empty: it does not."""
        ...

    def send(self, message: Message) -> None:
        """Deliver or raise."""
        ...


class EmailSender:
    channel = "email"

    def __init__(self, **options: Any) -> None:
        self.options = options

    def address(self, recipient: Recipient) -> str:
        return recipient.email

    def send(self, message: Message) -> None:
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            # RFC 3834: tells mail servers and people this is not a personal letter.
            headers={"Auto-Submitted": "auto-generated"},
            connection=get_connection(fail_silently=False),
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        mail.send(fail_silently=False)


def _fill(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        return Template(template).safe_substitute(values)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


class HttpGatewaySender:
    """POST one JSON document per message to a gateway; see the module docstring."""

    channel = "http"

    def __init__(self, *, URL: str = "", PAYLOAD: dict[str, Any] | None = None, HEADERS: dict[str, str] | None = None,
                 TIMEOUT: float = 10.0, OK_JSON: dict[str, Any] | None = None, **options: Any) -> None:
        self.url = URL
        self.payload = PAYLOAD if PAYLOAD is not None else {"to": "$to", "text": "$short"}
        self.headers = HEADERS or {}
        self.timeout = float(TIMEOUT)
        self.ok_json = OK_JSON or {}

    def address(self, recipient: Recipient) -> str:
        return recipient.phone

    def send(self, message: Message) -> None:
        if not self.url:
            raise ImproperlyConfigured(f"No gateway URL configured for the {self.channel} channel.")
        values = {"to": message.to, "subject": message.subject, "text": message.text, "short": message.short or message.subject,
                  "ticket": message.ticket, "link": message.link}
        body = json.dumps(_fill(self.payload, values), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8", **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (URL is the operator's)
                answer = response.read(65536)
        except urllib.error.HTTPError as exc:
            raise OSError(f"{self.channel} gateway answered HTTP {exc.code}: {exc.read(300)!r}") from None
        if self.ok_json:
            try:
                data = json.loads(answer or b"{}")
            except ValueError:
                raise OSError(f"{self.channel} gateway answered no JSON: {answer[:300]!r}") from None
            wrong = {k: data.get(k) for k, v in self.ok_json.items() if not isinstance(data, dict) or data.get(k) != v}
            if wrong:
                raise OSError(f"{self.channel} gateway refused the message: {json.dumps(data, ensure_ascii=False)[:300]}")


class SmsSender(HttpGatewaySender):
    """Short messages to the recipient's mobile number through the deployment's SMS gateway."""

    channel = "sms"


class WeChatSender(HttpGatewaySender):
    """WeChat (e.g. WeCom or an official account's template messages) through a gateway that
    maps the recipient's mobile number to his WeChat identity."""

    channel = "wechat"

    def __init__(self, **options: Any) -> None:
        options.setdefault("PAYLOAD", {"touser": "$to", "msgtype": "text", "text": {"content": "$short"}})
        options.setdefault("OK_JSON", {"errcode": 0})
        super().__init__(**options)


class LoggingSender:
    """Writes the message to the log instead of sending it (development, or a channel whose
    gateway is not connected yet). ``ADDRESS``: ``email`` (default) or ``phone``."""

    channel = "log"

    def __init__(self, *, ADDRESS: str = "email", **options: Any) -> None:
        self.field = ADDRESS

    def address(self, recipient: Recipient) -> str:
        return str(getattr(recipient, self.field, ""))

    def send(self, message: Message) -> None:
        log.info("notification to %s: %s\n%s", message.to, message.subject, message.text)


DEFAULT_CLASSES = {
    "email": "civicloop.notifications.channels.EmailSender",
    "sms": "civicloop.notifications.channels.SmsSender",
    "wechat": "civicloop.notifications.channels.WeChatSender",
    "log": "civicloop.notifications.channels.LoggingSender",
}


def _config() -> dict[str, Any]:
    return dict(settings.CIVICLOOP)


def enabled_channels() -> list[str]:
    return [str(c) for c in _config().get("NOTIFY_CHANNELS", [INAPP])]


def external_channels() -> list[str]:
    return [c for c in enabled_channels() if c != INAPP]


def sender_for(channel: str) -> Sender:
    """The configured sender of a channel (read from settings each time: cheap, and tests override it)."""
    config = dict(_config().get("NOTIFY_SENDERS", {}).get(channel, {}))
    path = config.pop("CLASS", DEFAULT_CLASSES.get(channel))
    if not path:
        raise ImproperlyConfigured(f"Notification channel {channel!r} has no sender: set CIVICLOOP['NOTIFY_SENDERS'][{channel!r}]['CLASS'].")
    sender = import_string(path)(**config)
    sender.channel = channel
    return sender  # type: ignore[no-any-return]
