"""Every write to a case: one function per transition of ``cases.workflow``.

Each action locks the case, checks the actor against ``org.policy`` and the state
against the workflow table, refuses a stale copy (``case.version``) as a
conflict, changes only the fields it owns, bumps the version and writes exactly
one immutable ``CaseEvent`` — all in one transaction, so a failure half-way
leaves the case as it was. Side effects (notices, e-mail) run on commit.

``at`` lets the demo generator and the tests control time; it defaults to now.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.core import workcal
from civicloop.core.errors import (
    CivicError,
    ConflictError,
    ErrorCode,
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.core.tickets import ticket_next
from civicloop.org import policy
from civicloop.org.models import Unit
from civicloop.places.models import Area

from . import evidence, routing
from .locks import lock_case
from .models import (
    Case,
    CaseEvent,
    CaseUnit,
    Category,
    EventKind,
    ExtensionRequest,
    PhotoKind,
    Rating,
    Report,
    Source,
    State,
    TimeLimitKind,
)
from .workflow import OPEN_FOR_REPORTERS, Action, require_transition

MAX_DESCRIPTION = 4000
MAX_NOTE = 2000


def _now(at: dt.datetime | None) -> dt.datetime:
    return at if at is not None else timezone.now()


def _clean_text(value: str | None, *, field: str, required: bool, max_length: int, missing: str) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(missing, code=ErrorCode.REASON_REQUIRED if field in {"reason", "note"} else ErrorCode.INVALID, field=field)
    if len(text) > max_length:
        raise ValidationFailed(
            _("Too long: at most %(max)d characters, you wrote %(count)d.") % {"max": max_length, "count": len(text)},
            field=field,
        )
    return text


def _reason(value: str | None) -> str:
    return _clean_text(value, field="reason", required=True, max_length=MAX_NOTE, missing=_("Please give a reason."))


def _note(value: str | None) -> str:
    return _clean_text(value, field="note", required=False, max_length=MAX_NOTE, missing="")


def _actor_unit(by: Any, case: Case) -> Unit | None:
    return policy.acting_unit(by, case) if by is not None else None


def _check_photos(photos: Sequence[Any]) -> list[evidence.CheckedPhoto]:
    """Check every photo before anything is written; the results are attached as they are."""
    return [evidence.photo_check(upload) for upload in photos]


def _attach(case: Case, event: CaseEvent, kind: str, photos: Sequence[Any], checked: Sequence[evidence.CheckedPhoto], by: Any) -> None:
    for upload, result in zip(photos, checked, strict=True):
        evidence.photo_attach(case=case, kind=kind, upload=upload, by=by if _is_user(by) else None, event=event, checked=result)


def _is_user(by: Any) -> bool:
    return by is not None and getattr(by, "is_authenticated", False)


def _handler_ids(case: Case) -> set[int]:
    return {
        pk
        for pk in case.events.filter(kind__in=[EventKind.ACCEPTED, EventKind.FEEDBACK]).values_list("actor_id", flat=True)
        if pk is not None
    }


@dataclass
class Outcome:
    case: Case
    event: CaseEvent


def _transition(
    *,
    case: Case,
    action: Action,
    by: Any,
    at: dt.datetime | None,
    event_kind: str,
    note: str = "",
    data: dict[str, Any] | None = None,
    mutate: Callable[[Case, dt.datetime], list[str]] | None = None,
    ticket_holder: bool = False,
    photos: Sequence[Any] = (),
    photo_kind: str = PhotoKind.AFTER,
    check: Callable[[Case, dt.datetime], None] | None = None,
    after: Callable[[Case, CaseEvent, dt.datetime], None] | None = None,
) -> Outcome:
    """Lock, authorise, validate, change, record: the one shape of every case action."""
    when = _now(at)
    expected_version = case.version
    checked = _check_photos(photos)
    with transaction.atomic():
        current = lock_case(case.pk)
        handler_ids = _handler_ids(current) if action in {Action.VERIFY_PASS, Action.VERIFY_FAIL, Action.LOOKBACK_PASS, Action.LOOKBACK_FAIL} else None
        policy.require(by, action, current, ticket_holder=ticket_holder, handler_ids=handler_ids)
        if current.version != expected_version:
            last = current.events.order_by("-created_at", "-id").first()
            raise ConflictError(
                _("Someone else changed this case (%(what)s) while you were working on it. Reload it and try again.")
                % {"what": last.get_kind_display() if last else current.get_state_display()}
            )
        transition = require_transition(current.state, action)
        if check is not None:
            check(current, when)
        from_state = current.state
        fields = mutate(current, when) if mutate is not None else []
        if transition.target is not None:
            current.state = transition.target
            fields.append("state")
        current.version = F("version") + 1
        current.save(update_fields=sorted({*fields, "version", "updated_at"}))
        current.refresh_from_db()
        event = CaseEvent.objects.create(
            case=current,
            kind=event_kind,
            actor=by if _is_user(by) else None,
            actor_unit=_actor_unit(by if _is_user(by) else None, current),
            from_state=from_state,
            to_state=current.state,
            note=note,
            data=data if data is not None else {},
            created_at=when,
        )
        if photos:
            _attach(current, event, photo_kind, photos, checked, by)
        if after is not None:
            after(current, event, when)
        _notify_on_commit(current.pk, event.pk)
    return Outcome(current, event)


def _notify_on_commit(case_id: int, event_id: int) -> None:
    from civicloop.notifications.services import is_muted

    if not is_muted():
        transaction.on_commit(lambda: _notify(case_id, event_id))


def _notify(case_id: int, event_id: int) -> None:
    from civicloop.notifications.tasks import notify_case_event
    from civicloop.webhooks.tasks import webhooks_fan_out

    notify_case_event.enqueue(case_id=case_id, event_id=event_id)
    webhooks_fan_out.enqueue(case_id=case_id, event_id=event_id)


# ---- reporting ---------------------------------------------------------------


def _category(category: Category | str | int) -> Category:
    if isinstance(category, Category):
        cat = category
    else:
        lookup = {"code": category} if isinstance(category, str) else {"pk": category}
        cat = Category.objects.filter(**lookup).first()  # type: ignore[assignment]
    if cat is None or not cat.active:
        raise CivicError(
            _("Unknown problem category “%(category)s”. Pick one from the list.") % {"category": category},
            code=ErrorCode.UNKNOWN_CATEGORY,
            field="category",
        )
    return cat


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def duplicate_candidates(*, category: Category, lat: float, lon: float, at: dt.datetime | None = None) -> list[tuple[Case, float]]:
    """Open cases of the same category within the configured radius and window, nearest first."""
    when = _now(at)
    radius = float(settings.CIVICLOOP["DUPLICATE_RADIUS_M"])
    window = dt.timedelta(hours=float(settings.CIVICLOOP["DUPLICATE_WINDOW_HOURS"]))
    dlat = radius / 111_320.0
    dlon = radius / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    # A rectification case of an inspection finding is no resident's problem to join: its
    # text and photos are the inspection's (see org.policy.public_cases).
    rows = Case.objects.filter(
        finding__isnull=True,
        category=category,
        state__in=list(OPEN_FOR_REPORTERS),
        reported_at__gte=when - window,
        reported_at__lte=when,
        lat__range=(lat - dlat, lat + dlat),
        lon__range=(lon - dlon, lon + dlon),
    )
    found = [(c, _distance_m(lat, lon, c.lat, c.lon)) for c in rows]
    return sorted([(c, d) for c, d in found if d <= radius], key=lambda x: (x[1], x[0].pk))


def _validate_contact(name: str, phone: str, email: str) -> tuple[str, str, str]:
    name = _clean_text(name, field="name", required=False, max_length=64, missing="")
    phone = _clean_text(phone, field="phone", required=False, max_length=32, missing="")
    email = _clean_text(email, field="email", required=False, max_length=254, missing="")
    if phone and not all(ch.isdigit() or ch in "+- ()" for ch in phone):
        raise ValidationFailed(_("The phone number may contain only digits, spaces and + - ( )."), field="phone")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationFailed(_("“%(email)s” is not an e-mail address.") % {"email": email}, field="email") from None
    return name, phone, email


@dataclass(frozen=True)
class PreparedReport:
    """A report's input, checked and normalised (WGS-84 point, its grid); nothing written."""

    category: Category
    grid: Area
    lat: float
    lon: float
    description: str
    address: str
    name: str
    phone: str
    email: str
    source: str


