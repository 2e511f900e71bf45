"""Benchmark the inspection roll-ups, the scoring engine and the visit write path.

    .venv/bin/python bench/inspections.py                     # synthetic city, 2,000 locations
    .venv/bin/python bench/inspections.py --city demo --locations 1000   # the demo city's geography
    .venv/bin/python bench/inspections.py --locations 500 --visits 50   # a quick look

Everything runs in a throw-away SQLite database in a temporary directory
(``DATABASE_URL`` and ``CIVICLOOP_HOME`` are set before Django starts, then ``migrate``),
deleted at the end. The set-up goes through the real actions: areas (the demo city via
``places.importer.import_areas_from_geojson``, or a synthetic city of 96 communities
written with the ORM as ``civicloop.testing`` does), units, a campaign-office user and an
inspector (role assignments as in ``civicloop.testing``), two published 30-item standards
(``inspections.actions.standard_create/standard_publish``), one site per location
(``inspections.sites.site_create``), and a city-wide round (``inspections.rounds.round_create
/ round_assign / round_draw / round_start``) stratified by street office and location type.

Then it measures, in this order:

1. ``visits.visit_submit`` per visit on ``--visits`` locations of the round (the DB write
   path: validation, scoring, distance to the site, the visit, 30 item checks, a finding
   per deducting item; no photos);
2. ``scoring.score_location`` throughput on the 30-item standard (pure Python);
3. ``rankings.round_ranking(round, level)`` for the four levels, once every other location
   has a visit. Those visits are written IN BULK (``Visit.objects.bulk_create`` with
   ``score``/``raw``/``full``/``vetoed`` from ``score_location`` over random item results,
   no item checks, no findings), not through ``visit_submit``: that would take minutes.
   About 1 % of the locations are left uninspected. The baseline is the "naive per-group
   ORM" roll-up: for each community / street office / district / unit, one query for its
   locations' scores, the mean per location type in Python (exact fractions), the weighted
   mean over the types with the round's weights. Both must give the same score, after
   rounding to two decimals, for every group before any ratio is printed.

A demo-city round draws at most 100 locations per stratum (``rounds.MAX_PER_STRATUM``) from
6 street offices × 2 location types, so ``--city demo`` caps the sample at 1,200 locations;
the synthetic city (16 street offices) holds 3,200.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from math import floor
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)  # the round starts; visits follow
TYPE_WEIGHTS = {"old_community": "0.6", "back_street": "0.4"}
LEVELS = ("community", "street", "district", "unit")
LOAD_AT_START = 0.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--locations",
        type=int,
        default=2000,
        help="sites registered and sampled by the city-wide round (default 2,000)",
    )
    parser.add_argument(
        "--visits",
        type=int,
        default=200,
        help="visits recorded through visits.visit_submit (default 200)",
    )
    parser.add_argument(
        "--scorings",
        type=int,
        default=10_000,
        help="locations scored by scoring.score_location per timed pass (default 10,000)",
    )
    parser.add_argument(
        "--city",
        choices=("synthetic", "demo"),
        default="synthetic",
        help="synthetic city of 4 districts, 16 street offices, 96 communities (default), "
        "or the demo city's geography (2 districts, 6 street offices, 20 communities)",
    )
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary database directory and print it"
    )
    args = parser.parse_args()
    if args.locations < 10:
        parser.error("--locations: at least 10")
    if not 0 <= args.visits <= args.locations // 2:
        parser.error("--visits: from 0 to half of --locations")
    if args.scorings < 1:
        parser.error("--scorings: at least 1")
    return args


ARGS = parse_args() if __name__ == "__main__" else None

# A throw-away database and home, before Django reads its settings.
WORKDIR = Path(tempfile.mkdtemp(prefix="civicloop-bench-"))
os.environ["CIVICLOOP_HOME"] = str(WORKDIR)
os.environ["DATABASE_URL"] = f"sqlite:///{WORKDIR / 'bench.sqlite3'}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings.dev")
if ARGS is not None and ARGS.keep:
    atexit.register(lambda: print(f"kept           : {WORKDIR}"))
else:
    atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from shapely.geometry import LineString, Point, box  # noqa: E402
from shapely.geometry.base import BaseGeometry  # noqa: E402

from civicloop.core.errors import ValidationFailed  # noqa: E402
from civicloop.inspections.actions import (  # noqa: E402
    ItemSpec,
    SectionSpec,
    standard_create,
    standard_publish,
)
from civicloop.inspections.models import (  # noqa: E402
    Finding,
    Item,
    ItemCheck,
    LocationStatus,
    LocationType,
    Round,
    RoundKind,
    RoundLocation,
    Standard,
    Stratify,
    Visit,
)
from civicloop.inspections.rankings import round_ranking  # noqa: E402
from civicloop.inspections.rounds import (  # noqa: E402
    MAX_PER_STRATUM,
    round_assign,
    round_close,
    round_create,
    round_draw,
    round_start,
)
from civicloop.inspections.scoring import (  # noqa: E402
    VETO,
    ItemResult,
    ItemRule,
    item_key,
    rules_for,
    score_location,
)
from civicloop.inspections.sites import site_create  # noqa: E402
from civicloop.inspections.visits import CheckInput, visit_submit  # noqa: E402
from civicloop.org.models import Role, RoleAssignment, Unit, UnitKind, User  # noqa: E402
from civicloop.places.models import Area, AreaKind  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class Clock:
    """Set-up steps and their wall time, printed with the results."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    def step(self, label: str, started: float) -> None:
        self.steps.append((label, time.perf_counter() - started))


