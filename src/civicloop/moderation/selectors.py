"""Reads of held reports. Staff reads start from ``policy.visible_held_reports(user)``; the
one public read is by the reference the submitter was given (``held_by_token``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from civicloop.core.errors import NotFoundOrForbidden
from civicloop.org import policy

from .models import HeldPhoto, HeldReport, HeldStatus

DECIDED = (HeldStatus.RELEASED, HeldStatus.REJECTED)


def held_list(*, user: Any, decided: bool = False) -> QuerySet[HeldReport]:
    """Held reports in the user's area: waiting ones newest first, or decided ones latest
    decision first, with what the queue shows loaded in a fixed number of queries."""
    qs = (
        policy.visible_held_reports(user)
        .select_related("category", "grid", "submitted_by", "decided_by", "api_token", "report")
        .prefetch_related("photos")
    )
    if decided:
        return qs.filter(status__in=DECIDED).order_by("-decided_at", "-id")
    return qs.filter(status=HeldStatus.HELD).order_by("-submitted_at", "-id")


def held_counts(*, user: Any) -> dict[str, int]:
    row = policy.visible_held_reports(user).aggregate(
        held=Count("pk", filter=Q(status=HeldStatus.HELD)),
        decided=Count("pk", filter=Q(status__in=DECIDED)),
    )
    return {"held": row["held"] or 0, "decided": row["decided"] or 0}


def held_get(*, user: Any, held_id: int) -> HeldReport:
    """One held report of the user's area; the same error for missing and forbidden."""
    held = (
        policy.visible_held_reports(user)
        .select_related("category", "grid", "submitted_by", "decided_by", "api_token", "report")
        .prefetch_related("photos")
        .filter(pk=held_id)
        .first()
    )
    if held is None:
        raise NotFoundOrForbidden(_("No such held report, or it is not in your area."))
    return held


def held_photo(*, user: Any, held_id: int, photo_id: int) -> HeldPhoto:
    photo = HeldPhoto.objects.filter(
        pk=photo_id, held__in=policy.visible_held_reports(user).filter(pk=held_id)
    ).first()
    if photo is None:
        raise NotFoundOrForbidden(_("No such photo, or it is not in your area."))
    return photo


def held_by_token(*, token: str) -> HeldReport | None:
    """What the submitter may learn with his reference: the status and, once released, the ticket."""
    token = (token or "").strip().upper()
    if not token or len(token) > 32:
        return None
    return HeldReport.objects.select_related("report").filter(token=token).first()
