"""One endpoint per workflow action: each one's happy path through the real engine, and the
refusals every client meets — a stale copy (409), a state that does not allow it (400), a
role that may not (403), a case outside the caller's scope (404), missing or wrong fields
(400) — with nothing written when refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from civicloop.cases import actions as A
from civicloop.cases.models import Case, CaseEvent, CaseUnit, ExtensionRequest, State
from civicloop.testing import jpeg_upload

pytestmark = pytest.mark.django_db


def act(
    client: Any,
    case: Case,
    action: str,
    data: dict[str, Any] | None = None,
    *,
    version: int | None = None,
    multipart: bool = False,
) -> Any:
    current = Case.objects.get(pk=case.pk)
    body = {"version": current.version if version is None else version, **(data or {})}
    return client.post(
        f"/api/v1/cases/{case.pk}/actions/{action}/",
        body,
        format="multipart" if multipart else "json",
    )


def snapshot(case: Case) -> tuple[Any, ...]:
    c = Case.objects.get(pk=case.pk)
    return (
        c.state,
        c.version,
        c.unit_id,
        c.category_id,
        c.deadline_at,
        c.urge_count,
        c.rework_count,
        c.escalation_level,
        CaseEvent.objects.filter(case=c).count(),
        c.photos.count(),
        ExtensionRequest.objects.filter(case=c).count(),
        Case.objects.count(),
    )


def ok(response: Any, state: str) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == state
    return body


# ---- every action's happy path -----------------------------------------------------------------


def test_intake_register_reclassify_dispatch(api, city, loop):
    d = api("dispatcher")
    case = loop.to(State.REPORTED)
    body = ok(act(d, case, "register", {"category": "E0103", "note": "已核实"}), "registered")
    assert body["category"]["code"] == "E0103" and body["version"] == case.version + 1
    ok(act(d, case, "reclassify", {"category": "E0102"}), "registered")
    body = ok(
        act(d, case, "dispatch", {"unit": "U-CGJ", "co_units": ["U-YLJ"], "note": "请尽快处理"}),
        "dispatched",
    )
    assert body["unit"]["code"] == "U-CGJ" and body["deadline_at"]
    assert CaseUnit.objects.filter(
        case=case, unit=city.units["ylj"], role="assist", active=True
    ).exists()


def test_dispatch_without_a_unit_follows_the_routing_rule(api, loop):
    case = loop.to(State.REGISTERED)
    body = ok(act(api("dispatcher"), case, "dispatch"), "dispatched")
    assert body["unit"]["code"] == "U-HWC"  # event 01 → sanitation


def test_reject_and_void(api, loop):
    d = api("dispatcher")
    ok(act(d, loop.to(State.REPORTED), "reject", {"reason": "重复上报"}), "rejected")
    ok(act(d, loop.to(State.REGISTERED), "void", {"reason": "误报"}), "voided")


def test_reassign_and_add_a_co_unit(api, loop):
    d = api("dispatcher")
    case = loop.to(State.DISPATCHED)
    ok(act(d, case, "add-co-unit", {"unit": "U-C1"}), "dispatched")
    body = ok(act(d, case, "reassign", {"unit": "U-CGJ", "reason": "职责调整"}), "dispatched")
    assert body["unit"]["code"] == "U-CGJ"


def test_the_unit_accepts_asks_for_more_time_and_reports_back_with_photos(api, loop):
    u = api("unit_staff")
    case = loop.to(State.DISPATCHED)
    ok(act(u, case, "accept", {"note": "收到"}), "in_progress")
    until = (timezone.now() + dt.timedelta(days=20)).isoformat()
    ok(act(u, case, "request-extension", {"until": until, "reason": "需要协调物业"}), "in_progress")
    assert ExtensionRequest.objects.get(case=case).decision == "pending"
    body = ok(
        act(
            u,
            case,
            "feedback",
            {"note": "已清运", "photos": [jpeg_upload("after.jpg")]},
            multipart=True,
        ),
        "handled",
    )
    assert (
        body["handled_at"] and Case.objects.get(pk=case.pk).photos.filter(kind="after").count() == 1
    )


def test_the_unit_returns_a_case_that_is_not_its_own(api, loop):
    case = loop.to(State.DISPATCHED)
    body = ok(act(api("unit_staff"), case, "return", {"reason": "不属于本单位职责"}), "returned")
    assert body["unit"] is None and body["return_count"] == 1


def test_the_dispatcher_decides_an_extension_defers_and_resumes(api, city, loop):
    d = api("dispatcher")
    case = loop.to(State.IN_PROGRESS)
    A.case_request_extension(
        case=case,
        by=loop.handler_for(case),
        until=timezone.now() + dt.timedelta(days=20),
        reason="材料未到",
        at=loop.tick(),
    )
    body = ok(act(d, case, "decide-extension", {"approve": True}), "in_progress")
    assert body["extension_count"] == 1
    ok(act(d, case, "defer", {"reason": "冬季停工"}), "deferred")
    ok(act(d, case, "resume"), "in_progress")


def test_urge_and_escalate(api, loop):
    d = api("dispatcher")
    case = loop.to(State.IN_PROGRESS)
    assert ok(act(d, case, "urge", {"note": "请加快"}), "in_progress")["urge_count"] == 1
    assert ok(act(d, case, "escalate"), "in_progress")["escalation_level"] == 1


def test_verify_passes_or_sends_back_for_rework(api, loop):
    g = api("grid_worker")
    case = loop.to(State.HANDLED)
    body = ok(
        act(
            g,
            case,
            "verify",
            {"passed": False, "note": "还有垃圾", "photos": [jpeg_upload()]},
            multipart=True,
        ),
        "in_progress",
    )
    assert body["rework_count"] == 1
    case = loop.to(State.HANDLED)
    assert ok(act(g, case, "verify", {"passed": True}), "closed")["closed_at"]


def test_lookback_passes_or_opens_a_recurrence(api, loop):
    g = api("grid_worker")
    case = loop.to(State.CLOSED)
    Case.objects.filter(pk=case.pk).update(lookback_due_at=timezone.now() - dt.timedelta(hours=1))
    ok(act(g, case, "lookback", {"passed": True}), "lookback_passed")
    case = loop.to(State.CLOSED)
    Case.objects.filter(pk=case.pk).update(lookback_due_at=timezone.now() - dt.timedelta(hours=1))
    before = Case.objects.count()
    ok(act(g, case, "lookback", {"passed": False, "note": "垃圾又堆起来了"}), "recurred")
    assert Case.objects.count() == before + 1


def test_a_reporter_with_an_account_rates_the_result(api, loop):
    case = loop.to(State.CLOSED, by="resident")
    body = ok(act(api("resident"), case, "rate", {"rating": "satisfied"}), "closed")
    assert body["rating"] == "satisfied"


# ---- what the caller may do now ------------------------------------------------------------------


def test_the_offer_follows_state_and_role(api, loop):
    case = loop.to(State.DISPATCHED)
    offer = api("unit_staff").get(f"/api/v1/cases/{case.pk}/actions/").json()
    assert offer["state"] == "dispatched" and offer["version"] == case.version
    assert {a["action"] for a in offer["actions"]} == {"accept", "return"}
    assert "Reassign" in offer["not_yours"]
    offer = api("dispatcher").get(f"/api/v1/cases/{case.pk}/actions/").json()
    assert {a["action"] for a in offer["actions"]} == {
        "reassign",
        "add-co-unit",
        "urge",
        "escalate",
    }
    handled = loop.to(State.HANDLED)
    offer = api("grid_worker").get(f"/api/v1/cases/{handled.pk}/actions/").json()
    verify = {(a["action"], a["workflow_action"]): a["params"] for a in offer["actions"]}
    assert verify == {
        ("verify", "verify_pass"): {"passed": True},
        ("verify", "verify_fail"): {"passed": False},
    }
    assert offer["actions"][0]["url"].endswith(f"/api/v1/cases/{handled.pk}/actions/verify/")
    assert api("leader").get(f"/api/v1/cases/{handled.pk}/actions/").json()["actions"] == []


def test_the_offer_hides_what_the_engine_would_refuse_and_says_when_the_lookback_is_due(api, loop):
    case = loop.to(State.CLOSED)
    Case.objects.filter(pk=case.pk).update(lookback_due_at=timezone.now() + dt.timedelta(days=3))
    offer = api("grid_worker").get(f"/api/v1/cases/{case.pk}/actions/").json()
    assert offer["actions"] == [] and "look-back is due" in offer["hint"]


# ---- refusals ---------------------------------------------------------------------------------------


def test_a_stale_version_is_a_conflict_and_changes_nothing(api, loop):
    case = loop.to(State.REGISTERED)
    stale = case.version
    # Someone else changes the case meanwhile.
    A.case_reclassify(case=case, by=loop.dispatcher_for(case), category="E0103", at=loop.tick())
    before = snapshot(case)
    response = act(api("dispatcher"), case, "dispatch", version=stale)
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "conflict" and "Reload" in response.json()["message"]
    assert snapshot(case) == before
    # With the version read again, it goes through.
    assert act(api("dispatcher"), case, "dispatch").status_code == 200


def test_an_action_the_state_does_not_allow_is_400(api, loop):
    case = loop.to(State.REPORTED)
    before = snapshot(case)
    response = act(api("dispatcher"), case, "dispatch")
    assert response.status_code == 400 and response.json()["code"] == "illegal_transition"
    assert snapshot(case) == before


def test_a_role_that_may_not_is_403_and_out_of_scope_is_404(api, loop):
    case = loop.to(State.DISPATCHED)
    before = snapshot(case)
    assert act(api("dispatcher"), case, "accept").status_code == 403  # the unit's action
    assert act(api("leader"), case, "reassign", {"unit": "U-CGJ", "reason": "x"}).status_code == 403
    assert (
        act(api("dispatcher_b"), case, "reassign", {"unit": "U-CGJ", "reason": "x"}).status_code
        == 404
    )
    assert act(api("park_staff"), case, "accept").status_code == 404
    assert act(api("outsider"), case, "accept").status_code == 404
    assert snapshot(case) == before


def test_nobody_verifies_his_own_units_work(api, loop):
    case = loop.to(State.HANDLED)
    before = snapshot(case)
    assert act(api("unit_staff"), case, "verify", {"passed": True}).status_code == 403
    assert snapshot(case) == before


@pytest.mark.parametrize(
    ("action", "state", "data", "field"),
    [
        ("register", State.REPORTED, {"category": "Z9999"}, "category"),
        ("reclassify", State.REGISTERED, {}, "category"),
        ("reject", State.REPORTED, {}, "reason"),
        ("reject", State.REPORTED, {"reason": "   "}, "reason"),
        ("reject", State.REPORTED, {"reason": "x" * 2001}, "reason"),
        ("dispatch", State.REGISTERED, {"unit": "U-NOPE"}, "unit"),
        ("dispatch", State.REGISTERED, {"co_units": ["U-NOPE"]}, "co_units"),
        ("dispatch", State.REGISTERED, {"unit": "U-CGJ", "co_units": ["U-CGJ"]}, "co_units"),
        ("dispatch", State.REGISTERED, {"co_units": "U-CGJ"}, "co_units"),
        ("reassign", State.DISPATCHED, {"reason": "x"}, "unit"),
        ("reassign", State.DISPATCHED, {"unit": "U-HWC", "reason": "x"}, "unit"),
        ("defer", State.IN_PROGRESS, {"reason": ""}, "reason"),
        ("decide-extension", State.IN_PROGRESS, {"approve": "maybe"}, "approve"),
        ("verify", State.HANDLED, {"note": "x"}, "passed"),
        ("verify", State.HANDLED, {"passed": False}, "note"),
        ("lookback", State.CLOSED, {}, "passed"),
        ("rate", State.CLOSED, {"rating": "great"}, "rating"),
        ("urge", State.IN_PROGRESS, {"note": ["a", "b"]}, "note"),
    ],
)
def test_missing_or_wrong_fields_are_400_naming_the_field(api, loop, action, state, data, field):
    case = loop.to(state)
    persona = {"verify": "grid_worker", "lookback": "grid_worker", "rate": "resident"}.get(
        action, "dispatcher"
    )
    before = snapshot(case)
    response = act(api(persona), case, action, data)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field, response.json()
    assert snapshot(case) == before


def test_feedback_needs_a_note_and_a_real_photo(api, loop):
    from django.core.files.uploadedfile import SimpleUploadedFile

    u = api("unit_staff")
    case = loop.to(State.IN_PROGRESS)
    before = snapshot(case)
    response = act(u, case, "feedback", {"note": "已处理"})
    assert response.status_code == 400 and response.json()["field"] == "photos"
    response = act(u, case, "feedback", {"photos": [jpeg_upload()]}, multipart=True)
    assert response.status_code == 400 and response.json()["field"] == "note"
    fake = SimpleUploadedFile("fake.jpg", b"GIF89a not really", content_type="image/jpeg")
    response = act(u, case, "feedback", {"note": "已处理", "photos": [fake]}, multipart=True)
    assert response.status_code == 400 and response.json() | {"message": ""} == {
        "code": "bad_file",
        "message": "",
        "field": "photos",
    }
    assert snapshot(case) == before


@pytest.mark.parametrize("body", [None, {}, {"version": "two"}, {"version": 0}, {"version": None}])
def test_the_version_is_required_and_a_positive_integer(api, loop, body):
    case = loop.to(State.REPORTED)
    before = snapshot(case)
    response = api("dispatcher").post(
        f"/api/v1/cases/{case.pk}/actions/register/", body, format="json"
    )
    assert response.status_code == 400 and response.json()["field"] == "version"
    assert snapshot(case) == before


def test_bad_json_is_400_and_an_unknown_action_404(api, loop):
    case = loop.to(State.REPORTED)
    c = api("dispatcher")
    response = c.post(
        f"/api/v1/cases/{case.pk}/actions/register/", data="{oops", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    response = c.post(f"/api/v1/cases/{case.pk}/actions/teleport/", {"version": 1}, format="json")
    assert response.status_code == 404


def test_request_extension_refuses_a_deadline_in_the_past_or_without_a_date(api, loop):
    u = api("unit_staff")
    case = loop.to(State.IN_PROGRESS)
    before = snapshot(case)
    response = act(
        u, case, "request-extension", {"until": "2020-01-01T00:00:00+08:00", "reason": "x"}
    )
    assert response.status_code == 400 and response.json()["field"] == "until"
    response = act(u, case, "request-extension", {"until": "next week", "reason": "x"})
    assert response.status_code == 400 and response.json()["field"] == "until"
    assert snapshot(case) == before
