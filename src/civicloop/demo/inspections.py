"""The demo city's inspection and assessment (督查考核), played through the real actions.

What a campaign office would have behind it on the day of the demo:

* two published undercover standards (``inspection_standards.py``): old communities and
  back streets;
* the site register filled from the city's compounds and back streets;
* September's undercover round (暗访), published, its rectification cases long closed;
* October's undercover round, published five weeks ago: its findings became
  rectification cases, most closed in time, some late, some still open and overdue; its
  bulletin (通报);
* the look-back (回头看) of October's round, published two weeks ago: a few problems came
  back and went to their units again as linked cases;
* November's open round (明查), being inspected now: the demo inspector has locations
  left to visit on his phone.

Deterministic for a given seed and anchor; it runs inside the demo's one transaction.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from civicloop.cases import actions as case_actions
from civicloop.cases.models import Case
from civicloop.inspections import rounds as R
from civicloop.inspections.actions import standard_create, standard_publish
from civicloop.inspections.bulletins import bulletin_request
from civicloop.inspections.lookback import lookback_create
from civicloop.inspections.models import (
    DeductionRule,
    Item,
    Round,
    RoundKind,
    RoundLocation,
    Standard,
    Stratify,
)
from civicloop.inspections.sites import sites_from_places
from civicloop.inspections.visits import (
    CheckInput,
    PhotoInput,
    RecheckInput,
    distance_to_site,
    earlier_findings,
    in_a_grid,
    visit_submit,
)
from civicloop.notifications.services import muted
from civicloop.org.models import Role, RoleAssignment, User
from civicloop.places.models import Area, AreaKind

from .inspection_standards import STANDARDS, sections_of

PhotoMaker = Callable[..., Any]

# What an inspector writes when an item deducts, per item content keyword (else the item itself).
FINDING_TEXTS = {
    "垃圾": ["楼栋东侧堆放生活垃圾和建筑垃圾约两立方米", "垃圾桶满溢，周边散落垃圾", "院内角落积存垃圾无人清运"],
    "消防通道": ["两辆私家车停放在消防通道上", "消防通道被杂物和废旧家具占用"],
    "停放": ["非机动车沿楼道口乱停乱放", "机动车占用人行道停放"],
    "私搭乱建": ["一楼住户在公共绿地上搭建彩钢板棚", "沿街商户私自搭建雨棚"],
    "管线": ["通信线缆乱拉乱挂，部分垂落至人行高度", "楼体外墙飞线杂乱"],
    "路面": ["路面破损坑洼约三平方米，雨后积水", "人行道地砖松动缺失"],
    "路灯": ["两盏路灯夜间不亮", "楼道灯损坏未修复"],
    "广告": ["墙面张贴非法小广告十余处", "店面门头牌匾破损、字体缺失"],
    "摊贩": ["早市流动摊贩占道经营约五十米"],
    "店外经营": ["两家商户店外摆放货架经营"],
    "电动车": ["楼道内停放电动车并飞线充电"],
    "排水": ["雨水篦子堵塞，路面积水"],
    "宣传栏": ["公益宣传栏内容陈旧未更新"],
}


def _finding_text(rng: random.Random, content: str) -> str:
    for key, texts in FINDING_TEXTS.items():
        if key in content:
            return rng.choice(texts)
    return content


def _inspectors(cast: Any) -> list[User]:
    """The demo's printed inspector and a colleague of the city's inspection office."""
    colleague = User.objects.filter(username="inspector2").first()
    if colleague is None:
        colleague = User.objects.create(
            username="inspector2", display_name="周磊（市督查室督查员）", password=cast.inspector.password
        )
        RoleAssignment.objects.create(user=colleague, role=Role.INSPECTOR, area=Area.objects.get(kind=AreaKind.CITY))
    return [cast.inspector, colleague]


def _standards(by: User, at: dt.datetime) -> list[Standard]:
    out = []
    for spec in STANDARDS:
        standard = standard_create(
            code=spec.code, name=spec.name, location_type=spec.location_type, by=by,
            sections=sections_of(spec), note=spec.note, at=at,
        )
        out.append(standard_publish(standard=standard, by=by, at=at + dt.timedelta(hours=2)))
    return out


class _Inspections:
    def __init__(self, *, cast: Any, rng: random.Random, anchor: dt.datetime, photo: PhotoMaker):
        self.cast, self.rng, self.anchor, self.photo = cast, rng, anchor, photo
        self.campaign: User = cast.campaign
        self.items: dict[int, list[Item]] = {}

    # ---- a round's life ---------------------------------------------------------------------

    def plan(
        self, *, name: str, kind: str, start: dt.datetime, days: int, standards: list[Standard],
        per_stratum: int, stratify: str, inspectors: list[User], seed: int,
    ) -> Round:
        city = Area.objects.get(kind=AreaKind.CITY)
        rnd = R.round_create(
            by=self.campaign, name=name, kind=kind, area=city,
            period_start=timezone.localtime(start).date(),
            period_end=timezone.localtime(start + dt.timedelta(days=days)).date(),
            standards=standards, stratify=stratify, per_stratum=per_stratum,
            type_weights={"old_community": "60", "back_street": "40"},
            at=start - dt.timedelta(days=3),
        )
        rnd = R.round_draw(round=rnd, by=self.campaign, seed=seed, at=start - dt.timedelta(days=3))
        rnd = R.round_assign(round=rnd, by=self.campaign, inspectors=inspectors)
        return R.round_start(round=rnd, by=self.campaign, at=start)

    def visit(self, location: RoundLocation, at: dt.datetime, *, off_site: bool = False) -> None:
        rng = self.rng
        site = location.site
        point = site.shape.representative_point()
        lat, lon = point.y + rng.uniform(-0.0002, 0.0002), point.x + rng.uniform(-0.0002, 0.0002)
        if off_site:
            lat, lon = self.elsewhere(location, lat, lon)
        items = self.items.setdefault(
            location.standard_id,
            list(Item.objects.filter(section__standard_id=location.standard_id).order_by("section__position", "position")),
        )
        checks, photos = [], []
        for item in items:
            occurrences, veto = 0, False
            if item.rule == DeductionRule.VETO:
                veto = rng.random() < 0.015
            elif item.rule == DeductionRule.FIXED:
                occurrences = 1 if rng.random() < 0.08 else 0
            elif rng.random() < 0.2:
                occurrences = rng.choice((1, 1, 1, 2, 2, 3))
            description = _finding_text(rng, item.content) if occurrences or veto else ""
            checks.append(CheckInput(item_id=item.pk, occurrences=occurrences, veto_hit=veto, description=description))
            if occurrences or veto:
                for _ in range(max(1, item.photos_required)):
                    photos.append(PhotoInput(self.photo(rng, after=False, lat=lat, lon=lon, when=at), item_id=item.pk))
        visit_submit(
            location=location, by=location.inspector, client_uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
            checks=checks, photos=photos, lat=lat, lon=lon, accuracy_m=rng.choice((5, 8, 12, 20)),
            started_at=at - dt.timedelta(minutes=rng.randint(15, 40)), recorded_at=at, at=at,
        )

    @staticmethod
    def elsewhere(location: RoundLocation, lat: float, lon: float) -> tuple[float, float]:
        """Half a kilometre away, beyond the round's tolerance and still inside the city: where an
        inspector who never went there would have pressed "Submit"."""
        for dlat, dlon in ((0.0045, 0.0), (-0.0045, 0.0), (0.0, 0.009), (0.0, -0.009)):
            there = (lat + dlat, lon + dlon)
            if distance_to_site(location.site.shape, *there) > location.round.off_site_metres and in_a_grid(*there):
                return there
        return lat, lon

    def recheck(self, location: RoundLocation, at: dt.datetime, *, recur_share: float) -> None:
        rng = self.rng
        point = location.site.shape.representative_point()
        verdicts, photos = [], []
        for finding in earlier_findings(location).select_related("item"):
            recurred = rng.random() < recur_share
            verdicts.append(RecheckInput(finding_id=finding.pk, recurred=recurred, note="问题反弹，现场仍存在" if recurred else "已整改到位"))
            if recurred:
                for _ in range(max(1, finding.item.photos_required)):
                    photos.append(PhotoInput(self.photo(rng, after=False, lat=point.y, lon=point.x, when=at), finding_id=finding.pk))
        visit_submit(
            location=location, by=location.inspector, client_uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
            rechecks=verdicts, photos=photos, lat=point.y, lon=point.x, accuracy_m=10, recorded_at=at, at=at,
        )

    def inspect_all(self, rnd: Round, start: dt.datetime, days: int, *, off_site: int = 0, lookback_share: float | None = None) -> None:
        locations = list(rnd.locations.select_related("site", "inspector").order_by("draw_order"))
        for i, location in enumerate(locations):
            day = start + dt.timedelta(days=(i * days) // max(1, len(locations)))
            at = timezone.localtime(day).replace(hour=9 + (i % 8), minute=self.rng.randrange(60))
            if lookback_share is None:
                self.visit(location, at, off_site=i < off_site)
            else:
                self.recheck(location, at, recur_share=lookback_share)

    def publish(self, rnd: Round, closed: dt.datetime) -> Round:
        rnd = R.round_close(round=rnd, by=self.campaign, at=closed)
        return R.round_publish(round=rnd, by=self.campaign, at=closed + dt.timedelta(days=1))

    # ---- what the units did with the rectification cases --------------------------------------

    def rectify(self, rnd: Round, *, late: float, open_: float) -> None:
        """Accept, fix and verify the round's rectification cases, as their units would have."""
        cases = Case.objects.filter(finding__visit__location__round=rnd).select_related("unit", "category").order_by("pk")
        for case in cases:
            fate = self.rng.random()
            handler = self.cast.unit_staff.get(case.unit_id)
            if handler is None:
                continue
            start, deadline = case.dispatched_at, case.deadline_at
            span = max(deadline - start, dt.timedelta(hours=2))
            accept_at = start + span * 0.1
            if accept_at >= self.anchor:
                continue
            case = case_actions.case_accept(case=case, by=handler, note="已接单，安排整改", at=accept_at)
            if fate < open_:
                continue  # still being fixed (overdue by now for most)
            done_at = start + span * self.rng.uniform(0.3, 0.8) if fate >= open_ + late else deadline + dt.timedelta(hours=self.rng.randint(6, 60))
            verify_at = done_at + dt.timedelta(hours=1) if fate >= open_ + late else done_at + dt.timedelta(hours=3)
            if verify_at >= self.anchor:
                continue
            point = (case.lat, case.lon)
            case = case_actions.case_feedback(
                case=case, by=handler, note="已按要求整改完毕，附整改后照片",
                photos=[self.photo(self.rng, after=True, lat=point[0], lon=point[1], when=done_at)], at=done_at,
            )
            case_actions.case_verify(case=case, by=self.cast.inspector, passed=True, note="复核：整改到位", at=verify_at)


