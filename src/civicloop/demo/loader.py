"""The demo city: real streets of a shipped OSM extract, Chinese units and people, and half a
year of cases replayed through the real actions (so every count, event and deadline is
what the engine itself would have produced).

Deterministic for a given seed and anchor time (``--anchor``); by default the anchor is
the current hour, so overdue cases are overdue *now*.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import random
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from civicloop.cases import actions as A
from civicloop.cases.models import Case, Category, RoutingRule, Source, State
from civicloop.cases.workflow import CLOSED_STATES
from civicloop.core.errors import CivicError
from civicloop.org.models import Role, RoleAssignment, Unit, UnitKind, User
from civicloop.places.models import Area, AreaKind

from . import texts

log = logging.getLogger(__name__)

DEMO_PASSWORD = "civicloop-demo"
CITY_CODE = "650100"

# The logins printed by ``make demo``: one per role.
LOGINS: list[tuple[str, str, str]] = [
    ("admin", "系统管理员", "admin"),
    ("resident", "居民", Role.RESIDENT),
    ("gridworker", "网格员", Role.GRID_WORKER),
    ("dispatcher", "指挥中心受理员", Role.DISPATCHER),
    ("unitstaff", "责任单位（市环境卫生管理处）", Role.UNIT_STAFF),
    ("inspector", "督查员", Role.INSPECTOR),
    ("campaign", "文明办", Role.CAMPAIGN_OFFICE),
    ("leader", "领导", Role.LEADER),
]

DEPARTMENTS = [
    # code, name, parent code, kind
    ("CMD", "示范市城市运行管理服务中心", None, UnitKind.GOVERNMENT),
    ("CGJ", "市城市管理局", "CMD", UnitKind.DEPARTMENT),
    ("HWC", "市环境卫生管理处", "CGJ", UnitKind.DEPARTMENT),
    ("SZC", "市市政设施养护处", "CGJ", UnitKind.DEPARTMENT),
    ("ZFD", "市城市管理综合执法支队", "CGJ", UnitKind.DEPARTMENT),
    ("ZJJ", "市住房和城乡建设局", "CMD", UnitKind.DEPARTMENT),
    ("YLJ", "市园林绿化局", "CMD", UnitKind.DEPARTMENT),
    ("WMB", "市文明办", "CMD", UnitKind.DEPARTMENT),
    ("AWB", "市爱卫办", "CMD", UnitKind.DEPARTMENT),
    ("JJZ", "市公安局交警支队", "CMD", UnitKind.DEPARTMENT),
    ("GSG", "市供水集团", "CMD", UnitKind.OTHER),
    ("RQG", "市燃气公司", "CMD", UnitKind.OTHER),
    ("GDJ", "国网示范市供电公司", "CMD", UnitKind.OTHER),
    ("TXB", "市通信管线办公室", "CMD", UnitKind.OTHER),
]

# (family, big_code, small_code or "", unit code): city-wide defaults; street order goes to street offices.
ROUTES = [
    ("component", "", "", "SZC"),
    ("component", "01", "01", "GSG"),
    ("component", "01", "11", "RQG"),
    ("component", "01", "16", "GDJ"),
    ("component", "01", "07", "TXB"),
    ("component", "03", "", "HWC"),
    ("component", "04", "", "YLJ"),
    ("component", "07", "", "ZJJ"),
    ("event", "", "", "CGJ"),
    ("event", "01", "", "HWC"),
    ("event", "01", "01", "ZFD"),
    ("event", "01", "10", "SZC"),
    ("event", "01", "12", "TXB"),
    ("event", "02", "", "ZFD"),
    ("event", "03", "", "ZJJ"),
    ("event", "04", "", "SZC"),
    ("event", "04", "02", "GSG"),
    ("event", "04", "08", "ZFD"),
    ("event", "05", "05", "JJZ"),
]


@dataclass
class Cast:
    """Who acts in the demo city."""

    dispatchers: dict[int, User] = field(default_factory=dict)  # district id → dispatcher
    grid_workers: dict[int, User] = field(default_factory=dict)  # community id → grid worker
    unit_staff: dict[int, User] = field(default_factory=dict)  # unit id → staff
    residents: list[User] = field(default_factory=list)
    leader: User | None = None


def demo_loaded() -> bool:
    return Area.objects.filter(code=CITY_CODE).exists() and User.objects.filter(username="dispatcher").exists()


def _user(username: str, display: str, role: str | None, *, area: Area | None = None, unit: Unit | None = None, superuser: bool = False) -> User:
    user = User(username=username, display_name=display, is_staff=superuser, is_superuser=superuser)
    user.set_password(DEMO_PASSWORD)
    user.save()
    if role:
        RoleAssignment.objects.create(user=user, role=role, area=area, unit=unit)
    return user


def build_org(rng: random.Random) -> tuple[dict[str, Unit], Cast]:
    units: dict[str, Unit] = {}
    for code, name, parent, kind in DEPARTMENTS:
        units[code] = Unit.objects.create(code=f"D-{code}", name=name, kind=kind, parent=units.get(parent) if parent else None)
    cast = Cast()
    city = Area.objects.get(code=CITY_CODE)
    for street in Area.objects.filter(kind=AreaKind.STREET).order_by("code"):
        office = Unit.objects.create(code=f"S-{street.code}", name=f"{street.name}办事处", kind=UnitKind.STREET_OFFICE, parent=units["CMD"], area=street)
        units[office.code] = office
        for community in Area.objects.filter(kind=AreaKind.COMMUNITY, parent=street).order_by("code"):
            committee = Unit.objects.create(code=f"C-{community.code}", name=f"{community.name}居委会", kind=UnitKind.COMMUNITY_COMMITTEE, parent=office, area=community)
            units[committee.code] = committee
        RoutingRule.objects.create(family="event", big_code="05", area=street, unit=office)
    property_names = ["安居物业", "万家物业", "金城物业", "华庭物业", "宜居物业", "鑫源物业"]
    communities = list(Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("code"))
    for i, name in enumerate(property_names):
        community = communities[(i * 7) % len(communities)]
        company = Unit.objects.create(code=f"P-{i + 1:02d}", name=f"示范市{name}服务有限公司", kind=UnitKind.PROPERTY_COMPANY, parent=units[f"C-{community.code}"], area=community)
        units[company.code] = company
        # Inside its compound, the property company answers for bins and access gates.
        for code in ("C0305", "C0705", "C0707"):
            RoutingRule.objects.create(category=Category.objects.get(code=code), area=community, unit=company)
    for family, big, small, unit_code in ROUTES:
        if small:
            RoutingRule.objects.create(category=Category.objects.get(code=f"{'C' if family == 'component' else 'E'}{big}{small}"), unit=units[unit_code])
        else:
            RoutingRule.objects.create(family=family, big_code=big, unit=units[unit_code])

    # People: the printed logins, then the staff who keep the demo city's loop running.
    _user("admin", "系统管理员", None, superuser=True)
    first_community = communities[0]
    cast.residents.append(_user("resident", "张伟（居民）", Role.RESIDENT))
    _user("gridworker", f"李娜（{first_community.name}网格员）", Role.GRID_WORKER, area=first_community)
    _user("dispatcher", "王敏（指挥中心受理员）", Role.DISPATCHER, area=city)
    _user("unitstaff", "刘强（市环境卫生管理处）", Role.UNIT_STAFF, unit=units["HWC"])
    _user("inspector", "陈静（督查员）", Role.INSPECTOR, area=city)
    _user("campaign", "杨芳（市文明办）", Role.CAMPAIGN_OFFICE, area=city)
    cast.leader = _user("leader", "赵军（分管副市长）", Role.LEADER, area=city)
    for district in Area.objects.filter(kind=AreaKind.DISTRICT).order_by("code"):
        cast.dispatchers[district.pk] = _user(f"disp_{district.code}", f"{district.name}受理员", Role.DISPATCHER, area=district)
        _user(f"leader_{district.code}", f"{district.name}区长", Role.LEADER, area=district)
    for community in communities:
        cast.grid_workers[community.pk] = _user(f"gw_{community.code}", f"{community.name}网格员", Role.GRID_WORKER, area=community)
    for unit in units.values():
        cast.unit_staff[unit.pk] = _user(f"staff_{unit.code.lower()}", f"{unit.name}办件员", Role.UNIT_STAFF, unit=unit)
    for i in range(40):
        name = texts.SURNAMES[i % len(texts.SURNAMES)] + texts.GIVEN[(i * 7) % len(texts.GIVEN)]
        cast.residents.append(_user(f"res{i + 1:03d}", name, Role.RESIDENT))
    return units, cast


# ---- photos -------------------------------------------------------------------------


def _photo(rng: random.Random, *, after: bool, lat: float, lon: float, when: dt.datetime) -> Any:
    """A small generated photo; before-photos carry real EXIF (time and GPS) as phones write it."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageDraw

    base = (90, 150, 90) if after else (150, 110, 80)
    img = Image.new("RGB", (320, 240), base)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.randrange(0, 300), rng.randrange(60, 220)
        shade = tuple(min(255, c + rng.randrange(-40, 60)) for c in base)
        draw.rectangle([x, y, x + rng.randrange(10, 60), y + rng.randrange(8, 30)], fill=shade)
    draw.rectangle([0, 0, 320, 50], fill=(180, 200, 225))
    exif = Image.Exif()
    if not after:
        local = timezone.localtime(when)
        exif[0x0132] = local.strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(0x8769)[0x9003] = local.strftime("%Y:%m:%d %H:%M:%S")
        gps = exif.get_ifd(0x8825)

        def dms(v: float) -> tuple[float, float, float]:
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 4))

        gps[1], gps[2], gps[3], gps[4] = "N", dms(lat), "E", dms(lon)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70, exif=exif)
    return SimpleUploadedFile("after.jpg" if after else "photo.jpg", buf.getvalue(), content_type="image/jpeg")


