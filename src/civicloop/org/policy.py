"""Who may see and do what. The one place that scopes every query.

Every list, export, map layer and search starts from ``visible_cases(user)`` (or
``visible_areas`` / ``visible_units``); every action asks ``require(user, action, case)``.
Staff see and act only inside the areas and units their roles bind them to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from civicloop.core.errors import NotFoundOrForbidden, PermissionRefused

from .models import Role, RoleAssignment, Unit

if TYPE_CHECKING:
    from civicloop.cases.models import Case
    from civicloop.moderation.models import HeldReport
    from civicloop.places.models import Area


@dataclass(frozen=True)
class Grant:
    role: str
    area_path: str | None
    unit_path: str | None
    unit_id: int | None


class SystemActor:
    """The worker acting on its own (automatic urging and escalation). Never a web user."""

    is_authenticated = False
    is_superuser = False
    pk = None

    def __str__(self) -> str:
        return "system"


SYSTEM = SystemActor()

AREA_READERS = {Role.GRID_WORKER, Role.DISPATCHER, Role.INSPECTOR, Role.CAMPAIGN_OFFICE, Role.LEADER}


def grants(user: Any) -> list[Grant]:
    """The user's role bindings, loaded once per request/user object."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_civicloop_grants", None)
    if cached is not None:
        return cached
    rows = RoleAssignment.objects.filter(user=user).select_related("area", "unit")
    result = [
        Grant(
            role=r.role,
            area_path=r.area.path if r.area_id else None,
            unit_path=r.unit.path if r.unit_id else None,
            unit_id=r.unit_id,
        )
        for r in rows
    ]
    user._civicloop_grants = result
    return result


def forget(user: Any) -> None:
    """Drop cached grants after roles change."""
    if hasattr(user, "_civicloop_grants"):
        del user._civicloop_grants


def is_admin(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_superuser)


def has_role(user: Any, *roles: str) -> bool:
    return any(g.role in roles for g in grants(user))


def _area_q(paths: list[str], field: str = "area_path") -> Q:
    q = Q(pk__in=[])
    for p in paths:
        q |= Q(**{f"{field}__startswith": p})
    return q


def area_paths(user: Any, roles: set[str] | None = None) -> list[str]:
    return [g.area_path for g in grants(user) if g.area_path and (roles is None or g.role in roles)]


def unit_paths(user: Any) -> list[str]:
    return [g.unit_path for g in grants(user) if g.unit_path and g.role == Role.UNIT_STAFF]


def visible_cases(user: Any) -> QuerySet[Case]:
    from civicloop.cases.models import Case, CaseUnit, Report

    qs = Case.objects.all()
    if is_admin(user):
        return qs
    q = Q(pk__in=[])
    paths = area_paths(user, AREA_READERS)
    if paths:
        q |= _area_q(paths)
    upaths = unit_paths(user)
    if upaths:
        units = Q(pk__in=[])
        for p in upaths:
            units |= Q(path__startswith=p)
        unit_ids = Unit.objects.filter(units).values("pk")
        q |= Q(unit__in=unit_ids)
        q |= Q(pk__in=CaseUnit.objects.filter(unit__in=unit_ids, active=True).values("case_id"))
    if user is not None and getattr(user, "is_authenticated", False):
        q |= Q(pk__in=Report.objects.filter(reporter=user).values("case_id"))
    # Subqueries rather than joins: no duplicates, no DISTINCT, row locks stay possible.
    return qs.filter(q)


def visible_areas(user: Any) -> QuerySet[Area]:
    from civicloop.places.models import Area

    if is_admin(user):
        return Area.objects.all()
    return Area.objects.filter(_area_q(area_paths(user), field="path"))


def visible_units(user: Any) -> QuerySet[Unit]:
    if is_admin(user):
        return Unit.objects.all()
    q = Q(pk__in=[])
    for p in unit_paths(user):
        q |= Q(path__startswith=p)
    return Unit.objects.filter(q)


def public_cases() -> QuerySet[Case]:
    """Cases anyone may list without an account (Open311 GeoReport v2): all of them, because
    only public fields (category, place, state, dates, the unit, public notes) leave through
    that door. Contacts and identities never do."""
    from civicloop.cases.models import Case

    return Case.objects.all()


