"""Rectification (限期整改): every finding of a published round becomes a case in the case loop.

When a round is published (``rounds.round_publish``) each of its findings becomes a case that
is registered and dispatched at once (``cases.actions.case_open_assigned``):

* **unit**: the finding's unit (the standard item's, else the site's); without one the routing
  rule of the case loop for the category and the point's grid. When neither names a unit the
  publication is refused, naming the findings concerned: nothing is published half-way.
* **category**: the item's case category, else ``CIVICLOOP["INSPECTIONS"]["DEFAULT_CATEGORY"]``;
* **deadline**: the item's rectification time limit (``rectify_limit_kind``/``_value``), else the
  category's, counted on the working-day calendar from the publication;
* **point**: where the inspector stood (the site when the visit had no GPS); the finding's
  photos become the case's "before" photos;
* a finding that **recurred** at a look-back (``recurrence_of``) opens a look-back case
  (``Source.LOOKBACK``) linked to the earlier finding's case.

Each finding is linked to its case (``Finding.case``). A finding's state follows its case:
rectified in time when the case closed by its deadline (an approved extension moves the
deadline), rectified late when it closed after it, overdue while open past the deadline (the
case loop's own rule, ``cases.selectors.overdue_q``: the clock runs while the case is with the
unit), open otherwise, and pending until the round is published.

A discarded case (not registered or voided: possible only after the unit returned it and a
dispatcher voided it) never rectifies its finding: the finding stays **open**, so it still counts
as unrectified against the unit and stands out in the lists until the office deals with it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicloop.cases import routing
from civicloop.cases.actions import case_open_assigned
from civicloop.cases.models import Case, Category, Source
from civicloop.cases.selectors import overdue_q
from civicloop.cases.workflow import CLOSED_STATES
from civicloop.core.errors import CivicError, TransitionRefused, ValidationFailed
from civicloop.org import policy
from civicloop.org.models import Unit

from .models import Finding, Round, RoundStatus

logger = logging.getLogger(__name__)

MAX_NAMED = 10  # findings named in an error message; the rest are counted


class FindingState(models.TextChoices):
    PENDING = "pending", gettext_lazy("Not published yet")
    OPEN = "open", gettext_lazy("Being rectified")
    OVERDUE = "overdue", gettext_lazy("Rectification overdue")
    RECTIFIED_IN_TIME = "rectified_in_time", gettext_lazy("Rectified in time")
    RECTIFIED_LATE = "rectified_late", gettext_lazy("Rectified late")


# ---- opening the cases --------------------------------------------------------------------------


def _finding_label(finding: Finding) -> str:
    site = finding.visit.location.site.name
    item = " ".join(finding.item.content.split())
    return f"{site} · {item[:40]}"


def _named(findings: Sequence[Finding]) -> str:
    names = "; ".join(_finding_label(f) for f in findings[:MAX_NAMED])
    if len(findings) > MAX_NAMED:
        names += " " + _("(and %(count)d more)") % {"count": len(findings) - MAX_NAMED}
    return names


def _default_category() -> Category:
    config: dict[str, Any] = settings.CIVICLOOP
    code = str(config["INSPECTIONS"]["DEFAULT_CATEGORY"])
    category = Category.objects.filter(code=code, active=True).first()
    if category is None:
        raise ValidationFailed(
            _(
                "The default category of rectification cases (%(code)s) is unknown or inactive: ask an administrator."
            )
            % {"code": code},
            field="category",
        )
    return category


def _point(finding: Finding) -> tuple[float, float]:
    if finding.lat is not None and finding.lon is not None:
        return finding.lat, finding.lon
    point = finding.visit.location.site.shape.representative_point()
    return point.y, point.x


def _description(finding: Finding, rnd: Round) -> str:
    """The case's text, in the site's language (``LANGUAGE_CODE``), not the publisher's."""
    item = " ".join(finding.item.content.split())
    found = " ".join(finding.description.split())
    values = {
        "round": rnd.name,
        "site": finding.visit.location.site.name,
        "item": item,
        "finding": found,
    }
    with translation.override(settings.LANGUAGE_CODE):
        if not found or found == item:
            return _("[Rectification] %(round)s · %(site)s · %(item)s") % values
        return _("[Rectification] %(round)s · %(site)s · %(item)s: %(finding)s") % values


def _photos(finding: Finding) -> list[ContentFile]:
    """The finding's photos (private, already stripped) as uploads for the case.

    A photo whose file is gone (restored from an old backup, deleted by hand) is left out
    and logged: the finding and its deadline matter more than one lost picture.
    """
    uploads = []
    for photo in finding.photos.order_by("pk"):
        try:
            with photo.image.open("rb") as f:
                data = f.read()
        except OSError:
            logger.warning(
                "Visit photo %s of finding %s has no file; the case opens without it.",
                photo.pk,
                finding.pk,
            )
            continue
        uploads.append(ContentFile(data, name=f"finding-{finding.pk}-{photo.pk}.jpg"))
    return uploads


