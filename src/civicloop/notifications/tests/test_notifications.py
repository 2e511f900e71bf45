"""Notifications as people receive them: real case actions, a real SMTP server, a real HTTP gateway.

Notices and mail leave on commit (``django_capture_on_commit_callbacks``); the task
backend runs jobs at once (ImmediateBackend), so what the server received is what a
deployment's worker would have sent.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from civicloop.cases import actions as A
from civicloop.cases.models import Case, State
from civicloop.cases.sweeps import sweep
from civicloop.notifications.models import Delivery, DeliveryStatus, Notice, NoticeKind
from civicloop.notifications.services import deliveries_retry
from civicloop.org.models import Role, RoleAssignment, User
from civicloop.testing import Loop, jpeg_upload

SITE = "https://civic.example.cn"


def _emails(city, **addresses: str) -> None:
    for key, address in addresses.items():
        User.objects.filter(pk=city.users[key].pk).update(email=address)
        city.users[key].refresh_from_db()


@pytest.fixture
def staff_mail(city):
    """Every staff persona gets an address, except cgj_staff, who has none (in-app only)."""
    keys = [k for k in city.users if k not in {"cgj_staff", "admin", "resident", "resident2"}]
    _emails(city, **{k: f"{k}@civicloop.test" for k in keys})
    return {k: f"{k}@civicloop.test" for k in keys}


# ---- staff -----------------------------------------------------------------------------------


def test_dispatch_emails_the_units_staff_in_chinese(city, smtp, staff_mail, django_capture_on_commit_callbacks):
    loop = Loop(city)
    city.units["hwc"].email = "hwc-office@civicloop.test"
    city.units["hwc"].save()
    case = loop.to(State.REGISTERED)
    smtp.clear()

    with django_capture_on_commit_callbacks(execute=True):
        case = A.case_dispatch(case=case, by=loop.u("dispatcher"), at=loop.tick())

    assert case.unit == city.units["hwc"]
    # The unit's staff and its mailbox; the dispatcher did it himself; nobody out of the unit.
    assert smtp.recipients() == {staff_mail["unit_staff"], "hwc-office@civicloop.test"}
    (mail,) = smtp.to(staff_mail["unit_staff"])
    assert mail.subject == f"新案件 {case.ticket_no}：市环境卫生管理处"
    assert "已派遣给市环境卫生管理处" in mail.text and "签收" in mail.text
    # Staff are sent to the case page behind their login, not the residents' ticket page.
    assert f"/cases/{case.pk}/" in mail.text and f"/t/{case.ticket_no}/" not in mail.text
    assert "市环境卫生管理处" in mail.html and "<table" in mail.html
    # Staff without an address (cgj_staff, of the bureau above) still see it in-app.
    notice = Notice.objects.get(case=case, recipient=loop.u("cgj_staff"))
    assert notice.text == mail.subject
    assert not Delivery.objects.filter(case=case, recipient=loop.u("cgj_staff")).exists()
    assert not Notice.objects.filter(case=case, recipient__in=[loop.u("park_staff"), loop.u("dispatcher_b")]).exists()


def test_staff_with_a_language_read_it_in_that_language(city, smtp, staff_mail, django_capture_on_commit_callbacks):
    User.objects.filter(pk=city.users["unit_staff"].pk).update(language="en")
    loop = Loop(city)
    with django_capture_on_commit_callbacks(execute=True):
        case = loop.to(State.DISPATCHED)
    (mail,) = smtp.to(staff_mail["unit_staff"])
    assert mail.subject == f"New case {case.ticket_no} for 市环境卫生管理处"
    assert "Please accept it" in mail.text


def test_a_returned_case_emails_the_area_dispatchers(city, smtp, staff_mail, django_capture_on_commit_callbacks):
    loop = Loop(city)
    case = loop.to(State.DISPATCHED)
    smtp.clear()
    with django_capture_on_commit_callbacks(execute=True):
        A.case_return(case=case, by=loop.u("unit_staff"), reason="不属于本单位职责", at=loop.tick())

    assert smtp.recipients() == {staff_mail["dispatcher"]}  # not dispatcher_b of the other district
    (mail,) = smtp.mails
    assert case.ticket_no in mail.subject and "退回" in mail.subject
    assert "不属于本单位职责" in mail.text
    notice = Notice.objects.get(case=case, recipient=loop.u("dispatcher"))
    assert notice.kind == NoticeKind.RETURNED and "不属于本单位职责" in notice.text


def test_sweeps_email_near_deadline_overdue_and_escalation_once(city, smtp, staff_mail, django_capture_on_commit_callbacks):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    smtp.clear()

    def run(at: dt.datetime) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            sweep(now=at)

    run(case.deadline_at - dt.timedelta(minutes=10))
    run(case.deadline_at - dt.timedelta(minutes=5))  # the same finding again: nobody hears twice
    (near,) = smtp.mails
    assert near.to == [staff_mail["unit_staff"]] and "到期" in near.subject

    smtp.clear()
    run(case.deadline_at + dt.timedelta(hours=1))
    run(case.deadline_at + dt.timedelta(hours=2))
    (overdue,) = smtp.mails
    assert overdue.to == [staff_mail["unit_staff"]] and "超期" in overdue.subject
    assert Notice.objects.filter(case=case, recipient=loop.u("unit_staff"), kind=NoticeKind.OVERDUE).count() == 1

    # One level per 48 h overdue: community, street, then the district, where the dispatcher works.
    smtp.clear()
    for hours in (49, 97, 145, 146):
        run(case.deadline_at + dt.timedelta(hours=hours))
    assert Case.objects.get(pk=case.pk).escalation_level == 3
    escalated = smtp.to(staff_mail["dispatcher"])
    assert len(escalated) == 1 and "老城区" in escalated[0].subject
    assert len(smtp.to(staff_mail["unit_staff"])) == 3  # the unit hears of each level
    assert not smtp.to(staff_mail["leader_b"]) and not smtp.to(staff_mail["dispatcher_b"])
    assert not smtp.to(staff_mail["leader"])  # the city level is not reached yet
    assert Notice.objects.get(case=case, recipient=loop.u("dispatcher"), kind=NoticeKind.ESCALATED)


def test_escalation_to_the_city_tells_its_leaders(city, smtp, staff_mail, django_capture_on_commit_callbacks):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    for _ in range(3):
        case = A.case_escalate(case=case, by=loop.u("dispatcher"), at=loop.tick())
    smtp.clear()
    with django_capture_on_commit_callbacks(execute=True):
        A.case_escalate(case=case, by=loop.u("dispatcher"), at=loop.tick())
    assert staff_mail["leader"] in smtp.recipients()
    assert staff_mail["campaign_office"] not in smtp.recipients()


# ---- residents -------------------------------------------------------------------------------


def test_residents_hear_each_step_and_get_the_rating_link(city, smtp, staff_mail, settings, django_capture_on_commit_callbacks):
    settings.CIVICLOOP_SITE_URL = SITE + "/"
    User.objects.filter(pk=city.users["resident"].pk).update(email="wang@example.cn", language="en")
    loop = Loop(city)
    d, g = loop.u("dispatcher"), loop.u("grid_worker")
    with django_capture_on_commit_callbacks(execute=True):
        mine = loop.report(by="resident")  # a logged-in resident with an address on his account
        theirs = loop.report(by=None, email="li@example.cn", name="李女士")  # anonymous; joins the same case
        case = theirs.case
        assert mine.case_id == case.pk
        case = A.case_register(case=case, by=d, at=loop.tick())
        case = A.case_dispatch(case=case, by=d, at=loop.tick())
        h = loop.handler_for(case)
        case = A.case_accept(case=case, by=h, at=loop.tick())
        case = A.case_feedback(case=case, by=h, note="垃圾已清运", photos=[jpeg_upload()], at=loop.tick())
        case = A.case_verify(case=case, by=g, passed=True, at=loop.tick())
        case = A.case_lookback(case=case, by=g, passed=True, at=case.lookback_due_at + dt.timedelta(hours=1))

    li = smtp.to("li@example.cn")
    assert [m.subject for m in li] == [
        f"您上报的问题 {theirs.ticket_no} 已立案",
        f"您上报的问题 {theirs.ticket_no} 已交由市环境卫生管理处办理",
        f"您上报的问题 {theirs.ticket_no} 已处置",
        f"您上报的问题 {theirs.ticket_no} 已结案，请评价处理结果",
        f"您上报的问题 {theirs.ticket_no} 回头看：未复发",
    ]
    assert "李女士" in li[0].text
    assert "垃圾已清运" in li[2].text
    closed = li[3]
    assert f"{SITE}/t/{theirs.ticket_no}/" in closed.text and f'href="{SITE}/t/{theirs.ticket_no}/"' in closed.html
    assert "满意" in closed.text

    wang = smtp.to("wang@example.cn")  # his own ticket, in his own language
    assert [m.subject for m in wang][3] == f"Your report {mine.ticket_no} is closed: please rate the result"
    assert f"{SITE}/t/{mine.ticket_no}/" in wang[3].text
    assert len(wang) == 5
    # Residents see no internal steps and get no in-app notices.
    assert not Notice.objects.filter(recipient=loop.u("resident")).exists()


def test_a_rejected_report_tells_the_resident_why(city, smtp, django_capture_on_commit_callbacks):
    loop = Loop(city)
    with django_capture_on_commit_callbacks(execute=True):
        report = loop.report(by=None, email="zhao@example.cn", detect_duplicates=False)
        A.case_reject(case=report.case, by=loop.u("dispatcher"), reason="不属于城市管理范围", at=loop.tick())
    (mail,) = smtp.to("zhao@example.cn")
    assert "不予立案" in mail.subject and "不属于城市管理范围" in mail.text


def test_reports_without_an_address_send_no_mail(city, smtp, django_capture_on_commit_callbacks):
    loop = Loop(city)
    with django_capture_on_commit_callbacks(execute=True):
        loop.to(State.CLOSED, by=None)
    assert smtp.mails == [] and not Delivery.objects.exists()


# ---- failures and other channels ------------------------------------------------------------


def test_smtp_failure_is_recorded_and_retried_without_losing_the_case_change(city, smtp, staff_mail, django_capture_on_commit_callbacks):
    loop = Loop(city)
    case = loop.to(State.REGISTERED)
    smtp.refuse = True
    with django_capture_on_commit_callbacks(execute=True):
        case = A.case_dispatch(case=case, by=loop.u("dispatcher"), at=loop.tick())

    assert Case.objects.get(pk=case.pk).state == State.DISPATCHED
    assert Notice.objects.filter(case=case, recipient=loop.u("unit_staff")).exists()
    failed = Delivery.objects.get(case=case, address=staff_mail["unit_staff"])
    assert failed.status == DeliveryStatus.RETRY and failed.attempts == 1
    assert "451" in failed.last_error and failed.next_attempt_at > timezone.now()
    assert smtp.mails == []

    # Not due yet: nothing is sent again.
    assert deliveries_retry() == 0
    smtp.refuse = False
    assert deliveries_retry(now=failed.next_attempt_at + dt.timedelta(seconds=1)) == 1
    (mail,) = smtp.mails
    assert case.ticket_no in mail.subject
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.SENT and failed.attempts == 2 and failed.sent_at is not None
    assert deliveries_retry(now=timezone.now() + dt.timedelta(days=1)) == 0  # sent once only


def test_a_delivery_is_given_up_after_the_last_attempt(city, smtp, staff_mail, settings, django_capture_on_commit_callbacks):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "NOTIFY_MAX_ATTEMPTS": 2}
    smtp.refuse = True
    loop = Loop(city)
    with django_capture_on_commit_callbacks(execute=True):
        case = loop.to(State.DISPATCHED)
    deliveries_retry(now=timezone.now() + dt.timedelta(hours=1))
    delivery = Delivery.objects.get(case=case, address=staff_mail["unit_staff"])
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 2
    assert deliveries_retry(now=timezone.now() + dt.timedelta(days=2)) == 0


def test_sms_and_wechat_go_through_their_http_gateways(city, smtp, gateway, settings, django_capture_on_commit_callbacks):
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "NOTIFY_CHANNELS": ["inapp", "email", "sms", "wechat"],
        "NOTIFY_SENDERS": {
            **settings.CIVICLOOP["NOTIFY_SENDERS"],
            "sms": {"CLASS": "civicloop.notifications.channels.SmsSender", "URL": gateway.url + "/sms",
                    "PAYLOAD": {"mobile": "$to", "content": "$short", "sign": "示范市"}},
            "wechat": {"CLASS": "civicloop.notifications.channels.WeChatSender", "URL": gateway.url + "/wechat"},
        },
    }
    gateway.answers["/wechat"] = (200, {"errcode": 40001, "errmsg": "invalid credential"})
    User.objects.filter(pk=city.users["unit_staff"].pk).update(phone="13800000001")
    loop = Loop(city)
    with django_capture_on_commit_callbacks(execute=True):
        case = loop.to(State.DISPATCHED)

    sms = [body for path, body in gateway.requests if path == "/sms"]
    assert sms == [{"mobile": "13800000001", "content": sms[0]["content"], "sign": "示范市"}]
    assert case.ticket_no in sms[0]["content"] and f"/cases/{case.pk}/" in sms[0]["content"]
    wechat = Delivery.objects.get(case=case, channel="wechat")
    assert wechat.status == DeliveryStatus.RETRY and "40001" in wechat.last_error
    assert Delivery.objects.get(case=case, channel="sms").status == DeliveryStatus.SENT
    assert smtp.mails == []  # unit_staff has a phone but no e-mail address


def test_only_inapp_when_no_other_channel_is_configured(city, smtp, staff_mail, settings, django_capture_on_commit_callbacks):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "NOTIFY_CHANNELS": ["inapp"]}
    loop = Loop(city)
    with django_capture_on_commit_callbacks(execute=True):
        case = loop.to(State.DISPATCHED)
    assert Notice.objects.filter(case=case, recipient=loop.u("unit_staff")).exists()
    assert smtp.mails == [] and not Delivery.objects.exists()


def test_escalation_area_supervisors_exactly(city, smtp, staff_mail, django_capture_on_commit_callbacks):
    """A leader bound to the street office hears when the case reaches the street, not before."""
    leader = User.objects.create_user(username="street_leader", password="pw", email="street@civicloop.test")
    RoleAssignment.objects.create(user=leader, role=Role.LEADER, area=city.areas["sA"])
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    with django_capture_on_commit_callbacks(execute=True):
        case = A.case_escalate(case=case, by=loop.u("dispatcher"), at=loop.tick())
        assert not smtp.to("street@civicloop.test")
        A.case_escalate(case=case, by=loop.u("dispatcher"), at=loop.tick())
    assert len(smtp.to("street@civicloop.test")) == 1


def test_on_the_database_queue_a_failed_delivery_comes_back_as_a_deferred_job(city, smtp, staff_mail, settings, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    from civicloop.notifications.services import delivery_send, notices_for_event

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    smtp.refuse = True
    loop = Loop(city)
    with django_capture_on_commit_callbacks(execute=True):
        case = loop.to(State.DISPATCHED)  # the notification job is queued, not run
    assert not Delivery.objects.exists()
    event = case.events.get(kind="dispatched")
    with django_capture_on_commit_callbacks(execute=True):
        notices_for_event(case_id=case.pk, event_id=event.pk)  # what the worker runs
    delivery = Delivery.objects.get(case=case, address=staff_mail["unit_staff"])
    assert DBTaskResult.objects.filter(task_path__endswith=".deliver", args_kwargs__kwargs__delivery_id=delivery.pk).count() == 1

    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.RETRY
    assert delivery_send(delivery_id=delivery.pk) == ""  # not due again yet: nobody sends it twice
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    jobs = DBTaskResult.objects.filter(task_path__endswith=".deliver", args_kwargs__kwargs__delivery_id=delivery.pk)
    assert jobs.filter(run_after=delivery.next_attempt_at).count() == 1


def test_co_handling_units_hear_of_the_case(city, smtp, staff_mail, django_capture_on_commit_callbacks):
    loop = Loop(city)
    case = loop.to(State.REGISTERED)
    smtp.clear()
    with django_capture_on_commit_callbacks(execute=True):
        case = A.case_dispatch(case=case, by=loop.u("dispatcher"), co_units=[city.units["jwc1"]], at=loop.tick())
    (mail,) = smtp.to(staff_mail["community_staff"])
    assert mail.subject == f"协办案件 {case.ticket_no}" and "协助市环境卫生管理处" in mail.text
    assert len(smtp.to(staff_mail["unit_staff"])) == 1
