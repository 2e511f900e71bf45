"""A small old-community standard (老旧小区) written through the real actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from civicloop.cases.models import Category
from civicloop.inspections.actions import ItemSpec, SectionSpec, standard_create
from civicloop.inspections.models import Standard
from civicloop.testing import T0, TestCity


def old_community_sections(city: TestCity | None = None) -> list[SectionSpec]:
    unit = city.units["hwc"] if city else None
    category = Category.objects.get(code="E0102") if city else None
    return [
        SectionSpec(
            "环境卫生",
            [
                ItemSpec(
                    "楼道、院落无垃圾堆积，无卫生死角",
                    Decimal("10"),
                    "per_occurrence",
                    Decimal("2"),
                    photos_required=1,
                    unit=unit,
                    category=category,
                    rectify_limit_kind="working_days",
                    rectify_limit_value=3,
                ),
                ItemSpec(
                    "垃圾分类设施完好，分类投放",
                    Decimal("5"),
                    "fixed",
                    Decimal("3"),
                    rectify_limit_kind="working_hours",
                    rectify_limit_value=8,
                ),
                ItemSpec("存在大面积垃圾焚烧", Decimal("0"), "veto", veto_scope="section"),
            ],
        ),
        SectionSpec(
            "秩序管理",
            [
                ItemSpec(
                    "车辆停放有序，无占用消防通道",
                    Decimal("8"),
                    "per_occurrence",
                    Decimal("0.5"),
                    photos_required=2,
                    rectify_limit_kind="emergency_hours",
                    rectify_limit_value=24,
                ),
                ItemSpec(
                    "无违章搭建",
                    Decimal("7"),
                    "fixed",
                    Decimal("7"),
                    rectify_limit_kind="calendar_days",
                    rectify_limit_value=7,
                ),
                ItemSpec("发生安全责任事故", Decimal("0"), "veto", veto_scope="location"),
            ],
        ),
    ]


def make_standard(
    city: TestCity, *, code: str = "LXXQ", publish: bool = False, **kw: Any
) -> Standard:
    from civicloop.inspections.actions import standard_publish

    standard = standard_create(
        code=code,
        name=kw.pop("name", "老旧小区测评标准"),
        location_type=kw.pop("location_type", "old_community"),
        sections=kw.pop("sections", None) or old_community_sections(city),
        by=city.users["campaign_office"],
        at=T0,
    )
    if publish:
        standard = standard_publish(standard=standard, by=city.users["campaign_office"], at=T0)
    return standard
