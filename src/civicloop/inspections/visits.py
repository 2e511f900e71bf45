"""Visits: what an inspector records at a sampled location, scored on the server.

``visit_submit`` is the one writer of a visit, whether it comes from the phone pages
(``views/inspect.py``) or from an ODK/KoboCollect export (``submissions_import``):

* **Who.** The inspector the location is assigned to (any of the round's inspectors while
  it is unassigned), while the round is being inspected (``policy.may_inspect``). An
  export is imported by the round's owners on behalf of the assigned inspector.
* **Idempotent.** The phone makes ``client_uuid`` when the draft starts; a draft sent
  twice (a retry after a dropped connection whose answer was lost) is answered with the
  visit the first one made, unchanged. The same id for another location is a conflict.
* **Complete.** Every item of the location's pinned standard version is checked exactly
  once (a look-back round instead rechecks every finding the earlier round made at the
  site). Everything, photos included, is checked before anything is written, in one
  transaction; photo files written before a failure are deleted.
* **Scored here.** Scores come from ``scoring.score_location`` over the checks, never
  from the client. Each check that deducts or hits a veto is a ``Finding`` for the item's
  unit (else the site's), which becomes a rectification case when the round is published.
* **Where.** The device position (WGS-84, or GCJ-02 converted) is measured against the
  site's geometry in metres; further than the round's tolerance the visit is flagged
  ``off_site``. Without a position nothing is flagged, but ``distance_m`` stays empty
  and the pages say "no GPS".
* **Photos.** Only the stripped copy (``cases.evidence.photo_check``: no EXIF, no GPS)
  is kept, in private storage; its capture time and position are kept in columns.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from civicloop.cases.evidence import CheckedPhoto, photo_check
from civicloop.core.errors import (
    CivicError,
    ConflictError,
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.org import policy
from civicloop.places.coords import gcj02_to_wgs84

from .models import (
    DeductionRule,
    Finding,
    Item,
    ItemCheck,
    LocationStatus,
    Recheck,
    Round,
    RoundLocation,
    RoundStatus,
    Standard,
    Visit,
    VisitPhoto,
    VisitSource,
)
from .scoring import (
    ItemResult,
    ItemRule,
    LocationScore,
    item_key,
    rule_of,
    rules_for,
    score_location,
)

MAX_OCCURRENCES = 999
MAX_PHOTOS = 60
MAX_NOTE = 4000
MAX_CHECK_TEXT = 2000
MAX_ACCURACY_M = 100_000.0
CRS_CHOICES = ("wgs84", "gcj02")
# Derives the visit id of an imported submission from its instanceID, so a second import
# of the same export finds the visits the first one made.
SUBMISSION_NAMESPACE = uuid.UUID("6f1c5d1e-8a0b-4a43-9b0e-2f7e3c1d9a55")


@dataclass(frozen=True)
class CheckInput:
    """What the inspector found for one item of the standard."""

    item_id: int
    occurrences: int = 0
    veto_hit: bool = False
    not_applicable: bool = False
    note: str = ""
    description: str = ""  # the finding's text; the item's content when empty


@dataclass(frozen=True)
class RecheckInput:
    """A look-back verdict on one finding of the earlier round: still fixed, or recurred."""

    finding_id: int
    recurred: bool
    note: str = ""


@dataclass(frozen=True)
class PhotoInput:
    """A photo taken at the visit, of an item (or, at a look-back, of an earlier finding)."""

    upload: Any
    item_id: int | None = None
    finding_id: int | None = None


# ---- reading the input ------------------------------------------------------------------------


def _whole(value: Any, *, what: str, field_name: str, low: int = 0, high: int | None = None) -> int:
    """A whole number given as an int or as digits; refused with a readable reason otherwise."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
        number = int(value)
    if number is None or number < low or (high is not None and number > high):
        if high is None:
            message = _("%(what)s must be a whole number, not “%(value)s”.")
        else:
            message = _(
                "%(what)s must be a whole number from %(low)d to %(high)d, not “%(value)s”."
            )
        raise ValidationFailed(
            message % {"what": what, "value": value, "low": low, "high": high or 0},
            field=field_name,
        )
    return number


