"""Inspection pages: assessment standards (测评标准) under /inspections/standards/.

Every staff role reads them (standards are city-wide rules); the campaign office and admins
(``actions.may_author``) write them: a draft from an Excel sheet with Chinese headers or
empty, its content replaced from Excel or edited item by item, published, retired, a new
version started, a draft thrown away. Downloads: the version as Excel (``excel.py``, the
import's own format) and as an XLSForm for ODK/KoboCollect (``xlsform.py``), and an empty
template.

Thin: forms parse, ``inspections.actions`` write. An import that fails shows every problem
of the file by row and column, and nothing is written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicloop.cases.models import Category, TimeLimitKind
from civicloop.core.errors import CivicError, NotFoundOrForbidden
from civicloop.org import policy
from civicloop.org.models import Role, Unit
from civicloop.web.common import http_status

from .. import actions, excel, selectors
from ..models import (
    DeductionRule,
    Item,
    LocationType,
    Section,
    Standard,
    StandardStatus,
    VetoScope,
)
from ..tables import MAX_BYTES
from ..xlsform import xlsform_export

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STAFF_ROLES = tuple(r for r in Role if r != Role.RESIDENT)
ACCEPT = ".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv"


def may_read(user: Any) -> bool:
    """Standards are the city's published rules: every staff role reads them."""
    return policy.is_admin(user) or policy.has_role(user, *STAFF_ROLES)


def _require(check: Any) -> Any:
    def decorate(view: Any) -> Any:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not check(request.user):
                raise PermissionDenied(_("This page is for staff whose role includes it."))
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorate


reader_required = _require(may_read)
author_required = _require(actions.may_author)


# ---- forms --------------------------------------------------------------------------------------


def _type_choices(blank: str | None = None) -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = list(LocationType.choices)
    return [("", blank), *choices] if blank is not None else choices


