"""The administrative hierarchy and the places inside it.

Geometry is stored as GeoJSON text in WGS-84 (no GeoDjango, see
docs/decisions/0001-stack.md); the bounding box is kept in columns so the
database can prefilter, and the in-memory STRtree in ``places.index`` answers
point-in-polygon questions.
"""

from __future__ import annotations

import json
from functools import cached_property

from django.db import models
from django.utils.translation import gettext_lazy as _
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry


class AreaKind(models.TextChoices):
    CITY = "city", _("City")
    DISTRICT = "district", _("District / county")
    STREET = "street", _("Street office")
    COMMUNITY = "community", _("Community")
    GRID = "grid", _("Grid")


# Parent kind each kind must hang under.
AREA_PARENT_KIND: dict[str, str | None] = {
    AreaKind.CITY: None,
    AreaKind.DISTRICT: AreaKind.CITY,
    AreaKind.STREET: AreaKind.DISTRICT,
    AreaKind.COMMUNITY: AreaKind.STREET,
    AreaKind.GRID: AreaKind.COMMUNITY,
}
AREA_LEVEL = {AreaKind.CITY: 0, AreaKind.DISTRICT: 1, AreaKind.STREET: 2, AreaKind.COMMUNITY: 3, AreaKind.GRID: 4}


class GeometryMixin(models.Model):
    geometry = models.TextField(_("geometry (GeoJSON, WGS-84)"))
    min_lon = models.FloatField(default=0.0)
    min_lat = models.FloatField(default=0.0)
    max_lon = models.FloatField(default=0.0)
    max_lat = models.FloatField(default=0.0)

    class Meta:
        abstract = True

    @cached_property
    def shape(self) -> BaseGeometry:
        return shape(json.loads(self.geometry))

    def set_geometry(self, geom: BaseGeometry) -> None:
        self.geometry = json.dumps(geom.__geo_interface__, separators=(",", ":"))
        self.min_lon, self.min_lat, self.max_lon, self.max_lat = geom.bounds
        self.__dict__.pop("shape", None)


class Area(GeometryMixin):
    """City, district, street office, community or grid (网格)."""

    kind = models.CharField(_("kind"), max_length=16, choices=AreaKind.choices)
    # District: 6-digit GB/T 2260 division code; street: 9; community: 12; grid: 15 (GB/T 30428.1).
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # Materialised path of ids, "/1/4/17/", so "everything inside X" is one indexed prefix filter.
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    households = models.PositiveIntegerField(_("households"), default=0)
    population = models.PositiveIntegerField(_("population"), default=0)

    class Meta:
        ordering = ["code"]
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        indexes = [models.Index(fields=["kind", "code"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def save(self, *args: object, **kwargs: object) -> None:
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        parent_path = self.parent.path if self.parent_id and self.parent else "/"
        path = f"{parent_path}{self.pk}/"
        if path != self.path:
            self.path = path
            Area.objects.filter(pk=self.pk).update(path=path)

    @property
    def level(self) -> int:
        return AREA_LEVEL[AreaKind(self.kind)]

    def ancestors(self) -> list[Area]:
        """From the city down to the parent."""
        ids = [int(x) for x in self.path.strip("/").split("/") if x][:-1]
        by_id = {a.pk: a for a in Area.objects.filter(pk__in=ids)}
        return [by_id[i] for i in ids if i in by_id]

    def ancestor_of_kind(self, kind: str) -> Area | None:
        if self.kind == kind:
            return self
        for a in self.ancestors():
            if a.kind == kind:
                return a
        return None


class Compound(GeometryMixin):
    """A residential compound (小区/楼院) inside one community."""

    name = models.CharField(_("name"), max_length=120)
    community = models.ForeignKey(Area, verbose_name=_("community"), on_delete=models.PROTECT, related_name="compounds", limit_choices_to={"kind": AreaKind.COMMUNITY})
    osm_id = models.CharField(_("OSM id"), max_length=32, blank=True)
    buildings = models.PositiveIntegerField(_("buildings"), default=0)
    households = models.PositiveIntegerField(_("households"), default=0)
    built_year = models.PositiveIntegerField(_("year built"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("residential compound")
        verbose_name_plural = _("residential compounds")

    def __str__(self) -> str:
        return self.name


class StreetClass(models.TextChoices):
    BOUTIQUE = "boutique", _("Boutique street")
    STRICT = "strict", _("Strictly managed street")
    DEMONSTRATION = "demonstration", _("Demonstration street")
    ROUTINE = "routine", _("Routine management")


class BackStreet(GeometryMixin):
    """A back street or lane (背街小巷); geometry is the street's footprint polygon."""

    name = models.CharField(_("name"), max_length=120)
    street = models.ForeignKey(Area, verbose_name=_("street office"), on_delete=models.PROTECT, related_name="back_streets", limit_choices_to={"kind": AreaKind.STREET})
    street_class = models.CharField(_("class"), max_length=16, choices=StreetClass.choices, default=StreetClass.ROUTINE)
    length_m = models.FloatField(_("length (m)"), default=0.0)
    osm_id = models.CharField(_("OSM id"), max_length=32, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("back street")
        verbose_name_plural = _("back streets")

    def __str__(self) -> str:
        return self.name