# ---- replaying cases ------------------------------------------------------------------


class Replay:
    """Moves one case along the loop at realistic times, stopping at the anchor ("now")."""

    def __init__(self, rng: random.Random, cast: Cast, anchor: dt.datetime, units: dict[str, Unit]):
        self.rng, self.cast, self.anchor, self.units = rng, cast, anchor, units
        self.grid_community: dict[int, int] = {}
        self.grid_district: dict[int, int] = {}
        self.grid_street: dict[int, int] = {}
        for grid in Area.objects.filter(kind=AreaKind.GRID).only("pk", "path"):
            ids = [int(x) for x in grid.path.strip("/").split("/") if x]
            self.grid_district[grid.pk], self.grid_street[grid.pk], self.grid_community[grid.pk] = ids[1], ids[2], ids[3]
        self.street_offices = {u.area_id: u for u in Unit.objects.filter(kind=UnitKind.STREET_OFFICE)}

    def hours(self, lo: float, hi: float) -> dt.timedelta:
        return dt.timedelta(hours=self.rng.uniform(lo, hi))

    def dispatcher(self, case: Case) -> User:
        return self.cast.dispatchers[self.grid_district[case.grid_id]]

    def verifier(self, case: Case) -> User:
        return self.cast.grid_workers[self.grid_community[case.grid_id]]

    def handler(self, case: Case) -> User:
        return self.cast.unit_staff[case.unit_id]

    def run(self, case: Case, t: dt.datetime, target: str | None = None) -> Case:
        """Replay until the anchor, or until ``target`` is reached."""
        rng = self.rng

        def ok(when: dt.datetime) -> bool:
            return when < self.anchor and (target is None or case.state != target)

        t += self.hours(0.2, 2)
        if not ok(t):
            return case
        d = self.dispatcher(case)
        roll = rng.random()
        if roll < 0.05 and target in (None, State.REJECTED):
            return A.case_reject(case=case, by=d, reason=rng.choice(texts.REJECT_REASONS), at=t)
        case = A.case_register(case=case, by=d, at=t)
        t += self.hours(0.1, 1)
        if not ok(t):
            return case
        if roll < 0.07 and target in (None, State.VOIDED):
            return A.case_void(case=case, by=d, reason=rng.choice(texts.VOID_REASONS), at=t)
        case = A.case_dispatch(case=case, by=d, at=t)
        if rng.random() < 0.05 or target == State.RETURNED:
            t += self.hours(0.5, 4)
            if not ok(t):
                return case
            case = A.case_return(case=case, by=self.handler(case), reason=rng.choice(texts.RETURN_REASONS), at=t)
            t += self.hours(0.5, 30)
            if not ok(t):
                return case
            # Returned: the street office of the place takes it on.
            case = A.case_dispatch(case=case, by=d, unit=self.street_offices[self.grid_street[case.grid_id]], at=t)
        t += self.hours(0.3, 5)
        if not ok(t):
            return case
        case = A.case_accept(case=case, by=self.handler(case), at=t)
        if rng.random() < 0.03 or target == State.DEFERRED:
            t += self.hours(1, 24)
            if not ok(t):
                return case
            case = A.case_defer(case=case, by=d, reason=rng.choice(texts.DEFER_REASONS), at=t)
            t += dt.timedelta(days=rng.uniform(5, 25))
            if not ok(t):
                return case
            case = A.case_resume(case=case, by=d, at=t)
        if rng.random() < 0.06:
            t += self.hours(0.5, 3)
            if not ok(t):
                return case
            until = (case.deadline_at or t) + dt.timedelta(days=rng.choice([2, 3, 5]))
            A.case_request_extension(case=case, by=self.handler(case), until=until, reason=rng.choice(texts.EXTENSION_REASONS), at=t)
            case = Case.objects.get(pk=case.pk)
            t += self.hours(0.5, 6)
            if not ok(t):
                return case
            approve = rng.random() < 0.75
            case = A.case_decide_extension(case=case, by=d, approve=approve, note="" if approve else "时限内应可完成，请抓紧", at=t)
        reworks = 0
        while True:
            span = max(case.deadline_at - t, dt.timedelta(minutes=30)) if case.deadline_at else dt.timedelta(hours=8)
            late = rng.random() < 0.18
            t += (span + self.hours(1, 96)) if late else span * rng.uniform(0.15, 0.95)
            if late and case.deadline_at and rng.random() < 0.5 and case.deadline_at < self.anchor:
                urge_at = case.deadline_at + self.hours(0.5, 8)
                if urge_at < min(t, self.anchor):
                    case = A.case_urge(case=case, by=self.cast.leader if rng.random() < 0.3 else d, note=rng.choice(texts.URGE_NOTES), at=urge_at)
            if not ok(t):
                return case
            note = rng.choice(texts.FEEDBACK.get(case.category.code, texts.FEEDBACK["default"]))
            case = A.case_feedback(case=case, by=self.handler(case), note=note, photos=[_photo(rng, after=True, lat=case.lat, lon=case.lon, when=t)], at=t)
            t += self.hours(0.5, 20)
            if not ok(t):
                return case
            verifier = self.verifier(case)
            if reworks < 2 and rng.random() < 0.1:
                case = A.case_verify(case=case, by=verifier, passed=False, note=rng.choice(texts.REWORK_NOTES), at=t)
                reworks += 1
                continue
            case = A.case_verify(case=case, by=verifier, passed=True, at=t)
            break
        reporters = list(case.reports.exclude(reporter=None).select_related("reporter")[:1])
        if reporters and rng.random() < 0.6:
            t_rate = t + self.hours(2, 72)
            if t_rate < self.anchor:
                r = rng.random()
                rating = "satisfied" if r < 0.72 else "basic" if r < 0.92 else "dissatisfied"
                case = A.case_rate(case=case, by=reporters[0].reporter, rating=rating, unfixed=rating == "dissatisfied" and rng.random() < 0.5, at=t_rate)
        if target == State.CLOSED:
            return case
        t = case.lookback_due_at + self.hours(1, 72)
        if not ok(t):
            return case
        fail = (rng.random() < 0.08 or case.resident_says_unfixed) if target is None else target == State.RECURRED
        if fail:
            return A.case_lookback(case=case, by=self.verifier(case), passed=False, note=rng.choice(texts.LOOKBACK_FAIL_NOTES), at=t)
        return A.case_lookback(case=case, by=self.verifier(case), passed=True, at=t)