class UploadField(forms.FileField):
    """An Excel (.xlsx) or CSV file; what it contains is checked by ``excel.read_standard``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", gettext_lazy("Excel file (.xlsx) or CSV"))
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": ACCEPT}))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        upload = super().clean(data, initial)
        if upload is not None and upload.size > MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(max)d MB.") % {"max": MAX_BYTES // (1024 * 1024)}
            )
        return upload


class ImportForm(forms.Form):
    file = UploadField()
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        required=False,
        help_text=gettext_lazy("Empty: the code on the file's 说明 sheet."),
    )
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=120,
        required=False,
        help_text=gettext_lazy("Empty: the name on the file's 说明 sheet."),
    )
    location_type = forms.ChoiceField(
        label=gettext_lazy("Location type"),
        required=False,
        choices=lambda: _type_choices(blank=str(_("— as on the file's 说明 sheet —"))),
    )


class ReplaceForm(forms.Form):
    file = UploadField()


class CreateForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "empty_%s")  # the create page also has the import form
        super().__init__(*args, **kwargs)

    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        help_text=gettext_lazy("Letters, digits, - or _; shared by every version, e.g. LXXQ."),
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    location_type = forms.ChoiceField(label=gettext_lazy("Location type"), choices=_type_choices)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class UpdateForm(CreateForm):
    code = None  # type: ignore[assignment]


class SectionForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Section name"), max_length=120)


class ItemForm(forms.Form):
    content = forms.CharField(
        label=gettext_lazy("Item (what is checked)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    full_points = forms.DecimalField(
        label=gettext_lazy("Points"), min_value=0, max_digits=6, decimal_places=2, required=False
    )
    rule = forms.ChoiceField(label=gettext_lazy("Deduction rule"), choices=DeductionRule.choices)
    deduction = forms.DecimalField(
        label=gettext_lazy("Deduction"),
        min_value=0,
        max_digits=6,
        decimal_places=2,
        required=False,
        help_text=gettext_lazy("Per occurrence or once; none for a veto item."),
    )
    veto_scope = forms.ChoiceField(
        label=gettext_lazy("Veto scope"), required=False, choices=[("", "—"), *VetoScope.choices]
    )
    photos_required = forms.IntegerField(
        label=gettext_lazy("Photos required"), min_value=0, max_value=actions.MAX_PHOTOS, initial=0
    )
    unit = forms.ModelChoiceField(
        label=gettext_lazy("Default responsible unit"),
        queryset=Unit.objects.filter(active=True).order_by("code"),
        required=False,
    )
    category = forms.CharField(
        label=gettext_lazy("Case category code"),
        max_length=16,
        required=False,
        help_text=gettext_lazy("A GB/T 30428 code such as E0102; empty: the default category."),
    )
    rectify_limit_kind = forms.ChoiceField(
        label=gettext_lazy("Rectification time limit type"),
        required=False,
        choices=[("", "—"), *TimeLimitKind.choices],
    )
    rectify_limit_value = forms.IntegerField(
        label=gettext_lazy("Rectification time limit"),
        min_value=1,
        max_value=10_000,
        required=False,
    )

    def clean_category(self) -> Category | None:
        code = (self.cleaned_data.get("category") or "").strip().split(" ")[0].upper()
        if not code:
            return None
        category = Category.objects.filter(code=code).first()
        if category is None:
            raise forms.ValidationError(_("No category has the code “%(code)s”.") % {"code": code})
        return category

    def spec(self) -> actions.ItemSpec:
        data = self.cleaned_data
        return actions.ItemSpec(
            content=data["content"],
            full_points=data["full_points"] if data["full_points"] is not None else Decimal("0"),
            rule=data["rule"],
            deduction=data["deduction"] if data["deduction"] is not None else Decimal("0"),
            veto_scope=data["veto_scope"] or "",
            photos_required=data["photos_required"] or 0,
            unit=data["unit"],
            category=data["category"],
            rectify_limit_kind=data["rectify_limit_kind"] or "",
            rectify_limit_value=data["rectify_limit_value"],
        )

    @classmethod
    def initial_for(cls, item: Item) -> dict[str, Any]:
        return {
            "content": item.content,
            "full_points": item.full_points,
            "rule": item.rule,
            "deduction": item.deduction,
            "veto_scope": item.veto_scope,
            "photos_required": item.photos_required,
            "unit": item.unit_id,
            "category": item.category.code if item.category_id and item.category else "",
            "rectify_limit_kind": item.rectify_limit_kind,
            "rectify_limit_value": item.rectify_limit_value,
        }


def _apply(form: forms.Form, exc: CivicError, *, default: str | None = None) -> None:
    """An action's refusal shown on the form: on its field when the form has it."""
    form.add_error(exc.field if exc.field in form.fields else default, exc.message)


# ---- reading ------------------------------------------------------------------------------------


@dataclass
class StandardGroup:
    """Every version of one code: the one in use, the draft, and the older ones."""

    code: str
    current: Standard | None = None
    draft: Standard | None = None
    older: list[Standard] = field(default_factory=list)

    @property
    def newest(self) -> Standard:
        return self.draft or self.current or self.older[0]


def _groups(location_type: str = "") -> list[StandardGroup]:
    qs = Standard.objects.order_by("code", "-version")
    if location_type:
        codes = Standard.objects.filter(location_type=location_type).values("code")
        qs = qs.filter(code__in=codes)
    groups: dict[str, StandardGroup] = {}
    for standard in qs:
        group = groups.setdefault(standard.code, StandardGroup(code=standard.code))
        if standard.status == StandardStatus.PUBLISHED:
            group.current = standard
        elif standard.status == StandardStatus.DRAFT:
            group.draft = standard
        else:
            group.older.append(standard)
    return sorted(groups.values(), key=lambda g: (g.newest.location_type, g.code))


def _standard(standard_id: int) -> Standard:
    standard = Standard.objects.filter(pk=standard_id).first()
    if standard is None:
        raise Http404(_("No such assessment standard."))
    return standard


@dataclass
class ItemRow:
    item: Item
    rule_text: str
    evidence: str
    limit: str
    category: str


@dataclass
class SectionBlock:
    section: Section
    rows: list[ItemRow]
    points: Decimal
    vetoes: int


