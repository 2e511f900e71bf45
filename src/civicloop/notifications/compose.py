"""What each notification says, in the recipient's language.

``compose`` is called inside ``translation.override(recipient.language)``; every
sentence goes through gettext with named placeholders. Names of units, areas and
categories are data and appear as entered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from civicloop.cases.models import Case, CaseEvent
from civicloop.org.models import Unit

from .channels import Recipient


class Topic(StrEnum):
    # Staff.
    DISPATCHED = "dispatched"
    CO_UNIT = "co_unit"
    DEADLINE_NEAR = "deadline_near"
    OVERDUE = "overdue"
    RETURNED = "returned"
    ESCALATED = "escalated"
    LOOKBACK_DUE = "lookback_due"
    EVENT = "event"  # any other step: an in-app line, no e-mail
    # Residents who reported the case.
    REGISTERED = "r_registered"
    REJECTED = "r_rejected"
    VOIDED = "r_voided"
    SENT_TO_UNIT = "r_dispatched"
    HANDLED = "r_handled"
    CLOSED = "r_closed"
    LOOKBACK_PASSED = "r_lookback_passed"
    LOOKBACK_FAILED = "r_lookback_failed"


@dataclass
class Content:
    subject: str
    intro: str
    details: list[tuple[str, str]] = field(default_factory=list)
    action: str = ""
    link: str = ""
    # The one line shown in-app and sent by SMS / WeChat.
    line: str = ""

    def __post_init__(self) -> None:
        if not self.line:
            self.line = self.subject


def site_url() -> str:
    return str(getattr(settings, "CIVICLOOP_SITE_URL", "http://127.0.0.1:8000")).rstrip("/")


def ticket_link(ticket_no: str) -> str:
    return site_url() + reverse("web:ticket_detail", kwargs={"ticket_no": ticket_no})


def case_link(case: Case) -> str:
    """Staff open the one case page (behind their login); residents follow the ticket."""
    return site_url() + reverse("web:case", kwargs={"case_id": case.pk})


def _when(at: dt.datetime | None) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else _("no deadline")


def _category(case: Case) -> str:
    cat = case.category
    if translation.get_language() == "en" and cat.name_en:
        return cat.name_en
    return f"{cat.big_name} · {cat.name}"


def _unit_name(case: Case, event: CaseEvent | None) -> str:
    if event is not None and event.data.get("unit_name"):
        return str(event.data["unit_name"])
    if case.unit is not None:
        return case.unit.name
    if event is not None and event.actor_unit is not None:
        return event.actor_unit.name
    if event is not None and event.data.get("unit"):  # a returned case: the unit it left
        unit = Unit.objects.filter(pk=event.data["unit"]).first()
        if unit is not None:
            return unit.name
    return _("the unit responsible")


def _case_details(case: Case, *, deadline: bool = True) -> list[tuple[str, str]]:
    rows = [(_("Ticket"), case.ticket_no), (_("Category"), _category(case))]
    if case.address:
        rows.append((_("Address"), case.address))
    rows.append((_("Description"), case.description[:500]))
    if deadline and case.deadline_at:
        rows.append((_("Deadline"), _when(case.deadline_at)))
    return rows


def compose(topic: Topic, *, case: Case, recipient: Recipient, event: CaseEvent | None = None) -> Content:
    """The message about ``topic`` for one recipient; call under the recipient's language."""
    ticket = recipient.ticket_no if recipient.resident else case.ticket_no
    link = ticket_link(ticket) if recipient.resident else case_link(case)
    v: dict[str, Any] = {"ticket": ticket, "unit": _unit_name(case, event), "deadline": _when(case.deadline_at)}
    note = event.note if event is not None else ""
    follow = _("Follow the case:")

    if topic == Topic.DISPATCHED:
        if event is not None and event.kind == "reassigned":
            intro = _("Case %(ticket)s has been reassigned to %(unit)s. Please accept it and have it handled by %(deadline)s.") % v
        else:
            intro = _("Case %(ticket)s has been dispatched to %(unit)s. Please accept it and have it handled by %(deadline)s.") % v
        return Content(_("New case %(ticket)s for %(unit)s") % v, intro, _case_details(case), follow, link)
    if topic == Topic.CO_UNIT:
        v["main"] = case.unit.name if case.unit is not None else _("the unit responsible")
        return Content(_("Co-handling case %(ticket)s") % v,
                       _("Your unit is asked to help %(main)s handle case %(ticket)s (co-handling).") % v, _case_details(case), follow, link)
    if topic == Topic.DEADLINE_NEAR:
        return Content(_("Case %(ticket)s is due at %(deadline)s") % v,
                       _("Case %(ticket)s is due at %(deadline)s and has not been reported handled yet.") % v,
                       _case_details(case), follow, link)
    if topic == Topic.OVERDUE:
        return Content(_("Case %(ticket)s is overdue") % v,
                       _("Case %(ticket)s passed its deadline (%(deadline)s) without being reported handled. It has been urged, and it will be escalated if it stays overdue.") % v,
                       _case_details(case), follow, link)
    if topic == Topic.RETURNED:
        v["reason"] = note
        return Content(_("Case %(ticket)s was returned by %(unit)s") % v,
                       _("%(unit)s returned case %(ticket)s. Reason: %(reason)s. Please dispatch it again.") % v,
                       _case_details(case, deadline=False), follow, link,
                       line=_("%(ticket)s returned by %(unit)s: %(reason)s") % v)
    if topic == Topic.ESCALATED:
        data = event.data if event is not None else {}
        v.update(area=data.get("area_name", ""), level=data.get("level", case.escalation_level))
        return Content(_("Case %(ticket)s escalated to %(area)s") % v,
                       _("Case %(ticket)s, handled by %(unit)s, is overdue and has been escalated to %(area)s (level %(level)s) for supervision.") % v,
                       _case_details(case), follow, link)
    if topic == Topic.LOOKBACK_DUE:
        return Content(_("Look-back due for %(ticket)s.") % v, "", [], follow, link)
    if topic == Topic.EVENT:
        what = event.get_kind_display() if event is not None else ""
        return Content(_("%(ticket)s · %(what)s") % {"ticket": ticket, "what": what}, "", [], follow, link)

    # Residents: plain words, their own ticket number, the public page to follow it.
    mine = [(_("Ticket"), ticket), (_("Category"), _category(case))]
    if topic == Topic.REGISTERED:
        return Content(_("Your report %(ticket)s has been registered") % v,
                       _("Thank you. Your report %(ticket)s has been registered as a case and will be sent to the unit responsible.") % v,
                       mine, follow, link)
    if topic == Topic.REJECTED:
        v["reason"] = note
        return Content(_("Your report %(ticket)s was not registered") % v,
                       _("Your report %(ticket)s was not registered. Reason: %(reason)s") % v, mine, follow, link)
    if topic == Topic.VOIDED:
        v["reason"] = note
        return Content(_("Your report %(ticket)s was voided") % v,
                       _("The case of your report %(ticket)s was voided. Reason: %(reason)s") % v, mine, follow, link)
    if topic == Topic.SENT_TO_UNIT:
        return Content(_("Your report %(ticket)s has been sent to %(unit)s") % v,
                       _("Your report %(ticket)s has been sent to %(unit)s, which is to handle it by %(deadline)s.") % v,
                       mine, follow, link)
    if topic == Topic.HANDLED:
        v["note"] = note
        return Content(_("Your report %(ticket)s has been handled") % v,
                       _("%(unit)s reports the problem you reported (%(ticket)s) as handled: “%(note)s”. It will now be checked on site.") % v,
                       mine, follow, link)
    if topic == Topic.CLOSED:
        return Content(_("Your report %(ticket)s is closed: please rate the result") % v,
                       _("The problem you reported (%(ticket)s) was checked on site and the case is closed.") % v,
                       mine, _("Please tell us whether you are satisfied with the result:"), link)
    if topic == Topic.LOOKBACK_PASSED:
        return Content(_("Look-back on your report %(ticket)s: still fixed") % v,
                       _("Some days after closing, we went back to the problem you reported (%(ticket)s): it is still fixed.") % v,
                       mine, follow, link)
    if topic == Topic.LOOKBACK_FAILED:
        v.update(reason=note, new=(event.data.get("recurrence", "") if event is not None else ""))
        return Content(_("Look-back on your report %(ticket)s: the problem came back") % v,
                       _("We went back to the problem you reported (%(ticket)s) and found it had come back: %(reason)s. It is being handled again as case %(new)s.") % v,
                       mine, follow, link)
    raise ValueError(f"unknown topic {topic}")


def render(content: Content, *, recipient: Recipient) -> tuple[str, str]:
    """Plain text and HTML bodies; call under the recipient's language."""
    context = {"name": recipient.name, "content": content}
    return (
        render_to_string("notifications/email.txt", context),
        render_to_string("notifications/email.html", context),
    )
