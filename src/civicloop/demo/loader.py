"""The demo city: real streets of a shipped OSM extract, Chinese units and people, and half a
year of cases replayed through the real actions (so every count, event and deadline is
what the engine itself would have produced).

The history is a small discrete-event simulation: every case is a story (a generator) that
says when its next step happens; one clock runs all stories in time order. So ticket
numbers count up through each day, a neighbour's report joins a case only while it is
really open, and what the worker does to an overdue case (urge once, escalate one level
per period) happens at the moment the worker would have done it.

Deterministic for a given seed and anchor time (``--anchor``); by default the anchor is
the current hour, so overdue cases are overdue *now*. The whole load is one transaction:
it is there completely or not at all, which is what makes a second ``civicloop demo`` safe.
"""

from __future__ import annotations

import datetime as dt
import heapq
import io
import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.cases import actions as A
from civicloop.cases import routing
from civicloop.cases.models import (
    Case,
    Category,
    ExtensionRequest,
    Report,
    RoutingRule,
    Source,
    State,
    TimeLimitKind,
)
from civicloop.cases.workflow import CLOCK_RUNNING, CLOSED_STATES
from civicloop.core.errors import CivicError
from civicloop.org import policy
from civicloop.org.models import Role, RoleAssignment, Unit, UnitKind, User
from civicloop.places.models import Area, AreaKind

from . import texts
from .inspections import load_inspections
from .lifecircle import load_lifecircle
from .open311 import open311_client

log = logging.getLogger(__name__)

DEMO_PASSWORD = "civicloop-demo"
CITY_CODE = "650100"
HISTORY_DAYS = 182  # half a year before the anchor
# Events of the last days before the anchor notify people as they would have (unread
# notices in the inboxes); older history is replayed silently.
NOTIFY_RECENT_DAYS = 3


class DemoLogin(NamedTuple):
    username: str
    role_label: str
    role: str


