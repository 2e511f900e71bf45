"""The moderation queue page: who sees it, what it shows (safely), release and reject with
their bad inputs, and the held photos and map points behind it."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from civicloop.cases.models import Case, Report
from civicloop.moderation import actions as M
from civicloop.moderation.models import HeldReport, HeldStatus
from civicloop.testing import T0, jpeg_upload

from .helpers import LINKY, counts, gps_jpeg, hold

pytestmark = pytest.mark.django_db

QUEUE = "/moderation/"
HOSTILE = '路灯不亮<script>alert("x")</script> 详见 http://evil.example.cn/x?a=1 和 www.evil.top <a href="http://evil.top">点</a>'


def login(city, key: str) -> Client:
    client = Client()
    client.force_login(city.users[key])
    return client


def html(response) -> str:
    return response.content.decode()


def release_url(held: HeldReport) -> str:
    return reverse("moderation:release", kwargs={"held_id": held.pk})


def reject_url(held: HeldReport) -> str:
    return reverse("moderation:reject", kwargs={"held_id": held.pk})


def test_the_url_names_the_navigation_uses():
    assert reverse("moderation:queue") == QUEUE


def test_dispatchers_find_it_in_their_navigation(city):
    assert f'href="{QUEUE}"' in html(login(city, "dispatcher").get(reverse("web:dispatch_queue")))


# ---- who may open it -----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(city):
    response = Client().get(QUEUE)
    assert response.status_code == 302 and reverse("web:login") in response["Location"]


@pytest.mark.parametrize(
    "who",
    ["resident", "grid_worker", "unit_staff", "inspector", "campaign_office", "leader", "outsider"],
)
def test_other_roles_are_refused(city, who):
    held = hold(city)
    client = login(city, who)
    assert client.get(QUEUE).status_code == 403
    assert client.get(reverse("moderation:points")).status_code == 403
    assert client.post(reject_url(held), {f"reject-{held.pk}-reason": "广告"}).status_code == 403
    assert HeldReport.objects.get(pk=held.pk).status == HeldStatus.HELD


def test_each_dispatcher_sees_his_area_and_an_admin_everything(city):
    in_a = hold(city, grid="g1", description=LINKY + " 甲")
    in_b = hold(city, grid="g4", description=LINKY + " 乙", ip="10.4.4.4")
    page_a = html(login(city, "dispatcher").get(QUEUE))
    assert f'id="held-{in_a.pk}"' in page_a and f'id="held-{in_b.pk}"' not in page_a
    page_b = html(login(city, "dispatcher_b").get(QUEUE))
    assert f'id="held-{in_b.pk}"' in page_b and f'id="held-{in_a.pk}"' not in page_b
    page_admin = html(login(city, "admin").get(QUEUE))
    assert f'id="held-{in_a.pk}"' in page_admin and f'id="held-{in_b.pk}"' in page_admin


# ---- what it shows --------------------------------------------------------------------------------


def test_the_queue_shows_newest_first_with_reasons_place_contacts_and_a_map(city):
    older = hold(city, at=T0, description="专业代开发票 加微信", name="王五", phone="13700000000")
    newer = hold(city, at=T0 + dt.timedelta(hours=1), address="幸福小区东门", ip="10.8.8.8")
    page = html(login(city, "dispatcher").get(QUEUE))
    assert page.index(f'id="held-{newer.pk}"') < page.index(f'id="held-{older.pk}"')
    assert "Too many links" in page and "Blocked words (advertising, fraud, abuse)" in page
    assert "幸福社区第1网格" in page and "幸福小区东门" in page and "垃圾乱堆放" in page
    assert "王五" in page and "13700000000" in page and "10.8.8.8" in page
    assert newer.token in page and "Web form" in page
    assert f'data-points="{reverse("moderation:points")}"' in page and "leaflet.js" in page
    assert 'aria-current="page">Waiting <span class="count">2</span>' in page


def test_the_original_text_is_shown_escaped_and_links_are_not_clickable(city):
    held = hold(city, description=HOSTILE)
    page = html(login(city, "dispatcher").get(QUEUE))
    assert (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "<script>alert" not in page
    )
    assert "http://evil.example.cn/x?a=1" in page  # readable …
    assert 'href="http://evil' not in page and "href='http://evil" not in page  # … but no link
    assert (
        '<a href="http://evil.top">' not in page
        and "&lt;a href=&quot;http://evil.top&quot;&gt;" in page
    )
    assert set(held.reasons) == {"links", "script"}


def test_an_empty_queue_says_so(city):
    page = html(login(city, "dispatcher").get(QUEUE))
    assert "Nothing is waiting for a decision." in page and "data-points" not in page
    assert "No decisions yet." in html(login(city, "dispatcher").get(QUEUE, {"tab": "decided"}))


def test_the_queue_costs_the_same_queries_for_one_or_many(city):
    client = login(city, "dispatcher")
    hold(city, photos=[jpeg_upload()])
    client.get(QUEUE)
    with CaptureQueriesContext(connection) as few:
        client.get(QUEUE)
    for n in range(4):
        hold(city, description=f"{LINKY} {n}", photos=[jpeg_upload()], ip=f"10.0.1.{n}")
    with CaptureQueriesContext(connection) as many:
        client.get(QUEUE)
    assert len(many) == len(few)


def test_photos_are_served_stripped_and_only_to_those_who_decide(city):
    held = hold(city, photos=[gps_jpeg()])
    photo = held.photos.get()
    url = reverse("moderation:photo", kwargs={"held_id": held.pk, "photo_id": photo.pk})
    page = html(login(city, "dispatcher").get(QUEUE))
    assert f'src="{url}"' in page
    response = login(city, "dispatcher").get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG" and not image.getexif()  # no GPS, no camera
    assert "private" in response["Cache-Control"]
    assert login(city, "dispatcher_b").get(url).status_code == 404
    assert login(city, "leader").get(url).status_code == 403
    assert Client().get(url).status_code == 302
    other = reverse(
        "moderation:photo", kwargs={"held_id": hold(city, ip="10.5.5.5").pk, "photo_id": photo.pk}
    )
    assert login(city, "dispatcher").get(other).status_code == 404  # a photo of another report


def test_map_points_are_the_waiting_reports_of_the_area(city):
    mine = hold(city, grid="g1")
    hold(city, grid="g4", ip="10.4.4.4")
    decided = hold(city, grid="g1", ip="10.6.6.6")
    M.held_reject(held=decided, by=city.users["dispatcher"], reason="广告")
    data = json.loads(login(city, "dispatcher").get(reverse("moderation:points")).content)
    assert [f["id"] for f in data["features"]] == [mine.pk]
    feature = data["features"][0]
    lat, lon = city.point_in("g1")
    assert feature["geometry"]["coordinates"] == [round(lon, 6), round(lat, 6)]
    assert feature["properties"]["url"] == f"#held-{mine.pk}"
    assert LINKY not in json.dumps(data, ensure_ascii=False)


# ---- release -----------------------------------------------------------------------------------


def test_release_without_javascript_publishes_and_comes_back_to_the_queue(city):
    held = hold(city)
    client = login(city, "dispatcher")
    response = client.post(
        release_url(held), {f"release-{held.pk}-description": LINKY, f"release-{held.pk}-note": ""}
    )
    assert response.status_code == 302 and response["Location"] == QUEUE + "?tab=held"
    held.refresh_from_db()
    report = Report.objects.get()
    assert held.status == HeldStatus.RELEASED and held.report == report
    assert report.description == LINKY  # unchanged text: the original is published
    page = html(client.get(response["Location"]))
    assert f"published as ticket {report.ticket_no}" in page and f'id="held-{held.pk}"' not in page
    decided = html(client.get(QUEUE, {"tab": "decided"}))
    assert (
        f'href="{reverse("web:case", kwargs={"case_id": report.case_id})}"' in decided
        and report.ticket_no in decided
    )


def test_release_with_htmx_answers_the_item_and_refreshes_the_tabs(city):
    held = hold(city)
    response = login(city, "dispatcher").post(
        release_url(held),
        {f"release-{held.pk}-description": "楼下路灯不亮", f"release-{held.pk}-note": "去掉了链接"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "held-changed"
    page = html(response)
    assert page.lstrip().startswith(f'<article id="held-{held.pk}"')
    assert "Released: published as ticket" in page and "去掉了链接" in page
    assert (
        "Text as published" in page
        and "楼下路灯不亮" in page
        and "http://spam.example.cn/a" in page
    )
    report = Report.objects.get()
    assert report.description == "楼下路灯不亮"
    held.refresh_from_db()
    assert held.original_description == LINKY and held.decision_note == "去掉了链接"


def test_release_of_a_report_decided_meanwhile_is_a_clear_conflict(city):
    held = hold(city)
    M.held_reject(held=held, by=city.users["admin"], reason="广告")
    before = counts()
    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = login(city, "dispatcher").post(
            release_url(held), {f"release-{held.pk}-description": ""}, **extra
        )
        assert response.status_code == 409
        page = html(response)
        assert "This report was already rejected by admin" in page and "Reload the queue" in page
        assert f'action="{release_url(held)}"' not in page  # no stale form to press again
    assert counts() == before


def test_bad_release_input_is_shown_on_the_form(city):
    held = hold(city)
    before = counts()
    response = login(city, "dispatcher").post(
        release_url(held), {f"release-{held.pk}-description": "路" * 4001}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400 and "Ensure this value has at most 4000 characters" in html(
        response
    )
    response = login(city, "dispatcher").post(
        release_url(held), {f"release-{held.pk}-note": "注" * 501}
    )
    assert response.status_code == 400 and "at most 500 characters" in html(response)
    assert counts() == before and HeldReport.objects.get(pk=held.pk).status == HeldStatus.HELD


# ---- reject ----------------------------------------------------------------------------------------


def test_reject_with_a_reason(city):
    held = hold(city)
    response = login(city, "dispatcher").post(
        reject_url(held), {f"reject-{held.pk}-reason": "广告链接"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "Rejected: nothing was published." in html(response)
    held.refresh_from_db()
    assert (
        held.status == HeldStatus.REJECTED
        and held.decision_note == "广告链接"
        and not Case.objects.exists()
    )
    decided = html(login(city, "dispatcher").get(QUEUE, {"tab": "decided"}))
    assert f'id="held-{held.pk}"' in decided and "广告链接" in decided and "Rejected" in decided


@pytest.mark.parametrize("reason", ["", "   "])
@pytest.mark.parametrize("htmx", [True, False])
def test_reject_without_a_reason_is_refused(city, reason, htmx):
    held = hold(city)
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = login(city, "dispatcher").post(
        reject_url(held), {f"reject-{held.pk}-reason": reason}, **extra
    )
    assert response.status_code == 400
    page = html(response)
    assert "Please give a reason." in page and f'id="held-{held.pk}"' in page
    assert HeldReport.objects.get(pk=held.pk).status == HeldStatus.HELD


def test_a_report_of_another_area_cannot_be_decided(city):
    held = hold(city, grid="g1")
    before = counts()
    client = login(city, "dispatcher_b")
    assert client.post(reject_url(held), {f"reject-{held.pk}-reason": "广告"}).status_code == 404
    response = client.post(release_url(held), {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 404 and "not in your area" in html(response)
    assert (
        client.post(reverse("moderation:release", kwargs={"held_id": 999999}), {}).status_code
        == 404
    )
    assert counts() == before and HeldReport.objects.get(pk=held.pk).status == HeldStatus.HELD


def test_deciding_needs_post_with_csrf(city):
    held = hold(city)
    assert login(city, "dispatcher").get(release_url(held)).status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(city.users["dispatcher"])
    assert client.post(reject_url(held), {f"reject-{held.pk}-reason": "广告"}).status_code == 403
    assert HeldReport.objects.get(pk=held.pk).status == HeldStatus.HELD


def test_the_decided_tab_lists_the_latest_decision_first(city):
    first, second = hold(city, ip="10.0.0.1"), hold(city, ip="10.0.0.2")
    M.held_reject(held=second, by=city.users["dispatcher"], reason="广告", at=T0)
    M.held_release(held=first, by=city.users["dispatcher"], at=T0 + dt.timedelta(minutes=5))
    page = html(login(city, "dispatcher").get(QUEUE, {"tab": "decided"}))
    assert page.index(f'id="held-{first.pk}"') < page.index(f'id="held-{second.pk}"')
    assert 'aria-current="page">Decided <span class="count">2</span>' in page
    assert "Nothing is waiting for a decision." in html(
        login(city, "dispatcher").get(QUEUE, {"tab": "nonsense"})
    )
