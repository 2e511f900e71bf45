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
    from civicloop.inspections.models import Round, RoundLocation, Site
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
    unit_ids = _unit_ids(user)
    if unit_ids is not None:
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


def _unit_ids(user: Any) -> QuerySet[Unit] | None:
    """The ids of the units (and their sub-units) a unit staff member works for, as a subquery;
    None when he works for none."""
    if not unit_paths(user):
        return None
    return visible_units(user).values("pk")


def public_cases() -> QuerySet[Case]:
    """Cases anyone may list without an account (Open311 GeoReport v2): every case but the
    rectification cases of inspection findings, because only public fields (category, place,
    state, dates, the unit, public notes) leave through that door, and a finding's case carries
    the inspection's results (round, site, finding, the inspector's photos), which stay with
    the staff who may see the round (``round_results_visible``). Contacts and identities never
    leave either."""
    from civicloop.cases.models import Case

    return Case.objects.filter(finding__isnull=True)


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


# ---- inspection rounds (civicloop.inspections) --------------------------------------------

ROUND_OWNERS = {Role.CAMPAIGN_OFFICE}
# Staff of an area who read its rounds once they may (open: from the start; undercover: once published).
ROUND_READERS = {Role.GRID_WORKER, Role.DISPATCHER, Role.INSPECTOR, Role.CAMPAIGN_OFFICE, Role.LEADER}


def _path_prefixes(path: str) -> list[str]:
    """"/1/4/17/" → ["/1/", "/1/4/", "/1/4/17/"]: the areas that contain it."""
    parts = [x for x in path.strip("/").split("/") if x]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _overlapping_q(paths: list[str], field: str = "area_path") -> Q:
    """Rows whose area lies inside one of ``paths`` or contains one of them."""
    q = Q(pk__in=[])
    for p in paths:
        q |= Q(**{f"{field}__startswith": p}) | Q(**{f"{field}__in": _path_prefixes(p)})
    return q


def may_create_round(user: Any, area_path: str) -> bool:
    """Rounds are planned by the campaign office of an area containing the round's area, and admins."""
    return is_admin(user) or any(area_path.startswith(p) for p in area_paths(user, ROUND_OWNERS))


def round_owner_path(user: Any, area_path: str) -> str:
    """The area a new round of ``area_path`` planned by ``user`` belongs to: the widest area of
    the user's campaign-office roles that contains it. An admin plans on behalf of the round's
    own area (its campaign office and those above own the round)."""
    paths = sorted((p for p in area_paths(user, ROUND_OWNERS) if area_path.startswith(p)), key=len)
    if paths:
        return paths[0]
    return area_path


def may_manage_round(user: Any, rnd: Round) -> bool:
    """Plan, sample, assign, start, close, publish, look back, write bulletins: the campaign
    office of the area that planned the round (or above), and admins. A district office whose
    district a city round inspects does not own it."""
    return is_admin(user) or any(rnd.owner_path.startswith(p) for p in area_paths(user, ROUND_OWNERS))


def visible_rounds(user: Any) -> QuerySet[Round]:
    """The rounds a user may know of.

    * admins and the owning campaign office (of the area that planned the round, or above):
      their rounds, in every state;
    * the round's own inspectors: their rounds, in every state;
    * other staff of an overlapping area, and staff of a unit answerable for a sampled site:
      an **open** round once it has started, an **undercover** (暗访) round only once it is
      published. Before that an inspected unit sees neither the plan, the sample nor the
      inspectors: the round does not exist for it.
    * residents and users without a role: none.
    """
    from civicloop.inspections.models import Round, RoundKind, RoundStatus

    qs = Round.objects.all()
    if is_admin(user):
        return qs
    if user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    q = _area_q(area_paths(user, ROUND_OWNERS), field="owner_path")
    q |= Q(pk__in=Round.inspectors.through.objects.filter(user_id=user.pk).values("round_id"))
    readers = Q(pk__in=[])
    paths = area_paths(user, ROUND_READERS)
    if paths:
        readers |= _overlapping_q(paths)
    unit_ids = _unit_ids(user)
    if unit_ids is not None:
        readers |= Q(locations__site__unit__in=unit_ids) | Q(locations__visit__findings__unit__in=unit_ids)
    revealed = Q(kind=RoundKind.OPEN, status__in=[RoundStatus.ACTIVE, RoundStatus.CLOSED, RoundStatus.PUBLISHED]) | Q(
        status=RoundStatus.PUBLISHED
    )
    q |= readers & revealed
    # The reverse joins above can repeat a round: keep the ids in a subquery instead of DISTINCT.
    return Round.objects.filter(pk__in=qs.filter(q).values("pk"))


