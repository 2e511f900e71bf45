"""Reads of assessment standards. Standards are city-wide rules, the same for every role."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Standard, StandardStatus


def standard_versions(*, code: str) -> QuerySet[Standard]:
    """Every version of a standard, newest first."""
    return Standard.objects.filter(code=code).order_by("-version")


def standard_current(*, code: str) -> Standard | None:
    """The published version of a standard (the one new rounds start with), if any."""
    return Standard.objects.filter(code=code, status=StandardStatus.PUBLISHED).first()


def standard_draft(*, code: str) -> Standard | None:
    return Standard.objects.filter(code=code, status=StandardStatus.DRAFT).first()


def standards_in_use(*, location_type: str | None = None) -> QuerySet[Standard]:
    """The published version of every standard, optionally of one location type."""
    qs = Standard.objects.filter(status=StandardStatus.PUBLISHED)
    if location_type:
        qs = qs.filter(location_type=location_type)
    return qs.order_by("location_type", "code")
