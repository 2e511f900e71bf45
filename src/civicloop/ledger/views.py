"""The ledger pages under /ledger/: exports with their progress, import (upload → preview →
confirm → result, with the error report), and the template.

Thin: forms parse, ``ledger.actions`` write, ``ledger.selectors`` read. Exports are for
every staff role, imports for dispatchers (of the rows' area) and administrators. Another
user's export or import answers 404, like a missing one.
"""

from __future__ import annotations

import io
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicloop.cases.models import Category
from civicloop.core.errors import CivicError, NotFoundOrForbidden
from civicloop.org import policy
from civicloop.org.models import Unit
from civicloop.places.models import AreaKind
from civicloop.web.common import http_status

from . import actions, selectors
from .columns import COLUMNS, is_english
from .exporting import write_template
from .forms import ExportForm, ImportForm
from .models import ExportJob, ImportBatch
from .reading import max_bytes, max_rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HISTORY = 20


def _require(check: Any) -> Any:
    def decorate(view: Any) -> Any:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied(_("This page is for staff whose role includes it."))
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorate


staff_required = _require(actions.may_export)
importer_required = _require(actions.may_import)


def _filters(user: Any, querystring: str) -> list[tuple[str, str]]:
    """The job's filters as a person reads them ("State: Closed")."""
    from civicloop.web.dispatch_forms import CaseFilterForm

    form = CaseFilterForm(QueryDict(querystring), user=user)
    if not form.is_valid():
        return [(_("Filters"), querystring)]
    out = []
    for name, value in form.cleaned_data.items():
        if value in (None, "") or name == "sort":
            continue
        field = form.fields[name]
        shown = (
            dict(getattr(field, "choices", [])).get(value, value)
            if isinstance(value, str)
            else value
        )
        out.append((str(field.label), str(shown)))
    return out


def _job_context(user: Any, job: ExportJob) -> dict[str, Any]:
    return {"job": job, "filters": _filters(user, job.querystring)}


# ---- home and exports -----------------------------------------------------------------------------


