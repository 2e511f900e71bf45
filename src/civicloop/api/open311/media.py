"""``media_url`` of an Open311 POST: the photo is fetched once, checked like any upload
(``cases.evidence``: size, type by content, EXIF kept privately) and attached to the case,
so GET answers with our own stripped copy and never points the public at a third party.

Fetching a URL a client names is a classic way into a server's own network, so: http(s)
only, no credentials in the URL, the host resolved once and every address must be public
(``OPEN311_MEDIA_ALLOW_PRIVATE`` allows private ones, for intranets and tests), the
connection made to exactly the address that was checked, no redirects, a timeout, and at
most ``MAX_PHOTO_BYTES`` read. ``OPEN311_MEDIA_FETCH = False`` refuses media_url instead.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext as _

from civicloop.core.errors import ValidationFailed

TIMEOUT_S = 10.0
USER_AGENT = "civicloop-open311/1.0"


class MediaRefused(ValidationFailed):
    pass


def _refuse(reason: str) -> MediaRefused:
    return MediaRefused(
        _("The photo at media_url could not be used: %(reason)s") % {"reason": reason},
        field="media_url",
    )


def _max_bytes() -> int:
    return int(settings.CIVICLOOP.get("MAX_PHOTO_BYTES", 10 * 1024 * 1024))


def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (a seam for tests: resolving names may need the network)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _allowed(address: str) -> bool:
    if settings.CIVICLOOP.get("OPEN311_MEDIA_ALLOW_PRIVATE", False):
        return True
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_S)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_S, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def media_fetch(url: str) -> SimpleUploadedFile:
    """The photo behind ``url`` as an upload for ``report_submit``; MediaRefused (400) if not."""
    if not settings.CIVICLOOP.get("OPEN311_MEDIA_FETCH", True):
        raise _refuse(_("this server does not fetch media; leave media_url out."))
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _refuse(_("it is not a valid URL.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(_("only http and https URLs are fetched."))
    if parts.username or parts.password:
        raise _refuse(_("URLs with credentials are not fetched."))
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError, ValueError):
        raise _refuse(_("its host name could not be resolved.")) from None
    if not addresses or not all(_allowed(a) for a in addresses):
        raise _refuse(_("its host is not on the public internet."))
    connection_class: Any = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = connection_class(parts.hostname, port, addresses[0])
    limit = _max_bytes()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
        response = connection.getresponse()
        if response.status != 200:
            raise _refuse(_("the server answered HTTP %(status)d.") % {"status": response.status})
        data = response.read(limit + 1)
    except MediaRefused:
        raise
    except (OSError, http.client.HTTPException, ValueError):
        raise _refuse(_("the server could not be reached or broke off.")) from None
    finally:
        connection.close()
    if len(data) > limit:
        raise _refuse(_("it is larger than %(mb)d MB.") % {"mb": max(1, limit // (1024 * 1024))})
    if not data:
        raise _refuse(_("it is empty."))
    name = (parts.path.rsplit("/", 1)[-1] or "media")[:80]
    return SimpleUploadedFile(
        name,
        data,
        content_type=response.getheader("Content-Type", "application/octet-stream")[:100],
    )
