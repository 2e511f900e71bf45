"""Every write to an inspection round (督查轮次): plan, sample, assign, start, close, publish.

A round moves draft → active → closed → published, each step by the campaign office that
owns the round's area (``policy.may_manage_round``) or an admin:

* **draft** (planning): ``round_create`` / ``round_update`` set the period, the area, the
  exact published standard versions (one per location type), the sampling and roll-up
  configuration; ``round_draw`` draws the sample at random from the recorded frame and seed
  (``sampling.draw``), as often as wanted; ``round_assign`` names the inspectors.
* **active** (inspecting): ``round_start`` once every sampled location has an inspector;
  inspectors may still be reassigned to locations not yet inspected.
* **closed**: ``round_close`` ends the inspection; results are reviewed.
* **published**: ``round_publish`` reveals the round (an undercover round was invisible to
  the inspected units until now) and opens a rectification case for every finding, in the
  same transaction (``rectification.findings_open_cases``).

Each action locks the round row, checks ``version=`` when given (a stale copy →
``ConflictError``), validates its whole input before writing, bumps ``version`` and runs in
one transaction. ``at`` lets tests control time.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from civicloop.core.errors import (
    ConflictError,
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.org import policy
from civicloop.org.models import Role, User
from civicloop.places.models import Area, AreaKind

from . import sampling
from .models import (
    LocationStatus,
    LocationType,
    Round,
    RoundKind,
    RoundLocation,
    RoundStatus,
    Site,
    Standard,
    StandardStatus,
    Stratify,
)

ROUND_AREA_KINDS = (AreaKind.CITY, AreaKind.DISTRICT, AreaKind.STREET)
MAX_PER_STRATUM = 100
MAX_WEIGHT = Decimal("1000")
MAX_OFF_SITE_METRES = 5000
MAX_SEED = 2**63 - 1
MAX_GRADES = 10
_CHANGEABLE = {
    "name",
    "kind",
    "area",
    "period_start",
    "period_end",
    "standards",
    "stratify",
    "per_stratum",
    "type_weights",
    "grade_bands",
    "off_site_metres",
    "note",
}


# ---- validation (pure: nothing is written) ------------------------------------------------------


def _text(value: Any, *, what: str, max_length: int, field: str, required: bool = True) -> str:
    text = " ".join(str(value or "").split()) if required else str(value or "").strip()
    if required and not text:
        raise ValidationFailed(_("%(what)s is required.") % {"what": what}, field=field)
    if len(text) > max_length:
        raise ValidationFailed(
            _("%(what)s is too long: at most %(max)d characters.")
            % {"what": what, "max": max_length},
            field=field,
        )
    return text


def _choice(value: Any, choices: type[models.TextChoices], *, what: str, field: str) -> str:
    if value not in choices.values:
        raise ValidationFailed(
            _("Unknown %(what)s “%(value)s”.") % {"what": what, "value": value}, field=field
        )
    return str(value)


def _date(value: Any, *, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValidationFailed(_("Give a date, not a date and time."), field=field)
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationFailed(
            _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value}, field=field
        ) from None


def _area(value: Any) -> Area:
    if isinstance(value, Area):
        area: Area | None = value
    else:
        try:
            area = Area.objects.filter(pk=int(value)).first() if value not in (None, "") else None
        except (TypeError, ValueError):
            area = None
    if area is None:
        raise ValidationFailed(_("Choose the area to inspect."), field="area")
    if area.kind not in ROUND_AREA_KINDS:
        raise ValidationFailed(
            _("A round inspects a city, a district or a street office, not a %(kind)s.")
            % {"kind": area.get_kind_display()},
            field="area",
        )
    return area


def _standards(values: Any) -> list[Standard]:
    if values is None or isinstance(values, str | bytes):
        values = []
    given = list(values)
    if not given:
        raise ValidationFailed(
            _("Choose at least one published assessment standard."), field="standards"
        )
    ids = [v.pk if isinstance(v, Standard) else v for v in given]
    try:
        found = {s.pk: s for s in Standard.objects.filter(pk__in=ids)}
    except (TypeError, ValueError):
        raise ValidationFailed(_("No such assessment standard."), field="standards") from None
    standards: list[Standard] = []
    for pk in ids:
        standard = found.get(pk)
        if standard is None:
            raise ValidationFailed(_("No such assessment standard."), field="standards")
        if standard.status != StandardStatus.PUBLISHED:
            raise ValidationFailed(
                _(
                    "“%(name)s” version %(version)s is not published: a round scores against published versions only."
                )
                % {"name": standard.name, "version": standard.version},
                field="standards",
            )
        if standard not in standards:
            standards.append(standard)
    types: dict[str, Standard] = {}
    for standard in standards:
        other = types.setdefault(standard.location_type, standard)
        if other is not standard:
            raise ValidationFailed(
                _(
                    "“%(a)s” and “%(b)s” both assess %(type)s: choose one standard per location type."
                )
                % {"a": other, "b": standard, "type": standard.get_location_type_display()},
                field="standards",
            )
    return standards


def _int(value: Any, *, what: str, field: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise ValidationFailed(
            _("%(what)s must be a whole number from %(low)d to %(high)d.")
            % {"what": what, "low": low, "high": high},
            field=field,
        )
    return number


def _decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a number or its text (a float through its shortest text), else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _decimal_text(number: Decimal) -> str:
    """90 → "90", 7.50 → "7.5": stored in JSON as text, never as a float."""
    text = format(number.quantize(Decimal("0.01")).normalize(), "f")
    return "0" if text in ("-0", "") else text


def clean_type_weights(value: Any) -> dict[str, str]:
    """``{location_type: weight}`` with Decimal weights ≥ 0, not all zero; empty: equal weights."""
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        raise ValidationFailed(_("Weights are given per location type."), field="type_weights")
    weights: dict[str, str] = {}
    for key, raw in value.items():
        if key not in LocationType.values:
            raise ValidationFailed(
                _("Unknown location type “%(value)s” in the weights.") % {"value": key},
                field="type_weights",
            )
        weight = _decimal(raw)
        if (
            weight is None
            or weight < 0
            or weight > MAX_WEIGHT
            or weight != weight.quantize(Decimal("0.01"))
        ):
            raise ValidationFailed(
                _(
                    "The weight of %(type)s must be a number from 0 to %(max)s with at most two decimals, not “%(value)s”."
                )
                % {"type": LocationType(key).label, "max": MAX_WEIGHT, "value": raw},
                field="type_weights",
            )
        weights[str(key)] = _decimal_text(weight)
    if all(Decimal(w) == 0 for w in weights.values()):
        raise ValidationFailed(
            _("At least one location type must have a weight above zero."), field="type_weights"
        )
    return weights


def clean_grade_bands(value: Any) -> list[list[str]]:
    """``[[grade, lower bound], …]`` from the highest bound down to 0; empty: the settings."""
    if value in (None, "", []):
        return []
    if not isinstance(value, list | tuple):
        raise ValidationFailed(
            _("Grade bands are a list of grades with their lower bounds."), field="grade_bands"
        )
    bands: list[list[str]] = []
    previous: Decimal | None = None
    grades: set[str] = set()
    if len(value) > MAX_GRADES:
        raise ValidationFailed(
            _("At most %(max)d grades.") % {"max": MAX_GRADES}, field="grade_bands"
        )
    for band in value:
        if not isinstance(band, list | tuple) or len(band) != 2:
            raise ValidationFailed(
                _('Each grade band is a grade and its lower bound, such as ["A", 90].'),
                field="grade_bands",
            )
        grade = " ".join(str(band[0] or "").split())
        if not grade or len(grade) > 8:
            raise ValidationFailed(_("A grade is named by 1 to 8 characters."), field="grade_bands")
        if grade in grades:
            raise ValidationFailed(
                _("Grade “%(grade)s” is given twice.") % {"grade": grade}, field="grade_bands"
            )
        bound = _decimal(band[1])
        if bound is None or bound < 0 or bound > 100 or bound != bound.quantize(Decimal("0.01")):
            raise ValidationFailed(
                _(
                    "The lower bound of grade “%(grade)s” must be a score from 0 to 100, not “%(value)s”."
                )
                % {"grade": grade, "value": band[1]},
                field="grade_bands",
            )
        if previous is not None and bound >= previous:
            raise ValidationFailed(
                _(
                    "Grade bands go from the highest bound down: “%(grade)s” must start below %(previous)s."
                )
                % {"grade": grade, "previous": _decimal_text(previous)},
                field="grade_bands",
            )
        grades.add(grade)
        previous = bound
        bands.append([grade, _decimal_text(bound)])
    if previous != 0:
        raise ValidationFailed(
            _("The lowest grade band must start at 0, so that every score has a grade."),
            field="grade_bands",
        )
    return bands


def _off_site(value: Any) -> int:
    if value is None or value == "":
        config: Any = settings.CIVICLOOP
        return int(config["INSPECTIONS"]["OFF_SITE_METRES"])
    return _int(
        value,
        what=_("The off-site tolerance"),
        field="off_site_metres",
        low=1,
        high=MAX_OFF_SITE_METRES,
    )


def _plan(fields: dict[str, Any]) -> dict[str, Any]:
    """The cleaned values of a round's plan; every error before anything is written."""
    clean: dict[str, Any] = {}
    if "name" in fields:
        clean["name"] = _text(fields["name"], what=_("Name"), max_length=120, field="name")
    if "kind" in fields:
        clean["kind"] = _choice(fields["kind"], RoundKind, what=_("kind of round"), field="kind")
    if "area" in fields:
        clean["area"] = _area(fields["area"])
    if "period_start" in fields:
        clean["period_start"] = _date(fields["period_start"], field="period_start")
    if "period_end" in fields:
        clean["period_end"] = _date(fields["period_end"], field="period_end")
    if "standards" in fields:
        clean["standards"] = _standards(fields["standards"])
    if "stratify" in fields:
        clean["stratify"] = _choice(
            fields["stratify"], Stratify, what=_("stratification"), field="stratify"
        )
    if "per_stratum" in fields:
        clean["per_stratum"] = _int(
            fields["per_stratum"],
            what=_("Locations per stratum"),
            field="per_stratum",
            low=1,
            high=MAX_PER_STRATUM,
        )
    if "type_weights" in fields:
        clean["type_weights"] = clean_type_weights(fields["type_weights"])
    if "grade_bands" in fields:
        clean["grade_bands"] = clean_grade_bands(fields["grade_bands"])
    if "off_site_metres" in fields:
        clean["off_site_metres"] = _off_site(fields["off_site_metres"])
    if "note" in fields:
        clean["note"] = _text(
            fields["note"], what=_("Note"), max_length=2000, field="note", required=False
        )
    return clean


