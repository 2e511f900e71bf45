"""Where a webhook may point, and how one call to it is made (urllib: no new dependency).

Targets are ``http://`` or ``https://`` URLs without credentials or fragment. An intranet
deployment talks to systems on private addresses, so that is allowed by default; a
deployment reachable by untrusted accounts sets ``CIVICLOOP["WEBHOOK_BLOCK_PRIVATE"] = True``
and then every loopback, private, link-local, shared, multicast or reserved address is
refused — when the URL is registered *and* on every call, after DNS resolution, on the
address the socket really connects to (a name that later resolves elsewhere gains nothing).

A call never follows redirects (a 3xx is a failure), never uses the environment's proxy
variables (``CIVICLOOP["WEBHOOK_PROXY"]`` names one explicitly), waits at most
``CIVICLOOP["WEBHOOK_TIMEOUT_S"]`` seconds per network operation and reads at most the
first kilobyte of the answer.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.utils.translation import gettext as _

from civicloop.core.errors import ValidationFailed

MAX_URL_LENGTH = 500
EXCERPT_BYTES = 1024
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


def _setting(name: str, default: Any) -> Any:
    return dict(settings.CIVICLOOP).get(name, default)


def blocks_private() -> bool:
    return bool(_setting("WEBHOOK_BLOCK_PRIVATE", False))


def timeout_s() -> float:
    return float(_setting("WEBHOOK_TIMEOUT_S", 10))


# ---- addresses -----------------------------------------------------------------------------


class BlockedAddress(OSError):
    """The target resolves to an address this deployment refuses."""


def is_public(address: str) -> bool:
    """A globally routable unicast address (IPv4-mapped IPv6 judged by its IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_global
        and not (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
        )
    )


def resolve(host: str, port: int) -> list[tuple[int, int, int, Any]]:
    """``(family, type, proto, sockaddr)`` for every address of ``host``; tests replace it."""
    return [
        (f, t, p, sa) for f, t, p, _c, sa in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    ]


def _public_addresses(host: str, port: int) -> list[tuple[int, int, int, Any]]:
    try:
        found = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise BlockedAddress(
            _("The host name “%(host)s” could not be resolved (%(error)s).")
            % {"host": host, "error": exc}
        ) from None
    if not found:
        raise BlockedAddress(_("The host name “%(host)s” has no address.") % {"host": host})
    for _f, _t, _p, sockaddr in found:
        if not is_public(str(sockaddr[0])):
            raise BlockedAddress(
                _(
                    "“%(host)s” points to %(address)s, a private, loopback or link-local address, which this server may not call."
                )
                % {"host": host, "address": sockaddr[0]}
            )
    return found


def _guarded_create_connection(
    address: tuple[str, int],
    timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
    source_address: Any = None,
    **kwargs: Any,
) -> socket.socket:
    """``socket.create_connection`` that connects only to the public addresses it vetted itself."""
    host, port = address
    error: OSError | None = None
    for family, kind, proto, sockaddr in _public_addresses(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(_("No address of “%(host)s” answered.") % {"host": host})


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_create_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_create_connection


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx then surfaces as an HTTPError, recorded as a failure


# ---- the URL ---------------------------------------------------------------------------------


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed(message, field="url")


def _host(hostname: str) -> str:
    """The host as it goes on the wire (IDN → punycode), or a refusal."""
    try:
        ip = ipaddress.ip_address(hostname)
    except ValueError:
        ip = None
    if ip is not None:
        return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    try:
        ascii_host = hostname.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise _bad(_("“%(host)s” is not a valid host name.") % {"host": hostname}) from None
    labels = ascii_host.split(".")
    if not ascii_host or len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _bad(_("“%(host)s” is not a valid host name.") % {"host": hostname})
    if all(label.isdigit() for label in labels):
        raise _bad(_("“%(host)s” is not a valid IP address.") % {"host": hostname})
    return ascii_host


def clean_url(value: str | None) -> str:
    """The normalised target URL, or ``ValidationFailed`` (field ``url``) saying what is wrong.

    With ``WEBHOOK_BLOCK_PRIVATE`` the host is resolved now and refused when any of its
    addresses is not public.
    """
    url = (value or "").strip()
    if not url:
        raise _bad(_("Give the URL the events are sent to."))
    if len(url) > MAX_URL_LENGTH:
        raise _bad(_("The URL is too long: at most %(max)d characters.") % {"max": MAX_URL_LENGTH})
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise _bad(_("The URL may not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad(_("“%(url)s” is not a valid URL.") % {"url": url}) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise _bad(_("The URL must start with http:// or https://."))
    if parts.username is not None or parts.password is not None:
        raise _bad(
            _(
                "Leave the user name and password out of the URL: the receiver checks the signature instead."
            )
        )
    if parts.fragment or url.endswith("#"):
        raise _bad(_("Leave out the “#…” part: it is never sent to the server."))
    if not parts.hostname:
        raise _bad(_("The URL has no host name."))
    if port == 0:
        raise _bad(_("The port must be between 1 and 65535."))
    host = _host(parts.hostname)
    netloc = host + (f":{port}" if port is not None else "")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    if blocks_private():
        try:
            _public_addresses(
                host.strip("[]"), port or (443 if parts.scheme.lower() == "https" else 80)
            )
        except BlockedAddress as exc:
            raise _bad(str(exc)) from None
    cleaned = urlunsplit((parts.scheme.lower(), netloc, path, query, ""))
    if len(cleaned) > MAX_URL_LENGTH:
        raise _bad(_("The URL is too long: at most %(max)d characters.") % {"max": MAX_URL_LENGTH})
    return cleaned


# ---- one call -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What came back from one call: a status code, or the error that prevented one."""

    status: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return not self.error and self.status is not None and 200 <= self.status < 300


def _opener(*, guard: bool) -> urllib.request.OpenerDirector:
    proxy = str(_setting("WEBHOOK_PROXY", "") or "")
    handlers: list[Any] = [
        urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}),
        _NoRedirects(),
    ]
    if guard and not proxy:
        handlers += [_GuardedHTTPHandler(), _GuardedHTTPSHandler()]
    return urllib.request.build_opener(*handlers)


def _excerpt(raw: bytes) -> str:
    return raw[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float | None = None,
    guard: bool | None = None,
) -> Answer:
    """POST ``body`` to ``url``; never raises for anything the network or the receiver does."""
    guard = blocks_private() if guard is None else guard
    timeout = timeout_s() if timeout is None else timeout
    started = time.monotonic()
    status: int | None = None
    raw, error = b"", ""
    try:
        if guard and _setting("WEBHOOK_PROXY", ""):
            parts = urlsplit(url)
            _public_addresses(
                parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
            )
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        with _opener(guard=guard).open(request, timeout=timeout) as response:
            status = int(response.status)
            raw = response.read(EXCERPT_BYTES)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
        try:
            raw = exc.read(EXCERPT_BYTES) or b""
        except (OSError, http.client.HTTPException):
            raw = b""
        if 300 <= status < 400:
            error = _("HTTP %(status)d: redirects are not followed; register the final URL.") % {
                "status": status
            }
        else:
            error = _("HTTP %(status)d from the receiver.") % {"status": status}
    except urllib.error.URLError as exc:
        reason = exc.reason
        error = (
            str(reason)
            if isinstance(reason, BlockedAddress)
            else f"{type(reason).__name__}: {reason}"
        )
    except BlockedAddress as exc:
        error = str(exc)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration = int((time.monotonic() - started) * 1000)
    return Answer(
        status=status, excerpt=_excerpt(raw), error=error[:2000], duration_ms=max(0, duration)
    )