def report_prepare(
    *,
    category: Category | str | int,
    lat: Any,
    lon: Any,
    description: str,
    crs: str = "wgs84",
    source: str = Source.RESIDENT,
    name: str = "",
    phone: str = "",
    email: str = "",
    address: str = "",
) -> PreparedReport:
    """Every check ``case_report`` makes on its input, without writing: also used to hold a
    report for moderation (civicloop.moderation), so a held report is always a valid one."""
    from civicloop.places.index import grid_for_point

    cat = _category(category)
    description = _clean_text(description, field="description", required=True, max_length=MAX_DESCRIPTION, missing=_("Please describe the problem."))
    address = _clean_text(address, field="address", required=False, max_length=200, missing="")
    name, phone, email = _validate_contact(name, phone, email)
    if source not in Source.values:
        raise ValidationFailed(_("Unknown source “%(source)s”.") % {"source": source}, field="source")
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        raise ValidationFailed(_("The location is not a pair of numbers."), field="location") from None
    grid = grid_for_point(lat=lat_f, lon=lon_f, crs=crs)
    if crs.lower().replace("-", "").replace("_", "") == "gcj02":
        from civicloop.places.coords import gcj02_to_wgs84

        lat_f, lon_f = gcj02_to_wgs84(lat_f, lon_f)
    return PreparedReport(cat, grid, lat_f, lon_f, description, address, name, phone, email, source)


