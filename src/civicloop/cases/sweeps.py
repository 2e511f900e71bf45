"""What the worker does on its rounds: remind, urge, escalate, call for look-backs.

Overdue status itself never depends on this: selectors compute it from the
deadline. These sweeps only act on it, and every one of them is idempotent, so
two workers (or a worker that was down for a day) do the right thing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.core import workcal
from civicloop.core.errors import CivicError
from civicloop.org import policy
from civicloop.org.models import Role

from . import actions
from .models import Case, CaseEvent, EventKind, State
from .workflow import CLOCK_RUNNING

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    reminded: int = 0
    urged: int = 0
    escalated: int = 0
    lookbacks_called: int = 0


def sweep(*, now: dt.datetime | None = None) -> SweepResult:
    from civicloop.notifications.models import NoticeKind
    from civicloop.notifications.services import area_staff_for, notice_send, unit_staff_for

    now = now or timezone.now()
    result = SweepResult()
    running = Case.objects.filter(state__in=list(CLOCK_RUNNING), deadline_at__isnull=False).select_related("category", "unit")

    # Remind the unit when the configured share of the time limit is left.
    fraction = float(settings.CIVICLOOP["REMIND_AT_REMAINING_FRACTION"])
    for case in running.filter(deadline_at__gt=now):
        left = workcal.remaining_fraction(start=case.dispatched_at or case.reported_at, deadline=case.deadline_at, now=now, kind=case.category.time_limit_kind)
        if left <= fraction:
            text = _("%(ticket)s is due at %(deadline)s.") % {"ticket": case.ticket_no, "deadline": timezone.localtime(case.deadline_at).strftime("%m-%d %H:%M")}
            result.reminded += notice_send(users=unit_staff_for(case), case=case, kind=NoticeKind.DEADLINE_NEAR, key=f"near:{case.deadline_at.isoformat()}", text=text)

    # Urge once when a case goes overdue (per deadline: an approved extension starts afresh).
    urged_since = CaseEvent.objects.filter(case=OuterRef("pk"), kind=EventKind.URGED, actor__isnull=True, created_at__gte=OuterRef("deadline_at"))
    for case in running.filter(deadline_at__lte=now).exclude(Exists(urged_since)):
        try:
            actions.case_urge(case=case, by=policy.SYSTEM, note=_("Overdue: urged automatically."), at=now)
            result.urged += 1
        except CivicError as exc:  # changed meanwhile: the next round sees it again
            log.info("urge %s skipped: %s", case.ticket_no, exc)

    # Escalate one level per period overdue.
    period = dt.timedelta(hours=float(settings.CIVICLOOP["ESCALATE_AFTER_OVERDUE_HOURS"]))
    for case in running.filter(deadline_at__lte=now - period, escalation_level__lt=4):
        due_level = min(4, int((now - case.deadline_at) / period))
        if case.escalation_level >= due_level:
            continue
        try:
            actions.case_escalate(case=case, by=policy.SYSTEM, note=_("Overdue: escalated automatically."), at=now)
            result.escalated += 1
        except CivicError as exc:
            log.info("escalate %s skipped: %s", case.ticket_no, exc)

    # Call the grid workers to the look-backs that have fallen due.
    for case in Case.objects.filter(state=State.CLOSED, lookback_due_at__lte=now):
        text = _("Look-back due for %(ticket)s.") % {"ticket": case.ticket_no}
        result.lookbacks_called += notice_send(users=area_staff_for(case, {Role.GRID_WORKER}), case=case, kind=NoticeKind.LOOKBACK_DUE, key="lookback", text=text)
    return result
