"""The one case page: who may open it, what each role sees of the reporters, and every
action form through the view — its happy path and its refusals, with nothing written
when it is refused."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civicloop.cases import actions as A
from civicloop.cases.models import (
    Case,
    CaseEvent,
    CaseUnit,
    Category,
    ExtensionRequest,
    PhotoKind,
    State,
)
from civicloop.testing import Loop, jpeg_upload
from civicloop.web.casepage import sees_reporter_contacts
from civicloop.web.casepage_forms import FORMS

pytestmark = pytest.mark.django_db

IN_SCOPE = ("dispatcher", "unit_staff", "grid_worker", "leader", "inspector", "campaign_office", "admin")
OUT_OF_SCOPE = ("dispatcher_b", "community3_staff", "park_staff", "grid_worker_c3", "leader_b", "outsider", "resident2")
WITH_CONTACTS = {"dispatcher", "grid_worker", "admin"}
CONTACTS = ("张三丰", "13800138000", "zs@example.com")


# ---- helpers ------------------------------------------------------------------------


@pytest.fixture
def loop(city: Any) -> Loop:
    # Three weeks back, so look-backs are due and clocks have run out by "now".
    return Loop(city, t0=timezone.now() - dt.timedelta(days=21))


@pytest.fixture
def fresh_loop(city: Any) -> Loop:
    return Loop(city, t0=timezone.now() - dt.timedelta(hours=3))


def client_for(city: Any, key: str | None, **kw: Any) -> Client:
    client = Client(**kw)
    if key is not None:
        client.force_login(city.users[key])
    return client


def page_url(case: Case) -> str:
    return reverse("web:case", kwargs={"case_id": case.pk})


def act_url(case: Case, action: str) -> str:
    return reverse("web:case_act", kwargs={"case_id": case.pk, "action": action})


def post(client: Client, case: Case, action: str, data: dict[str, Any] | None = None, *,
         version: int | None = None, htmx: bool = False) -> Any:
    current = Case.objects.get(pk=case.pk)
    payload = {"version": current.version if version is None else version, **(data or {})}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(act_url(case, action), payload, **headers)


def snapshot(case: Case) -> tuple[Any, ...]:
    c = Case.objects.get(pk=case.pk)
    return (c.state, c.version, c.unit_id, c.category_id, c.deadline_at, c.urge_count, c.rework_count,
            c.escalation_level, CaseEvent.objects.filter(case=c).count(), c.photos.count(),
            ExtensionRequest.objects.filter(case=c).count(), Case.objects.count())


def html_of(response: Any) -> str:
    return response.content.decode()


def local_input(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def not_a_photo(name: str = "notes.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"this is a text file, not a photo", content_type="image/jpeg")


# ---- who may open the page ------------------------------------------------------------


@pytest.mark.parametrize("key", IN_SCOPE)
def test_staff_in_scope_see_the_case_page(city, loop, key):
    case = loop.to(State.IN_PROGRESS)
    response = client_for(city, key).get(page_url(case))
    assert response.status_code == 200
    html = html_of(response)
    assert case.ticket_no in html
    assert "Being handled" in html  # the state in plain words
    assert "市环境卫生管理处" in html  # main unit
    assert "老城区" in html and "东关街道" in html and "幸福社区" in html and "幸福社区第1网格" in html
    assert "Timeline" in html and "Accepted by the unit" in html
    assert 'data-map' in html and reverse("web:case_map", kwargs={"case_id": case.pk, "layer": "point"}) in html


@pytest.mark.parametrize("key", OUT_OF_SCOPE)
def test_staff_out_of_scope_get_404_and_never_the_data(city, loop, key):
    case = loop.to(State.IN_PROGRESS)
    response = client_for(city, key).get(page_url(case))
    assert response.status_code == 404
    assert case.ticket_no not in html_of(response)
    assert case.description not in html_of(response)


def test_missing_case_is_the_same_404(city):
    assert client_for(city, "dispatcher").get(reverse("web:case", kwargs={"case_id": 999999})).status_code == 404


def test_anonymous_is_sent_to_login(city, loop):
    case = loop.to(State.REPORTED)
    response = Client().get(page_url(case))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


def test_a_resident_who_reported_follows_the_ticket_instead(city, loop):
    case = loop.to(State.REPORTED)
    response = client_for(city, "resident").get(page_url(case))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:ticket_detail", kwargs={"ticket_no": case.ticket_no})


def test_unit_staff_see_only_cases_of_their_unit(city, loop):
    reported = loop.to(State.REPORTED)
    assert client_for(city, "unit_staff").get(page_url(reported)).status_code == 404
    dispatched = loop.to(State.DISPATCHED)
    assert client_for(city, "unit_staff").get(page_url(dispatched)).status_code == 200


def test_page_shows_deadline_overdue_estimated_counters_and_co_units(city, loop, fresh_loop):
    case = loop.to(State.IN_PROGRESS)
    A.case_add_co_unit(case=case, by=city.users["dispatcher"], unit=city.units["jdA"])
    A.case_urge(case=Case.objects.get(pk=case.pk), by=city.users["leader"], note="请抓紧")
    Case.objects.filter(pk=case.pk).update(deadline_estimated=True)
    html = html_of(client_for(city, "leader").get(page_url(case)))
    assert "Overdue" in html
    assert timezone.localtime(case.deadline_at).strftime("%Y-%m-%d %H:%M") in html
    assert "estimated" in html
    assert "东关街道办事处" in html  # co-handling unit
    assert '<span class="n">1</span> urgings' in html
    assert "请抓紧" in html and "leader" in html

    on_time = fresh_loop.to(State.IN_PROGRESS)
    html = html_of(client_for(city, "leader").get(page_url(on_time)))
    assert "flag-overdue" not in html and "estimated</em>" not in html


def test_timeline_shows_actor_unit_states_note_and_photos(city, loop):
    case = loop.to(State.HANDLED)
    html = html_of(client_for(city, "dispatcher").get(page_url(case)))
    assert "unit_staff · 市环境卫生管理处" in html
    assert "Being handled → Handled, awaiting verification" in html
    assert "已清运完毕" in html
    after = case.photos.get(kind=PhotoKind.AFTER)
    assert after.image.url in html
    assert "Before and after" in html


def test_map_layers_are_scoped_geojson(city, loop):
    case = loop.to(State.REGISTERED)
    client = client_for(city, "dispatcher")
    point = json.loads(client.get(reverse("web:case_map", kwargs={"case_id": case.pk, "layer": "point"})).content)
    assert point["features"][0]["geometry"]["coordinates"] == [case.lon, case.lat]
    assert point["features"][0]["properties"]["title"] == case.ticket_no
    grid = json.loads(client.get(reverse("web:case_map", kwargs={"case_id": case.pk, "layer": "grid"})).content)
    assert grid["features"][0]["properties"]["code"] == city.areas["g1"].code
    assert client.get(reverse("web:case_map", kwargs={"case_id": case.pk, "layer": "street"})).status_code == 404
    other = client_for(city, "dispatcher_b")
    assert other.get(reverse("web:case_map", kwargs={"case_id": case.pk, "layer": "point"})).status_code == 404


# ---- reporters' contact details -----------------------------------------------------------


@pytest.mark.parametrize("key", IN_SCOPE)
def test_contact_details_only_for_the_dispatcher_and_the_grid_worker_of_the_area(city, loop, key):
    resident = city.users["resident"]
    resident.display_name = "王小明"
    resident.save(update_fields=["display_name"])
    case = loop.to(State.DISPATCHED, name=CONTACTS[0], phone=CONTACTS[1], email=CONTACTS[2])
    joined = A.case_report(category=case.category, lat=case.lat, lon=case.lon, description="又看到了",
                           by=city.users["resident2"], phone="13955556666", join_case=case)
    html = html_of(client_for(city, key).get(page_url(case)))
    if key in WITH_CONTACTS:
        assert all(c in html for c in CONTACTS)
        assert "13955556666" in html and joined.ticket_no in html
        assert 'href="tel:13800138000"' in html
    else:
        assert not any(c in html for c in CONTACTS)
        assert "王小明" not in html and "resident2" not in html
        assert "13955556666" not in html and joined.ticket_no not in html
        assert "Reporter 1" in html and "Reporter 2" in html
    assert sees_reporter_contacts(city.users[key], case) is (key in WITH_CONTACTS)


def test_contact_rule_per_role(city, loop):
    case = loop.to(State.IN_PROGRESS)
    expected = {
        "dispatcher": True, "grid_worker": True, "admin": True,
        "grid_worker_c3": False, "dispatcher_b": False,
        "unit_staff": False, "cgj_staff": False, "leader": False, "inspector": False, "campaign_office": False,
        "resident": False, "outsider": False,
    }
    assert {k: sees_reporter_contacts(city.users[k], case) for k in expected} == expected


# ---- the actions panel ------------------------------------------------------------------


def offered(html: str) -> set[str]:
    return {a.value for a in FORMS if f'id="act-{a.value}"' in html}


@pytest.mark.parametrize(
    ("state", "key", "expected"),
    [
        (State.REPORTED, "dispatcher", {"register", "reject", "reclassify"}),
        (State.REPORTED, "grid_worker", set()),
        (State.REGISTERED, "dispatcher", {"reclassify", "void", "dispatch"}),
        (State.DISPATCHED, "unit_staff", {"accept", "return"}),
        (State.DISPATCHED, "dispatcher", {"reassign", "add_co_unit", "urge", "escalate"}),
        (State.IN_PROGRESS, "unit_staff", {"feedback", "request_extension"}),
        (State.IN_PROGRESS, "leader", {"urge", "escalate"}),
        (State.IN_PROGRESS, "campaign_office", {"urge", "escalate"}),
        (State.IN_PROGRESS, "inspector", set()),
        (State.HANDLED, "grid_worker", {"verify_pass", "verify_fail"}),
        (State.HANDLED, "inspector", {"verify_pass", "verify_fail"}),
        (State.HANDLED, "unit_staff", set()),
        (State.DEFERRED, "dispatcher", {"resume"}),
        (State.CLOSED, "grid_worker", {"lookback_pass", "lookback_fail"}),
        (State.CLOSED, "leader", set()),
    ],
)
def test_panel_offers_exactly_what_the_user_may_do_now(city, loop, state, key, expected):
    case = loop.to(state)
    html = html_of(client_for(city, key).get(page_url(case)))
    assert offered(html) == expected
    if not expected:
        assert "Nothing for you to do on this case now." in html


def test_forms_carry_the_version_and_a_label_for_every_field(city, loop):
    case = loop.to(State.IN_PROGRESS)
    html = html_of(client_for(city, "unit_staff").get(page_url(case)))
    assert f'name="version" value="{case.version}"' in html
    assert 'for="id_feedback_note"' in html and 'for="id_feedback_photos"' in html
    assert 'for="id_request_extension_until"' in html and 'type="datetime-local"' in html
    assert 'enctype="multipart/form-data"' in html


def test_extension_forms_follow_the_pending_request(city, loop):
    case = loop.to(State.IN_PROGRESS)
    A.case_request_extension(case=case, by=city.users["unit_staff"], until=timezone.now() + dt.timedelta(days=40), reason="需协调施工队")
    assert "request_extension" not in offered(html_of(client_for(city, "unit_staff").get(page_url(case))))
    html = html_of(client_for(city, "dispatcher").get(page_url(case)))
    assert "decide_extension" in offered(html) and "需协调施工队" in html


def test_look_back_forms_wait_until_due(city, fresh_loop):
    case = fresh_loop.to(State.CLOSED)
    html = html_of(client_for(city, "grid_worker").get(page_url(case)))
    assert offered(html) == set()
    assert "The look-back is due from" in html


# ---- every action's happy path ------------------------------------------------------------


def _later() -> str:
    return local_input(timezone.now() + dt.timedelta(days=40))


def _pending(loop: Loop, case: Case) -> Case:
    A.case_request_extension(case=case, by=loop.u("unit_staff"), until=timezone.now() + dt.timedelta(days=40), reason="需协调施工队")
    return Case.objects.get(pk=case.pk)


HAPPY: list[tuple[str, str, str, Any, Any]] = [
    # action, from state, by, data(city) → dict, check(case, city)
    ("register", State.REPORTED, "dispatcher", lambda c: {"note": "已核实"},
     lambda case, c: case.state == State.REGISTERED),
    ("reject", State.REPORTED, "dispatcher", lambda c: {"reason": "不属于城市管理范围"},
     lambda case, c: case.state == State.REJECTED),
    ("void", State.REGISTERED, "dispatcher", lambda c: {"reason": "信息不全"},
     lambda case, c: case.state == State.VOIDED),
    ("reclassify", State.REGISTERED, "dispatcher", lambda c: {"category": Category.objects.get(code="E0103").pk},
     lambda case, c: case.category.code == "E0103" and case.state == State.REGISTERED),
    ("dispatch", State.REGISTERED, "dispatcher",
     lambda c: {"unit": c.units["cgj"].pk, "co_units": [c.units["jdA"].pk], "note": "请今日处理"},
     lambda case, c: case.state == State.DISPATCHED and case.unit == c.units["cgj"]
     and CaseUnit.objects.filter(case=case, unit=c.units["jdA"], role="assist", active=True).exists()),
    ("reassign", State.DISPATCHED, "dispatcher", lambda c: {"unit": c.units["ylj"].pk, "reason": "职责调整"},
     lambda case, c: case.unit == c.units["ylj"]),
    ("add_co_unit", State.DISPATCHED, "dispatcher", lambda c: {"unit": c.units["jdA"].pk},
     lambda case, c: CaseUnit.objects.filter(case=case, unit=c.units["jdA"], role="assist").exists()),
    ("accept", State.DISPATCHED, "unit_staff", lambda c: {},
     lambda case, c: case.state == State.IN_PROGRESS),
    ("feedback", State.IN_PROGRESS, "unit_staff",
     lambda c: {"note": "已清运", "photos": [jpeg_upload("a.jpg"), jpeg_upload("b.jpg", color=(10, 200, 10))]},
     lambda case, c: case.state == State.HANDLED and case.photos.filter(kind=PhotoKind.AFTER).count() == 2),
    ("verify_pass", State.HANDLED, "grid_worker", lambda c: {"note": "现场已整改", "photo": jpeg_upload("v.jpg", color=(1, 1, 250))},
     lambda case, c: case.state == State.CLOSED and case.photos.filter(kind=PhotoKind.VERIFY).count() == 1),
    ("verify_fail", State.HANDLED, "grid_worker", lambda c: {"note": "仍有垃圾"},
     lambda case, c: case.state == State.IN_PROGRESS and case.rework_count == 1),
    ("request_extension", State.IN_PROGRESS, "unit_staff", lambda c: {"until": _later(), "reason": "需协调施工队"},
     lambda case, c: case.extension_requests.filter(decision="pending").exists()),
    ("defer", State.IN_PROGRESS, "dispatcher", lambda c: {"reason": "需待春季施工"},
     lambda case, c: case.state == State.DEFERRED),
    ("resume", State.DEFERRED, "dispatcher", lambda c: {},
     lambda case, c: case.state == State.IN_PROGRESS),
    ("urge", State.IN_PROGRESS, "leader", lambda c: {"note": "请抓紧办理"},
     lambda case, c: case.urge_count == 1),
    ("escalate", State.IN_PROGRESS, "dispatcher", lambda c: {},
     lambda case, c: case.escalation_level == 1 and case.escalated_to == c.areas["c1"]),
    ("lookback_pass", State.CLOSED, "grid_worker", lambda c: {"note": "保持良好"},
     lambda case, c: case.state == State.LOOKBACK_PASSED),
    ("lookback_fail", State.CLOSED, "grid_worker", lambda c: {"note": "垃圾又堆起来了"},
     lambda case, c: case.state == State.RECURRED and case.recurrences.count() == 1),
]


@pytest.mark.parametrize(("action", "state", "key", "data", "check"), HAPPY, ids=[h[0] for h in HAPPY])
def test_action_happy_path_redirects_back_with_a_message(city, loop, action, state, key, data, check):
    case = loop.to(state)
    client = client_for(city, key)
    response = post(client, case, action, data(city))
    assert response.status_code == 302, html_of(response)
    assert response["Location"] == page_url(case)
    case = Case.objects.get(pk=case.pk)
    assert check(case, city)
    follow = client.get(response["Location"])
    assert "Done:" in html_of(follow)


def test_register_can_change_the_category(city, loop):
    case = loop.to(State.REPORTED)
    response = post(client_for(city, "dispatcher"), case, "register", {"category": Category.objects.get(code="E0103").pk})
    assert response.status_code == 302
    case = Case.objects.get(pk=case.pk)
    assert case.state == State.REGISTERED and case.category.code == "E0103"


def test_dispatch_defaults_to_the_routing_unit(city, loop):
    case = loop.to(State.REGISTERED)
    html = html_of(client_for(city, "dispatcher").get(page_url(case)))
    assert f'<option value="{city.units["hwc"].pk}" selected>' in html
    response = post(client_for(city, "dispatcher"), case, "dispatch", {"unit": ""})
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).unit == city.units["hwc"]


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_decide_extension(city, loop, decision):
    case = _pending(loop, loop.to(State.IN_PROGRESS))
    before = case.deadline_at
    response = post(client_for(city, "dispatcher"), case, "decide_extension", {"decision": decision, "note": "同意" if decision == "approve" else "理由不充分"})
    assert response.status_code == 302
    case = Case.objects.get(pk=case.pk)
    req = case.extension_requests.get()
    if decision == "approve":
        assert req.decision == "approved" and case.deadline_at > before and case.extension_count == 1
    else:
        assert req.decision == "denied" and case.deadline_at == before and req.decision_note == "理由不充分"


def test_return_sends_the_unit_back_to_its_own_page(city, loop):
    case = loop.to(State.DISPATCHED)
    response = post(client_for(city, "unit_staff"), case, "return", {"reason": "不属于本单位职责"})
    assert response.status_code == 302 and response["Location"] == reverse("web:me")
    assert Case.objects.get(pk=case.pk).state == State.RETURNED


# ---- htmx ----------------------------------------------------------------------------


def test_htmx_success_re_renders_the_page_part_with_the_message(city, loop):
    case = loop.to(State.REPORTED)
    response = post(client_for(city, "dispatcher"), case, "register", {}, htmx=True)
    assert response.status_code == 200
    html = html_of(response)
    assert 'id="case-live"' in html and "<html" not in html
    assert "Done: Register." in html
    assert "Registered, awaiting dispatch" in html and 'id="act-dispatch"' in html


def test_htmx_refusal_swaps_the_panel_with_the_error_and_400(city, loop):
    case = loop.to(State.REPORTED)
    response = post(client_for(city, "dispatcher"), case, "reject", {"reason": "  "}, htmx=True)
    assert response.status_code == 400
    html = html_of(response)
    assert 'id="case-live"' in html and "<html" not in html and "Please give a reason." in html


def test_htmx_return_redirects_the_browser(city, loop):
    case = loop.to(State.DISPATCHED)
    response = post(client_for(city, "unit_staff"), case, "return", {"reason": "不属于本单位职责"}, htmx=True)
    assert response.status_code == 204 and response["HX-Redirect"] == reverse("web:me")


# ---- bad inputs: the error inline, nothing written ------------------------------------------------


@pytest.mark.parametrize(
    ("action", "state", "key", "data", "message", "field_id"),
    [
        ("reject", State.REPORTED, "dispatcher", {"reason": ""}, "Please give a reason.", "id_reject_reason_error"),
        ("void", State.REGISTERED, "dispatcher", {"reason": " "}, "Please give a reason.", "id_void_reason_error"),
        ("reassign", State.DISPATCHED, "dispatcher", {"unit": "", "reason": "x"}, "This field is required.", "id_reassign_unit_error"),
        ("reassign", State.IN_PROGRESS, "dispatcher", {"unit": "999999", "reason": "x"}, "Select a valid choice.", "id_reassign_unit_error"),
        ("return", State.DISPATCHED, "unit_staff", {"reason": ""}, "Please give a reason.", "id_return_reason_error"),
        ("defer", State.IN_PROGRESS, "dispatcher", {"reason": ""}, "Please give a reason.", "id_defer_reason_error"),
        ("verify_fail", State.HANDLED, "grid_worker", {"note": ""}, "Please give a reason.", "id_verify_fail_note_error"),
        ("lookback_fail", State.CLOSED, "grid_worker", {"note": ""}, "Please give a reason.", "id_lookback_fail_note_error"),
        ("reclassify", State.REPORTED, "dispatcher", {"category": "abc"}, "Select a valid choice.", "id_reclassify_category_error"),
        ("dispatch", State.REGISTERED, "dispatcher", {"unit": "999999"}, "Select a valid choice.", "id_dispatch_unit_error"),
        ("dispatch", State.REGISTERED, "dispatcher", {"unit": "__hwc__", "co_units": ["__hwc__"]},
         "The main unit cannot also be a co-handling unit.", None),
        ("request_extension", State.IN_PROGRESS, "unit_staff", {"until": "next week", "reason": "x"}, "Enter a valid date/time.", "id_request_extension_until_error"),
        ("request_extension", State.IN_PROGRESS, "unit_staff", {"until": "__past__", "reason": "x"}, "The requested deadline", "id_request_extension_until_error"),
        ("request_extension", State.IN_PROGRESS, "unit_staff", {"until": "__later__", "reason": ""}, "Please give a reason.", "id_request_extension_reason_error"),
        ("feedback", State.IN_PROGRESS, "unit_staff", {"note": ""}, "Please say what was done.", "id_feedback_note_error"),
    ],
)
def test_bad_input_is_a_400_next_to_the_field_and_nothing_changes(city, loop, action, state, key, data, message, field_id):
    case = loop.to(state)
    replace = {"__hwc__": str(city.units["hwc"].pk), "__past__": local_input(timezone.now() - dt.timedelta(days=1)),
               "__later__": _later()}
    data = {k: ([replace.get(x, x) for x in v] if isinstance(v, list) else replace.get(v, v)) for k, v in data.items()}
    before = snapshot(case)
    response = post(client_for(city, key), case, action, data)
    assert response.status_code == 400
    html = html_of(response)
    assert message in html
    if field_id:
        assert f'id="{field_id}"' in html
    assert f'id="act-{action}" open' in html
    assert snapshot(case) == before


def test_decide_extension_deny_needs_a_reason(city, loop):
    case = _pending(loop, loop.to(State.IN_PROGRESS))
    before = snapshot(case)
    response = post(client_for(city, "dispatcher"), case, "decide_extension", {"decision": "deny", "note": ""})
    assert response.status_code == 400
    assert "Please give a reason." in html_of(response) and 'id="id_decide_extension_note_error"' in html_of(response)
    response = post(client_for(city, "dispatcher"), case, "decide_extension", {"decision": "maybe"})
    assert response.status_code == 400 and "Select a valid choice." in html_of(response)
    assert snapshot(case) == before and case.extension_requests.get().decision == "pending"


def test_feedback_without_a_photo_keeps_the_typed_note(city, loop):
    case = loop.to(State.IN_PROGRESS)
    before = snapshot(case)
    response = post(client_for(city, "unit_staff"), case, "feedback", {"note": "已清运完毕，路面已冲洗"})
    assert response.status_code == 400
    html = html_of(response)
    assert "Attach at least one photo of the result." in html and 'id="id_feedback_photos_error"' in html
    assert "已清运完毕，路面已冲洗</textarea>" in html
    assert "Photos are not kept after an error" in html
    assert snapshot(case) == before


def test_feedback_with_a_file_that_is_not_a_photo_is_refused_and_the_note_kept(city, loop):
    case = loop.to(State.IN_PROGRESS)
    before = snapshot(case)
    response = post(client_for(city, "unit_staff"), case, "feedback",
                    {"note": "已清运完毕", "photos": [jpeg_upload("ok.jpg"), not_a_photo("notes.jpg")]})
    assert response.status_code == 400
    html = html_of(response)
    assert "“notes.jpg” is not a photo" in html and 'id="id_feedback_photos_error"' in html
    assert "已清运完毕</textarea>" in html
    assert snapshot(case) == before


def test_oversize_photo_is_refused(city, loop, settings):
    case = loop.to(State.HANDLED)
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_BYTES": 2000}
    before = snapshot(case)
    response = post(client_for(city, "grid_worker"), case, "verify_pass", {"photo": jpeg_upload("big.jpg", size=(400, 300))})
    assert response.status_code == 400
    assert "the limit is" in html_of(response) and 'id="id_verify_pass_photo_error"' in html_of(response)
    assert snapshot(case) == before


def test_illegal_action_for_the_state_is_a_400_at_the_top_of_the_panel(city, loop):
    case = loop.to(State.DISPATCHED)
    before = snapshot(case)
    response = post(client_for(city, "dispatcher"), case, "register")
    assert response.status_code == 400
    html = html_of(response)
    assert "is not possible while the case is" in html and 'class="panel-errors"' in html
    assert snapshot(case) == before


@pytest.mark.parametrize(
    ("action", "state", "key", "status"),
    [
        ("urge", State.IN_PROGRESS, "unit_staff", 403),  # a handler does not urge himself
        ("register", State.REPORTED, "grid_worker", 403),  # sees it, may not register
        ("verify_pass", State.HANDLED, "unit_staff", 403),  # never verifies his own work
        ("accept", State.DISPATCHED, "leader", 403),
        ("accept", State.DISPATCHED, "community3_staff", 404),  # not his unit: no such case
        ("register", State.REPORTED, "dispatcher_b", 404),
        ("register", State.REPORTED, "resident", 404),  # residents have no case page
        ("register", State.REPORTED, "outsider", 404),
    ],
)
def test_action_not_allowed_for_the_role_changes_nothing(city, loop, action, state, key, status):
    case = loop.to(state)
    before = snapshot(case)
    response = post(client_for(city, key), case, action, {"note": "x", "reason": "x"})
    assert response.status_code == status
    if status == 404:
        assert case.description not in html_of(response)
    else:
        assert "You may not" in html_of(response)
    assert snapshot(case) == before


@pytest.mark.parametrize("name", ["frobnicate", "rate", "report", "join", "REGISTER"])
def test_unknown_action_name_is_a_404(city, loop, name):
    case = loop.to(State.REPORTED)
    before = snapshot(case)
    assert post(client_for(city, "dispatcher"), case, name).status_code == 404
    assert snapshot(case) == before


def test_stale_version_is_a_409_and_nothing_changes(city, loop):
    case = loop.to(State.IN_PROGRESS)
    seen = case.version
    # Someone else urges the unit after the leader opened the page.
    A.case_urge(case=case, by=city.users["dispatcher"], note="第一次催办")
    before = snapshot(case)
    response = post(client_for(city, "leader"), case, "urge", {"note": "请尽快处理"}, version=seen)
    assert response.status_code == 409
    html = html_of(response)
    assert "Someone else changed this case" in html and "Reload" in html
    assert "请尽快处理</textarea>" in html  # what was typed is kept
    assert f'name="version" value="{seen + 1}"' in html  # resubmitting from the fresh page is deliberate
    assert snapshot(case) == before and Case.objects.get(pk=case.pk).urge_count == 1


def test_stale_version_after_a_state_change_is_a_409(city, loop):
    case = loop.to(State.REPORTED)
    seen = case.version
    A.case_register(case=case, by=city.users["dispatcher"])
    before = snapshot(case)
    response = post(client_for(city, "dispatcher"), case, "reject", {"reason": "重复"}, version=seen, htmx=True)
    assert response.status_code == 409
    assert "Someone else changed this case" in html_of(response) and 'id="case-live"' in html_of(response)
    assert snapshot(case) == before


def test_missing_version_is_a_400(city, loop):
    case = loop.to(State.REPORTED)
    before = snapshot(case)
    response = client_for(city, "dispatcher").post(act_url(case, "register"), {})
    assert response.status_code == 400
    assert snapshot(case) == before


def test_get_on_an_action_is_not_allowed(city, loop):
    case = loop.to(State.REPORTED)
    assert client_for(city, "dispatcher").get(act_url(case, "register")).status_code == 405


def test_anonymous_post_goes_to_login_and_changes_nothing(city, loop):
    case = loop.to(State.REPORTED)
    before = snapshot(case)
    response = post(Client(), case, "register")
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))
    assert snapshot(case) == before


def test_csrf_is_enforced_on_actions(city, loop):
    case = loop.to(State.REPORTED)
    client = client_for(city, "dispatcher", enforce_csrf_checks=True)
    before = snapshot(case)
    assert post(client, case, "register").status_code == 403
    assert snapshot(case) == before
    client.get(page_url(case))
    token = client.cookies["csrftoken"].value
    response = post(client, case, "register", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).state == State.REGISTERED


def test_the_page_and_errors_read_in_chinese(city, loop):
    case = loop.to(State.REPORTED)
    client = client_for(city, "dispatcher", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert client.get(page_url(case)).status_code == 200
    response = post(client, case, "reject", {"reason": ""})
    assert response.status_code == 400
    assert "请" in html_of(response)  # the engine's message, translated


def test_page_queries_do_not_grow_with_the_timeline(city, loop, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    case = loop.to(State.HANDLED)
    client = client_for(city, "dispatcher")
    with CaptureQueriesContext(connection) as short:
        client.get(page_url(case))
    for i in range(4):
        case = A.case_verify(case=Case.objects.get(pk=case.pk), by=city.users["grid_worker"], passed=False, note="仍未清理")
        case = A.case_feedback(case=case, by=city.users["unit_staff"], note="再次清运", photos=[jpeg_upload(color=(i * 40, 90, 9))])
    with django_assert_max_num_queries(len(short)):
        assert client.get(page_url(case)).status_code == 200