def case_report(
    *,
    category: Category | str | int,
    lat: float,
    lon: float,
    description: str,
    crs: str = "wgs84",
    source: str = Source.RESIDENT,
    by: Any = None,
    name: str = "",
    phone: str = "",
    email: str = "",
    address: str = "",
    photos: Sequence[Any] = (),
    join_case: Case | None = None,
    detect_duplicates: bool = True,
    at: dt.datetime | None = None,
    prepared: PreparedReport | None = None,
) -> Report:
    """Collect a problem (信息收集). Returns the reporter's Report with its own ticket number.

    A report of the same category near an open case joins that case (one case,
    many reporters) unless ``detect_duplicates`` is off; ``join_case`` joins a case
    the reporter picked from the nearby list. ``prepared`` is the input already checked by
    ``report_prepare`` (moderation checks before it decides), so it is not checked twice.
    """
    when = _now(at)
    ready = prepared or report_prepare(
        category=category, lat=lat, lon=lon, crs=crs, description=description, source=source,
        name=name, phone=phone, email=email, address=address,
    )
    cat, grid, lat_f, lon_f = ready.category, ready.grid, ready.lat, ready.lon
    description, address, name, phone, email = ready.description, ready.address, ready.name, ready.phone, ready.email
    checked = _check_photos(photos)
    user = by if _is_user(by) else None

    if join_case is None and detect_duplicates:
        candidates = duplicate_candidates(category=cat, lat=lat_f, lon=lon_f, at=when)
        join_case = candidates[0][0] if candidates else None

    with transaction.atomic():
        ticket = ticket_next(at=when)
        if join_case is not None:
            case = lock_case(join_case.pk)
            if case.state not in OPEN_FOR_REPORTERS:
                raise TransitionRefused(
                    _("Case %(ticket)s is already %(state)s; report the problem as a new case.")
                    % {"ticket": case.ticket_no, "state": case.get_state_display()}
                )
            case.reporter_count = F("reporter_count") + 1
            case.version = F("version") + 1
            case.save(update_fields=["reporter_count", "version", "updated_at"])
            case.refresh_from_db()
            kind, joined = EventKind.REPORTER_JOINED, True
        else:
            case = Case.objects.create(
                ticket_no=ticket,
                state=State.REPORTED,
                source=source,
                category=cat,
                grid=grid,
                area_path=grid.path,
                lat=lat_f,
                lon=lon_f,
                address=address,
                description=description,
                reported_at=when,
                reporter_count=1,
            )
            kind, joined = EventKind.REPORTED, False
        report = Report.objects.create(
            case=case,
            ticket_no=ticket,
            source=source,
            reporter=user,
            name=name,
            phone=phone,
            email=email,
            category=cat,
            lat=lat_f,
            lon=lon_f,
            description=description,
            joined_existing=joined,
            created_at=when,
        )
        event = CaseEvent.objects.create(
            case=case,
            kind=kind,
            actor=user,
            from_state=case.state,
            to_state=case.state,
            note="",
            data={"report_id": report.pk, "ticket_no": ticket, "source": source},
            created_at=when,
        )
        if photos:
            _attach(case, event, PhotoKind.BEFORE, photos, checked, user)
        _notify_on_commit(case.pk, event.pk)
    return report


def _create_registered_case(*, origin: Case, by: Any, when: dt.datetime, description: str, source: str) -> Case:
    """A new case that starts registered (a look-back recurrence found by staff)."""
    ticket = ticket_next(at=when)
    case = Case.objects.create(
        ticket_no=ticket,
        state=State.REGISTERED,
        source=source,
        category=origin.category,
        grid=origin.grid,
        area_path=origin.area_path,
        lat=origin.lat,
        lon=origin.lon,
        address=origin.address,
        description=description,
        reported_at=when,
        registered_at=when,
        reporter_count=1,
        recurrence_of=origin,
    )
    Report.objects.create(
        case=case, ticket_no=ticket, source=source, reporter=by if _is_user(by) else None, category=origin.category,
        lat=origin.lat, lon=origin.lon, description=description, created_at=when,
    )
    CaseEvent.objects.create(
        case=case, kind=EventKind.REGISTERED, actor=by if _is_user(by) else None, from_state="", to_state=State.REGISTERED,
        note=description, data={"recurrence_of": origin.ticket_no}, created_at=when,
    )
    return case


# ---- intake (受理、立案) --------------------------------------------------------


def case_register(*, case: Case, by: Any, category: Category | str | int | None = None, note: str = "", at: dt.datetime | None = None) -> Case:
    new_cat = _category(category) if category is not None else None

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        c.registered_at = when
        fields = ["registered_at"]
        if new_cat is not None and new_cat.pk != c.category_id:
            c.category = new_cat
            fields.append("category")
        return fields

    data = {"category": new_cat.code} if new_cat is not None else {}
    return _transition(case=case, action=Action.REGISTER, by=by, at=at, event_kind=EventKind.REGISTERED, note=_note(note), data=data, mutate=mutate).case


