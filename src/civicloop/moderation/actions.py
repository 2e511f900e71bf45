"""Resident-facing creation goes through here (web form, REST API, Open311 POST): the
per-IP report limit, the spam/abuse checks, then either a published report
(``cases.actions.case_report``) or a held one (``HeldReport``) for a dispatcher to decide.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.cases.actions import case_report, report_prepare
from civicloop.cases.models import Report, Source
from civicloop.core import ratelimit
from civicloop.core.errors import RateLimited
from civicloop.org import policy
from civicloop.org.models import Role

from . import checks
from .models import HeldReport, SubmissionPrint

DEFAULT_REPORT_RATE_PER_HOUR = 20


@dataclass(frozen=True)
class Submitted:
    """Exactly one of the two is set."""

    report: Report | None = None
    held: HeldReport | None = None


def report_rate_per_hour() -> int:
    return int(settings.CIVICLOOP.get("REPORT_RATE_PER_HOUR", DEFAULT_REPORT_RATE_PER_HOUR))


def _is_staff(by: Any) -> bool:
    # Residents hold a role too; every other role is staff.
    return bool(getattr(by, "is_authenticated", False) and any(g.role != Role.RESIDENT for g in policy.grants(by)))


def _sender(ip: str, api_token: Any) -> str:
    return f"token:{api_token.pk}" if api_token is not None else f"ip:{ip or 'unknown'}"


def report_submit(
    *,
    channel: str,
    ip: str,
    category: Any,
    lat: Any,
    lon: Any,
    description: str,
    crs: str = "wgs84",
    source: str = Source.RESIDENT,
    by: Any = None,
    api_token: Any = None,
    name: str = "",
    phone: str = "",
    email: str = "",
    address: str = "",
    photos: Sequence[Any] = (),
    join_case: Any = None,
    at: dt.datetime | None = None,
) -> Submitted:
    """Check, then publish or hold one resident-facing report. Staff (anyone with a role)
    report without the checks.

    Raises ``RateLimited`` past ``REPORT_RATE_PER_HOUR`` reports per IP (a token is limited
    by its own rate instead), and the usual ``CivicError``s for invalid input: a held
    report is always one that could have been published.
    """
    when = at or timezone.now()
    if _is_staff(by):
        # Grid workers, dispatchers (hotline) and other staff report as part of their work.
        report = case_report(
            category=category, lat=lat, lon=lon, crs=crs, description=description, source=source, by=by,
            name=name, phone=phone, email=email, address=address, photos=photos, join_case=join_case, at=when,
        )
        return Submitted(report=report)
    if api_token is None:
        decision = ratelimit.hit("report-ip", ip or "unknown", limit=report_rate_per_hour(), window_s=3600, now=when)
        if not decision.allowed:
            raise RateLimited(
                _("You have sent %(limit)s reports in the last hour. Please wait a while, or call 12345 if it is urgent.")
                % {"limit": decision.limit},
                retry_after=decision.retry_after,
            )
    ready = report_prepare(
        category=category, lat=lat, lon=lon, crs=crs, description=description, source=source,
        name=name, phone=phone, email=email, address=address,
    )
    reasons = checks.text_reasons(description)
    sender = _sender(ip, api_token)
    printed = checks.fingerprint(ready.description)
    cfg = checks.config()
    since = when - dt.timedelta(hours=int(cfg["REPEAT_WINDOW_HOURS"]))
    with transaction.atomic():
        earlier = SubmissionPrint.objects.filter(fingerprint=printed, sender=sender, submitted_at__gte=since).count()
        SubmissionPrint.objects.create(fingerprint=printed, sender=sender, submitted_at=when)
    if earlier >= int(cfg["REPEAT_LIMIT"]):
        reasons.append(checks.REPEATED)
    if not reasons:
        report = case_report(
            category=ready.category, lat=ready.lat, lon=ready.lon, crs="wgs84", description=ready.description,
            source=source, by=by, name=ready.name, phone=ready.phone, email=ready.email, address=ready.address,
            photos=photos, join_case=join_case, at=when,
        )
        return Submitted(report=report)
    held = HeldReport.objects.create(
        token=secrets.token_urlsafe(12),
        channel=channel,
        reasons=reasons,
        payload={
            "category": ready.category.code, "lat": ready.lat, "lon": ready.lon, "crs": "wgs84",
            "description": description, "source": source, "name": ready.name, "phone": ready.phone,
            "email": ready.email, "address": ready.address,
            "join_case": getattr(join_case, "pk", None),
        },
        original_description=description,
        category=ready.category,
        grid=ready.grid,
        area_path=ready.grid.path,
        ip=ip or "",
        api_token=api_token,
        submitted_by=by if getattr(by, "is_authenticated", False) else None,
        submitted_at=when,
    )
    return Submitted(held=held)
