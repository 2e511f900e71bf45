"""The reads behind the REST endpoints: ``cases.selectors`` and ``org.policy`` narrowed by the
API's filters, plus the reference data (categories, areas, units).

Who may read cases is decided as on the web: staff (a role other than resident, or an
administrator) read the cases ``policy.visible_cases`` gives them; residents follow their
own reports by ticket number (Open311 ``requests/{id}``) and have no case pages.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from civicloop.cases import selectors
from civicloop.cases.models import Case, Category, Report
from civicloop.cases.workflow import CLOSED_STATES, DISCARDED_STATES, OPEN_STATES
from civicloop.core.errors import (
    CivicError,
    ErrorCode,
    NotFoundOrForbidden,
    PermissionRefused,
    ValidationFailed,
)
from civicloop.org import policy
from civicloop.org.models import Unit
from civicloop.places.models import Area
from civicloop.web.casepage import is_staff  # the web's rule for who has case pages

STATES_OF_KIND = {"open": OPEN_STATES, "closed": CLOSED_STATES, "discarded": DISCARDED_STATES}


def require_staff(user: Any) -> None:
    if not is_staff(user):
        raise PermissionRefused(
            _(
                "Case data is for staff. Follow your own reports by their ticket numbers (Open311 requests)."
            )
        )


def staff_case(user: Any, case_id: int) -> Case:
    """A case for a staff caller in scope; the same 404 for missing, forbidden and non-staff."""
    case = selectors.case_get(user=user, case_id=case_id)
    if not is_staff(user):
        raise NotFoundOrForbidden(_("No such case, or it is not in your area."))
    return case


def area_by_code(code: str, *, field: str = "area") -> Area:
    area = Area.objects.filter(code=code).first()
    if area is None:
        raise ValidationFailed(_("Unknown area code “%(code)s”.") % {"code": code}, field=field)
    return area


def unit_by_code(code: str, *, field: str = "unit") -> Unit:
    unit = Unit.objects.filter(code=code).first()
    if unit is None:
        raise ValidationFailed(_("Unknown unit code “%(code)s”.") % {"code": code}, field=field)
    return unit


def _known_category(code: str) -> str:
    if not Category.objects.filter(code=code).exists():
        raise CivicError(
            _("Unknown problem category “%(category)s”. Pick one from the list.")
            % {"category": code},
            code=ErrorCode.UNKNOWN_CATEGORY,
            field="category",
        )
    return code


def case_search(
    *, user: Any, filters: dict[str, Any], now: dt.datetime | None = None
) -> QuerySet[Case]:
    """The caller's cases (``policy.visible_cases`` through ``selectors.case_list``), filtered."""
    require_staff(user)
    area = filters.get("area")
    category = filters.get("category")
    qs = selectors.case_list(
        user=user,
        state=filters.get("state") or None,
        overdue=filters.get("overdue"),
        area_path=area_by_code(area).path if area else None,
        category_code=_known_category(category) if category else None,
        source=filters.get("source") or None,
        since=filters.get("reported_after"),
        until=filters.get("reported_before"),
        now=now,
    )
    if filters.get("state_kind"):
        qs = qs.filter(state__in=list(STATES_OF_KIND[filters["state_kind"]]))
    if filters.get("unit"):
        qs = qs.filter(unit=unit_by_code(filters["unit"]))
    ticket = (filters.get("ticket") or "").strip()
    if ticket:
        qs = qs.filter(
            Q(ticket_no=ticket)
            | Q(pk__in=Report.objects.filter(ticket_no=ticket).values("case_id"))
        )
    text = (filters.get("q") or "").strip()
    if text:
        qs = qs.filter(selectors.case_text_q(text))
    return qs


def categories(*, filters: dict[str, Any]) -> QuerySet[Category]:
    qs = Category.objects.filter(active=True).order_by("family", "big_code", "small_code")
    if filters.get("family"):
        qs = qs.filter(family=filters["family"])
    if filters.get("big_code"):
        qs = qs.filter(big_code=filters["big_code"])
    text = (filters.get("q") or "").strip()
    if text:
        qs = qs.filter(
            Q(code__icontains=text)
            | Q(name__icontains=text)
            | Q(big_name__icontains=text)
            | Q(name_en__icontains=text)
        )
    return qs


def areas(*, filters: dict[str, Any]) -> QuerySet[Area]:
    """Area boundaries are public, as on the web's maps (``web.geo``)."""
    qs = Area.objects.select_related("parent").order_by("code")
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("parent"):
        qs = qs.filter(parent=area_by_code(filters["parent"], field="parent"))
    if filters.get("code"):
        qs = qs.filter(code__startswith=filters["code"])
    return qs


AREA_CODE = re.compile(r"[0-9A-Za-z._-]{1,20}")


def area_get(code: str) -> Area:
    area = None
    if AREA_CODE.fullmatch(code):
        area = Area.objects.select_related("parent").filter(code=code).first()
    if area is None:
        raise NotFoundOrForbidden(_("No area has the code “%(code)s”.") % {"code": code})
    return area


def units(*, user: Any, mine: bool) -> QuerySet[Unit]:
    """Every active unit, as the dispatch form offers them (any active unit may be given a
    case), or with ``mine`` the caller's own (``policy.visible_units``)."""
    require_staff(user)
    qs = policy.visible_units(user) if mine else Unit.objects.all()
    return qs.filter(active=True).select_related("parent", "area").order_by("code")