def case_reclassify(*, case: Case, by: Any, category: Category | str | int, note: str = "", at: dt.datetime | None = None) -> Case:
    new_cat = _category(category)
    old = case.category.code

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        c.category = new_cat
        return ["category"]

    return _transition(case=case, action=Action.RECLASSIFY, by=by, at=at, event_kind=EventKind.RECLASSIFIED, note=_note(note), data={"from": old, "to": new_cat.code}, mutate=mutate).case


def case_reject(*, case: Case, by: Any, reason: str, at: dt.datetime | None = None) -> Case:
    return _transition(case=case, action=Action.REJECT, by=by, at=at, event_kind=EventKind.REJECTED, note=_reason(reason)).case


def case_void(*, case: Case, by: Any, reason: str, at: dt.datetime | None = None) -> Case:
    return _transition(case=case, action=Action.VOID, by=by, at=at, event_kind=EventKind.VOIDED, note=_reason(reason)).case


# ---- dispatch (派遣) -----------------------------------------------------------


def _active_unit(unit: Unit | int) -> Unit:
    u = unit if isinstance(unit, Unit) else Unit.objects.filter(pk=unit).first()
    if u is None or not u.active:
        raise ValidationFailed(_("Unknown or inactive handling unit."), field="unit")
    return u


def _start_clock(c: Case, when: dt.datetime, *, kind: str | None = None, value: float | None = None) -> list[str]:
    """Start the handling clock: the deadline of ``kind``/``value`` (default: the category's limit)."""
    deadline = workcal.deadline_for(
        start=when,
        kind=kind or c.category.time_limit_kind,
        value=value if value is not None else c.category.time_limit_value,
    )
    c.dispatched_at, c.deadline_at, c.deadline_estimated = when, deadline.at, deadline.estimated
    c.escalation_level, c.escalated_to = 0, None
    return ["dispatched_at", "deadline_at", "deadline_estimated", "escalation_level", "escalated_to"]


def _set_main_unit(c: Case, unit: Unit) -> None:
    CaseUnit.objects.filter(case=c, role=CaseUnit.Role.MAIN, active=True).exclude(unit=unit).update(active=False)
    link, created = CaseUnit.objects.get_or_create(case=c, unit=unit, role=CaseUnit.Role.MAIN, defaults={"active": True})
    if not created and not link.active:
        link.active = True
        link.save(update_fields=["active"])


def case_dispatch(
    *, case: Case, by: Any, unit: Unit | int | None = None, co_units: Sequence[Unit | int] = (), note: str = "", at: dt.datetime | None = None
) -> Case:
    """Send the case to its handling unit (default: the routing rule) and start the clock."""
    if unit is None:
        routed = routing.unit_for(category=case.category, grid=case.grid)
        if routed is None:
            raise ValidationFailed(_("No default unit for this category and area: choose a handling unit."), field="unit")
        target = routed
    else:
        target = _active_unit(unit)
    helpers = [_active_unit(u) for u in co_units]
    if any(h.pk == target.pk for h in helpers):
        raise ValidationFailed(_("The main unit cannot also be a co-handling unit."), field="co_units")

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        c.unit = target
        return ["unit", *_start_clock(c, when)]

    def after(c: Case, event: CaseEvent, when: dt.datetime) -> None:
        _set_main_unit(c, target)
        for h in helpers:
            CaseUnit.objects.update_or_create(case=c, unit=h, role=CaseUnit.Role.ASSIST, defaults={"active": True})

    data = {"unit": target.pk, "unit_name": target.name, "co_units": [h.pk for h in helpers]}
    return _transition(case=case, action=Action.DISPATCH, by=by, at=at, event_kind=EventKind.DISPATCHED, note=_note(note), data=data, mutate=mutate, after=after).case


# Cases that skip intake: found by staff whose finding is itself the registration.
ASSIGNED_SOURCES = frozenset({Source.INSPECTION, Source.LOOKBACK})


def _time_limit(kind: str | None, value: Any) -> tuple[str | None, int | None]:
    """An explicit time limit (both parts) or none (the category's)."""
    if not kind and value is None:
        return None, None
    if not kind or value is None:
        raise ValidationFailed(_("Give both the kind and the length of the time limit, or neither."), field="limit_kind" if not kind else "limit_value")
    if kind not in TimeLimitKind.values:
        raise ValidationFailed(_("Unknown kind of time limit “%(kind)s”.") % {"kind": kind}, field="limit_kind")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationFailed(_("The time limit must be a whole number greater than zero."), field="limit_value")
    return str(kind), value


