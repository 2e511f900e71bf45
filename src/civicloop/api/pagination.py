"""Cursor pagination for every list: stable under inserts, no page counting on big tables."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class CivicCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
