"""Category × area → default handling unit."""

from __future__ import annotations

from civicloop.org.models import Unit
from civicloop.places.models import Area

from .models import Category, RoutingRule


def unit_for(*, category: Category, grid: Area) -> Unit | None:
    """The most specific rule wins: the deepest area first, then category over big class over any."""
    area_ids = [int(x) for x in grid.path.strip("/").split("/") if x]
    depth = {aid: i for i, aid in enumerate(area_ids)}
    rules = RoutingRule.objects.filter(unit__active=True).select_related("unit")
    best: tuple[int, int] | None = None
    chosen: Unit | None = None
    for rule in rules:
        if rule.area_id is not None and rule.area_id not in depth:
            continue
        if rule.category_id is not None:
            if rule.category_id != category.pk:
                continue
            specificity = 2
        elif rule.big_code:
            if rule.big_code != category.big_code or (rule.family and rule.family != category.family):
                continue
            specificity = 1
        else:
            if rule.family and rule.family != category.family:
                continue
            specificity = 0
        area_depth = depth[rule.area_id] if rule.area_id is not None else -1
        key = (area_depth, specificity)
        if best is None or key > best:
            best, chosen = key, rule.unit
    return chosen