MODERATORS = {Role.DISPATCHER}


def may_moderate(user: Any, area_path: str) -> bool:
    """Held reports (civicloop.moderation) are decided by the dispatchers of their area and admins."""
    return is_admin(user) or any(area_path.startswith(p) for p in area_paths(user, MODERATORS))


def visible_held_reports(user: Any) -> QuerySet[HeldReport]:
    from civicloop.moderation.models import HeldReport

    if is_admin(user):
        return HeldReport.objects.all()
    return HeldReport.objects.filter(_area_q(area_paths(user, MODERATORS)))


LEDGER_IMPORTERS = {Role.DISPATCHER}


def may_import_cases(user: Any, area_path: str) -> bool:
    """Ledger import (civicloop.ledger) writes history into an area: its dispatchers and admins."""
    return is_admin(user) or any(area_path.startswith(p) for p in area_paths(user, LEDGER_IMPORTERS))


def access_case(user: Any, case_id: int) -> Case:
    """The case if the user may see it; the same error for missing and forbidden."""
    case = visible_cases(user).filter(pk=case_id).first()
    if case is None:
        raise NotFoundOrForbidden(_("No such case, or it is not in your area."))
    return case


# ---- actions ---------------------------------------------------------------


def _in_area(user: Any, case: Case, roles: set[str]) -> bool:
    return any(case.area_path.startswith(p) for p in area_paths(user, roles))


def _in_unit(user: Any, unit: Unit | None) -> bool:
    if unit is None:
        return False
    return any(unit.path.startswith(p) for p in unit_paths(user))


def is_handler(user: Any, case: Case) -> bool:
    return _in_unit(user, case.unit)


def acting_unit(user: Any, case: Case) -> Unit | None:
    """The unit on whose behalf a handler acts on this case."""
    return case.unit if is_handler(user, case) else None


def actor_matches(user: Any, actor: str, case: Case, *, ticket_holder: bool = False, handler_ids: set[int] | None = None) -> bool:
    from civicloop.cases.workflow import Actor

    if actor == Actor.ANYONE:
        return True
    if actor == Actor.SYSTEM:
        return user is SYSTEM
    if actor == Actor.REPORTER:
        if ticket_holder:
            return True
        return bool(user is not None and getattr(user, "is_authenticated", False) and case.reports.filter(reporter=user).exists())
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if is_admin(user) and actor in {Actor.DISPATCHER, Actor.SUPERVISOR}:
        return True
    if actor == Actor.DISPATCHER:
        return _in_area(user, case, {Role.DISPATCHER})
    if actor == Actor.HANDLER:
        return is_handler(user, case)
    if actor == Actor.SUPERVISOR:
        return _in_area(user, case, {Role.DISPATCHER, Role.LEADER, Role.CAMPAIGN_OFFICE})
    if actor == Actor.VERIFIER:
        # Never the handler: nobody verifies his own unit's work.
        if is_handler(user, case) or (handler_ids and user.pk in handler_ids):
            return False
        return _in_area(user, case, {Role.GRID_WORKER, Role.DISPATCHER, Role.INSPECTOR}) or is_admin(user)
    return False


def may(user: Any, action: str, case: Case, *, ticket_holder: bool = False, handler_ids: set[int] | None = None) -> bool:
    from civicloop.cases.workflow import Action, transition_for

    t = transition_for(Action(action))
    return any(actor_matches(user, a, case, ticket_holder=ticket_holder, handler_ids=handler_ids) for a in t.actors)


def require(user: Any, action: str, case: Case, *, ticket_holder: bool = False, handler_ids: set[int] | None = None) -> None:
    from civicloop.cases.workflow import ACTION_LABELS, Action

    if may(user, action, case, ticket_holder=ticket_holder, handler_ids=handler_ids):
        return
    if not ticket_holder and not visible_cases(user).filter(pk=case.pk).exists():
        raise NotFoundOrForbidden(_("No such case, or it is not in your area."))
    raise PermissionRefused(
        _("You may not “%(action)s” this case: it is outside your area or unit, or your role does not allow it.")
        % {"action": ACTION_LABELS[Action(action)]}
    )
