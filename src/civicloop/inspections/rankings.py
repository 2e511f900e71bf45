"""Location scores rolled up into rankings (排名), red and black lists (红黑榜) and grades.

The roll-up rule
----------------
A **group** is a community, a street office, a district or a responsible unit:

* community / street / district: the area of that kind containing the site
  (``Site.area_path`` holds the ids of every area the site lies in). A back-street site
  whose area is a street office has no community: it is left out of the community ranking
  but counts for its street and its district;
* unit: the site's responsible unit (``Site.unit``); a site without one is left out of
  the unit ranking.

Only **inspected** locations with a score count; a vetoed location (一票否决) counts as 0.

A group's score in one round is

    score = Σ_t w_t · mean_t / Σ_t w_t

over the location types *t* present in the group, where ``mean_t`` is the plain mean of
the group's location scores of type *t* and ``w_t`` the round's weight for that type
(``Round.type_weights``, validated by ``rounds.clean_type_weights``; a type it does not
name weighs 1, a type weighing 0 does not count). When the round names no weights at all,
every location counts the same: the score is the plain mean over the group's locations.
A group with no location that counts has no score and is not ranked.

A **period** (month, quarter) ranks the published regular rounds whose period ends in it
(look-back rounds re-inspect the worst places and are not scored again): a group's period
score is the plain mean of its scores in those rounds where it has one, each round rolled
up with its own weights.

A period's ranking is the same for every reader, like an official bulletin: its scores,
ranks, grades and red and black lists are computed over **every** published regular round
whose period ends in it, whoever reads it. What a reader is shown is then limited to the
groups he may know of: those with at least one inspected location in a published round he
may see (``policy.visible_rounds``). The rows shown keep their period-wide ranks (a reader
may see rank 2 without rank 1), and the red and black lists are drawn from the full ranking
before they are limited the same way.

All arithmetic is exact (``Fraction`` over the stored two-decimal scores); the score is
rounded half up to two decimals once, at the end.

**Recurrences count against the unit**: a unit's score is its rolled-up score minus
``CIVICLOOP["INSPECTIONS"]["RECURRENCE_PENALTY"]`` points for every finding of the unit
that recurred at a look-back (``Finding.recurrence_of``), never below 0. The recurrences
of a round are those found by its published look-back rounds (and, when the round is
itself a look-back, by the round); those of a period are those found by every published
look-back round whose period ends in it (whoever reads it). ``RankRow.base_score``
keeps the score before the penalty.

Ranks are competition ranks over the rounded score, highest first (1, 1, 3: equal scores
share a rank), then by name. Grades come from grade bands (``bands_for``): a score at or
above a band's lower bound gets its grade, highest band first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import floor
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from civicloop.core.errors import ValidationFailed
from civicloop.org import policy

from .models import Finding, Round, RoundLocation, RoundStatus

if TYPE_CHECKING:
    from civicloop.places.models import Area

LEVELS = ("community", "street", "district", "unit")
AREA_LEVELS = ("community", "street", "district")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


def level_label(level: str) -> str:
    return {
        "community": _("Community"),
        "street": _("Street office"),
        "district": _("District"),
        "unit": _("Responsible unit"),
    }[level]


def check_level(level: Any) -> str:
    if level not in LEVELS:
        raise ValidationFailed(
            _("Unknown ranking level “%(level)s”: choose community, street, district or unit.")
            % {"level": level},
            field="level",
        )
    return str(level)


# ---- exact numbers --------------------------------------------------------------------------


def cents(value: Fraction | Decimal | int) -> Decimal:
    """``value`` rounded half up (away from zero) to two decimals, exactly."""
    value = Fraction(value)
    hundredths = abs(value) * 100
    whole = floor(hundredths + Fraction(1, 2))
    return (Decimal(whole if value >= 0 else -whole) / HUNDRED).quantize(Decimal("0.01"))


def number(value: Any, *, what: str, field: str) -> Decimal:
    """A finite decimal number from a setting or a stored JSON value (int, str, Decimal, float)."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValidationFailed(_("%(what)s must be a number.") % {"what": what}, field=field)
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed(
            _("%(what)s must be a number, not “%(value)s”.") % {"what": what, "value": value},
            field=field,
        ) from None
    if not result.is_finite():
        raise ValidationFailed(_("%(what)s must be a number.") % {"what": what}, field=field)
    return result


def inspection_settings() -> dict[str, Any]:
    """``settings.CIVICLOOP["INSPECTIONS"]``."""
    return cast(dict[str, Any], settings.CIVICLOOP)["INSPECTIONS"]


