"""A small life-circle city on the test city (``civicloop.testing``): a street lattice over
district A (none over district B, so district B's compound is off the network), four
compounds, a few facilities, and the computed analysis.

Lattice: nodes every 0.0005° (≈ 42 m east-west, 56 m north-south at 41° N) over
LON0 … LON0 + 0.006, LAT0 … LAT0 + 0.004; streets along every row and column.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from django.core.files import File
from django.utils import timezone
from pyproj import Geod
from shapely.geometry import box

from civicloop.lifecircle import actions
from civicloop.lifecircle.graph import WalkGraph
from civicloop.lifecircle.models import (
    Analysis,
    Facility,
    FacilityKind,
    FacilitySource,
    JobStatus,
    Network,
)
from civicloop.places.models import Compound
from civicloop.testing import LAT0, LON0, TestCity

STEP_DEG = 0.0005
COLS, ROWS = 13, 9  # lon LON0 … LON0 + 0.006, lat LAT0 … LAT0 + 0.004


def lattice() -> WalkGraph:
    geod = Geod(ellps="WGS84")
    ii, jj = np.meshgrid(np.arange(COLS), np.arange(ROWS), indexing="ij")
    lon = (LON0 + ii.ravel() * STEP_DEG).astype(np.float64)
    lat = (LAT0 + jj.ravel() * STEP_DEG).astype(np.float64)
    node = np.arange(COLS * ROWS).reshape(COLS, ROWS)
    u = np.concatenate([node[:-1, :].ravel(), node[:, :-1].ravel()]).astype(np.int64)
    v = np.concatenate([node[1:, :].ravel(), node[:, 1:].ravel()]).astype(np.int64)
    _f, _b, length = geod.inv(lon[u], lat[u], lon[v], lat[v])
    osm_ids = np.arange(1, COLS * ROWS + 1, dtype=np.int64) + 1000
    return WalkGraph.from_edges(
        lon=lon, lat=lat, osm_ids=osm_ids, u=u, v=v, length=np.asarray(length, dtype=np.float64)
    )


@dataclass
class LcCity:
    city: TestCity
    network: Network
    graph: WalkGraph
    analysis: Analysis | None = None
    compounds: dict[str, Compound] = field(default_factory=dict)
    facilities: dict[str, Facility] = field(default_factory=dict)

    def kind(self, code: str) -> FacilityKind:
        return FacilityKind.objects.get(code=code)

    def recompute(self) -> Analysis:
        """Queue and run an analysis now, as an administrator's "recompute" (on_commit hooks
        do not run in these tests)."""
        item = actions.analysis_request(by=self.city.users["admin"])
        assert item is not None
        actions.analysis_run(item.pk)
        self.analysis = Analysis.objects.get(pk=item.pk)
        return self.analysis


def _compound(
    city: TestCity, key: str, name: str, community: str, x0: float, y0: float, households: int
) -> Compound:
    c = Compound(name=name, community=city.areas[community], households=households, buildings=4)
    c.set_geometry(box(LON0 + x0, LAT0 + y0, LON0 + x0 + 0.0006, LAT0 + y0 + 0.0006))
    c.save()
    return c


def install_network(graph: WalkGraph, *, name: str = "lattice") -> Network:
    network = Network.objects.create(
        source_name=name,
        status=JobStatus.DONE,
        is_current=True,
        requested_at=timezone.now(),
        finished_at=timezone.now(),
        fingerprint=graph.fingerprint(),
        nodes=graph.n_nodes,
        edges=graph.n_edges,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "network.npz"
        graph.save(path)
        with path.open("rb") as fh:
            network.graph.save("network.npz", File(fh), save=True)
    return network


@pytest.fixture
def lc_city(city: TestCity, settings) -> LcCity:  # noqa: ANN001
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "LIFECIRCLE": {**settings.CIVICLOOP["LIFECIRCLE"], "MAX_SNAP_M": 100.0},
    }
    actions.kinds_seed()
    graph = lattice()
    lc = LcCity(city=city, network=install_network(graph), graph=graph)
    # c1 (幸福社区) spans LON0 … +0.004; c2 (和平社区) +0.004 … +0.006; c3 (团结社区) +0.006 … +0.008.
    lc.compounds["near"] = _compound(city, "near", "阳光小区", "c1", 0.0007, 0.0007, 300)
    lc.compounds["far"] = _compound(city, "far", "幸福家园", "c1", 0.0030, 0.0030, 200)
    lc.compounds["mid"] = _compound(city, "mid", "和平里", "c2", 0.0047, 0.0012, 150)
    lc.compounds["off"] = _compound(
        city, "off", "团结新村", "c3", 0.0072, 0.0017, 120
    )  # ≈ 126 m off the lattice
    supermarket, clinic = lc.kind("supermarket"), lc.kind("clinic")
    lc.facilities["supermarket"] = Facility.objects.create(
        kind=supermarket,
        name="西门超市",
        lon=LON0 + 0.0005,
        lat=LAT0 + 0.0005,
        source=FacilitySource.CIVICLOOP,
        area_path=city.areas["g2"].path,
        community=city.areas["c1"],
    )
    lc.facilities["clinic"] = Facility.objects.create(
        kind=clinic,
        name="幸福社区卫生服务站",
        lon=LON0 + 0.0050,
        lat=LAT0 + 0.0015,
        source=FacilitySource.CIVICLOOP,
        area_path=city.areas["g3"].path,
        community=city.areas["c2"],
    )
    lc.recompute()
    return lc
