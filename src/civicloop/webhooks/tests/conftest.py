"""A real HTTP receiver on 127.0.0.1 in the test process, answering as each test scripts it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from civicloop.testing import serve_locally
from civicloop.webhooks import actions
from civicloop.webhooks.models import Webhook


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class Receiver:
    """Records every POST; answers with the next scripted ``(status, body)``, then ``default``."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    script: list[tuple[int, bytes]] = field(default_factory=list)
    default: tuple[int, bytes] = (200, b'{"ok": true}')
    on_call: Callable[[Call], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *statuses: int | tuple[int, bytes]) -> None:
        self.script = [s if isinstance(s, tuple) else (s, b"status %d" % s) for s in statuses]

    def next_answer(self) -> tuple[int, bytes]:
        with self.lock:
            return self.script.pop(0) if self.script else self.default


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            call = Call(
                path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body
            )
            with state.lock:
                state.calls.append(call)
            if state.on_call is not None:
                state.on_call(call)
            status, answer = state.next_answer()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.url + "/elsewhere")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    with serve_locally(Handler) as url:
        state.url = url
        yield state


@pytest.fixture
def hook_for(receiver: Receiver, city: Any) -> Callable[..., tuple[Webhook, str]]:
    """``hook_for("unit_staff", events=[...])``: a webhook of that persona pointing at the receiver."""

    def make(
        key: str, *, events: list[str] | None = None, path: str = "/hook", name: str = ""
    ) -> tuple[Webhook, str]:
        return actions.webhook_create(
            by=city.users[key], name=name or f"{key} system", url=receiver.url + path, events=events
        )

    return make