def load_inspections(*, cast: Any, rng: random.Random, anchor: dt.datetime, photo: PhotoMaker) -> None:
    """Everything in the module docstring (the loader's ``demo_counts`` reports what it made)."""
    play = _Inspections(cast=cast, rng=rng, anchor=anchor, photo=photo)
    day = dt.timedelta(days=1)
    with muted():
        standards = _standards(play.campaign, anchor - 130 * day)
        sites_from_places(by=play.campaign)
        inspectors = _inspectors(cast)

        september = anchor - 80 * day
        r_sep = play.plan(
            name="2026年9月老旧小区和背街小巷环境秩序暗访", kind=RoundKind.UNDERCOVER, start=september, days=6,
            standards=standards, per_stratum=1, stratify=Stratify.STREET_AND_TYPE, inspectors=inspectors, seed=20260901,
        )
        play.inspect_all(r_sep, september, 6)
        r_sep = play.publish(r_sep, september + 7 * day)
        play.rectify(r_sep, late=0.2, open_=0.0)

        october = anchor - 45 * day
        r_oct = play.plan(
            name="2026年10月老旧小区和背街小巷环境秩序暗访", kind=RoundKind.UNDERCOVER, start=october, days=8,
            standards=standards, per_stratum=2, stratify=Stratify.STREET_AND_TYPE, inspectors=inspectors, seed=20261008,
        )
        play.inspect_all(r_oct, october, 8, off_site=1)
        r_oct = play.publish(r_oct, october + 9 * day)
        play.rectify(r_oct, late=0.15, open_=0.12)
        bulletin_request(round=r_oct, by=play.campaign, at=october + 10 * day)

        lookback_start = anchor - 20 * day
        r_back = lookback_create(
            of_round=r_oct, by=play.campaign, period_start=timezone.localtime(lookback_start).date(),
            period_end=timezone.localtime(lookback_start + 5 * day).date(), inspectors=inspectors,
            at=lookback_start - 2 * day,
        )
        r_back = R.round_start(round=r_back, by=play.campaign, at=lookback_start)
        play.inspect_all(r_back, lookback_start, 5, lookback_share=0.2)
        r_back = play.publish(r_back, lookback_start + 6 * day)
        play.rectify(r_back, late=0.0, open_=0.5)

    # Now: an open round (明查) under way, with locations left for the demo inspector's phone.
    november = anchor - 2 * day
    r_nov = play.plan(
        name="2026年11月背街小巷市容秩序明查", kind=RoundKind.OPEN, start=november, days=14,
        standards=[s for s in standards if s.location_type == "back_street"], per_stratum=1,
        stratify=Stratify.STREET, inspectors=[cast.inspector], seed=20261121,
    )
    with muted():
        done = list(r_nov.locations.select_related("site", "inspector").order_by("draw_order")[:2])
        for i, location in enumerate(done):
            play.visit(location, november + dt.timedelta(hours=3 + i))
