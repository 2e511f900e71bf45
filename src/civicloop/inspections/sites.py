"""The register of inspection sites (督查点位): every write to ``Site``.

A site is a place a round can sample: a back street, an old community, a market … with
its geometry (GeoJSON, WGS-84), the smallest area it lies in (its community, or its
street office when it crosses communities) and the unit answerable for it. Sites are
written by the campaign office of the area (and admins), as for rounds
(``policy.may_create_round``). ``sites_from_places`` fills the register from the
compounds and back streets already mapped in ``places``.

Every action validates its whole input before writing, in one transaction.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity, make_valid

from civicloop.core.errors import NotFoundOrForbidden, PermissionRefused, ValidationFailed
from civicloop.org import policy
from civicloop.org.models import Role, Unit, UnitKind
from civicloop.places.models import Area, AreaKind, BackStreet, Compound

from .actions import _location_type
from .models import LocationType, RoundLocation, RoundStatus, Site
from .rounds import _text

OLD_COMMUNITY_BEFORE = 2000  # compounds built before this year are old communities (老旧小区)
SITE_AREA_KINDS = (AreaKind.COMMUNITY, AreaKind.STREET)
MAX_GEOJSON_CHARS = 1_000_000  # a site is a street or a compound, not a province
_CHANGEABLE = {"name", "location_type", "geometry", "unit", "area", "address", "active"}


# ---- validation ---------------------------------------------------------------------------------


def parse_geometry(value: Any) -> BaseGeometry:
    """A shapely geometry from shapely, a GeoJSON geometry / Feature dict or its JSON text;
    valid, not empty, in longitude/latitude degrees."""
    if isinstance(value, BaseGeometry):
        geom = value
    else:
        data = value
        if isinstance(data, str | bytes):
            if len(data) > MAX_GEOJSON_CHARS:
                raise ValidationFailed(
                    _("The geometry is too large: at most %(max)d characters of GeoJSON.")
                    % {"max": MAX_GEOJSON_CHARS},
                    field="geometry",
                )
            try:
                data = json.loads(data)
            except (ValueError, RecursionError):
                raise ValidationFailed(
                    _("The geometry is not valid GeoJSON."), field="geometry"
                ) from None
        if isinstance(data, dict) and data.get("type") == "Feature":
            data = data.get("geometry")
        if not isinstance(data, dict) or not data.get("type"):
            raise ValidationFailed(
                _("The geometry must be a GeoJSON geometry (Point, LineString, Polygon …)."),
                field="geometry",
            )
        try:
            geom = shape(data)
        except Exception:  # shapely raises several kinds for malformed coordinates
            raise ValidationFailed(
                _("The geometry is not valid GeoJSON."), field="geometry"
            ) from None
    if geom.is_empty:
        raise ValidationFailed(_("The geometry is empty."), field="geometry")
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    if not all(math.isfinite(v) for v in geom.bounds) or not (
        -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90
    ):
        raise ValidationFailed(
            _("The geometry must be in longitude/latitude degrees (WGS-84)."), field="geometry"
        )
    if not geom.is_valid:
        raise ValidationFailed(
            _("The geometry is not valid: %(reason)s.") % {"reason": explain_validity(geom)},
            field="geometry",
        )
    return geom


def _require_in_city(geom: BaseGeometry) -> None:
    cities = Area.objects.filter(kind=AreaKind.CITY)
    if not any(city.shape.covers(geom) for city in cities):
        raise ValidationFailed(_("The geometry lies outside the city."), field="geometry")


def area_for_geometry(geom: BaseGeometry) -> Area | None:
    """The smallest area the site lies in: the community that covers it, else the street
    office under its representative point (a back street crossing communities)."""
    point = geom.representative_point()
    candidates = Area.objects.filter(
        kind__in=SITE_AREA_KINDS,
        min_lon__lte=point.x,
        max_lon__gte=point.x,
        min_lat__lte=point.y,
        max_lat__gte=point.y,
    ).order_by("code")
    communities = [a for a in candidates if a.kind == AreaKind.COMMUNITY and a.shape.covers(point)]
    for community in communities:
        if community.shape.covers(geom):
            return community
    streets = [a for a in candidates if a.kind == AreaKind.STREET and a.shape.covers(point)]
    if streets:
        return streets[0]
    return communities[0] if communities else None


def _site_area(area: Any, geom: BaseGeometry) -> Area:
    if area is None:
        found = area_for_geometry(geom)
        if found is None:
            raise ValidationFailed(
                _("The geometry lies in no community or street office of the city."),
                field="geometry",
            )
        return found
    if not isinstance(area, Area):
        area = Area.objects.filter(pk=area).first()
        if area is None:
            raise ValidationFailed(_("No such area."), field="area")
    if area.kind not in SITE_AREA_KINDS:
        raise ValidationFailed(_("A site lies in a community or a street office."), field="area")
    if not area.shape.covers(geom.representative_point()):
        raise ValidationFailed(
            _("The geometry does not lie in %(area)s.") % {"area": area.name}, field="geometry"
        )
    return area


def _unit(value: Any) -> Unit | None:
    if value is None or value == "":
        return None
    unit = value if isinstance(value, Unit) else Unit.objects.filter(pk=value).first()
    if unit is None or not unit.active:
        raise ValidationFailed(_("No such active unit."), field="unit")
    return unit


def _require_writer(user: Any, area: Area) -> None:
    if not policy.may_create_round(user, area.path):
        raise PermissionRefused(
            _("Only the campaign office of %(area)s may register inspection sites there.")
            % {"area": area.name}
        )


def _require_name_free(
    *, area: Area, location_type: str, name: str, exclude: int | None = None
) -> None:
    taken = Site.objects.filter(area=area, location_type=location_type, name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise ValidationFailed(
            _("%(area)s already has a site of this type named “%(name)s”.")
            % {"area": area.name, "name": name},
            field="name",
        )


# ---- actions ------------------------------------------------------------------------------------


@transaction.atomic
def site_create(
    *,
    by: Any,
    name: str,
    location_type: str,
    geometry: Any,
    unit: Unit | int | None = None,
    area: Area | int | None = None,
    address: str = "",
    compound: Compound | None = None,
    back_street: BackStreet | None = None,
) -> Site:
    """Register a site; ``area`` defaults to the community (else street office) it lies in."""
    name = _text(name, what=_("Name"), max_length=120, field="name")
    location_type = _location_type(location_type)
    geom = parse_geometry(geometry)
    _require_in_city(geom)
    site_area = _site_area(area, geom)
    _require_writer(by, site_area)
    address = _text(address, what=_("Address"), max_length=200, field="address", required=False)
    site_unit = _unit(unit)
    if compound is not None and back_street is not None:
        raise ValidationFailed(
            _("A site is a compound or a back street, not both."), field="compound"
        )
    for link, field in ((compound, "compound"), (back_street, "back_street")):
        if link is not None and Site.objects.filter(**{field: link}).exists():
            raise ValidationFailed(
                _("“%(place)s” is already registered as a site.") % {"place": link.name},
                field=field,
            )
    _require_name_free(area=site_area, location_type=location_type, name=name)
    site = Site(
        name=name,
        location_type=location_type,
        area=site_area,
        unit=site_unit,
        address=address,
        compound=compound,
        back_street=back_street,
    )
    site.set_geometry(geom)
    site.save()
    return site


def _lock(site: Site) -> Site:
    locked = Site.objects.select_for_update().filter(pk=site.pk).first()
    if locked is None:
        raise NotFoundOrForbidden(_("No such inspection site."))
    return locked


def _in_open_round(site: Site) -> bool:
    """Sampled by a round whose inspection is not finished (the type pins its standard)."""
    return RoundLocation.objects.filter(
        site=site, round__status__in=[RoundStatus.DRAFT, RoundStatus.ACTIVE]
    ).exists()


@transaction.atomic
def site_update(*, site: Site, by: Any, **changes: Any) -> Site:
    """Change a site's name, type, geometry, unit, area, address or ``active`` flag."""
    unknown = set(changes) - _CHANGEABLE
    if unknown:
        raise TypeError(f"site_update() got unexpected fields: {', '.join(sorted(unknown))}")
    site = _lock(site)
    if not policy.visible_sites(by).filter(pk=site.pk).exists():
        raise NotFoundOrForbidden(_("No such inspection site."))
    _require_writer(by, site.area)
    name = _text(changes.get("name", site.name), what=_("Name"), max_length=120, field="name")
    location_type = _location_type(changes.get("location_type", site.location_type))
    if location_type != site.location_type and _in_open_round(site):
        raise ValidationFailed(
            _(
                "The site is sampled by a round still being planned or inspected: its type cannot change now."
            ),
            field="location_type",
        )
    geom = parse_geometry(changes["geometry"]) if "geometry" in changes else site.shape
    if "geometry" in changes:
        _require_in_city(geom)
    if "area" in changes or "geometry" in changes:
        # A moved site without an explicit area lands in the area it now lies in.
        new_area = _site_area(changes.get("area"), geom)
    else:
        new_area = site.area
    if new_area.pk != site.area_id:
        _require_writer(by, new_area)
    address = _text(
        changes.get("address", site.address),
        what=_("Address"),
        max_length=200,
        field="address",
        required=False,
    )
    site_unit = _unit(changes["unit"]) if "unit" in changes else site.unit
    _require_history_kept(site, location_type, new_area, site_unit)
    active = bool(changes.get("active", site.active))
    _require_name_free(area=new_area, location_type=location_type, name=name, exclude=site.pk)
    site.name, site.location_type, site.area, site.address, site.unit, site.active = (
        name,
        location_type,
        new_area,
        address,
        site_unit,
        active,
    )
    if "geometry" in changes:
        site.set_geometry(geom)
    site.save()
    return site