# The logins printed by ``make demo``: one per role.
LOGINS: list[DemoLogin] = [
    DemoLogin("admin", "系统管理员", "admin"),
    DemoLogin("resident", "居民", Role.RESIDENT),
    DemoLogin("gridworker", "网格员", Role.GRID_WORKER),
    DemoLogin("dispatcher", "指挥中心受理员", Role.DISPATCHER),
    DemoLogin("unitstaff", "责任单位办件员", Role.UNIT_STAFF),
    DemoLogin("inspector", "督查员", Role.INSPECTOR),
    DemoLogin("campaign", "文明办", Role.CAMPAIGN_OFFICE),
    DemoLogin("leader", "领导", Role.LEADER),
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

PROPERTY_COMPANIES = ["安居物业", "万家物业", "金城物业", "华庭物业", "宜居物业", "鑫源物业"]


class DemoRefused(Exception):
    """The database holds something else than the demo city: loading would mix the two."""


@dataclass
class Cast:
    """Who acts in the demo city. The printed logins are among the actors."""

    city_dispatcher: User
    leader: User
    inspector: User
    campaign: User
    dispatchers: dict[int, User] = field(default_factory=dict)  # district id → district dispatcher
    grid_workers: dict[int, User] = field(default_factory=dict)  # community id → grid worker
    unit_staff: dict[int, User] = field(default_factory=dict)  # unit id → staff
    residents: list[User] = field(default_factory=list)


def demo_loaded() -> bool:
    from .models import DemoLoad

    if DemoLoad.objects.exists():
        return True
    # Loaded before the DemoLoad record existed: the command centre and its dispatcher.
    return (
        Unit.objects.filter(code="D-CMD", name=DEPARTMENTS[0][1]).exists()
        and User.objects.filter(username="dispatcher").exists()
    )


def _refuse_foreign_data() -> None:
    taken = sorted(
        User.objects.filter(username__in=[login.username for login in LOGINS]).values_list(
            "username", flat=True
        )
    )
    if Area.objects.exists() or Unit.objects.exists() or Case.objects.exists() or taken:
        what = [
            name
            for name, there in (
                ("places", Area.objects.exists()),
                ("units", Unit.objects.exists()),
                ("cases", Case.objects.exists()),
            )
            if there
        ]
        if taken:
            what.append("users " + ", ".join(taken))
        raise DemoRefused(
            "This database already holds " + ", ".join(what) + " that are not the demo city; "
            "load the demo into an empty database (e.g. CIVICLOOP_HOME=/tmp/civicloop-demo civicloop demo)."
        )


def build_org() -> tuple[dict[str, Unit], Cast]:
    units: dict[str, Unit] = {}
    for code, name, parent, kind in DEPARTMENTS:
        units[code] = Unit.objects.create(
            code=f"D-{code}", name=name, kind=kind, parent=units.get(parent) if parent else None
        )
    city = Area.objects.get(code=CITY_CODE)
    for street in Area.objects.filter(kind=AreaKind.STREET).order_by("code"):
        office = Unit.objects.create(
            code=f"S-{street.code}",
            name=f"{street.name}办事处",
            kind=UnitKind.STREET_OFFICE,
            parent=units["CMD"],
            area=street,
        )
        units[office.code] = office
        for community in Area.objects.filter(kind=AreaKind.COMMUNITY, parent=street).order_by(
            "code"
        ):
            committee = Unit.objects.create(
                code=f"C-{community.code}",
                name=f"{community.name}居委会",
                kind=UnitKind.COMMUNITY_COMMITTEE,
                parent=office,
                area=community,
            )
            units[committee.code] = committee
        RoutingRule.objects.create(family="event", big_code="05", area=street, unit=office)
    communities = list(Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("code"))
    for i, name in enumerate(PROPERTY_COMPANIES):
        community = communities[(i * 7) % len(communities)]
        company = Unit.objects.create(
            code=f"P-{i + 1:02d}",
            name=f"示范市{name}服务有限公司",
            kind=UnitKind.PROPERTY_COMPANY,
            parent=units[f"C-{community.code}"],
            area=community,
        )
        units[company.code] = company
        # Inside its compound, the property company answers for bins and access gates.
        for code in ("C0305", "C0705", "C0707"):
            RoutingRule.objects.create(
                category=Category.objects.get(code=code), area=community, unit=company
            )
    for family, big, small, unit_code in ROUTES:
        if small:
            RoutingRule.objects.create(
                category=Category.objects.get(
                    code=f"{'C' if family == 'component' else 'E'}{big}{small}"
                ),
                unit=units[unit_code],
            )
        else:
            RoutingRule.objects.create(family=family, big_code=big, unit=units[unit_code])

    # People: the printed logins first, then the staff who keep the loop running. One
    # password hash for all (hashing is deliberately slow: 100 of them take a minute).
    password = make_password(DEMO_PASSWORD)

    def user(
        username: str,
        display: str,
        role: str | None,
        *,
        area: Area | None = None,
        unit: Unit | None = None,
        superuser: bool = False,
    ) -> User:
        person = User.objects.create(
            username=username,
            display_name=display,
            password=password,
            is_staff=superuser,
            is_superuser=superuser,
        )
        if role:
            RoleAssignment.objects.create(user=person, role=role, area=area, unit=unit)
        return person

    user("admin", "系统管理员", None, superuser=True)
    first = communities[0]
    cast = Cast(
        city_dispatcher=user("dispatcher", "王敏（指挥中心受理员）", Role.DISPATCHER, area=city),
        inspector=user("inspector", "陈静（市督查室督查员）", Role.INSPECTOR, area=city),
        campaign=user("campaign", "杨芳（市文明办）", Role.CAMPAIGN_OFFICE, area=city),
        leader=user("leader", "赵军（分管副市长）", Role.LEADER, area=city),
    )
    cast.residents.append(user("resident", "张伟（居民）", Role.RESIDENT))
    cast.grid_workers[first.pk] = user(
        "gridworker", f"李娜（{first.name}网格员）", Role.GRID_WORKER, area=first
    )
    cast.unit_staff[units["HWC"].pk] = user(
        "unitstaff", "刘强（市环境卫生管理处办件员）", Role.UNIT_STAFF, unit=units["HWC"]
    )
    for district in Area.objects.filter(kind=AreaKind.DISTRICT).order_by("code"):
        cast.dispatchers[district.pk] = user(
            f"disp_{district.code}", f"{district.name}受理员", Role.DISPATCHER, area=district
        )
        user(f"leader_{district.code}", f"{district.name}区长", Role.LEADER, area=district)
    for community in communities[1:]:
        cast.grid_workers[community.pk] = user(
            f"gw_{community.code}", f"{community.name}网格员", Role.GRID_WORKER, area=community
        )
    for unit in units.values():
        if unit.pk not in cast.unit_staff:
            cast.unit_staff[unit.pk] = user(
                f"staff_{unit.code.lower()}", f"{unit.name}办件员", Role.UNIT_STAFF, unit=unit
            )
    for i in range(40):
        name = texts.SURNAMES[i % len(texts.SURNAMES)] + texts.GIVEN[(i * 7) % len(texts.GIVEN)]
        cast.residents.append(user(f"res{i + 1:03d}", name, Role.RESIDENT))
    return units, cast


# ---- photos -------------------------------------------------------------------------


def _photo(rng: random.Random, *, after: bool, lat: float, lon: float, when: dt.datetime) -> Any:
    """A small generated photo; before-photos carry real EXIF (time and GPS) as phones write it."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageDraw

    base = (90, 150, 90) if after else (150, 110, 80)
    img = Image.new("RGB", (320, 240), base)
    draw = ImageDraw.Draw(img)
    for _shape in range(6):
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
    return SimpleUploadedFile(
        "after.jpg" if after else "photo.jpg", buf.getvalue(), content_type="image/jpeg"
    )


# ---- what is reported, where and when -----------------------------------------------------

# Relative report volume per local hour: residents and the hotline by day and evening,
# grid workers on their patrol hours.
RESIDENT_HOURS = (1, 1, 0, 0, 0, 1, 2, 5, 8, 9, 9, 8, 6, 6, 7, 8, 8, 8, 9, 10, 10, 8, 5, 2)
PATROL_HOURS = (0, 0, 0, 0, 0, 0, 0, 0, 6, 9, 9, 7, 2, 3, 7, 8, 7, 4, 0, 0, 0, 0, 0, 0)

# Fates pinned so that every state is there whatever the dice say:
# (state, age range in days, how many per 500 cases, at least one).
PINNED: list[tuple[State, tuple[float, float], int]] = [
    (State.REPORTED, (0.02, 0.15), 1),
    (State.REGISTERED, (0.05, 0.3), 1),
    (State.DISPATCHED, (0.1, 0.5), 1),
    (State.RETURNED, (0.3, 2.0), 1),
    (State.IN_PROGRESS, (0.5, 3.0), 2),
    (State.DEFERRED, (6.0, 20.0), 1),
    (State.HANDLED, (1.8, 3.0), 1),
    (State.CLOSED, (2.0, 6.0), 1),
    (State.LOOKBACK_PASSED, (20.0, 150.0), 1),
    (State.RECURRED, (20.0, 150.0), 1),
    (State.REJECTED, (1.0, 150.0), 1),
    (State.VOIDED, (1.0, 150.0), 1),
]
# Cases a unit has let slide: overdue now, urged and escalated by the worker (1 in 100).
OVERDUE_AGE_DAYS = (3.0, 25.0)


@dataclass
class Planned:
    at: dt.datetime
    code: str
    source: str
    point: tuple[float, float]
    grid_id: int
    target: State | None = None  # a pinned fate: the story stops there
    reporter: User | None = None


@dataclass
class Story:
    """One case on its way along the loop."""

    case: Case
    t: dt.datetime  # time of the case's last step
    report: Report | None = None  # the first report (its reporter rates the result)
    target: State | None = None
    reworks: int = 0
    # Deadlines the worker has urged on, and those a supervisor has thought of urging on.
    urged_for: set[dt.datetime] = field(default_factory=set)
    chased_for: set[dt.datetime] = field(default_factory=set)

    @property
    def prompt(self) -> bool:
        """Pinned stories take no detours and no long pauses, so they reach their fate in time."""
        return self.target is not None

    def reached(self) -> bool:
        return self.target is not None and self.case.state == self.target


Steps = Generator[dt.datetime, None, None]


class Replay:
    """Runs the stories of all demo cases in time order, up to the anchor ("now")."""

    def __init__(self, *, rng: random.Random, cast: Cast, anchor: dt.datetime):
        self.rng, self.cast, self.anchor = rng, cast, anchor
        self.start_at = anchor - dt.timedelta(days=HISTORY_DAYS)
        self.notify_from = anchor - dt.timedelta(days=NOTIFY_RECENT_DAYS)
        hours = settings.CIVICLOOP["ESCALATE_AFTER_OVERDUE_HOURS"]
        self.escalate_every = dt.timedelta(hours=float(hours))  # type: ignore[arg-type]
        self.categories = {c.code: c for c in Category.objects.filter(code__in=list(texts.REPORTS))}
        self.category_by_id = {c.pk: c for c in Category.objects.all()}
        self.grid_community: dict[int, int] = {}
        self.grid_district: dict[int, int] = {}
        self.grid_street: dict[int, int] = {}
        self.grids = {g.pk: g for g in Area.objects.filter(kind=AreaKind.GRID).only("pk", "path")}
        self.routes: dict[tuple[int, int], Unit | None] = {}
        self.grid_rules = RoutingRule.objects.filter(area__kind=AreaKind.GRID).exists()
        for grid in self.grids.values():
            ids = [int(x) for x in grid.path.strip("/").split("/") if x]
            # The path runs city, district, street, community, grid.
            self.grid_district[grid.pk] = ids[1]
            self.grid_street[grid.pk] = ids[2]
            self.grid_community[grid.pk] = ids[3]
        self.street_offices = {
            u.area_id: u for u in Unit.objects.filter(kind=UnitKind.STREET_OFFICE)
        }
        self.places = _place_names()
        self._queue: list[tuple[dt.datetime, int, Steps]] = []
        self._order = itertools.count()
        self.touched: set[int] = set()  # cases whose version a joining reporter bumped
        self.failed = 0

    # ---- the clock ----------------------------------------------------------------

    def start(self, steps: Steps) -> None:
        self._advance(steps)

    def _advance(self, steps: Steps) -> None:
        try:
            when = next(steps)
        except StopIteration:
            return
        except CivicError as exc:  # a refused step ends that story, loudly; the rest go on
            self.failed += 1
            log.warning("demo story stopped: %s", exc)
            return
        heapq.heappush(self._queue, (when, next(self._order), steps))

    def run(self) -> None:
        while self._queue:
            _, _, steps = heapq.heappop(self._queue)
            self._advance(steps)

    # ---- time and people ------------------------------------------------------------

    def hours(self, lo: float, hi: float) -> dt.timedelta:
        return dt.timedelta(hours=self.rng.uniform(lo, hi))

    def on_duty(self, t: dt.datetime, *, first: int = 8, last: int = 20) -> dt.datetime:
        """Units and grid workers work by day: a step due at night happens next morning."""
        local = timezone.localtime(t)
        if first <= local.hour < last:
            return t
        day = local.date() if local.hour < first else local.date() + dt.timedelta(days=1)
        opening = dt.datetime.combine(day, dt.time(first), tzinfo=local.tzinfo)
        return opening + dt.timedelta(minutes=self.rng.uniform(0, 75))

    def staff_time(self, s: Story, t: dt.datetime) -> dt.datetime:
        # Emergencies are handled round the clock; pinned stories keep to their schedule.
        if s.prompt or self.category(s.case).time_limit_kind == TimeLimitKind.EMERGENCY_HOURS:
            return t
        return self.on_duty(t)

    def category(self, case: Case) -> Category:
        # Cached: every action refreshes the case, which drops its loaded relations.
        return self.category_by_id[case.category_id]

    def route(self, case: Case) -> Unit | None:
        """The unit the routing rules name, as the dispatch form proposes it. Rules do not
        change during the load, and the demo's bind streets and communities: one lookup per
        category and community (per grid, should a rule ever bind a grid)."""
        place = case.grid_id if self.grid_rules else self.grid_community[case.grid_id]
        key = (case.category_id, place)
        if key not in self.routes:
            grid = self.grids[case.grid_id]
            self.routes[key] = routing.unit_for(category=self.category(case), grid=grid)
        return self.routes[key]

    def dispatcher(self, case: Case) -> User:
        # The city's command centre and the district's own desk share the intake.
        return (
            self.cast.city_dispatcher
            if self.rng.random() < 0.5
            else self.cast.dispatchers[self.grid_district[case.grid_id]]
        )

    def verifier(self, case: Case) -> User:
        return self.cast.grid_workers[self.grid_community[case.grid_id]]

    def handler(self, case: Case) -> User:
        assert case.unit_id is not None, case.ticket_no
        return self.cast.unit_staff[case.unit_id]

    def supervisor(self) -> User:
        c = self.cast
        return self.rng.choices([c.city_dispatcher, c.leader, c.campaign], [6, 3, 1])[0]

    def _quiet(self, at: dt.datetime) -> AbstractContextManager[None]:
        from civicloop.notifications.services import muted

        return nullcontext() if at >= self.notify_from else muted()

    def act(self, s: Story, action: Callable[..., Any], *, at: dt.datetime, **kwargs: Any) -> Any:
        """One real action on the story's case at ``at``."""
        if s.case.pk in self.touched:
            self.touched.discard(s.case.pk)
            s.case = Case.objects.select_related("category", "unit", "grid").get(pk=s.case.pk)
        with self._quiet(at):
            result = action(case=s.case, at=at, **kwargs)
        s.case = result.case if isinstance(result, ExtensionRequest) else result
        s.t = at
        return result

    # ---- waiting, and what the worker does meanwhile ------------------------------------

    def wait(self, s: Story, t: dt.datetime) -> Generator[dt.datetime, None, bool]:
        """Let time run to ``t``. Overdue on the way, the case is urged and escalated as the
        worker (and now and then a person) would have. False when ``t`` is past the anchor."""
        for when, action, kwargs in self._chase(s, min(t, self.anchor)):
            yield when
            self.act(s, action, at=when, **kwargs)
        if t >= self.anchor:
            return False
        yield t
        return True

    def hold(self, s: Story) -> Steps:
        """The case stays where it is until now."""
        yield from self.wait(s, self.anchor)

    def _chase(
        self, s: Story, end: dt.datetime
    ) -> list[tuple[dt.datetime, Callable[..., Any], dict[str, Any]]]:
        """What happens to an overdue case before ``end``: the worker's sweep urges once per
        deadline and escalates one level per period overdue; a supervisor may urge too."""
        case = s.case
        deadline = case.deadline_at
        if case.state not in CLOCK_RUNNING or deadline is None or deadline >= end:
            return []
        rng = self.rng
        steps: list[tuple[dt.datetime, Callable[..., Any], dict[str, Any]]] = []
        start = max(deadline, s.t)
        if deadline not in s.urged_for:
            when = start + dt.timedelta(seconds=rng.uniform(5, 60))  # the next sweep
            if when < end:
                s.urged_for.add(deadline)
                note = _("Overdue: urged automatically.")
                steps.append((when, A.case_urge, {"by": policy.SYSTEM, "note": note}))
        if deadline not in s.chased_for:
            s.chased_for.add(deadline)
            if rng.random() < 0.35:
                when = self.on_duty(start + self.hours(0.5, 8))
                note = rng.choice(texts.URGE_NOTES)
                if when < end:
                    steps.append((when, A.case_urge, {"by": self.supervisor(), "note": note}))
        previous = s.t
        for level in range(case.escalation_level + 1, 5):
            due = max(deadline + self.escalate_every * level, previous)
            when = due + dt.timedelta(seconds=rng.uniform(5, 60))
            if when >= end:
                break
            note = _("Overdue: escalated automatically.")
            steps.append((when, A.case_escalate, {"by": policy.SYSTEM, "note": note}))
            previous = when
        return sorted(steps, key=lambda step: step[0])

    # ---- reporting --------------------------------------------------------------------

    def _report(self, plan: Planned, *, at: dt.datetime, join: bool, jitter: float = 0.0) -> Report:
        from civicloop.places.index import grids_for_points

        rng = self.rng
        code = plan.code
        lat, lon = plan.point
        if jitter:
            moved = (
                round(lat + rng.uniform(-jitter, jitter), 7),
                round(lon + rng.uniform(-jitter, jitter), 7),
            )
            if grids_for_points([moved[0]], [moved[1]])[0] >= 0:  # not off the edge of the city
                lat, lon = moved
        place = _nearest_name(self.places, lat, lon)
        description = rng.choice(texts.REPORTS[code][1]).format(place=place or "路边")
        source = plan.source if not jitter else Source.RESIDENT
        by: User | None = None
        name = phone = ""
        if source == Source.GRID_WORKER:
            by = self.cast.grid_workers[self.grid_community[plan.grid_id]]
        elif source == Source.HOTLINE:
            name = rng.choice(texts.SURNAMES) + rng.choice(["先生", "女士"])
            phone = f"1{rng.choice('3589')}{rng.randrange(100000000, 999999999)}"
        elif plan.reporter is not None and not jitter:
            by = plan.reporter
        elif rng.random() < 0.6:
            by = rng.choice(self.cast.residents)
        photos = [_photo(rng, after=False, lat=lat, lon=lon, when=at)] if rng.random() < 0.3 else []
        with self._quiet(at):
            report = A.case_report(
                category=self.categories[code],
                lat=lat,
                lon=lon,
                description=description,
                source=source,
                by=by,
                name=name,
                phone=phone,
                address=place,
                photos=photos,
                detect_duplicates=join,
                at=at,
            )
        if report.joined_existing:
            self.touched.add(report.case_id)
        return report

    def reported(self, plan: Planned) -> Steps:
        """A problem is reported; most become a case of their own, some neighbours join in."""
        yield plan.at
        report = self._report(plan, at=plan.at, join=plan.target is None)
        if report.joined_existing:
            return
        if plan.target is None and self.rng.random() < 0.08:
            # The same problem, reported again by neighbours in the hours after.
            for _neighbour in range(self.rng.randint(1, 4)):
                self.start(
                    self.reported_again(
                        plan, plan.at + dt.timedelta(minutes=self.rng.uniform(5, 600))
                    )
                )
        yield from self.intake(
            Story(case=report.case, t=plan.at, report=report, target=plan.target)
        )

    def reported_again(self, plan: Planned, at: dt.datetime) -> Steps:
        if at >= self.anchor:
            return
        yield at
        report = self._report(plan, at=at, join=True, jitter=0.00008)  # a few metres off
        if not report.joined_existing:  # the first one was already closed or turned down
            yield from self.intake(Story(case=report.case, t=at, report=report))

    # ---- the loop -----------------------------------------------------------------------

    def intake(self, s: Story) -> Steps:
        """Reported → registered (or turned down)."""
        rng = self.rng
        if s.reached():
            yield from self.hold(s)
            return
        t = s.t + (self.hours(0.1, 0.6) if s.prompt else self.hours(0.1, 1.5))
        if not (yield from self.wait(s, t)):
            return
        if s.target == State.REJECTED or (s.target is None and rng.random() < 0.05):
            self.act(
                s,
                A.case_reject,
                by=self.dispatcher(s.case),
                reason=rng.choice(texts.REJECT_REASONS),
                at=t,
            )
            return
        self.act(s, A.case_register, by=self.dispatcher(s.case), at=t)
        yield from self.dispatch(s)

    def dispatch(self, s: Story) -> Steps:
        """Registered → dispatched → accepted; a mis-dispatch comes back first now and then."""
        rng = self.rng
        if s.reached():
            yield from self.hold(s)
            return
        t = s.t + self.hours(0.05, 0.6)
        if not (yield from self.wait(s, t)):
            return
        if s.target == State.VOIDED or (s.target is None and rng.random() < 0.015):
            self.act(
                s,
                A.case_void,
                by=self.dispatcher(s.case),
                reason=rng.choice(texts.VOID_REASONS),
                at=t,
            )
            return
        self.act(s, A.case_dispatch, by=self.dispatcher(s.case), unit=self.route(s.case), at=t)
        if s.reached():
            yield from self.hold(s)
            return
        if s.target == State.RETURNED or (s.target is None and rng.random() < 0.04):
            t = self.staff_time(s, s.t + self.hours(0.3, 4))
            if not (yield from self.wait(s, t)):
                return
            self.act(
                s,
                A.case_return,
                by=self.handler(s.case),
                reason=rng.choice(texts.RETURN_REASONS),
                at=t,
            )
            if s.reached():
                yield from self.hold(s)
                return
            t = s.t + self.hours(0.2, 3)
            if not (yield from self.wait(s, t)):
                return
            # Returned: the street office of the place takes it on.
            office = self.street_offices[self.grid_street[s.case.grid_id]]
            self.act(s, A.case_dispatch, by=self.dispatcher(s.case), unit=office, at=t)
        # Units accept within a small share of the time limit (minutes, for emergencies).
        span = (s.case.deadline_at - s.t) if s.case.deadline_at else dt.timedelta(hours=8)
        t = self.staff_time(
            s,
            s.t
            + min(
                self.hours(0.1, 1) if s.prompt else self.hours(0.2, 3),
                span * rng.uniform(0.05, 0.3),
            ),
        )
        if not (yield from self.wait(s, t)):
            return
        self.act(s, A.case_accept, by=self.handler(s.case), at=t)
        if s.reached():
            yield from self.hold(s)
            return
        yield from self.handle(s)

    def handle(self, s: Story) -> Steps:
        """In progress → handled → verified; deferral, extension and rework on the way."""
        rng = self.rng
        code = self.category(s.case).code
        slow = self.category(s.case).time_limit_kind in texts.SLOW_KINDS
        if s.target == State.DEFERRED or (s.target is None and slow and rng.random() < 0.035):
            t = self.staff_time(s, s.t + (self.hours(1, 24) if s.prompt else self.hours(2, 48)))
            if not (yield from self.wait(s, t)):
                return
            reasons = texts.DEFER_REASONS.get(code, texts.DEFER_REASONS["default"])
            self.act(s, A.case_defer, by=self.dispatcher(s.case), reason=rng.choice(reasons), at=t)
            if s.reached():
                yield from self.hold(s)
                return
            t = self.on_duty(s.t + dt.timedelta(days=rng.uniform(5, 25)))
            if not (yield from self.wait(s, t)):
                return
            self.act(s, A.case_resume, by=self.dispatcher(s.case), at=t)
        if s.target is None and slow and rng.random() < 0.07:
            t = self.staff_time(s, s.t + self.hours(1, 24))
            if not (yield from self.wait(s, t)):
                return
            until = max(s.case.deadline_at or t, t) + dt.timedelta(days=rng.choice([2, 3, 5]))
            self.act(
                s,
                A.case_request_extension,
                by=self.handler(s.case),
                until=until,
                reason=rng.choice(texts.EXTENSION_REASONS),
                at=t,
            )
            t = s.t + self.hours(0.5, 6)
            if not (yield from self.wait(s, t)):
                return  # still waiting for a decision
            approve = rng.random() < 0.75
            note = "" if approve else rng.choice(texts.EXTENSION_DENIED_NOTES)
            self.act(
                s,
                A.case_decide_extension,
                by=self.dispatcher(s.case),
                approve=approve,
                note=note,
                at=t,
            )
        while True:
            deadline = s.case.deadline_at or (s.t + dt.timedelta(hours=8))
            if s.target is None and rng.random() < 0.07:
                # Late: mostly by hours, now and then by days.
                over = (
                    self.hours(1, 48)
                    if rng.random() < 0.85
                    else dt.timedelta(days=rng.uniform(2, 12))
                )
                t = max(deadline, s.t) + over
            else:
                span = max(deadline - s.t, dt.timedelta(minutes=30))
                t = s.t + (
                    min(span * rng.uniform(0.1, 0.5), dt.timedelta(days=1.5))
                    if s.prompt
                    else span * rng.uniform(0.2, 0.9)
                )
            t = self.staff_time(s, t)
            if not (yield from self.wait(s, t)):
                return
            note = rng.choice(texts.FEEDBACK.get(code, texts.FEEDBACK["default"]))
            photo = _photo(rng, after=True, lat=s.case.lat, lon=s.case.lon, when=t)
            self.act(s, A.case_feedback, by=self.handler(s.case), note=note, photos=[photo], at=t)
            if s.reached():
                yield from self.hold(s)
                return
            slack = deadline - s.t
            if s.prompt:
                pause = self.hours(0.2, 3)
            elif slack > dt.timedelta(0) and rng.random() < 0.9:
                pause = min(slack * rng.uniform(0.2, 0.8), self.hours(0.3, 6))
            else:
                pause = self.hours(0.5, 20)
            t = self.staff_time(s, s.t + pause)
            if not (yield from self.wait(s, t)):
                return
            if s.target is None and s.reworks < 2 and rng.random() < 0.08:
                notes = texts.REWORK_NOTES.get(code, texts.REWORK_NOTES["default"])
                self.act(
                    s,
                    A.case_verify,
                    by=self.verifier(s.case),
                    passed=False,
                    note=rng.choice(notes),
                    at=t,
                )
                s.reworks += 1
                continue
            self.act(s, A.case_verify, by=self.verifier(s.case), passed=True, at=t)
            break
        if s.reached():
            yield from self.hold(s)
            return
        yield from self.evaluate(s)

    def evaluate(self, s: Story) -> Steps:
        """Closed → rated by the reporter → the look-back, which may find it back."""
        rng = self.rng
        report = s.report
        if (
            report is not None
            and report.source in (Source.RESIDENT, Source.HOTLINE)
            and rng.random() < 0.55
        ):
            t = self.on_duty(s.t + self.hours(2, 72), first=8, last=22)
            if not (yield from self.wait(s, t)):
                return
            r = rng.random()
            rating = "satisfied" if r < 0.72 else "basic" if r < 0.92 else "dissatisfied"
            unfixed = (
                rating == "dissatisfied"
                and rng.random() < 0.5
                and s.target != State.LOOKBACK_PASSED
            )
            if report.reporter_id is not None:
                self.act(s, A.case_rate, by=report.reporter, rating=rating, unfixed=unfixed, at=t)
            else:  # rated with the ticket number, without an account
                self.act(
                    s, A.case_rate, ticket_no=report.ticket_no, rating=rating, unfixed=unfixed, at=t
                )
        due = s.case.lookback_due_at or s.t
        t = self.staff_time(s, max(due, s.t) + self.hours(1, 72))
        if not (yield from self.wait(s, t)):
            return
        if s.target is not None:
            passed = s.target != State.RECURRED
        else:
            passed = not (rng.random() < 0.06 or s.case.resident_says_unfixed)
        # Look-backs are walked by the grid worker, and one in four by the city's inspector.
        by = self.cast.inspector if rng.random() < 0.25 else self.verifier(s.case)
        code = self.category(s.case).code
        note = (
            ""
            if passed
            else rng.choice(
                texts.LOOKBACK_FAIL_NOTES.get(code, texts.LOOKBACK_FAIL_NOTES["default"])
            )
        )
        self.act(s, A.case_lookback, by=by, passed=passed, note=note, at=t)
        if passed:
            return
        recurrence = (
            Case.objects.select_related("category", "unit", "grid")
            .filter(recurrence_of=s.case)
            .order_by("-pk")
            .first()
        )
        if recurrence is not None:  # registered already: straight to dispatch
            yield from self.dispatch(Story(case=recurrence, t=t))

    # ---- the plan -----------------------------------------------------------------------

    def plan(self, count: int, points: list[tuple[float, float]]) -> list[Planned]:
        from civicloop.places.index import grids_for_points

        rng = self.rng
        grids = [int(g) for g in grids_for_points([p[0] for p in points], [p[1] for p in points])]
        spots = [(p, g) for p, g in zip(points, grids, strict=True) if g >= 0]
        codes = list(texts.REPORTS)
        weights = [texts.REPORTS[c][0] for c in codes]
        hourly = [
            c
            for c in codes
            if self.categories[c].time_limit_kind
            in (TimeLimitKind.WORKING_HOURS, TimeLimitKind.EMERGENCY_HOURS)
        ]
        slow = [c for c in codes if self.categories[c].time_limit_kind in texts.SLOW_KINDS]
        per = max(1, round(count / 500))
        plans: list[Planned] = []

        def spot() -> tuple[tuple[float, float], int]:
            return spots[len(plans) % len(spots)]

        def add(
            at: dt.datetime,
            code: str,
            source: str,
            target: State | None = None,
            reporter: User | None = None,
        ) -> None:
            point, grid = spot()
            plans.append(
                Planned(
                    at=at,
                    code=code,
                    source=source,
                    point=point,
                    grid_id=grid,
                    target=target,
                    reporter=reporter,
                )
            )

        def ago(days: tuple[float, float]) -> dt.datetime:
            return self.anchor - dt.timedelta(days=rng.uniform(*days))

        resident = self.cast.residents[0]  # the printed resident login
        for state, ages, n in PINNED:
            for i in range(n * per):
                code = (
                    rng.choice(slow) if state == State.DEFERRED else rng.choices(codes, weights)[0]
                )
                mine = (
                    resident if i == 0 and state in (State.LOOKBACK_PASSED, State.HANDLED) else None
                )
                add(
                    ago(ages),
                    code,
                    Source.RESIDENT if mine else rng.choice([Source.RESIDENT, Source.GRID_WORKER]),
                    state,
                    mine,
                )
        for i in range(max(2, count // 100)):
            # Let slide: one never accepted, the rest accepted and then left; hour limits, long gone.
            state = State.DISPATCHED if i == 0 else State.IN_PROGRESS
            add(
                ago(OVERDUE_AGE_DAYS),
                rng.choice(hourly),
                Source.RESIDENT,
                state,
                resident if i == 1 else None,
            )
        natural = count - len(plans)
        for _report in range(natural):
            source = rng.choices(
                [Source.RESIDENT, Source.GRID_WORKER, Source.HOTLINE], [50, 35, 15]
            )[0]
            day = timezone.localtime(
                self.start_at + dt.timedelta(days=rng.uniform(0, HISTORY_DAYS))
            ).date()
            hour = rng.choices(
                range(24), PATROL_HOURS if source == Source.GRID_WORKER else RESIDENT_HOURS
            )[0]
            at = dt.datetime.combine(
                day, dt.time(hour), tzinfo=timezone.get_current_timezone()
            ) + dt.timedelta(seconds=rng.uniform(0, 3600))
            if at >= self.anchor:
                at -= dt.timedelta(days=1)
            add(max(at, self.start_at), rng.choices(codes, weights)[0], source)
        return plans


def _place_names() -> list[tuple[float, float, str]]:
    """(lat, lon, name) of compounds and back streets, to name where a problem is."""
    from civicloop.places.models import BackStreet, Compound

    out = []
    for obj in list(Compound.objects.order_by("pk")) + list(BackStreet.objects.order_by("pk")):
        c = obj.shape.representative_point()
        out.append((c.y, c.x, obj.name))
    return out


def _nearest_name(places: list[tuple[float, float, str]], lat: float, lon: float) -> str:
    if not places:
        return ""
    k = math.cos(math.radians(lat))
    return min(places, key=lambda p: (p[0] - lat) ** 2 + ((p[1] - lon) * k) ** 2)[2]


def generate_cases(*, cast: Cast, count: int, rng: random.Random, anchor: dt.datetime) -> Replay:
    """Replay ``count`` reports over the half year before ``anchor``; returns the finished replay."""
    from civicloop.demo.geography import demo_points

    replay = Replay(rng=rng, cast=cast, anchor=anchor)
    points = demo_points(count, rng.randrange(1 << 30))
    for planned in replay.plan(count, points):
        replay.start(replay.reported(planned))
    replay.run()
    return replay


def load_demo(
    *,
    cases: int = 2000,
    seed: int = 20261123,
    anchor: dt.datetime | None = None,
    stdout: Any = None,
) -> dict[str, int]:
    """Load the demo city once; a second call only reports what is there. Returns counts."""
    from civicloop.cases.seed import seed_categories
    from civicloop.cases.sweeps import sweep
    from civicloop.demo.geography import build_demo_geography
    from civicloop.places.importer import import_areas_from_geojson

    from .models import DemoLoad

    say = (lambda msg: stdout.write(msg)) if stdout is not None else (lambda msg: None)
    if demo_loaded():
        say("The demo city is already loaded: nothing to do.")
        return demo_counts()
    _refuse_foreign_data()
    rng = random.Random(seed)
    anchor = anchor or timezone.now().replace(minute=0, second=0, microsecond=0)
    started = time.monotonic()
    with transaction.atomic():
        say("Building the demo city from the bundled OpenStreetMap extract …")
        seed_categories(Category)  # migrations seed them; a flushed database has none
        import_areas_from_geojson(build_demo_geography())
        _units, cast = build_org()
        open311_client()  # Open311: the demo's integration account and key (demo/open311.py)
        say(
            f"Replaying {cases} reports over the half year before {timezone.localtime(anchor):%Y-%m-%d %H:%M} …"
        )
        replay = generate_cases(cast=cast, count=cases, rng=rng, anchor=anchor)
        if replay.failed:
            say(f"  {replay.failed} stories stopped early (see the log)")
        say("Inspection rounds: standards, sites, undercover rounds, rectification, look-back …")
        load_inspections(cast=cast, rng=random.Random(seed + 1), anchor=anchor, photo=_photo)
        say("The 15-minute life circle on the same streets: walking network, facilities, coverage …")
        load_lifecircle(cast=cast, rng=random.Random(seed + 2))
        DemoLoad.objects.create(seed=seed, cases=cases, anchor=anchor)
    # What the worker does on its next round: due reminders, urging, look-back calls.
    sweep(now=timezone.now())
    say(f"Loaded in {time.monotonic() - started:.0f} s.")
    return {**demo_counts(), "replay.stopped": replay.failed}


def demo_counts(now: dt.datetime | None = None) -> dict[str, int]:
    from civicloop.cases.models import CaseEvent, EventKind
    from civicloop.cases.selectors import overdue_q
    from civicloop.notifications.models import Notice
    from civicloop.places.models import BackStreet, Compound

    now = now or timezone.now()
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
    counts["extensions.denied"] = ExtensionRequest.objects.filter(
        decision=ExtensionRequest.Decision.DENIED
    ).count()
    counts["extensions.pending"] = ExtensionRequest.objects.filter(
        decision=ExtensionRequest.Decision.PENDING
    ).count()
    for kind in (
        EventKind.RETURNED,
        EventKind.DEFERRED,
        EventKind.URGED,
        EventKind.ESCALATED,
        EventKind.LOOKBACK_PASSED,
        EventKind.LOOKBACK_FAILED,
    ):
        counts[f"events.{kind}"] = CaseEvent.objects.filter(kind=kind).count()
    counts["cases.closed_late"] = Case.objects.filter(
        state__in=list(CLOSED_STATES), closed_on_time=False
    ).count()
    counts["cases.overdue_now"] = Case.objects.filter(overdue_q(now)).count()
    counts["notices"] = Notice.objects.count()
    from civicloop.inspections.models import Finding, Round, Visit

    counts["inspections.rounds"] = Round.objects.count()
    counts["inspections.visits"] = Visit.objects.count()
    counts["inspections.findings"] = Finding.objects.count()
    counts["inspections.findings_recurred"] = Finding.objects.filter(recurrence_of__isnull=False).count()
    counts["inspections.rectification_cases"] = Case.objects.filter(finding__isnull=False).count()
    from civicloop.lifecircle.models import Analysis, Building, Facility, Network

    counts["lifecircle.networks"] = Network.objects.filter(is_current=True).count()
    counts["lifecircle.facilities"] = Facility.objects.filter(active=True).count()
    counts["lifecircle.buildings"] = Building.objects.count()
    counts["lifecircle.analyses"] = Analysis.objects.filter(is_current=True).count()
    return counts