# ---- grade bands and weights (validated by ``rounds``, the one home of a round's plan) --------------


def _bands(raw: Any) -> list[tuple[str, Decimal]]:
    from .rounds import clean_grade_bands

    bands = clean_grade_bands(raw)
    if not bands:
        raise ValidationFailed(_("No grade bands are configured."), field="grade_bands")
    return [(grade, Decimal(bound)) for grade, bound in bands]


def bands_for(round: Round | None = None) -> list[tuple[str, Decimal]]:
    """``[(grade, lower bound), …]`` from the highest: the round's own grade bands, or the
    city's (``CIVICLOOP["INSPECTIONS"]["GRADE_BANDS"]``); validated (descending, last bound 0)."""
    if round is not None and round.grade_bands:
        return _bands(round.grade_bands)
    return _bands(inspection_settings()["GRADE_BANDS"])


def grade_for(score: Decimal | None, bands: Sequence[tuple[str, Decimal]]) -> str:
    """The grade of the first band whose lower bound the score reaches; "" without a score."""
    if score is None:
        return ""
    for grade, bound in bands:
        if score >= bound:
            return grade
    return bands[-1][0] if bands else ""


def type_weights_for(round: Round) -> dict[str, Decimal]:
    """The round's weights by location type (empty: every location counts the same)."""
    from .rounds import clean_type_weights

    return {key: Decimal(value) for key, value in clean_type_weights(round.type_weights).items()}


def recurrence_penalty() -> Decimal:
    """Points a unit loses for each recurred finding (``RECURRENCE_PENALTY``, ≥ 0)."""
    value = number(
        inspection_settings()["RECURRENCE_PENALTY"],
        what=_("The recurrence penalty"),
        field="RECURRENCE_PENALTY",
    )
    if value < 0:
        raise ValidationFailed(_("The recurrence penalty cannot be negative."), field="RECURRENCE_PENALTY")
    return value


def red_black_size() -> int:
    return _size(inspection_settings()["RED_BLACK_SIZE"])


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed(
            _("The size of the red and black lists must be a whole number of at least 1."), field="size"
        )
    return value


# ---- the roll-up (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredLocation:
    """One inspected location, as the roll-up needs it."""

    location_id: int
    round_id: int
    site_id: int
    location_type: str
    area_path: str
    unit_id: int | None
    score: Decimal  # 0 for a vetoed location
    findings: int = 0


def roll_up(
    scores: Iterable[tuple[str, Decimal]], weights: Mapping[str, Decimal]
) -> Fraction | None:
    """The exact score of a group from its (location type, score) pairs.

    ``Σ_t w_t · mean_t / Σ_t w_t`` over the types present (weight 1 for a type ``weights``
    does not name), or the plain mean of every score when ``weights`` is empty. None when
    there is no score, or when every type present weighs 0.
    """
    by_type: dict[str, list[Fraction]] = defaultdict(list)
    for location_type, score in scores:
        by_type[location_type].append(Fraction(score))
    if not by_type:
        return None
    if not weights:
        every = [s for values in by_type.values() for s in values]
        return sum(every, Fraction(0)) / len(every)
    total = Fraction(0)
    weight_sum = Fraction(0)
    for location_type, values in by_type.items():
        weight = Fraction(weights.get(location_type, Decimal(1)))
        total += weight * sum(values, Fraction(0)) / len(values)
        weight_sum += weight
    return total / weight_sum if weight_sum else None


K = TypeVar("K")


def group_by(
    locations: Iterable[ScoredLocation], key: Callable[[ScoredLocation], K | None]
) -> dict[K, list[ScoredLocation]]:
    """Locations by group; a location whose key is None belongs to no group."""
    groups: dict[K, list[ScoredLocation]] = defaultdict(list)
    for location in locations:
        k = key(location)
        if k is not None:
            groups[k].append(location)
    return dict(groups)


@dataclass(frozen=True)
class RankRow:
    key: int
    name: str
    score: Decimal
    grade: str
    locations: int
    findings: int
    recurrences: int
    rank: int
    base_score: Decimal | None = None  # before the recurrence penalty (units); else = score


def rank(rows: Iterable[RankRow]) -> list[RankRow]:
    """Highest score first, then by name; competition ranks (1, 1, 3) over the rounded score."""
    ordered = sorted(rows, key=lambda r: (-r.score, r.name, r.key))
    ranked: list[RankRow] = []
    for position, row in enumerate(ordered, start=1):
        same = ranked and ranked[-1].score == row.score
        ranked.append(replace(row, rank=ranked[-1].rank if same else position))
    return ranked


