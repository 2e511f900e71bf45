"""Cursor pagination for every list: stable under inserts, no page counting on big tables."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination

# Cursor positions of an integer ordering beyond a 64-bit column name nothing.
MAX_POSITION = 2**63 - 1


class CivicCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"

    def decode_cursor(self, request: Any) -> Cursor | None:
        # DRF trusts the position it finds in the cursor; a forged one must not reach the
        # database as a non-number (a server error) for an integer ordering.
        cursor = super().decode_cursor(request)
        ordering = (self.ordering,) if isinstance(self.ordering, str) else tuple(self.ordering)
        if cursor is not None and cursor.position is not None and ordering[0] in {"id", "-id"}:
            position = cursor.position
            if (
                not (position.isascii() and position.lstrip("-").isdigit())
                or abs(int(position)) > MAX_POSITION
            ):
                raise NotFound(self.invalid_cursor_message)
        return cursor
