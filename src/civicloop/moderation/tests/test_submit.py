"""report_submit: every resident-facing report is checked, then published or held; the
per-IP limit counts accepted reports in the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from civicloop.api.tokens import token_issue
from civicloop.cases.models import Report, Source
from civicloop.core import ratelimit
from civicloop.core.errors import CivicError, ErrorCode, RateLimited
from civicloop.core.models import RateCounter
from civicloop.moderation import checks
from civicloop.moderation.actions import report_submit
from civicloop.moderation.models import HeldStatus, SubmissionPrint
from civicloop.places.coords import wgs84_to_gcj02
from civicloop.testing import T0, jpeg_upload

from .helpers import LINKY, PLAIN, counts, gps_jpeg, hold, submit

pytestmark = pytest.mark.django_db


def test_an_ordinary_report_is_published(city):
    submitted = submit(city, description=PLAIN, name="张三", phone="13800000000")
    assert submitted.held is None and submitted.report is not None
    report = submitted.report
    assert report.description == PLAIN and report.case.description == PLAIN
    assert (report.name, report.phone, report.source) == ("张三", "13800000000", Source.RESIDENT)
    assert SubmissionPrint.objects.get().sender == "ip:10.1.2.3"


def test_a_published_report_is_checked_once(city, monkeypatch):
    from civicloop.cases import actions as case_actions
    from civicloop.moderation import actions as moderation_actions

    calls = []
    real = case_actions.report_prepare

    def counting(**kw):
        calls.append(kw)
        return real(**kw)

    monkeypatch.setattr(case_actions, "report_prepare", counting)
    monkeypatch.setattr(moderation_actions, "report_prepare", counting)
    submitted = submit(city, description=PLAIN)
    assert submitted.report is not None and len(calls) == 1


def test_a_held_report_is_no_case_and_keeps_everything_it_said(city):
    before = counts()
    description = "  " + LINKY + "\n"
    held = hold(
        city,
        description=description,
        name="李四",
        phone="13900000000",
        email="li@example.com",
        address="幸福小区东门",
    )
    after = counts()
    assert after[:4] == before[:4], "no case, report, event or photo"
    assert held.status == HeldStatus.HELD and held.reasons == [checks.LINKS]
    assert held.original_description == description  # exactly as sent
    assert held.channel == "web" and held.ip == "10.1.2.3" and held.submitted_by is None
    assert (
        held.category.code == "E0113"
        and held.grid == city.areas["g1"]
        and held.area_path == city.areas["g1"].path
    )
    payload = held.payload
    assert (payload["name"], payload["phone"], payload["email"], payload["address"]) == (
        "李四",
        "13900000000",
        "li@example.com",
        "幸福小区东门",
    )
    assert (
        payload["crs"] == "wgs84"
        and payload["detect_duplicates"] is True
        and payload["join_case"] is None
    )
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}", held.token)
    assert held.report is None


def test_a_gcj02_point_is_held_in_wgs84(city):
    lat, lon = city.point_in("g1")
    glat, glon = wgs84_to_gcj02(lat, lon)
    held = report_submit(
        channel="api",
        ip="1.1.1.1",
        category="E0113",
        lat=glat,
        lon=glon,
        crs="gcj02",
        description=LINKY,
    ).held
    assert held is not None and held.payload["crs"] == "wgs84"
    assert abs(held.payload["lat"] - lat) < 1e-5 and abs(held.payload["lon"] - lon) < 1e-5


@pytest.mark.parametrize(
    "description, reason",
    [
        ("专业代开发票，请联系", checks.KEYWORDS),
        ("垃圾垃圾垃圾垃圾垃圾垃圾垃圾垃圾", checks.STUFFING),
        ("路灯不亮<script>alert(1)</script>", checks.SCRIPT),
        ("路灯不亮 <img src=x onerror=alert(1)>", checks.SCRIPT),
    ],
)
def test_each_reason_holds(city, description, reason):
    held = hold(city, description=description)
    assert reason in held.reasons and held.original_description == description


def test_the_same_text_again_and_again_from_one_sender_is_held(city):
    for n in range(2):
        assert (
            submit(city, description=PLAIN, join_case=None, detect_duplicates=False).report
            is not None
        ), n
    third = submit(
        city, description=" 幸福路12号楼下路灯不亮。晚上很危险！", detect_duplicates=False
    )  # same words
    assert third.held is not None and third.held.reasons == [checks.REPEATED]
    # Another sender, or the same one a day later, is not repeating.
    assert (
        submit(city, description=PLAIN, ip="10.9.9.9", detect_duplicates=False).report is not None
    )
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    assert submit(city, description=PLAIN, detect_duplicates=False, at=later).report is not None


def test_repeats_are_counted_per_token_for_integrations(city):
    token, _key = token_issue(
        user=city.users["resident"], name="小程序", scopes=["write"], by=city.users["resident"]
    )
    for _n in range(2):
        assert (
            submit(
                city, description=PLAIN, api_token=token, channel="api", detect_duplicates=False
            ).report
            is not None
        )
    held = submit(
        city, description=PLAIN, api_token=token, channel="api", detect_duplicates=False
    ).held
    assert held is not None and held.api_token == token and held.reasons == [checks.REPEATED]
    assert SubmissionPrint.objects.filter(sender=f"token:{token.pk}").count() == 3


def test_staff_report_without_the_checks_and_residents_with_them(city):
    grid_worker = city.users["grid_worker"]
    assert submit(city, by=grid_worker, source=Source.GRID_WORKER).report is not None
    held = hold(city, by=city.users["resident"])
    assert held.submitted_by == city.users["resident"]


# ---- photos of a held report ------------------------------------------------------------------------


def held_files() -> set[Path]:
    return {
        f for f in (Path(django_settings.PRIVATE_MEDIA_ROOT) / "held").rglob("*") if f.is_file()
    }


def test_a_held_reports_photos_are_kept_privately_and_stripped_for_viewing(city):
    upload = gps_jpeg()
    raw = upload.read()
    upload.seek(0)
    held = hold(city, photos=[upload, jpeg_upload("b.jpg")])
    photos = list(held.photos.all())
    assert [p.position for p in photos] == [0, 1] and photos[0].name == "gps.jpg"
    first = photos[0]
    assert first.sha256 == hashlib.sha256(raw).hexdigest() and first.size == len(raw)
    private = Path(django_settings.PRIVATE_MEDIA_ROOT)
    for name in (first.original.name, first.preview.name):
        assert (private / name).is_file(), name
        assert not (Path(django_settings.MEDIA_ROOT) / name).exists()
    assert first.original.storage is storages["private"]
    with first.original.open("rb") as fh:
        assert fh.read() == raw  # byte for byte
    with first.preview.open("rb") as fh:
        preview = Image.open(io.BytesIO(fh.read()))
        assert preview.format == "JPEG" and not preview.getexif()


def test_a_bad_photo_refuses_the_held_report_and_writes_nothing(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 1}
    before, files = counts(), held_files()
    fake = SimpleUploadedFile("x.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    with pytest.raises(CivicError) as refused:
        submit(city, photos=[jpeg_upload("ok.jpg"), fake])
    assert refused.value.code == ErrorCode.BAD_FILE
    assert counts() == before and not SubmissionPrint.objects.exists()
    assert held_files() == files
    # Not counted towards the limit either.
    assert submit(city).held is not None


# ---- the per-IP limit ---------------------------------------------------------------------------


def test_the_limit_counts_accepted_reports_per_ip_in_the_database(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 2}
    at = T0
    assert submit(city, description=PLAIN, at=at).report is not None
    assert submit(city, at=at).held is not None  # held reports count too
    before = counts()
    with pytest.raises(RateLimited) as refused:
        submit(city, description="第三次上报", at=at)
    assert refused.value.retry_after > 0 and "at most 2" in refused.value.message
    assert counts() == before
    assert RateCounter.objects.get().count == 2
    # Another address, an integration's token (limited by its own rate) and the next hour are not limited.
    assert submit(city, description="另一个地址", ip="10.0.0.9", at=at).report is not None
    token, _key = token_issue(
        user=city.users["resident"], name="对接", scopes=["write"], by=city.users["resident"]
    )
    assert (
        submit(city, description="对接系统上报", api_token=token, channel="api", at=at).report
        is not None
    )
    assert submit(city, description="一小时以后", at=at + dt.timedelta(hours=1)).report is not None


def test_invalid_reports_do_not_count(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 1}
    for bad in ({"category": "E9999"}, {"description": "   "}, {"grid": "g1", "email": "nope"}):
        with pytest.raises(CivicError):
            submit(city, **bad)
    with pytest.raises(CivicError):  # outside every grid
        report_submit(
            channel="web", ip="10.1.2.3", category="E0113", lat=30.0, lon=100.0, description=PLAIN
        )
    assert not RateCounter.objects.exists() and not SubmissionPrint.objects.exists()
    assert submit(city, description=PLAIN).report is not None
    with pytest.raises(RateLimited):
        submit(city, description=PLAIN)


def test_the_limit_can_be_switched_off(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 0}
    for n in range(4):
        assert submit(city, description=f"{PLAIN}{n}", detect_duplicates=False).report is not None


def test_a_report_that_loses_the_race_for_the_last_place_is_undone(city, settings, monkeypatch):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 1}
    assert submit(city, description=PLAIN).report is not None
    # As if another request of this address had been accepted between the check and the count.
    monkeypatch.setattr(
        "civicloop.moderation.actions.ratelimit.peek",
        lambda *a, **kw: ratelimit.Decision(True, 0, 1, 0),
    )
    before, files = counts(), held_files()
    for description in ("另一个问题", LINKY):
        with pytest.raises(RateLimited):
            submit(city, description=description, photos=[jpeg_upload()])
    assert counts() == before and held_files() == files
    assert SubmissionPrint.objects.count() == 1 and RateCounter.objects.get().count == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_from_one_address_never_pass_the_limit(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 2}
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            barrier.wait()
            submit(city, description=f"{PLAIN} {n}", detect_duplicates=False, at=T0)
            outcome = "ok"
        except RateLimited:
            outcome = "limited"
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            outcome = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["limited", "limited", "ok", "ok"], outcomes
    assert Report.objects.count() == 2 and RateCounter.objects.get().count == 2
