"""Scopes per HTTP method (read for safe methods, write otherwise); a view may demand more
with ``required_scope``. Session users (staff browsing /api/v1/docs) act with read and
write, never admin. What a user may see and change is decided by org/policy.py as on the web.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import permissions
from rest_framework.request import Request

from .models import ApiToken, Scope


def required_scope(request: Request, view: Any) -> str:
    explicit = getattr(view, "required_scope", None)
    if isinstance(explicit, dict):
        explicit = explicit.get(request.method)
    if explicit:
        return str(explicit)
    return Scope.READ if request.method in permissions.SAFE_METHODS else Scope.WRITE


class ScopedAccess(permissions.BasePermission):
    """Anonymous callers reach only views that say ``anonymous_allowed = True``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        scope = required_scope(request, view)
        if isinstance(request.auth, ApiToken):
            if request.auth.has_scope(scope):
                return True
            self.message = _("This token lacks the “%(scope)s” scope.") % {"scope": scope}
            return False
        user = request.user
        if not (user and user.is_authenticated):
            allowed = getattr(view, "anonymous_allowed", False)
            if isinstance(allowed, (set, tuple, list)):
                return request.method in allowed
            return bool(allowed)
        if scope == Scope.ADMIN:
            return bool(user.is_superuser)
        return True