def case_open_assigned(
    *,
    category: Category | str | int,
    lat: Any,
    lon: Any,
    unit: Unit | int,
    description: str,
    by: Any,
    source: str,
    limit_kind: str | None = None,
    limit_value: int | None = None,
    recurrence_of: Case | None = None,
    photos: Sequence[Any] = (),
    address: str = "",
    at: dt.datetime | None = None,
) -> Case:
    """Open a case that is registered and dispatched at once (立案即派遣).

    For problems found by staff whose finding is itself the registration: a rectification
    case of an inspection round (``Source.INSPECTION``) or a recurrence found at a look-back
    (``Source.LOOKBACK``, ``recurrence_of`` the earlier case). Writes the case, its report
    (``by`` is the reporter when a user), the events REGISTERED then DISPATCHED, the main
    unit link and the deadline: ``limit_kind``/``limit_value`` when given (the standard
    item's rectification limit), otherwise the category's, counted from ``at``.
    ``photos`` are attached as "before" photos of the registration.

    Callers authorise: this action does not ask ``org.policy`` (an inspection round's
    publisher is checked by ``policy.may_manage_round`` before the round publishes).
    Everything is checked before anything is written; one transaction; the unit is told
    on commit.
    """
    when = _now(at)
    if source not in ASSIGNED_SOURCES:
        raise ValidationFailed(
            _("Only cases found by an inspection or a look-back are dispatched without registration."), field="source"
        )
    ready = report_prepare(category=category, lat=lat, lon=lon, description=description, source=source, address=address)
    target = _active_unit(unit)
    kind, value = _time_limit(limit_kind, limit_value)
    if recurrence_of is not None and (not isinstance(recurrence_of, Case) or recurrence_of.pk is None):
        raise ValidationFailed(_("The earlier case this one recurs is unknown."), field="recurrence_of")
    checked = _check_photos(photos)
    user = by if _is_user(by) else None

    with transaction.atomic():
        case = Case(
            state=State.DISPATCHED,
            source=source,
            category=ready.category,
            grid=ready.grid,
            area_path=ready.grid.path,
            lat=ready.lat,
            lon=ready.lon,
            address=ready.address,
            description=ready.description,
            unit=target,
            reported_at=when,
            registered_at=when,
            reporter_count=1,
            recurrence_of=recurrence_of,
        )
        _start_clock(case, when, kind=kind, value=value)  # may refuse an absurd limit: nothing written yet
        case.ticket_no = ticket_next(at=when)
        case.save()
        Report.objects.create(
            case=case, ticket_no=case.ticket_no, source=source, reporter=user, category=ready.category,
            lat=ready.lat, lon=ready.lon, description=ready.description, created_at=when,
        )
        registered = CaseEvent.objects.create(
            case=case, kind=EventKind.REGISTERED, actor=user, from_state="", to_state=State.REGISTERED, note="",
            data={"source": source, "recurrence_of": recurrence_of.ticket_no if recurrence_of is not None else ""},
            created_at=when,
        )
        if photos:
            _attach(case, registered, PhotoKind.BEFORE, photos, checked, user)
        _set_main_unit(case, target)
        dispatched = CaseEvent.objects.create(
            case=case, kind=EventKind.DISPATCHED, actor=user, actor_unit=_actor_unit(user, case),
            from_state=State.REGISTERED, to_state=State.DISPATCHED, note="",
            data={
                "unit": target.pk, "unit_name": target.name, "co_units": [],
                "limit_kind": kind or case.category.time_limit_kind,
                "limit_value": value if value is not None else case.category.time_limit_value,
            },
            created_at=when,
        )
        _notify_on_commit(case.pk, dispatched.pk)
    return case


def case_reassign(*, case: Case, by: Any, unit: Unit | int, reason: str, at: dt.datetime | None = None) -> Case:
    """Move the case to another main unit; the new unit gets the full time limit."""
    target = _active_unit(unit)
    if target.pk == case.unit_id:
        raise ValidationFailed(_("The case is already with this unit."), field="unit")

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        c.unit = target
        return ["unit", *_start_clock(c, when)]

    def after(c: Case, event: CaseEvent, when: dt.datetime) -> None:
        _set_main_unit(c, target)

    data = {"from_unit": case.unit_id, "unit": target.pk, "unit_name": target.name}
    return _transition(case=case, action=Action.REASSIGN, by=by, at=at, event_kind=EventKind.REASSIGNED, note=_reason(reason), data=data, mutate=mutate, after=after).case


def case_add_co_unit(*, case: Case, by: Any, unit: Unit | int, note: str = "", at: dt.datetime | None = None) -> Case:
    helper = _active_unit(unit)
    if helper.pk == case.unit_id:
        raise ValidationFailed(_("The main unit cannot also be a co-handling unit."), field="unit")

    def after(c: Case, event: CaseEvent, when: dt.datetime) -> None:
        CaseUnit.objects.update_or_create(case=c, unit=helper, role=CaseUnit.Role.ASSIST, defaults={"active": True})

    return _transition(case=case, action=Action.ADD_CO_UNIT, by=by, at=at, event_kind=EventKind.CO_UNIT_ADDED, note=_note(note), data={"unit": helper.pk, "unit_name": helper.name}, after=after).case


# ---- handling (处置) -----------------------------------------------------------


def case_accept(*, case: Case, by: Any, note: str = "", at: dt.datetime | None = None) -> Case:
    return _transition(case=case, action=Action.ACCEPT, by=by, at=at, event_kind=EventKind.ACCEPTED, note=_note(note)).case


