"""Assessment standards (测评标准): versioned checklists per location type.

A standard is identified by its ``code``; each change after publication is a new
``version`` of that code. A published version never changes (rounds score against the
exact version they started with): sections and items refuse to be saved or deleted
once their version has left the draft state, and the actions in ``actions.py`` are
the only writers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from civicloop.cases.models import TimeLimitKind
from civicloop.core.errors import ConflictError


class LocationType(models.TextChoices):
    BACK_STREET = "back_street", _("Back street (背街小巷)")
    OLD_COMMUNITY = "old_community", _("Old community (老旧小区)")
    URBAN_VILLAGE = "urban_village", _("Urban village (城中村)")
    MARKET = "market", _("Farmers' market (农贸市场)")
    RESIDENTIAL_COMPOUND = "residential_compound", _("Residential compound (住宅小区)")
    CONSTRUCTION_HOARDING = "construction_hoarding", _("Construction hoarding (施工围挡)")
    MAIN_ROAD = "main_road", _("Main road (主次干道)")
    PUBLIC_TOILET = "public_toilet", _("Public toilet (公共厕所)")
    OTHER = "other", _("Other location")


class StandardStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class DeductionRule(models.TextChoices):
    PER_OCCURRENCE = "per_occurrence", _("Per occurrence, up to the item's points (每处扣分)")
    FIXED = "fixed", _("Fixed deduction when found (发现即扣)")
    VETO = "veto", _("Veto (一票否决)")


class VetoScope(models.TextChoices):
    SECTION = "section", _("The section scores zero")
    LOCATION = "location", _("The whole location scores zero")


class Standard(models.Model):
    """One version of an assessment standard."""

    code = models.CharField(
        _("code"), max_length=32, help_text=_("Shared by every version of the standard.")
    )
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=120)
    location_type = models.CharField(
        _("location type"), max_length=32, choices=LocationType.choices
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=StandardStatus.choices,
        default=StandardStatus.DRAFT,
        db_index=True,
    )
    based_on = models.ForeignKey(
        "self",
        verbose_name=_("based on"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        ordering = ["code", "-version"]
        verbose_name = _("assessment standard")
        verbose_name_plural = _("assessment standards")
        constraints = [
            models.UniqueConstraint(
                fields=["code", "version"], name="inspections_standard_code_version"
            ),
            # One draft and one current (published) version per standard at a time.
            models.UniqueConstraint(
                fields=["code"],
                condition=models.Q(status="draft"),
                name="inspections_standard_one_draft",
            ),
            models.UniqueConstraint(
                fields=["code"],
                condition=models.Q(status="published"),
                name="inspections_standard_one_published",
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="inspections_standard_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_draft(self) -> bool:
        return self.status == StandardStatus.DRAFT

    @property
    def reference(self) -> str:
        """``CODE-vN``: names this exact version in exported files."""
        return f"{self.code}-v{self.version}"


def _require_draft(standard_id: int | None) -> None:
    if standard_id is None:
        return
    status = Standard.objects.filter(pk=standard_id).values_list("status", flat=True).first()
    if status is not None and status != StandardStatus.DRAFT:
        raise ConflictError(gettext("A published standard cannot change: start a new version."))


class Section(models.Model):
    """A section (测评项目) of a standard; its full points are the sum of its items'."""

    standard = models.ForeignKey(
        Standard, verbose_name=_("standard"), on_delete=models.CASCADE, related_name="sections"
    )
    position = models.PositiveIntegerField(_("position"))
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["standard", "position"]
        verbose_name = _("section")
        verbose_name_plural = _("sections")
        constraints = [
            models.UniqueConstraint(
                fields=["standard", "position"], name="inspections_section_position"
            ),
            models.UniqueConstraint(fields=["standard", "name"], name="inspections_section_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        _require_draft(self.standard_id)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        _require_draft(self.standard_id)
        return super().delete(*args, **kwargs)


class Item(models.Model):
    """An item (测评内容): what is checked, its points and how a finding deducts them."""

    section = models.ForeignKey(
        Section, verbose_name=_("section"), on_delete=models.CASCADE, related_name="items"
    )
    position = models.PositiveIntegerField(_("position"))
    content = models.TextField(_("content"), max_length=1000)
    full_points = models.DecimalField(
        _("points"), default=Decimal("0"), max_digits=6, decimal_places=2
    )
    rule = models.CharField(_("deduction rule"), max_length=16, choices=DeductionRule.choices)
    # Per occurrence: deducted for each occurrence; fixed: deducted once when found. Never
    # more than ``full_points`` in all. Veto items deduct their full points when hit.
    deduction = models.DecimalField(
        _("deduction"), default=Decimal("0"), max_digits=6, decimal_places=2
    )
    veto_scope = models.CharField(
        _("veto scope"), max_length=16, choices=VetoScope.choices, blank=True
    )
    photos_required = models.PositiveSmallIntegerField(_("photos required"), default=0)
    unit = models.ForeignKey(
        "org.Unit",
        verbose_name=_("default responsible unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("case category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    rectify_limit_kind = models.CharField(
        _("rectification time limit type"), max_length=20, choices=TimeLimitKind.choices, blank=True
    )
    rectify_limit_value = models.PositiveIntegerField(
        _("rectification time limit"), null=True, blank=True
    )

    class Meta:
        ordering = ["section", "position"]
        verbose_name = _("item")
        verbose_name_plural = _("items")
        constraints = [
            models.UniqueConstraint(
                fields=["section", "position"], name="inspections_item_position"
            ),
            models.CheckConstraint(
                condition=models.Q(full_points__gte=0), name="inspections_item_points_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(deduction__gte=0)
                & models.Q(deduction__lte=models.F("full_points")),
                name="inspections_item_deduction_in_points",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(rectify_limit_kind="") & models.Q(rectify_limit_value__isnull=True)
                )
                | (~models.Q(rectify_limit_kind="") & models.Q(rectify_limit_value__gt=0)),
                name="inspections_item_rectify_limit_pair",
            ),
        ]

    def __str__(self) -> str:
        return self.content[:60]

    def save(self, *args: Any, **kwargs: Any) -> None:
        standard_id = (
            Section.objects.filter(pk=self.section_id).values_list("standard_id", flat=True).first()
        )
        _require_draft(standard_id)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        _require_draft(self.section.standard_id)
        return super().delete(*args, **kwargs)
