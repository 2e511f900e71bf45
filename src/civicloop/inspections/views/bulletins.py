"""Inspection pages: bulletins (通报) (see docs/architecture.md, "inspections").

* ``/inspections/rounds/<id>/bulletin/`` (``inspections:bulletin``): the printable bulletin
  of a published round (A4; navigation hidden in print), the DOCX files written for it with
  their status, and for the round's owners the button that writes a new one;
  ``inspections:bulletin_request`` (POST) queues it, ``inspections:bulletin_status`` is the
  row htmx polls while the job runs.
* ``/inspections/bulletins/<id>/download/`` (``inspections:bulletin_download``): the DOCX.

Everything is for the users who may see the round's results (``policy.round_results_visible``)
once the round is published; before that the page does not exist for its readers, and the
owners are told to publish first. Thin: ``bulletins`` builds and writes, ``org.policy`` decides.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from civicloop.core.errors import CivicError, NotFoundOrForbidden
from civicloop.org import policy
from civicloop.web.common import http_status

from .. import bulletins
from ..models import Bulletin, BulletinStatus, Round, RoundStatus

TEMPLATE = "inspections/bulletins/bulletin.html"


def _round(request: HttpRequest, round_id: int) -> Round:
    """The round if the user may read its results; 404 for missing, hidden and not yet readable."""
    try:
        rnd = policy.access_round(request.user, round_id)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc
    if not policy.round_results_visible(request.user, rnd):
        raise Http404(_("No such inspection round, or it is not yours to see."))
    return rnd


def _bulletin(request: HttpRequest, bulletin_id: int) -> Bulletin:
    try:
        return bulletins.access_bulletin(request.user, bulletin_id)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc


def _page(request: HttpRequest, rnd: Round, *, error: str = "", status: int = 200) -> HttpResponse:
    owner = policy.may_manage_round(request.user, rnd)
    context: dict[str, Any] = {
        "round": rnd,
        "owner": owner,
        "error": error,
        "content": None,
        "bulletins": bulletins.round_bulletins(rnd),
        "writing": False,
    }
    context["writing"] = any(b.status in bulletins.ACTIVE for b in context["bulletins"])
    if rnd.status != RoundStatus.PUBLISHED:
        context["unpublished"] = True
        return render(request, TEMPLATE, context, status=status if status != 200 else 409)
    try:
        context["content"] = bulletins.bulletin_content(rnd)
    except CivicError as exc:
        context["content_error"] = exc.message
        status = status if status != 200 else 400
    return render(request, TEMPLATE, context, status=status)


@require_GET
@login_required
def bulletin(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    if rnd.status != RoundStatus.PUBLISHED and not policy.may_manage_round(request.user, rnd):
        # Readers (the round's inspectors included) meet the bulletin once the round is published.
        raise Http404(_("No such inspection round, or it is not yours to see."))
    return _page(request, rnd)


@require_POST
@login_required
def bulletin_request(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _round(request, round_id)
    if rnd.status != RoundStatus.PUBLISHED and not policy.may_manage_round(request.user, rnd):
        raise Http404(_("No such inspection round, or it is not yours to see."))
    try:
        bulletins.bulletin_request(round=rnd, by=request.user)
    except CivicError as exc:
        return _page(request, rnd, error=exc.message, status=http_status(exc))
    messages.success(
        request, _("The bulletin is being written; it appears below when it is ready.")
    )
    return redirect("inspections:bulletin", round_id=rnd.pk)


@require_GET
@login_required
def bulletin_status(request: HttpRequest, bulletin_id: int) -> HttpResponse:
    """One bulletin's row: htmx polls it until the job is finished (then the row stops polling)."""
    item = _bulletin(request, bulletin_id)
    response = render(request, "inspections/bulletins/_row.html", {"b": item})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
def bulletin_download(request: HttpRequest, bulletin_id: int) -> HttpResponseBase:
    item = _bulletin(request, bulletin_id)
    if item.status != BulletinStatus.DONE or not item.document:
        raise Http404(_("This bulletin has no file (yet)."))
    try:
        handle = item.document.open("rb")
    except FileNotFoundError:
        raise Http404(_("The file of this bulletin is gone; write it again.")) from None
    name = f"{item.title or 'bulletin'}-{item.pk}.docx".replace("/", "-")
    return FileResponse(handle, as_attachment=True, filename=name, content_type=bulletins.DOCX)


urlpatterns: list[URLPattern] = [
    path("inspections/rounds/<int:round_id>/bulletin/", bulletin, name="bulletin"),
    path(
        "inspections/rounds/<int:round_id>/bulletin/write/",
        bulletin_request,
        name="bulletin_request",
    ),
    path(
        "inspections/bulletins/<int:bulletin_id>/status/", bulletin_status, name="bulletin_status"
    ),
    path(
        "inspections/bulletins/<int:bulletin_id>/download/",
        bulletin_download,
        name="bulletin_download",
    ),
]