def _flag(value: Any, *, what: str, field_name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ValidationFailed(_("%(what)s must be yes or no.") % {"what": what}, field=field_name)


def _text(value: Any, *, what: str, field_name: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(_("%(what)s must be text.") % {"what": what}, field=field_name)
    text = value.strip()
    if len(text) > max_length:
        raise ValidationFailed(
            _("%(what)s is longer than %(max)d characters.") % {"what": what, "max": max_length},
            field=field_name,
        )
    return text


def parse_client_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except (TypeError, ValueError, AttributeError):
        raise ValidationFailed(
            _("The draft id “%(value)s” is not a UUID.") % {"value": value}, field="client_uuid"
        ) from None


def _moment(value: Any, *, what: str, field_name: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    moment = value if isinstance(value, dt.datetime) else None
    if isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            moment = None
    if moment is None:
        raise ValidationFailed(
            _("%(what)s “%(value)s” is not a date and time.") % {"what": what, "value": value},
            field=field_name,
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _coordinate(value: Any, *, limit: float, what: str, field_name: str) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or abs(number) > limit:
        raise ValidationFailed(
            _(
                "%(what)s must be a number between -%(limit)d and %(limit)d degrees, not “%(value)s”."
            )
            % {"what": what, "limit": limit, "value": value},
            field=field_name,
        )
    return number


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    accuracy_m: float | None


def clean_position(
    lat: Any, lon: Any, accuracy_m: Any = None, crs: str = "wgs84"
) -> Position | None:
    """The device position in WGS-84, or None when none was given; refused when half or wrong."""
    blank_lat = lat is None or lat == ""
    blank_lon = lon is None or lon == ""
    if blank_lat and blank_lon:
        return None
    if blank_lat or blank_lon:
        raise ValidationFailed(
            _("Give both latitude and longitude, or neither."), field="lat" if blank_lat else "lon"
        )
    normalised = str(crs or "").strip().lower().replace("-", "").replace("_", "")
    if normalised not in CRS_CHOICES:
        raise ValidationFailed(
            _("Unknown coordinate system “%(crs)s”; use “wgs84” or “gcj02”.") % {"crs": crs},
            field="crs",
        )
    lat_value = _coordinate(lat, limit=90, what=_("Latitude"), field_name="lat")
    lon_value = _coordinate(lon, limit=180, what=_("Longitude"), field_name="lon")
    accuracy: float | None = None
    if accuracy_m is not None and accuracy_m != "":
        try:
            accuracy = float(accuracy_m)
        except (TypeError, ValueError):
            accuracy = None
        if isinstance(accuracy_m, bool) or accuracy is None or not 0 <= accuracy <= MAX_ACCURACY_M:
            raise ValidationFailed(
                _("The GPS accuracy must be a number of metres from 0 to %(max)d, not “%(value)s”.")
                % {"max": MAX_ACCURACY_M, "value": accuracy_m},
                field="accuracy_m",
            )
    if normalised == "gcj02":
        lat_value, lon_value = gcj02_to_wgs84(lat_value, lon_value)
    return Position(lat=lat_value, lon=lon_value, accuracy_m=accuracy)


def distance_to_site(geometry: Any, lat: float, lon: float) -> float:
    """Metres from (lat, lon) to a WGS-84 geometry, 0 inside it.

    Measured on an azimuthal equidistant projection centred within a kilometre of the point
    (the centre is the point rounded to 0.01°, so the projection is built once per
    neighbourhood, not per visit): over the few hundred metres between a phone and its site
    the scale error there is below a millionth.
    """
    import shapely
    from shapely.geometry import Point

    local = _local_projection(round(lat, 2), round(lon, 2))
    projected = shapely.transform(geometry, local.transform, interleaved=False)
    x, y = local.transform(lon, lat)
    return float(projected.distance(Point(x, y)))


@functools.lru_cache(maxsize=256)
def _local_projection(lat0: float, lon0: float) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(
        "EPSG:4326",
        f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs",
        always_xy=True,
    )


def _item_label(item: Item) -> str:
    content = " ".join(item.content.split())
    if len(content) > 40:
        content = content[:39] + "…"
    return f"{item.section.position}.{item.position} {content}"


# ---- who -------------------------------------------------------------------------------------------


def _authorise(*, location: RoundLocation, by: Any, source: str) -> Any:
    """The inspector the visit is recorded for; refuses anybody else."""
    rnd = location.round
    importing = source == VisitSource.XLSFORM and policy.may_manage_round(by, rnd)
    if importing:
        if rnd.status != RoundStatus.ACTIVE:
            raise TransitionRefused(_("Visits are recorded only while a round is being inspected."))
        return location.inspector or by
    if policy.may_inspect(by, location):
        return by
    if not policy.visible_rounds(by).filter(pk=rnd.pk).exists():
        raise NotFoundOrForbidden(_("No such location to inspect, or it is not yours."))
    if rnd.status != RoundStatus.ACTIVE:
        raise TransitionRefused(
            _("The round “%(round)s” is not being inspected: visits can no longer be recorded.")
            % {"round": rnd.name}
        )
    raise PermissionRefused(_("This location is assigned to another inspector."))


def inspectable_locations(user: Any) -> QuerySet[RoundLocation]:
    """The locations of rounds being inspected that ``user`` may visit (``policy.may_inspect``)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return RoundLocation.objects.none()
    rounds = policy.visible_rounds(user).filter(status=RoundStatus.ACTIVE)
    assigned = Q(inspector=user) | Q(
        inspector__isnull=True,
        round__in=Round.inspectors.through.objects.filter(user_id=user.pk).values("round_id"),
    )
    return RoundLocation.objects.filter(round__in=rounds.values("pk")).filter(assigned)


def earlier_findings(location: RoundLocation) -> QuerySet[Finding]:
    """At a look-back location: the findings of the earlier round at the same site."""
    rnd = location.round
    if rnd.lookback_of_id is None:
        return Finding.objects.none()
    return (
        Finding.objects.filter(
            visit__location__round_id=rnd.lookback_of_id, visit__location__site_id=location.site_id
        )
        .select_related("item", "item__section", "unit")
        .order_by("item__section__position", "item__position", "id")
    )


# ---- checking everything before writing --------------------------------------------------------------


@dataclass
class _Plan:
    """A submission after every check, ready to be written."""

    checks: list[tuple[Item, CheckInput]] = field(default_factory=list)
    rechecks: list[tuple[Finding, RecheckInput]] = field(default_factory=list)
    photos: list[tuple[PhotoInput, CheckedPhoto]] = field(default_factory=list)
    score: LocationScore | None = None


def _clean_checks(standard: Standard, checks: Sequence[Any]) -> list[tuple[Item, CheckInput]]:
    items = {
        i.pk: i for i in Item.objects.filter(section__standard=standard).select_related("section")
    }
    seen: dict[int, CheckInput] = {}
    for raw in checks:
        if not isinstance(raw, CheckInput):
            raise ValidationFailed(_("Every item check must name an item."), field="checks")
        item_id = _whole(raw.item_id, what=_("The item"), field_name="checks")
        item = items.get(item_id)
        if item is None:
            other = Item.objects.filter(pk=item_id).select_related("section__standard").first()
            if other is None:
                message = _("Item %(item)s does not exist.") % {"item": item_id}
            else:
                message = _(
                    "“%(item)s” belongs to %(other)s, not to %(standard)s, the standard of this location."
                ) % {
                    "item": _item_label(other),
                    "other": other.section.standard,
                    "standard": standard,
                }
            raise ValidationFailed(message, field=f"item_{item_id}")
        if item_id in seen:
            raise ValidationFailed(
                _("“%(item)s” was checked twice.") % {"item": _item_label(item)},
                field=f"item_{item_id}",
            )
        label = _item_label(item)
        where = f"item_{item_id}"
        check = CheckInput(
            item_id=item_id,
            occurrences=_whole(
                raw.occurrences,
                what=_("The number of places found for “%(item)s”") % {"item": label},
                field_name=where,
                high=MAX_OCCURRENCES,
            ),
            veto_hit=_flag(
                raw.veto_hit, what=_("Whether the veto condition was found"), field_name=where
            ),
            not_applicable=_flag(raw.not_applicable, what=_("“Does not apply”"), field_name=where),
            note=_text(raw.note, what=_("The note"), field_name=where, max_length=MAX_CHECK_TEXT),
            description=_text(
                raw.description,
                what=_("The description"),
                field_name=where,
                max_length=MAX_CHECK_TEXT,
            ),
        )
        veto = item.rule == DeductionRule.VETO
        if check.veto_hit and not veto:
            raise ValidationFailed(
                _("“%(item)s” is not a veto item.") % {"item": label}, field=where
            )
        if veto and check.occurrences:
            raise ValidationFailed(
                _("“%(item)s” is a veto item: say whether it was found, not how many times.")
                % {"item": label},
                field=where,
            )
        if check.not_applicable and (check.occurrences or check.veto_hit):
            raise ValidationFailed(
                _("“%(item)s” cannot both not apply here and have been found.") % {"item": label},
                field=where,
            )
        seen[item_id] = check
    missing = [items[i] for i in items if i not in seen]
    if missing:
        missing.sort(key=lambda i: (i.section.position, i.position))
        raise ValidationFailed(
            _("These items were not checked: %(items)s.")
            % {"items": "; ".join(_item_label(i) for i in missing)},
            field="checks",
        )
    ordered = sorted(
        seen.values(), key=lambda c: (items[c.item_id].section.position, items[c.item_id].position)
    )
    return [(items[c.item_id], c) for c in ordered]


def _score(checks: Sequence[tuple[Item, CheckInput]], rules: list[ItemRule] | None = None) -> LocationScore:
    """Score checks. Cleaned checks hold every item of the standard, in order (``_clean_checks``),
    so by default the rules come from the items already read, not from a second query."""
    results = {
        item_key(item.section.position, item.position): ItemResult(
            occurrences=c.occurrences, veto_hit=c.veto_hit, not_applicable=c.not_applicable
        )
        for item, c in checks
    }
    return score_location(rules if rules is not None else [rule_of(item) for item, _c in checks], results)


def _clean_rechecks(
    location: RoundLocation, rechecks: Sequence[Any]
) -> list[tuple[Finding, RecheckInput]]:
    findings = {f.pk: f for f in earlier_findings(location)}
    seen: dict[int, RecheckInput] = {}
    for raw in rechecks:
        if not isinstance(raw, RecheckInput):
            raise ValidationFailed(
                _("Every look-back check must name a finding."), field="rechecks"
            )
        finding_id = _whole(raw.finding_id, what=_("The finding"), field_name="rechecks")
        if finding_id not in findings:
            raise ValidationFailed(
                _("Finding %(finding)s is not one of the earlier round's findings at this site.")
                % {"finding": finding_id},
                field=f"finding_{finding_id}",
            )
        if finding_id in seen:
            raise ValidationFailed(
                _("Finding %(finding)s was rechecked twice.") % {"finding": finding_id},
                field=f"finding_{finding_id}",
            )
        where = f"finding_{finding_id}"
        seen[finding_id] = RecheckInput(
            finding_id=finding_id,
            recurred=_flag(raw.recurred, what=_("Whether the problem recurred"), field_name=where),
            note=_text(raw.note, what=_("The note"), field_name=where, max_length=MAX_CHECK_TEXT),
        )
    missing = [f for pk, f in findings.items() if pk not in seen]
    if missing:
        raise ValidationFailed(
            _("These earlier findings were not rechecked: %(findings)s.")
            % {
                "findings": "; ".join(
                    f"{_item_label(f.item)} ({f.description[:40]})" for f in missing
                )
            },
            field="rechecks",
        )
    return [(findings[pk], seen[pk]) for pk in findings]


def _check_uploads(photos: Sequence[Any]) -> list[tuple[PhotoInput, CheckedPhoto]]:
    """Every upload read and checked (``photo_check``), before any lock is taken or row written."""
    if len(photos) > MAX_PHOTOS:
        raise ValidationFailed(
            _("At most %(max)d photos can be sent with one visit.") % {"max": MAX_PHOTOS},
            field="photos",
        )
    out: list[tuple[PhotoInput, CheckedPhoto]] = []
    for raw in photos:
        if not isinstance(raw, PhotoInput) or raw.upload is None:
            raise ValidationFailed(_("A photo is missing its file."), field="photos")
        try:
            checked = photo_check(raw.upload)
        except CivicError as exc:
            exc.field = exc.field or "photos"
            raise
        out.append((raw, checked))
    return out


def _clean_photos(
    photos: Sequence[tuple[PhotoInput, CheckedPhoto]],
    *,
    item_ids: set[int],
    finding_ids: set[int],
    lookback: bool,
) -> list[tuple[PhotoInput, CheckedPhoto]]:
    """The checked photos, each for an item checked (or an earlier finding rechecked) here."""
    out: list[tuple[PhotoInput, CheckedPhoto]] = []
    for raw, checked in photos:
        item_id = (
            None
            if raw.item_id is None
            else _whole(raw.item_id, what=_("The photo's item"), field_name="photos")
        )
        finding_id = (
            None
            if raw.finding_id is None
            else _whole(raw.finding_id, what=_("The photo's finding"), field_name="photos")
        )
        if item_id is not None and (lookback or item_id not in item_ids):
            raise ValidationFailed(
                _("A photo is for item %(item)s, which is not checked at this location.")
                % {"item": item_id},
                field="photos",
            )
        if finding_id is not None and finding_id not in finding_ids:
            raise ValidationFailed(
                _("A photo is for finding %(finding)s, which is not rechecked at this location.")
                % {"finding": finding_id},
                field="photos",
            )
        out.append((PhotoInput(upload=raw.upload, item_id=item_id, finding_id=finding_id), checked))
    return out


def _require_photos(plan: _Plan, *, score: LocationScore | None) -> None:
    by_item: dict[int, int] = {}
    by_finding: dict[int, int] = {}
    for photo, _checked in plan.photos:
        if photo.item_id is not None:
            by_item[photo.item_id] = by_item.get(photo.item_id, 0) + 1
        if photo.finding_id is not None:
            by_finding[photo.finding_id] = by_finding.get(photo.finding_id, 0) + 1
    for item, check in plan.checks:
        if not _deducts(item, check, score):
            continue
        if by_item.get(item.pk, 0) < item.photos_required:
            raise ValidationFailed(
                _("“%(item)s” needs %(count)d photo(s) of what was found; %(given)d given.")
                % {
                    "item": _item_label(item),
                    "count": item.photos_required,
                    "given": by_item.get(item.pk, 0),
                },
                field=f"item_{item.pk}",
            )
    for finding, recheck in plan.rechecks:
        needed = finding.item.photos_required
        if recheck.recurred and by_finding.get(finding.pk, 0) < needed:
            raise ValidationFailed(
                _("The recurred problem “%(finding)s” needs %(count)d photo(s); %(given)d given.")
                % {
                    "finding": finding.description[:60],
                    "count": needed,
                    "given": by_finding.get(finding.pk, 0),
                },
                field=f"finding_{finding.pk}",
            )


def _deducts(item: Item, check: CheckInput, score: LocationScore | None) -> bool:
    if score is None or check.not_applicable:
        return False
    result = score.item(item_key(item.section.position, item.position))
    return result.deduction > 0 or result.veto_hit


# ---- the action --------------------------------------------------------------------------------------


def visit_submit(
    *,
    location: RoundLocation,
    by: Any,
    client_uuid: Any,
    checks: Sequence[CheckInput] = (),
    rechecks: Sequence[RecheckInput] = (),
    photos: Sequence[PhotoInput] = (),
    lat: Any = None,
    lon: Any = None,
    accuracy_m: Any = None,
    crs: str = "wgs84",
    started_at: Any = None,
    recorded_at: Any = None,
    note: str = "",
    source: str = "web",
    at: dt.datetime | None = None,
) -> Visit:
    """Record the visit of one sampled location (see the module's docstring)."""
    at = at or timezone.now()
    draft_id = parse_client_uuid(client_uuid)
    if source not in VisitSource.values:
        raise ValidationFailed(
            _("Unknown source “%(source)s”.") % {"source": source}, field="source"
        )
    # Cheap answers first, without locks: a draft sent again, or a person who may not inspect
    # here. Only then are the photos decoded, still outside the transaction and its locks.
    current = RoundLocation.objects.select_related("round", "site").filter(pk=location.pk).first()
    if current is None:
        raise NotFoundOrForbidden(_("No such location to inspect, or it is not yours."))
    repeat = _repeat(draft_id, current, by, source)
    if repeat is not None:
        return repeat
    _authorise(location=current, by=by, source=source)
    checked = _check_uploads(photos)
    written: list[tuple[Storage, str]] = []
    try:
        with transaction.atomic():
            return _submit(
                location_id=location.pk,
                by=by,
                draft_id=draft_id,
                checks=checks,
                rechecks=rechecks,
                photos=checked,
                position=(lat, lon, accuracy_m, crs),
                started_at=started_at,
                recorded_at=recorded_at,
                note=note,
                source=source,
                at=at,
                written=written,
            )
    except BaseException:
        for storage, name in written:
            try:
                storage.delete(name)
            except OSError:
                pass
        raise


def _repeat(draft_id: uuid.UUID, location: RoundLocation, by: Any, source: str) -> Visit | None:
    """The visit this very draft made already, if it did: its answer stands, unchanged."""
    existing = Visit.objects.filter(client_uuid=draft_id, location_id=location.pk).first()
    if existing is None:
        return None
    if existing.inspector_id == getattr(by, "pk", None):
        return existing
    if source == VisitSource.XLSFORM and policy.may_manage_round(by, location.round):
        return existing  # the same export imported again
    return None


def _submit(
    *,
    location_id: int,
    by: Any,
    draft_id: uuid.UUID,
    checks: Sequence[Any],
    rechecks: Sequence[Any],
    photos: list[tuple[PhotoInput, CheckedPhoto]],
    position: tuple[Any, Any, Any, str],
    started_at: Any,
    recorded_at: Any,
    note: str,
    source: str,
    at: dt.datetime,
    written: list[tuple[Storage, str]],
) -> Visit:
    # The round first, then the location: the order every round action locks in.
    round_id = (
        RoundLocation.objects.filter(pk=location_id).values_list("round_id", flat=True).first()
    )
    if round_id is None:
        raise NotFoundOrForbidden(_("No such location to inspect, or it is not yours."))
    Round.objects.select_for_update().filter(pk=round_id).first()
    location = (
        RoundLocation.objects.select_for_update(of=("self",))
        .select_related("round", "site", "standard")
        .get(pk=location_id)
    )
    repeat = _repeat(draft_id, location, by, source)
    if repeat is not None:
        return repeat
    inspector = _authorise(location=location, by=by, source=source)
    if Visit.objects.filter(client_uuid=draft_id).exists():
        raise ConflictError(
            _("This draft was already submitted for another visit; start a new draft here."),
            field="client_uuid",
        )
    if Visit.objects.filter(location=location).exists():
        raise ConflictError(
            _("“%(site)s” has already been inspected in this round.") % {"site": location.site.name}
        )
    rnd = location.round
    lookback = rnd.lookback_of_id is not None

    note = _text(note, what=_("The note"), field_name="note", max_length=MAX_NOTE)
    place = clean_position(*position)
    started = _moment(started_at, what=_("The start time"), field_name="started_at")
    recorded = _moment(recorded_at, what=_("The time of recording"), field_name="recorded_at") or at
    # A phone's clock can run ahead: a visit is never recorded after it was received.
    recorded = min(recorded, at)
    if started is not None:
        started = min(started, recorded)

    plan = _Plan()
    if lookback:
        if checks:
            raise ValidationFailed(
                _("A look-back visit rechecks the earlier findings; it does not score the items."),
                field="checks",
            )
        plan.rechecks = _clean_rechecks(location, rechecks)
    else:
        if rechecks:
            raise ValidationFailed(
                _("Only a look-back round rechecks earlier findings."), field="rechecks"
            )
        plan.checks = _clean_checks(location.standard, checks)
        plan.score = _score(plan.checks)
    plan.photos = _clean_photos(
        photos,
        item_ids={i.pk for i, _c in plan.checks},
        finding_ids={f.pk for f, _r in plan.rechecks},
        lookback=lookback,
    )
    if source != VisitSource.XLSFORM:
        # Exports carry photos as file names only: the form itself required them on the phone.
        _require_photos(plan, score=plan.score)

    distance: float | None = None
    if place is not None:
        distance = distance_to_site(location.site.shape, place.lat, place.lon)
    tolerance = rnd.off_site_metres
    score = plan.score

    visit = Visit(
        location=location,
        inspector=inspector,
        client_uuid=draft_id,
        source=source,
        started_at=started,
        recorded_at=recorded,
        received_at=at,
        lat=place.lat if place else None,
        lon=place.lon if place else None,
        accuracy_m=place.accuracy_m if place else None,
        distance_m=None if distance is None else round(distance, 1),
        off_site=distance is not None and distance > tolerance,
        note=note,
        score=score.score if score else None,
        raw=score.raw_score if score else Decimal("0"),
        full=score.full_points if score else Decimal("0"),
        vetoed=score.vetoed if score else False,
    )
    try:
        with transaction.atomic():
            visit.save()
    except IntegrityError:
        raise ConflictError(
            _("“%(site)s” has already been inspected in this round.") % {"site": location.site.name}
        ) from None
    # Where the problem is: the visit's position when it was taken at the site and lies in a grid
    # (its rectification case needs one), else the site's own point: a visit recorded away from
    # the site, or from just across the city's edge, must not send the case there.
    at_site = place is not None and not visit.off_site and in_a_grid(visit.lat, visit.lon)
    point = (visit.lat, visit.lon) if at_site else _site_point(location)

    # Two INSERTs for all the checks and their findings (both databases return the new ids).
    rows: list[tuple[Item, CheckInput, ItemCheck, Any]] = []
    for item, check in plan.checks:
        assert score is not None
        result = score.item(item_key(item.section.position, item.position))
        row = ItemCheck(
            visit=visit,
            item=item,
            occurrences=check.occurrences,
            veto_hit=check.veto_hit,
            not_applicable=check.not_applicable,
            deduction=result.deduction,
            note=check.note,
        )
        rows.append((item, check, row, result))
    ItemCheck.objects.bulk_create([row for _i, _c, row, _r in rows])
    findings_by_item: dict[int, Finding] = {}
    for item, check, row, result in rows:
        if result.deduction > 0 or result.veto_hit:
            findings_by_item[item.pk] = Finding(
                visit=visit,
                item_check=row,
                item=item,
                deduction=result.deduction,
                description=(check.description or " ".join(item.content.split()))[:MAX_CHECK_TEXT],
                unit_id=item.unit_id or location.site.unit_id,
                lat=point[0],
                lon=point[1],
            )
    Finding.objects.bulk_create(list(findings_by_item.values()))
    recurrences: dict[int, Finding] = {}
    for original, recheck in plan.rechecks:
        Recheck.objects.create(
            visit=visit, finding=original, recurred=recheck.recurred, note=recheck.note
        )
        if recheck.recurred:
            recurrences[original.pk] = Finding.objects.create(
                visit=visit,
                item=original.item,
                deduction=original.deduction,
                description=(recheck.note or original.description)[:MAX_CHECK_TEXT],
                unit_id=original.unit_id,
                lat=point[0] if at_site else original.lat,
                lon=point[1] if at_site else original.lon,
                recurrence_of=original,
            )
    originals = {f.pk: f for f, _r in plan.rechecks}
    for photo, checked in plan.photos:
        item_id = photo.item_id
        finding = findings_by_item.get(item_id) if item_id is not None else None
        if photo.finding_id is not None:
            item_id = originals[photo.finding_id].item_id
            finding = recurrences.get(photo.finding_id)
        _photo_save(visit=visit, item_id=item_id, finding=finding, checked=checked, written=written)

    RoundLocation.objects.filter(pk=location.pk).update(status=LocationStatus.DONE)
    location.status = LocationStatus.DONE
    return visit


def _site_point(location: RoundLocation) -> tuple[float, float]:
    """A point of the site inside its own area (so inside a grid of the city)."""
    site = location.site
    inside = site.shape.intersection(site.area.shape)
    point = (site.shape if inside.is_empty else inside).representative_point()
    return point.y, point.x


def in_a_grid(lat: float, lon: float) -> bool:
    from civicloop.places.index import grid_for_point

    try:
        grid_for_point(lat=lat, lon=lon)
    except CivicError:
        return False
    return True


def _photo_save(
    *,
    visit: Visit,
    item_id: int | None,
    finding: Finding | None,
    checked: CheckedPhoto,
    written: list[tuple[Storage, str]],
) -> VisitPhoto:
    photo = VisitPhoto(
        visit=visit,
        item_id=item_id,
        finding=finding,
        sha256=checked.sha256,
        taken_at=checked.exif.taken_at,
        gps_lat=checked.exif.gps_lat,
        gps_lon=checked.exif.gps_lon,
        width=checked.public_width,
        height=checked.public_height,
    )
    # Only the stripped copy: the original (with its EXIF) is never stored.
    photo.image.save("photo.jpg", ContentFile(checked.public, name="photo.jpg"), save=False)
    written.append((photo.image.storage, photo.image.name or ""))
    photo.save()
    return photo


# ---- re-scoring ---------------------------------------------------------------------------------------


@transaction.atomic
def visit_rescore(visit: Visit) -> Visit:
    """Score a stored visit again from its item checks; changes nothing when nothing changed."""
    visit = (
        Visit.objects.select_for_update(of=("self",))
        .select_related("location__standard")
        .get(pk=visit.pk)
    )
    stored = list(ItemCheck.objects.filter(visit=visit).select_related("item__section"))
    if not stored:
        return visit  # a look-back visit: rechecks, no score
    standard = visit.location.standard
    score = _score(
        [
            (
                c.item,
                CheckInput(
                    item_id=c.item_id,
                    occurrences=c.occurrences,
                    veto_hit=c.veto_hit,
                    not_applicable=c.not_applicable,
                ),
            )
            for c in stored
        ],
        rules_for(standard),
    )
    changed = [
        name
        for name, value in (
            ("score", score.score),
            ("raw", score.raw_score),
            ("full", score.full_points),
            ("vetoed", score.vetoed),
        )
        if getattr(visit, name) != value
    ]
    visit.score, visit.raw, visit.full, visit.vetoed = (
        score.score,
        score.raw_score,
        score.full_points,
        score.vetoed,
    )
    if changed:
        visit.save(update_fields=changed)
    findings = {
        f.item_check_id: f for f in Finding.objects.filter(visit=visit, item_check__isnull=False)
    }
    for check in stored:
        deduction = score.item(item_key(check.item.section.position, check.item.position)).deduction
        if check.deduction != deduction:
            check.deduction = deduction
            check.save(update_fields=["deduction"])
        finding = findings.get(check.pk)
        if finding is not None and finding.deduction != deduction:
            finding.deduction = deduction
            finding.save(update_fields=["deduction"])
    return visit


# ---- ODK / KoboCollect exports ------------------------------------------------------------------------------


@dataclass
class ImportRow:
    row: int
    location: RoundLocation | None = None
    visit: Visit | None = None
    repeated: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import did: nothing at all unless every row was good."""

    rows: list[ImportRow] = field(default_factory=list)

    @property
    def written(self) -> bool:
        return bool(self.rows) and not self.errors

    @property
    def errors(self) -> list[ImportRow]:
        return [r for r in self.rows if r.problems]

    @property
    def created(self) -> int:
        return sum(
            1 for r in self.rows if r.visit is not None and not r.repeated and not r.problems
        )

    @property
    def repeated(self) -> int:
        return sum(1 for r in self.rows if r.repeated and not r.problems)


LOCATION_CODE = re.compile(r"^\s*[Ll#]?-?\s*(\d{1,12})\s*$")


def location_code(location: RoundLocation) -> str:
    """What the inspector types as ``location_code`` in the XLSForm: ``L`` and the location's id."""
    return f"L{location.pk}"


def _raw_rows(data: bytes) -> dict[int, dict[str, Any]]:
    """Row number → {lower-case header → cell} of the export's first sheet."""
    from .tables import table_sheets, take_rows

    for _title, rows in table_sheets(data):
        taken = take_rows(rows)
        if not taken:
            continue
        _number, headers = taken[0]
        out: dict[int, dict[str, Any]] = {}
        for number, cells in taken[1:]:
            out[number] = {
                str(h).strip().lower(): cells[i] if i < len(cells) else None
                for i, h in enumerate(headers)
                if h is not None and str(h).strip()
            }
        return out
    return {}


def _cell(row: Mapping[str, Any], *names: str) -> str:
    from .tables import cell_text

    for name in names:
        value = cell_text(row.get(name))
        if value:
            return value
    return ""


def _match_location(
    row: Mapping[str, Any], code: str, name: str, locations: Sequence[RoundLocation]
) -> RoundLocation | str:
    """The row's location, or why none matches."""
    by_id = {loc.pk: loc for loc in locations}
    wanted = code or _cell(row, "location_id", "location")
    if wanted:
        match = LOCATION_CODE.match(wanted)
        found = by_id.get(int(match.group(1))) if match else None
        if found is None:
            return _("No location “%(code)s” in this round.") % {"code": wanted}
        return found
    site = name or _cell(row, "site", "site_name")
    if site:
        by_site = [loc for loc in locations if str(loc.site_id) == site or loc.site.name == site]
        if len(by_site) == 1:
            return by_site[0]
        if by_site:
            return _(
                "Several locations of this round are called “%(site)s”: give the location code."
            ) % {"site": site}
        return _("No location “%(site)s” in this round.") % {"site": site}
    return _("The row names no location (location_code, location_id or site).")


def _gps(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """(lat, lon, accuracy) as the tools export a geopoint: Kobo's split columns, ODK Central's,
    or the one "lat lon altitude accuracy" text."""
    lat = _cell(row, "_gps_latitude", "gps-latitude", "gps_latitude")
    lon = _cell(row, "_gps_longitude", "gps-longitude", "gps_longitude")
    accuracy = _cell(row, "_gps_precision", "gps-accuracy", "gps_accuracy")
    if not (lat and lon):
        parts = _cell(row, "gps").split()
        if len(parts) >= 2:
            lat, lon = parts[0], parts[1]
            accuracy = parts[3] if len(parts) >= 4 else ""
    return lat, lon, accuracy


def _submission_uuid(submission_id: str) -> uuid.UUID:
    bare = re.sub(r"^uuid:", "", submission_id.strip(), flags=re.IGNORECASE)
    return uuid.uuid5(SUBMISSION_NAMESPACE, bare)


def submissions_import(
    *, round: Round, by: Any, data: bytes, at: dt.datetime | None = None
) -> ImportResult:
    """Import an ODK/KoboCollect export (CSV or XLSX) of the round's XLSForm as visits.

    Each row is matched to a location of the round (``location_code`` of the form:
    ``L<id>`` as the phone pages show it; else a ``location_id`` column, or the site's
    name in ``location_name`` / ``site``), re-scored against that location's pinned
    standard and recorded with ``visit_submit`` (source "xlsform", the visit id derived
    from the submission's ``instanceID``, so a second import of the same export changes
    nothing). Nothing is written unless every row is good; every row's problems are
    reported.
    """
    from .submissions import submissions_rescore_file

    at = at or timezone.now()
    rnd = Round.objects.filter(pk=round.pk).first()
    if rnd is None or not policy.visible_rounds(by).filter(pk=rnd.pk).exists():
        raise NotFoundOrForbidden(_("No such inspection round, or it is not yours to see."))
    if not policy.may_manage_round(by, rnd):
        raise PermissionRefused(_("Only the round's campaign office imports submissions."))
    if rnd.status != RoundStatus.ACTIVE:
        raise TransitionRefused(_("Visits are recorded only while a round is being inspected."))
    if rnd.lookback_of_id is not None:
        raise ValidationFailed(
            _("A look-back round rechecks findings on the phone pages; the XLSForm scores items."),
            field="file",
        )
    raw = _raw_rows(data)
    if not raw:
        raise ValidationFailed(_("The file holds no submissions."), field="file")
    locations = list(rnd.locations.select_related("site", "standard", "inspector"))
    rescored: dict[int, dict[int, Any]] = {}
    keys: dict[int, dict[str, int]] = {}
    result = ImportResult()
    rows: list[tuple[ImportRow, Any]] = []
    for number, cells in raw.items():
        row = ImportRow(row=number)
        result.rows.append(row)
        found = _match_location(
            cells, _cell(cells, "location_code"), _cell(cells, "location_name"), locations
        )
        if isinstance(found, str):
            row.problems.append(found)
            continue
        row.location = found
        standard = found.standard
        if standard.pk not in rescored:
            rescored[standard.pk] = {r.row: r for r in submissions_rescore_file(standard, data)}
            keys[standard.pk] = {
                item_key(i.section.position, i.position): i.pk
                for i in Item.objects.filter(section__standard=standard).select_related("section")
            }
        submission = rescored[standard.pk].get(number)
        if submission is None or submission.result is None:
            row.problems.extend(
                submission.problems if submission else [_("The row could not be read.")]
            )
            continue
        if not submission.result.submission_id:
            row.problems.append(
                _("The row has no instanceID (or _uuid): it could not be imported twice safely.")
            )
            continue
        rows.append((row, submission.result))

    with transaction.atomic():
        for row, submission in rows:
            assert row.location is not None
            item_ids = keys[row.location.standard_id]
            lat, lon, accuracy = _gps(raw[row.row])
            draft_id = _submission_uuid(submission.submission_id)
            before = Visit.objects.filter(client_uuid=draft_id).exists()
            try:
                row.visit = visit_submit(
                    location=row.location,
                    by=by,
                    client_uuid=draft_id,
                    checks=[
                        CheckInput(
                            item_id=item_ids[key],
                            occurrences=r.occurrences,
                            veto_hit=r.veto_hit,
                            not_applicable=r.not_applicable,
                        )
                        for key, r in submission.results.items()
                    ],
                    lat=lat or None,
                    lon=lon or None,
                    accuracy_m=accuracy or None,
                    started_at=_cell(raw[row.row], "start") or None,
                    recorded_at=_cell(raw[row.row], "end") or None,
                    source=VisitSource.XLSFORM,
                    at=at,
                )
                row.repeated = before
            except CivicError as exc:
                row.problems.append(exc.message)
        if result.errors:
            transaction.set_rollback(True)
            for row in result.rows:
                row.visit = None if not row.repeated else row.visit
    return result
