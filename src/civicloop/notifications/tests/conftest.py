"""A real SMTP server and a real HTTP gateway in the test process, and the settings that point at them."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from civicloop.testing import serve_locally


@dataclass
class Mail:
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        # Django folds a non-ASCII subject onto the next line; unfolding leaves a leading space.
        return str(self.message["Subject"]).strip()

    @property
    def text(self) -> str:
        return self._part("plain")

    @property
    def html(self) -> str:
        return self._part("html")

    def _part(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        assert part is not None, f"no text/{subtype} part"
        return str(part.get_content())


class Inbox:
    """What arrived at the local SMTP server; ``refuse`` makes it answer 451 (try later)."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.refuse = False
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 Mailbox temporarily unavailable"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.mails.append(Mail(to=list(envelope.rcpt_tos), message=parsed))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.to]

    def recipients(self) -> set[str]:
        return {a for m in self.mails for a in m.to}

    def clear(self) -> None:
        with self._lock:
            self.mails.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def _smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp(_smtp_server: tuple[Inbox, int], settings: Any) -> Inbox:
    """Mail really goes over SMTP to the local server; read what arrived from the result."""
    inbox, port = _smtp_server
    inbox.clear()
    inbox.refuse = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "civicloop <noreply@civicloop.test>"
    settings.CIVICLOOP = {**settings.CIVICLOOP, "NOTIFY_CHANNELS": ["inapp", "email"]}
    return inbox


class Gateway:
    """A local HTTP gateway: records each POSTed JSON document, answers with ``answer``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.url = ""


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            state.requests.append((self.path, body))
            status, answer = state.answers.get(self.path, (200, {"ok": True}))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    with serve_locally(Handler) as url:
        state.url = url
        yield state
