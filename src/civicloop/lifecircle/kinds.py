"""The facility kinds of GB 50180-2018 that civicloop knows out of the box.

Each is (code, Chinese name, English name, life circle in minutes, required). The life
circle is the level within which the standard wants every household to reach one (5-minute:
community service station, kindergarten, health station, bus stop, recycling point …;
10-minute: primary school, market or supermarket, park; 15-minute: middle school, health
centre, elderly care). "Required" kinds make up the "all required kinds" coverage. Offices
edit kinds and their OSM tag rules in the admin; these are only the seed.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class KindSeed(NamedTuple):
    code: str
    name_zh: str
    name_en: str
    level_minutes: int
    required: bool


DEFAULT_KINDS: tuple[KindSeed, ...] = (
    KindSeed("supermarket", "超市", "Supermarket", 10, True),
    KindSeed("fresh_market", "菜市场", "Fresh market", 10, False),
    KindSeed("convenience", "便利店", "Convenience shop", 5, False),
    KindSeed("clinic", "社区卫生服务站", "Community health station", 5, True),
    KindSeed("health_centre", "社区卫生服务中心", "Community health centre", 15, True),
    KindSeed("pharmacy", "药店", "Pharmacy", 10, False),
    KindSeed("kindergarten", "幼儿园", "Kindergarten", 5, True),
    KindSeed("primary_school", "小学", "Primary school", 10, True),
    KindSeed("middle_school", "中学", "Middle school", 15, True),
    KindSeed("elderly_care", "养老服务设施", "Elderly care", 15, True),
    KindSeed("community_service", "社区服务站", "Community service station", 5, True),
    KindSeed("culture", "文化活动中心", "Culture centre", 15, False),
    KindSeed("park", "公园绿地", "Park", 10, True),
    KindSeed("fitness", "健身场地", "Fitness ground", 5, False),
    KindSeed("bus_stop", "公交站", "Bus stop", 5, True),
    KindSeed("metro", "轨道交通站", "Rail station", 15, False),
    KindSeed("recycling", "再生资源回收点", "Recycling point", 5, True),
    KindSeed("toilets", "公共厕所", "Public toilet", 5, False),
    KindSeed("post_bank", "邮政与银行", "Post office and bank", 15, False),
)


def seed_kinds(kind_model: Any, rule_model: Any) -> int:
    """Create the default kinds, and the OSM tag rules of each kind created, where missing
    (an office's edits are never overwritten: rows are only added). Takes the model classes
    so that the data migration can pass its historical ones. Returns kinds created."""
    from .osm import DEFAULT_TAG_RULES

    created = 0
    for order, seed in enumerate(DEFAULT_KINDS):
        kind, new = kind_model.objects.get_or_create(
            code=seed.code,
            defaults={
                "name_zh": seed.name_zh,
                "name_en": seed.name_en,
                "level_minutes": seed.level_minutes,
                "required": seed.required,
                "sort_order": order,
            },
        )
        if new:
            created += 1
            rule_model.objects.bulk_create(
                [
                    rule_model(kind=kind, key=r.key, value=r.value)
                    for r in DEFAULT_TAG_RULES
                    if r.kind == seed.code
                ],
                ignore_conflicts=True,
            )
    return created
