"""The handling unit's tasks, the grid worker's page and the overview, through the web client."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civicloop.cases import actions as A
from civicloop.cases.models import Case, CaseEvent, ExtensionRequest, Photo, PhotoKind, State
from civicloop.org import policy
from civicloop.org.models import Role, RoleAssignment
from civicloop.testing import Loop, jpeg_upload
from civicloop.web import workbench

pytestmark = pytest.mark.django_db


def client_for(city, key: str, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(city.users[key])
    return client


def ago(**kwargs) -> dt.datetime:
    return timezone.now() - dt.timedelta(**kwargs)


def text_file(name: str = "notes.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"not a photo at all", content_type="image/jpeg")


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def card_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<article class="card wb-card[^"]*" id="case-(\d+)"', html)]


def post(client: Client, name: str, case: Case, action: str, data: dict, *, htmx: bool = False, files: dict | None = None):
    prefix = f"t{case.pk}-{action}"
    payload = {f"{prefix}-{k}": v for k, v in data.items()}
    payload.setdefault(f"{prefix}-version", fresh(case).version)
    for k, v in (files or {}).items():
        payload[f"{prefix}-{k}"] = v
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse(name, kwargs={"case_id": case.pk}), payload, **headers)


# ---- the unit's tasks ---------------------------------------------------------------------


@pytest.fixture
def tasks(city):
    """Cases of 市环境卫生管理处 (unit_staff) in every state, and cases of other units."""
    old = Loop(city, t0=ago(days=10))
    overdue = old.to(State.IN_PROGRESS)  # 4 working hours, ten days ago
    old.to(State.HANDLED)  # waits for verification: not a task
    old.to(State.CLOSED)
    recent = Loop(city, t0=ago(hours=7))
    ten_days = recent.to(State.IN_PROGRESS, category="E0101")  # 10 working days
    two_days = recent.to(State.DISPATCHED, category="E0105")  # 2 working days
    five_days = recent.to(State.DISPATCHED, category="E0199")  # 5 working days
    others = [
        recent.to(State.DISPATCHED, category="C0402"),  # street trees → 市园林局
        recent.to(State.IN_PROGRESS, category="E0507"),  # street order in 幸福社区 → the community committee
    ]
    return {"overdue": overdue, "two_days": two_days, "five_days": five_days, "ten_days": ten_days, "others": others}


def test_unit_tasks_show_my_units_cases_overdue_first_then_nearest_deadline(city, tasks):
    response = client_for(city, "unit_staff").get(reverse("web:unit_tasks"))
    assert response.status_code == 200
    html = response.content.decode()
    order = [tasks[k].pk for k in ("overdue", "two_days", "five_days", "ten_days")]
    assert card_ids(html) == order
    first = html.split(f'id="case-{order[0]}"')[1].split("</article>")[0]
    assert "wb-overdue" in html.split(f'id="case-{order[0]}"')[0].rsplit("<article", 1)[1]
    assert "overdue by" in first and "Overdue" in first
    second = html.split(f'id="case-{order[1]}"')[1].split("</article>")[0]
    assert " left" in second and "overdue by" not in second


def test_other_units_see_only_their_own(city, tasks):
    html = client_for(city, "park_staff").get(reverse("web:unit_tasks")).content.decode()
    assert card_ids(html) == [tasks["others"][0].pk]
    html = client_for(city, "community_staff").get(reverse("web:unit_tasks")).content.decode()
    assert card_ids(html) == [tasks["others"][1].pk]
    # 市城市管理局 is the parent unit of 市环境卫生管理处: it sees its child's tasks too.
    assert set(card_ids(client_for(city, "cgj_staff").get(reverse("web:unit_tasks")).content.decode())) >= {tasks["overdue"].pk}


@pytest.mark.parametrize("key", ["grid_worker", "dispatcher", "leader", "resident", "outsider"])
def test_unit_tasks_are_for_unit_staff(city, key):
    assert client_for(city, key).get(reverse("web:unit_tasks")).status_code == 403


def test_pages_need_a_login(city):
    for name in ("web:unit_tasks", "web:grid_home", "web:overview", "web:grid_geojson", "web:overview_geojson"):
        response = Client().get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


def test_unit_tasks_query_count_does_not_grow_with_cases(city, tasks, django_assert_max_num_queries):
    client = client_for(city, "unit_staff")
    with django_assert_max_num_queries(14):
        client.get(reverse("web:unit_tasks"))
    Loop(city, t0=ago(hours=3)).to(State.IN_PROGRESS, category="E0101")
    Loop(city, t0=ago(hours=2)).to(State.DISPATCHED, category="E0101")
    with django_assert_max_num_queries(14):
        client.get(reverse("web:unit_tasks"))


def test_accept_from_the_task_list(city, tasks):
    case = tasks["two_days"]
    response = post(client_for(city, "unit_staff"), "web:task_accept", case, "accept", {"note": ""})
    assert response.status_code == 302 and response["Location"].endswith(f"#case-{case.pk}")
    assert fresh(case).state == State.IN_PROGRESS


def test_accept_with_htmx_returns_the_card_now_in_progress(city, tasks):
    case = tasks["two_days"]
    response = post(client_for(city, "unit_staff"), "web:task_accept", case, "accept", {}, htmx=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and f'id="case-{case.pk}"' in html
    assert "Accepted" in html and "Report handled" in html  # the feedback form comes next


def test_accept_on_a_stale_page_is_a_conflict_with_a_reload_link(city, tasks):
    case = tasks["two_days"]
    stale = fresh(case).version
    A.case_urge(case=fresh(case), by=city.users["dispatcher"], note="请尽快")
    response = post(client_for(city, "unit_staff"), "web:task_accept", case, "accept", {"version": stale}, htmx=True)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else changed this case" in html and "Reload the page" in html
    assert fresh(case).state == State.DISPATCHED


def test_accept_twice_is_refused_inline(city, tasks):
    case = tasks["ten_days"]  # already in progress
    client = client_for(city, "unit_staff")
    response = client.post(reverse("web:task_accept", kwargs={"case_id": case.pk}), {f"t{case.pk}-accept-version": case.version})
    assert response.status_code == 400
    assert "is not possible while the case is" in response.content.decode()


def test_another_units_staff_get_404_and_nothing_changes(city, tasks):
    case = tasks["two_days"]
    events = CaseEvent.objects.count()
    for key in ("park_staff", "community3_staff"):
        response = post(client_for(city, key), "web:task_accept", case, "accept", {})
        assert response.status_code == 404
    response = post(client_for(city, "park_staff"), "web:task_return", case, "return", {"reason": "不是我们的"}, htmx=True)
    assert response.status_code == 404 and "No such case" in response.content.decode()
    assert fresh(case).state == State.DISPATCHED and CaseEvent.objects.count() == events


def test_return_needs_a_reason(city, tasks):
    case = tasks["two_days"]
    client = client_for(city, "unit_staff")
    response = post(client, "web:task_return", case, "return", {"reason": "  "})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please give a reason." in field_error(html, f"id_t{case.pk}-return-reason")
    assert fresh(case).state == State.DISPATCHED
    # The full page comes back with the return form open on that case.
    assert card_ids(html)[0] == tasks["overdue"].pk and "<details class=\"wb-more\" open>" in html

    response = post(client, "web:task_return", case, "return", {"reason": "不属于本单位职责，应为园林局"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.state == State.RETURNED and case.unit_id is None
    assert case.pk not in card_ids(client.get(reverse("web:unit_tasks")).content.decode())


def test_return_with_htmx_leaves_a_done_note(city, tasks):
    case = tasks["five_days"]
    response = post(client_for(city, "unit_staff"), "web:task_return", case, "return", {"reason": "职责不符"}, htmx=True)
    assert response.status_code == 200
    assert "Returned to the dispatcher." in response.content.decode() and "wb-done" in response.content.decode()


def test_feedback_with_note_and_photos(city, tasks):
    case = tasks["ten_days"]
    response = post(client_for(city, "unit_staff"), "web:task_feedback", case, "feedback", {"note": "违建已拆除"},
                    files={"photos": [jpeg_upload("a.jpg"), jpeg_upload("b.jpg", color=(10, 200, 10))]})
    assert response.status_code == 302
    case = fresh(case)
    assert case.state == State.HANDLED and case.handled_on_time is True
    assert Photo.objects.filter(case=case, kind=PhotoKind.AFTER).count() == 2


def field_error(html: str, field_id: str) -> str:
    """The error list Django renders next to a field (``as_field_group``), and that the field points to it."""
    match = re.search(rf'<ul class="errorlist" id="{field_id}_error">(.*?)</ul>', html, re.S)
    assert match, f"no error next to {field_id}"
    assert re.search(rf'aria-invalid="true" aria-describedby="[^"]*{field_id}_error[^"]*" id="{field_id}"', html)
    return match.group(1)


@pytest.mark.parametrize("data, files, field, message", [
    ({"note": ""}, {"photos": lambda: [jpeg_upload()]}, "note", "Please say what was done."),
    ({"note": "已处理"}, {}, "photos", "Attach at least one photo of the result."),
    ({"note": "已处理"}, {"photos": lambda: [text_file()]}, "photos", "not a photo"),
])
def test_feedback_bad_inputs_are_shown_inline_and_nothing_is_written(city, tasks, data, files, field, message):
    case = tasks["ten_days"]
    before = (fresh(case).version, CaseEvent.objects.count(), Photo.objects.count())
    response = post(client_for(city, "unit_staff"), "web:task_feedback", case, "feedback", data,
                    files={k: make() for k, make in files.items()}, htmx=True)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in field_error(html, f"id_t{case.pk}-feedback-{field}")
    assert (fresh(case).version, CaseEvent.objects.count(), Photo.objects.count()) == before
    assert fresh(case).state == State.IN_PROGRESS


def test_failed_upload_keeps_the_text_and_asks_to_pick_photos_again(city, tasks):
    case = tasks["ten_days"]
    response = post(client_for(city, "unit_staff"), "web:task_feedback", case, "feedback", {"note": "已清理干净，恢复原貌"},
                    files={"photos": [text_file()]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "已清理干净，恢复原貌" in html
    assert "pick them again" in html


def test_oversize_photo_is_refused(city, tasks, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_BYTES": 200}
    case = tasks["ten_days"]
    response = post(client_for(city, "unit_staff"), "web:task_feedback", case, "feedback", {"note": "已处理"},
                    files={"photos": [jpeg_upload(size=(400, 300))]})
    assert response.status_code == 400
    assert fresh(case).state == State.IN_PROGRESS


def test_request_an_extension(city, tasks):
    case = tasks["ten_days"]
    until = timezone.localtime(case.deadline_at + dt.timedelta(days=3))
    client = client_for(city, "unit_staff")
    response = post(client, "web:task_extension", case, "extension", {"until": until.strftime("%Y-%m-%dT%H:%M"), "reason": "需协调施工队"})
    assert response.status_code == 302
    request = ExtensionRequest.objects.get(case=case)
    assert request.decision == ExtensionRequest.Decision.PENDING
    assert request.requested_deadline_at == until.replace(second=0, microsecond=0)
    html = client.get(reverse("web:unit_tasks")).content.decode()
    assert "requested; waiting for the dispatcher" in html
    # A second request while one is pending: refused.
    response = post(client, "web:task_extension", case, "extension", {"until": until.strftime("%Y-%m-%dT%H:%M"), "reason": "再延"}, htmx=True)
    assert response.status_code == 400 and "already waiting for a decision" in response.content.decode()


@pytest.mark.parametrize("until, reason, message", [
    ("", "需协调施工队", "Give the new deadline you need."),
    ("next tuesday", "需协调施工队", "Enter a date and time"),
    ("2020-01-01T10:00", "需协调施工队", "later than the current one"),
    ("+3d", "", "Please give a reason."),
])
def test_extension_bad_inputs(city, tasks, until, reason, message):
    case = tasks["ten_days"]
    if until == "+3d":
        until = timezone.localtime(case.deadline_at + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = post(client_for(city, "unit_staff"), "web:task_extension", case, "extension", {"until": until, "reason": reason}, htmx=True)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and "<html" not in html
    assert not ExtensionRequest.objects.filter(case=case).exists()
    assert "需协调施工队" in html or not reason  # the text typed is kept


def test_extension_date_in_the_past_on_a_case_without_deadline_in_the_future(city, tasks):
    case = tasks["overdue"]  # its deadline is ten days ago: a date after it but before now is in the past
    until = timezone.localtime(ago(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = post(client_for(city, "unit_staff"), "web:task_extension", case, "extension", {"until": until, "reason": "材料未到"})
    assert response.status_code == 400
    assert "The requested deadline is in the past." in response.content.decode()


def test_missing_version_says_the_page_is_out_of_date(city, tasks):
    case = tasks["two_days"]
    client = client_for(city, "unit_staff")
    response = client.post(reverse("web:task_accept", kwargs={"case_id": case.pk}), {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Reload the page" in response.content.decode()
    assert fresh(case).state == State.DISPATCHED


def test_csrf_is_enforced(city, tasks):
    case = tasks["two_days"]
    client = client_for(city, "unit_staff", enforce_csrf_checks=True)
    response = client.post(reverse("web:task_accept", kwargs={"case_id": case.pk}), {f"t{case.pk}-accept-version": case.version})
    assert response.status_code == 403
    assert fresh(case).state == State.DISPATCHED
    # With the token of the page, it goes through.
    page = client.get(reverse("web:unit_tasks")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(reverse("web:task_accept", kwargs={"case_id": case.pk}),
                           {f"t{case.pk}-accept-version": case.version, "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and fresh(case).state == State.IN_PROGRESS


def test_actions_need_post(city, tasks):
    response = client_for(city, "unit_staff").get(reverse("web:task_accept", kwargs={"case_id": tasks["two_days"].pk}))
    assert response.status_code == 405


def test_rework_is_marked_with_what_verification_found(city):
    loop = Loop(city, t0=ago(hours=6))
    case = loop.to(State.HANDLED, category="E0101")
    A.case_verify(case=case, by=city.users["grid_worker"], passed=False, note="墙体仍未拆除", at=loop.tick())
    html = client_for(city, "unit_staff").get(reverse("web:unit_tasks")).content.decode()
    assert "wb-rework" in html and "墙体仍未拆除" in html


def test_time_left_in_plain_words():
    now = timezone.now()

    def words(deadline):
        return workbench.time_left(deadline, now).replace("\xa0", " ")

    assert words(now + dt.timedelta(days=1, hours=3)) == "1 day, 3 hours left"
    assert words(now - dt.timedelta(hours=5)) == "overdue by 5 hours"
    assert workbench.time_left(None, now) == "no deadline"


def test_case_links_go_to_the_one_case_page_and_missing_pages_to_no_link(city):
    assert workbench.case_url(1) == "/cases/1/"
    assert workbench.url_or_empty("web:no_such_page") == ""


# ---- the grid worker's page ---------------------------------------------------------------


@pytest.fixture
def checks(city):
    recent = Loop(city, t0=ago(hours=7))
    g1_handled = recent.to(State.HANDLED)
    g2_handled = recent.to(State.HANDLED, grid="g2")
    c2_handled = recent.to(State.HANDLED, grid="g3")  # 和平社区: district A, not the grid worker's community
    b_handled = recent.to(State.HANDLED, grid="g4")  # district B
    in_progress = recent.to(State.IN_PROGRESS)
    closed_recently = recent.to(State.CLOSED)  # look-back not due yet
    old = Loop(city, t0=ago(days=9))
    lookback_due = old.to(State.CLOSED)
    b_lookback_due = old.to(State.CLOSED, grid="g4")
    return {
        "g1_handled": g1_handled, "g2_handled": g2_handled, "c2_handled": c2_handled, "b_handled": b_handled,
        "in_progress": in_progress, "closed_recently": closed_recently, "lookback_due": lookback_due,
        "b_lookback_due": b_lookback_due,
    }


def _section(html: str, heading_id: str) -> str:
    return html.split(f'id="{heading_id}"')[1].split("</section>")[0]


def test_grid_home_lists_exactly_my_checks(city, checks):
    response = client_for(city, "grid_worker").get(reverse("web:grid_home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert card_ids(_section(html, "verify-h")) == [checks["g1_handled"].pk, checks["g2_handled"].pk]
    assert card_ids(_section(html, "lookback-h")) == [checks["lookback_due"].pk]
    assert f'data-points="{reverse("web:grid_geojson")}"' in html
    assert "已清运完毕" in html  # what the unit reported


def test_grid_worker_of_another_community_sees_nothing_of_c1_and_gets_404(city, checks):
    client = client_for(city, "grid_worker_c3")
    html = client.get(reverse("web:grid_home")).content.decode()
    assert card_ids(_section(html, "verify-h")) == [checks["b_handled"].pk]
    assert card_ids(_section(html, "lookback-h")) == [checks["b_lookback_due"].pk]
    points = json.loads(client.get(reverse("web:grid_geojson")).content)
    c1_ids = {checks[k].pk for k in ("g1_handled", "g2_handled", "in_progress", "lookback_due")}
    assert not c1_ids & {f["id"] for f in points["features"]}
    case = checks["g1_handled"]
    events = CaseEvent.objects.count()
    assert post(client, "web:grid_verify", case, "verify", {"verdict": "pass"}).status_code == 404
    assert post(client, "web:grid_verify", case, "verify", {"verdict": "pass"}, htmx=True).status_code == 404
    assert post(client, "web:grid_lookback", checks["lookback_due"], "lookback", {"verdict": "pass"}).status_code == 404
    assert fresh(case).state == State.HANDLED and CaseEvent.objects.count() == events


def test_a_handler_never_verifies_his_own_work(city):
    worker = city.users["grid_worker"]
    RoleAssignment.objects.create(user=worker, role=Role.UNIT_STAFF, unit=city.units["hwc"])
    policy.forget(worker)
    loop = Loop(city, t0=ago(hours=6))
    case = loop.to(State.IN_PROGRESS)
    A.case_feedback(case=case, by=worker, note="自己处理的", photos=[jpeg_upload()], at=loop.tick())
    other = loop.to(State.HANDLED, grid="g2")
    html = client_for(city, "grid_worker").get(reverse("web:grid_home")).content.decode()
    assert case.pk not in card_ids(html)
    assert other.pk not in card_ids(html)  # his unit handled it: still his own unit's work


def test_verify_passed_closes_the_case(city, checks):
    case = checks["g1_handled"]
    response = post(client_for(city, "grid_worker"), "web:grid_verify", case, "verify", {"verdict": "pass", "note": "现场已清理"},
                    files={"photos": [jpeg_upload("spot.jpg")]})
    assert response.status_code == 302
    case = fresh(case)
    assert case.state == State.CLOSED and case.lookback_due_at is not None
    assert Photo.objects.filter(case=case, kind=PhotoKind.VERIFY).count() == 1


def test_verify_failed_with_htmx_sends_it_back_for_rework(city, checks):
    case = checks["g2_handled"]
    response = post(client_for(city, "grid_worker"), "web:grid_verify", case, "verify", {"verdict": "fail", "note": "垃圾仍在"}, htmx=True)
    assert response.status_code == 200
    assert "Sent back to the unit for rework." in response.content.decode()
    case = fresh(case)
    assert case.state == State.IN_PROGRESS and case.rework_count == 1


@pytest.mark.parametrize("data, files, message", [
    ({"verdict": "fail", "note": ""}, {}, "Please give a reason."),
    ({"note": "看过了"}, {}, "Say whether it is fixed."),
    ({"verdict": "maybe"}, {}, "Say whether it is fixed."),
    ({"verdict": "pass"}, {"photos": lambda: [text_file()]}, "not a photo"),
])
def test_verify_bad_inputs(city, checks, data, files, message):
    case = checks["g1_handled"]
    before = (fresh(case).version, CaseEvent.objects.count(), Photo.objects.count())
    response = post(client_for(city, "grid_worker"), "web:grid_verify", case, "verify", data,
                    files={k: make() for k, make in files.items()})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "<html" in html and case.pk in card_ids(_section(html, "verify-h"))  # the page, with the card's form bound
    assert (fresh(case).version, CaseEvent.objects.count(), Photo.objects.count()) == before


def test_failed_verification_note_error_sits_next_to_the_note(city, checks):
    case = checks["g1_handled"]
    response = post(client_for(city, "grid_worker"), "web:grid_verify", case, "verify", {"verdict": "fail", "note": ""}, htmx=True)
    assert response.status_code == 400
    assert "Please give a reason." in field_error(response.content.decode(), f"id_t{case.pk}-verify-note")


def test_lookback_pass_and_fail(city, checks):
    client = client_for(city, "grid_worker")
    case = checks["lookback_due"]
    response = post(client, "web:grid_lookback", case, "lookback", {"verdict": "fail"}, htmx=True)
    assert response.status_code == 400 and "Please give a reason." in response.content.decode()
    response = post(client, "web:grid_lookback", case, "lookback", {"verdict": "fail", "note": "垃圾又堆起来了"})
    assert response.status_code == 302
    assert fresh(case).state == State.RECURRED
    assert Case.objects.filter(recurrence_of=case, state=State.REGISTERED).exists()

    other = Loop(city, t0=ago(days=9)).to(State.CLOSED)
    response = post(client, "web:grid_lookback", other, "lookback", {"verdict": "pass"}, htmx=True)
    assert response.status_code == 200 and fresh(other).state == State.LOOKBACK_PASSED


def test_lookback_before_it_is_due_is_refused(city, checks):
    case = checks["closed_recently"]
    response = post(client_for(city, "grid_worker"), "web:grid_lookback", case, "lookback", {"verdict": "pass"})
    assert response.status_code == 400
    assert "The look-back is due from" in response.content.decode()
    assert fresh(case).state == State.CLOSED


def test_grid_geojson_has_my_open_cases_with_overdue_flags(city, checks):
    overdue = Loop(city, t0=ago(days=10)).to(State.IN_PROGRESS)
    data = json.loads(client_for(city, "grid_worker").get(reverse("web:grid_geojson")).content)
    ids = {f["id"] for f in data["features"]}
    assert {checks["g1_handled"].pk, checks["g2_handled"].pk, checks["in_progress"].pk, overdue.pk} <= ids
    assert checks["closed_recently"].pk not in ids and checks["b_handled"].pk not in ids
    feature = next(f for f in data["features"] if f["id"] == overdue.pk)
    assert feature["properties"]["overdue"] is True and feature["geometry"]["type"] == "Point"
    assert feature["properties"]["title"].startswith(overdue.ticket_no)


@pytest.mark.parametrize("key", ["unit_staff", "resident", "leader", "outsider"])
def test_grid_home_is_for_grid_workers_and_checkers(city, key):
    assert client_for(city, key).get(reverse("web:grid_home")).status_code == 403


def test_grid_home_query_count_does_not_grow_with_cases(city, checks, django_assert_max_num_queries):
    client = client_for(city, "grid_worker")
    with django_assert_max_num_queries(14):
        client.get(reverse("web:grid_home"))
    Loop(city, t0=ago(hours=3)).to(State.HANDLED)
    Loop(city, t0=ago(days=9)).to(State.CLOSED, grid="g2")
    with django_assert_max_num_queries(14):
        client.get(reverse("web:grid_home"))


# ---- the overview ---------------------------------------------------------------------------


def _three_closed_two_on_time(city, grid: str = "g1") -> list[Case]:
    loop = Loop(city, t0=ago(days=10), grid=grid)
    cases = [loop.to(State.CLOSED), loop.to(State.CLOSED)]
    late = loop.to(State.HANDLED)
    loop.t = late.deadline_at + dt.timedelta(hours=1)
    cases.append(A.case_verify(case=late, by=loop.grid_worker_for(late), passed=True, at=loop.t))
    assert [c.closed_on_time for c in cases] == [True, True, False]
    return cases


def _rate_row(html: str, label: str) -> str:
    return html.split(label)[1].split("</tr>")[0]


def test_overview_numbers_equal_hand_computed_values(city):
    _three_closed_two_on_time(city)
    response = client_for(city, "leader").get(reverse("web:overview"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<dt>Received</dt><dd>3</dd>" in html and "<dt>Closed</dt><dd>3</dd>" in html
    assert "<dt>Closed on time</dt><dd>2</dd>" in html and "<dt>Due for closure</dt><dd>3</dd>" in html
    assert "66.67 %" in _rate_row(html, "On-time closure rate (按期结案率)")
    assert "100.00 %" in _rate_row(html, "Closure rate (结案率)")
    assert "0.00 %" in _rate_row(html, "Rework rate (返工率)")
    assert "—" in _rate_row(html, "Satisfaction")
    # Units ranked, with counts.
    units = html.split('id="units-h"')[1].split("</table>")[0]
    assert city.units["hwc"].name in units and "66.67 %" in units
    # Charts from a json_script block, and the same numbers in tables.
    charts = json.loads(re.search(r'<script id="overview-charts" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert sum(charts["trend"]["received"]) == 3 and sum(charts["trend"]["closed"]) == 3
    assert charts["states"]["values"] == [3]
    assert "vendor/echarts/echarts.min.js" in html and "web/overview.js" in html
    assert 'data-heat="1"' in html and reverse("web:overview_geojson") in html


def test_overview_is_scoped_to_the_leaders_area(city):
    _three_closed_two_on_time(city)
    loop = Loop(city, t0=ago(days=5), grid="g4")
    b_case = loop.to(State.CLOSED)
    A.case_rate(case=b_case, by=city.users["resident"], rating="basic", at=loop.tick())
    html = client_for(city, "leader_b").get(reverse("web:overview")).content.decode()
    assert "<dt>Received</dt><dd>1</dd>" in html
    assert "100.00 %" in _rate_row(html, "On-time closure rate (按期结案率)")
    assert "100.00 %" in _rate_row(html, "Satisfaction")
    points = json.loads(client_for(city, "leader_b").get(reverse("web:overview_geojson")).content)
    assert [f["id"] for f in points["features"]] == [b_case.pk]
    everything = json.loads(client_for(city, "leader").get(reverse("web:overview_geojson")).content)
    assert len(everything["features"]) == 4
    assert set(everything["features"][0]["properties"]) == {"title", "subtitle", "url", "overdue"}
    assert everything["features"][0]["properties"]["url"] == ""  # the heat map names nobody and links nowhere


def test_an_empty_period_shows_dashes_not_an_error(city):
    response = client_for(city, "leader_b").get(reverse("web:overview"))
    assert response.status_code == 200
    html = response.content.decode()
    rates = html.split('id="rates-h"')[1].split("</table>")[0]
    assert rates.count('<td class="wb-rate">—</td>') == 6
    assert "No unit had cases due for closure in this period." in html


def test_overview_periods(city):
    _three_closed_two_on_time(city)
    client = client_for(city, "campaign_office")
    html = client.get(reverse("web:overview"), {"period": "7"}).content.decode()
    assert "<dt>Received</dt><dd>0</dd>" in html and '<option value="7" selected>' in html
    html = client.get(reverse("web:overview"), {"period": "90"}).content.decode()
    assert "<dt>Received</dt><dd>3</dd>" in html
    month = timezone.localtime(ago(days=10)).strftime("%Y-%m")
    html = client.get(reverse("web:overview"), {"period": "month", "month": month}).content.decode()
    assert "<dt>Received</dt><dd>3</dd>" in html
    html = client.get(reverse("web:overview"), {"period": "month", "month": "2001-01"}).content.decode()
    assert "<dt>Received</dt><dd>0</dd>" in html
    assert '<option value="30" selected>' in client.get(reverse("web:overview")).content.decode()


@pytest.mark.parametrize("params, message", [
    ({"period": "365"}, "Choose 7, 30 or 90 days, or a month."),
    ({"period": "month", "month": "last month"}, "Enter a month as year-month"),
    ({"period": "month", "month": "1850-01"}, "Enter a month as year-month"),
])
def test_overview_bad_period_is_explained_and_falls_back(city, params, message):
    response = client_for(city, "leader").get(reverse("web:overview"), params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert client_for(city, "leader").get(reverse("web:overview_geojson"), params).status_code == 400


@pytest.mark.parametrize("key, status", [
    ("leader", 200), ("leader_b", 200), ("campaign_office", 200), ("dispatcher", 200), ("admin", 200),
    ("unit_staff", 403), ("grid_worker", 403), ("inspector", 403), ("resident", 403), ("outsider", 403),
])
def test_overview_is_for_leaders_campaign_office_and_dispatchers(city, key, status):
    assert client_for(city, key).get(reverse("web:overview")).status_code == status
    assert client_for(city, key).get(reverse("web:overview_geojson")).status_code == status


def test_overview_is_read_only(city):
    assert client_for(city, "leader").post(reverse("web:overview")).status_code == 405


def test_overview_query_count_does_not_grow_with_cases(city, django_assert_max_num_queries):
    _three_closed_two_on_time(city)
    client = client_for(city, "leader")
    with django_assert_max_num_queries(14):
        client.get(reverse("web:overview"))
    _three_closed_two_on_time(city, grid="g2")
    with django_assert_max_num_queries(14):
        client.get(reverse("web:overview"))


def test_pages_in_chinese(city, tasks):
    client = client_for(city, "unit_staff", HTTP_ACCEPT_LANGUAGE="zh-hans")
    response = client.get(reverse("web:unit_tasks"))
    assert response.status_code == 200 and 'lang="zh-hans"' in response.content.decode()


def test_a_reporters_not_fixed_puts_the_case_first_in_the_lookbacks(city):
    old = Loop(city, t0=ago(days=9))
    first, second = old.to(State.CLOSED), old.to(State.CLOSED, grid="g2")
    report = second.reports.get()
    A.case_rate(case=second, ticket_no=report.ticket_no, rating="dissatisfied", unfixed=True, at=ago(days=1))
    html = client_for(city, "grid_worker").get(reverse("web:grid_home")).content.decode()
    section = _section(html, "lookback-h")
    assert card_ids(section) == [second.pk, first.pk]
    assert "A reporter says it is not fixed." in section