def _weighted_categories() -> tuple[list[str], list[int]]:
    codes = list(texts.REPORTS)
    return codes, [texts.REPORTS[c][0] for c in codes]


def _place_names() -> list[tuple[float, float, str]]:
    """(lat, lon, name) of compounds and back streets, to name where a problem is."""
    from civicloop.places.models import BackStreet, Compound

    out = []
    for obj in list(Compound.objects.all()) + list(BackStreet.objects.all()):
        c = obj.shape.representative_point()
        out.append((c.y, c.x, obj.name))
    return out


def _nearest_name(places: list[tuple[float, float, str]], lat: float, lon: float) -> str:
    if not places:
        return ""
    k = math.cos(math.radians(lat))
    return min(places, key=lambda p: (p[0] - lat) ** 2 + ((p[1] - lon) * k) ** 2)[2]


def generate_cases(*, cast: Cast, units: dict[str, Unit], count: int, rng: random.Random, anchor: dt.datetime, days: int = 182) -> int:
    from civicloop.demo.geography import demo_points

    codes, weights = _weighted_categories()
    points = demo_points(count * 2, rng.randrange(1 << 30))
    places = _place_names()
    replay = Replay(rng, cast, anchor, units)
    made = 0
    start = anchor - dt.timedelta(days=days)
    # Pinned fates first, so every state of the loop is present whatever the dice say.
    pinned = [
        (State.REPORTED, 0.05), (State.REGISTERED, 0.2), (State.DISPATCHED, 0.5), (State.RETURNED, 2),
        (State.IN_PROGRESS, 1), (State.DEFERRED, 20), (State.HANDLED, 2), (State.CLOSED, 3),
        (State.LOOKBACK_PASSED, 30), (State.RECURRED, 30), (State.REJECTED, 1), (State.VOIDED, 1),
    ]
    plan: list[tuple[dt.datetime, str | None]] = [(anchor - dt.timedelta(days=age), s) for s, age in pinned]
    plan += sorted((start + dt.timedelta(seconds=rng.uniform(0, days * 86400)), None) for _ in range(count - len(pinned)))
    for i, (when, target) in enumerate(plan):
        lat, lon = points[i % len(points)]
        code = rng.choices(codes, weights)[0]
        place = _nearest_name(places, lat, lon)
        description = rng.choice(texts.REPORTS[code][1]).format(place=place or "路边")
        source = rng.choices([Source.RESIDENT, Source.GRID_WORKER, Source.HOTLINE], [50, 35, 15])[0]
        reporter = rng.choice(cast.residents) if source == Source.RESIDENT and rng.random() < 0.5 else None
        if source == Source.GRID_WORKER:
            reporter = None
        photos = [_photo(rng, after=False, lat=lat, lon=lon, when=when)] if rng.random() < 0.3 else []
        try:
            report = A.case_report(
                category=code, lat=lat, lon=lon, description=description, source=source, by=reporter,
                phone=f"13{rng.randrange(100000000, 999999999)}" if source == Source.HOTLINE else "",
                address=place, photos=photos, detect_duplicates=False, at=when,
            )
        except CivicError as exc:  # a sampled point on a grid edge, say: skip it, loudly
            log.warning("demo report skipped: %s", exc)
            continue
        made += 1
        case = report.case
        # Some problems are reported again by neighbours: they join the same case.
        if target is None and rng.random() < 0.08:
            for _ in range(rng.randint(1, 4)):
                t2 = when + dt.timedelta(minutes=rng.uniform(5, 600))
                if t2 >= anchor:
                    break
                jitter = 0.00008
                try:
                    A.case_report(category=code, lat=lat + rng.uniform(-jitter, jitter), lon=lon + rng.uniform(-jitter, jitter),
                                  description=rng.choice(texts.REPORTS[code][1]).format(place=place or "这里"),
                                  source=Source.RESIDENT, by=rng.choice(cast.residents) if rng.random() < 0.5 else None, at=t2)
                except CivicError:
                    break
            case = Case.objects.get(pk=case.pk)
        replay.run(case, when, target=target)
    return made


