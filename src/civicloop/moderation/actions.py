"""Resident-facing creation goes through here (web form, REST API, Open311 POST): the
per-IP report limit, the spam/abuse checks, then either a published report
(``cases.actions.case_report``) or a held one (``HeldReport``) for a dispatcher to decide
(``held_release`` / ``held_reject``).

Decisions:

* The per-IP limit counts reports that were accepted (published or held), not attempts
  that failed validation: a resident who mistypes is not locked out. The count is raised
  in the same transaction as the report, so a report that fails later does not count
  either, and a concurrent report past the limit is refused and rolled back.
* A held report keeps its photos privately (``HeldPhoto``, checked by ``cases.evidence``
  when it is submitted, exactly as a published one would be). On release they go through
  ``case_report`` like any upload and become the case's photos.
* A release publishes the report as it was sent: its time, source, reporter and contacts.
  A moderator may publish a corrected text (e.g. without the link); the original stays
  in ``HeldReport.original_description``. Duplicates are joined as for any report, with
  the open cases of the submission time and of the release time both considered.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.cases import evidence
from civicloop.cases.actions import (
    MAX_DESCRIPTION,
    PreparedReport,
    case_report,
    duplicate_candidates,
    report_prepare,
)
from civicloop.cases.models import Case, Report, Source
from civicloop.cases.workflow import OPEN_FOR_REPORTERS
from civicloop.core import ratelimit
from civicloop.core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundOrForbidden,
    RateLimited,
    ValidationFailed,
)
from civicloop.org import policy
from civicloop.org.models import Role

from . import checks
from .models import HeldPhoto, HeldReport, HeldStatus, SubmissionPrint

DEFAULT_REPORT_RATE_PER_HOUR = 20
MAX_DECISION_NOTE = 500  # HeldReport.decision_note


@dataclass(frozen=True)
class Submitted:
    """Exactly one of the two is set."""

    report: Report | None = None
    held: HeldReport | None = None


# Letters and digits nobody confuses when reading a reference out to the 12345 hotline.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_reference() -> str:
    """A held report's public reference (and Open311 token): 12 random characters (59 bits),
    in groups of four, e.g. ``H7KM-2QXT-9ZPA``."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def report_rate_per_hour() -> int:
    civicloop: dict[str, Any] = settings.CIVICLOOP
    return int(civicloop.get("REPORT_RATE_PER_HOUR", DEFAULT_REPORT_RATE_PER_HOUR))


def _is_staff(by: Any) -> bool:
    # Residents hold a role too; every other role is staff.
    return bool(
        getattr(by, "is_authenticated", False)
        and any(g.role != Role.RESIDENT for g in policy.grants(by))
    )


def _is_user(by: Any) -> bool:
    return bool(by is not None and getattr(by, "is_authenticated", False))


def _sender(ip: str, api_token: Any) -> str:
    return f"token:{api_token.pk}" if api_token is not None else f"ip:{ip or 'unknown'}"


