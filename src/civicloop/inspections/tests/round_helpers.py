"""Sites, standards and rounds for tests, made through the real actions.

Shared by every inspections test module; keep the signatures stable.

* ``make_standards(city)`` → ``{"old_community": Standard, "back_street": Standard}``, both
  published (created once; later calls return the same versions).
* ``make_sites(city)`` → seven small sites (created once), keyed:

  ========== ============== ========= ================= ====
  key        type           community unit              grid
  ========== ============== ========= ================= ====
  c1_street  back_street    c1        jwc1              g1
  c1_old     old_community  c1        wy                g2
  c1_old2    old_community  c1        jwc1              g2
  c2_street  back_street    c2        hwc               g3
  c2_old     old_community  c2        jdA               g3
  c3_street  back_street    c3        jwc3              g4
  c3_old     old_community  c3        jwc3              g4
  ========== ============== ========= ================= ====

  Sites in dA (street sA): the first five; in dB (street sB): the c3 ones.
* ``make_round(city, kind=..., status=..., ...)`` → a round brought to ``status`` by the
  real actions (create → assign → draw → start → close → publish). By default every site of
  the area is sampled (``per_stratum=10``) and assigned to the persona ``inspector`` (dA), or,
  for an area outside district A, to ``inspector_b`` (an inspector of dB, made on demand).
* ``make_inspector(city, key, area)`` → another user with the inspector role.
* ``advance(city, rnd, status)`` → an existing round moved forward by the real actions.
* ``record_visit(location, found={(1, 1): 2}, vetoes=[(2, 3)])`` → a visit through
  ``visits.visit_submit`` with every item checked and the photos deductions need.
* ``site_point(site)`` → ``(lat, lon)`` inside a site's geometry.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from shapely.geometry import box

from civicloop.inspections.models import (
    Item,
    LocationType,
    Round,
    RoundKind,
    RoundLocation,
    RoundStatus,
    Site,
    Standard,
    StandardStatus,
    Visit,
)
from civicloop.inspections.rounds import (
    round_assign,
    round_close,
    round_create,
    round_draw,
    round_publish,
    round_start,
)
from civicloop.inspections.sites import site_create
from civicloop.org.models import Role, RoleAssignment, User
from civicloop.testing import LAT0, LON0, STEP, T0, TestCity

from .helpers import make_standard, old_community_sections

SEED = 20261117
STANDARD_CODES = {LocationType.OLD_COMMUNITY: "LXXQ", LocationType.BACK_STREET: "BJXX"}

# key: (name, location type, unit key, (west, south, east, north) in STEPs from (LON0, LAT0))
SITES: dict[str, tuple[str, str, str, tuple[float, float, float, float]]] = {
    "c1_street": ("幸福巷", LocationType.BACK_STREET, "jwc1", (0.2, 1.4, 1.6, 1.5)),
    "c1_old": ("幸福里小区", LocationType.OLD_COMMUNITY, "wy", (1.2, 0.2, 1.7, 0.7)),
    "c1_old2": ("光明小区", LocationType.OLD_COMMUNITY, "jwc1", (0.2, 0.2, 0.7, 0.7)),
    "c2_street": ("和平巷", LocationType.BACK_STREET, "hwc", (2.2, 1.4, 2.8, 1.5)),
    "c2_old": ("和平小区", LocationType.OLD_COMMUNITY, "jdA", (2.2, 0.2, 2.7, 0.7)),
    "c3_street": ("团结巷", LocationType.BACK_STREET, "jwc3", (3.2, 1.4, 3.8, 1.5)),
    "c3_old": ("团结小区", LocationType.OLD_COMMUNITY, "jwc3", (3.2, 0.2, 3.7, 0.7)),
}


def site_box(west: float, south: float, east: float, north: float) -> Any:
    """A shapely box given in STEPs from the test city's south-west corner."""
    return box(LON0 + west * STEP, LAT0 + south * STEP, LON0 + east * STEP, LAT0 + north * STEP)


def site_point(site: Site) -> tuple[float, float]:
    """(lat, lon) of a point inside the site."""
    p = site.shape.representative_point()
    return p.y, p.x


def make_standards(city: TestCity) -> dict[str, Standard]:
    """The published old-community (LXXQ) and back-street (BJXX) standards."""
    result: dict[str, Standard] = {}
    for location_type, code in STANDARD_CODES.items():
        standard = Standard.objects.filter(code=code, status=StandardStatus.PUBLISHED).first()
        if standard is None:
            standard = make_standard(
                city,
                code=code,
                publish=True,
                location_type=location_type,
                name="老旧小区测评标准"
                if location_type == LocationType.OLD_COMMUNITY
                else "背街小巷测评标准",
                sections=old_community_sections(city),
            )
        result[str(location_type)] = standard
    return result


def make_sites(city: TestCity) -> dict[str, Site]:
    """The seven test sites (see the module docstring), created once."""
    by = city.users["campaign_office"]
    sites: dict[str, Site] = {}
    for key, (name, location_type, unit, bounds) in SITES.items():
        site = Site.objects.filter(name=name, location_type=location_type).first()
        if site is None:
            site = site_create(
                by=by,
                name=name,
                location_type=location_type,
                geometry=site_box(*bounds),
                unit=city.units[unit],
            )
        sites[key] = site
    return sites


def make_inspector(city: TestCity, key: str = "inspector2", area: str = "dA") -> User:
    """Another inspector (督查员) bound to ``area``; registered in ``city.users[key]``."""
    user = User.objects.filter(username=key).first()
    if user is None:
        user = User.objects.create_user(username=key, password="pw", display_name=key)
        RoleAssignment.objects.create(user=user, role=Role.INSPECTOR, area=city.areas[area])
    city.users[key] = user
    return user