def case_return(*, case: Case, by: Any, reason: str, at: dt.datetime | None = None) -> Case:
    """The unit sends a mis-dispatched case back to the dispatcher (退回)."""

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        c.return_count += 1
        c.unit = None
        c.deadline_at = None
        c.deadline_estimated = False
        return ["return_count", "unit", "deadline_at", "deadline_estimated"]

    def after(c: Case, event: CaseEvent, when: dt.datetime) -> None:
        CaseUnit.objects.filter(case=c, active=True).update(active=False)

    return _transition(case=case, action=Action.RETURN, by=by, at=at, event_kind=EventKind.RETURNED, note=_reason(reason), data={"unit": case.unit_id}, mutate=mutate, after=after).case


def case_feedback(*, case: Case, by: Any, note: str, photos: Sequence[Any] = (), at: dt.datetime | None = None) -> Case:
    """The unit reports the problem handled, with after-photos (处理反馈)."""
    text = _clean_text(note, field="note", required=True, max_length=MAX_NOTE, missing=_("Please say what was done."))
    if settings.CIVICLOOP.get("FEEDBACK_REQUIRES_PHOTO", True) and not photos:
        raise ValidationFailed(_("Attach at least one photo of the result."), field="photos")

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        c.handled_at = when
        c.handled_on_time = c.deadline_at is None or when <= c.deadline_at
        return ["handled_at", "handled_on_time"]

    return _transition(case=case, action=Action.FEEDBACK, by=by, at=at, event_kind=EventKind.FEEDBACK, note=text, mutate=mutate, photos=photos, photo_kind=PhotoKind.AFTER).case


# ---- verification and closure (核查结案) ----------------------------------------


def case_verify(*, case: Case, by: Any, passed: bool, note: str = "", photos: Sequence[Any] = (), at: dt.datetime | None = None) -> Case:
    """Someone other than the handler checks on the spot: pass closes, fail is rework (返工)."""
    if passed:

        def close(c: Case, when: dt.datetime) -> list[str]:
            c.closed_at = when
            c.closed_on_time = c.deadline_at is None or when <= c.deadline_at
            c.lookback_due_at = when + dt.timedelta(days=int(settings.CIVICLOOP["LOOKBACK_DAYS"]))
            return ["closed_at", "closed_on_time", "lookback_due_at"]

        return _transition(case=case, action=Action.VERIFY_PASS, by=by, at=at, event_kind=EventKind.VERIFIED, note=_note(note), mutate=close, photos=photos, photo_kind=PhotoKind.VERIFY).case

    def rework(c: Case, when: dt.datetime) -> list[str]:
        c.rework_count += 1
        c.handled_at = None
        c.handled_on_time = None
        return ["rework_count", "handled_at", "handled_on_time"]

    return _transition(case=case, action=Action.VERIFY_FAIL, by=by, at=at, event_kind=EventKind.REWORK, note=_reason(note), mutate=rework, photos=photos, photo_kind=PhotoKind.VERIFY).case


# ---- extension, deferral, urging, escalation ---------------------------------------


def case_request_extension(*, case: Case, by: Any, until: dt.datetime, reason: str, at: dt.datetime | None = None) -> ExtensionRequest:
    text = _reason(reason)
    if timezone.is_naive(until):
        raise ValidationFailed(_("The requested deadline needs a time zone."), field="until")
    holder: dict[str, ExtensionRequest] = {}

    def check(c: Case, when: dt.datetime) -> None:
        if c.extension_requests.filter(decision=ExtensionRequest.Decision.PENDING).exists():
            raise TransitionRefused(_("An extension request for this case is already waiting for a decision."))
        if c.deadline_at is not None and until <= c.deadline_at:
            raise ValidationFailed(_("The requested deadline must be later than the current one (%(deadline)s).") % {"deadline": timezone.localtime(c.deadline_at).strftime("%Y-%m-%d %H:%M")}, field="until")
        if until <= when:
            raise ValidationFailed(_("The requested deadline is in the past."), field="until")

    def after(c: Case, event: CaseEvent, when: dt.datetime) -> None:
        holder["req"] = ExtensionRequest.objects.create(
            case=c, unit=c.unit, requested_by=by, requested_deadline_at=until, reason=text, created_at=when
        )

    _transition(case=case, action=Action.REQUEST_EXTENSION, by=by, at=at, event_kind=EventKind.EXTENSION_REQUESTED, note=text, data={"until": until.isoformat()}, check=check, after=after)
    return holder["req"]


