"""Evaluation of the handling units from the case loop (GB/T 30428.4 综合评价).

The counts and the five rates come from ``cases.metrics`` (``figures_by_unit``), never
counted again here: 处置率 (handling), 按期处置率 (on-time handling), 返工率 (rework),
结案率 (closure) and 按期结案率 (on-time closure), each already rounded half up to two
decimals by ``cases.metrics.percentage``.

The composite is the weighted mean of those rounded rates, so anyone can redo it by hand
from the table:

    composite = Σ_k w_k · r_k / Σ_k w_k

where the rework rate enters as ``100 − 返工率`` (less rework is better). A rate that is
undefined for a unit (nothing to measure: ``None``, shown "—") drops out together with its
weight; when no weighted rate is left the unit has no composite and no rank. Weights come
from ``CIVICLOOP["INSPECTIONS"]["UNIT_EVALUATION_WEIGHTS"]`` or the caller: numbers ≥ 0
for the five rates (one left out weighs 0), not all 0. The arithmetic is exact and the
composite is rounded half up to two decimals at the end; its grade comes from the grade
bands (``rankings.bands_for``) and ranks are competition ranks (1, 1, 3), then by name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicloop.cases.metrics import Figures, UnitFigures, figures_by_unit
from civicloop.cases.models import Case
from civicloop.core.errors import ValidationFailed

from .rankings import bands_for, cents, grade_for, inspection_settings, number

HUNDRED = Decimal("100")
MAX_WEIGHT = Decimal("1000")

# The five rates in the order a table shows them, with their labels.
RATES: tuple[tuple[str, Any], ...] = (
    ("handling_rate", gettext_lazy("Handling rate (处置率)")),
    ("on_time_handling_rate", gettext_lazy("On-time handling rate (按期处置率)")),
    ("rework_rate", gettext_lazy("Rework rate (返工率)")),
    ("closure_rate", gettext_lazy("Closure rate (结案率)")),
    ("on_time_closure_rate", gettext_lazy("On-time closure rate (按期结案率)")),
)
RATE_KEYS = tuple(k for k, _label in RATES)
# Rates where lower is better enter the composite as 100 − rate.
INVERTED = frozenset({"rework_rate"})


def validate_weights(raw: Any) -> dict[str, Decimal]:
    """The composite's weights: a number ≥ 0 per rate (a rate left out weighs 0), not all 0."""
    if not isinstance(raw, Mapping) or not raw:
        raise ValidationFailed(
            _("The weights must give a number for each rate of the composite."), field="weights"
        )
    unknown = sorted(str(k) for k in raw if k not in RATE_KEYS)
    if unknown:
        raise ValidationFailed(
            _("Unknown rates in the weights: %(keys)s.") % {"keys": ", ".join(unknown)}, field="weights"
        )
    labels = dict(RATES)
    weights = {}
    for key in RATE_KEYS:
        value = raw.get(key, 0)
        weight = number(value, what=_("The weight of %(rate)s") % {"rate": labels[key]}, field="weights")
        if weight < 0 or weight > MAX_WEIGHT:
            raise ValidationFailed(
                _("The weight of %(rate)s must be between 0 and %(max)s.") % {"rate": labels[key], "max": MAX_WEIGHT},
                field="weights",
            )
        weights[key] = weight
    if not any(weights.values()):
        raise ValidationFailed(_("At least one weight must be more than 0."), field="weights")
    return weights


def default_weights() -> dict[str, Decimal]:
    return validate_weights(inspection_settings()["UNIT_EVALUATION_WEIGHTS"])


def rate_values(figures: Figures) -> dict[str, Decimal | None]:
    """The five rates of ``figures`` (``cases.metrics``' rounding), by key."""
    return {key: getattr(figures, key) for key in RATE_KEYS}


def composite(figures: Figures, weights: Mapping[str, Decimal]) -> Decimal | None:
    """Σ w_k · r_k / Σ w_k over the defined rates (rework as 100 − rate); None when nothing is left."""
    total = Fraction(0)
    weight_sum = Fraction(0)
    for key, rate in rate_values(figures).items():
        weight = Fraction(weights.get(key, Decimal(0)))
        if rate is None or not weight:
            continue
        value = HUNDRED - rate if key in INVERTED else rate
        total += weight * Fraction(value)
        weight_sum += weight
    if not weight_sum:
        return None
    return cents(total / weight_sum)


@dataclass(frozen=True)
class UnitEvaluation:
    unit_id: int
    unit_name: str
    figures: Figures
    rates: dict[str, Decimal | None]
    composite: Decimal | None
    grade: str
    rank: int | None  # None without a composite


def evaluate(
    rows: Sequence[UnitFigures],
    weights: Mapping[str, Decimal],
    bands: Sequence[tuple[str, Decimal]],
) -> list[UnitEvaluation]:
    """Composite, grade and rank of each unit: best composite first, units without one last."""
    scored = []
    for row in rows:
        value = composite(row.figures, weights)
        scored.append(
            UnitEvaluation(
                unit_id=row.unit_id,
                unit_name=row.unit_name,
                figures=row.figures,
                rates=rate_values(row.figures),
                composite=value,
                grade=grade_for(value, bands),
                rank=None,
            )
        )
    scored.sort(key=lambda e: (e.composite is None, -(e.composite or 0), e.unit_name, e.unit_id))
    result: list[UnitEvaluation] = []
    for position, e in enumerate(scored, start=1):
        if e.composite is None:
            result.append(e)
            continue
        before = result[-1] if result else None
        shared = before is not None and before.composite == e.composite
        result.append(replace(e, rank=before.rank if shared and before else position))
    return result


def unit_evaluation(
    cases: QuerySet[Case], *, start: dt.datetime, end: dt.datetime, weights: Mapping[str, Any] | None = None
) -> list[UnitEvaluation]:
    """The handling units of ``cases`` (scope it with ``org.policy.visible_cases``) for
    ``[start, end)``, evaluated and ranked. Units with nothing due for closure in the period
    are left out, as ``cases.metrics.figures_by_unit`` leaves them out."""
    if start >= end:
        raise ValidationFailed(_("The period cannot end before it starts."), field="end")
    chosen = default_weights() if weights is None else validate_weights(weights)
    return evaluate(figures_by_unit(cases, start=start, end=end), chosen, bands_for(None))