def _require_period(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ValidationFailed(_("The period cannot end before it starts."), field="period_end")


# ---- locking, permission, state ----------------------------------------------------------------


def _lock(rnd: Round, by: Any, *, version: int | None) -> Round:
    """The round's row, locked; the user must manage it (same answer as missing when he may not see it)."""
    locked = Round.objects.select_for_update().filter(pk=rnd.pk).first()
    if locked is None:
        raise NotFoundOrForbidden(_("No such inspection round, or it is not yours to see."))
    if not policy.may_manage_round(by, locked):
        if not policy.visible_rounds(by).filter(pk=locked.pk).exists():
            raise NotFoundOrForbidden(_("No such inspection round, or it is not yours to see."))
        raise PermissionRefused(_("Only the campaign office that owns this round may change it."))
    if version is not None and int(version) != locked.version:
        raise ConflictError(
            _("Someone else changed this round meanwhile: reload it and try again.")
        )
    return locked


def _require_status(rnd: Round, *allowed: str, doing: str) -> None:
    if rnd.status not in allowed:
        raise TransitionRefused(
            _("The round is %(status)s: you cannot %(doing)s now.")
            % {"status": rnd.get_status_display().lower(), "doing": doing}
        )


def _bump(rnd: Round, *fields: str) -> None:
    rnd.version += 1
    rnd.save(update_fields=[*fields, "version"])


def _now(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


# ---- planning -----------------------------------------------------------------------------------


@transaction.atomic
def round_create(
    *,
    by: Any,
    name: str,
    kind: str,
    area: Area | int,
    period_start: dt.date | str,
    period_end: dt.date | str,
    standards: Iterable[Standard | int],
    stratify: str = Stratify.STREET,
    per_stratum: int = 3,
    type_weights: Mapping[str, Any] | None = None,
    grade_bands: list[Any] | None = None,
    off_site_metres: int | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> Round:
    """Plan a round (draft). Nothing is sampled yet: ``round_draw`` does that."""
    clean = _plan(
        {
            "name": name,
            "kind": kind,
            "area": area,
            "period_start": period_start,
            "period_end": period_end,
            "standards": standards,
            "stratify": stratify,
            "per_stratum": per_stratum,
            "type_weights": type_weights,
            "grade_bands": grade_bands,
            "off_site_metres": off_site_metres,
            "note": note,
        }
    )
    if not policy.may_create_round(by, clean["area"].path):
        raise PermissionRefused(
            _("Only the campaign office of %(area)s may plan rounds there.")
            % {"area": clean["area"].name}
        )
    _require_period(clean["period_start"], clean["period_end"])
    chosen = clean.pop("standards")
    rnd = Round.objects.create(
        **clean,
        owner_path=policy.round_owner_path(by, clean["area"].path),
        created_by=by,
        created_at=_now(at),
    )
    rnd.standards.set(chosen)
    return rnd


def _sample_changes(rnd: Round, clean: dict[str, Any]) -> set[str]:
    """The fields of ``clean`` that change what the sample is drawn from."""
    changed = set()
    if "area" in clean and clean["area"].pk != rnd.area_id:
        changed.add("area")
    if "standards" in clean and {s.pk for s in clean["standards"]} != set(
        rnd.standards.values_list("pk", flat=True)
    ):
        changed.add("standards")
    for key in ("stratify", "per_stratum"):
        if key in clean and clean[key] != getattr(rnd, key):
            changed.add(key)
    return changed


def _drop_sample(rnd: Round) -> None:
    rnd.locations.all().delete()
    rnd.seed, rnd.frame, rnd.drawn_at = None, [], None


@transaction.atomic
def round_update(*, round: Round, by: Any, version: int | None = None, **changes: Any) -> Round:
    """Change a draft round's plan. A change of area, standards or stratification drops the
    sample already drawn (draw again); a look-back round keeps its area, standards and locations."""
    unknown = set(changes) - _CHANGEABLE
    if unknown:
        raise TypeError(f"round_update() got unexpected fields: {', '.join(sorted(unknown))}")
    rnd = _lock(round, by, version=version)
    _require_status(rnd, RoundStatus.DRAFT, doing=_("change its plan"))
    clean = _plan(changes)
    changed = _sample_changes(rnd, clean)
    if rnd.is_lookback and changed:
        raise ValidationFailed(
            _(
                "A look-back round re-inspects the earlier round's locations: its area, standards and sampling stay as they are."
            ),
            field=sorted(changed)[0],
        )
    if "area" in clean and not policy.may_create_round(by, clean["area"].path):
        raise PermissionRefused(
            _("Only the campaign office of %(area)s may plan rounds there.")
            % {"area": clean["area"].name}
        )
    _require_period(
        clean.get("period_start", rnd.period_start), clean.get("period_end", rnd.period_end)
    )
    if "area" in clean:
        moved = Round(area=clean["area"], area_path=clean["area"].path)
        for user in rnd.inspectors.order_by("username"):
            if not may_be_inspector(user, moved):
                raise ValidationFailed(
                    _(
                        "%(user)s is not an inspector of %(area)s: change the round's inspectors first."
                    )
                    % {"user": user, "area": clean["area"].name},
                    field="area",
                )
    chosen = clean.pop("standards", None)
    area_moved = "area" in clean and clean["area"].pk != rnd.area_id
    fields = list(clean)
    for key, value in clean.items():
        setattr(rnd, key, value)
    if chosen is not None:
        rnd.standards.set(chosen)
    if changed and rnd.drawn_at is not None:
        _drop_sample(rnd)
        fields += ["seed", "frame", "drawn_at"]
    if area_moved and not clean["area"].path.startswith(rnd.owner_path):
        # Moved out of its owner's area: it belongs to the mover's office now. Otherwise the owner
        # stays (an admin saving a city round of a district must not hand it to that district).
        rnd.owner_path = policy.round_owner_path(by, clean["area"].path)
        fields.append("owner_path")
    if "area" in fields:
        fields.append("area_path")
    _bump(rnd, *fields)
    return rnd


# ---- sampling -----------------------------------------------------------------------------------


def sampling_frame(rnd: Round) -> list[tuple[int, str]]:
    """(site id, stratum) for every active site inside the round's area whose location type
    has a standard in the round, with the stratum label of the round's stratification."""
    types = set(rnd.standards.values_list("location_type", flat=True))
    sites = list(
        Site.objects.filter(
            active=True, area_path__startswith=rnd.area_path, location_type__in=types
        ).values_list("pk", "area_path", "location_type")
    )
    if not sites:
        return []
    # The street office of a site: the area of kind street on its path.
    ids = {int(x) for _pk, path, _t in sites for x in path.strip("/").split("/") if x}
    streets = {a.pk: a for a in Area.objects.filter(pk__in=ids, kind=AreaKind.STREET)}
    names: dict[str, set[int]] = {}
    for street in streets.values():
        names.setdefault(street.name, set()).add(street.pk)

    def street_label(path: str) -> str:
        for x in path.strip("/").split("/"):
            street = streets.get(int(x)) if x else None
            if street is not None:
                # Two street offices of one name stay two strata.
                return (
                    street.name
                    if len(names[street.name]) == 1
                    else f"{street.name} ({street.code})"
                )
        return ""

    # Labels must not depend on the language of whoever draws: they order the strata, so the
    # same frame and seed draw the same sample. The type's label is its untranslated msgid.
    with translation.override(None):
        type_labels = {t: str(LocationType(t).label) for t in types}
    frame = []
    for pk, path, location_type in sites:
        type_label = type_labels[location_type]
        if rnd.stratify == Stratify.STREET:
            label = street_label(path)
        elif rnd.stratify == Stratify.LOCATION_TYPE:
            label = type_label
        else:
            label = f"{street_label(path)} · {type_label}"
        frame.append((pk, label[:120]))
    return sorted(frame, key=lambda row: (row[1], row[0]))


def _parse_seed(seed: Any) -> int:
    if seed is None:
        return secrets.randbelow(MAX_SEED)
    return _int(seed, what=_("The random seed"), field="seed", low=0, high=MAX_SEED)


def _round_robin(locations: list[RoundLocation], inspectors: list[User]) -> None:
    for i, location in enumerate(locations):
        location.inspector = inspectors[i % len(inspectors)] if inspectors else None


@transaction.atomic
def round_draw(
    *,
    round: Round,
    by: Any,
    seed: int | None = None,
    at: dt.datetime | None = None,
    version: int | None = None,
) -> Round:
    """Draw the sample of a draft round at random, stratified as planned; replaces an earlier
    draw. The frame and the seed are recorded: the same frame and seed draw the same sample.
    The round's inspectors (if any) are assigned round-robin in draw order."""
    rnd = _lock(round, by, version=version)
    _require_status(rnd, RoundStatus.DRAFT, doing=_("draw its sample"))
    if rnd.is_lookback:
        raise TransitionRefused(
            _("A look-back round re-inspects the earlier round's findings: it draws no sample.")
        )
    chosen_seed = _parse_seed(seed)
    frame = sampling_frame(rnd)
    if not frame:
        raise ValidationFailed(
            _(
                "No active site in %(area)s has a location type assessed by this round's standards: register sites first."
            )
            % {"area": rnd.area.name}
        )
    drawn = sampling.draw(frame, rnd.per_stratum, chosen_seed)
    standards = {s.location_type: s for s in rnd.standards.all()}
    sites = Site.objects.in_bulk([site_id for site_id, _stratum in drawn])
    rnd.locations.all().delete()
    locations = [
        RoundLocation(
            round=rnd,
            site_id=site_id,
            standard=standards[sites[site_id].location_type],
            stratum=stratum,
            draw_order=i,
        )
        for i, (site_id, stratum) in enumerate(drawn, start=1)
    ]
    _round_robin(locations, list(rnd.inspectors.order_by("username", "pk")))
    RoundLocation.objects.bulk_create(locations)
    rnd.seed, rnd.frame, rnd.drawn_at = chosen_seed, [list(row) for row in frame], _now(at)
    _bump(rnd, "seed", "frame", "drawn_at")
    return rnd


# ---- inspectors ---------------------------------------------------------------------------------


def _overlaps(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def may_be_inspector(user: Any, rnd: Round) -> bool:
    """An inspector (督查员) whose area overlaps the round's area."""
    return any(_overlaps(path, rnd.area_path) for path in policy.area_paths(user, {Role.INSPECTOR}))


def _inspectors(values: Any, rnd: Round) -> list[User]:
    if values is None or isinstance(values, str | bytes):
        values = []
    given = list(values)
    if not given:
        raise ValidationFailed(_("Name at least one inspector."), field="inspectors")
    ids = [v.pk if isinstance(v, User) else v for v in given]
    try:
        found = {u.pk: u for u in User.objects.filter(pk__in=ids, is_active=True)}
    except (TypeError, ValueError):
        raise ValidationFailed(_("No such user."), field="inspectors") from None
    users: list[User] = []
    for pk in ids:
        user = found.get(pk)
        if user is None:
            raise ValidationFailed(_("No such user."), field="inspectors")
        if not may_be_inspector(user, rnd):
            raise ValidationFailed(
                _("%(user)s is not an inspector of %(area)s.")
                % {"user": user, "area": rnd.area.name},
                field="inspectors",
            )
        if user not in users:
            users.append(user)
    return users


@transaction.atomic
def round_assign(
    *,
    round: Round,
    by: Any,
    inspectors: Iterable[User | int],
    assignments: Mapping[RoundLocation | int, User | int] | None = None,
    version: int | None = None,
) -> Round:
    """Name the round's inspectors and who inspects which location.

    ``assignments`` maps locations to inspectors (each among ``inspectors``); every other
    location still to inspect is dealt round-robin in draw order. While the round is being
    inspected, locations already inspected keep their inspector.
    """
    rnd = _lock(round, by, version=version)
    _require_status(rnd, RoundStatus.DRAFT, RoundStatus.ACTIVE, doing=_("assign inspectors"))
    users = _inspectors(inspectors, rnd)
    by_id = {u.pk: u for u in users}
    locations = list(rnd.locations.order_by("draw_order", "pk"))
    by_location = {loc.pk: loc for loc in locations}
    fixed: dict[int, User] = {}
    for key, value in (assignments or {}).items():
        loc_id = key.pk if isinstance(key, RoundLocation) else key
        user_id = value.pk if isinstance(value, User) else value
        location = by_location.get(loc_id) if isinstance(loc_id, int) else None
        if location is None:
            raise ValidationFailed(
                _("A location assigned is not in this round."), field="assignments"
            )
        if user_id not in by_id:
            raise ValidationFailed(
                _("Assign locations to the round's inspectors only."), field="assignments"
            )
        if location.status == LocationStatus.DONE:
            raise ValidationFailed(
                _("“%(site)s” has been inspected already: its inspector stays.")
                % {"site": location.site.name},
                field="assignments",
            )
        fixed[loc_id] = by_id[user_id]
    done = [loc for loc in locations if loc.status == LocationStatus.DONE]
    if any(loc.inspector_id not in by_id for loc in done if loc.inspector_id is not None):
        raise ValidationFailed(
            _("Keep the inspectors who have inspected locations of this round already."),
            field="inspectors",
        )
    rest = [loc for loc in locations if loc.status != LocationStatus.DONE and loc.pk not in fixed]
    _round_robin(rest, users)
    for loc in locations:
        if loc.pk in fixed:
            loc.inspector = fixed[loc.pk]
    RoundLocation.objects.bulk_update(
        [loc for loc in locations if loc.status != LocationStatus.DONE], ["inspector"]
    )
    rnd.inspectors.set(users)
    _bump(rnd)
    return rnd


# ---- the lifecycle ------------------------------------------------------------------------------


@transaction.atomic
def round_start(
    *,
    round: Round,
    by: Any,
    at: dt.datetime | None = None,
    version: int | None = None,
) -> Round:
    """Begin inspecting: the sample is drawn and every location has an inspector (or the
    round has inspectors, who share the unassigned locations)."""
    rnd = _lock(round, by, version=version)
    _require_status(rnd, RoundStatus.DRAFT, doing=_("start it"))
    if not rnd.locations.exists():
        raise TransitionRefused(_("Draw the sample before starting the round."))
    if not rnd.inspectors.exists() and rnd.locations.filter(inspector=None).exists():
        raise TransitionRefused(_("Assign inspectors before starting the round."))
    rnd.status, rnd.started_at = RoundStatus.ACTIVE, _now(at)
    _bump(rnd, "status", "started_at")
    return rnd


@transaction.atomic
def round_close(
    *,
    round: Round,
    by: Any,
    at: dt.datetime | None = None,
    version: int | None = None,
) -> Round:
    """End the inspection; the results are reviewed before publication."""
    rnd = _lock(round, by, version=version)
    _require_status(rnd, RoundStatus.ACTIVE, doing=_("close it"))
    rnd.status, rnd.closed_at = RoundStatus.CLOSED, _now(at)
    _bump(rnd, "status", "closed_at")
    return rnd


@transaction.atomic
def round_publish(
    *,
    round: Round,
    by: Any,
    at: dt.datetime | None = None,
    version: int | None = None,
) -> Round:
    """Publish the results: the round becomes visible to the inspected units, and every
    finding becomes a rectification case, in the same transaction."""
    from .rectification import findings_open_cases

    rnd = _lock(round, by, version=version)
    _require_status(rnd, RoundStatus.CLOSED, doing=_("publish it"))
    now = _now(at)
    rnd.status, rnd.published_at, rnd.published_by = RoundStatus.PUBLISHED, now, by
    _bump(rnd, "status", "published_at", "published_by")
    findings_open_cases(round=rnd, by=by, at=now)
    return rnd