def case_decide_extension(*, case: Case, by: Any, approve: bool, note: str = "", at: dt.datetime | None = None) -> Case:
    text = _note(note) if approve else _reason(note)
    holder: dict[str, ExtensionRequest] = {}

    def check(c: Case, when: dt.datetime) -> None:
        req = c.extension_requests.filter(decision=ExtensionRequest.Decision.PENDING).first()
        if req is None:
            raise TransitionRefused(_("There is no extension request waiting for a decision."))
        holder["req"] = req

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        req = holder["req"]
        req.decision = ExtensionRequest.Decision.APPROVED if approve else ExtensionRequest.Decision.DENIED
        req.decided_by, req.decided_at, req.decision_note = by, when, text
        req.save(update_fields=["decision", "decided_by", "decided_at", "decision_note"])
        if not approve:
            return []
        c.deadline_at = req.requested_deadline_at
        c.extension_count += 1
        return ["deadline_at", "extension_count"]

    kind = EventKind.EXTENSION_APPROVED if approve else EventKind.EXTENSION_DENIED
    return _transition(case=case, action=Action.DECIDE_EXTENSION, by=by, at=at, event_kind=kind, note=text, check=check, mutate=mutate).case


def _pause_clock(kind: str) -> str:
    """The clock a deferral keeps the time left on: office hours for the working kinds,
    plain hours otherwise. Day limits start counting the next day, but time left is time
    left: a case deferred at 10:00 on its last day gets the rest of that day back."""
    working = {TimeLimitKind.WORKING_HOURS, TimeLimitKind.WORKING_DAYS}
    return TimeLimitKind.WORKING_HOURS if kind in working else TimeLimitKind.EMERGENCY_HOURS


def case_defer(*, case: Case, by: Any, reason: str, at: dt.datetime | None = None) -> Case:
    """Put the case on hold (缓办/挂账); the clock stops and keeps the time left."""
    data: dict[str, Any] = {}

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        kind = c.category.time_limit_kind
        remaining = remaining_hours = 0.0
        if c.deadline_at is not None and c.deadline_at > when:
            remaining = workcal.working_time_between(start=when, end=c.deadline_at, kind=kind)
            remaining_hours = workcal.working_time_between(start=when, end=c.deadline_at, kind=_pause_clock(kind))
        # The time left is part of the deferral record; resuming reads it back.
        data.update(remaining=remaining, kind=kind, remaining_hours=remaining_hours, clock=_pause_clock(kind))
        c.deferred_at = when
        return ["deferred_at"]

    return _transition(case=case, action=Action.DEFER, by=by, at=at, event_kind=EventKind.DEFERRED, note=_reason(reason), mutate=mutate, data=data).case


def case_resume(*, case: Case, by: Any, note: str = "", at: dt.datetime | None = None) -> Case:
    """End a deferral: the deadline is the time left when it began, counted from now."""

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        last = c.events.filter(kind=EventKind.DEFERRED).order_by("-created_at", "-id").first()
        record = (last.data or {}) if last else {}
        hours = float(record.get("remaining_hours", 0.0))
        if hours > 0:
            deadline = workcal.deadline_for(start=when, kind=record.get("clock", _pause_clock(c.category.time_limit_kind)), value=hours)
            c.deadline_at, c.deadline_estimated = deadline.at, deadline.estimated
        else:
            # Deferred when already overdue: it stays overdue from the moment it resumes.
            c.deadline_at = when
        c.deferred_at = None
        return ["deadline_at", "deadline_estimated", "deferred_at"]

    return _transition(case=case, action=Action.RESUME, by=by, at=at, event_kind=EventKind.RESUMED, note=_note(note), mutate=mutate).case


def case_urge(*, case: Case, by: Any, note: str = "", at: dt.datetime | None = None) -> Case:
    """Urge the handling unit (催办). ``by=policy.SYSTEM`` is the worker."""

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        c.urge_count += 1
        return ["urge_count"]

    return _transition(case=case, action=Action.URGE, by=by, at=at, event_kind=EventKind.URGED, note=_note(note), mutate=mutate).case


ESCALATION_KINDS = ("community", "street", "district", "city")


def escalation_target(case: Case, level: int) -> Area | None:
    """Level 1 → the case's community, 2 → street office, 3 → district, 4 → city."""
    ids = [int(x) for x in case.area_path.strip("/").split("/") if x]
    # ids run city, district, street, community, grid.
    index = len(ids) - 1 - level
    if level < 1 or index < 0:
        return None
    return Area.objects.filter(pk=ids[index]).first()


def case_escalate(*, case: Case, by: Any, note: str = "", at: dt.datetime | None = None) -> Case:
    """Formal supervision (督办) one level up the area hierarchy."""
    data: dict[str, Any] = {}

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        target = escalation_target(c, c.escalation_level + 1)
        if target is None:
            raise TransitionRefused(_("This case is already escalated to the top of the city."))
        c.escalation_level += 1
        c.escalated_to = target
        data.update(level=c.escalation_level, area=target.pk, area_name=target.name)
        return ["escalation_level", "escalated_to"]

    return _transition(case=case, action=Action.ESCALATE, by=by, at=at, event_kind=EventKind.ESCALATED, note=_note(note), mutate=mutate, data=data).case


# ---- evaluation and look-back (综合评价、回头看) -----------------------------------------


