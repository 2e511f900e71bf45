"""The demo city's 15-minute life circle, on the same real streets as its grids and cases.

The walking network, the OSM facilities and the residential buildings are read from the
bundled extract the demo city is built on (``geography.source_pbf_path``), offline. What
OSM lacks there, as in most Chinese cities' OSM data, is registered in civicloop the way a
street office would: a community service station (社区服务站) at each community's office;
a recycling point (再生资源回收点), an elderly day-care centre and a kindergarten in some of
them (the others are the gaps the pages show); a community health centre per street office. The
analysis is then computed at once, so the pages show results when the demo starts.
"""

from __future__ import annotations

import random
from typing import Any

from civicloop.lifecircle import actions
from civicloop.lifecircle.models import Analysis, Facility, FacilityKind, FacilitySource, JobStatus
from civicloop.places.models import Area, AreaKind

from .geography import source_pbf_path


def load_lifecircle(*, cast: Any, rng: random.Random) -> None:
    """Import the extract, register the facilities OSM lacks, compute the analysis."""
    network = actions.network_request(by=None, path=source_pbf_path(), enqueue=False)
    if actions.network_run(network.pk) != JobStatus.DONE:
        network.refresh_from_db()
        raise RuntimeError(f"demo: the life-circle import failed: {network.error}")
    kinds = {k.code: k for k in FacilityKind.objects.all()}
    facilities: list[Facility] = []
    for community in Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("code"):
        point = community.shape.representative_point()
        facilities.append(
            Facility(
                kind=kinds["community_service"],
                name=f"{community.name}党群服务中心",
                lon=point.x,
                lat=point.y,
            )
        )
        # Some communities have set up more; the rest are the gaps the pages show.
        if rng.random() < 0.5:
            facilities.append(
                Facility(
                    kind=kinds["recycling"],
                    name=f"{community.name}再生资源回收点",
                    lon=point.x + 0.0004,
                    lat=point.y,
                )
            )
        if rng.random() < 0.35:
            facilities.append(
                Facility(
                    kind=kinds["elderly_care"],
                    name=f"{community.name}老年人日间照料中心",
                    lon=point.x,
                    lat=point.y + 0.0003,
                )
            )
        if rng.random() < 0.45:
            facilities.append(
                Facility(
                    kind=kinds["kindergarten"],
                    name=f"{community.name}幼儿园",
                    lon=point.x - 0.0005,
                    lat=point.y - 0.0002,
                )
            )
    # One community health centre (社区卫生服务中心) per street office, at its first community.
    for street in Area.objects.filter(kind=AreaKind.STREET).order_by("code"):
        first = Area.objects.filter(parent=street, kind=AreaKind.COMMUNITY).order_by("code").first()
        if first is not None:
            point = first.shape.representative_point()
            facilities.append(
                Facility(
                    kind=kinds["health_centre"],
                    name=f"{street.name}社区卫生服务中心",
                    lon=point.x + 0.0003,
                    lat=point.y + 0.0003,
                )
            )
    communities, paths = actions.places_of([f.lon for f in facilities], [f.lat for f in facilities])
    for f, community, path in zip(facilities, communities, paths, strict=True):
        f.source, f.community_id, f.area_path, f.created_by = (
            FacilitySource.CIVICLOOP,
            community,
            path,
            cast.campaign,
        )
    # Bulk: one recomputation for all of them, below, not one per facility.
    Facility.objects.bulk_create(facilities)
    queued = Analysis.objects.filter(status=JobStatus.QUEUED).order_by("-requested_at").first()
    if queued is None:
        return
    if actions.analysis_run(queued.pk) != JobStatus.DONE:
        raise RuntimeError(
            f"demo: the life-circle analysis failed: {Analysis.objects.get(pk=queued.pk).error}"
        )
