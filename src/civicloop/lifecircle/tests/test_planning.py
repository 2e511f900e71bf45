"""What-if and best sites on the lattice city, and who may see what of them."""

from __future__ import annotations

import numpy as np
import pytest

from civicloop.core.errors import NotFoundOrForbidden, ValidationFailed
from civicloop.lifecircle import selectors
from civicloop.lifecircle.models import Facility, FacilitySource, Reach
from civicloop.testing import LAT0, LON0

from .conftest import LcCity

pytestmark = pytest.mark.django_db


def test_whatif_equals_recomputing_with_the_site(lc_city: LcCity) -> None:
    admin = lc_city.city.users["admin"]
    clinic = lc_city.kind("kindergarten")
    lon, lat = LON0 + 0.0032, LAT0 + 0.0031
    result = selectors.whatif(admin, kind=clinic, lon=lon, lat=lat)
    assert result.households_gained > 0
    assert result.covered_after == result.covered_before + result.households_gained
    # The same site, really added and recomputed, covers exactly those households.
    before = set(
        Reach.objects.filter(
            analysis=lc_city.analysis, kind=clinic, covered=True, compound__isnull=False
        ).values_list("compound", flat=True)
    )
    Facility.objects.create(
        kind=clinic, name="候选", lon=lon, lat=lat, source=FacilitySource.CIVICLOOP
    )
    after_analysis = lc_city.recompute()
    after = set(
        Reach.objects.filter(
            analysis=after_analysis, kind=clinic, covered=True, compound__isnull=False
        ).values_list("compound", flat=True)
    )
    gained = sum(
        lc_city.compounds[k].households
        for k in lc_city.compounds
        if lc_city.compounds[k].pk in after - before
    )
    assert gained == result.households_gained
    assert {name for name, _h, _d in result.places} == {
        c.name for c in lc_city.compounds.values() if c.pk in after - before
    }


def test_whatif_refuses_bad_points(lc_city: LcCity) -> None:
    admin = lc_city.city.users["admin"]
    clinic = lc_city.kind("kindergarten")
    for lon, lat in (("abc", LAT0), (500, LAT0), (None, None), (float("nan"), LAT0)):
        with pytest.raises(ValidationFailed):
            selectors.whatif(admin, kind=clinic, lon=lon, lat=lat)
    with pytest.raises(ValidationFailed, match="walkable"):
        selectors.whatif(admin, kind=clinic, lon=LON0 + 0.05, lat=LAT0)


def test_whatif_is_scoped_to_the_readers_areas(lc_city: LcCity) -> None:
    clinic = lc_city.kind("kindergarten")
    lon, lat = LON0 + 0.0032, LAT0 + 0.0031
    city_wide = selectors.whatif(
        lc_city.city.users["campaign_office"], kind=clinic, lon=lon, lat=lat
    )
    leader_b = lc_city.city.users["leader_b"]
    scoped = selectors.whatif(leader_b, kind=clinic, lon=lon, lat=lat)
    # District B's leader counts only district B's compound (团结新村, off the network).
    assert (
        scoped.total_households == lc_city.compounds["off"].households < city_wide.total_households
    )
    assert city_wide.households_gained > 0 and scoped.households_gained == 0
    assert not scoped.areas and not scoped.places
    for persona in ("resident", "outsider", "grid_worker", "unit_staff"):
        with pytest.raises(NotFoundOrForbidden):
            selectors.whatif(lc_city.city.users[persona], kind=clinic, lon=lon, lat=lat)


def test_best_sites_greedy_gains(lc_city: LcCity) -> None:
    admin = lc_city.city.users["admin"]
    clinic = lc_city.kind("kindergarten")
    result = selectors.best_sites(admin, kind=clinic, k=3)
    assert result.candidates > 0
    assert result.picks, "some uncovered households can be reached"
    gains = [p.households_gained for p in result.picks]
    assert gains == sorted(gains, reverse=True)
    assert result.picks[-1].covered_after == result.covered_before + sum(gains)
    # The first pick is as good as the best single what-if among the candidates tried.
    first = result.picks[0]
    single = selectors.whatif(admin, kind=clinic, lon=first.lon, lat=first.lat)
    assert single.households_gained == first.households_gained


def test_best_sites_from_given_candidates(lc_city: LcCity) -> None:
    admin = lc_city.city.users["admin"]
    clinic = lc_city.kind("kindergarten")
    candidates = [(LON0 + 0.0032, LAT0 + 0.0031), (LON0 + 0.0058, LAT0 + 0.0002)]
    result = selectors.best_sites(admin, kind=clinic, k=2, candidates=candidates)
    assert result.candidates == 2
    assert (result.picks[0].lon, result.picks[0].lat) == pytest.approx(candidates[0])


@pytest.mark.parametrize("k", [0, -1, 999, "x", None])
def test_best_sites_refuses_bad_k(lc_city: LcCity, k: object) -> None:
    with pytest.raises(ValidationFailed):
        selectors.best_sites(lc_city.city.users["admin"], kind=lc_city.kind("kindergarten"), k=k)


def test_tables_and_gaps_are_scoped(lc_city: LcCity) -> None:
    users = lc_city.city.users
    full = selectors.coverage_table(users["campaign_office"], level="community")
    assert {r.area.code for r in full.rows} == {
        lc_city.city.areas[c].code for c in ("c1", "c2", "c3")
    }
    gaps = selectors.gaps(users["campaign_office"], kind=lc_city.kind("clinic"))
    assert {g.name for g in gaps} >= {"团结新村"}
    off = next(g for g in gaps if g.name == "团结新村")
    assert off.state == "unreachable" and off.distance_m is None
    for persona in ("resident", "outsider", "dispatcher"):
        with pytest.raises(NotFoundOrForbidden):
            selectors.coverage_table(users[persona])
        with pytest.raises(NotFoundOrForbidden):
            selectors.gaps(users[persona])
    with pytest.raises(ValidationFailed):
        selectors.coverage_table(users["admin"], level="planet")


def test_segments_layer_bands(lc_city: LcCity) -> None:
    layer = selectors.segments_layer(lc_city.city.users["admin"], kind=lc_city.kind("supermarket"))
    bands = {f["properties"]["band"] for f in layer["features"]}
    assert 0 in bands  # streets within 5 minutes of the supermarket
    total = sum(f["properties"]["segments"] for f in layer["features"])
    assert total >= lc_city.graph.n_edges
    assert np.isfinite(
        [
            c
            for f in layer["features"]
            for line in f["geometry"]["coordinates"]
            for p in line
            for c in p
        ]
    ).all()
