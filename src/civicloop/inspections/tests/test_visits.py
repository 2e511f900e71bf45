"""Recording a visit (``visits.visit_submit``): who may, what must be given, how it is scored,
where it was recorded, what happens to the photos, look-backs, re-scoring and ODK imports."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from civicloop.core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.inspections import visits
from civicloop.inspections.models import (
    Finding,
    ItemCheck,
    LocationStatus,
    Recheck,
    RoundKind,
    RoundStatus,
    Visit,
    VisitPhoto,
    VisitSource,
)
from civicloop.inspections.visits import CheckInput, PhotoInput, RecheckInput
from civicloop.places.coords import wgs84_to_gcj02
from civicloop.testing import T0

from .round_helpers import advance, make_inspector, make_round, make_sites, site_point
from .visit_helpers import (
    LOOKBACK_AT,
    VISIT_AT,
    answer,
    checks_for,
    export,
    gps_exif,
    items_of,
    jpeg,
    location_of,
    lookback_of,
    photos_for,
    round_with_findings,
    submit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(city):
    return make_round(city, status=RoundStatus.ACTIVE)


def stored_files() -> set[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT) / "inspections"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture(autouse=True)
def files_before() -> set[Path]:
    """Visit photos on disk before the test (files of earlier tests outlive their database)."""
    global FILES_BEFORE
    FILES_BEFORE = stored_files()
    return FILES_BEFORE


FILES_BEFORE: set[Path] = set()


def nothing_written(location=None) -> None:
    assert Visit.objects.count() == 0
    assert ItemCheck.objects.count() == 0
    assert Finding.objects.count() == 0
    assert VisitPhoto.objects.count() == 0
    assert Recheck.objects.count() == 0
    assert stored_files() == FILES_BEFORE
    if location is not None:
        location.refresh_from_db()
        assert location.status == LocationStatus.PENDING


# ---- scoring and findings --------------------------------------------------------------------------


def test_a_location_where_everything_is_fine_scores_100_and_is_done(city, active):
    location = location_of(active, "c1_old", city)
    visit = submit(location, city.users["inspector"], note="  一切正常  ")

    assert (visit.score, visit.raw, visit.full, visit.vetoed) == (
        Decimal("100.00"),
        Decimal("30"),
        Decimal("30"),
        False,
    )
    assert visit.source == VisitSource.WEB and visit.inspector == city.users["inspector"]
    assert visit.note == "一切正常"
    assert (visit.received_at, visit.recorded_at) == (VISIT_AT, VISIT_AT)
    assert ItemCheck.objects.filter(visit=visit).count() == 6
    assert not Finding.objects.exists()
    location.refresh_from_db()
    assert location.status == LocationStatus.DONE


def test_deductions_become_findings_for_the_items_unit_or_the_sites(city, active):
    location = location_of(active, "c1_old", city)  # site unit: wy (物业)
    items = items_of(location)
    lat, lon = site_point(location.site)
    visit = submit(
        location,
        city.users["inspector"],
        checks=checks_for(
            location,
            s1_i1={"occurrences": 3, "description": "3号楼楼道堆放杂物", "note": "东侧"},
            s2_i1={"occurrences": 40},  # 0.5 each, capped at the item's 8 points
            s2_i2={"occurrences": 2},  # fixed: 7 once
        ),
        photos=photos_for(items["s1_i1"]) + photos_for(items["s2_i1"], 2),
    )

    # 30 − (6 + 8 + 7) = 9 of 30 → 30.00
    assert (visit.score, visit.raw, visit.full) == (Decimal("30.00"), Decimal("9"), Decimal("30"))
    deductions = {c.item_id: c.deduction for c in visit.checks.all()}
    assert deductions[items["s1_i1"].pk] == Decimal("6") and deductions[
        items["s2_i1"].pk
    ] == Decimal("8")
    assert deductions[items["s2_i2"].pk] == Decimal("7") and deductions[
        items["s1_i2"].pk
    ] == Decimal("0")
    findings = {f.item_id: f for f in visit.findings.all()}
    assert set(findings) == {items["s1_i1"].pk, items["s2_i1"].pk, items["s2_i2"].pk}
    rubbish = findings[items["s1_i1"].pk]
    assert rubbish.description == "3号楼楼道堆放杂物"
    assert rubbish.unit == city.units["hwc"]  # the item names its unit
    assert findings[items["s2_i2"].pk].unit == city.units["wy"]  # else the site's
    assert findings[items["s2_i2"].pk].description == items["s2_i2"].content
    assert rubbish.item_check.note == "东侧" and rubbish.deduction == Decimal("6")
    assert (rubbish.lat, rubbish.lon) == (lat, lon)
    assert rubbish.photos.count() == 1 and findings[items["s2_i1"].pk].photos.count() == 2


def test_a_section_veto_zeroes_the_section_and_is_a_finding(city, active):
    location = location_of(active, "c1_old", city)
    visit = submit(
        location, city.users["inspector"], checks=checks_for(location, s1_i3={"veto_hit": True})
    )
    # Section 1 (15 points) scores 0, section 2 keeps 15 of 15.
    assert (visit.score, visit.raw, visit.vetoed) == (Decimal("50.00"), Decimal("15"), False)
    finding = visit.findings.get()
    assert finding.item == items_of(location)["s1_i3"] and finding.deduction == Decimal("0")


def test_a_location_veto_scores_zero(city, active):
    location = location_of(active, "c1_old", city)
    visit = submit(
        location, city.users["inspector"], checks=checks_for(location, s2_i3={"veto_hit": True})
    )
    assert (visit.score, visit.raw, visit.vetoed) == (Decimal("0.00"), Decimal("0"), True)


def test_items_that_do_not_apply_leave_the_full_points(city, active):
    location = location_of(active, "c1_old", city)
    visit = submit(
        location,
        city.users["inspector"],
        checks=checks_for(
            location,
            s2_i1={"not_applicable": True},
            s2_i2={"not_applicable": True},
            s1_i2={"occurrences": 1},
        ),
    )
    # Applicable: 15 + 0 (veto) = 15 points, 3 deducted → 12 / 15 = 80.00
    assert (visit.score, visit.full, visit.raw) == (Decimal("80.00"), Decimal("15"), Decimal("12"))
    assert visit.checks.filter(not_applicable=True).count() == 2


# ---- where --------------------------------------------------------------------------------------------------


def test_a_visit_far_from_the_site_is_flagged_off_site(city, active):
    location = location_of(active, "c1_old", city)
    lat, lon = site_point(location.site)
    visit = submit(
        location,
        city.users["inspector"],
        lat=lat + 0.005,
        lon=lon,
        accuracy_m=12,
        checks=checks_for(location, s1_i1={"occurrences": 1}),
        photos=photos_for(items_of(location)["s1_i1"]),
    )  # about 560 m north
    assert visit.off_site is True
    assert 400 < visit.distance_m < 600
    assert visit.accuracy_m == 12
    # The problem is at the site, not where the phone was: its case goes to the site.
    (finding,) = visit.findings.all()
    assert (finding.lat, finding.lon) == site_point(location.site)


def test_a_visit_just_outside_within_the_tolerance_is_not_flagged(city, active):
    location = location_of(active, "c1_old", city)
    north = location.site.shape.bounds[3]
    _lat, lon = site_point(location.site)
    visit = submit(
        location, city.users["inspector"], lat=north + 0.0005, lon=lon
    )  # about 55 m north of its edge
    assert 45 < visit.distance_m < 65 and visit.off_site is False


def test_without_a_position_nothing_is_flagged_and_the_distance_is_unknown(city, active):
    location = location_of(active, "c1_old", city)
    visit = submit(location, city.users["inspector"], lat=None, lon=None)
    assert (visit.lat, visit.lon, visit.distance_m, visit.off_site) == (None, None, None, False)
    finding_location = location_of(active, "c2_old", city)
    visit = submit(
        finding_location,
        city.users["inspector"],
        lat="",
        lon="",
        checks=checks_for(finding_location, s1_i2={"occurrences": 1}),
    )
    point = finding_location.site.shape.representative_point()
    assert (visit.findings.get().lat, visit.findings.get().lon) == (point.y, point.x)


def test_gcj02_positions_are_converted_before_measuring(city, active):
    location = location_of(active, "c1_old", city)
    lat, lon = site_point(location.site)
    g_lat, g_lon = wgs84_to_gcj02(lat, lon)
    assert abs(g_lon - lon) > 0.001  # hundreds of metres apart: unconverted, it would be off site
    visit = submit(location, city.users["inspector"], lat=g_lat, lon=g_lon, crs="gcj02")
    assert visit.lat == pytest.approx(lat, abs=1e-7) and visit.lon == pytest.approx(lon, abs=1e-7)
    assert visit.distance_m == 0 and visit.off_site is False


def test_the_rounds_own_tolerance_counts(city):
    rnd = make_round(city, status=RoundStatus.ACTIVE, off_site_metres=20)
    location = location_of(rnd, "c1_old", city)
    north = location.site.shape.bounds[3]
    _lat, lon = site_point(location.site)
    assert submit(location, city.users["inspector"], lat=north + 0.0005, lon=lon).off_site is True


# ---- photos -----------------------------------------------------------------------------------------------------


def test_photos_are_kept_without_their_exif_but_with_time_and_place(city, active):
    location = location_of(active, "c1_old", city)
    items = items_of(location)
    original = jpeg("IMG_0001.jpg", exif=gps_exif())
    assert b"Exif" in original.read()
    original.seek(0)
    visit = submit(
        location,
        city.users["inspector"],
        checks=checks_for(location, s1_i1={"occurrences": 1}),
        photos=[PhotoInput(upload=original, item_id=items["s1_i1"].pk)],
    )
    photo = visit.photos.get()
    assert photo.finding == visit.findings.get() and photo.item == items["s1_i1"]
    assert photo.gps_lat == pytest.approx(41 + 10 / 60 + 10 / 3600, abs=1e-6)
    assert photo.gps_lon == pytest.approx(80 + 15 / 60 + 50 / 3600, abs=1e-6)
    assert photo.taken_at is not None and photo.taken_at.year == 2026
    assert Path(photo.image.path).is_relative_to(
        Path(settings.PRIVATE_MEDIA_ROOT)
    )  # private storage
    with photo.image.open("rb") as handle:
        data = handle.read()
    stored = Image.open(io.BytesIO(data))
    assert dict(stored.getexif()) == {}
    assert stored.getexif().get_ifd(0x8825) == {}
    for marker in (b"Exif", b"GPS", b"HUAWEI"):
        assert marker not in data
    assert (photo.width, photo.height) == (64, 48)


def test_photos_of_items_without_findings_are_kept_unlinked(city, active):
    location = location_of(active, "c1_old", city)
    items = items_of(location)
    visit = submit(
        location,
        city.users["inspector"],
        photos=photos_for(items["s1_i2"]) + [PhotoInput(upload=jpeg("overall.jpg"))],
    )
    assert visit.photos.count() == 2 and not visit.photos.exclude(finding=None).exists()
    assert set(visit.photos.values_list("item_id", flat=True)) == {items["s1_i2"].pk, None}


def test_a_failure_after_photos_were_written_leaves_no_file(city, active, monkeypatch):
    location = location_of(active, "c1_old", city)
    items = items_of(location)
    real = VisitPhoto.save
    calls = []

    def save(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(VisitPhoto, "save", save)
    with pytest.raises(RuntimeError):
        submit(
            location,
            city.users["inspector"],
            checks=checks_for(location, s2_i1={"occurrences": 1}),
            photos=photos_for(items["s2_i1"], 2),
        )
    nothing_written(location)


# ---- idempotency and conflicts -------------------------------------------------------------------------


def test_the_same_draft_sent_twice_is_one_visit(city, active):
    location = location_of(active, "c1_old", city)
    draft = uuid.uuid4()
    first = submit(
        location,
        city.users["inspector"],
        client_uuid=draft,
        checks=checks_for(location, s1_i2={"occurrences": 1}),
    )
    counts = (ItemCheck.objects.count(), Finding.objects.count())
    # The retry may even differ (a second tap after an edit): the first answer stands.
    again = submit(
        location,
        city.users["inspector"],
        client_uuid=str(draft),
        checks=checks_for(location),
        at=VISIT_AT + dt.timedelta(hours=1),
    )
    assert again.pk == first.pk and again.score == first.score == Decimal("90.00")
    assert (ItemCheck.objects.count(), Finding.objects.count()) == counts
    assert Visit.objects.count() == 1


def test_a_retry_after_the_round_closed_still_gets_its_visit(city, active):
    location = location_of(active, "c1_old", city)
    draft = uuid.uuid4()
    first = submit(location, city.users["inspector"], client_uuid=draft)
    advance(city, active, RoundStatus.CLOSED)
    assert submit(location, city.users["inspector"], client_uuid=draft).pk == first.pk


def test_the_same_draft_id_for_another_location_is_a_conflict(city, active):
    first = location_of(active, "c1_old", city)
    other = location_of(active, "c2_old", city)
    draft = uuid.uuid4()
    submit(first, city.users["inspector"], client_uuid=draft)
    with pytest.raises(ConflictError) as refused:
        submit(other, city.users["inspector"], client_uuid=draft)
    assert refused.value.field == "client_uuid"
    assert Visit.objects.count() == 1
    other.refresh_from_db()
    assert other.status == LocationStatus.PENDING


def test_a_location_is_inspected_once(city, active):
    location = location_of(active, "c1_old", city)
    submit(location, city.users["inspector"])
    with pytest.raises(ConflictError, match="already been inspected"):
        submit(location, city.users["inspector"])
    assert Visit.objects.count() == 1


# ---- who ----------------------------------------------------------------------------------------------------------


def test_only_the_assigned_inspector_records_the_visit(city):
    make_inspector(city, "inspector2")
    rnd = make_round(city, status=RoundStatus.ACTIVE, inspectors=("inspector", "inspector2"))
    theirs = (
        rnd.locations.exclude(inspector=city.users["inspector"])
        .select_related("round", "site")
        .first()
    )
    assert theirs.inspector == city.users["inspector2"]
    with pytest.raises(PermissionRefused):
        submit(theirs, city.users["inspector"])
    nothing_written(theirs)
    assert submit(theirs, city.users["inspector2"]).inspector == city.users["inspector2"]


@pytest.mark.parametrize(
    "who",
    ["unit_staff", "community_staff", "dispatcher", "grid_worker", "outsider", "inspector2", None],
)
def test_nobody_else_learns_an_undercover_location_exists(city, who):
    if who == "inspector2":
        make_inspector(city, "inspector2")
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    location = location_of(rnd, "c1_old", city)
    by = city.users[who] if who else None
    with pytest.raises(NotFoundOrForbidden):
        submit(location, by)
    nothing_written(location)


def test_the_campaign_office_does_not_inspect_on_the_phone(city, active):
    location = location_of(active, "c1_old", city)
    with pytest.raises(PermissionRefused):
        submit(location, city.users["campaign_office"])
    nothing_written(location)


def test_staff_who_see_an_open_round_may_still_not_inspect_it(city):
    rnd = make_round(city, kind=RoundKind.OPEN, status=RoundStatus.ACTIVE)
    location = location_of(rnd, "c1_old", city)
    with pytest.raises(PermissionRefused):
        submit(location, city.users["dispatcher"])
    nothing_written(location)


@pytest.mark.parametrize("status", [RoundStatus.DRAFT, RoundStatus.CLOSED])
def test_visits_are_recorded_only_while_the_round_is_inspected(city, status):
    rnd = make_round(city, status=status)
    location = location_of(rnd, "c1_old", city)
    with pytest.raises(TransitionRefused):
        submit(location, city.users["inspector"])
    nothing_written(location)


# ---- bad input: a clear reason, nothing written -----------------------------------------------------------


def test_every_bad_input_is_refused_with_its_reason_and_nothing_written(city, active):
    location = location_of(active, "c1_old", city)
    other = location_of(active, "c1_street", city)  # the back-street standard
    items = items_of(location)
    inspector = city.users["inspector"]
    s1_i1, s1_i3 = items["s1_i1"], items["s1_i3"]
    foreign = items_of(other)["s1_i2"]
    with_found = checks_for(location, s1_i1={"occurrences": 1})

    def replaced(key, **fields):
        return [
            CheckInput(item_id=c.item_id, **fields) if c.item_id == items[key].pk else c
            for c in checks_for(location)
        ]

    cases = [
        ({"client_uuid": "not-a-uuid"}, "client_uuid", "not a UUID"),
        (
            {"checks": checks_for(location) + [CheckInput(item_id=999999)]},
            "item_999999",
            "does not exist",
        ),
        (
            {"checks": checks_for(location) + [CheckInput(item_id=foreign.pk)]},
            f"item_{foreign.pk}",
            "belongs to 背街小巷测评标准",
        ),
        (
            {"checks": checks_for(location) + [CheckInput(item_id=items["s1_i2"].pk)]},
            f"item_{items['s1_i2'].pk}",
            "checked twice",
        ),
        ({"checks": checks_for(location)[1:]}, "checks", "not checked: 1.1 楼道"),
        ({"checks": []}, "checks", "not checked: 1.1"),
        ({"checks": replaced("s1_i1", occurrences=-1)}, f"item_{s1_i1.pk}", "from 0 to 999"),
        ({"checks": replaced("s1_i1", occurrences=1000)}, f"item_{s1_i1.pk}", "from 0 to 999"),
        ({"checks": replaced("s1_i1", occurrences="three")}, f"item_{s1_i1.pk}", "from 0 to 999"),
        ({"checks": replaced("s1_i1", occurrences=True)}, f"item_{s1_i1.pk}", "from 0 to 999"),
        ({"checks": replaced("s1_i1", occurrences=1.5)}, f"item_{s1_i1.pk}", "from 0 to 999"),
        ({"checks": replaced("s1_i1", veto_hit=True)}, f"item_{s1_i1.pk}", "not a veto item"),
        ({"checks": replaced("s1_i3", occurrences=2)}, f"item_{s1_i3.pk}", "veto item"),
        ({"checks": replaced("s1_i3", veto_hit="yes")}, f"item_{s1_i3.pk}", "yes or no"),
        (
            {"checks": replaced("s1_i2", occurrences=1, not_applicable=True)},
            f"item_{items['s1_i2'].pk}",
            "cannot both",
        ),
        (
            {"checks": replaced("s1_i2", note="x" * 2001)},
            f"item_{items['s1_i2'].pk}",
            "longer than 2000",
        ),
        ({"checks": [object()]}, "checks", "must name an item"),
        (
            {"rechecks": [RecheckInput(finding_id=1, recurred=True)]},
            "rechecks",
            "Only a look-back round",
        ),
        ({"note": "x" * 4001}, "note", "longer than 4000"),
        ({"lat": 41.17, "lon": None}, "lon", "both latitude and longitude"),
        ({"lat": None, "lon": 80.26}, "lat", "both latitude and longitude"),
        ({"lat": 91}, "lat", "between -90 and 90"),
        ({"lon": "abc"}, "lon", "between -180 and 180"),
        ({"lat": float("nan")}, "lat", "between -90 and 90"),
        ({"crs": "bd09"}, "crs", "Unknown coordinate system"),
        ({"accuracy_m": -1}, "accuracy_m", "GPS accuracy"),
        ({"recorded_at": "yesterday"}, "recorded_at", "not a date and time"),
        ({"source": "fax"}, "source", "Unknown source"),
        # Evidence
        ({"checks": with_found}, f"item_{s1_i1.pk}", "needs 1 photo"),
        (
            {
                "checks": with_found,
                "photos": [PhotoInput(upload=jpeg(), item_id=items["s1_i2"].pk)],
            },
            f"item_{s1_i1.pk}",
            "needs 1 photo",
        ),
        (
            {"photos": [PhotoInput(upload=jpeg(), item_id=foreign.pk)]},
            "photos",
            "not checked at this location",
        ),
        ({"photos": [PhotoInput(upload=jpeg(), finding_id=1)]}, "photos", "not rechecked"),
        ({"photos": [PhotoInput(upload=None)]}, "photos", "missing its file"),
        (
            {"photos": [PhotoInput(upload=jpeg(), item_id=s1_i1.pk)] * (visits.MAX_PHOTOS + 1)},
            "photos",
            "At most 60",
        ),
    ]
    for arguments, field, message in cases:
        with pytest.raises(ValidationFailed) as refused:
            submit(location, inspector, **arguments)
        assert refused.value.field == field, (arguments, refused.value.field, refused.value.message)
        assert message in refused.value.message, (arguments, refused.value.message)
        nothing_written(location)


def test_a_file_that_is_not_a_photo_is_refused_before_anything_is_written(city, active):
    from django.core.files.uploadedfile import SimpleUploadedFile

    location = location_of(active, "c1_old", city)
    items = items_of(location)
    good = photos_for(items["s1_i1"])
    bad = PhotoInput(
        upload=SimpleUploadedFile("plan.pdf", b"%PDF-1.4 not a photo"), item_id=items["s1_i1"].pk
    )
    with pytest.raises(Exception) as refused:
        submit(
            location,
            city.users["inspector"],
            checks=checks_for(location, s1_i1={"occurrences": 1}),
            photos=[*good, bad],
        )
    assert refused.value.code == ErrorCode.BAD_FILE and refused.value.field == "photos"
    assert "plan.pdf" in refused.value.message
    nothing_written(location)


def test_a_phone_clock_running_ahead_never_records_a_visit_after_it_was_received(city, active):
    location = location_of(active, "c1_old", city)
    visit = submit(
        location,
        city.users["inspector"],
        started_at="2026-11-17T12:30:00+08:00",
        recorded_at=(VISIT_AT + dt.timedelta(hours=3)).isoformat(),
    )
    assert visit.recorded_at == VISIT_AT
    assert visit.started_at == VISIT_AT


# ---- look-back ----------------------------------------------------------------------------------------------


@pytest.fixture
def lookback(city):
    earlier, earlier_location = round_with_findings(city)
    rnd, location = lookback_of(city, earlier)
    findings = list(visits.earlier_findings(location))
    return rnd, location, findings


def test_a_lookback_rechecks_every_earlier_finding_and_a_recurrence_is_a_new_finding(
    city, lookback
):
    rnd, location, findings = lookback
    rubbish, structure = findings  # s1_i1 (one photo required), s2_i2
    lat, lon = site_point(location.site)
    visit = submit(
        location,
        city.users["inspector"],
        rechecks=[
            RecheckInput(finding_id=rubbish.pk, recurred=True, note="又堆上了"),
            RecheckInput(finding_id=structure.pk, recurred=False),
        ],
        photos=[
            PhotoInput(upload=jpeg(), finding_id=rubbish.pk),
            PhotoInput(upload=jpeg("fixed.jpg"), finding_id=structure.pk),
        ],
        at=LOOKBACK_AT + dt.timedelta(hours=1),
    )
    assert visit.score is None and not visit.checks.exists()
    assert {(r.finding_id, r.recurred) for r in visit.rechecks.all()} == {
        (rubbish.pk, True),
        (structure.pk, False),
    }
    recurrence = visit.findings.get()
    assert recurrence.recurrence_of == rubbish
    assert (recurrence.item, recurrence.unit, recurrence.deduction) == (
        rubbish.item,
        rubbish.unit,
        rubbish.deduction,
    )
    assert recurrence.description == "又堆上了" and recurrence.item_check is None
    assert (recurrence.lat, recurrence.lon) == (lat, lon)
    photos = {p.item_id: p for p in visit.photos.all()}
    assert photos[rubbish.item_id].finding == recurrence
    assert photos[structure.item_id].finding is None  # evidence that it stayed fixed
    location.refresh_from_db()
    assert location.status == LocationStatus.DONE


def test_a_lookback_refuses_missing_unknown_or_doubled_rechecks_and_item_checks(city, lookback):
    rnd, location, findings = lookback
    rubbish, structure = findings
    inspector = city.users["inspector"]
    both = [
        RecheckInput(finding_id=rubbish.pk, recurred=False),
        RecheckInput(finding_id=structure.pk, recurred=False),
    ]
    cases = [
        ({"rechecks": both[:1]}, "rechecks", "not rechecked"),
        ({"rechecks": []}, "rechecks", "not rechecked"),
        (
            {"rechecks": [*both, RecheckInput(finding_id=rubbish.pk, recurred=True)]},
            f"finding_{rubbish.pk}",
            "rechecked twice",
        ),
        (
            {"rechecks": [*both, RecheckInput(finding_id=999999, recurred=True)]},
            "finding_999999",
            "not one of the earlier round's findings",
        ),
        (
            {"rechecks": [RecheckInput(finding_id=rubbish.pk, recurred=None), both[1]]},
            f"finding_{rubbish.pk}",
            "yes or no",
        ),
        ({"rechecks": both, "checks": checks_for(location)}, "checks", "does not score the items"),
        (
            {"rechecks": [RecheckInput(finding_id=rubbish.pk, recurred=True), both[1]]},
            f"finding_{rubbish.pk}",
            "needs 1 photo",
        ),
        (
            {"rechecks": both, "photos": [PhotoInput(upload=jpeg(), item_id=rubbish.item_id)]},
            "photos",
            "not checked at this location",
        ),
        ({"rechecks": [object()]}, "rechecks", "must name a finding"),
    ]
    before = (Visit.objects.count(), Finding.objects.count(), VisitPhoto.objects.count())
    for arguments, field, message in cases:
        with pytest.raises(ValidationFailed) as refused:
            submit(location, inspector, at=LOOKBACK_AT + dt.timedelta(hours=1), **arguments)
        assert refused.value.field == field, (arguments, refused.value.message)
        assert message in refused.value.message, (arguments, refused.value.message)
        assert (
            Visit.objects.count(),
            Finding.objects.count(),
            VisitPhoto.objects.count(),
        ) == before
        assert not Recheck.objects.exists()


# ---- re-scoring -----------------------------------------------------------------------------------------------


def test_rescoring_restores_the_stored_scores_and_then_changes_nothing(city, active):
    location = location_of(active, "c1_old", city)
    items = items_of(location)
    visit = submit(
        location,
        city.users["inspector"],
        checks=checks_for(location, s1_i1={"occurrences": 2}),
        photos=photos_for(items["s1_i1"]),
    )
    assert visit.score == Decimal("86.67")
    Visit.objects.filter(pk=visit.pk).update(score=Decimal("99"), raw=Decimal("1"), vetoed=True)
    ItemCheck.objects.filter(visit=visit, item=items["s1_i1"]).update(deduction=Decimal("0"))
    Finding.objects.filter(visit=visit).update(deduction=Decimal("0"))

    fixed = visits.visit_rescore(visit)
    assert (fixed.score, fixed.raw, fixed.full, fixed.vetoed) == (
        Decimal("86.67"),
        Decimal("26"),
        Decimal("30"),
        False,
    )
    fixed.refresh_from_db()
    assert fixed.score == Decimal("86.67")
    assert ItemCheck.objects.get(visit=visit, item=items["s1_i1"]).deduction == Decimal("4")
    assert Finding.objects.get(visit=visit).deduction == Decimal("4")

    with CaptureQueriesContext(connection) as queries:
        again = visits.visit_rescore(visit)
    assert again.score == Decimal("86.67")
    assert not [
        q
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))
    ]


def test_rescoring_a_lookback_visit_keeps_it_unscored(city, lookback):
    rnd, location, findings = lookback
    visit = submit(
        location,
        city.users["inspector"],
        rechecks=[RecheckInput(finding_id=f.pk, recurred=False) for f in findings],
        at=LOOKBACK_AT + dt.timedelta(hours=1),
    )
    assert visits.visit_rescore(visit).score is None


# ---- ODK / KoboCollect exports ----------------------------------------------------------------------------------


def test_an_export_is_imported_rescored_and_a_second_import_changes_nothing(city, active):
    office = city.users["campaign_office"]
    old = location_of(active, "c1_old", city)
    street = location_of(active, "c2_street", city)
    data = export(
        [
            answer(old, **{"s1/s1_i2_n": "1", "score": "100"}),  # the phone's score is wrong: never kept
            answer(street, location_code="", location_name=street.site.name, gps="41.1689 80.2669 1200 5", **{
                "_gps_latitude": "", "_gps_longitude": "", "s2/s2_na": "i1 i2", "s1/s1_i1_n": "2",
            }),
        ]
    )  # fmt: skip
    result = visits.submissions_import(round=active, by=office, data=data, at=VISIT_AT)
    assert result.written and (result.created, result.repeated) == (2, 0) and not result.errors

    first = Visit.objects.get(location=old)
    assert (first.score, first.source, first.inspector) == (
        Decimal("90.00"),
        VisitSource.XLSFORM,
        city.users["inspector"],
    )
    assert first.started_at == dt.datetime(2026, 11, 17, 3, 5, tzinfo=dt.UTC)
    assert first.recorded_at == dt.datetime(2026, 11, 17, 3, 40, tzinfo=dt.UTC)
    assert first.distance_m == 0 and first.accuracy_m == 8.5 and first.findings.count() == 1
    second = Visit.objects.get(location=street)
    # Section 2 applies only by its veto item (0 points): 15 − 4 of 15 points.
    assert second.score == Decimal("73.33") and (second.lat, second.lon) == (41.1689, 80.2669)

    again = visits.submissions_import(
        round=active, by=office, data=data, at=VISIT_AT + dt.timedelta(hours=1)
    )
    assert again.written and (again.created, again.repeated) == (0, 2)
    assert Visit.objects.count() == 2 and Finding.objects.count() == 2


def test_an_export_with_a_bad_row_imports_nothing_and_names_every_problem(city, active):
    office = city.users["campaign_office"]
    old = location_of(active, "c1_old", city)
    other = location_of(active, "c2_old", city)
    data = export(
        [
            answer(old),
            answer(other, location_code="L999999"),
            answer(other, location_code="", location_name="不存在的小区"),
            answer(other, location_code=""),
            answer(other, **{"s1/s1_i2_n": "x"}),
            answer(other, **{"meta/instanceID": ""}),
        ]
    )
    result = visits.submissions_import(round=active, by=office, data=data, at=VISIT_AT)
    assert not result.written and result.created == 0
    problems = {row.row: " ".join(row.problems) for row in result.errors}
    assert set(problems) == {3, 4, 5, 6, 7}
    assert "No location “L999999”" in problems[3]
    assert "No location “不存在的小区”" in problems[4]
    assert "names no location" in problems[5]
    assert "s1_i2_n" in problems[6]
    assert "instanceID" in problems[7]
    assert not Visit.objects.exists()
    old.refresh_from_db()
    assert old.status == LocationStatus.PENDING


def test_an_export_row_for_an_inspected_location_is_a_row_error(city, active):
    old = location_of(active, "c1_old", city)
    submit(old, city.users["inspector"])
    result = visits.submissions_import(
        round=active, by=city.users["campaign_office"], data=export([answer(old)]), at=VISIT_AT
    )
    assert not result.written and "already been inspected" in result.errors[0].problems[0]
    assert Visit.objects.count() == 1


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("inspector", PermissionRefused),
        ("unit_staff", NotFoundOrForbidden),
        ("leader_b", NotFoundOrForbidden),
    ],
)
def test_only_the_rounds_owners_import_exports(city, active, who, error):
    old = location_of(active, "c1_old", city)
    with pytest.raises(error):
        visits.submissions_import(
            round=active, by=city.users[who], data=export([answer(old)]), at=VISIT_AT
        )
    assert not Visit.objects.exists()


def test_exports_are_imported_only_into_a_round_being_inspected(city):
    rnd = make_round(city, status=RoundStatus.CLOSED)
    with pytest.raises(TransitionRefused):
        visits.submissions_import(
            round=rnd, by=city.users["campaign_office"], data=export([]), at=VISIT_AT
        )


def test_an_empty_or_unreadable_export_is_refused(city, active):
    office = city.users["campaign_office"]
    with pytest.raises(ValidationFailed, match="no submissions"):
        visits.submissions_import(round=active, by=office, data=export([]), at=VISIT_AT)
    with pytest.raises(ValidationFailed, match="empty"):
        visits.submissions_import(round=active, by=office, data=b"", at=VISIT_AT)
    with pytest.raises(ValidationFailed, match="not a spreadsheet"):
        visits.submissions_import(round=active, by=office, data=b"\x00\x01\x02binary", at=VISIT_AT)


def test_the_inspectors_list_holds_only_their_locations_of_active_rounds(city):
    make_inspector(city, "inspector2")
    make_round(city, status=RoundStatus.DRAFT, name="计划中")
    rnd = make_round(
        city, status=RoundStatus.ACTIVE, inspectors=("inspector", "inspector2"), name="进行中"
    )
    mine = set(visits.inspectable_locations(city.users["inspector"]).values_list("pk", flat=True))
    assert mine == set(
        rnd.locations.filter(inspector=city.users["inspector"]).values_list("pk", flat=True)
    )
    assert mine and mine.isdisjoint(
        visits.inspectable_locations(city.users["inspector2"]).values_list("pk", flat=True)
    )
    assert not visits.inspectable_locations(city.users["unit_staff"]).exists()
    assert not visits.inspectable_locations(None).exists()
    assert len(make_sites(city)) == 7
    assert T0 < VISIT_AT


def test_a_finding_seen_from_across_the_city_edge_is_placed_at_the_site(city):
    """Within the round's tolerance but outside every grid (the far bank of the city's edge):
    the finding goes to the site, so its rectification case has a grid."""
    from shapely.geometry import Point

    from civicloop.places.index import grid_for_point

    rnd = make_round(city, status=RoundStatus.ACTIVE, off_site_metres=5000)
    location = location_of(rnd, "c1_old", city)
    south = city.areas["city"].shape.bounds[1]
    _lat, lon = site_point(location.site)
    visit = submit(
        location,
        city.users["inspector"],
        lat=south - 0.002,
        lon=lon,
        checks=checks_for(location, s1_i1={"occurrences": 1}),
        photos=photos_for(items_of(location)["s1_i1"]),
    )
    assert visit.off_site is False
    (finding,) = visit.findings.all()
    assert location.site.shape.intersects(Point(finding.lon, finding.lat).buffer(1e-9))
    assert grid_for_point(lat=finding.lat, lon=finding.lon) is not None
