"""How a webhook call is signed, and how a receiver checks it (the scheme Stripe uses).

Every call carries::

    X-Civicloop-Signature: t=1763344800,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

``t`` is the Unix time of the attempt, ``v1`` the lowercase hex HMAC-SHA256 of
``"<t>.<raw request body>"`` keyed with the webhook's secret (``whsec_…``, shown once when
the webhook is created or its secret rotated). While a rotated secret is still valid,
the header carries a second ``v1=`` made with the old secret; either one matching is enough.

A receiver verifies a call like this (``verify`` below does exactly it)::

    1. take the raw body bytes, before any JSON parsing (re-serialising changes bytes);
    2. split the header on "," into key=value pairs, take t and every v1;
    3. compute hex(HMAC-SHA256(secret, f"{t}.".encode() + body));
    4. compare it with each v1 in constant time (hmac.compare_digest); none equal → reject;
    5. reject when |now - t| > tolerance (e.g. 300 s): an old, replayed call is refused
       even though its signature is right, because t is inside the signed text.

Then answer any 2xx quickly (do the work afterwards): anything else, a redirect or no
answer within the timeout counts as a failure and is retried with back-off.
``X-Civicloop-Delivery`` (also the body's ``id``) stays the same on every retry and
redelivery of one delivery: use it to ignore duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    message = f"{int(timestamp)}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secrets: str | Iterable[str], body: bytes, *, timestamp: int | None = None) -> str:
    """The ``X-Civicloop-Signature`` header for ``body``: one ``v1`` per secret given."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    keys = [secrets] if isinstance(secrets, str) else [s for s in secrets if s]
    return ",".join([f"t={t}", *(f"{SCHEME}={compute(k, t, body)}" for k in keys)])


def parse(header: str) -> tuple[int | None, list[str]]:
    """``(t, [v1 signatures])`` from a header; ``(None, [])`` when it is malformed."""
    timestamp: int | None = None
    found: list[str] = []
    for part in (header or "").split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return None, []
        elif key == SCHEME and value:
            found.append(value.strip().lower())
    return timestamp, found


def verify(
    secret: str,
    header: str,
    body: bytes | str,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` is a valid signature of ``body`` with ``secret``, made within
    ``tolerance_s`` seconds of ``now`` (default: the current time), either way."""
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    timestamp, signatures = parse(header)
    if timestamp is None or not signatures or not secret:
        return False
    current = time.time() if now is None else float(now)
    if abs(current - timestamp) > float(tolerance_s):
        return False
    expected = compute(secret, timestamp, raw)
    # Compare with every candidate, without stopping early on a match.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    return any(matches)
