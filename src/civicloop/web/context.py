"""The page shell every template gets: navigation for the user's roles, unread notices
and the map configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .roles import navigation


def map_config() -> dict[str, Any]:
    tiles = dict(settings.MAP_TILES)
    return {
        "tiles": {k: tiles.get(k, "") for k in ("url", "attribution", "crs", "max_zoom", "subdomains")},
        "center": list(getattr(settings, "MAP_CENTER", ())),
    }


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    unread = 0
    if user is not None and user.is_authenticated:
        from civicloop.notifications.models import Notice

        unread = Notice.objects.filter(recipient=user, read_at__isnull=True).count()
    return {
        "nav": navigation(user),
        "unread_notices": unread,
        "map_config": map_config(),
    }