# ---- the city ---------------------------------------------------------------------------------------

# Synthetic: near Aksu (as civicloop.testing), 2×2 districts of 2×2 street offices of 3×2 communities.
LON0, LAT0 = 80.20, 41.10
COMMUNITY_W, COMMUNITY_H = 0.006, 0.005  # ≈ 500 m × 550 m


def _area(kind: str, code: str, name: str, parent: Area | None, geom: BaseGeometry) -> Area:
    area = Area(kind=kind, code=code, name=name, parent=parent)
    area.set_geometry(geom)
    area.save()
    return area


def build_synthetic_city() -> None:
    street_w, street_h = 3 * COMMUNITY_W, 2 * COMMUNITY_H
    district_w, district_h = 2 * street_w, 2 * street_h
    city = _area(
        AreaKind.CITY,
        "652900",
        "合成市",
        None,
        box(LON0, LAT0, LON0 + 2 * district_w, LAT0 + 2 * district_h),
    )
    for d in range(4):
        dx, dy = LON0 + (d % 2) * district_w, LAT0 + (d // 2) * district_h
        district_code = f"6529{d + 1:02d}"
        district = _area(
            AreaKind.DISTRICT,
            district_code,
            f"第{d + 1}区",
            city,
            box(dx, dy, dx + district_w, dy + district_h),
        )
        for s in range(4):
            sx, sy = dx + (s % 2) * street_w, dy + (s // 2) * street_h
            street_code = f"{district_code}{s + 1:03d}"
            street = _area(
                AreaKind.STREET,
                street_code,
                f"第{d + 1}区{s + 1}街道",
                district,
                box(sx, sy, sx + street_w, sy + street_h),
            )
            for c in range(6):
                cx, cy = sx + (c % 3) * COMMUNITY_W, sy + (c // 3) * COMMUNITY_H
                _area(
                    AreaKind.COMMUNITY,
                    f"{street_code}{c + 1:03d}",
                    f"第{d + 1}区{s + 1}街道{c + 1}社区",
                    street,
                    box(cx, cy, cx + COMMUNITY_W, cy + COMMUNITY_H),
                )


def build_demo_city() -> None:
    from civicloop.demo.geography import build_demo_geography
    from civicloop.places.importer import import_areas_from_geojson

    import_areas_from_geojson(build_demo_geography())


def build_units() -> dict[str, list[Unit]]:
    """Street offices and community committees (with their areas), departments, property companies."""
    units: dict[str, list[Unit]] = defaultdict(list)
    gov = Unit.objects.create(kind=UnitKind.GOVERNMENT, code="B-GOV", name="市城市运行管理服务中心")
    for code, name in (
        ("HWC", "市环境卫生管理处"),
        ("CGJ", "市城市管理局"),
        ("SZJ", "市市政设施管理处"),
    ):
        units["department"].append(
            Unit.objects.create(kind=UnitKind.DEPARTMENT, code=f"B-{code}", name=name, parent=gov)
        )
    for street in Area.objects.filter(kind=AreaKind.STREET).order_by("code"):
        office = Unit.objects.create(
            kind=UnitKind.STREET_OFFICE,
            code=f"B-S{street.code}",
            name=f"{street.name}办事处",
            parent=gov,
            area=street,
        )
        units[f"street:{street.pk}"].append(office)
    communities = list(Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("code"))
    for community in communities:
        street_id = int(community.path.strip("/").split("/")[-2])
        committee = Unit.objects.create(
            kind=UnitKind.COMMUNITY_COMMITTEE,
            code=f"B-C{community.code}",
            name=f"{community.name}居委会",
            parent=units[f"street:{street_id}"][0],
            area=community,
        )
        units[f"community:{community.pk}"].append(committee)
    for i in range(max(4, len(communities) // 8)):
        community = communities[(i * 7) % len(communities)]
        units["property"].append(
            Unit.objects.create(
                kind=UnitKind.PROPERTY_COMPANY,
                code=f"B-P{i + 1:03d}",
                name=f"第{i + 1}物业服务公司",
                parent=units[f"community:{community.pk}"][0],
                area=community,
            )
        )
    return units


def build_users() -> tuple[User, User]:
    city = Area.objects.get(kind=AreaKind.CITY)
    campaign = User.objects.create_user(
        username="bench_campaign", password=None, display_name="市文明办"
    )
    RoleAssignment.objects.create(user=campaign, role=Role.CAMPAIGN_OFFICE, area=city)
    inspector = User.objects.create_user(
        username="bench_inspector", password=None, display_name="督查员"
    )
    RoleAssignment.objects.create(user=inspector, role=Role.INSPECTOR, area=city)
    return campaign, inspector


# ---- the standards: 5 sections × 6 items = 30 items, 100 points ----------------------------------------

SECTION_NAMES = ("环境卫生", "秩序管理", "设施维护", "市容市貌", "安全管理")
# (rule, full points, deduction): 20 points per section; the sixth item is a veto.
SECTION_ITEMS = (
    ("per_occurrence", "5", "1"),
    ("per_occurrence", "4", "2"),
    ("per_occurrence", "3", "0.5"),
    ("fixed", "4", "4"),
    ("fixed", "4", "2"),
    ("veto", "0", "0"),
)


def standard_sections() -> list[SectionSpec]:
    sections = []
    for s, name in enumerate(SECTION_NAMES, start=1):
        items = []
        for i, (rule, points, deduction) in enumerate(SECTION_ITEMS, start=1):
            scope = ("location" if s == len(SECTION_NAMES) else "section") if rule == "veto" else ""
            items.append(
                ItemSpec(
                    f"{name}第{i}项：检查内容（{rule}）",
                    Decimal(points),
                    rule,
                    Decimal(deduction),
                    veto_scope=scope,
                    photos_required=0,
                )
            )
        sections.append(SectionSpec(name, items))
    return sections


def build_standards(by: User) -> dict[str, Standard]:
    result = {}
    for code, name, location_type in (
        ("BENCH-LJXQ", "老旧小区测评标准（30项）", LocationType.OLD_COMMUNITY),
        ("BENCH-BJXX", "背街小巷测评标准（30项）", LocationType.BACK_STREET),
    ):
        draft = standard_create(
            code=code,
            name=name,
            location_type=location_type,
            sections=standard_sections(),
            by=by,
            at=T0,
        )
        result[str(location_type)] = standard_publish(standard=draft, by=by, at=T0)
    return result


# ---- sites ----------------------------------------------------------------------------------------------


def point_in(geom: BaseGeometry, rng: random.Random) -> Point:
    west, south, east, north = geom.bounds
    for _ in range(10_000):
        p = Point(rng.uniform(west, east), rng.uniform(south, north))
        if geom.contains(p):
            return p
    return geom.representative_point()


def site_geometry(community: Area, location_type: str, rng: random.Random) -> BaseGeometry:
    """An old community: a 30–70 m block inside the community. A back street: a 60–160 m lane
    from a point of the community, which may cross into the next one (then the site's area is
    its street office and it has no community)."""
    shape = community.shape
    for _ in range(200):
        p = point_in(shape, rng)
        if location_type == LocationType.OLD_COMMUNITY:
            half = rng.uniform(0.00015, 0.00035)
            geom = box(p.x - half, p.y - half * 0.8, p.x + half, p.y + half * 0.8)
            if shape.covers(geom):
                return geom
        else:
            length = rng.uniform(0.0007, 0.0018)
            angle = rng.choice((0.0, 1.5708)) + rng.uniform(-0.2, 0.2)
            return LineString(
                [(p.x, p.y), (p.x + length * math.cos(angle), p.y + length * math.sin(angle))]
            )
    return shape.representative_point().buffer(0.0001, quad_segs=2)


def build_sites(
    count: int, *, by: User, units: dict[str, list[Unit]], rng: random.Random
) -> tuple[int, int, float]:
    """``count`` sites through ``site_create``, spread evenly over the street offices and the two
    location types (60 % old communities), each street's share over its communities at random.
    Returns (sites, retries, seconds spent in site_create)."""
    communities_by_street: dict[int, list[Area]] = defaultdict(list)
    for community in Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("code"):
        communities_by_street[int(community.path.strip("/").split("/")[-2])].append(community)
    streets = sorted(communities_by_street)
    plan: list[tuple[Area, str]] = []
    for n in range(count):
        street = streets[n % len(streets)]
        location_type = (
            LocationType.OLD_COMMUNITY if (n // len(streets)) % 5 < 3 else LocationType.BACK_STREET
        )
        plan.append((rng.choice(communities_by_street[street]), str(location_type)))
    retries = 0
    spent = 0.0
    for n, (community, location_type) in enumerate(plan, start=1):
        street_id = int(community.path.strip("/").split("/")[-2])
        draw = rng.random()
        if location_type == LocationType.OLD_COMMUNITY:
            unit = (
                units[f"community:{community.pk}"][0]
                if draw < 0.5
                else rng.choice(units["property"])
                if draw < 0.8
                else units[f"street:{street_id}"][0]
            )
            name = f"{community.name}老旧小区{n:05d}"
        else:
            unit = (
                units[f"street:{street_id}"][0]
                if draw < 0.6
                else units[f"community:{community.pk}"][0]
                if draw < 0.9
                else rng.choice(units["department"])
            )
            name = f"{community.name}背街小巷{n:05d}"
        for _attempt in range(50):
            geometry = site_geometry(community, location_type, rng)
            started = time.perf_counter()
            try:
                site_create(
                    by=by, name=name, location_type=location_type, geometry=geometry, unit=unit
                )
            except ValidationFailed:
                retries += 1  # a lane leaving the city or the mapped areas: draw another
                continue
            finally:
                spent += time.perf_counter() - started
            break
        else:
            raise RuntimeError(f"could not place site {name}")
    return len(plan), retries, spent


# ---- item results -----------------------------------------------------------------------------------------


def random_results(rules: Sequence[ItemRule], rng: random.Random) -> dict[str, ItemResult]:
    """What an inspector finds: every item checked; 3 % not applicable, 20 % of the deducting
    items found 1–3 times, a veto hit 0.6 % of the time."""
    results = {}
    for rule in rules:
        x = rng.random()
        if x < 0.03:
            results[rule.key] = ItemResult(not_applicable=True)
        elif rule.rule == VETO:
            results[rule.key] = ItemResult(veto_hit=rng.random() < 0.006)
        elif x < 0.23:
            results[rule.key] = ItemResult(occurrences=rng.randint(1, 3))
        else:
            results[rule.key] = ItemResult()
    return results


# ---- the baseline -------------------------------------------------------------------------------------------


def half_up_cents(value: Fraction) -> Decimal:
    hundredths = floor(abs(value) * 100 + Fraction(1, 2))
    return (Decimal(hundredths if value >= 0 else -hundredths) / 100).quantize(Decimal("0.01"))


def naive_round_scores(round_id: int, level: str) -> dict[int, Decimal]:
    """The roll-up as written first: for each group, one query for its scored locations."""
    rnd = Round.objects.get(pk=round_id)
    weights = {t: Fraction(Decimal(str(w))) for t, w in (rnd.type_weights or {}).items()}
    if level == "unit":
        groups: list[tuple[int, dict[str, Any]]] = [
            (u.pk, {"site__unit": u}) for u in Unit.objects.order_by("pk")
        ]
    else:
        groups = [
            (a.pk, {"site__area_path__startswith": a.path})
            for a in Area.objects.filter(kind=level).order_by("pk")
        ]
    scores: dict[int, Decimal] = {}
    for key, where in groups:
        rows = RoundLocation.objects.filter(round=rnd, visit__isnull=False, **where).values_list(
            "site__location_type", "visit__score", "visit__vetoed"
        )
        by_type: dict[str, list[Fraction]] = defaultdict(list)
        for location_type, score, vetoed in rows:
            if vetoed:
                by_type[location_type].append(Fraction(0))
            elif score is not None:
                by_type[location_type].append(Fraction(score))
        if not by_type:
            continue
        if not weights:
            every = [s for values in by_type.values() for s in values]
            scores[key] = half_up_cents(sum(every, Fraction(0)) / len(every))
            continue
        total = weight_sum = Fraction(0)
        for location_type, values in by_type.items():
            w = weights.get(location_type, Fraction(1))
            total += w * sum(values, Fraction(0)) / len(values)
            weight_sum += w
        if weight_sum:
            scores[key] = half_up_cents(total / weight_sum)
    return scores


def best_of(runs: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


# ---- the run ----------------------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> None:
    global LOAD_AT_START
    LOAD_AT_START = os.getloadavg()[0]
    rng = random.Random(args.seed)
    clock = Clock()
    run_started = time.perf_counter()

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    clock.step("migrate", started)

    started = time.perf_counter()
    if args.city == "demo":
        build_demo_city()
        city_label = "the demo city (civicloop.demo.geography, real Helsinki blocks)"
    else:
        build_synthetic_city()
        city_label = "synthetic (--city synthetic)"
    units = build_units()
    campaign, inspector = build_users()
    standards = build_standards(campaign)
    clock.step("city, units, users, 2 standards", started)
    counts = {
        k: Area.objects.filter(kind=k).count()
        for k in (AreaKind.DISTRICT, AreaKind.STREET, AreaKind.COMMUNITY)
    }

    started = time.perf_counter()
    sites, retries, site_s = build_sites(args.locations, by=campaign, units=units, rng=rng)
    clock.step(
        f"{sites:,} × site_create ({site_s / sites * 1000:.1f} ms each, {retries} lanes redrawn)",
        started,
    )

    started = time.perf_counter()
    rnd = round_create(
        by=campaign,
        name="全市暗访测评（基准）",
        kind=RoundKind.UNDERCOVER,
        area=Area.objects.get(kind=AreaKind.CITY),
        period_start=T0.date(),
        period_end=T0.date() + dt.timedelta(days=13),
        standards=list(standards.values()),
        stratify=Stratify.STREET_AND_TYPE,
        per_stratum=MAX_PER_STRATUM,
        type_weights=TYPE_WEIGHTS,
        at=T0,
    )
    rnd = round_assign(round=rnd, by=campaign, inspectors=[inspector])
    rnd = round_draw(round=rnd, by=campaign, seed=args.seed, at=T0)
    rnd = round_start(round=rnd, by=campaign, at=T0 + dt.timedelta(hours=1))
    clock.step("round_create/assign/draw/start", started)
    locations = list(
        RoundLocation.objects.filter(round=rnd)
        .select_related("site", "standard")
        .order_by("draw_order")
    )
    strata = len({loc.stratum for loc in locations})

    rules = {pk: rules_for(s) for pk, s in ((s.pk, s) for s in standards.values())}
    item_ids = {
        s.pk: {
            item_key(i.section.position, i.position): i.pk
            for i in Item.objects.filter(section__standard=s).select_related("section")
        }
        for s in standards.values()
    }

    # 1. visit_submit, one visit at a time, on a random sample of the round's locations.
    chosen = rng.sample(locations, min(args.visits, len(locations) // 2))
    visit_times = []
    for n, loc in enumerate(chosen):
        results = random_results(rules[loc.standard_id], rng)
        checks = [
            CheckInput(
                item_id=item_ids[loc.standard_id][key],
                occurrences=r.occurrences,
                veto_hit=r.veto_hit,
                not_applicable=r.not_applicable,
            )
            for key, r in results.items()
        ]
        p = loc.site.shape.representative_point()
        started = time.perf_counter()
        visit_submit(
            location=loc,
            by=inspector,
            client_uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
            checks=checks,
            lat=p.y,
            lon=p.x,
            accuracy_m=8,
            at=T0 + dt.timedelta(hours=2, minutes=n),
        )
        if n:  # the first one loads pyproj's database and warms the caches: not timed
            visit_times.append(time.perf_counter() - started)
    submitted = {loc.pk for loc in chosen}
    submitted_findings = Finding.objects.filter(visit__location__round=rnd).count()
    submitted_checks = ItemCheck.objects.filter(visit__location__round=rnd).count()

    # 2. score_location on the 30-item standard (pure Python).
    old_rules = rules[standards["old_community"].pk]
    samples = [random_results(old_rules, rng) for _ in range(args.scorings)]
    for r in samples[:200]:
        score_location(old_rules, r)  # warm-up
    score_s, _ = best_of(3, lambda: [score_location(old_rules, r) for r in samples])

    # 3. Every other location (but ~1 %) gets a visit, in bulk, scored by score_location.
    started = time.perf_counter()
    rest = [loc for loc in locations if loc.pk not in submitted]
    skipped = set(rng.sample(range(len(rest)), len(rest) // 100))
    bulk = []
    for n, loc in enumerate(rest):
        if n in skipped:
            continue
        s = score_location(rules[loc.standard_id], random_results(rules[loc.standard_id], rng))
        when = T0 + dt.timedelta(days=1, minutes=n)
        bulk.append(
            Visit(
                location=loc,
                inspector=inspector,
                client_uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
                recorded_at=when,
                received_at=when,
                score=s.score,
                raw=s.raw_score,
                full=s.full_points,
                vetoed=s.vetoed,
            )
        )
    with transaction.atomic():
        Visit.objects.bulk_create(bulk, batch_size=500)
        RoundLocation.objects.filter(visit__isnull=False, round=rnd).update(
            status=LocationStatus.DONE
        )
    rnd = round_close(round=rnd, by=campaign, at=T0 + dt.timedelta(days=7))
    clock.step(f"{len(bulk):,} visits in bulk (Visit.objects.bulk_create), round_close", started)
    inspected = Visit.objects.filter(location__round=rnd).count()
    vetoed = Visit.objects.filter(location__round=rnd, vetoed=True).count()

    # 4. The rankings against the naive per-group ORM roll-up.
    ranking_rows = []
    for level in LEVELS:
        fresh = Round.objects.get(pk=rnd.pk)
        round_ranking(fresh, level)  # warm-up
        ranking_s, rows = best_of(
            5, lambda lvl=level: round_ranking(Round.objects.get(pk=rnd.pk), lvl)
        )
        naive_s, naive = best_of(3, lambda lvl=level: naive_round_scores(rnd.pk, lvl))
        ours = {row.key: row.score for row in rows}
        assert all(row.base_score == row.score for row in rows), (
            "no recurrences here: no penalty expected"
        )
        assert ours.keys() == naive.keys(), (
            f"{level}: groups differ: only ranked {sorted(ours.keys() - naive.keys())[:5]}, "
            f"only naive {sorted(naive.keys() - ours.keys())[:5]}"
        )
        wrong = [k for k in ours if ours[k] != naive[k]]
        assert not wrong, (
            f"{level}: scores differ for {len(wrong)} groups, e.g. {wrong[0]}: {ours[wrong[0]]} ≠ {naive[wrong[0]]}"
        )
        with CaptureQueriesContext(connection) as ranked_queries:
            round_ranking(Round.objects.get(pk=rnd.pk), level)
        with CaptureQueriesContext(connection) as naive_queries:
            naive_round_scores(rnd.pk, level)
        ranking_rows.append(
            (level, len(rows), ranking_s, len(ranked_queries), naive_s, len(naive_queries))
        )

    total_s = time.perf_counter() - run_started
    django_version = django.get_version()
    print(
        f"machine        : {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}, "
        f"load average {LOAD_AT_START:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"python         : {platform.python_version()} (Django {django_version}, SQLite {sqlite3.sqlite_version}, "
        f"database {connection.settings_dict['NAME']})"
    )
    print(
        f"city           : {city_label}: {counts[AreaKind.DISTRICT]} districts, {counts[AreaKind.STREET]} street offices, "
        f"{counts[AreaKind.COMMUNITY]} communities; {Unit.objects.count()} units"
    )
    print(
        f"round          : city-wide, 2 published 30-item standards (old community, back street), weights "
        f"{TYPE_WEIGHTS}; {len(locations):,} locations drawn from {sites:,} sites in {strata} strata "
        f"(street office × type, ≤ {MAX_PER_STRATUM} each)"
    )
    print(
        f"visits         : {inspected:,} inspected ({len(chosen)} by visit_submit, {len(bulk):,} in bulk), "
        f"{len(locations) - inspected} left uninspected, {vetoed} vetoed"
    )
    for label, seconds in clock.steps:
        print(f"set-up         : {label}: {seconds:.1f} s")
    print()
    if visit_times:
        visit_ms = [t * 1000 for t in visit_times]
        q95 = statistics.quantiles(visit_ms, n=20)[-1] if len(visit_ms) >= 2 else visit_ms[0]
        print(
            f"visit_submit   : {len(visit_ms)} visits (after 1 untimed) in {sum(visit_ms) / 1000:.2f} s = {statistics.fmean(visit_ms):.1f} ms per visit "
            f"(median {statistics.median(visit_ms):.1f}, p95 {q95:.1f}); each 30 item checks, "
            f"{submitted_findings / len(chosen):.1f} findings on average, no photos; one transaction each"
        )
    print(
        f"score_location : {args.scorings:,} locations of the 30-item standard in {score_s:.3f} s (best of 3) = "
        f"{args.scorings / score_s:,.0f} locations/s ({score_s / args.scorings * 1e6:.0f} µs each)"
    )
    print()
    print(
        "round_ranking against the naive per-group ORM roll-up (same scores checked for every group):"
    )
    print(
        f"  {'level':<10} {'groups':>6} {'round_ranking':>22} {'naive per-group ORM':>24} {'speed-up':>9}"
    )
    for level, groups, ranking_s, ranking_q, naive_s, naive_q in ranking_rows:
        print(
            f"  {level:<10} {groups:>6} {ranking_s * 1000:>9.1f} ms ({ranking_q:>2} queries) "
            f"{naive_s * 1000:>9.1f} ms ({naive_q:>4} queries) {naive_s / ranking_s:>8.1f}×"
        )
    print(f"  round_ranking best of 5, naive best of 3; {inspected:,} scored locations")
    print()
    print(
        f"whole run      : {total_s:.0f} s ({submitted_checks:,} item checks written by visit_submit)"
    )


if __name__ == "__main__":
    assert ARGS is not None
    main(ARGS)