def case_rate(
    *, case: Case, rating: str, by: Any = None, ticket_no: str | None = None, unfixed: bool = False, note: str = "", at: dt.datetime | None = None
) -> Case:
    """A reporter rates the result; "not fixed" flags the case for the look-back."""
    if rating not in Rating.values:
        raise ValidationFailed(_("Choose satisfied, basically satisfied or dissatisfied."), field="rating")
    holder = False
    if ticket_no:
        if not Report.objects.filter(case_id=case.pk, ticket_no=ticket_no).exists():
            raise NotFoundOrForbidden(_("No such case, or it is not in your area."))
        holder = True

    def mutate(c: Case, when: dt.datetime) -> list[str]:
        c.rating = rating
        fields = ["rating"]
        if unfixed:
            c.resident_says_unfixed = True
            fields.append("resident_says_unfixed")
        return fields

    data = {"rating": rating, "unfixed": bool(unfixed), "ticket_no": ticket_no or ""}
    return _transition(case=case, action=Action.RATE, by=by, at=at, event_kind=EventKind.RATED, note=_note(note), data=data, mutate=mutate, ticket_holder=holder).case


def case_lookback(*, case: Case, by: Any, passed: bool, note: str = "", photos: Sequence[Any] = (), at: dt.datetime | None = None) -> Case:
    """The look-back (回头看): still fixed, or recurred — which opens a linked case."""

    def due(c: Case, when: dt.datetime) -> None:
        if c.lookback_due_at is not None and when < c.lookback_due_at:
            raise TransitionRefused(
                _("The look-back is due from %(date)s.") % {"date": timezone.localtime(c.lookback_due_at).strftime("%Y-%m-%d")}
            )

    if passed:
        return _transition(case=case, action=Action.LOOKBACK_PASS, by=by, at=at, event_kind=EventKind.LOOKBACK_PASSED, note=_note(note), check=due, photos=photos, photo_kind=PhotoKind.LOOKBACK).case

    text = _reason(note)
    data: dict[str, Any] = {}

    def recur(c: Case, when: dt.datetime) -> list[str]:
        new = _create_registered_case(origin=c, by=by, when=when, description=text, source=Source.LOOKBACK)
        data.update(recurrence=new.ticket_no, recurrence_id=new.pk)
        return []

    return _transition(case=case, action=Action.LOOKBACK_FAIL, by=by, at=at, event_kind=EventKind.LOOKBACK_FAILED, note=text, check=due, mutate=recur, data=data, photos=photos, photo_kind=PhotoKind.LOOKBACK).case


# ---- evidence outside a transition ---------------------------------------------------------

MAX_PHOTOS_PER_ADD = 6


def case_photo_add(*, case: Case, by: Any, photos: Sequence[Any], note: str = "", at: dt.datetime | None = None) -> list[Any]:
    """Add photos to an open case without changing it (``EventKind.PHOTO_ADDED``).

    The handling unit adds progress photos ("after"); the area's dispatchers, grid workers
    and inspectors add photos of the problem ("before"). The kind follows from who adds
    them, never from the caller. The case's version is not bumped: nothing a stale copy
    could overwrite has changed.
    """
    from .models import Photo
    from .workflow import OPEN_STATES, Actor

    when = _now(at)
    text = _note(note)
    if not photos:
        raise ValidationFailed(_("Attach at least one photo."), field="photos")
    if len(photos) > MAX_PHOTOS_PER_ADD:
        raise ValidationFailed(
            _("At most %(max)d photos, please; you picked %(count)d.") % {"max": MAX_PHOTOS_PER_ADD, "count": len(photos)},
            field="photos",
        )
    checked = _check_photos(photos)
    with transaction.atomic():
        current = lock_case(case.pk)
        if policy.actor_matches(by, Actor.HANDLER, current):
            kind = PhotoKind.AFTER
        elif policy.actor_matches(by, Actor.DISPATCHER, current) or policy.actor_matches(by, Actor.VERIFIER, current):
            kind = PhotoKind.BEFORE
        elif not policy.visible_cases(by).filter(pk=current.pk).exists():
            raise NotFoundOrForbidden(_("No such case, or it is not in your area."))
        else:
            raise PermissionRefused(_("Only the handling unit and the area's staff may add photos to this case."))
        if current.state not in OPEN_STATES:
            raise TransitionRefused(
                _("Photos can be added only while the case is open; it is “%(state)s”.") % {"state": current.get_state_display()}
            )
        event = CaseEvent.objects.create(
            case=current,
            kind=EventKind.PHOTO_ADDED,
            actor=by if _is_user(by) else None,
            actor_unit=_actor_unit(by if _is_user(by) else None, current),
            from_state=current.state,
            to_state=current.state,
            note=text,
            data={"kind": str(kind), "count": len(photos)},
            created_at=when,
        )
        _attach(current, event, kind, photos, checked, by)
        _notify_on_commit(current.pk, event.pk)
        added: list[Photo] = list(Photo.objects.filter(event=event).order_by("id"))
    return added