def _unit_for(finding: Finding, category: Category, lat: float, lon: float) -> Unit | None:
    if finding.unit_id is not None:
        return finding.unit
    from civicloop.places.index import grid_for_point

    try:
        grid = grid_for_point(lat=lat, lon=lon)
    except CivicError:
        return None  # refused below with the other findings that have no unit
    return routing.unit_for(category=category, grid=grid)


def findings_open_cases(*, round: Round, by: Any, at: dt.datetime | None = None) -> list[Case]:  # noqa: A002
    """Open a rectification case for every finding of a published round that has none.

    Called by ``rounds.round_publish`` inside its transaction, which authorises the publisher
    (``policy.may_manage_round``); the cases are opened by ``by`` at ``at``. Every finding's
    unit is settled before any case is written; any refusal names the finding and undoes all.
    Idempotent: findings already linked to a case are left as they are.
    """
    when = at or timezone.now()
    if round.status != RoundStatus.PUBLISHED:
        raise TransitionRefused(_("Rectification cases are opened when the round is published."))
    findings = list(
        Finding.objects.filter(visit__location__round=round, case__isnull=True)
        .select_related("item", "unit", "visit__location__site", "recurrence_of__case")
        .order_by("visit__location__draw_order", "visit_id", "id")
    )
    if not findings:
        return []
    default: Category | None = None
    plans: list[tuple[Finding, Category, Unit | None, tuple[float, float]]] = []
    for finding in findings:
        category = finding.item.category
        if category is None:
            default = default or _default_category()
            category = default
        lat, lon = _point(finding)
        plans.append((finding, category, _unit_for(finding, category, lat, lon), (lat, lon)))
    orphans = [f for f, _c, unit, _p in plans if unit is None]
    if orphans:
        raise ValidationFailed(
            _(
                "No responsible unit for %(count)d finding(s), and no routing rule names one: %(findings)s. "
                "Set the unit on the standard's item or on the site, then publish again."
            )
            % {"count": len(orphans), "findings": _named(orphans)},
            field="unit",
        )
    cases: list[Case] = []
    with transaction.atomic():
        for finding, category, unit, (lat, lon) in plans:
            assert unit is not None
            original = finding.recurrence_of
            try:
                case = case_open_assigned(
                    category=category,
                    lat=lat,
                    lon=lon,
                    unit=unit,
                    description=_description(finding, round),
                    by=by,
                    source=Source.LOOKBACK if original is not None else Source.INSPECTION,
                    limit_kind=finding.item.rectify_limit_kind or None,
                    limit_value=finding.item.rectify_limit_value,
                    recurrence_of=original.case if original is not None else None,
                    photos=_photos(finding),
                    address=finding.visit.location.site.address,
                    at=when,
                )
            except CivicError as exc:
                exc.message = _(
                    "The finding “%(finding)s” cannot become a rectification case: %(reason)s"
                ) % {
                    "finding": _finding_label(finding),
                    "reason": exc.message,
                }
                raise
            finding.case = case
            finding.save(update_fields=["case"])
            cases.append(case)
    return cases


# ---- states --------------------------------------------------------------------------------------


def _state_expression(now: dt.datetime) -> models.Case:
    published = Q(visit__location__round__status=RoundStatus.PUBLISHED, case__isnull=False)
    closed = Q(case__state__in=list(CLOSED_STATES))
    running_late = Q(case__in=Case.objects.filter(overdue_q(now)).values("pk"))
    return models.Case(
        models.When(~published, then=models.Value(FindingState.PENDING)),
        models.When(
            closed & Q(case__closed_on_time=True), then=models.Value(FindingState.RECTIFIED_IN_TIME)
        ),
        models.When(closed, then=models.Value(FindingState.RECTIFIED_LATE)),
        models.When(running_late, then=models.Value(FindingState.OVERDUE)),
        default=models.Value(FindingState.OPEN),
        output_field=models.CharField(),
    )


def findings_with_state(qs: QuerySet[Finding], now: dt.datetime | None = None) -> QuerySet[Finding]:
    """The findings annotated with ``state`` (a ``FindingState`` value), computed in the query."""
    return qs.annotate(state=_state_expression(now or timezone.now()))


def finding_state(finding: Finding, now: dt.datetime | None = None) -> FindingState:
    """The rectification state of one finding (the same rule as ``findings_with_state``)."""
    row = findings_with_state(Finding.objects.filter(pk=finding.pk), now).first()
    return FindingState(getattr(row, "state", FindingState.PENDING))


def findings_for_unit(user: Any, now: dt.datetime | None = None) -> QuerySet[Finding]:
    """Findings of published rounds for the units the user works for, with their ``state``:
    what a responsible unit must rectify (an undercover round shows up only once published)."""
    rounds = policy.visible_rounds(user).filter(status=RoundStatus.PUBLISHED)
    qs = Finding.objects.filter(
        visit__location__round__in=rounds.values("pk"),
        unit__in=policy.visible_units(user).values("pk"),
    ).select_related("item", "unit", "case", "visit__location__site", "visit__location__round")
    return findings_with_state(qs, now).order_by(
        "-visit__location__round__published_at", "visit__location__draw_order", "id"
    )
