"""held_release / held_reject: atomic, row-locked, only for the dispatchers of the held
report's area (and admins); a released report behaves like any other."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection

from civicloop.cases import actions as A
from civicloop.cases.models import (
    Case,
    CaseEvent,
    EventKind,
    Photo,
    PhotoKind,
    Report,
    Source,
    State,
)
from civicloop.core.errors import ConflictError, ErrorCode, NotFoundOrForbidden, ValidationFailed
from civicloop.moderation import actions as M
from civicloop.moderation.models import HeldPhoto, HeldReport, HeldStatus
from civicloop.testing import T0, Loop, jpeg_upload

from .helpers import LINKY, counts, gps_jpeg, hold

pytestmark = pytest.mark.django_db


def test_release_publishes_the_report_as_it_was_sent(city):
    resident = city.users["resident"]
    held = hold(
        city,
        at=T0,
        by=resident,
        name="李四",
        phone="13900000000",
        email="li@example.com",
        address="幸福小区东门",
    )
    dispatcher = city.users["dispatcher"]
    released = M.held_release(
        held=held, by=dispatcher, note="链接无害", at=T0 + dt.timedelta(hours=5)
    )
    report = released.report
    assert released.status == HeldStatus.RELEASED and released.decided_by == dispatcher
    assert (
        released.decided_at == T0 + dt.timedelta(hours=5) and released.decision_note == "链接无害"
    )
    assert report is not None and Report.objects.get() == report and report.held_as == released
    # The original time, source, reporter, contacts and text.
    assert (
        report.created_at == T0
        and report.case.reported_at == T0
        and report.ticket_no.startswith("20261117-")
    )
    assert report.source == Source.RESIDENT and report.reporter == resident
    assert (report.name, report.phone, report.email) == ("李四", "13900000000", "li@example.com")
    assert report.description == LINKY and report.case.address == "幸福小区东门"
    assert report.case.state == State.REPORTED and report.case.grid == city.areas["g1"]
    event = CaseEvent.objects.get(case=report.case)
    assert event.kind == EventKind.REPORTED and event.created_at == T0 and event.actor == resident


def test_a_moderator_may_correct_the_text_and_the_original_stays(city):
    held = hold(city)
    released = M.held_release(held=held, by=city.users["dispatcher"], description="  路灯不亮  ")
    assert (
        released.report.description == "路灯不亮" and released.report.case.description == "路灯不亮"
    )
    released.refresh_from_db()
    assert released.original_description == LINKY and released.payload["description"] == LINKY


def test_the_photos_go_to_the_case_and_the_held_copies_go(city, django_capture_on_commit_callbacks):
    held = hold(city, photos=[gps_jpeg(), jpeg_upload("b.jpg")])
    files = [
        Path(django_settings.PRIVATE_MEDIA_ROOT) / n
        for p in held.photos.all()
        for n in (p.original.name, p.preview.name)
    ]
    assert all(f.is_file() for f in files)
    sha = held.photos.get(position=0).sha256
    with django_capture_on_commit_callbacks(execute=True):
        released = M.held_release(held=held, by=city.users["dispatcher"])
    photos = list(Photo.objects.filter(case=released.report.case).order_by("id"))
    assert [p.kind for p in photos] == [PhotoKind.BEFORE, PhotoKind.BEFORE]
    assert (
        photos[0].sha256 == sha and photos[0].gps_lat is not None
    )  # EXIF kept privately, as for any report
    assert not HeldPhoto.objects.exists() and not any(f.exists() for f in files)


def test_a_released_report_joins_an_open_duplicate_like_any_other(city):
    lat, lon = city.point_in("g1")
    first = A.case_report(category="E0113", lat=lat, lon=lon, description="门口垃圾成堆", at=T0)
    held = hold(city, at=T0 + dt.timedelta(hours=1))
    report = M.held_release(
        held=held, by=city.users["dispatcher"], at=T0 + dt.timedelta(hours=2)
    ).report
    assert report.case == first.case and report.joined_existing
    first.case.refresh_from_db()
    assert first.case.reporter_count == 2


def test_a_duplicate_reported_while_it_was_held_is_joined_too(city):
    held = hold(city, at=T0)
    lat, lon = city.point_in("g1")
    later = A.case_report(
        category="E0113",
        lat=lat,
        lon=lon,
        description="门口垃圾成堆",
        at=T0 + dt.timedelta(hours=3),
    )
    report = M.held_release(
        held=held, by=city.users["dispatcher"], at=T0 + dt.timedelta(hours=4)
    ).report
    assert report.case == later.case


def test_a_resident_who_said_new_problem_gets_a_new_case(city):
    lat, lon = city.point_in("g1")
    A.case_report(category="E0113", lat=lat, lon=lon, description="门口垃圾成堆", at=T0)
    held = hold(city, at=T0, detect_duplicates=False)
    report = M.held_release(held=held, by=city.users["dispatcher"], at=T0).report
    assert not report.joined_existing and Case.objects.count() == 2


def test_the_case_a_resident_picked_is_joined_and_a_closed_one_is_not(city):
    loop = Loop(city, category="E0113")
    picked = loop.to(State.REGISTERED)
    held = hold(city, join_case=picked, at=loop.tick())
    assert (
        M.held_release(held=held, by=city.users["dispatcher"], at=loop.tick()).report.case == picked
    )
    closed = loop.to(State.CLOSED)
    held = hold(city, join_case=closed, description=LINKY + " 再次", at=loop.tick())
    report = M.held_release(held=held, by=city.users["dispatcher"], at=loop.tick()).report
    # Closed meanwhile: the report goes where any report would, here the open case nearby.
    assert report.case == picked


def test_a_released_report_notifies_like_any_other(
    city, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CIVICLOOP = {**settings.CIVICLOOP, "NOTIFY_CHANNELS": ["inapp", "email"]}
    held = hold(city, email="li@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        report = M.held_release(held=held, by=city.users["dispatcher"]).report
    with django_capture_on_commit_callbacks(execute=True):
        A.case_register(case=report.case, by=city.users["dispatcher"])
    assert any("li@example.com" in m.to for m in mail.outbox)


# ---- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who", ["dispatcher_b", "leader", "grid_worker", "unit_staff", "resident", "outsider", None]
)
def test_only_the_areas_dispatchers_decide(city, who):
    held = hold(city)  # in g1, district A
    by = city.users[who] if who else None
    before = counts()
    for decide in (
        lambda: M.held_release(held=held, by=by),
        lambda: M.held_reject(held=held, by=by, reason="广告"),
    ):
        with pytest.raises(NotFoundOrForbidden) as refused:
            decide()
        assert refused.value.code == ErrorCode.NOT_FOUND
    held.refresh_from_db()
    assert held.status == HeldStatus.HELD and counts() == before


def test_the_dispatcher_of_the_other_district_decides_there_and_an_admin_anywhere(city):
    assert (
        M.held_reject(
            held=hold(city, grid="g4"), by=city.users["dispatcher_b"], reason="广告"
        ).status
        == HeldStatus.REJECTED
    )
    assert (
        M.held_release(held=hold(city, grid="g4", ip="10.7.7.7"), by=city.users["admin"]).status
        == HeldStatus.RELEASED
    )


def test_no_double_release_and_no_release_after_reject(city):
    held = hold(city)
    d = city.users["dispatcher"]
    M.held_release(held=held, by=d)
    before = counts()
    with pytest.raises(ConflictError) as refused:
        M.held_release(held=held, by=d)
    assert "already released by dispatcher" in refused.value.message
    with pytest.raises(ConflictError):
        M.held_reject(held=held, by=d, reason="广告")
    assert counts() == before

    other = hold(city, ip="10.3.3.3")
    M.held_reject(held=other, by=d, reason="广告")
    with pytest.raises(ConflictError) as refused:
        M.held_release(held=HeldReport.objects.get(pk=other.pk), by=city.users["admin"])
    assert "already rejected" in refused.value.message
    assert HeldReport.objects.get(pk=other.pk).report is None and counts()[:4] == before[:4]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reject_needs_a_reason(city, reason):
    held = hold(city)
    with pytest.raises(ValidationFailed) as refused:
        M.held_reject(held=held, by=city.users["dispatcher"], reason=reason)
    assert refused.value.code == ErrorCode.REASON_REQUIRED and refused.value.field == "reason"
    assert HeldReport.objects.get(pk=held.pk).status == HeldStatus.HELD


def test_reject_keeps_the_text_and_photos_privately_and_publishes_nothing(city):
    before = counts()
    held = hold(city, photos=[jpeg_upload()])
    rejected = M.held_reject(held=held, by=city.users["dispatcher"], reason="  广告链接  ")
    assert (
        rejected.status == HeldStatus.REJECTED
        and rejected.decision_note == "广告链接"
        and rejected.report is None
    )
    assert counts()[:4] == before[:4] and rejected.photos.count() == 1


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"description": "   "}, "description"),
        ({"description": "路" * 4001}, "description"),
        ({"note": "注" * 501}, "note"),
    ],
)
def test_bad_release_input_is_refused_before_anything_is_written(city, kwargs, field):
    held = hold(city)
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        M.held_release(held=held, by=city.users["dispatcher"], **kwargs)
    assert refused.value.field == field
    assert counts() == before and HeldReport.objects.get(pk=held.pk).status == HeldStatus.HELD


def test_a_release_that_fails_half_way_leaves_nothing(city):
    held = hold(city, photos=[jpeg_upload()])
    # The category was switched off meanwhile: case_report refuses, everything rolls back.
    held.category.active = False
    held.category.save(update_fields=["active"])
    before = counts()
    with pytest.raises(Exception) as refused:
        M.held_release(held=held, by=city.users["dispatcher"])
    assert "Unknown problem category" in str(refused.value)
    fresh = HeldReport.objects.get(pk=held.pk)
    assert fresh.status == HeldStatus.HELD and fresh.report is None and fresh.decided_by is None
    assert counts() == before and fresh.photos.count() == 1


# ---- two moderators at once (real PostgreSQL row locks) ---------------------------------------------


def _race(*fns) -> list[str]:
    barrier = threading.Barrier(len(fns))
    results: list[str] = []
    lock = threading.Lock()

    def run(fn):
        try:
            barrier.wait()
            fn()
            outcome = "ok"
        except ConflictError as exc:
            outcome = f"conflict: {exc}"
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            outcome = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(f,)) for f in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_moderators_releasing_at_once_publish_once(city):
    held = hold(city)
    a, b = HeldReport.objects.get(pk=held.pk), HeldReport.objects.get(pk=held.pk)
    results = _race(
        lambda: M.held_release(held=a, by=city.users["dispatcher"]),
        lambda: M.held_release(held=b, by=city.users["admin"], description="路灯不亮"),
    )
    assert sorted(r.split(":")[0] for r in results) == ["conflict", "ok"], results
    assert Report.objects.count() == 1 and Case.objects.count() == 1
    assert HeldReport.objects.get(pk=held.pk).report == Report.objects.get()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_release_and_reject_at_once(city):
    held = hold(city)
    a, b = HeldReport.objects.get(pk=held.pk), HeldReport.objects.get(pk=held.pk)
    results = _race(
        lambda: M.held_release(held=a, by=city.users["dispatcher"]),
        lambda: M.held_reject(held=b, by=city.users["admin"], reason="广告"),
    )
    assert sorted(r.split(":")[0] for r in results) == ["conflict", "ok"], results
    fresh = HeldReport.objects.get(pk=held.pk)
    assert (fresh.status, Report.objects.count()) in {
        (HeldStatus.RELEASED, 1),
        (HeldStatus.REJECTED, 0),
    }