def _home(
    request: HttpRequest, *, form: ExportForm | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    jobs = list(selectors.export_jobs(user=request.user)[:HISTORY])
    return render(
        request,
        "ledger/home.html",
        {
            "jobs": [_job_context(request.user, j) for j in jobs],
            "export_form": form or ExportForm(),
            "export_error": error,
            "may_import": actions.may_import(request.user),
            "imports": list(selectors.import_batches(user=request.user)[:5])
            if actions.may_import(request.user)
            else [],
            "columns": COLUMNS,
        },
        status=status,
    )


@require_GET
@staff_required
def home(request: HttpRequest) -> HttpResponse:
    return _home(request)


@require_POST
@staff_required
def export_create(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST)
    if not form.is_valid():
        return _home(
            request,
            form=form,
            error=_("The export request could not be read; try again from the case list."),
            status=400,
        )
    try:
        job = actions.export_request(
            by=request.user,
            querystring=form.cleaned_data["querystring"],
            lang=form.cleaned_data["lang"] or "zh-hans",
        )
    except CivicError as exc:
        return _home(request, form=form, error=exc.message, status=http_status(exc))
    return redirect("ledger:export_detail", job_id=job.pk)


def _job(request: HttpRequest, job_id: int) -> ExportJob:
    try:
        return selectors.export_job_get(user=request.user, job_id=job_id)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc


@require_GET
@staff_required
def export_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    return render(request, "ledger/export.html", _job_context(request.user, _job(request, job_id)))


@require_GET
@staff_required
def export_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """One job's row: htmx polls it until the job is finished (then the row stops polling)."""
    context = _job_context(request.user, _job(request, job_id))
    response = render(request, "ledger/_job_row.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@staff_required
def export_download(request: HttpRequest, job_id: int) -> HttpResponseBase:
    job = _job(request, job_id)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404(_("This export has no file (yet)."))
    try:
        handle = job.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("The file of this export is gone; export again.")) from None
    return FileResponse(handle, as_attachment=True, filename=job.download_name(), content_type=XLSX)


@require_GET
@staff_required
def template_download(request: HttpRequest) -> HttpResponseBase:
    """An empty ledger with the headers and one example row from this city's data."""
    lang = "en" if is_english(request.GET.get("lang")) else "zh-hans"
    community = (
        policy.visible_areas(request.user).filter(kind=AreaKind.COMMUNITY).order_by("code").first()
    )
    if community is None:
        from civicloop.places.models import Area

        community = Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("code").first()
    category = (
        Category.objects.filter(active=True)
        .order_by("scheme", "family", "big_code", "small_code")
        .first()
    )
    unit = Unit.objects.filter(active=True).order_by("code").first()
    buffer = io.BytesIO()
    write_template(
        buffer,
        lang=lang,
        community=community,
        category=category,
        unit_name=unit.name if unit else "",
    )
    buffer.seek(0)
    name = "civicloop-ledger-template-en.xlsx" if lang == "en" else "civicloop-ledger-template.xlsx"
    return FileResponse(buffer, as_attachment=True, filename=name, content_type=XLSX)


# ---- import ---------------------------------------------------------------------------------------


def _import_page(
    request: HttpRequest, form: ImportForm, *, error: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "ledger/import.html",
        {
            "form": form,
            "error": error,
            "batches": list(selectors.import_batches(user=request.user)[:HISTORY]),
            "columns": COLUMNS,
            "max_rows": max_rows(),
            "max_mb": max(1, max_bytes() // (1024 * 1024)),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@importer_required
def import_upload(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _import_page(request, ImportForm())
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    limit = max_bytes()
    if upload.size > limit:
        form.add_error(
            "file",
            _(
                "The file is %(size)d MB; at most %(max)d MB is accepted. Split it into smaller files."
            )
            % {"size": -(-upload.size // (1024 * 1024)), "max": max(1, limit // (1024 * 1024))},
        )
        return _import_page(request, form, status=400)
    data = upload.read(limit + 1)
    try:
        batch = actions.ledger_upload(
            data=data, file_name=upload.name or "", by=request.user, crs=form.cleaned_data["crs"]
        )
    except CivicError as exc:
        form.add_error("file" if exc.field in (None, "file") else None, exc.message)
        return _import_page(request, form, status=http_status(exc))
    return redirect("ledger:import_preview", batch_id=batch.pk)


def _batch(request: HttpRequest, batch_id: int) -> ImportBatch:
    try:
        return selectors.import_batch_get(user=request.user, batch_id=batch_id)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc


def _preview(
    request: HttpRequest, batch: ImportBatch, *, error: str = "", status: int = 200
) -> HttpResponse:
    summary = batch.summary or {}
    return render(
        request,
        "ledger/preview.html",
        {
            "batch": batch,
            "summary": summary,
            "states": [(_state_label(s), n) for s, n in summary.get("states", [])],
            "error": error,
        },
        status=status,
    )


def _state_label(value: str) -> str:
    from civicloop.cases.models import State

    try:
        return str(State(value).label)
    except ValueError:
        return value


@require_GET
@importer_required
def import_preview(request: HttpRequest, batch_id: int) -> HttpResponse:
    return _preview(request, _batch(request, batch_id))


@require_POST
@importer_required
def import_confirm(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch(request, batch_id)
    try:
        result = actions.ledger_import(batch=batch, by=request.user)
    except CivicError as exc:
        batch.refresh_from_db()
        return _preview(request, batch, error=exc.message, status=http_status(exc))
    if result.cases == 0:
        return _preview(
            request,
            result.batch,
            error=_(
                "The file no longer passes the check (the data changed since the preview). Nothing was imported."
            ),
            status=409,
        )
    messages.success(
        request,
        ngettext(
            "%(count)d case imported from %(file)s.",
            "%(count)d cases imported from %(file)s.",
            result.cases,
        )
        % {"count": result.cases, "file": result.batch.file_name},
    )
    return redirect("ledger:import_preview", batch_id=batch.pk)


@require_GET
@importer_required
def import_errors(request: HttpRequest, batch_id: int) -> HttpResponseBase:
    batch = _batch(request, batch_id)
    if not batch.error_report:
        raise Http404(_("This import has no error report."))
    try:
        handle = batch.error_report.open("rb")
    except FileNotFoundError:
        raise Http404(_("The error report is no longer kept; upload the file again.")) from None
    stem = batch.file_name.rsplit(".", 1)[0] or "ledger"
    name = _("%(name)s-errors.xlsx") % {"name": stem}
    return FileResponse(handle, as_attachment=True, filename=name, content_type=XLSX)