def red_black(rows: Sequence[RankRow], size: int | None = None) -> tuple[list[RankRow], list[RankRow]]:
    """The red list (红榜: the best ``size``) and the black list (黑榜: the worst ``size``).

    ``rows`` is a ranking (best first). The lists never overlap: with fewer than
    ``2 × size`` rows each takes half (the middle one of an odd count is in neither), and
    the black list keeps only rows scoring below the red list's lowest score, so equal
    scores are never praised and blamed at once. Both lists are in ranking order.
    """
    size = red_black_size() if size is None else _size(size)
    ordered = sorted(rows, key=lambda r: (r.rank, -r.score, r.name, r.key))
    take = min(size, len(ordered) // 2)
    if take == 0:
        return [], []
    red = ordered[:take]
    floor_score = min(r.score for r in red)
    black = [r for r in ordered[len(ordered) - take:] if r.score < floor_score]
    return red, black


# ---- reading the database -------------------------------------------------------------------------


def _findings_count() -> Any:
    counted = (
        Finding.objects.filter(visit=OuterRef("visit")).order_by().values("visit").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def scored_locations(rounds: Iterable[Round] | QuerySet[Round]) -> list[ScoredLocation]:
    """The inspected locations of ``rounds`` that have a score (vetoed ones as 0): one query."""
    rows = (
        RoundLocation.objects.filter(round__in=rounds, visit__isnull=False)
        .filter(Q(visit__score__isnull=False) | Q(visit__vetoed=True))
        .annotate(findings_n=_findings_count())
        .order_by("round_id", "draw_order", "pk")
        .values_list(
            "pk", "round_id", "site_id", "site__location_type", "site__area_path", "site__unit_id",
            "visit__score", "visit__vetoed", "findings_n",
        )
    )
    return [
        ScoredLocation(
            location_id=pk, round_id=round_id, site_id=site_id, location_type=location_type,
            area_path=area_path, unit_id=unit_id, score=ZERO if vetoed or score is None else Decimal(score),
            findings=int(findings),
        )
        for pk, round_id, site_id, location_type, area_path, unit_id, score, vetoed, findings in rows
    ]


def path_ids(path: str) -> list[int]:
    return [int(x) for x in path.strip("/").split("/") if x]


def areas_of_kind(paths: Iterable[str], kind: str) -> dict[str, Area]:
    """For each area path, the area of ``kind`` on it (paths without one are left out)."""
    from civicloop.places.models import Area

    paths = set(paths)
    ids = {i for p in paths for i in path_ids(p)}
    found = {a.pk: a for a in Area.objects.filter(pk__in=ids, kind=kind)}
    result: dict[str, Area] = {}
    for p in paths:
        area = next((found[i] for i in path_ids(p) if i in found), None)
        if area is not None:
            result[p] = area
    return result


def _groups(locations: list[ScoredLocation], level: str) -> tuple[dict[int, list[ScoredLocation]], dict[int, str]]:
    """Locations grouped by the level's key, and each key's name."""
    from civicloop.org.models import Unit

    if level == "unit":
        groups = group_by(locations, lambda loc: loc.unit_id)
        names = dict(Unit.objects.filter(pk__in=groups).values_list("pk", "name"))
        return groups, names
    areas = areas_of_kind({loc.area_path for loc in locations}, level)
    groups = group_by(locations, lambda loc: areas[loc.area_path].pk if loc.area_path in areas else None)
    names = {a.pk: a.name for a in areas.values()}
    return groups, names


def _unit_findings(rounds: Sequence[Round]) -> dict[int, int]:
    rows = (
        Finding.objects.filter(visit__location__round__in=rounds, unit__isnull=False)
        .order_by().values("unit").annotate(n=Count("pk")).values_list("unit", "n")
    )
    return {unit: int(n) for unit, n in rows}


def _recurrences(lookback_rounds: Sequence[Round]) -> dict[int, int]:
    from .lookback import recurrences_by_unit

    return recurrences_by_unit(lookback_rounds) if lookback_rounds else {}


def round_lookbacks(rnd: Round) -> list[Round]:
    """The look-back rounds whose recurrences count for ``rnd``: its published look-backs, and
    ``rnd`` itself when it is a look-back."""
    rounds = list(Round.objects.filter(lookback_of=rnd, status=RoundStatus.PUBLISHED).order_by("pk"))
    if rnd.is_lookback:
        rounds.insert(0, rnd)
    return rounds


def _rows(
    per_round: list[tuple[Round, dict[str, Decimal]]],
    locations: list[ScoredLocation],
    level: str,
    bands: Sequence[tuple[str, Decimal]],
    recurrences: Mapping[int, int],
) -> list[RankRow]:
    groups, names = _groups(locations, level)
    unit_findings = _unit_findings([r for r, _w in per_round]) if level == "unit" else {}
    penalty = recurrence_penalty() if level == "unit" else ZERO
    weights_of = {rnd.pk: weights for rnd, weights in per_round}
    rows: list[RankRow] = []
    for key, members in groups.items():
        counted = [m for m in members if weights_of[m.round_id].get(m.location_type, Decimal(1)) != 0]
        scores = []
        for rnd, weights in per_round:
            in_round = [(m.location_type, m.score) for m in members if m.round_id == rnd.pk]
            score = roll_up(in_round, weights)
            if score is not None:
                scores.append(score)
        if not scores:
            continue
        exact = sum(scores, Fraction(0)) / len(scores)
        base = cents(exact)
        recurred = int(recurrences.get(key, 0)) if level == "unit" else 0
        final = cents(max(Fraction(0), exact - Fraction(penalty) * recurred)) if recurred else base
        rows.append(
            RankRow(
                key=key,
                name=names.get(key, ""),
                score=final,
                grade=grade_for(final, bands),
                locations=len(counted),
                findings=unit_findings.get(key, 0) if level == "unit" else sum(m.findings for m in counted),
                recurrences=recurred,
                rank=0,
                base_score=base,
            )
        )
    return rank(rows)


def round_ranking(round: Round, level: str) -> list[RankRow]:
    """The groups of one round at ``level``, ranked. The caller checks who may read it."""
    level = check_level(level)
    weights = type_weights_for(round)
    bands = bands_for(round)
    recurrences = _recurrences(round_lookbacks(round)) if level == "unit" else {}
    return _rows([(round, weights)], scored_locations([round]), level, bands, recurrences)


# ---- periods --------------------------------------------------------------------------------------


def check_year(year: Any) -> int:
    """A whole year from 2000 to 2100, or ``ValidationFailed`` (field "year")."""
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ValidationFailed(_("Choose a year between 2000 and 2100."), field="year")
    return year


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """The first and the last day of a month."""
    year = check_year(year)
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValidationFailed(_("Choose a month from 1 to 12."), field="month")
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return dt.date(year, month, 1), following - dt.timedelta(days=1)


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    """The first and the last day of a quarter (1: January–March … 4: October–December)."""
    if isinstance(quarter, bool) or not isinstance(quarter, int) or not 1 <= quarter <= 4:
        raise ValidationFailed(_("Choose a quarter from 1 to 4."), field="quarter")
    first, _last = month_bounds(year, 3 * quarter - 2)
    _first, last = month_bounds(year, 3 * quarter)
    return first, last


def check_period(start: Any, end: Any) -> tuple[dt.date, dt.date]:
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise ValidationFailed(_("Choose the first and the last day of the period."), field="start")
    if start > end:
        raise ValidationFailed(_("The period cannot end before it starts."), field="end")
    return start, end


def _published_ending_in(start: dt.date, end: dt.date, *, lookbacks: bool) -> QuerySet[Round]:
    return Round.objects.filter(
        status=RoundStatus.PUBLISHED, lookback_of__isnull=not lookbacks, period_end__gte=start, period_end__lte=end
    ).order_by("period_end", "pk")


def period_rounds(*, start: dt.date, end: dt.date) -> QuerySet[Round]:
    """Every published regular round whose period ends in ``[start, end]``: what the period's
    scores are computed over, whoever reads them."""
    return _published_ending_in(start, end, lookbacks=False)


def visible_period_rounds(*, user: Any, start: dt.date, end: dt.date) -> QuerySet[Round]:
    """The period's rounds (``period_rounds``) the user may see: the ones a page may name."""
    return period_rounds(start=start, end=end).filter(pk__in=policy.visible_rounds(user).values("pk"))


def period_lookbacks(*, start: dt.date, end: dt.date) -> list[Round]:
    """Every published look-back round whose period ends in ``[start, end]``."""
    return list(_published_ending_in(start, end, lookbacks=True))


def period_recurrences(*, start: dt.date, end: dt.date) -> dict[int, int]:
    """Recurred findings per unit found by every published look-back of the period (the same
    for every reader)."""
    return _recurrences(period_lookbacks(start=start, end=end))


def period_bands(rounds: Sequence[Round]) -> list[tuple[str, Decimal]]:
    """The rounds' grade bands when they all agree, else the city's."""
    distinct = {tuple(bands_for(r)) for r in rounds}
    return list(distinct.pop()) if len(distinct) == 1 else bands_for(None)


def groups_known_to(user: Any, level: str) -> set[int]:
    """The keys of the groups at ``level`` the user may know of: those with at least one
    inspected location in a published round he may see (``policy.visible_rounds``)."""
    level = check_level(level)
    inspected = RoundLocation.objects.filter(
        round__in=policy.visible_rounds(user).filter(status=RoundStatus.PUBLISHED).values("pk"),
        visit__isnull=False,
    ).order_by()
    if level == "unit":
        return set(
            inspected.filter(site__unit__isnull=False).values_list("site__unit_id", flat=True).distinct()
        )
    paths = set(inspected.values_list("site__area_path", flat=True).distinct())
    return {area.pk for area in areas_of_kind(paths, level).values()}


@dataclass(frozen=True)
class PeriodRanking:
    """A period's ranking as one reader is shown it (see the module's docstring)."""

    rows: list[RankRow]  # the groups the reader may know of, with their period-wide ranks
    red: list[RankRow]  # the period's red list, limited the same way
    black: list[RankRow]  # the period's black list, limited the same way
    rounds: list[Round]  # every round the scores count
    visible_rounds: list[Round]  # those of them the reader may see (and a page may name)
    bands: list[tuple[str, Decimal]]


def period_board(*, user: Any, start: dt.date, end: dt.date, level: str) -> PeriodRanking:
    """The period's ranking over every published regular round ending in it, limited to the
    groups ``user`` may know of (see the module's docstring)."""
    level = check_level(level)
    start, end = check_period(start, end)
    rounds = list(period_rounds(start=start, end=end))
    if not rounds:
        return PeriodRanking(rows=[], red=[], black=[], rounds=[], visible_rounds=[], bands=bands_for(None))
    bands = period_bands(rounds)
    per_round = [(r, type_weights_for(r)) for r in rounds]
    recurrences = period_recurrences(start=start, end=end) if level == "unit" else {}
    rows = _rows(per_round, scored_locations(rounds), level, bands, recurrences)
    red, black = red_black(rows)
    seen = set(visible_period_rounds(user=user, start=start, end=end).values_list("pk", flat=True))
    if len(seen) < len(rounds):
        # Every group ranked has a scored location in one of the rounds: a reader who sees
        # them all knows every group; anyone else is shown only the groups he knows of.
        known = groups_known_to(user, level)
        rows = [r for r in rows if r.key in known]
        red = [r for r in red if r.key in known]
        black = [r for r in black if r.key in known]
    return PeriodRanking(
        rows=rows, red=red, black=black, rounds=rounds, visible_rounds=[r for r in rounds if r.pk in seen], bands=bands
    )


def period_ranking(*, user: Any, start: dt.date, end: dt.date, level: str) -> list[RankRow]:
    """The rows of ``period_board``: the period's groups the user may know of, ranked over
    every published regular round of the period."""
    return period_board(user=user, start=start, end=end, level=level).rows


# ---- one round's locations ----------------------------------------------------------------------


@dataclass(frozen=True)
class LocationRow:
    location: RoundLocation
    community: str
    street: str
    score: Decimal | None
    grade: str
    vetoed: bool
    off_site: bool
    findings: int
    inspected: bool
    no_gps: bool = False  # inspected, but recorded without a device position (distance_m empty)


def location_rows(round: Round) -> list[LocationRow]:
    """Every sampled location of a round with its result, in draw order: three queries."""
    bands = bands_for(round)
    locations = list(
        RoundLocation.objects.filter(round=round)
        .select_related("site", "inspector", "visit")
        .annotate(findings_n=_findings_count())
        .order_by("draw_order", "pk")
    )
    paths = {loc.site.area_path for loc in locations}
    communities = areas_of_kind(paths, "community")
    streets = areas_of_kind(paths, "street")
    rows = []
    for loc in locations:
        visit = getattr(loc, "visit", None)
        score = None
        if visit is not None:
            score = ZERO if visit.vetoed else visit.score
        community = communities.get(loc.site.area_path)
        street = streets.get(loc.site.area_path)
        rows.append(
            LocationRow(
                location=loc,
                community=community.name if community else "",
                street=street.name if street else "",
                score=score,
                grade=grade_for(score, bands),
                vetoed=bool(visit and visit.vetoed),
                off_site=bool(visit and visit.off_site),
                findings=int(loc.findings_n),
                inspected=visit is not None,
                no_gps=visit is not None and visit.distance_m is None,
            )
        )
    return rows
