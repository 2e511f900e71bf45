"""Map data every page draws: area boundaries as GeoJSON (WGS-84).

Boundaries are public (a resident sees which grid he is in); case points are served by
each role's own pages, through the policy module.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from civicloop.places.models import Area, AreaKind, Compound

KINDS = {k.value: k.label for k in AreaKind} | {"compound": _("Residential compounds")}


@require_GET
def areas_geojson(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in KINDS:
        return JsonResponse(
            {"error": _("Unknown area kind “%(kind)s”; use one of: %(kinds)s.") % {"kind": kind, "kinds": ", ".join(KINDS)}},
            status=400,
        )
    if kind == "compound":
        rows = Compound.objects.order_by("name", "pk").values_list("pk", "osm_id", "name", "geometry")
    else:
        rows = Area.objects.filter(kind=kind).order_by("code").values_list("pk", "code", "name", "geometry")
    features = [
        {"type": "Feature", "id": pk, "properties": {"code": code, "name": name}, "geometry": json.loads(geometry)}
        for pk, code, name, geometry in rows
        if geometry
    ]
    response = JsonResponse({"type": "FeatureCollection", "properties": {"label": str(KINDS[kind])}, "features": features})
    response["Cache-Control"] = "public, max-age=300"
    return response