def _too_many(decision: ratelimit.Decision) -> RateLimited:
    return RateLimited(
        _(
            "Too many reports from your connection in the last hour (at most %(limit)d). "
            "Please try again later, or call the 12345 hotline if it is urgent."
        )
        % {"limit": decision.limit},
        retry_after=decision.retry_after,
    )


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
    detect_duplicates: bool = True,
    at: dt.datetime | None = None,
) -> Submitted:
    """Check, then publish or hold one resident-facing report. Staff (anyone with a role
    other than resident) report without the checks and the limit.

    Raises ``RateLimited`` past ``REPORT_RATE_PER_HOUR`` reports per IP (a token is limited
    by its own rate instead), and the usual ``CivicError``s for invalid input (photos
    included): a held report is always one that could have been published.
    """
    when = at or timezone.now()
    if _is_staff(by):
        # Grid workers, dispatchers (hotline) and other staff report as part of their work.
        report = case_report(
            category=category,
            lat=lat,
            lon=lon,
            crs=crs,
            description=description,
            source=source,
            by=by,
            name=name,
            phone=phone,
            email=email,
            address=address,
            photos=photos,
            join_case=join_case,
            detect_duplicates=detect_duplicates,
            at=when,
        )
        return Submitted(report=report)
    limited = api_token is None
    ip_key = ip or "unknown"
    if limited:
        # Refused before any work; counted only once the report is accepted (below).
        ahead = ratelimit.peek(
            "report-ip", ip_key, limit=report_rate_per_hour(), window_s=3600, now=when
        )
        if not ahead.allowed:
            raise _too_many(ahead)
    ready = report_prepare(
        category=category,
        lat=lat,
        lon=lon,
        crs=crs,
        description=description,
        source=source,
        name=name,
        phone=phone,
        email=email,
        address=address,
    )
    reasons = checks.text_reasons(description)
    sender = _sender(ip, api_token)
    printed = checks.fingerprint(ready.description)
    cfg = checks.config()
    since = when - dt.timedelta(hours=int(cfg["REPEAT_WINDOW_HOURS"]))
    earlier = SubmissionPrint.objects.filter(
        fingerprint=printed, sender=sender, submitted_at__gte=since, submitted_at__lte=when
    ).count()
    if earlier >= int(cfg["REPEAT_LIMIT"]):
        reasons.append(checks.REPEATED)
    # A held report's photos are checked now, before anything is written, as case_report would.
    checked = [evidence.photo_check(upload) for upload in photos] if reasons else []
    written: list[tuple[Storage, str]] = []
    try:
        # Bookkeeping last, so the locks it takes are held only while the report is written.
        with transaction.atomic():
            if reasons:
                result = Submitted(
                    held=_hold(
                        ready,
                        reasons=reasons,
                        checked=checked,
                        written=written,
                        channel=channel,
                        ip=ip,
                        description=description,
                        source=source,
                        by=by,
                        api_token=api_token,
                        join_case=join_case,
                        detect_duplicates=detect_duplicates,
                        when=when,
                    )
                )
            else:
                result = Submitted(
                    report=case_report(
                        category=ready.category,
                        lat=ready.lat,
                        lon=ready.lon,
                        crs="wgs84",
                        description=ready.description,
                        source=source,
                        by=by,
                        name=ready.name,
                        phone=ready.phone,
                        email=ready.email,
                        address=ready.address,
                        photos=photos,
                        join_case=join_case,
                        detect_duplicates=detect_duplicates,
                        at=when,
                        prepared=ready,
                    )
                )
            SubmissionPrint.objects.create(fingerprint=printed, sender=sender, submitted_at=when)
            if limited:
                decision = ratelimit.hit(
                    "report-ip", ip_key, limit=report_rate_per_hour(), window_s=3600, now=when
                )
                if not decision.allowed:  # others from this address got there first: all undone
                    raise _too_many(decision)
    except BaseException:
        _delete_files(written)
        raise
    return result


def _hold(
    ready: PreparedReport,
    *,
    reasons: list[str],
    checked: list[evidence.CheckedPhoto],
    written: list[tuple[Storage, str]],
    channel: str,
    ip: str,
    description: str,
    source: str,
    by: Any,
    api_token: Any,
    join_case: Any,
    detect_duplicates: bool,
    when: dt.datetime,
) -> HeldReport:
    held = HeldReport.objects.create(
        token=new_reference(),
        channel=channel,
        reasons=reasons,
        payload={
            "category": ready.category.code,
            "lat": ready.lat,
            "lon": ready.lon,
            "crs": "wgs84",
            "description": description,
            "source": source,
            "name": ready.name,
            "phone": ready.phone,
            "email": ready.email,
            "address": ready.address,
            "join_case": getattr(join_case, "pk", None),
            "detect_duplicates": bool(detect_duplicates),
        },
        original_description=description,
        category=ready.category,
        grid=ready.grid,
        area_path=ready.grid.path,
        ip=ip or "",
        api_token=api_token,
        submitted_by=by if _is_user(by) else None,
        submitted_at=when,
    )
    for position, result in enumerate(checked):
        _keep_photo(held, position, result, written)
    return held


def _keep_photo(
    held: HeldReport,
    position: int,
    checked: evidence.CheckedPhoto,
    written: list[tuple[Storage, str]],
) -> HeldPhoto:
    photo = HeldPhoto(
        held=held,
        position=position,
        name=checked.name[:100],
        sha256=checked.sha256,
        content_type=checked.content_type,
        size=checked.size,
        width=checked.public_width,
        height=checked.public_height,
    )
    # The names given here are placeholders: upload_to derives the stored names.
    photo.original.save("original", ContentFile(checked.data, name="original"), save=False)
    written.append((photo.original.storage, photo.original.name or ""))
    photo.preview.save("preview.jpg", ContentFile(checked.public, name="preview.jpg"), save=False)
    written.append((photo.preview.storage, photo.preview.name or ""))
    photo.save()
    return photo


def _delete_files(files: list[tuple[Storage, str]]) -> None:
    for storage, name in files:
        try:
            if name:
                storage.delete(name)
        except OSError:
            pass  # nothing refers to it; a leftover file is harmless


# ---- deciding ------------------------------------------------------------------------------


def _clean(value: str | None, *, field: str, required: bool, max_length: int, missing: str) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(
            missing,
            code=ErrorCode.REASON_REQUIRED if field == "reason" else ErrorCode.INVALID,
            field=field,
        )
    if len(text) > max_length:
        raise ValidationFailed(
            _("Too long: at most %(max)d characters, you wrote %(count)d.")
            % {"max": max_length, "count": len(text)},
            field=field,
        )
    return text


