"""Issue, check and revoke API tokens (the only writes to ``ApiToken``).

A key reads ``clk_<prefix>_<secret>``: the prefix finds the row, the secret is compared
with the stored SHA-256 in constant time. The full key is shown once, when issued.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.core.errors import PermissionRefused, ValidationFailed

from .models import ApiToken, Scope

KEY_PREFIX = "clk_"
# last_used_at is written at most this often per token, not on every request.
TOUCH_EVERY = dt.timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _scopes(scopes: Iterable[str], *, by: Any) -> list[str]:
    chosen = sorted(set(scopes))
    unknown = [s for s in chosen if s not in Scope.values]
    if unknown or not chosen:
        raise ValidationFailed(_("Choose at least one scope among read, write and admin."), field="scopes")
    if Scope.ADMIN in chosen and not getattr(by, "is_superuser", False):
        raise PermissionRefused(_("Only a system administrator may issue tokens with the admin scope."), field="scopes")
    return chosen


@transaction.atomic
def token_issue(
    *, user: Any, name: str, scopes: Iterable[str], by: Any, rate_per_minute: int = 120, expires_at: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token acting as ``user``; returns the row and the full key (shown once).

    A user issues tokens for himself; a system administrator for anyone.
    """
    if by.pk != user.pk and not getattr(by, "is_superuser", False):
        raise PermissionRefused(_("You may only issue tokens for your own account."))
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(_("Give the token a name of at most 100 characters."), field="name")
    if not 1 <= int(rate_per_minute) <= 100_000:
        raise ValidationFailed(_("The rate limit must be between 1 and 100000 requests per minute."), field="rate_per_minute")
    chosen = _scopes(scopes, by=by)
    prefix = secrets.token_hex(4)
    while ApiToken.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=_hash(secret),
        scopes=chosen,
        rate_per_minute=int(rate_per_minute),
        expires_at=expires_at,
        created_by=by,
    )
    return token, f"{KEY_PREFIX}{prefix}_{secret}"


def token_for_key(key: str, *, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token behind a key, or None (unknown, wrong secret, revoked, expired, inactive user)."""
    key = (key or "").strip()
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, _sep, secret = key[len(KEY_PREFIX):].partition("_")
    if not prefix or not secret:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.key_hash, _hash(secret)):
        return None
    now = now or timezone.now()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_revoke(*, token: ApiToken, by: Any) -> ApiToken:
    if by.pk != token.user_id and not getattr(by, "is_superuser", False):
        raise PermissionRefused(_("You may only revoke your own tokens."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