def _require_history_kept(site: Site, location_type: str, area: Any, unit: Any) -> None:
    """Rankings, bulletins and who may see a round read a site's type, area and unit: once a
    closed or published round has inspected the site, those stay as they were (register a
    new site instead)."""
    changed = [
        field
        for field, now in (
            ("location_type", location_type != site.location_type),
            ("area", area.pk != site.area_id),
            ("unit", getattr(unit, "pk", None) != site.unit_id),
        )
        if now
    ]
    if not changed:
        return
    if site.round_locations.filter(round__status__in=[RoundStatus.CLOSED, RoundStatus.PUBLISHED]).exists():
        raise ValidationFailed(
            _(
                "Closed or published rounds have inspected this site: its type, area and unit stay as they were. Register a new site and take this one out of future samples."
            ),
            field=changed[0],
        )


def site_deactivate(*, site: Site, by: Any) -> Site:
    """Take a site out of future samples (it stays in the rounds that sampled it)."""
    return site_update(site=site, by=by, active=False)


# ---- from the places register -------------------------------------------------------------------


def _scope_paths(by: Any, area: Area | None) -> list[str] | None:
    """Area paths the user may fill (None: everywhere, for admins without an area)."""
    if area is not None:
        _require_writer(by, area)
        return [area.path]
    if policy.is_admin(by):
        return None
    paths = policy.area_paths(by, {Role.CAMPAIGN_OFFICE})
    if not paths:
        raise PermissionRefused(_("Only the campaign office may register inspection sites."))
    return paths


