"""The moderation queue (``/moderation/``): reports held by the spam/abuse checks, for the
dispatchers of their area to release (optionally with a corrected text) or reject.

Thin: forms parse, ``moderation.actions`` write, ``moderation.selectors`` read through the
policy. The resident's text is shown as text: escaped, never turned into links. Photos are
served from private storage, to those who may decide, as the stripped copy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from civicloop.core.errors import CivicError, ConflictError, NotFoundOrForbidden
from civicloop.web.common import case_url, http_status, is_htmx
from civicloop.web.dispatch import dispatcher_required

from . import actions, selectors
from .checks import REASON_LABELS
from .forms import RejectForm, ReleaseForm
from .models import HeldReport, HeldStatus

PAGE_SIZE = 20
MAX_MAP_POINTS = 500
TABS = (("held", gettext_lazy("Waiting")), ("decided", gettext_lazy("Decided")))


@dataclass
class Item:
    held: HeldReport
    reasons: list[str]
    release_form: forms.Form | None
    reject_form: forms.Form | None
    case_url: str = ""
    published_text: str = ""
    error: str = ""
    error_status: int = 200
    done: str = ""


def _item(
    held: HeldReport,
    *,
    bound: forms.Form | None = None,
    error: str = "",
    status: int = 200,
    done: str = "",
) -> Item:
    waiting = held.status == HeldStatus.HELD
    release = reject = None
    if waiting:
        release = ReleaseForm(
            prefix=f"release-{held.pk}", initial={"description": held.original_description}
        )
        reject = RejectForm(prefix=f"reject-{held.pk}")
        if isinstance(bound, ReleaseForm):
            release = bound
        elif isinstance(bound, RejectForm):
            reject = bound
    report = held.report if held.report_id else None
    published = (
        report.description
        if report is not None and report.description != held.original_description.strip()
        else ""
    )
    return Item(
        held=held,
        reasons=[str(REASON_LABELS.get(code, code)) for code in held.reasons or []],
        release_form=release,
        reject_form=reject,
        case_url=case_url(report.case_id) if report is not None else "",
        published_text=published,
        error=error,
        error_status=status,
        done=done,
    )


def _tab(value: str | None) -> str:
    return value if value in {"held", "decided"} else "held"


def _context(
    request: HttpRequest, *, tab: str, page_number: Any, override: Item | None = None
) -> dict[str, Any]:
    counts = selectors.held_counts(user=request.user)
    page = Paginator(
        selectors.held_list(user=request.user, decided=tab == "decided"), PAGE_SIZE
    ).get_page(page_number)
    items = [_item(h) for h in page.object_list]
    if override is not None:
        index = next((i for i, it in enumerate(items) if it.held.pk == override.held.pk), None)
        if index is None:
            items.insert(0, override)
        else:
            items[index] = override
    return {
        "tab": tab,
        "tabs": [
            {"key": k, "label": label, "count": counts[k], "current": k == tab} for k, label in TABS
        ],
        "page": page,
        "items": items,
        "show_map": tab == "held" and counts["held"] > 0,
    }


@require_GET
@dispatcher_required
def queue(request: HttpRequest) -> HttpResponse:
    context = _context(
        request, tab=_tab(request.GET.get("tab")), page_number=request.GET.get("page")
    )
    return render(request, "moderation/queue.html", context)


def _gone(request: HttpRequest, held_id: int, exc: CivicError) -> HttpResponse:
    if is_htmx(request):
        return render(
            request,
            "moderation/_gone.html",
            {"held_id": held_id, "message": exc.message},
            status=404,
        )
    raise Http404(exc.message)


def _decide(request: HttpRequest, held_id: int, kind: str) -> HttpResponse:
    try:
        held = selectors.held_get(user=request.user, held_id=held_id)
    except NotFoundOrForbidden as exc:
        return _gone(request, held_id, exc)
    form: forms.Form = (ReleaseForm if kind == "release" else RejectForm)(
        request.POST, prefix=f"{kind}-{held.pk}"
    )
    status, error, done, keep_form = 200, "", "", True
    if not form.is_valid():
        status = 400
    else:
        data = form.cleaned_data
        try:
            if kind == "release":
                text = data["description"]
                # Unchanged or empty: the original is published.
                edited = (
                    text if text and text.strip() != held.original_description.strip() else None
                )
                held = actions.held_release(
                    held=held, by=request.user, description=edited, note=data["note"]
                )
                assert held.report is not None
                done = _("Released: published as ticket %(ticket)s.") % {
                    "ticket": held.report.ticket_no
                }
            else:
                held = actions.held_reject(held=held, by=request.user, reason=data["reason"])
                done = _("Rejected: nothing was published.")
        except CivicError as exc:
            status = http_status(exc)
            if exc.field and exc.field in form.fields and not isinstance(exc, ConflictError):
                form.add_error(exc.field, exc.message)
            else:
                error = exc.message
            # After a conflict the item shows the report as it is now.
            keep_form = not isinstance(exc, ConflictError)
        try:
            held = selectors.held_get(user=request.user, held_id=held_id)
        except NotFoundOrForbidden as exc:  # it left the user's area meanwhile
            return _gone(request, held_id, exc)
    item = _item(
        held,
        bound=form if keep_form and status != 200 else None,
        error=error,
        status=status,
        done=done,
    )
    if is_htmx(request):
        response = render(
            request, "moderation/_item.html", {"item": item, "tab": "held"}, status=status
        )
        if status == 200:
            response["HX-Trigger"] = "held-changed"
        return response
    if status == 200:
        messages.success(request, done)
        return redirect(reverse("moderation:queue") + "?tab=held")
    tab = "held" if held.status == HeldStatus.HELD else "decided"
    return render(
        request,
        "moderation/queue.html",
        _context(request, tab=tab, page_number=1, override=item),
        status=status,
    )


@require_POST
@dispatcher_required
def release(request: HttpRequest, held_id: int) -> HttpResponse:
    return _decide(request, held_id, "release")


@require_POST
@dispatcher_required
def reject(request: HttpRequest, held_id: int) -> HttpResponse:
    return _decide(request, held_id, "reject")


@require_GET
@dispatcher_required
def photo(request: HttpRequest, held_id: int, photo_id: int) -> HttpResponse:
    """The stripped copy of a held report's photo (never the original with its EXIF)."""
    try:
        held_photo = selectors.held_photo(user=request.user, held_id=held_id, photo_id=photo_id)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from None
    with held_photo.preview.open("rb") as fh:  # a downsized JPEG: small enough to send at once
        response = HttpResponse(fh.read(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@dispatcher_required
def points(request: HttpRequest) -> HttpResponse:
    """Waiting held reports of the user's area as GeoJSON points, for the queue's map."""
    features = []
    for held in selectors.held_list(user=request.user).prefetch_related(None)[:MAX_MAP_POINTS]:
        try:
            lat, lon = float(held.payload["lat"]), float(held.payload["lon"])
        except (KeyError, TypeError, ValueError):
            continue
        features.append(
            {
                "type": "Feature",
                "id": held.pk,
                "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "properties": {
                    "title": f"{held.category.big_name} · {held.category.name}",
                    "subtitle": timezone.localtime(held.submitted_at).strftime("%Y-%m-%d %H:%M"),
                    "url": f"#held-{held.pk}",
                },
            }
        )
    return JsonResponse(
        {
            "type": "FeatureCollection",
            "properties": {"label": _("Held reports")},
            "features": features,
        }
    )
