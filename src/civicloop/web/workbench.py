"""Pages of the web product (issue 3); see docs/architecture.md."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