def access_round(user: Any, round_id: int) -> Round:
    """The round if the user may know of it; the same error for missing and hidden."""
    rnd = visible_rounds(user).filter(pk=round_id).first()
    if rnd is None:
        raise NotFoundOrForbidden(_("No such inspection round, or it is not yours to see."))
    return rnd


def round_results_visible(user: Any, rnd: Round) -> bool:
    """Scores, findings and photos: the owners and the round's inspectors at any time, other
    readers of the round once it is published."""
    from civicloop.inspections.models import RoundStatus

    if may_manage_round(user, rnd) or rnd.inspectors.filter(pk=getattr(user, "pk", None)).exists():
        return True
    return rnd.status == RoundStatus.PUBLISHED and visible_rounds(user).filter(pk=rnd.pk).exists()


def may_inspect(user: Any, location: RoundLocation) -> bool:
    """Record a visit: the inspector the location is assigned to (any of the round's inspectors
    while it is unassigned), while the round is being inspected."""
    from civicloop.inspections.models import RoundStatus

    if user is None or not getattr(user, "is_authenticated", False):
        return False
    rnd = location.round
    if rnd.status != RoundStatus.ACTIVE:
        return False
    if location.inspector_id is not None:
        return location.inspector_id == user.pk
    return rnd.inspectors.filter(pk=user.pk).exists()


def visible_sites(user: Any) -> QuerySet[Site]:
    """The site registry (not secret: sites are public places) for staff of the area, and admins."""
    from civicloop.inspections.models import Site

    if is_admin(user):
        return Site.objects.all()
    return Site.objects.filter(_overlapping_q(area_paths(user, ROUND_READERS)))


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


# ---- the 15-minute life circle (civicloop.lifecircle) ----------------------------------------
# Coverage is planning data: the campaign office and leaders read it for their areas.
# Walking crosses boundaries, so the computation is city-wide; what a reader sees of it
# (compounds, buildings, communities, streets, gaps, what-if effects) is scoped to his areas.
# Facilities are public places: every reader sees all of them on the map.

LIFECIRCLE_READERS = {Role.CAMPAIGN_OFFICE, Role.LEADER}
LIFECIRCLE_EDITORS = {Role.CAMPAIGN_OFFICE}


def lifecircle_paths(user: Any) -> list[str] | None:
    """Area paths whose life-circle results the user may read; ``None`` means all (admins)."""
    if is_admin(user):
        return None
    return area_paths(user, LIFECIRCLE_READERS)


def may_read_lifecircle(user: Any) -> bool:
    return is_admin(user) or bool(area_paths(user, LIFECIRCLE_READERS))


def lifecircle_q(user: Any, field: str = "area_path") -> Q:
    """The filter of rows (with an area path in ``field``) a reader may see."""
    paths = lifecircle_paths(user)
    if paths is None:
        return Q()
    return _area_q(paths, field=field)


def may_manage_lifecircle(user: Any) -> bool:
    """Import a network, edit the tag mapping, recompute: admins and the campaign office of a
    top-level area (the network is the whole city's)."""
    from civicloop.places.models import Area

    if is_admin(user):
        return True
    roots = set(Area.objects.filter(parent__isnull=True).values_list("path", flat=True))
    return any(p in roots for p in area_paths(user, LIFECIRCLE_EDITORS))


def may_register_facilities(user: Any) -> bool:
    """Registers and retires facilities somewhere: admins and every campaign office (each
    inside its own area, ``may_edit_facility``)."""
    return is_admin(user) or bool(area_paths(user, LIFECIRCLE_EDITORS))


def may_edit_facility(user: Any, area_path: str) -> bool:
    """Register, move or retire a facility: the campaign office of an area containing it, and
    admins. A facility outside every area (``""``) is the city office's to edit."""
    if is_admin(user):
        return True
    paths = area_paths(user, LIFECIRCLE_EDITORS)
    if not area_path:
        return may_manage_lifecircle(user)
    return any(area_path.startswith(p) for p in paths)
