"""The demo city's two undercover assessment standards (暗访考核标准), modelled on the
campaign against problems in old communities and back streets (DOMAIN.md, Aksu):
messy aerial cables, broken road surfaces, shabby shop signs, piled garbage, vendors on
the road, illegal structures and blocked fire lanes.

Each item: (content, points, rule, deduction, veto scope, photos required, unit code or
"" for the site's own unit, GB/T 30428 category code, time limit kind, time limit value).
Written through ``inspections.actions.standard_create`` like any author's standard.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from civicloop.cases.models import Category
from civicloop.inspections.actions import ItemSpec, SectionSpec
from civicloop.inspections.models import LocationType
from civicloop.org.models import Unit


class DemoItem(NamedTuple):
    content: str
    points: str
    rule: str
    deduction: str = "0"
    veto_scope: str = ""
    photos: int = 1
    unit: str = ""
    category: str = ""
    limit_kind: str = ""
    limit_value: int | None = None


class DemoStandard(NamedTuple):
    code: str
    name: str
    location_type: str
    note: str
    sections: tuple[tuple[str, tuple[DemoItem, ...]], ...]


OLD_COMMUNITY = DemoStandard(
    code="AF-LJXQ",
    name="老旧小区环境秩序暗访考核标准",
    location_type=LocationType.OLD_COMMUNITY,
    note="适用于2000年以前建成的老旧小区、家属院和楼院；每处问题按扣分标准扣分，扣完为止。",
    sections=(
        (
            "环境卫生",
            (
                DemoItem("楼院、楼道无垃圾乱堆放，无卫生死角", "12", "per_occurrence", "2", unit="", category="E0113", limit_kind="working_days", limit_value=2),
                DemoItem("垃圾分类收集设施完好、定点投放，无满溢", "8", "per_occurrence", "2", unit="D-HWC", category="C0305", limit_kind="working_days", limit_value=2),
                DemoItem("楼道、院落无乱贴乱画、非法小广告", "5", "per_occurrence", "1", unit="", category="E0201", limit_kind="working_days", limit_value=3),
            ),
        ),
        (
            "秩序管理",
            (
                DemoItem("消防通道畅通，无车辆、杂物占用", "10", "per_occurrence", "5", photos=2, unit="", category="E0408", limit_kind="emergency_hours", limit_value=24),
                DemoItem("车辆、非机动车停放有序", "6", "per_occurrence", "1", unit="", category="E0506", limit_kind="working_days", limit_value=2),
                DemoItem("无私搭乱建、违规圈占公共空间", "10", "fixed", "10", photos=2, unit="D-ZFD", category="E0101", limit_kind="working_days", limit_value=10),
            ),
        ),
        (
            "设施维护",
            (
                DemoItem("空中管线规整，无乱拉乱架、垂落线缆", "10", "per_occurrence", "2", unit="D-TXB", category="E0112", limit_kind="working_days", limit_value=10),
                DemoItem("院内道路平整，无破损、坑洼、积水", "10", "per_occurrence", "2", unit="D-SZC", category="E0110", limit_kind="working_days", limit_value=5),
                DemoItem("路灯、楼道灯完好，夜间正常亮灯", "6", "per_occurrence", "1", unit="", category="C0118", limit_kind="working_days", limit_value=3),
                DemoItem("公益宣传栏（文明创建公益广告）设置规范、内容更新", "5", "fixed", "3", photos=1, unit="", category="C0501", limit_kind="working_days", limit_value=5),
            ),
        ),
        (
            "安全管理",
            (
                DemoItem("楼道内无电动车停放、飞线充电", "8", "per_occurrence", "4", photos=1, unit="", category="E0506", limit_kind="emergency_hours", limit_value=24),
                DemoItem("楼道无杂物堆放，消防器材齐全有效", "10", "per_occurrence", "2", unit="", category="C0113", limit_kind="working_days", limit_value=3),
                DemoItem("存在重大火灾隐患且当场拒不整改（一票否决）", "0", "veto", veto_scope="location", photos=2, unit="", category="E0408", limit_kind="emergency_hours", limit_value=4),
            ),
        ),
    ),
)

BACK_STREET = DemoStandard(
    code="AF-BJXX",
    name="背街小巷市容秩序暗访考核标准",
    location_type=LocationType.BACK_STREET,
    note="适用于精品街、严管街、示范街和常态管理街巷；以整条街巷为一个点位测评。",
    sections=(
        (
            "路面与设施",
            (
                DemoItem("路面硬化平整，无坑洼、破损、塌陷", "12", "per_occurrence", "3", unit="D-SZC", category="E0110", limit_kind="working_days", limit_value=5),
                DemoItem("排水通畅，无明沟、积水，井盖齐全完好", "8", "per_occurrence", "2", unit="D-SZC", category="C0103", limit_kind="emergency_hours", limit_value=24),
                DemoItem("路灯设置齐全，亮灯率不低于95%", "8", "per_occurrence", "1", unit="D-SZC", category="C0118", limit_kind="working_days", limit_value=3),
                DemoItem("空中管线规整，无乱拉乱架", "10", "per_occurrence", "2", unit="D-TXB", category="E0112", limit_kind="working_days", limit_value=10),
            ),
        ),
        (
            "市容秩序",
            (
                DemoItem("无流动摊贩占道经营", "10", "per_occurrence", "2", unit="D-ZFD", category="E0511", limit_kind="working_hours", limit_value=8),
                DemoItem("无店外经营、乱堆物堆料", "10", "per_occurrence", "2", unit="", category="E0504", limit_kind="working_days", limit_value=1),
                DemoItem("机动车、非机动车停放有序，不堵塞消防通道", "10", "per_occurrence", "2", photos=1, unit="D-JJZ", category="E0505", limit_kind="emergency_hours", limit_value=24),
                DemoItem("无私搭乱建", "8", "fixed", "8", photos=2, unit="D-ZFD", category="E0101", limit_kind="working_days", limit_value=10),
            ),
        ),
        (
            "广告与立面",
            (
                DemoItem("店面门头牌匾规范，无破旧残缺", "8", "per_occurrence", "2", unit="", category="E0205", limit_kind="working_days", limit_value=10),
                DemoItem("无非法小广告、乱贴乱画", "6", "per_occurrence", "1", unit="", category="E0201", limit_kind="working_days", limit_value=2),
            ),
        ),
        (
            "环境卫生",
            (
                DemoItem("路面干净，无暴露垃圾、积存垃圾", "10", "per_occurrence", "2", unit="D-HWC", category="E0102", limit_kind="working_hours", limit_value=8),
                DemoItem("发生大面积垃圾焚烧或污水横流（本部分不得分）", "0", "veto", veto_scope="section", photos=1, unit="D-HWC", category="E0113", limit_kind="emergency_hours", limit_value=4),
            ),
        ),
    ),
)

STANDARDS = (OLD_COMMUNITY, BACK_STREET)


def sections_of(standard: DemoStandard) -> list[SectionSpec]:
    """The standard as the authoring actions take it, with the demo city's units and categories."""
    units = {u.code: u for u in Unit.objects.filter(code__in={i.unit for _, items in standard.sections for i in items if i.unit})}
    categories = {c.code: c for c in Category.objects.filter(code__in={i.category for _, items in standard.sections for i in items if i.category})}
    return [
        SectionSpec(
            name,
            [
                ItemSpec(
                    i.content,
                    Decimal(i.points),
                    i.rule,
                    Decimal(i.deduction),
                    veto_scope=i.veto_scope,
                    photos_required=i.photos,
                    unit=units.get(i.unit) if i.unit else None,
                    category=categories.get(i.category) if i.category else None,
                    rectify_limit_kind=i.limit_kind,
                    rectify_limit_value=i.limit_value,
                )
                for i in items
            ],
        )
        for name, items in standard.sections
    ]
