"""Look-back rounds (回头看): re-inspect an earlier round's findings.

A look-back round is planned from a published round (``lookback_create``): it visits every site
where that round found something, against the same pinned standard versions, with the same
kind (an undercover round is looked back at undercover). It draws no sample; from then on it
lives like any round (``rounds.round_assign`` / ``round_start`` / ``round_close`` /
``round_publish``). On the phone the inspector rechecks each earlier finding
(``visits.visit_submit``, ``Recheck``); a finding that recurred becomes a new finding with
``recurrence_of`` set, which on publication opens a look-back case linked to the first case
(``rectification.findings_open_cases``) and counts against the unit (``recurrences_by_unit``).

Only an original round is looked back at: a look-back of a look-back is refused (look back at
the original round again instead, so every recurrence points at the first finding).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from civicloop.cases.models import Case
from civicloop.core.errors import (
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.org import policy
from civicloop.org.models import User

from .models import Finding, Recheck, Round, RoundLocation, RoundStatus
from .rectification import FindingState, findings_with_state
from .rounds import _plan, _require_period, round_assign

NAME_MAX = 120


def _default_name(earlier: Round) -> str:
    """The earlier name with "(look-back)", in the site's language, shortened to fit."""
    with translation.override(settings.LANGUAGE_CODE):
        name = _("%(name)s (look-back)") % {"name": earlier.name}
        if len(name) > NAME_MAX:
            cut = earlier.name[: max(1, len(earlier.name) - (len(name) - NAME_MAX) - 1)] + "…"
            name = _("%(name)s (look-back)") % {"name": cut}
    return name


def _stratum_label() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("look-back")


def lookback_create(
    *,
    of_round: Round,
    by: Any,
    name: str = "",
    period_start: dt.date | str,
    period_end: dt.date | str,
    inspectors: Iterable[User | int] = (),
    at: dt.datetime | None = None,
) -> Round:
    """Plan the look-back of a published round (a draft round with ``lookback_of`` set).

    Its locations are the sites where ``of_round`` found something, each with the standard
    version it was inspected against; its kind, area, standards and roll-up configuration are
    copied. ``name`` defaults to "<name> (look-back)". The period may not start before the
    earlier round was published. ``inspectors`` (optional here, needed to start) are assigned
    round-robin by ``rounds.round_assign``. Managed by the earlier round's campaign office
    (``policy.may_manage_round``); one transaction, nothing written on any refusal.
    """
    when = at or timezone.now()
    earlier = Round.objects.filter(pk=of_round.pk).select_related("area").first()
    if earlier is None or not policy.visible_rounds(by).filter(pk=earlier.pk).exists():
        raise NotFoundOrForbidden(_("No such inspection round, or it is not yours to see."))
    if not policy.may_manage_round(by, earlier):
        raise PermissionRefused(
            _("Only the campaign office that owns this round may plan its look-back.")
        )
    if earlier.is_lookback:
        raise ValidationFailed(
            _(
                "“%(round)s” is itself a look-back: plan the look-back from the original round “%(original)s”."
            )
            % {
                "round": earlier.name,
                "original": earlier.lookback_of.name if earlier.lookback_of else "",
            },
            field="of_round",
        )
    if earlier.status != RoundStatus.PUBLISHED:
        raise TransitionRefused(
            _(
                "“%(round)s” is not published yet: its findings are looked back at once they are published."
            )
            % {"round": earlier.name}
        )
    clean = _plan(
        {
            "name": name if str(name or "").strip() else _default_name(earlier),
            "period_start": period_start,
            "period_end": period_end,
        }
    )
    _require_period(clean["period_start"], clean["period_end"])
    published_on = (
        timezone.localtime(earlier.published_at).date()
        if earlier.published_at
        else earlier.period_end
    )
    if clean["period_start"] < published_on:
        raise ValidationFailed(
            _("A look-back starts after the round was published (%(date)s).")
            % {"date": published_on.isoformat()},
            field="period_start",
        )
    sources = list(
        RoundLocation.objects.filter(
            round=earlier,
            pk__in=Finding.objects.filter(visit__location__round=earlier).values(
                "visit__location_id"
            ),
        )
        .order_by("draw_order", "pk")
        .values_list("site_id", "standard_id")
    )
    if not sources:
        raise ValidationFailed(
            _("“%(round)s” found nothing to rectify: there is nothing to look back at.")
            % {"round": earlier.name},
            field="of_round",
        )
    given = list(inspectors)
    label = _stratum_label()
    with transaction.atomic():
        rnd = Round.objects.create(
            name=clean["name"],
            kind=earlier.kind,
            area=earlier.area,
            period_start=clean["period_start"],
            period_end=clean["period_end"],
            lookback_of=earlier,
            owner_path=earlier.owner_path,
            stratify=earlier.stratify,
            per_stratum=earlier.per_stratum,
            type_weights=earlier.type_weights,
            grade_bands=earlier.grade_bands,
            off_site_metres=earlier.off_site_metres,
            created_by=by if getattr(by, "is_authenticated", False) else None,
            created_at=when,
        )
        rnd.standards.set(earlier.standards.all())
        RoundLocation.objects.bulk_create(
            RoundLocation(
                round=rnd, site_id=site_id, standard_id=standard_id, stratum=label, draw_order=i
            )
            for i, (site_id, standard_id) in enumerate(sources, start=1)
        )
        if given:
            # A refused inspector undoes the whole look-back (same transaction).
            rnd = round_assign(round=rnd, by=by, inspectors=given)
    return rnd


