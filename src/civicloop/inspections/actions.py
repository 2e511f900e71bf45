"""Every write to an assessment standard.

Standards are written by the campaign office (and admins). A version is edited while it
is a draft; ``standard_publish`` freezes it, and from then on a change is a new version
(``standard_new_version`` copies the current one into a new draft). Publishing a version
retires the one published before it: rounds already started keep scoring against the
version they recorded.

Every action validates its whole input before writing anything, in one transaction.
``at`` lets tests control time; it defaults to now.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.cases.models import Category, TimeLimitKind
from civicloop.core.errors import (
    ConflictError,
    NotFoundOrForbidden,
    PermissionRefused,
    ValidationFailed,
)
from civicloop.org import policy
from civicloop.org.models import Role, Unit

from .models import (
    DeductionRule,
    Item,
    LocationType,
    Section,
    Standard,
    StandardStatus,
    VetoScope,
)

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAX_POINTS = Decimal("1000")
MAX_PHOTOS = 10
MAX_SECTIONS = 50
MAX_ITEMS = 500
AUTHORS = {Role.CAMPAIGN_OFFICE}


@dataclass
class ItemSpec:
    """One item as an author (or an imported row) describes it."""

    content: str
    full_points: Any
    rule: str
    deduction: Any = Decimal("0")
    veto_scope: str = ""
    photos_required: int = 0
    unit: Unit | None = None
    category: Category | None = None
    rectify_limit_kind: str = ""
    rectify_limit_value: int | None = None


@dataclass
class SectionSpec:
    name: str
    items: list[ItemSpec] = field(default_factory=list)


# ---- who may write ------------------------------------------------------------------------------


def may_author(user: Any) -> bool:
    """Standards are city-wide rules: the campaign office and admins write them."""
    return policy.is_admin(user) or policy.has_role(user, *AUTHORS)


def _require_author(user: Any) -> None:
    if not may_author(user):
        raise PermissionRefused(_("Only the campaign office may edit assessment standards."))


def _lock(standard: Standard) -> Standard:
    locked = Standard.objects.select_for_update().filter(pk=standard.pk).first()
    if locked is None:
        raise NotFoundOrForbidden(_("No such assessment standard."))
    return locked


def _require_draft(standard: Standard) -> None:
    if standard.status != StandardStatus.DRAFT:
        raise ConflictError(
            _(
                "Version %(version)s of “%(name)s” is %(status)s and cannot change: start a new version."
            )
            % {
                "version": standard.version,
                "name": standard.name,
                "status": standard.get_status_display(),
            }
        )


# ---- validation ---------------------------------------------------------------------------------


def _text(value: Any, *, what: str, max_length: int, field_name: str) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise ValidationFailed(_("%(what)s is required.") % {"what": what}, field=field_name)
    if len(text) > max_length:
        raise ValidationFailed(
            _("%(what)s is too long: at most %(max)d characters.")
            % {"what": what, "max": max_length},
            field=field_name,
        )
    return text


def _points(value: Any, *, what: str, field_name: str) -> Decimal:
    try:
        points = Decimal(str(value).strip()) if value not in (None, "") else Decimal("0")
    except InvalidOperation:
        raise ValidationFailed(
            _("%(what)s must be a number, not “%(value)s”.") % {"what": what, "value": value},
            field=field_name,
        ) from None
    if not points.is_finite() or points < 0 or points > MAX_POINTS:
        raise ValidationFailed(
            _("%(what)s must be between 0 and %(max)s.") % {"what": what, "max": MAX_POINTS},
            field=field_name,
        )
    if points != points.quantize(Decimal("0.01")):
        raise ValidationFailed(
            _("%(what)s may have at most two decimals.") % {"what": what}, field=field_name
        )
    return points.quantize(Decimal("0.01"))


def _code(code: Any) -> str:
    code = str(code or "").strip()
    if not CODE_RE.match(code):
        raise ValidationFailed(
            _("The code must be 1–32 letters, digits, - or _, starting with a letter or digit."),
            field="code",
        )
    return code


def _location_type(value: Any) -> str:
    if value not in LocationType.values:
        raise ValidationFailed(
            _("Unknown location type “%(value)s”.") % {"value": value}, field="location_type"
        )
    return str(value)


def clean_item(spec: ItemSpec) -> ItemSpec:
    """The item with its values normalised, or a ValidationFailed naming the field."""
    content = _text(
        spec.content, what=_("The item's content"), max_length=1000, field_name="content"
    )
    rule = spec.rule
    if rule not in DeductionRule.values:
        raise ValidationFailed(
            _("Unknown deduction rule “%(rule)s”.") % {"rule": rule}, field="rule"
        )
    full = _points(spec.full_points, what=_("The item's points"), field_name="full_points")
    deduction = _points(spec.deduction, what=_("The deduction"), field_name="deduction")
    veto_scope = spec.veto_scope or ""
    if rule == DeductionRule.VETO:
        if veto_scope not in VetoScope.values:
            raise ValidationFailed(
                _("A veto item must say whether it zeroes its section or the whole location."),
                field="veto_scope",
            )
        if deduction:
            raise ValidationFailed(
                _("A veto item has no deduction of its own: it zeroes its section or location."),
                field="deduction",
            )
    else:
        if veto_scope:
            raise ValidationFailed(_("Only veto items have a veto scope."), field="veto_scope")
        if full <= 0:
            raise ValidationFailed(_("The item's points must be more than 0."), field="full_points")
        if deduction <= 0:
            raise ValidationFailed(_("The deduction must be more than 0."), field="deduction")
        if deduction > full:
            raise ValidationFailed(
                _(
                    "The deduction (%(deduction)s) cannot be more than the item's points (%(points)s)."
                )
                % {"deduction": deduction, "points": full},
                field="deduction",
            )
    try:
        photos = int(spec.photos_required or 0)
    except (TypeError, ValueError):
        photos = -1
    if not 0 <= photos <= MAX_PHOTOS:
        raise ValidationFailed(
            _("The number of photos required must be between 0 and %(max)d.") % {"max": MAX_PHOTOS},
            field="photos_required",
        )
    if spec.unit is not None and not spec.unit.active:
        raise ValidationFailed(
            _("The unit “%(unit)s” is no longer active.") % {"unit": spec.unit.name}, field="unit"
        )
    if spec.category is not None and not spec.category.active:
        raise ValidationFailed(
            _("The category “%(category)s” is no longer in use.")
            % {"category": spec.category.name},
            field="category",
        )
    kind, value = spec.rectify_limit_kind or "", spec.rectify_limit_value
    if kind or value is not None:
        if kind not in TimeLimitKind.values:
            raise ValidationFailed(
                _("Unknown kind of rectification time limit “%(kind)s”.") % {"kind": kind},
                field="rectify_limit_kind",
            )
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 10_000:
            raise ValidationFailed(
                _("The rectification time limit must be a whole number more than 0."),
                field="rectify_limit_value",
            )
    return ItemSpec(
        content=content,
        full_points=full,
        rule=rule,
        deduction=deduction,
        veto_scope=veto_scope,
        photos_required=photos,
        unit=spec.unit,
        category=spec.category,
        rectify_limit_kind=kind,
        rectify_limit_value=value,
    )


def clean_sections(sections: Sequence[SectionSpec]) -> list[SectionSpec]:
    """All sections and items checked; the first problem raises, naming where it is."""
    if len(sections) > MAX_SECTIONS:
        raise ValidationFailed(
            _("A standard has at most %(max)d sections.") % {"max": MAX_SECTIONS}, field="sections"
        )
    if sum(len(s.items) for s in sections) > MAX_ITEMS:
        raise ValidationFailed(
            _("A standard has at most %(max)d items.") % {"max": MAX_ITEMS}, field="sections"
        )
    cleaned: list[SectionSpec] = []
    seen: set[str] = set()
    for index, section in enumerate(sections, start=1):
        name = _text(
            section.name, what=_("The section's name"), max_length=120, field_name="section"
        )
        if name in seen:
            raise ValidationFailed(
                _("Two sections are both called “%(name)s”.") % {"name": name}, field="section"
            )
        seen.add(name)
        items = []
        for position, spec in enumerate(section.items, start=1):
            try:
                items.append(clean_item(spec))
            except ValidationFailed as error:
                raise ValidationFailed(
                    _("Section %(section)d, item %(item)d: %(problem)s")
                    % {"section": index, "item": position, "problem": error.message},
                    field=error.field,
                ) from None
        cleaned.append(SectionSpec(name=name, items=items))
    return cleaned


def _check_publishable(standard: Standard) -> None:
    sections = list(standard.sections.prefetch_related("items"))
    if not sections:
        raise ValidationFailed(_("A standard needs at least one section before it is published."))
    for section in sections:
        if not section.items.all():
            raise ValidationFailed(
                _("The section “%(section)s” has no items.") % {"section": section.name}
            )
    total = sum((i.full_points for s in sections for i in s.items.all()), Decimal("0"))
    if total <= 0:
        raise ValidationFailed(_("The standard's items have no points to score."))


# ---- writes -------------------------------------------------------------------------------------


def _write_sections(standard: Standard, sections: Sequence[SectionSpec]) -> None:
    for position, spec in enumerate(sections, start=1):
        section = Section.objects.create(standard=standard, position=position, name=spec.name)
        Item.objects.bulk_create(
            [
                Item(
                    section=section,
                    position=item_position,
                    content=item.content,
                    full_points=item.full_points,
                    rule=item.rule,
                    deduction=item.deduction,
                    veto_scope=item.veto_scope,
                    photos_required=item.photos_required,
                    unit=item.unit,
                    category=item.category,
                    rectify_limit_kind=item.rectify_limit_kind,
                    rectify_limit_value=item.rectify_limit_value,
                )
                for item_position, item in enumerate(spec.items, start=1)
            ]
        )


def _delete_sections(standard: Standard) -> None:
    Item.objects.filter(section__standard=standard).delete()
    Section.objects.filter(standard=standard).delete()


@transaction.atomic
def standard_create(
    *,
    code: str,
    name: str,
    location_type: str,
    by: Any,
    sections: Sequence[SectionSpec] = (),
    note: str = "",
    at: dt.datetime | None = None,
) -> Standard:
    """Version 1 of a new standard, as a draft."""
    _require_author(by)
    code = _code(code)
    name = _text(name, what=_("The standard's name"), max_length=120, field_name="name")
    location_type = _location_type(location_type)
    cleaned = clean_sections(sections)
    if Standard.objects.filter(code=code).exists():
        raise ConflictError(
            _(
                "A standard with the code “%(code)s” already exists; start a new version of it instead."
            )
            % {"code": code},
            field="code",
        )
    try:
        with transaction.atomic():
            standard = Standard.objects.create(
                code=code,
                version=1,
                name=name,
                location_type=location_type,
                note=str(note or "")[:2000],
                created_by=by if getattr(by, "pk", None) else None,
                created_at=at or timezone.now(),
            )
    except IntegrityError:
        raise ConflictError(
            _("A standard with the code “%(code)s” already exists.") % {"code": code}, field="code"
        ) from None
    _write_sections(standard, cleaned)
    return standard


@transaction.atomic
def standard_update(
    *,
    standard: Standard,
    by: Any,
    name: str | None = None,
    location_type: str | None = None,
    note: str | None = None,
) -> Standard:
    """Rename a draft, change its location type or note."""
    _require_author(by)
    standard = _lock(standard)
    _require_draft(standard)
    fields = []
    if name is not None:
        standard.name = _text(
            name, what=_("The standard's name"), max_length=120, field_name="name"
        )
        fields.append("name")
    if location_type is not None:
        standard.location_type = _location_type(location_type)
        fields.append("location_type")
    if note is not None:
        standard.note = str(note)[:2000]
        fields.append("note")
    if fields:
        standard.save(update_fields=fields)
    return standard


@transaction.atomic
def standard_content_replace(
    *, standard: Standard, sections: Sequence[SectionSpec], by: Any
) -> Standard:
    """Replace every section and item of a draft (the Excel import's write)."""
    _require_author(by)
    cleaned = clean_sections(sections)
    standard = _lock(standard)
    _require_draft(standard)
    _delete_sections(standard)
    _write_sections(standard, cleaned)
    return standard


@transaction.atomic
def section_add(*, standard: Standard, name: str, by: Any) -> Section:
    _require_author(by)
    standard = _lock(standard)
    _require_draft(standard)
    name = _text(name, what=_("The section's name"), max_length=120, field_name="name")
    if standard.sections.filter(name=name).exists():
        raise ValidationFailed(
            _("Two sections are both called “%(name)s”.") % {"name": name}, field="name"
        )
    if standard.sections.count() >= MAX_SECTIONS:
        raise ValidationFailed(
            _("A standard has at most %(max)d sections.") % {"max": MAX_SECTIONS}, field="name"
        )
    last = standard.sections.aggregate(m=Max("position"))["m"] or 0
    return Section.objects.create(standard=standard, position=last + 1, name=name)


@transaction.atomic
def item_add(*, section: Section, spec: ItemSpec, by: Any) -> Item:
    _require_author(by)
    standard = _lock(section.standard)
    _require_draft(standard)
    clean = clean_item(spec)
    if Item.objects.filter(section__standard=standard).count() >= MAX_ITEMS:
        raise ValidationFailed(
            _("A standard has at most %(max)d items.") % {"max": MAX_ITEMS}, field="content"
        )
    last = section.items.aggregate(m=Max("position"))["m"] or 0
    return Item.objects.create(section=section, position=last + 1, **_item_fields(clean))


def _item_fields(spec: ItemSpec) -> dict[str, Any]:
    return {
        "content": spec.content,
        "full_points": spec.full_points,
        "rule": spec.rule,
        "deduction": spec.deduction,
        "veto_scope": spec.veto_scope,
        "photos_required": spec.photos_required,
        "unit": spec.unit,
        "category": spec.category,
        "rectify_limit_kind": spec.rectify_limit_kind,
        "rectify_limit_value": spec.rectify_limit_value,
    }


@transaction.atomic
def item_update(*, item: Item, spec: ItemSpec, by: Any) -> Item:
    _require_author(by)
    standard = _lock(item.section.standard)
    _require_draft(standard)
    clean = clean_item(spec)
    fields = _item_fields(clean)
    for name, value in fields.items():
        setattr(item, name, value)
    item.save(update_fields=list(fields))
    return item


@transaction.atomic
def item_remove(*, item: Item, by: Any) -> None:
    _require_author(by)
    standard = _lock(item.section.standard)
    _require_draft(standard)
    item.delete()


@transaction.atomic
def section_remove(*, section: Section, by: Any) -> None:
    _require_author(by)
    standard = _lock(section.standard)
    _require_draft(standard)
    Item.objects.filter(section=section).delete()
    section.delete()


@transaction.atomic
def standard_publish(*, standard: Standard, by: Any, at: dt.datetime | None = None) -> Standard:
    """Freeze a draft; the version published before it (if any) is retired."""
    _require_author(by)
    standard = _lock(standard)
    _require_draft(standard)
    _check_publishable(standard)
    now = at or timezone.now()
    previous = list(
        Standard.objects.select_for_update().filter(
            code=standard.code, status=StandardStatus.PUBLISHED
        )
    )
    for old in previous:
        old.status, old.retired_at = StandardStatus.RETIRED, now
        old.save(update_fields=["status", "retired_at"])
    standard.status = StandardStatus.PUBLISHED
    standard.published_at, standard.published_by = now, by if getattr(by, "pk", None) else None
    standard.save(update_fields=["status", "published_at", "published_by"])
    return standard


@transaction.atomic
def standard_retire(*, standard: Standard, by: Any, at: dt.datetime | None = None) -> Standard:
    """Take a published version out of use (no new rounds may start with it)."""
    _require_author(by)
    standard = _lock(standard)
    if standard.status != StandardStatus.PUBLISHED:
        raise ConflictError(_("Only a published version can be retired."))
    standard.status, standard.retired_at = StandardStatus.RETIRED, at or timezone.now()
    standard.save(update_fields=["status", "retired_at"])
    return standard


@transaction.atomic
def standard_new_version(*, standard: Standard, by: Any, at: dt.datetime | None = None) -> Standard:
    """A new draft version of the standard, a copy of ``standard`` (published or retired)."""
    _require_author(by)
    standard = _lock(standard)
    if standard.status == StandardStatus.DRAFT:
        raise ConflictError(_("This version is still a draft: edit it instead."))
    # Serialise new versions of one code: lock every version of it.
    versions = list(
        Standard.objects.select_for_update().filter(code=standard.code).order_by("version")
    )
    draft = next((v for v in versions if v.status == StandardStatus.DRAFT), None)
    if draft is not None:
        raise ConflictError(
            _("Version %(version)s of this standard is already a draft: edit it instead.")
            % {"version": draft.version}
        )
    new = Standard.objects.create(
        code=standard.code,
        version=versions[-1].version + 1,
        name=standard.name,
        location_type=standard.location_type,
        based_on=standard,
        note=standard.note,
        created_by=by if getattr(by, "pk", None) else None,
        created_at=at or timezone.now(),
    )
    _write_sections(new, sections_of(standard))
    return new


@transaction.atomic
def standard_draft_delete(*, standard: Standard, by: Any) -> None:
    """Throw away a draft that was never published."""
    _require_author(by)
    standard = _lock(standard)
    _require_draft(standard)
    _delete_sections(standard)
    standard.delete()


def sections_of(standard: Standard) -> list[SectionSpec]:
    """A stored version as specs (to copy it, or to export it)."""
    sections = standard.sections.order_by("position").prefetch_related(
        "items__unit", "items__category"
    )
    return [
        SectionSpec(
            name=s.name,
            items=[
                ItemSpec(
                    content=i.content,
                    full_points=i.full_points,
                    rule=i.rule,
                    deduction=i.deduction,
                    veto_scope=i.veto_scope,
                    photos_required=i.photos_required,
                    unit=i.unit,
                    category=i.category,
                    rectify_limit_kind=i.rectify_limit_kind,
                    rectify_limit_value=i.rectify_limit_value,
                )
                for i in sorted(s.items.all(), key=lambda i: i.position)
            ],
        )
        for s in sections
    ]


@transaction.atomic
def standard_import(
    *,
    data: bytes,
    by: Any,
    code: str | None = None,
    name: str | None = None,
    location_type: str | None = None,
    at: dt.datetime | None = None,
) -> Standard:
    """An Excel sheet (``excel.py``) as the content of a draft of standard ``code``.

    A new code becomes version 1; a code with a draft has that draft's content replaced;
    otherwise a new version is started from the latest one. Code, name and location type
    default to what the file's 说明 sheet says. Every row is checked before anything is
    written (``excel.StandardImportError`` lists the problems by row).
    """
    from .excel import read_standard

    _require_author(by)
    parsed = read_standard(data)
    code = _code(code or parsed.about.get("code", ""))
    versions = list(Standard.objects.select_for_update().filter(code=code).order_by("version"))
    if not versions:
        return standard_create(
            code=code,
            name=name or parsed.about.get("name", ""),
            location_type=location_type or parsed.about.get("location_type", ""),
            sections=parsed.sections,
            by=by,
            at=at,
        )
    draft = next((v for v in versions if v.status == StandardStatus.DRAFT), None)
    if draft is None:
        draft = standard_new_version(standard=versions[-1], by=by, at=at)
    if name is not None or location_type is not None:
        draft = standard_update(standard=draft, by=by, name=name, location_type=location_type)
    return standard_content_replace(standard=draft, sections=parsed.sections, by=by)