def default_inspectors(city: TestCity, area: str) -> tuple[str, ...]:
    """The persona ``inspector`` (dA) when the area overlaps district A, else ``inspector_b``
    (made on demand, bound to dB)."""
    path, own = city.areas[area].path, city.areas["dA"].path
    if path.startswith(own) or own.startswith(path):
        return ("inspector",)
    make_inspector(city, "inspector_b", "dB")
    return ("inspector_b",)


_ORDER = [RoundStatus.DRAFT, RoundStatus.ACTIVE, RoundStatus.CLOSED, RoundStatus.PUBLISHED]


def make_round(
    city: TestCity,
    *,
    kind: str = RoundKind.UNDERCOVER,
    status: str = RoundStatus.DRAFT,
    area: str = "dA",
    name: str | None = None,
    per_stratum: int = 10,
    stratify: str = "street",
    seed: int = SEED,
    inspectors: Iterable[str] | None = None,
    draw: bool = True,
    by: str = "campaign_office",
    at: dt.datetime = T0,
    **plan: Any,
) -> Round:
    """A round over ``city.areas[area]`` with both test standards, brought to ``status``.

    Made at ``at``; drawn 5 minutes later, started after an hour, closed after 7 days and
    published after 8. ``draw=False`` keeps a draft round without a sample (and without
    inspectors). ``plan`` passes further ``round_create`` arguments (type_weights, …).
    """
    target = _ORDER.index(RoundStatus(status))
    standards = make_standards(city)
    make_sites(city)
    actor = city.users[by]
    rnd = round_create(
        by=actor,
        name=name or f"{RoundKind(kind).label} {at:%Y-%m}",
        kind=kind,
        area=city.areas[area],
        period_start=plan.pop("period_start", at.date()),
        period_end=plan.pop("period_end", at.date() + dt.timedelta(days=13)),
        standards=plan.pop("standards", list(standards.values())),
        stratify=stratify,
        per_stratum=per_stratum,
        at=at,
        **plan,
    )
    if not draw and target == 0:
        return rnd
    if inspectors is None:
        inspectors = default_inspectors(city, area)
    users = [city.users[key] for key in inspectors]
    if users:
        rnd = round_assign(round=rnd, by=actor, inspectors=users)
    rnd = round_draw(round=rnd, by=actor, seed=seed, at=at + dt.timedelta(minutes=5))
    if target >= 1:
        rnd = round_start(round=rnd, by=actor, at=at + dt.timedelta(hours=1))
    if target >= 2:
        rnd = round_close(round=rnd, by=actor, at=at + dt.timedelta(days=7))
    if target >= 3:
        rnd = round_publish(round=rnd, by=actor, at=at + dt.timedelta(days=8))
    return rnd


def record_visit(
    location: RoundLocation,
    *,
    found: dict[tuple[int, int], int] | None = None,
    vetoes: Iterable[tuple[int, int]] = (),
    by: User | None = None,
    at: dt.datetime | None = None,
) -> Visit:
    """Submit a visit of ``location`` through ``visits.visit_submit``, standing inside the site.

    Every item of the location's standard is checked; ``found`` maps ``(section position, item
    position)`` to occurrences, ``vetoes`` lists veto items hit. Items that deduct get the photos
    they require. By the location's inspector (else the round's first), at ``T0`` + 2 hours.
    """
    from civicloop.inspections.visits import CheckInput, PhotoInput, visit_submit
    from civicloop.testing import jpeg_upload

    found, vetoed = dict(found or {}), set(vetoes)
    checks, photos = [], []
    items = Item.objects.filter(section__standard=location.standard).select_related("section")
    for item in items.order_by("section__position", "position"):
        key = (item.section.position, item.position)
        occurrences, veto_hit = found.pop(key, 0), key in vetoed
        checks.append(
            CheckInput(
                item_id=item.pk,
                occurrences=occurrences,
                veto_hit=veto_hit,
                description=f"{item.content}（{occurrences or 1}处）"
                if occurrences or veto_hit
                else "",
            )
        )
        if occurrences or veto_hit:
            photos += [
                PhotoInput(upload=jpeg_upload(f"p{item.pk}-{n}.jpg"), item_id=item.pk)
                for n in range(item.photos_required)
            ]
    if found:
        raise ValueError(f"no such items in {location.standard}: {sorted(found)}")
    lat, lon = site_point(location.site)
    inspector = by or location.inspector or location.round.inspectors.order_by("pk").first()
    return visit_submit(
        location=location,
        by=inspector,
        client_uuid=uuid.uuid4(),
        checks=checks,
        photos=photos,
        lat=lat,
        lon=lon,
        at=at or T0 + dt.timedelta(hours=2),
    )


def advance(
    city: TestCity,
    rnd: Round,
    status: str,
    *,
    by: str = "campaign_office",
    at: dt.datetime | None = None,
) -> Round:
    """Move an existing round forward to ``status`` (e.g. after visits were recorded while active)."""
    actor = city.users[by]
    at = at or T0
    current, target = _ORDER.index(RoundStatus(rnd.status)), _ORDER.index(RoundStatus(status))
    steps = [
        lambda r: round_start(round=r, by=actor, at=at + dt.timedelta(hours=1)),
        lambda r: round_close(round=r, by=actor, at=at + dt.timedelta(days=7)),
        lambda r: round_publish(round=r, by=actor, at=at + dt.timedelta(days=8)),
    ]
    for step in steps[current:target]:
        rnd = step(rnd)
    return rnd