def _sections(standard: Standard) -> list[SectionBlock]:
    blocks = []
    sections = standard.sections.order_by("position").prefetch_related(
        "items__unit", "items__category"
    )
    for section in sections:
        items = sorted(section.items.all(), key=lambda i: i.position)
        rows = [
            ItemRow(
                item=i,
                rule_text=excel.rule_text(i.rule, i.deduction, i.veto_scope),
                evidence=excel.evidence_text(i.photos_required),
                limit=excel.limit_text(i.rectify_limit_kind, i.rectify_limit_value),
                category=excel.category_text(i.category),
            )
            for i in items
        ]
        blocks.append(
            SectionBlock(
                section=section,
                rows=rows,
                points=sum((i.full_points for i in items), Decimal("0")),
                vetoes=sum(1 for i in items if i.rule == DeductionRule.VETO),
            )
        )
    return blocks


# ---- list ---------------------------------------------------------------------------------------


@require_GET
@reader_required
def standard_list(request: HttpRequest) -> HttpResponse:
    location_type = request.GET.get("type", "")
    if location_type not in LocationType.values:
        location_type = ""
    return render(
        request,
        "inspections/standards/list.html",
        {
            "groups": _groups(location_type),
            "location_types": LocationType.choices,
            "location_type": location_type,
            "may_author": actions.may_author(request.user),
        },
    )


# ---- create -------------------------------------------------------------------------------------


def _create_page(
    request: HttpRequest,
    *,
    import_form: ImportForm | None = None,
    create_form: CreateForm | None = None,
    row_errors: list[excel.RowError] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "inspections/standards/create.html",
        {
            "import_form": import_form or ImportForm(),
            "create_form": create_form or CreateForm(),
            "row_errors": row_errors or [],
            "columns": excel.COLUMNS,
            "max_mb": MAX_BYTES // (1024 * 1024),
        },
        status=status,
    )


def _read(upload: Any) -> bytes:
    return bytes(upload.read(MAX_BYTES + 1))


@require_http_methods(["GET", "POST"])
@author_required
def standard_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _create_page(request)
    if request.POST.get("mode") == "empty":
        form = CreateForm(request.POST)
        if not form.is_valid():
            return _create_page(request, create_form=form, status=400)
        data = form.cleaned_data
        try:
            standard = actions.standard_create(
                code=data["code"],
                name=data["name"],
                location_type=data["location_type"],
                note=data["note"],
                by=request.user,
            )
        except CivicError as exc:
            _apply(form, exc)
            return _create_page(request, create_form=form, status=http_status(exc))
        messages.success(
            request, _("Draft created: add its sections and items, or import them from Excel.")
        )
        return redirect("inspections:standard_detail", standard_id=standard.pk)
    import_form = ImportForm(request.POST, request.FILES)
    if not import_form.is_valid():
        return _create_page(request, import_form=import_form, status=400)
    data = import_form.cleaned_data
    try:
        standard = actions.standard_import(
            data=_read(data["file"]),
            by=request.user,
            code=data["code"] or None,
            name=data["name"] or None,
            location_type=data["location_type"] or None,
        )
    except excel.StandardImportError as exc:
        import_form.add_error("file", _("The file has problems; nothing was imported."))
        return _create_page(request, import_form=import_form, row_errors=exc.errors, status=400)
    except CivicError as exc:
        # A field the form has (code, name, location type), else the file itself (not a spreadsheet …).
        _apply(import_form, exc, default="file")
        return _create_page(request, import_form=import_form, status=http_status(exc))
    messages.success(
        request,
        _("Imported as a draft (version %(version)s): check it, then publish.")
        % {"version": standard.version},
    )
    return redirect("inspections:standard_detail", standard_id=standard.pk)


@require_GET
@reader_required
def standard_template(request: HttpRequest) -> HttpResponseBase:
    """An empty standard sheet with the Chinese headers and the 说明 sheet to fill in."""
    return FileResponse(
        io.BytesIO(excel.standard_template()), as_attachment=True, filename="测评标准模板.xlsx", content_type=XLSX
    )


# ---- one version --------------------------------------------------------------------------------