def recurrences_by_unit(rounds: Iterable[Round | int] | QuerySet[Round]) -> dict[int, int]:
    """{unit id: findings that recurred at a look-back} over the given (look-back) rounds."""
    ids: Any = (
        rounds.values("pk")
        if isinstance(rounds, QuerySet)
        else [r.pk if isinstance(r, Round) else int(r) for r in rounds]
    )
    rows = (
        Finding.objects.filter(
            visit__location__round__in=ids, recurrence_of__isnull=False, unit__isnull=False
        )
        .values("unit")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["unit"]: row["n"] for row in rows}


@dataclass(frozen=True)
class LookbackRow:
    """One finding of the earlier round and what the look-back made of it."""

    finding: Finding  # annotated with its rectification ``state``
    recheck: Recheck | None
    recurrence: Finding | None

    @property
    def rechecked(self) -> bool:
        return self.recheck is not None

    @property
    def recurred(self) -> bool | None:
        """True / False once rechecked; None while not rechecked yet."""
        return self.recheck.recurred if self.recheck is not None else None

    @property
    def state(self) -> FindingState:
        return FindingState(self.finding.state)  # type: ignore[attr-defined]

    @property
    def case(self) -> Case | None:
        """The look-back case the recurrence opened (once the look-back is published)."""
        return self.recurrence.case if self.recurrence is not None else None


def lookback_summary(round: Round, now: dt.datetime | None = None) -> list[LookbackRow]:  # noqa: A002
    """Per finding of the earlier round, in draw order: rechecked?, recurred?, the new case.

    A read for pages that already checked ``policy.round_results_visible`` for this round.
    """
    if round.lookback_of_id is None:
        raise ValidationFailed(
            _("“%(round)s” is not a look-back round.") % {"round": round.name}, field="round"
        )
    originals = findings_with_state(
        Finding.objects.filter(visit__location__round_id=round.lookback_of_id).select_related(
            "item", "unit", "case", "visit__location__site"
        ),
        now,
    ).order_by("visit__location__draw_order", "visit_id", "id")
    rechecks = {r.finding_id: r for r in Recheck.objects.filter(visit__location__round=round)}
    recurrences = {
        f.recurrence_of_id: f
        for f in Finding.objects.filter(
            visit__location__round=round, recurrence_of__isnull=False
        ).select_related("case")
    }
    return [LookbackRow(f, rechecks.get(f.pk), recurrences.get(f.pk)) for f in originals]