def load_demo(*, cases: int = 2000, seed: int = 20261123, anchor: dt.datetime | None = None, stdout: Any = None) -> dict[str, int]:
    """Load the demo city once. Returns counts of what is there."""
    from civicloop.demo.geography import build_demo_geography
    from civicloop.notifications.services import muted
    from civicloop.places.importer import import_areas_from_geojson

    say = (lambda msg: stdout.write(msg)) if stdout is not None else (lambda msg: None)
    if demo_loaded():
        say("demo city already loaded")
        return demo_counts()
    rng = random.Random(seed)
    anchor = anchor or timezone.now().replace(minute=0, second=0, microsecond=0)
    say("building the demo geography from the bundled OpenStreetMap extract …")
    with transaction.atomic():
        import_areas_from_geojson(build_demo_geography())
        units, cast = build_org(rng)
    say(f"replaying {cases} cases over half a year …")
    with muted():
        generate_cases(cast=cast, units=units, count=cases, rng=rng, anchor=anchor)
    from civicloop.cases.sweeps import sweep

    sweep(now=timezone.now())
    return demo_counts()


def demo_counts() -> dict[str, int]:
    from civicloop.places.models import BackStreet, Compound

    counts = {f"areas.{k}": Area.objects.filter(kind=k).count() for k in AreaKind.values}
    counts["compounds"] = Compound.objects.count()
    counts["back_streets"] = BackStreet.objects.count()
    counts["units"] = Unit.objects.count()
    counts["users"] = User.objects.count()
    counts["cases"] = Case.objects.count()
    for state in State.values:
        counts[f"cases.{state}"] = Case.objects.filter(state=state).count()
    counts["cases.with_duplicates"] = Case.objects.filter(reporter_count__gt=1).count()
    counts["cases.reworked"] = Case.objects.filter(rework_count__gt=0).count()
    counts["cases.extended"] = Case.objects.filter(extension_count__gt=0).count()
    counts["cases.closed_late"] = Case.objects.filter(state__in=list(CLOSED_STATES), closed_on_time=False).count()
    from civicloop.cases.selectors import overdue_q

    counts["cases.overdue_now"] = Case.objects.filter(overdue_q()).count()
    return counts