def _who(user: Any) -> str:
    if user is None:
        return _("someone")
    return str(getattr(user, "display_name", "") or user.get_username())


def _already_decided(held: HeldReport) -> ConflictError:
    when = timezone.localtime(held.decided_at).strftime("%Y-%m-%d %H:%M") if held.decided_at else ""
    values = {"who": _who(held.decided_by), "when": when}
    if held.status == HeldStatus.RELEASED:
        message = _("This report was already released by %(who)s at %(when)s.") % values
    else:
        message = _("This report was already rejected by %(who)s at %(when)s.") % values
    return ConflictError(message)


def lock_held(held_id: int, by: Any) -> HeldReport:
    """Lock a held report for a decision: in the moderator's area and still undecided."""
    assert transaction.get_connection().in_atomic_block, "lock_held needs a transaction"
    held = (
        HeldReport.objects.select_for_update(of=("self",))
        .select_related("category", "grid", "submitted_by", "decided_by")
        .filter(pk=held_id)
        .first()
    )
    if held is None or not policy.may_moderate(by, held.area_path):
        raise NotFoundOrForbidden(_("No such held report, or it is not in your area."))
    if held.status != HeldStatus.HELD:
        raise _already_decided(held)
    return held


def _join_target(held: HeldReport, now: dt.datetime) -> Case | None:
    """The open case this report joins on release: the one the resident picked if it is still
    open, else the nearest duplicate at the time it was sent or now (unless he said "new")."""
    payload = held.payload
    picked = payload.get("join_case")
    if picked:
        case = Case.objects.filter(pk=picked, state__in=list(OPEN_FOR_REPORTERS)).first()
        if case is not None:
            return case
    elif not payload.get("detect_duplicates", True):
        return None
    lat, lon = float(payload["lat"]), float(payload["lon"])
    found: dict[int, tuple[Case, float]] = {}
    for moment in (held.submitted_at, now):
        for case, distance in duplicate_candidates(
            category=held.category, lat=lat, lon=lon, at=moment
        ):
            found.setdefault(case.pk, (case, distance))
    if not found:
        return None
    return min(found.values(), key=lambda pair: (pair[1], pair[0].pk))[0]


def held_release(
    *,
    held: HeldReport,
    by: Any,
    description: str | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> HeldReport:
    """Publish a held report through ``case_report`` as it was sent (time, source, reporter,
    contacts, photos), optionally with a corrected ``description``; link the new Report."""
    now = at or timezone.now()
    note = _clean(note, field="note", required=False, max_length=MAX_DECISION_NOTE, missing="")
    text = None
    if description is not None:
        text = _clean(
            description,
            field="description",
            required=True,
            max_length=MAX_DESCRIPTION,
            missing=_("Please describe the problem."),
        )
    with transaction.atomic():
        current = lock_held(held.pk, by)
        photos = list(current.photos.all())
        uploads = []
        for photo in photos:
            with photo.original.open("rb") as fh:
                uploads.append(ContentFile(fh.read(), name=photo.name or "photo"))
        payload = current.payload
        report = case_report(
            category=current.category,
            lat=payload["lat"],
            lon=payload["lon"],
            crs="wgs84",
            description=text if text is not None else current.original_description,
            source=payload.get("source") or Source.RESIDENT,
            by=current.submitted_by,
            name=payload.get("name", ""),
            phone=payload.get("phone", ""),
            email=payload.get("email", ""),
            address=payload.get("address", ""),
            photos=uploads,
            join_case=_join_target(current, now),
            detect_duplicates=False,  # decided just above
            at=current.submitted_at,
        )
        current.status = HeldStatus.RELEASED
        current.decided_by = by if _is_user(by) else None
        current.decided_at = now
        current.decision_note = note
        current.report = report
        current.save(
            update_fields=["status", "decided_by", "decided_at", "decision_note", "report"]
        )
        # The photos now live with the case; the held copies go once this commits.
        files = [(f.storage, f.name or "") for p in photos for f in (p.original, p.preview)]
        HeldPhoto.objects.filter(held=current).delete()
        transaction.on_commit(lambda: _delete_files(files))
    return current


def held_reject(
    *, held: HeldReport, by: Any, reason: str, at: dt.datetime | None = None
) -> HeldReport:
    """Refuse to publish a held report, with a reason. Nothing becomes public; the text and the
    photos stay (privately) for the record."""
    now = at or timezone.now()
    reason = _clean(
        reason,
        field="reason",
        required=True,
        max_length=MAX_DECISION_NOTE,
        missing=_("Please give a reason."),
    )
    with transaction.atomic():
        current = lock_held(held.pk, by)
        current.status = HeldStatus.REJECTED
        current.decided_by = by if _is_user(by) else None
        current.decided_at = now
        current.decision_note = reason
        current.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return current
