"""The dispatcher's pages and the scoped case list (web/dispatch.py), through the HTTP client.

Given a test city and cases driven by the real actions, when a persona uses a page, then it
sees only its scope, every action goes through ``cases.actions`` and every refusal is shown
inline with the right status, leaving the case as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from civicloop.cases import actions as A
from civicloop.cases.models import Case, CaseEvent, CaseUnit, ExtensionRequest, State
from civicloop.testing import STEP, T0, Loop
from civicloop.web import dispatch
from civicloop.web.models import SavedView

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def login(city, key: str, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(city.users[key])
    return client


def fresh_loop(city, **kw) -> Loop:
    """Cases reported a moment ago: their deadlines are still ahead."""
    return Loop(city, t0=timezone.now() - dt.timedelta(hours=2), **kw)


def act_url(case: Case, action: str) -> str:
    return reverse("web:dispatch_act", kwargs={"case_id": case.pk, "action": action})


def act(client: Client, case: Case, action: str, data: dict | None = None, *, version: int | None = None, htmx: bool = True, **extra):
    prefix = f"{action}-{case.pk}"
    payload = {f"{prefix}-version": case.version if version is None else version, "tab": "new", "page": 1}
    payload.update({f"{prefix}-{k}": v for k, v in (data or {}).items()})
    return client.post(act_url(case, action), payload, **(HTMX if htmx else {}), **extra)


def snapshot(case: Case) -> tuple:
    fresh = Case.objects.get(pk=case.pk)
    return fresh.state, fresh.version, fresh.category_id, fresh.unit_id, CaseEvent.objects.filter(case=case).count()


def text(response) -> str:
    return response.content.decode()


# ---- who may open the pages ----------------------------------------------------------------------

DISPATCH_PAGES = ("web:dispatch_queue", "web:extensions")
STAFF_PAGES = ("web:cases", "web:dispatch_map", "web:cases_geojson")


@pytest.mark.parametrize("name", DISPATCH_PAGES + STAFF_PAGES)
def test_anonymous_visitors_are_sent_to_the_login(city, name):
    response = Client().get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("key", ["resident", "outsider"])
@pytest.mark.parametrize("name", DISPATCH_PAGES + STAFF_PAGES)
def test_residents_and_people_without_a_role_are_refused(city, key, name):
    assert login(city, key).get(reverse(name)).status_code == 403


@pytest.mark.parametrize("key", ["unit_staff", "leader", "inspector", "grid_worker", "campaign_office"])
def test_other_staff_use_the_case_list_but_not_the_dispatch_desk(city, key):
    client = login(city, key)
    assert client.get(reverse("web:cases")).status_code == 200
    assert client.get(reverse("web:dispatch_queue")).status_code == 403
    assert client.get(reverse("web:extensions")).status_code == 403


def test_a_resident_cannot_act_on_a_case_even_his_own(city):
    case = Loop(city).to(State.REPORTED)
    before = snapshot(case)
    assert act(login(city, "resident"), case, "register").status_code == 403
    assert snapshot(case) == before


@pytest.mark.parametrize("name", ["web:dispatch_queue", "web:cases", "web:dispatch_map", "web:extensions"])
def test_every_page_renders_for_the_dispatcher_and_the_admin(city, name):
    Loop(city).to(State.REPORTED)
    for key in ("dispatcher", "admin"):
        response = login(city, key).get(reverse(name))
        assert response.status_code == 200
        assert "web/dispatch.css" in text(response)


# ---- the queue ------------------------------------------------------------------------------------


@pytest.fixture
def queue(city):
    """One case per tab in district A, plus a reported case in district B."""
    old, new = Loop(city), fresh_loop(city)
    cases = {
        "reported": new.to(State.REPORTED),
        "registered": new.to(State.REGISTERED),
        "returned": new.to(State.RETURNED),
        "overdue": old.to(State.DISPATCHED),  # dispatched on T0 with a 4-hour limit: long overdue
        "in_time": new.to(State.DISPATCHED, category="C0402"),  # street tree: 3 working days
        "other_district": new.to(State.REPORTED, grid="g4"),
    }
    return cases


def tickets(response) -> set[str]:
    return set(re.findall(r'id="case-row-(\d+)"', text(response)))


def ids(*cases: Case) -> set[str]:
    return {str(c.pk) for c in cases}


def test_each_tab_lists_its_cases_with_counts(city, queue):
    client = login(city, "dispatcher")
    url = reverse("web:dispatch_queue")
    assert tickets(client.get(url)) == ids(queue["reported"])
    assert tickets(client.get(url, {"tab": "to_dispatch"})) == ids(queue["registered"])
    assert tickets(client.get(url, {"tab": "overdue"})) == ids(queue["overdue"])
    assert tickets(client.get(url, {"tab": "returned"})) == ids(queue["returned"])
    assert tickets(client.get(url, {"tab": "duplicates"})) == set()
    counts = re.findall(r'<span class="count">(\d+)</span>', text(client.get(url)))
    assert counts == ["1", "1", "0", "1", "1"]
    assert tickets(client.get(url, {"tab": "nonsense"})) == ids(queue["reported"])


def test_dispatcher_b_sees_only_district_b(city, queue):
    client = login(city, "dispatcher_b")
    assert tickets(client.get(reverse("web:dispatch_queue"))) == ids(queue["other_district"])
    assert queue["reported"].ticket_no not in text(client.get(reverse("web:dispatch_queue")))


def test_returned_tab_shows_the_units_reason(city, queue):
    response = login(city, "dispatcher").get(reverse("web:dispatch_queue"), {"tab": "returned"})
    assert "不属于本单位职责" in text(response)
    assert f"Returned by {city.units['hwc'].name}:" in text(response)  # the unit it had been sent to


def test_overdue_tab_offers_urge_and_escalate(city, queue):
    html = text(login(city, "dispatcher").get(reverse("web:dispatch_queue"), {"tab": "overdue"}))
    assert act_url(queue["overdue"], "urge") in html and act_url(queue["overdue"], "escalate") in html
    assert act_url(queue["in_time"], "urge") not in html


def test_the_tab_bar_alone_for_htmx_refreshes(city, queue):
    response = login(city, "dispatcher").get(reverse("web:dispatch_counts"), {"tab": "overdue"})
    assert response.status_code == 200
    assert 'id="queue-tabs"' in text(response) and "<html" not in text(response)


# ---- one action per row ---------------------------------------------------------------------


def test_register_re_renders_the_row_with_the_next_step(city):
    case = fresh_loop(city).to(State.REPORTED)
    response = act(login(city, "dispatcher"), case, "register")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "queue-changed"
    html = text(response)
    assert html.lstrip().startswith("<tr") and "<html" not in html
    assert "Registered." in html and act_url(case, "dispatch") in html
    assert Case.objects.get(pk=case.pk).state == State.REGISTERED


def test_register_without_javascript_redirects_back_to_the_tab(city):
    case = fresh_loop(city).to(State.REPORTED)
    client = login(city, "dispatcher")
    response = act(client, case, "register", htmx=False)
    assert response.status_code == 302 and response["Location"] == reverse("web:dispatch_queue") + "?tab=new"
    assert Case.objects.get(pk=case.pk).state == State.REGISTERED
    assert f"{case.ticket_no}: Registered." in text(client.get(response["Location"]))


def test_reject_needs_a_reason(city):
    case = fresh_loop(city).to(State.REPORTED)
    client, before = login(city, "dispatcher"), snapshot(case)
    response = act(client, case, "reject", {"reason": "  "})
    assert response.status_code == 400
    assert "Please give a reason." in text(response)
    assert snapshot(case) == before
    # Without JavaScript: the whole queue, the error in the row.
    response = act(client, case, "reject", {"reason": ""}, htmx=False)
    assert response.status_code == 400 and "Please give a reason." in text(response) and "<html" in text(response)
    assert snapshot(case) == before


def test_reject_with_a_reason(city):
    case = fresh_loop(city).to(State.REPORTED)
    response = act(login(city, "dispatcher"), case, "reject", {"reason": "不属于城市管理范围"})
    assert response.status_code == 200 and "Not registered." in text(response)
    case.refresh_from_db()
    assert case.state == State.REJECTED
    assert case.events.order_by("-id").first().note == "不属于城市管理范围"


def test_reclassify_by_code_and_unknown_code(city):
    case = fresh_loop(city).to(State.REPORTED)
    client = login(city, "dispatcher")
    before = snapshot(case)
    response = act(client, case, "reclassify", {"category": "X9999"})
    assert response.status_code == 400 and "Unknown problem category" in text(response)
    assert snapshot(case) == before
    response = act(client, case, "reclassify", {"category": "E0103"})
    assert response.status_code == 200 and "Category changed." in text(response)
    assert Case.objects.get(pk=case.pk).category.code == "E0103"


def test_dispatch_defaults_to_the_routing_suggestion(city, django_capture_on_commit_callbacks):
    from civicloop.notifications.models import Notice

    case = fresh_loop(city).to(State.REGISTERED)
    client = login(city, "dispatcher")
    queue_html = text(client.get(reverse("web:dispatch_queue"), {"tab": "to_dispatch"}))
    suggested = city.units["hwc"]  # city appearance events go to sanitation
    assert f'<option value="{suggested.pk}" selected>' in queue_html
    with django_capture_on_commit_callbacks(execute=True):
        response = act(client, case, "dispatch", {"unit": ""})
    assert response.status_code == 200 and "Dispatched." in text(response)
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.unit == suggested and case.deadline_at is not None
    assert Notice.objects.filter(case=case, recipient=city.users["unit_staff"]).exists()


def test_dispatch_to_a_chosen_unit_with_co_units(city):
    case = fresh_loop(city).to(State.REGISTERED)
    units = city.units
    response = act(login(city, "dispatcher"), case, "dispatch", {"unit": units["ylj"].pk, "co_units": [units["jdA"].pk, units["jwc1"].pk]})
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.unit == units["ylj"]
    assert set(CaseUnit.objects.filter(case=case, role="assist").values_list("unit_id", flat=True)) == {units["jdA"].pk, units["jwc1"].pk}


@pytest.mark.parametrize("data", [{"unit": 999999}, {"unit": "abc"}, {"co_units": [999999]}])
def test_dispatch_to_an_unknown_unit_is_refused_inline(city, data):
    case = fresh_loop(city).to(State.REGISTERED)
    before = snapshot(case)
    response = act(login(city, "dispatcher"), case, "dispatch", data)
    assert response.status_code == 400
    assert "Unknown or inactive handling unit." in text(response)
    assert snapshot(case) == before


def test_main_unit_cannot_also_be_a_co_unit(city):
    case = fresh_loop(city).to(State.REGISTERED)
    hwc = city.units["hwc"].pk
    before = snapshot(case)
    response = act(login(city, "dispatcher"), case, "dispatch", {"unit": hwc, "co_units": [hwc]})
    assert response.status_code == 400 and "cannot also be a co-handling unit" in text(response)
    assert snapshot(case) == before


def test_illegal_transition_is_an_inline_400(city):
    case = fresh_loop(city).to(State.REGISTERED)
    before = snapshot(case)
    response = act(login(city, "dispatcher"), case, "register")
    assert response.status_code == 400
    assert "is not possible while the case is" in text(response)
    assert snapshot(case) == before


def test_stale_version_is_a_409_conflict_with_a_reload_hint(city):
    case = fresh_loop(city).to(State.REPORTED)
    client = login(city, "dispatcher")
    stale_version = case.version
    A.case_reclassify(case=case, by=city.users["dispatcher"], category="E0103")  # someone else, meanwhile
    before = snapshot(case)
    response = act(client, case, "reject", {"reason": "重复"}, version=stale_version)
    assert response.status_code == 409
    html = text(response)
    assert "Someone else changed this case" in html and "Reload the queue" in html
    assert snapshot(case) == before
    # The re-rendered row carries the current version: acting again works.
    assert f'value="{before[1]}"' in html


def test_a_missing_version_is_refused(city):
    case = fresh_loop(city).to(State.REPORTED)
    before = snapshot(case)
    response = login(city, "dispatcher").post(act_url(case, "register"), {"tab": "new"}, **HTMX)
    assert response.status_code == 400 and "reload the page" in text(response)
    assert snapshot(case) == before


def test_unknown_action_is_404(city):
    case = fresh_loop(city).to(State.REPORTED)
    assert login(city, "dispatcher").post(act_url(case, "explode"), {}).status_code == 404


@pytest.mark.parametrize("htmx", [True, False])
def test_dispatcher_b_acting_on_district_a_gets_404_and_nothing_changes(city, htmx):
    case = fresh_loop(city).to(State.REPORTED)
    before = snapshot(case)
    response = act(login(city, "dispatcher_b"), case, "register", htmx=htmx)
    assert response.status_code == 404
    assert case.ticket_no not in text(response)
    assert snapshot(case) == before


def test_leader_may_not_act_from_the_dispatch_desk(city):
    case = fresh_loop(city).to(State.REPORTED)
    before = snapshot(case)
    assert act(login(city, "leader"), case, "register").status_code == 403
    assert snapshot(case) == before


def test_urge_and_escalate_an_overdue_case(city):
    case = Loop(city).to(State.DISPATCHED)
    client = login(city, "dispatcher")
    response = act(client, case, "urge")
    assert response.status_code == 200 and "The unit was urged." in text(response)
    case.refresh_from_db()
    assert case.urge_count == 1
    response = act(client, case, "escalate")
    assert response.status_code == 200 and "Escalated." in text(response)
    case.refresh_from_db()
    assert case.escalation_level == 1 and case.escalated_to == city.areas["c1"]


def test_csrf_is_enforced_on_actions(city):
    case = fresh_loop(city).to(State.REPORTED)
    before = snapshot(case)
    client = login(city, "dispatcher", enforce_csrf_checks=True)
    assert act(client, case, "register").status_code == 403
    assert snapshot(case) == before
    # With the token the page gave, the same post goes through.
    client.get(reverse("web:dispatch_queue"))
    token = client.cookies["csrftoken"].value
    assert act(client, case, "register", HTTP_X_CSRFTOKEN=token).status_code == 200


# ---- duplicates ------------------------------------------------------------------------------------


def report_at(city, lat: float, lon: float, *, at: dt.datetime, category: str = "E0102") -> Case:
    return A.case_report(category=category, lat=lat, lon=lon, description="路边垃圾", at=at, detect_duplicates=False).case


def test_possible_duplicates_name_the_earlier_case_and_reject_as_duplicate(city):
    lat, lon = city.point_in("g1")
    now = timezone.now()
    first = report_at(city, lat, lon, at=now - dt.timedelta(hours=3))
    second = report_at(city, lat + 0.0001, lon, at=now - dt.timedelta(hours=1))
    elsewhere = report_at(city, *city.point_in("g2"), at=now - dt.timedelta(hours=1))
    client = login(city, "dispatcher")
    response = client.get(reverse("web:dispatch_queue"), {"tab": "duplicates"})
    assert tickets(response) == ids(second)
    assert f"Not registered: duplicate of {first.ticket_no}" in text(response)
    assert elsewhere.ticket_no not in text(response)
    response = act(client, second, "reject", {"reason": f"Duplicate of case {first.ticket_no}."})
    assert response.status_code == 200
    second.refresh_from_db()
    assert second.state == State.REJECTED and first.ticket_no in second.events.order_by("-id").first().note


def test_a_duplicate_across_the_district_border_is_not_shown(city):
    border_lon = city.areas["g3"].shape.bounds[2]  # g3 (district A) meets g4 (district B)
    lat = city.point_in("g3")[0]
    now = timezone.now()
    b_case = report_at(city, lat, border_lon + STEP / 20, at=now - dt.timedelta(hours=3))
    a_case = report_at(city, lat, border_lon - STEP / 20, at=now - dt.timedelta(hours=1))
    assert a_case.grid == city.areas["g3"] and b_case.grid == city.areas["g4"]
    response = login(city, "dispatcher").get(reverse("web:dispatch_queue"), {"tab": "duplicates"})
    assert tickets(response) == set() and b_case.ticket_no not in text(response)


# ---- batch ---------------------------------------------------------------------------------------


def batch(client: Client, action: str, cases: list[str], reason: str = ""):
    return client.post(reverse("web:dispatch_batch"), {"action": action, "cases": cases, "reason": reason, "tab": "new", "page": 1})


def pick(case: Case, version: int | None = None) -> str:
    return f"{case.pk}:{case.version if version is None else version}"


def test_batch_register_reports_each_case_and_one_failure_stops_nothing(city):
    loop = fresh_loop(city)
    good, good2 = loop.to(State.REPORTED), loop.to(State.REPORTED)
    already = loop.to(State.REGISTERED)
    foreign = loop.to(State.REPORTED, grid="g4")
    stale = loop.to(State.REPORTED)
    stale_version = stale.version
    A.case_reclassify(case=stale, by=city.users["dispatcher"], category="E0103")
    before = {c.pk: snapshot(c) for c in (already, foreign, stale)}
    response = batch(login(city, "dispatcher"), "register", [pick(good), pick(already), pick(foreign), pick(stale, stale_version), pick(good2)])
    assert response.status_code == 200
    html = text(response)
    assert "2 of 5 done." in html
    assert Case.objects.get(pk=good.pk).state == State.REGISTERED
    assert Case.objects.get(pk=good2.pk).state == State.REGISTERED
    assert {c.pk: snapshot(c) for c in (already, foreign, stale)} == before
    results = html.split('id="batch-results-title"')[1].split("</section>")[0]
    assert re.search(rf"{already.ticket_no}(</a>)?:\s*<span class=\"error\">failed — “Register” is not possible", results)
    assert re.search(rf"#{foreign.pk}:\s*<span class=\"error\">failed — No such case", results)
    assert foreign.ticket_no not in results
    assert re.search(rf"{stale.ticket_no}(</a>)?:\s*<span class=\"error\">failed — Someone else changed this case", results)


def test_batch_dispatch_sends_each_case_to_its_suggested_unit(city):
    loop = fresh_loop(city)
    garbage = loop.to(State.REGISTERED)
    tree = loop.to(State.REGISTERED, category="C0402")
    response = batch(login(city, "dispatcher"), "dispatch", [pick(garbage), pick(tree)])
    assert response.status_code == 200 and "2 of 2 done." in text(response)
    assert Case.objects.get(pk=garbage.pk).unit == city.units["hwc"]
    assert Case.objects.get(pk=tree.pk).unit == city.units["ylj"]
    assert f"Dispatched to {city.units['ylj'].name}." in text(response)


def test_batch_reject_needs_one_reason_and_writes_nothing_without_it(city):
    loop = fresh_loop(city)
    a, b = loop.to(State.REPORTED), loop.to(State.REPORTED)
    before = [snapshot(a), snapshot(b)]
    client = login(city, "dispatcher")
    response = batch(client, "reject", [pick(a), pick(b)], reason="")
    assert response.status_code == 400 and "Please give a reason." in text(response)
    assert [snapshot(a), snapshot(b)] == before
    assert f'value="{pick(a)}" checked' in text(response)  # the ticks survive the refusal
    response = batch(client, "reject", [pick(a), pick(b)], reason="测试数据")
    assert response.status_code == 200
    assert {Case.objects.get(pk=a.pk).state, Case.objects.get(pk=b.pk).state} == {State.REJECTED}


@pytest.mark.parametrize("cases", [[], ["abc"], ["1"], ["1:x"]])
def test_batch_with_nothing_or_garbage_ticked_is_refused(city, cases):
    case = fresh_loop(city).to(State.REPORTED)
    before = snapshot(case)
    response = batch(login(city, "dispatcher"), "register", cases)
    assert response.status_code == 400
    assert "Tick at least one case." in text(response) or "could not be read" in text(response)
    assert snapshot(case) == before


def test_batch_where_everything_fails_is_a_400(city):
    case = fresh_loop(city).to(State.REGISTERED)
    response = batch(login(city, "dispatcher"), "register", [pick(case)])
    assert response.status_code == 400 and "0 of 1 done." in text(response)


# ---- the case list -------------------------------------------------------------------------------


@pytest.fixture
def spread(city):
    """Cases in both districts and in front of different units."""
    loop = fresh_loop(city)
    return {
        "g1_dispatched": loop.to(State.DISPATCHED),  # 幸福社区, sanitation (hwc)
        "g3_reported": loop.to(State.REPORTED, grid="g3"),  # 和平社区, district A
        "g4_reported": loop.to(State.REPORTED, grid="g4"),  # district B
        "g2_tree": loop.to(State.DISPATCHED, grid="g2", category="C0402"),  # parks (ylj)
    }


def listed(response) -> set[str]:
    return set(re.findall(r"\b\d{8}-\d{6}\b", response.content.decode().split("<tbody>")[1].split("</tbody>")[0]))


SCOPE = {
    "dispatcher": {"g1_dispatched", "g3_reported", "g2_tree"},
    "dispatcher_b": {"g4_reported"},
    "grid_worker": {"g1_dispatched", "g2_tree"},  # community 1 holds grids 1 and 2
    "grid_worker_c3": {"g4_reported"},
    "inspector": {"g1_dispatched", "g3_reported", "g2_tree"},
    "leader": {"g1_dispatched", "g3_reported", "g4_reported", "g2_tree"},
    "leader_b": {"g4_reported"},
    "unit_staff": {"g1_dispatched"},
    "park_staff": {"g2_tree"},
    "campaign_office": {"g1_dispatched", "g3_reported", "g4_reported", "g2_tree"},
}


@pytest.mark.parametrize("key", sorted(SCOPE))
def test_case_list_shows_each_role_only_its_scope(city, spread, key):
    response = login(city, key).get(reverse("web:cases"))
    assert response.status_code == 200
    assert listed(response) == {spread[k].ticket_no for k in SCOPE[key]}


def test_area_filter_offers_only_visible_areas_and_refuses_others(city, spread):
    client = login(city, "dispatcher_b")
    html = text(client.get(reverse("web:cases")))
    assert city.areas["c3"].name in html and city.areas["c1"].name not in html
    response = client.get(reverse("web:cases"), {"area": city.areas["dA"].pk})
    assert response.status_code == 400
    assert spread["g1_dispatched"].ticket_no not in text(response)


def test_unit_staff_gets_no_area_filter(city, spread):
    html = text(login(city, "unit_staff").get(reverse("web:cases")))
    assert 'name="area"' not in html


def test_filters_by_area_category_state_and_text(city, spread):
    client, url = login(city, "leader"), reverse("web:cases")
    assert listed(client.get(url, {"area": city.areas["c1"].pk})) == {spread["g1_dispatched"].ticket_no, spread["g2_tree"].ticket_no}
    assert listed(client.get(url, {"category": "C0402"})) == {spread["g2_tree"].ticket_no}
    assert listed(client.get(url, {"state": "reported"})) == {spread["g3_reported"].ticket_no, spread["g4_reported"].ticket_no}
    assert listed(client.get(url, {"q": spread["g4_reported"].ticket_no})) == {spread["g4_reported"].ticket_no}
    assert listed(client.get(url, {"source": "hotline"})) == set()
    response = client.get(url, {"category": "nope"})
    assert response.status_code == 400 and "Unknown problem category" in text(response)


def test_filter_overdue(city, spread):
    late = Loop(city).to(State.DISPATCHED)
    client, url = login(city, "dispatcher"), reverse("web:cases")
    assert listed(client.get(url, {"overdue": "yes"})) == {late.ticket_no}
    assert late.ticket_no not in listed(client.get(url, {"overdue": "no"}))
    assert spread["g1_dispatched"].ticket_no in listed(client.get(url, {"overdue": "no"}))


def test_filter_date_range_counts_whole_local_days(city):
    # 2026-11-17 is T0's day in Shanghai; 23:30 local is still that day, 00:30 the next.
    on_day = Loop(city, t0=T0.replace(hour=23, minute=0)).to(State.REPORTED)
    next_day = Loop(city, t0=T0.replace(hour=23, minute=0) + dt.timedelta(hours=1)).to(State.REPORTED)
    before = Loop(city, t0=T0 - dt.timedelta(days=3)).to(State.REPORTED)
    client, url = login(city, "dispatcher"), reverse("web:cases")
    assert listed(client.get(url, {"reported_from": "2026-11-17", "reported_to": "2026-11-17"})) == {on_day.ticket_no}
    assert listed(client.get(url, {"reported_from": "2026-11-17"})) == {on_day.ticket_no, next_day.ticket_no}
    assert listed(client.get(url, {"reported_to": "2026-11-16"})) == {before.ticket_no}
    response = client.get(url, {"reported_from": "2026-11-18", "reported_to": "2026-11-17"})
    assert response.status_code == 400 and "The end date is before the start date." in text(response)
    assert client.get(url, {"reported_from": "yesterday"}).status_code == 400


def test_sort_by_deadline_and_paginate(city, spread, monkeypatch):
    monkeypatch.setattr(dispatch, "LIST_PAGE_SIZE", 1)
    client, url = login(city, "dispatcher"), reverse("web:cases")
    by_deadline = sorted(
        [spread["g1_dispatched"], spread["g2_tree"]], key=lambda c: Case.objects.get(pk=c.pk).deadline_at
    )
    first = client.get(url, {"sort": "deadline", "state": "dispatched"})
    assert listed(first) == {by_deadline[0].ticket_no}
    assert "Page 1 of 2" in text(first) and "state=dispatched&amp;sort=deadline&amp;page=2" in text(first)
    assert listed(client.get(url, {"sort": "deadline", "state": "dispatched", "page": 2})) == {by_deadline[1].ticket_no}
    assert listed(client.get(url, {"sort": "-deadline", "state": "dispatched"})) == {by_deadline[1].ticket_no}


def test_case_list_queries_do_not_grow_with_rows(city):
    loop = fresh_loop(city)
    client, url = login(city, "leader"), reverse("web:cases")
    loop.to(State.DISPATCHED)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(4):
        loop.to(State.DISPATCHED)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_rows_link_to_the_case_page_when_it_exists(city, spread):
    html = text(login(city, "dispatcher").get(reverse("web:cases")))
    case = spread["g3_reported"]
    try:
        url = reverse("web:case", kwargs={"case_id": case.pk})
    except NoReverseMatch:
        assert dispatch.case_link(case.pk) == ""
        assert f">{case.ticket_no}</td>" in html.replace("\n", "")
    else:
        assert f'href="{url}"' in html


# ---- saved views ----------------------------------------------------------------------------------


def test_saved_views_are_private_to_their_owner(city):
    owner, other = login(city, "dispatcher"), login(city, "leader")
    response = owner.post(reverse("web:saved_view_save"), {"name": "超期的垃圾", "querystring": "overdue=yes&category=E0102&page=3&evil=1"})
    view = SavedView.objects.get(owner=city.users["dispatcher"])
    assert view.querystring == "category=E0102&overdue=yes"
    assert response.status_code == 302 and response["Location"] == reverse("web:cases") + "?category=E0102&overdue=yes"
    assert "超期的垃圾" in text(owner.get(reverse("web:cases")))
    assert "超期的垃圾" not in text(other.get(reverse("web:cases")))
    assert other.post(reverse("web:saved_view_delete", kwargs={"view_id": view.pk})).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()
    assert owner.post(reverse("web:saved_view_delete", kwargs={"view_id": view.pk})).status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_saving_under_the_same_name_updates_and_a_blank_name_is_refused(city):
    client = login(city, "inspector")
    client.post(reverse("web:saved_view_save"), {"name": "mine", "querystring": "state=reported"})
    client.post(reverse("web:saved_view_save"), {"name": "mine", "querystring": "state=closed"})
    assert list(SavedView.objects.values_list("name", "querystring")) == [("mine", "state=closed")]
    response = client.post(reverse("web:saved_view_save"), {"name": "  ", "querystring": "state=reported"})
    assert response.status_code == 400 and SavedView.objects.count() == 1


def test_saved_views_need_a_login_and_a_post(city):
    assert Client().post(reverse("web:saved_view_save"), {"name": "x"}).status_code == 302
    assert login(city, "dispatcher").get(reverse("web:saved_view_save")).status_code == 405


# ---- the map -----------------------------------------------------------------------------------------


def test_map_page_points_at_the_filtered_geojson(city, spread):
    response = login(city, "dispatcher").get(reverse("web:dispatch_map"), {"overdue": "yes", "junk": "1"})
    assert response.status_code == 200
    html = text(response)
    assert f'data-points="{reverse("web:cases_geojson")}?overdue=yes"' in html
    assert 'data-boundaries="grid,community"' in html and "vendor/leaflet/leaflet.js" in html


def test_geojson_is_scoped_and_marks_overdue_cases(city, spread):
    late = Loop(city).to(State.DISPATCHED)
    data = json.loads(login(city, "dispatcher").get(reverse("web:cases_geojson")).content)
    by_id = {f["id"]: f for f in data["features"]}
    assert set(by_id) == {late.pk, spread["g1_dispatched"].pk, spread["g3_reported"].pk, spread["g2_tree"].pk}
    feature = by_id[late.pk]
    assert feature["properties"]["overdue"] is True and by_id[spread["g3_reported"].pk]["properties"]["overdue"] is False
    assert feature["geometry"]["coordinates"] == [pytest.approx(late.lon), pytest.approx(late.lat)]
    assert feature["properties"]["title"].startswith(late.ticket_no)
    assert set(feature["properties"]) == {"title", "url", "subtitle", "overdue"}
    b = json.loads(login(city, "dispatcher_b").get(reverse("web:cases_geojson")).content)
    assert {f["id"] for f in b["features"]} == {spread["g4_reported"].pk}
    only_late = json.loads(login(city, "dispatcher").get(reverse("web:cases_geojson"), {"overdue": "yes"}).content)
    assert {f["id"] for f in only_late["features"]} == {late.pk}


def test_geojson_with_bad_filters_is_a_400(city):
    response = login(city, "dispatcher").get(reverse("web:cases_geojson"), {"reported_from": "not-a-date"})
    assert response.status_code == 400 and "reported_from" in json.loads(response.content)["fields"]


# ---- extension requests ------------------------------------------------------------------------------


@pytest.fixture
def extension(city):
    loop = fresh_loop(city)
    case = loop.to(State.IN_PROGRESS)
    A.case_request_extension(case=case, by=city.users["unit_staff"], until=case.deadline_at + dt.timedelta(days=3), reason="需协调施工队", at=loop.tick())
    return Case.objects.get(pk=case.pk)


def decide(client: Client, case: Case, decision: str, note: str = "", *, version: int | None = None, htmx: bool = True):
    prefix = f"ext-{case.pk}"
    data = {f"{prefix}-version": case.version if version is None else version, f"{prefix}-decision": decision, f"{prefix}-note": note}
    return client.post(reverse("web:extension_decide", kwargs={"case_id": case.pk}), data, **(HTMX if htmx else {}))


def test_pending_extensions_are_listed_in_scope(city, extension):
    html = text(login(city, "dispatcher").get(reverse("web:extensions")))
    assert extension.ticket_no in html and "需协调施工队" in html
    assert extension.ticket_no not in text(login(city, "dispatcher_b").get(reverse("web:extensions")))


def test_approve_moves_the_deadline(city, extension):
    req = ExtensionRequest.objects.get(case=extension)
    response = decide(login(city, "dispatcher"), extension, "approve")
    assert response.status_code == 200 and "Extension approved." in text(response)
    extension.refresh_from_db()
    assert extension.deadline_at == req.requested_deadline_at and extension.extension_count == 1


def test_deny_needs_a_reason(city, extension):
    client, before = login(city, "dispatcher"), snapshot(extension)
    response = decide(client, extension, "deny", "")
    assert response.status_code == 400 and "Please give a reason for the denial." in text(response)
    assert snapshot(extension) == before and ExtensionRequest.objects.get(case=extension).decision == "pending"
    response = decide(client, extension, "deny", "工期可控，按原期限办结", htmx=False)
    assert response.status_code == 302
    req = ExtensionRequest.objects.get(case=extension)
    assert req.decision == "denied" and req.decision_note == "工期可控，按原期限办结"


def test_extension_decision_bad_inputs(city, extension):
    client, before = login(city, "dispatcher"), snapshot(extension)
    assert decide(client, extension, "maybe").status_code == 400
    stale = decide(client, extension, "approve", version=extension.version - 1)
    assert stale.status_code == 409 and "Someone else changed this case" in text(stale)
    assert decide(login(city, "dispatcher_b"), extension, "approve").status_code == 404
    assert snapshot(extension) == before
    decide(client, extension, "approve")
    extension.refresh_from_db()
    again = decide(client, extension, "approve")
    assert again.status_code == 400 and "There is no extension request waiting" in text(again)
