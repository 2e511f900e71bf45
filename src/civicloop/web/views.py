"""Public pages of the foundation: the front door and following a ticket without an account.

The role pages come with the web product (issue 3); these are thin layers over
``cases.selectors``.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from civicloop.cases import selectors
from civicloop.core.errors import NotFoundOrForbidden


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"stats": selectors.public_stats()})


@require_GET
def ticket_lookup(request: HttpRequest) -> HttpResponse:
    ticket_no = request.GET.get("ticket", "").strip()
    if ticket_no:
        return redirect("web:ticket_detail", ticket_no=ticket_no)
    return redirect("web:home")


@require_GET
def ticket_detail(request: HttpRequest, ticket_no: str) -> HttpResponse:
    try:
        view = selectors.public_case_by_ticket(ticket_no=ticket_no)
    except NotFoundOrForbidden as exc:
        raise Http404(str(exc)) from exc
    return render(request, "web/ticket.html", {"case": view})
