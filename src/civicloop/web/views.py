"""Public pages: the front door and following a ticket without an account.

Thin layers over ``cases.selectors``; the resident's other pages (reporting, rating,
the map of open problems) are in ``web/resident.py``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from civicloop.cases import selectors
from civicloop.cases.models import State
from civicloop.core.errors import NotFoundOrForbidden

# The loop in plain words, as the resident follows it: which of these steps the case has reached.
STAGES = (
    gettext_lazy("Received"),
    gettext_lazy("Registered"),
    gettext_lazy("With the unit"),
    gettext_lazy("Fixed, being checked"),
    gettext_lazy("Closed"),
)
STAGE_OF_STATE = {
    State.REPORTED: 0,
    State.REGISTERED: 1,
    State.RETURNED: 1,
    State.DISPATCHED: 2,
    State.IN_PROGRESS: 2,
    State.DEFERRED: 2,
    State.HANDLED: 3,
    State.CLOSED: 4,
    State.LOOKBACK_PASSED: 4,
    State.RECURRED: 4,
}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"stats": selectors.public_stats()})


@require_GET
def ticket_lookup(request: HttpRequest) -> HttpResponse:
    ticket_no = request.GET.get("ticket", "").strip()
    if ticket_no:
        return redirect("web:ticket_detail", ticket_no=ticket_no)
    return redirect("web:home")


def ticket_missing(request: HttpRequest, ticket_no: str, message: str) -> HttpResponse:
    """The 404 of a ticket number, in the user's language, with the lookup form to try again."""
    return render(request, "web/resident/ticket_missing.html", {"ticket_no": ticket_no, "message": message}, status=404)


def _stages(state: str) -> list[dict[str, Any]]:
    reached = STAGE_OF_STATE.get(State(state), -1) if state in State.values else -1
    return [{"label": label, "done": i < reached, "current": i == reached} for i, label in enumerate(STAGES)]


def render_ticket(request: HttpRequest, view: selectors.PublicCase, *, rate_form: Any = None, status: int = 200) -> HttpResponse:
    """The ticket page; ``rate_form`` is a bound form when a rating was refused."""
    from .resident_forms import RateForm

    if rate_form is None and view.closed:
        rate_form = RateForm(initial={"rating": view.rating} if view.rating else None)
    photo_pairs = []
    for i in range(max(len(view.before), len(view.after))):
        photo_pairs.append((view.before[i] if i < len(view.before) else None, view.after[i] if i < len(view.after) else None))
    context = {
        "case": view,
        "stages": _stages(view.state),
        "discarded": view.state in {State.REJECTED, State.VOIDED},
        "photo_pairs": photo_pairs,
        "rate_form": rate_form,
    }
    return render(request, "web/ticket.html", context, status=status)


@require_GET
def ticket_detail(request: HttpRequest, ticket_no: str) -> HttpResponse:
    try:
        view = selectors.public_case_by_ticket(ticket_no=ticket_no)
    except NotFoundOrForbidden as exc:
        return ticket_missing(request, ticket_no, str(exc))
    return render_ticket(request, view)