def _detail(
    request: HttpRequest,
    standard: Standard,
    *,
    error: str = "",
    update_form: UpdateForm | None = None,
    section_form: SectionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    author = actions.may_author(request.user)
    blocks = _sections(standard)
    versions = list(selectors.standard_versions(code=standard.code))
    draft = next((v for v in versions if v.status == StandardStatus.DRAFT), None)
    editable = author and standard.status == StandardStatus.DRAFT
    return render(
        request,
        "inspections/standards/detail.html",
        {
            "standard": standard,
            "sections": blocks,
            "total_points": sum((b.points for b in blocks), Decimal("0")),
            "item_count": sum(len(b.rows) for b in blocks),
            "veto_count": sum(b.vetoes for b in blocks),
            "versions": versions,
            "draft": draft,
            "may_author": author,
            "editable": editable,
            "may_new_version": author and standard.status != StandardStatus.DRAFT and draft is None,
            "error": error,
            "update_form": (update_form or UpdateForm(initial=_standard_initial(standard)))
            if editable
            else None,
            "section_form": (section_form or SectionForm()) if editable else None,
        },
        status=status,
    )


def _standard_initial(standard: Standard) -> dict[str, Any]:
    return {"name": standard.name, "location_type": standard.location_type, "note": standard.note}


@require_GET
@reader_required
def standard_detail(request: HttpRequest, standard_id: int) -> HttpResponse:
    return _detail(request, _standard(standard_id))


def _act(request: HttpRequest, standard: Standard, run: Any, done: str) -> HttpResponse:
    try:
        result = run()
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc
    except CivicError as exc:
        standard.refresh_from_db()
        return _detail(request, standard, error=exc.message, status=http_status(exc))
    messages.success(request, done)
    if isinstance(result, Standard):
        return redirect("inspections:standard_detail", standard_id=result.pk)
    return redirect("inspections:standards")


@require_POST
@author_required
def standard_publish(request: HttpRequest, standard_id: int) -> HttpResponse:
    standard = _standard(standard_id)
    return _act(
        request,
        standard,
        lambda: actions.standard_publish(standard=standard, by=request.user),
        _("Published: new rounds score against this version."),
    )


@require_POST
@author_required
def standard_retire(request: HttpRequest, standard_id: int) -> HttpResponse:
    standard = _standard(standard_id)
    return _act(
        request,
        standard,
        lambda: actions.standard_retire(standard=standard, by=request.user),
        _("Retired: no new round can use this version; rounds that use it keep it."),
    )


@require_POST
@author_required
def standard_new_version(request: HttpRequest, standard_id: int) -> HttpResponse:
    standard = _standard(standard_id)
    return _act(
        request,
        standard,
        lambda: actions.standard_new_version(standard=standard, by=request.user),
        _("New draft version started as a copy: edit it, then publish."),
    )


@require_POST
@author_required
def standard_delete(request: HttpRequest, standard_id: int) -> HttpResponse:
    standard = _standard(standard_id)
    return _act(
        request,
        standard,
        lambda: actions.standard_draft_delete(standard=standard, by=request.user),
        _("The draft was deleted."),
    )


@require_POST
@author_required
def standard_update(request: HttpRequest, standard_id: int) -> HttpResponse:
    standard = _standard(standard_id)
    form = UpdateForm(request.POST)
    if not form.is_valid():
        return _detail(request, standard, update_form=form, status=400)
    data = form.cleaned_data
    try:
        actions.standard_update(
            standard=standard,
            by=request.user,
            name=data["name"],
            location_type=data["location_type"],
            note=data["note"],
        )
    except CivicError as exc:
        _apply(form, exc)
        standard.refresh_from_db()
        return _detail(request, standard, update_form=form, status=http_status(exc))
    messages.success(request, _("Saved."))
    return redirect("inspections:standard_detail", standard_id=standard.pk)


# ---- replace a draft's content from Excel -------------------------------------------------------


def _replace_page(
    request: HttpRequest,
    standard: Standard,
    form: ReplaceForm,
    *,
    row_errors: list[excel.RowError] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "inspections/standards/replace.html",
        {
            "standard": standard,
            "form": form,
            "row_errors": row_errors or [],
            "columns": excel.COLUMNS,
            "max_mb": MAX_BYTES // (1024 * 1024),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@author_required
def standard_import(request: HttpRequest, standard_id: int) -> HttpResponse:
    standard = _standard(standard_id)
    if standard.status != StandardStatus.DRAFT:
        return _detail(
            request,
            standard,
            error=_("Only a draft's content can be replaced: start a new version first."),
            status=409,
        )
    if request.method == "GET":
        return _replace_page(request, standard, ReplaceForm())
    form = ReplaceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _replace_page(request, standard, form, status=400)
    try:
        parsed = excel.read_standard(_read(form.cleaned_data["file"]))
        actions.standard_content_replace(
            standard=standard, sections=parsed.sections, by=request.user
        )
    except excel.StandardImportError as exc:
        form.add_error("file", _("The file has problems; nothing was imported."))
        return _replace_page(request, standard, form, row_errors=exc.errors, status=400)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc
    except CivicError as exc:
        form.add_error("file", exc.message)
        return _replace_page(request, standard, form, status=http_status(exc))
    messages.success(request, _("The draft's sections and items were replaced from the file."))
    return redirect("inspections:standard_detail", standard_id=standard.pk)


# ---- downloads ----------------------------------------------------------------------------------


def _file_name(standard: Standard, suffix: str) -> str:
    name = "".join(ch for ch in standard.name if ch not in '\\/:*?"<>|').strip() or standard.code
    return f"{name}-{standard.reference}{suffix}.xlsx"


@require_GET
@reader_required
def standard_excel(request: HttpRequest, standard_id: int) -> HttpResponseBase:
    standard = _standard(standard_id)
    data = excel.standard_export(standard)
    return FileResponse(
        io.BytesIO(data), as_attachment=True, filename=_file_name(standard, ""), content_type=XLSX
    )


@require_GET
@reader_required
def standard_xlsform(request: HttpRequest, standard_id: int) -> HttpResponseBase:
    standard = _standard(standard_id)
    lang = "en" if request.GET.get("lang") == "en" else "zh-hans"
    data = xlsform_export(standard, lang=lang)
    return FileResponse(
        io.BytesIO(data),
        as_attachment=True,
        filename=_file_name(standard, "-xlsform"),
        content_type=XLSX,
    )


# ---- item by item (drafts) ----------------------------------------------------------------------


def _item_page(
    request: HttpRequest,
    standard: Standard,
    section: Section,
    form: ItemForm,
    *,
    item: Item | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "inspections/standards/item.html",
        {"standard": standard, "section": section, "form": form, "item": item},
        status=status,
    )


def _draft_section(standard_id: int, section_id: int) -> tuple[Standard, Section]:
    standard = _standard(standard_id)
    section = Section.objects.filter(pk=section_id, standard=standard).first()
    if section is None:
        raise Http404(_("No such section."))
    return standard, section


def _refuse_unless_draft(request: HttpRequest, standard: Standard) -> HttpResponse | None:
    if standard.status == StandardStatus.DRAFT:
        return None
    return _detail(
        request,
        standard,
        error=_("A published standard cannot change: start a new version."),
        status=409,
    )


@require_POST
@author_required
def section_add(request: HttpRequest, standard_id: int) -> HttpResponse:
    standard = _standard(standard_id)
    form = SectionForm(request.POST)
    if not form.is_valid():
        return _detail(request, standard, section_form=form, status=400)
    try:
        actions.section_add(standard=standard, name=form.cleaned_data["name"], by=request.user)
    except CivicError as exc:
        if isinstance(exc, NotFoundOrForbidden):
            raise Http404(exc.message) from exc
        _apply(form, exc)
        standard.refresh_from_db()
        return _detail(request, standard, section_form=form, status=http_status(exc))
    return redirect("inspections:standard_detail", standard_id=standard.pk)


@require_POST
@author_required
def section_remove(request: HttpRequest, standard_id: int, section_id: int) -> HttpResponse:
    standard, section = _draft_section(standard_id, section_id)
    return _act(
        request,
        standard,
        lambda: actions.section_remove(section=section, by=request.user) or standard,
        _("The section and its items were removed."),
    )


@require_http_methods(["GET", "POST"])
@author_required
def item_add(request: HttpRequest, standard_id: int, section_id: int) -> HttpResponse:
    standard, section = _draft_section(standard_id, section_id)
    refused = _refuse_unless_draft(request, standard)
    if refused is not None:
        return refused
    if request.method == "GET":
        return _item_page(
            request, standard, section, ItemForm(initial={"rule": DeductionRule.PER_OCCURRENCE})
        )
    form = ItemForm(request.POST)
    if not form.is_valid():
        return _item_page(request, standard, section, form, status=400)
    try:
        actions.item_add(section=section, spec=form.spec(), by=request.user)
    except CivicError as exc:
        _apply(form, exc)
        return _item_page(request, standard, section, form, status=http_status(exc))
    messages.success(request, _("Item added."))
    return redirect("inspections:standard_detail", standard_id=standard.pk)


def _draft_item(standard_id: int, item_id: int) -> tuple[Standard, Item]:
    standard = _standard(standard_id)
    item = (
        Item.objects.select_related("section")
        .filter(pk=item_id, section__standard=standard)
        .first()
    )
    if item is None:
        raise Http404(_("No such item."))
    return standard, item


@require_http_methods(["GET", "POST"])
@author_required
def item_edit(request: HttpRequest, standard_id: int, item_id: int) -> HttpResponse:
    standard, item = _draft_item(standard_id, item_id)
    refused = _refuse_unless_draft(request, standard)
    if refused is not None:
        return refused
    if request.method == "GET":
        form = ItemForm(initial=ItemForm.initial_for(item))
        return _item_page(request, standard, item.section, form, item=item)
    form = ItemForm(request.POST)
    if not form.is_valid():
        return _item_page(request, standard, item.section, form, item=item, status=400)
    try:
        actions.item_update(item=item, spec=form.spec(), by=request.user)
    except CivicError as exc:
        _apply(form, exc)
        return _item_page(request, standard, item.section, form, item=item, status=http_status(exc))
    messages.success(request, _("Item saved."))
    return redirect("inspections:standard_detail", standard_id=standard.pk)


@require_POST
@author_required
def item_remove(request: HttpRequest, standard_id: int, item_id: int) -> HttpResponse:
    standard, item = _draft_item(standard_id, item_id)
    return _act(
        request,
        standard,
        lambda: actions.item_remove(item=item, by=request.user) or standard,
        _("Item removed."),
    )


urlpatterns: list[URLPattern] = [
    path("inspections/standards/", standard_list, name="standards"),
    path("inspections/standards/new/", standard_create, name="standard_create"),
    path("inspections/standards/template.xlsx", standard_template, name="standard_template"),
    path("inspections/standards/<int:standard_id>/", standard_detail, name="standard_detail"),
    path("inspections/standards/<int:standard_id>/edit/", standard_update, name="standard_update"),
    path(
        "inspections/standards/<int:standard_id>/import/", standard_import, name="standard_import"
    ),
    path(
        "inspections/standards/<int:standard_id>/publish/",
        standard_publish,
        name="standard_publish",
    ),
    path(
        "inspections/standards/<int:standard_id>/retire/", standard_retire, name="standard_retire"
    ),
    path(
        "inspections/standards/<int:standard_id>/new-version/",
        standard_new_version,
        name="standard_new_version",
    ),
    path(
        "inspections/standards/<int:standard_id>/delete/", standard_delete, name="standard_delete"
    ),
    path("inspections/standards/<int:standard_id>/excel/", standard_excel, name="standard_excel"),
    path(
        "inspections/standards/<int:standard_id>/xlsform/",
        standard_xlsform,
        name="standard_xlsform",
    ),
    path("inspections/standards/<int:standard_id>/sections/", section_add, name="section_add"),
    path(
        "inspections/standards/<int:standard_id>/sections/<int:section_id>/remove/",
        section_remove,
        name="section_remove",
    ),
    path(
        "inspections/standards/<int:standard_id>/sections/<int:section_id>/items/new/",
        item_add,
        name="item_add",
    ),
    path(
        "inspections/standards/<int:standard_id>/items/<int:item_id>/", item_edit, name="item_edit"
    ),
    path(
        "inspections/standards/<int:standard_id>/items/<int:item_id>/remove/",
        item_remove,
        name="item_remove",
    ),
]