def _scope_q(scope: list[str] | None, field: str) -> Q:
    if scope is None:
        return Q()
    q = Q(pk__in=[])
    for path in scope:
        q |= Q(**{f"{field}__startswith": path})
    return q


def _usable(geometry: BaseGeometry) -> BaseGeometry | None:
    geom = geometry if geometry.is_valid else make_valid(geometry)
    return None if geom.is_empty else geom


def _committee_for(area: Area) -> Unit | None:
    kind = (
        UnitKind.COMMUNITY_COMMITTEE if area.kind == AreaKind.COMMUNITY else UnitKind.STREET_OFFICE
    )
    return Unit.objects.filter(area=area, kind=kind, active=True).order_by("code").first()


@transaction.atomic
def sites_from_places(*, by: Any, area: Area | None = None) -> int:
    """Register every compound and back street of ``area`` (the user's areas when None)
    that is not a site yet; returns how many sites were created. Running it again
    creates nothing new.

    A compound built before 2000 is an old community (老旧小区), any other a residential
    compound; a back street lies in the community that covers it, else its street office.
    The responsible unit is the area's community committee (or street office) when known.
    """
    scope = _scope_paths(by, area)
    if area is not None and area.kind not in (
        AreaKind.CITY,
        AreaKind.DISTRICT,
        AreaKind.STREET,
        AreaKind.COMMUNITY,
    ):
        raise ValidationFailed(
            _("Fill the register for a city, district, street office or community."), field="area"
        )
    compounds = Compound.objects.filter(_scope_q(scope, "community__path")).exclude(
        pk__in=Site.objects.exclude(compound=None).values("compound_id")
    )
    streets = BackStreet.objects.filter(_scope_q(scope, "street__path")).exclude(
        pk__in=Site.objects.exclude(back_street=None).values("back_street_id")
    )
    plans: list[tuple[Site, BaseGeometry]] = []
    for compound in compounds.select_related("community").order_by("id"):
        old = compound.built_year is not None and compound.built_year < OLD_COMMUNITY_BEFORE
        kind = LocationType.OLD_COMMUNITY if old else LocationType.RESIDENTIAL_COMPOUND
        site = Site(
            name=compound.name[:120], location_type=kind, area=compound.community, compound=compound
        )
        plans.append((site, compound.shape))
    for street in streets.select_related("street").order_by("id"):
        site = Site(
            name=street.name[:120], location_type=LocationType.BACK_STREET, back_street=street
        )
        plans.append((site, street.shape))
    taken = set(Site.objects.values_list("area_id", "location_type", "name"))
    created = 0
    for site, shape_ in plans:
        geom = _usable(shape_)
        if geom is None:
            continue
        if site.back_street is not None:
            found = area_for_geometry(geom)
            street_path = site.back_street.street.path
            if (
                found is not None
                and found.path.startswith(street_path)
                and found.shape.covers(geom)
            ):
                site.area = found
            else:
                site.area = site.back_street.street
        key = (site.area.pk, site.location_type, site.name)
        if key in taken:
            # A site registered by hand under the same name: link it to the mapped place.
            linked = Site.objects.filter(
                area=site.area,
                location_type=site.location_type,
                name=site.name,
                compound=None,
                back_street=None,
            ).update(compound=site.compound, back_street=site.back_street)
            if linked:
                continue
            # Two mapped places of one name (e.g. "1号院"): number the later ones.
            base, n = site.name[:112], 2
            while (site.area.pk, site.location_type, f"{base} ({n})") in taken:
                n += 1
            site.name = f"{base} ({n})"
            key = (site.area.pk, site.location_type, site.name)
        taken.add(key)
        site.unit = _committee_for(site.area)
        site.set_geometry(geom)
        site.save()
        created += 1
    return created
