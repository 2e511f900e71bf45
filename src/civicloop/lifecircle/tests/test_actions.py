"""Importing a network (CLI and job), the tag mapping, registered facilities and who may do
what with them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from civicloop.cli import main as cli_main
from civicloop.core.errors import NotFoundOrForbidden, PermissionRefused, ValidationFailed
from civicloop.demo.geography import source_pbf_path
from civicloop.lifecircle import actions
from civicloop.lifecircle.models import (
    Analysis,
    Building,
    Facility,
    FacilityKind,
    FacilitySource,
    JobStatus,
    Network,
    Reach,
    TagRule,
)
from civicloop.org import policy
from civicloop.testing import LAT0, LON0, TestCity

from .conftest import LcCity

pytestmark = pytest.mark.django_db


def test_migrations_seed_the_kinds_and_mapping() -> None:
    assert FacilityKind.objects.filter(code="kindergarten", level_minutes=5, required=True).exists()
    assert TagRule.objects.filter(
        kind__code="supermarket", key="shop", value="supermarket"
    ).exists()
    # Seeding again keeps an office's edits.
    FacilityKind.objects.filter(code="park").update(level_minutes=5)
    TagRule.objects.filter(kind__code="park", value="garden").delete()
    assert actions.kinds_seed() == 0
    assert FacilityKind.objects.get(code="park").level_minutes == 5
    assert not TagRule.objects.filter(kind__code="park", value="garden").exists()


def test_import_osm_command_reads_the_bundled_extract(city: TestCity) -> None:
    out = io.StringIO()
    call_command("import_osm", str(source_pbf_path()), stdout=out)
    network = Network.objects.get(is_current=True)
    assert network.status == JobStatus.DONE
    assert network.nodes > 5000 and network.edges > 5000
    assert network.facilities > 50 and network.buildings > 100 and network.households > 0
    assert Facility.objects.filter(source=FacilitySource.OSM, kind__code="bus_stop").count() > 50
    assert Building.objects.filter(network=network).count() == network.buildings
    analysis = Analysis.objects.get(is_current=True)
    assert analysis.network == network
    assert Reach.objects.filter(analysis=analysis, building__isnull=False).exists()
    text = out.getvalue()
    assert f"Network #{network.pk}" in text and "Life circle computed" in text


def test_reimport_replaces_osm_facilities_and_keeps_registered_ones(city: TestCity) -> None:
    call_command("import_osm", str(source_pbf_path()), stdout=io.StringIO())
    first = Network.objects.get(is_current=True)
    first_analysis = Analysis.objects.get(is_current=True)
    registered = actions.facility_create(
        by=city.users["admin"],
        kind=FacilityKind.objects.get(code="clinic"),
        name="自建诊所",
        lon=24.94,
        lat=60.17,
    )
    osm_count = Facility.objects.filter(source=FacilitySource.OSM).count()
    buildings = Building.objects.count()
    # Imported but not yet computed: the current results keep what they were computed from.
    call_command("import_osm", str(source_pbf_path()), "--no-analysis", stdout=io.StringIO())
    second = Network.objects.get(is_current=True)
    assert second.pk != first.pk
    assert (
        Reach.objects.filter(analysis=first_analysis, building__network=first).count()
        == buildings * FacilityKind.objects.filter(active=True).count()
    )
    assert Facility.objects.filter(network=first).count() == osm_count
    # The new results replace the old, and with them what the old import read.
    queued = Analysis.objects.get(status=JobStatus.QUEUED, network=second)
    assert actions.analysis_run(queued.pk) == JobStatus.DONE
    assert Facility.objects.filter(source=FacilitySource.OSM).count() == osm_count
    assert not Facility.objects.filter(network=first).exists()
    assert not Building.objects.filter(network=first).exists()
    assert Building.objects.filter(network=second).count() == buildings
    assert Facility.objects.filter(pk=registered.pk).exists()
    # The older import keeps its record, not its files.
    first.refresh_from_db()
    assert first.status == JobStatus.DONE and not first.source and not first.graph
    second.refresh_from_db()
    assert second.source and second.graph


def test_an_analysis_of_a_replaced_network_is_dropped(lc_city: LcCity) -> None:
    from .conftest import install_network, lattice

    stale = Analysis.objects.create(
        network=lc_city.network,
        speed_m_per_min=80,
        levels=[5, 10, 15],
        cutoff_m=1500,
        max_snap_m=100,
        requested_at=lc_city.analysis.requested_at,
    )
    Network.objects.filter(pk=lc_city.network.pk).update(is_current=False)
    install_network(lattice(), name="newer")
    assert actions.analysis_run(stale.pk) == JobStatus.FAILED
    stale.refresh_from_db()
    assert "newer network" in stale.error
    assert Analysis.objects.get(is_current=True) == lc_city.analysis


def test_an_older_analysis_never_replaces_a_newer_one(lc_city: LcCity) -> None:
    import datetime as dt

    older = Analysis.objects.create(
        network=lc_city.network,
        speed_m_per_min=80,
        levels=[5, 10, 15],
        cutoff_m=1500,
        max_snap_m=100,
        requested_at=lc_city.analysis.requested_at - dt.timedelta(minutes=5),
    )
    assert actions.analysis_run(older.pk) == JobStatus.FAILED
    assert Analysis.objects.get(is_current=True) == lc_city.analysis
    assert not Reach.objects.filter(analysis=older).exists()


def test_buildings_follow_compounds_drawn_after_the_import(lc_city: LcCity) -> None:
    from shapely.geometry import box

    from civicloop.places.models import Compound

    b = Building.objects.create(
        network=lc_city.network,
        osm_type="way",
        osm_id=1,
        lon=LON0 + 0.0045,
        lat=LAT0 + 0.0035,
        households=40,
        community=lc_city.city.areas["c2"],
        area_path=lc_city.city.areas["g3"].path,
    )
    lc_city.recompute()
    c2 = lc_city.city.areas["c2"]
    supermarket = lc_city.kind("supermarket")
    from civicloop.lifecircle.models import Coverage

    assert (
        Coverage.objects.get(analysis=lc_city.analysis, area=c2, kind=supermarket).households
        == 150 + 40
    )
    # A compound drawn around it later takes it in: its households count once, in the compound.
    compound = Compound(name="新小区", community=c2, households=60)
    compound.set_geometry(box(LON0 + 0.0043, LAT0 + 0.0033, LON0 + 0.0047, LAT0 + 0.0037))
    compound.save()
    lc_city.recompute()
    b.refresh_from_db()
    assert b.compound == compound
    assert (
        Coverage.objects.get(analysis=lc_city.analysis, area=c2, kind=supermarket).households
        == 150 + 60
    )


def test_a_kind_with_a_longer_circle_than_the_cutoff_is_covered_inside_it(
    lc_city: LcCity, settings
) -> None:  # noqa: ANN001
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "LIFECIRCLE": {
            **settings.CIVICLOOP["LIFECIRCLE"],
            "CUTOFF_M": 100.0,
            "WALK_SPEED_M_PER_MIN": 7.3,
        },
    }
    FacilityKind.objects.filter(code="supermarket").update(level_minutes=120)  # 876 m at 7.3 m/min
    analysis = lc_city.recompute()
    assert analysis.cutoff_m >= 120 * 7.3
    for r in Reach.objects.filter(analysis=analysis, kind__code="supermarket", state="reached"):
        assert r.covered is (r.distance_m <= 120 * 7.3)
    assert Reach.objects.filter(
        analysis=analysis, kind__code="supermarket", covered=True, distance_m__gt=100
    ).exists()


def test_cli_import_osm_refuses_a_missing_file(city: TestCity, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert cli_main(["import-osm", str(tmp_path / "none.osm.pbf")]) == 1
    assert "No such file" in capsys.readouterr().err
    assert not Network.objects.exists()


def test_a_bad_file_fails_the_import_with_a_message(city: TestCity, tmp_path: Path) -> None:
    text = tmp_path / "text.osm.pbf"
    text.write_text("this is not a protocol buffer")
    with pytest.raises(ValidationFailed, match="not an OpenStreetMap"):
        actions.network_request(by=city.users["admin"], path=text, enqueue=False)
    assert not Network.objects.exists()
    # A real extract cut short passes the first look and fails in the job, with a message.
    bad = tmp_path / "cut.osm.pbf"
    bad.write_bytes(source_pbf_path().read_bytes()[:5000])
    network = actions.network_request(by=city.users["admin"], path=bad, enqueue=False)
    assert actions.network_run(network.pk) == JobStatus.FAILED
    network.refresh_from_db()
    assert network.status == JobStatus.FAILED and network.error
    assert not network.is_current and not Facility.objects.filter(network=network).exists()
    # Running it again does nothing: it is no longer queued.
    assert actions.network_run(network.pk) == JobStatus.FAILED


def test_network_request_checks_the_upload(city: TestCity, settings) -> None:  # noqa: ANN001
    admin = city.users["admin"]
    with pytest.raises(ValidationFailed, match="osm.pbf"):
        actions.network_request(by=admin, upload=SimpleUploadedFile("city.geojson", b"{}"))
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "LIFECIRCLE": {**settings.CIVICLOOP["LIFECIRCLE"], "MAX_UPLOAD_BYTES": 10},
    }
    with pytest.raises(ValidationFailed, match="larger"):
        actions.network_request(by=admin, upload=SimpleUploadedFile("city.osm.pbf", b"x" * 11))
    with pytest.raises(ValidationFailed):
        actions.network_request(by=admin)
    for persona in ("leader", "leader_b", "dispatcher", "resident", "outsider"):
        with pytest.raises(PermissionRefused):
            actions.network_request(
                by=city.users[persona], upload=SimpleUploadedFile("c.osm.pbf", b"x")
            )
    assert not Network.objects.exists()


def test_who_may_read_and_manage(city: TestCity) -> None:
    users = city.users
    readers = {p for p in users if policy.may_read_lifecircle(users[p])}
    assert readers == {"campaign_office", "leader", "leader_b", "admin"}
    managers = {p for p in users if policy.may_manage_lifecircle(users[p])}
    assert managers == {"campaign_office", "admin"}


def test_facility_create_checks_input_and_area(lc_city: LcCity) -> None:
    users = lc_city.city.users
    clinic = lc_city.kind("clinic")
    made = actions.facility_create(
        by=users["campaign_office"],
        kind=clinic,
        name=" 东门诊所 ",
        lon=LON0 + 0.001,
        lat=LAT0 + 0.001,
    )
    assert made.name == "东门诊所" and made.area_path.startswith(lc_city.city.areas["c1"].path)
    assert made.community == lc_city.city.areas["c1"]
    count = Facility.objects.count()
    for kwargs in (
        {"lon": "east", "lat": 1},
        {"lon": 181, "lat": 0},
        {"lon": 0, "lat": 91},
        {"lon": None, "lat": None},
    ):
        with pytest.raises(ValidationFailed):
            actions.facility_create(by=users["campaign_office"], kind=clinic, name="x", **kwargs)
    with pytest.raises(ValidationFailed):
        actions.facility_create(
            by=users["campaign_office"], kind=clinic, name="  ", lon=LON0, lat=LAT0
        )
    for persona in ("leader", "dispatcher", "resident"):
        with pytest.raises(PermissionRefused):
            actions.facility_create(
                by=users[persona], kind=clinic, name="x", lon=LON0 + 0.001, lat=LAT0 + 0.001
            )
    assert Facility.objects.count() == count


def test_facility_update_and_retire(lc_city: LcCity) -> None:
    users = lc_city.city.users
    facility = lc_city.facilities["clinic"]
    moved = actions.facility_update(
        by=users["campaign_office"],
        facility=facility,
        kind=facility.kind,
        name="新名",
        lon=LON0 + 0.0051,
        lat=LAT0 + 0.0016,
    )
    assert (moved.name, moved.lon) == ("新名", LON0 + 0.0051)
    with pytest.raises(PermissionRefused):
        actions.facility_set_active(by=users["leader"], facility=facility, active=False)
    retired = actions.facility_set_active(
        by=users["campaign_office"], facility=facility, active=False
    )
    assert not retired.active
    with pytest.raises(NotFoundOrForbidden):
        actions.access_facility(users["resident"], facility.pk)
    osm = Facility.objects.create(
        kind=facility.kind, name="OSM", lon=LON0, lat=LAT0, source=FacilitySource.OSM
    )
    with pytest.raises(ValidationFailed):
        actions.facility_update(
            by=users["admin"], facility=osm, kind=osm.kind, name="x", lon=LON0, lat=LAT0
        )


def test_recover_marks_dead_jobs_failed(lc_city: LcCity) -> None:
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    assert "civicloop.lifecircle.actions.lifecircle_recover" in settings.CIVICLOOP["PERIODIC_JOBS"]
    now = timezone.now()
    stuck = Analysis.objects.create(
        network=lc_city.network,
        status=JobStatus.RUNNING,
        speed_m_per_min=80,
        levels=[5, 10, 15],
        cutoff_m=1500,
        max_snap_m=300,
        requested_at=now - dt.timedelta(hours=8),
        started_at=now - dt.timedelta(hours=7),
    )
    fresh = Analysis.objects.create(
        network=lc_city.network,
        status=JobStatus.RUNNING,
        speed_m_per_min=80,
        levels=[5, 10, 15],
        cutoff_m=1500,
        max_snap_m=300,
        requested_at=now,
        started_at=now,
    )
    assert actions.lifecircle_recover(now) == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == JobStatus.FAILED and stuck.error
    assert fresh.status == JobStatus.RUNNING
    assert Analysis.objects.get(is_current=True) == lc_city.analysis


def test_a_compound_without_a_household_count_takes_its_buildings(lc_city: LcCity) -> None:
    from shapely.geometry import box

    from civicloop.lifecircle import selectors
    from civicloop.lifecircle.models import Coverage
    from civicloop.places.models import Compound

    c2 = lc_city.city.areas["c2"]
    compound = Compound(name="无户数小区", community=c2, households=0)
    compound.set_geometry(box(LON0 + 0.0043, LAT0 + 0.0033, LON0 + 0.0047, LAT0 + 0.0037))
    compound.save()
    for n, households in ((1, 25), (2, 35)):
        Building.objects.create(
            network=lc_city.network,
            osm_type="way",
            osm_id=n,
            lon=LON0 + 0.0044 + n * 0.0001,
            lat=LAT0 + 0.0035,
            households=households,
            community=c2,
            area_path=lc_city.city.areas["g3"].path,
        )
    analysis = lc_city.recompute()
    row = Coverage.objects.get(analysis=analysis, area=c2, kind=lc_city.kind("supermarket"))
    assert row.households == 150 + 25 + 35
    # The what-if weighs it the same.
    result = selectors.whatif(
        lc_city.city.users["admin"],
        kind=lc_city.kind("kindergarten"),
        lon=LON0 + 0.0045,
        lat=LAT0 + 0.0035,
    )
    assert ("无户数小区", 60) in {(name, h) for name, h, _d in result.places}


def test_recover_queues_again_an_analysis_whose_task_was_lost(lc_city: LcCity) -> None:
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    lost = Analysis.objects.create(
        network=lc_city.network,
        speed_m_per_min=80,
        levels=[5, 10, 15],
        cutoff_m=1500,
        max_snap_m=100,
        requested_at=now - dt.timedelta(hours=2),
    )
    recent = Analysis.objects.create(
        network=lc_city.network,
        speed_m_per_min=80,
        levels=[5, 10, 15],
        cutoff_m=1500,
        max_snap_m=100,
        requested_at=now - dt.timedelta(minutes=5),
    )
    assert actions.lifecircle_recover(now) == 1
    lost.refresh_from_db()
    recent.refresh_from_db()
    # The test settings run tasks at once: the lost one ran (and, being older than the
    # current results, was not made current); the recent one is left to its own task.
    assert lost.status == JobStatus.FAILED and "newer computation" in lost.error
    assert recent.status == JobStatus.QUEUED
