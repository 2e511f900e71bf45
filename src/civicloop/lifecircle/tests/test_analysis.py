"""The stored analysis on the lattice city: distances equal networkx's Dijkstra on the same
spliced graph, levels, coverage by households, unreachable compounds, invalidation."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from django.db import transaction

from civicloop.lifecircle import actions, selectors
from civicloop.lifecircle.analysis import Points, Settings, compute, level_of
from civicloop.lifecircle.models import (
    Analysis,
    Coverage,
    Facility,
    FacilitySource,
    JobStatus,
    Reach,
    ReachState,
)
from civicloop.testing import LAT0, LON0

from .conftest import LcCity, lattice

pytestmark = pytest.mark.django_db


def _reach(lc: LcCity, key: str, code: str) -> Reach:
    return Reach.objects.get(analysis=lc.analysis, compound=lc.compounds[key], kind=lc.kind(code))


def _nx(graph) -> nx.Graph:  # noqa: ANN001
    g = nx.Graph()
    for u, v, w in zip(
        graph.edge_u.tolist(), graph.edge_v.tolist(), graph.edge_len.tolist(), strict=True
    ):
        g.add_edge(u, v, weight=w)
    return g


def test_distances_equal_networkx_on_the_spliced_graph() -> None:
    graph = lattice()
    rng = np.random.default_rng(7)
    fac = Points.of(LON0 + rng.uniform(0, 0.006, 12), LAT0 + rng.uniform(0, 0.004, 12))
    kinds = np.arange(12) % 3
    origins = Points.of(LON0 + rng.uniform(0, 0.006, 40), LAT0 + rng.uniform(0, 0.004, 40))
    cfg = Settings(80.0, (5, 10, 15), 1500.0, 100.0)
    result = compute(
        graph=graph, facilities=fac, facility_kind=kinds, origins=origins, n_kinds=3, settings=cfg
    )
    g = _nx(result.augmented.graph)
    for k in range(3):
        members = np.flatnonzero(kinds == k)
        g.add_node("S")
        for m in members:
            g.add_edge("S", int(result.facility_nodes[m]), weight=float(result.augmented.snap_m[m]))
        reference = nx.single_source_dijkstra_path_length(g, "S", weight="weight")
        g.remove_node("S")
        for i in range(len(origins)):
            node = int(result.origin_nodes[i])
            expected = reference[node] + result.origin_snap[i]
            assert abs(result.distance[k, i] - expected) < 0.01
            nearest = int(result.nearest[k, i])
            assert nearest >= 0 and kinds[nearest] == k
            # The facility named nearest is at that distance.
            via = nx.dijkstra_path_length(
                g, int(result.facility_nodes[nearest]), node, weight="weight"
            )
            assert (
                abs(
                    result.augmented.snap_m[nearest]
                    + via
                    + result.origin_snap[i]
                    - result.distance[k, i]
                )
                < 0.01
            )


def test_levels_are_the_smallest_circle_reached() -> None:
    distance = np.array([0.0, 400.0, 400.01, 800.0, 1199.9, 1200.0, 1200.1, np.inf])
    assert level_of(distance, (5, 10, 15), 80.0).tolist() == [5, 5, 10, 10, 15, 15, 0, 0]


def test_stored_reaches(lc_city: LcCity) -> None:
    near = _reach(lc_city, "near", "supermarket")
    far = _reach(lc_city, "far", "supermarket")
    assert near.state == ReachState.REACHED and far.state == ReachState.REACHED
    assert 0 < near.distance_m < far.distance_m
    assert near.minutes == pytest.approx(near.distance_m / 80.0)
    assert near.facility == lc_city.facilities["supermarket"]
    assert near.covered is (near.minutes <= 10)
    # A kind with no facility at all is unreachable, never 0.
    school = _reach(lc_city, "near", "middle_school")
    assert (
        school.state == ReachState.UNREACHABLE and school.distance_m is None and not school.covered
    )


def test_compound_off_the_network_is_unreachable(lc_city: LcCity) -> None:
    for code in ("supermarket", "clinic"):
        r = _reach(lc_city, "off", code)
        assert r.state == ReachState.UNREACHABLE
        assert r.distance_m is None and r.snap_m is None and not r.covered
    assert lc_city.analysis.unreachable >= 1


def test_coverage_counts_households(lc_city: LcCity) -> None:
    supermarket = lc_city.kind("supermarket")
    c1 = lc_city.city.areas["c1"]
    row = Coverage.objects.get(analysis=lc_city.analysis, area=c1, kind=supermarket)
    assert row.households == 300 + 200
    expected = sum(
        lc_city.compounds[k].households
        for k in ("near", "far")
        if _reach(lc_city, k, "supermarket").covered
    )
    assert row.covered_households == expected
    # The city row sums every community; "all required" needs every required kind (none here).
    city = Coverage.objects.get(
        analysis=lc_city.analysis, area=lc_city.city.areas["city"], kind=supermarket
    )
    assert city.households == 300 + 200 + 150 + 120
    everything = Coverage.objects.get(
        analysis=lc_city.analysis, area=lc_city.city.areas["city"], kind=None
    )
    assert everything.covered_households == 0
    c3 = Coverage.objects.get(
        analysis=lc_city.analysis, area=lc_city.city.areas["c3"], kind=supermarket
    )
    assert c3.unreachable_places == 1 and c3.covered_households == 0


def test_a_new_facility_makes_results_stale_and_the_recomputation_uses_it(lc_city: LcCity) -> None:
    assert not selectors.status().stale
    before = _reach(lc_city, "far", "clinic")
    Facility.objects.create(
        kind=lc_city.kind("clinic"),
        name="新诊所",
        lon=LON0 + 0.0033,
        lat=LAT0 + 0.0033,
        source=FacilitySource.CIVICLOOP,
    )
    assert selectors.status().stale
    lc_city.recompute()
    assert not selectors.status().stale
    after = _reach(lc_city, "far", "clinic")
    assert after.distance_m < before.distance_m
    assert after.covered
    # The old results are gone, not kept beside the new.
    assert Analysis.objects.filter(status=JobStatus.DONE).count() == 1
    assert not Reach.objects.exclude(analysis=lc_city.analysis).exists()


def test_a_retired_facility_drops_out(lc_city: LcCity) -> None:
    actions.facility_set_active(
        by=lc_city.city.users["admin"], facility=lc_city.facilities["supermarket"], active=False
    )
    lc_city.recompute()
    assert _reach(lc_city, "near", "supermarket").state == ReachState.UNREACHABLE


def test_save_queues_one_recomputation_after_commit(
    lc_city: LcCity, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            lc_city.compounds["near"].households = 310
            lc_city.compounds["near"].save()
            lc_city.compounds["far"].households = 210
            lc_city.compounds["far"].save()
    # The immediate backend ran it: the current results use the new households.
    current = Analysis.objects.get(is_current=True)
    assert current.pk != lc_city.analysis.pk
    row = Coverage.objects.get(
        analysis=current, area=lc_city.city.areas["c1"], kind=lc_city.kind("supermarket")
    )
    assert row.households == 520
    # Saving again with nothing changed queues nothing.
    with django_capture_on_commit_callbacks(execute=True):
        lc_city.compounds["near"].save()
    assert Analysis.objects.get(is_current=True).pk == current.pk
    assert not Analysis.objects.filter(status=JobStatus.QUEUED).exists()


def test_many_saves_in_one_transaction_queue_one_request(
    lc_city: LcCity, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    from civicloop.lifecircle.signals import _request

    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            for compound in lc_city.compounds.values():
                compound.households += 1
                compound.save()
    assert [c for c in callbacks if c is _request] == [_request]
