"""The scoring engine: item results → item deductions → section scores → location score.

Pure functions over plain values (no database): ``rules_for(standard)`` turns a stored
version into ``ItemRule`` rows once, and everything else — the server, the XLSForm's
calculations (``xlsform.py``), re-scoring of submissions (``submissions.py``) — follows
the rules written here. All arithmetic is ``Decimal``; points have at most two decimals,
so every sum below is exact and only the final 0–100 score is rounded.

The rules
---------
* An item that is **not applicable** (不适用) neither deducts nor counts towards the
  full points: it is left out of its section and of the location.
* **Per occurrence** (每处扣 d 分): ``min(full_points, d × occurrences)``.
* **Fixed** (发现即扣 d 分): ``d`` when found at least once, else 0 (``d ≤ full_points``).
* **Veto** (一票否决): when hit, the item deducts its own points (often 0) and its
  section (scope "section") or the whole location (scope "location") scores 0.
  Occurrences of a veto item are ignored; ``veto_hit`` is what counts.
  A location veto zeroes every section too, so the location's raw score stays the sum
  of its sections' scores.
* A **section** scores ``full − Σ deductions`` over its applicable items (never below
  0, since no item deducts more than its points), or 0 when vetoed. A section whose
  items are all not applicable is itself not applicable.
* The **location**'s raw score is the sum of its applicable sections' scores out of
  the sum of their full points. Its score is always put on 0–100:
  ``raw × 100 / full``, rounded half up to two decimals. When the full points of a
  standard sum to 100 and nothing is "not applicable", the score *is* the raw score;
  otherwise (a standard written out of 80 or 120 points, items left out) the scaling
  keeps scores of different locations and versions comparable — a location is judged
  on what could be judged there. A location where nothing applies has no score (None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from civicloop.core.errors import ValidationFailed

if TYPE_CHECKING:
    from .models import Item, Standard

ZERO = Decimal("0")
HUNDRED = Decimal("100")
CENT = Decimal("0.01")

PER_OCCURRENCE = "per_occurrence"
FIXED = "fixed"
VETO = "veto"
SCOPE_SECTION = "section"
SCOPE_LOCATION = "location"


@dataclass(frozen=True)
class ItemRule:
    """What scoring needs to know of one item of a standard version."""

    key: str  # unique within the version, e.g. "s1_i2"
    section: str  # the section's key, e.g. "s1"
    full_points: Decimal
    rule: str  # PER_OCCURRENCE, FIXED or VETO
    deduction: Decimal = ZERO
    veto_scope: str = ""  # SCOPE_SECTION or SCOPE_LOCATION for veto items


@dataclass(frozen=True)
class ItemResult:
    """What the inspector found for one item."""

    occurrences: int = 0
    veto_hit: bool = False
    not_applicable: bool = False


@dataclass(frozen=True)
class ItemScore:
    key: str
    applicable: bool
    full_points: Decimal  # 0 when not applicable
    deduction: Decimal
    veto_hit: bool


@dataclass(frozen=True)
class SectionScore:
    key: str
    applicable: bool
    full_points: Decimal  # of the applicable items
    deducted: Decimal  # Σ item deductions (before any veto)
    score: Decimal  # full − deducted, or 0 when vetoed
    vetoed: bool
    items: tuple[ItemScore, ...] = field(default=())


@dataclass(frozen=True)
class LocationScore:
    full_points: Decimal  # Σ applicable sections' full points
    raw_score: Decimal  # Σ applicable sections' scores
    score: Decimal | None  # raw on 0–100, two decimals; None when nothing applies
    vetoed: bool
    veto_items: tuple[str, ...]  # keys of the veto items that were hit
    sections: tuple[SectionScore, ...]

    def section(self, key: str) -> SectionScore:
        return next(s for s in self.sections if s.key == key)

    def item(self, key: str) -> ItemScore:
        return next(i for s in self.sections for i in s.items if i.key == key)


class ScoringInputError(ValidationFailed):
    """Item results that cannot be scored (a negative count, an unknown item …)."""


def rules_for(standard: Standard) -> list[ItemRule]:
    """The items of a stored standard version as scoring rules, in order."""
    from .models import Item

    items = (
        Item.objects.filter(section__standard=standard)
        .select_related("section")
        .order_by("section__position", "position")
    )
    return [rule_of(item) for item in items]


def item_key(section_position: int, item_position: int) -> str:
    return f"s{section_position}_i{item_position}"


def section_key(section_position: int) -> str:
    return f"s{section_position}"


def rule_of(item: Item) -> ItemRule:
    section = item.section
    return ItemRule(
        key=item_key(section.position, item.position),
        section=section_key(section.position),
        full_points=Decimal(item.full_points),
        rule=str(item.rule),
        deduction=Decimal(item.deduction),
        veto_scope=str(item.veto_scope),
    )


def item_deduction(rule: ItemRule, result: ItemResult) -> Decimal:
    """Points the item loses: between 0 and its full points, 0 when not applicable."""
    if result.occurrences < 0:
        raise ScoringInputError(
            _("Item %(item)s: the number of occurrences cannot be negative.") % {"item": rule.key},
            field=rule.key,
        )
    if result.veto_hit and rule.rule != VETO:
        raise ScoringInputError(
            _("Item %(item)s is not a veto item.") % {"item": rule.key}, field=rule.key
        )
    if result.not_applicable:
        return ZERO
    if rule.rule == PER_OCCURRENCE:
        return min(rule.full_points, rule.deduction * result.occurrences)
    if rule.rule == FIXED:
        return min(rule.full_points, rule.deduction) if result.occurrences > 0 else ZERO
    if rule.rule == VETO:
        return rule.full_points if result.veto_hit else ZERO
    raise ScoringInputError(
        _("Item %(item)s has an unknown deduction rule.") % {"item": rule.key}, field=rule.key
    )


def score_location(rules: Sequence[ItemRule], results: Mapping[str, ItemResult]) -> LocationScore:
    """Score one location. Items without a result were inspected and found fine."""
    known = {r.key for r in rules}
    unknown = sorted(set(results) - known)
    if unknown:
        raise ScoringInputError(
            _("These items are not part of the standard: %(items)s.")
            % {"items": ", ".join(unknown)}
        )
    blank = ItemResult()
    by_section: dict[str, list[ItemRule]] = {}
    for rule in rules:
        by_section.setdefault(rule.section, []).append(rule)

    veto_items: list[str] = []
    location_vetoed = False
    drafts: list[tuple[str, list[ItemScore], bool]] = []
    for key, section_rules in by_section.items():
        items: list[ItemScore] = []
        section_vetoed = False
        for rule in section_rules:
            result = results.get(rule.key, blank)
            deduction = item_deduction(rule, result)
            hit = rule.rule == VETO and result.veto_hit and not result.not_applicable
            if hit:
                veto_items.append(rule.key)
                if rule.veto_scope == SCOPE_LOCATION:
                    location_vetoed = True
                else:
                    section_vetoed = True
            items.append(
                ItemScore(
                    key=rule.key,
                    applicable=not result.not_applicable,
                    full_points=ZERO if result.not_applicable else rule.full_points,
                    deduction=deduction,
                    veto_hit=hit,
                )
            )
        drafts.append((key, items, section_vetoed))

    sections = tuple(
        _section(key, items, vetoed or location_vetoed) for key, items, vetoed in drafts
    )
    applicable = [s for s in sections if s.applicable]
    full = sum((s.full_points for s in applicable), ZERO)
    raw = sum((s.score for s in applicable), ZERO)
    if location_vetoed:
        score: Decimal | None = ZERO if applicable else None
    else:
        score = scaled(raw, full)
    return LocationScore(
        full_points=full,
        raw_score=raw,
        score=score,
        vetoed=location_vetoed,
        veto_items=tuple(veto_items),
        sections=sections,
    )


def _section(key: str, items: Iterable[ItemScore], vetoed: bool) -> SectionScore:
    items = tuple(items)
    live = [i for i in items if i.applicable]
    full = sum((i.full_points for i in live), ZERO)
    deducted = sum((i.deduction for i in live), ZERO)
    applicable = bool(live)
    return SectionScore(
        key=key,
        applicable=applicable,
        full_points=full,
        deducted=deducted,
        score=ZERO if vetoed or not applicable else full - deducted,
        vetoed=vetoed and applicable,
        items=items,
    )


def scaled(raw: Decimal, full: Decimal) -> Decimal | None:
    """``raw`` out of ``full`` on 0–100, two decimals, half up; None when ``full`` is 0."""
    if full <= 0:
        return None
    return (raw * HUNDRED / full).quantize(CENT, rounding=ROUND_HALF_UP)
