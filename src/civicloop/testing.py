"""A small, fully wired city for tests: areas, units, routing and one persona per role.

Built with the ORM directly (fast); the geometry is a few boxes near the demo city
so the grid index, duplicates and escalation all work for real.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from shapely.geometry import box

from civicloop.org.models import Role, RoleAssignment, Unit, UnitKind, User
from civicloop.places.models import Area, AreaKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Tuesday in a normal working week of 2026 (no holiday near), 10:00 local time.
T0 = dt.datetime(2026, 11, 17, 10, 0, tzinfo=SHANGHAI)

# In Aksu (阿克苏), inside mainland China, so GCJ-02 input really is shifted.
LON0, LAT0 = 80.262, 41.168
STEP = 0.002  # about 220 m north-south, 170 m east-west here


def _area(kind: str, code: str, name: str, parent: Area | None, geom: Any) -> Area:
    a = Area(kind=kind, code=code, name=name, parent=parent)
    a.set_geometry(geom)
    a.save()
    return a


@dataclass
class TestCity:
    __test__ = False  # a fixture's data, not a pytest test class
    areas: dict[str, Area] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def point_in(self, grid_key: str) -> tuple[float, float]:
        """(lat, lon) of the centre of a grid."""
        c = self.areas[grid_key].shape.centroid
        return c.y, c.x


def build_test_city() -> TestCity:
    from civicloop.cases.models import Category, RoutingRule
    from civicloop.cases.seed import seed_categories

    # Transactional tests flush the tables, the migration-seeded categories included.
    if not Category.objects.exists():
        seed_categories(Category)
    city = TestCity()
    a = city.areas
    # Two districts side by side; district A has two communities, B has one.
    a["city"] = _area(AreaKind.CITY, "650100", "示范市", None, box(LON0, LAT0, LON0 + 4 * STEP, LAT0 + 2 * STEP))
    a["dA"] = _area(AreaKind.DISTRICT, "650102", "老城区", a["city"], box(LON0, LAT0, LON0 + 3 * STEP, LAT0 + 2 * STEP))
    a["dB"] = _area(AreaKind.DISTRICT, "650103", "新华区", a["city"], box(LON0 + 3 * STEP, LAT0, LON0 + 4 * STEP, LAT0 + 2 * STEP))
    a["sA"] = _area(AreaKind.STREET, "650102001", "东关街道", a["dA"], box(LON0, LAT0, LON0 + 3 * STEP, LAT0 + 2 * STEP))
    a["sB"] = _area(AreaKind.STREET, "650103001", "西门街道", a["dB"], box(LON0 + 3 * STEP, LAT0, LON0 + 4 * STEP, LAT0 + 2 * STEP))
    a["c1"] = _area(AreaKind.COMMUNITY, "650102001001", "幸福社区", a["sA"], box(LON0, LAT0, LON0 + 2 * STEP, LAT0 + 2 * STEP))
    a["c2"] = _area(AreaKind.COMMUNITY, "650102001002", "和平社区", a["sA"], box(LON0 + 2 * STEP, LAT0, LON0 + 3 * STEP, LAT0 + 2 * STEP))
    a["c3"] = _area(AreaKind.COMMUNITY, "650103001001", "团结社区", a["sB"], box(LON0 + 3 * STEP, LAT0, LON0 + 4 * STEP, LAT0 + 2 * STEP))
    a["g1"] = _area(AreaKind.GRID, "650102001001001", "幸福社区第1网格", a["c1"], box(LON0, LAT0 + STEP, LON0 + 2 * STEP, LAT0 + 2 * STEP))
    a["g2"] = _area(AreaKind.GRID, "650102001001002", "幸福社区第2网格", a["c1"], box(LON0, LAT0, LON0 + 2 * STEP, LAT0 + STEP))
    a["g3"] = _area(AreaKind.GRID, "650102001002001", "和平社区第1网格", a["c2"], box(LON0 + 2 * STEP, LAT0, LON0 + 3 * STEP, LAT0 + 2 * STEP))
    a["g4"] = _area(AreaKind.GRID, "650103001001001", "团结社区第1网格", a["c3"], box(LON0 + 3 * STEP, LAT0, LON0 + 4 * STEP, LAT0 + 2 * STEP))

    u = city.units
    u["gov"] = Unit.objects.create(kind=UnitKind.GOVERNMENT, code="U-CMD", name="市城市运行管理服务中心")
    u["cgj"] = Unit.objects.create(kind=UnitKind.DEPARTMENT, code="U-CGJ", name="市城市管理局", parent=u["gov"])
    u["hwc"] = Unit.objects.create(kind=UnitKind.DEPARTMENT, code="U-HWC", name="市环境卫生管理处", parent=u["cgj"])
    u["ylj"] = Unit.objects.create(kind=UnitKind.DEPARTMENT, code="U-YLJ", name="市园林局", parent=u["gov"])
    u["jdA"] = Unit.objects.create(kind=UnitKind.STREET_OFFICE, code="U-SA", name="东关街道办事处", parent=u["gov"], area=a["sA"])
    u["jwc1"] = Unit.objects.create(kind=UnitKind.COMMUNITY_COMMITTEE, code="U-C1", name="幸福社区居委会", parent=u["jdA"], area=a["c1"])
    u["jwc3"] = Unit.objects.create(kind=UnitKind.COMMUNITY_COMMITTEE, code="U-C3", name="团结社区居委会", parent=u["gov"], area=a["c3"])
    u["wy"] = Unit.objects.create(kind=UnitKind.PROPERTY_COMPANY, code="U-WY", name="安居物业公司", parent=u["jwc1"], area=a["c1"])

    RoutingRule.objects.create(unit=u["cgj"])  # everything, city-wide
    RoutingRule.objects.create(family="event", big_code="01", unit=u["hwc"])  # city appearance → sanitation
    RoutingRule.objects.create(category=Category.objects.get(code="C0402"), unit=u["ylj"])  # street trees → parks
    RoutingRule.objects.create(family="event", big_code="05", area=a["c1"], unit=u["jwc1"])  # street order in 幸福社区

    def person(key: str, role: str | None, *, area: str | None = None, unit: str | None = None, **extra: Any) -> User:
        user = User.objects.create_user(username=key, password="pw", display_name=key, **extra)
        if role:
            RoleAssignment.objects.create(user=user, role=role, area=a[area] if area else None, unit=u[unit] if unit else None)
        city.users[key] = user
        return user

    person("resident", Role.RESIDENT)
    person("resident2", Role.RESIDENT)
    person("grid_worker", Role.GRID_WORKER, area="c1")
    person("grid_worker_c3", Role.GRID_WORKER, area="c3")
    person("dispatcher", Role.DISPATCHER, area="dA")
    person("dispatcher_b", Role.DISPATCHER, area="dB")
    person("unit_staff", Role.UNIT_STAFF, unit="hwc")
    person("cgj_staff", Role.UNIT_STAFF, unit="cgj")
    person("park_staff", Role.UNIT_STAFF, unit="ylj")
    person("community_staff", Role.UNIT_STAFF, unit="jwc1")
    person("community3_staff", Role.UNIT_STAFF, unit="jwc3")
    person("inspector", Role.INSPECTOR, area="dA")
    person("campaign_office", Role.CAMPAIGN_OFFICE, area="city")
    person("leader", Role.LEADER, area="city")
    person("leader_b", Role.LEADER, area="dB")
    person("outsider", None)
    admin = User.objects.create_superuser(username="admin", password="pw")
    city.users["admin"] = admin
    return city


def jpeg_upload(name: str = "photo.jpg", color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (64, 48)) -> SimpleUploadedFile:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=80)
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


class Loop:
    """Drives a case along the workflow with the real actions, at controlled times."""

    def __init__(self, city: TestCity, *, t0: dt.datetime = T0, category: str = "E0102", grid: str = "g1"):
        self.city, self.t, self.category, self.grid = city, t0, category, grid

    def tick(self, minutes: int = 30) -> dt.datetime:
        self.t = self.t + dt.timedelta(minutes=minutes)
        return self.t

    def u(self, key: str) -> User:
        return self.city.users[key]

    def report(self, *, by: str | None = "resident", description: str = "楼下垃圾堆放三天无人清理", grid: str | None = None, **kw: Any):
        from civicloop.cases.actions import case_report

        lat, lon = self.city.point_in(grid or self.grid)
        return case_report(category=kw.pop("category", self.category), lat=lat, lon=lon, description=description,
                           by=self.u(by) if by else None, at=self.tick(), **kw)

    def to(self, state: str, **kw: Any):
        """A fresh case brought to ``state`` by the shortest legal path."""
        from civicloop.cases import actions as A
        from civicloop.cases.models import State

        kw.setdefault("detect_duplicates", False)  # a fresh case, never joined to an earlier one
        case = self.report(**kw).case
        path = {
            State.REPORTED: [],
            State.REGISTERED: ["register"],
            State.REJECTED: ["reject"],
            State.VOIDED: ["register", "void"],
            State.DISPATCHED: ["register", "dispatch"],
            State.RETURNED: ["register", "dispatch", "return"],
            State.IN_PROGRESS: ["register", "dispatch", "accept"],
            State.DEFERRED: ["register", "dispatch", "accept", "defer"],
            State.HANDLED: ["register", "dispatch", "accept", "feedback"],
            State.CLOSED: ["register", "dispatch", "accept", "feedback", "verify"],
            State.LOOKBACK_PASSED: ["register", "dispatch", "accept", "feedback", "verify", "lookback_pass"],
            State.RECURRED: ["register", "dispatch", "accept", "feedback", "verify", "lookback_fail"],
        }[State(state)]
        d, h, g = self.dispatcher_for(case), self.handler_for(case), self.grid_worker_for(case)
        for step in path:
            at = self.tick()
            if step == "register":
                case = A.case_register(case=case, by=d, at=at)
            elif step == "reject":
                case = A.case_reject(case=case, by=d, reason="重复上报，已有同类工单", at=at)
            elif step == "void":
                case = A.case_void(case=case, by=d, reason="误报", at=at)
            elif step == "dispatch":
                case = A.case_dispatch(case=case, by=d, at=at)
                h = self.handler_for(case)
            elif step == "return":
                case = A.case_return(case=case, by=h, reason="不属于本单位职责", at=at)
            elif step == "accept":
                case = A.case_accept(case=case, by=h, at=at)
            elif step == "defer":
                case = A.case_defer(case=case, by=d, reason="需待春季施工", at=at)
            elif step == "feedback":
                case = A.case_feedback(case=case, by=h, note="已清运完毕", photos=[jpeg_upload("after.jpg")], at=at)
            elif step == "verify":
                case = A.case_verify(case=case, by=g, passed=True, at=at)
            elif step in ("lookback_pass", "lookback_fail"):
                self.t = case.lookback_due_at + dt.timedelta(hours=1)
                case = A.case_lookback(case=case, by=g, passed=step == "lookback_pass", note="" if step == "lookback_pass" else "垃圾又堆起来了", at=self.t)
        return case

    def _area_persona(self, case: Any, keys: tuple[str, ...]) -> User:
        """The first persona among ``keys`` whose role area contains the case's grid."""
        for key in keys:
            user = self.city.users[key]
            ra = user.roles.first()
            if ra and ra.area_id and case.grid.path.startswith(ra.area.path):
                return user
        return self.city.users[keys[0]]

    def dispatcher_for(self, case: Any) -> User:
        return self._area_persona(case, ("dispatcher", "dispatcher_b"))

    def grid_worker_for(self, case: Any) -> User:
        return self._area_persona(case, ("grid_worker", "grid_worker_c3"))

    def handler_for(self, case: Any) -> User | None:
        """A staff member of the case's main unit, from the test city's personas."""
        if case.unit_id is None:
            return None
        for key in ("unit_staff", "cgj_staff", "park_staff", "community_staff", "community3_staff"):
            user = self.city.users[key]
            ra = user.roles.first()
            if ra and ra.unit_id and case.unit.path.startswith(ra.unit.path):
                return user
        return None


@contextmanager
def serve_locally(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 for tests of outgoing calls; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
