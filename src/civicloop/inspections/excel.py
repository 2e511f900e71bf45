"""A standard as an Excel sheet with Chinese headers (测评标准表), both ways.

One item per row; the headers, in any order (English headers are accepted too):

=========  ======================  ====================================================
header     English                 cell
=========  ======================  ====================================================
序号       No.                     ignored
测评项目   Section                 required; empty: the section of the row above
                                   (merged cells read that way)
测评内容   Item                    required
分值       Points                  required except for veto items (empty = 0)
扣分标准   Deduction rule          每处扣1分 (also 每发现一处/每次/每个/每项扣…分) = per
                                   occurrence up to the points; 发现即扣5分 (any other
                                   "扣N分") = fixed; 一票否决 = the whole location scores 0;
                                   本项目一票否决 = the section scores 0
责任单位   Responsible unit        optional; a unit's code or exact name
问题分类   Category                optional; a GB/T 30428 code (E0102), "E0102 name", or
                                   the small class's name
整改时限   Rectification limit     optional; 3个工作日, 8个工作小时, 24小时 (round the
                                   clock), 7天 (calendar days)
佐证要求   Evidence                optional; 照片2张 (any text with a number: that many
                                   photos), 拍照 (one), 无 or empty (none)
=========  ======================  ====================================================

Export writes exactly these forms, so export → import gives the same standard. A second
sheet 说明 carries the standard's code, name, version and location type for the reader
(and as defaults for an import). Import checks every row and reports every problem with
its row number; nothing is written unless the whole file is good (``actions.standard_import``).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from civicloop.cases.models import Category, TimeLimitKind
from civicloop.core.errors import ValidationFailed
from civicloop.ledger.values import safe_text, text
from civicloop.org.models import Unit

from .actions import ItemSpec, SectionSpec, clean_item, sections_of
from .models import DeductionRule, LocationType, Standard, VetoScope
from .tables import is_blank, table_sheets

SHEET_TITLE = "测评标准"
ABOUT_TITLE = "说明"
HEADER_SCAN_ROWS = 10
MAX_REPORTED_ERRORS = 200


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


COLUMNS: tuple[Column, ...] = (
    Column("number", "序号", "No.", ("编号", "no")),
    Column("section", "测评项目", "Section", ("项目", "考核项目", "检查项目")),
    Column("item", "测评内容", "Item", ("内容", "考核内容", "检查内容", "测评标准内容")),
    Column("points", "分值", "Points", ("标准分", "满分", "分数")),
    Column("rule", "扣分标准", "Deduction rule", ("扣分规则", "评分标准", "扣分办法")),
    Column("unit", "责任单位", "Responsible unit", ("责任部门",)),
    Column("category", "问题分类", "Category", ("问题类别", "案件类别", "分类编码")),
    Column("limit", "整改时限", "Rectification limit", ("整改期限", "时限")),
    Column("evidence", "佐证要求", "Evidence", ("佐证材料", "取证要求", "拍照要求")),
)
REQUIRED = ("section", "item", "rule")
_HEADER_INDEX = {
    _name: c.key for c in COLUMNS for _name in (c.zh, c.en.lower(), *(a.lower() for a in c.aliases))
}


def _header_key(cell: Any) -> str | None:
    name = re.sub(r"[\s*＊]", "", unicodedata.normalize("NFKC", str(cell or ""))).lower()
    name = name.replace("(", "").replace(")", "")
    return _HEADER_INDEX.get(name) or next(
        (c.key for c in COLUMNS if re.sub(r"\s", "", c.en.lower()) == name), None
    )


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = _("Row %(row)d") % {"row": self.row} if self.row else _("File")
        return (
            f"{where} · {self.column}: {self.message}"
            if self.column
            else f"{where}: {self.message}"
        )


class StandardImportError(ValidationFailed):
    """Every problem of the file, by row; nothing was imported."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        lines = [str(e) for e in errors[:5]]
        more = len(errors) - len(lines)
        message = _("The file has %(count)d problem(s); nothing was imported.") % {
            "count": len(errors)
        }
        message += " " + "; ".join(lines)
        if more > 0:
            message += " " + _("… and %(count)d more.") % {"count": more}
        super().__init__(message)


# ---- cell values --------------------------------------------------------------------------------

_CN_DIGITS: dict[str, Decimal] = {
    **{ch: Decimal(n) for n, ch in enumerate("零一二三四五六七八九十")},
    "两": Decimal(2),
    "半": Decimal("0.5"),
}
_NUMBER = r"(\d+(?:\.\d+)?|[零一二两三四五六七八九十半])"
_PER_RE = re.compile(
    r"每(?:发现)?(?:一)?(?:处|个|次|项|例|户|点|块|起|辆|名|条)\S*?扣(?:除)?" + _NUMBER + r"分"
)
_FIXED_RE = re.compile(r"扣(?:除)?" + _NUMBER + r"分")
_SECTION_VETO_RE = re.compile(r"本(?:测评)?项(?:目)?")
_LIMIT_RE = re.compile(r"^(\d+)(?:个)?(工作日|工作小时|工作时|小时|自然日|天|日)$")
_LIMIT_UNITS = {
    "工作日": TimeLimitKind.WORKING_DAYS,
    "工作小时": TimeLimitKind.WORKING_HOURS,
    "工作时": TimeLimitKind.WORKING_HOURS,
    "小时": TimeLimitKind.EMERGENCY_HOURS,
    "自然日": TimeLimitKind.CALENDAR_DAYS,
    "天": TimeLimitKind.CALENDAR_DAYS,
    "日": TimeLimitKind.CALENDAR_DAYS,
}
_LIMIT_WORDS = {
    TimeLimitKind.WORKING_DAYS: "个工作日",
    TimeLimitKind.WORKING_HOURS: "个工作小时",
    TimeLimitKind.EMERGENCY_HOURS: "小时",
    TimeLimitKind.CALENDAR_DAYS: "天",
}


def _normal(value: Any) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", text(value)))


def _number(token: str) -> Decimal:
    value = _CN_DIGITS.get(token)
    return value if value is not None else Decimal(token)


def parse_rule(value: Any) -> tuple[str, Decimal, str]:
    """扣分标准 → (rule, deduction, veto scope)."""
    raw = _normal(value)
    if not raw:
        raise ValueError(_("The deduction rule is empty."))
    if "一票否决" in raw or raw == "否决":
        scope = VetoScope.SECTION if _SECTION_VETO_RE.search(raw) else VetoScope.LOCATION
        return DeductionRule.VETO, Decimal("0"), str(scope)
    if match := _PER_RE.search(raw):
        return DeductionRule.PER_OCCURRENCE, _number(match.group(1)), ""
    if match := _FIXED_RE.search(raw):
        return DeductionRule.FIXED, _number(match.group(1)), ""
    raise ValueError(
        _(
            "“%(value)s” is not a deduction rule we can read: write e.g. 每处扣1分, 发现即扣5分 or 一票否决."
        )
        % {"value": text(value)}
    )


def rule_text(rule: str, deduction: Decimal, veto_scope: str) -> str:
    if rule == DeductionRule.VETO:
        return "本项目一票否决" if veto_scope == VetoScope.SECTION else "一票否决"
    amount = _plain(deduction)
    return f"每处扣{amount}分" if rule == DeductionRule.PER_OCCURRENCE else f"发现即扣{amount}分"


def _plain(value: Decimal) -> str:
    value = Decimal(value)
    return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")


def parse_points(value: Any) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal("0")
    if isinstance(value, bool):
        raise ValueError(_("Points must be a number."))
    raw = _normal(value).removesuffix("分")
    try:
        points = Decimal(raw)
    except InvalidOperation:
        raise ValueError(
            _("“%(value)s” is not a number of points.") % {"value": text(value)}
        ) from None
    if not points.is_finite() or abs(points) > 1_000_000:
        raise ValueError(_("“%(value)s” is not a number of points.") % {"value": text(value)})
    # Excel stores 0.1 as a binary float; two decimals are all a standard uses.
    rounded = points.quantize(Decimal("0.01"))
    if abs(points - rounded) > Decimal("1e-9"):
        raise ValueError(_("Points may have at most two decimals."))
    return rounded


def parse_limit(value: Any) -> tuple[str, int | None]:
    raw = _normal(value)
    if not raw or raw in {"无", "-", "—"}:
        return "", None
    match = _LIMIT_RE.match(raw)
    if not match:
        raise ValueError(
            _(
                "“%(value)s” is not a time limit we can read: write e.g. 3个工作日, 8个工作小时, 24小时 or 7天."
            )
            % {"value": text(value)}
        )
    return str(_LIMIT_UNITS[match.group(2)]), int(match.group(1))


def limit_text(kind: str, value: int | None) -> str:
    return f"{value}{_LIMIT_WORDS[TimeLimitKind(kind)]}" if kind and value else ""


def parse_evidence(value: Any) -> int:
    raw = _normal(value)
    if not raw or raw in {"无", "不需要", "-", "—", "0"}:
        return 0
    match = re.search(r"\d+|[一二两三四五六七八九十]", raw)
    if match:
        return int(_number(match.group(0)))
    if "照" in raw or "拍" in raw or "图" in raw:
        return 1
    raise ValueError(
        _("“%(value)s” is not an evidence requirement we can read: write e.g. 照片2张 or 无.")
        % {"value": text(value)}
    )


def evidence_text(photos: int) -> str:
    return f"照片{photos}张" if photos else "无"


class _Lookups:
    """Units and categories by the names and codes a sheet may use, loaded once."""

    def __init__(self) -> None:
        self.units_by_code = {u.code: u for u in Unit.objects.all()}
        self.units_by_name: dict[str, list[Unit]] = {}
        for unit in self.units_by_code.values():
            self.units_by_name.setdefault(unit.name, []).append(unit)
        self.categories_by_code = {c.code: c for c in Category.objects.all()}
        self.categories_by_name: dict[str, list[Category]] = {}
        for category in self.categories_by_code.values():
            self.categories_by_name.setdefault(category.name, []).append(category)

    def unit(self, value: Any) -> Unit | None:
        raw = text(value)
        if not raw:
            return None
        unit = self.units_by_code.get(raw)
        if unit:
            return unit
        matches = self.units_by_name.get(raw, [])
        if len(matches) > 1:
            raise ValueError(
                _("Several units are called “%(name)s”: write the unit's code.") % {"name": raw}
            )
        if not matches:
            raise ValueError(_("No unit has the name or code “%(name)s”.") % {"name": raw})
        return matches[0]

    def category(self, value: Any) -> Category | None:
        raw = text(value)
        if not raw:
            return None
        code = raw.split()[0].upper()
        category = self.categories_by_code.get(code)
        if category:
            return category
        matches = self.categories_by_name.get(raw, [])
        if len(matches) > 1:
            raise ValueError(
                _("Several categories are called “%(name)s”: write the code, e.g. E0102.")
                % {"name": raw}
            )
        if not matches:
            raise ValueError(_("No category has the name or code “%(name)s”.") % {"name": raw})
        return matches[0]


def category_text(category: Category | None) -> str:
    return f"{category.code} {category.name}" if category else ""


# ---- import -------------------------------------------------------------------------------------


@dataclass
class ParsedStandard:
    sections: list[SectionSpec]
    about: dict[str, str]  # from the 说明 sheet: code, name, location_type (may be empty)


def _find_header(rows: Iterator[tuple[int, list[Any]]]) -> tuple[int, dict[str, int]] | None:
    for number, cells in rows:
        if number > HEADER_SCAN_ROWS:
            return None
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            key = _header_key(cell)
            if key and key not in columns:
                columns[key] = index
        if all(k in columns for k in REQUIRED):
            return number, columns
    return None


def _read_about(rows: Iterator[tuple[int, list[Any]]]) -> dict[str, str]:
    about: dict[str, str] = {}
    labels = {
        "标准编号": "code",
        "标准名称": "name",
        "点位类型": "location_type",
        "版本": "version",
    }
    by_label = {str(label): value for value, label in LocationType.choices}
    zh_types = {}
    for value, label in LocationType.choices:
        match = re.search(r"[（(]([^）)]+)[）)]", str(label))
        zh_types[match.group(1) if match else str(label)] = value
    for row_number, cells in rows:
        if len(cells) < 2 or row_number > 50:
            continue
        key = labels.get(text(cells[0]))
        if key:
            about[key] = text(cells[1])
    kind = about.get("location_type", "")
    if kind and kind not in LocationType.values:
        about["location_type"] = zh_types.get(kind) or by_label.get(kind) or kind
    return about


def read_standard(data: bytes) -> ParsedStandard:
    """The sections and items of a standard sheet, or ``StandardImportError`` with every problem."""
    lookups = _Lookups()
    errors: list[RowError] = []
    about: dict[str, str] = {}
    found: tuple[int, dict[str, int], list[tuple[int, list[Any]]]] | None = None
    for title, rows in table_sheets(data):
        if title == ABOUT_TITLE:
            about = _read_about(rows)
            continue
        if found is not None:
            continue
        header = _find_header(rows)
        if header is not None:
            found = (header[0], header[1], [(n, c) for n, c in rows if not is_blank(c)])
    if found is None:
        raise StandardImportError(
            [
                RowError(
                    0,
                    "",
                    _(
                        "No header row with 测评项目, 测评内容 and 扣分标准 in the first %(rows)d rows."
                    )
                    % {"rows": HEADER_SCAN_ROWS},
                )
            ]
        )
    _header_row, columns, body = found
    by_key = {c.key: c for c in COLUMNS}

    def cell(cells: list[Any], key: str) -> Any:
        index = columns.get(key)
        return cells[index] if index is not None and index < len(cells) else None

    sections: dict[str, SectionSpec] = {}
    current = ""
    for number, cells in body:
        row_errors: list[RowError] = []

        def fail(
            key: str, message: str, number: int = number, row_errors: list[RowError] = row_errors
        ) -> None:
            row_errors.append(RowError(number, by_key[key].zh, message))

        section_name = " ".join(text(cell(cells, "section")).split()) or current
        if not section_name:
            fail("section", _("The row has no section and there is none above it."))
        current = section_name
        content = text(cell(cells, "item"))
        if not content:
            fail("item", _("The item's content is empty."))
        values: dict[str, Any] = {}
        for key, parse in (
            ("points", parse_points),
            ("rule", parse_rule),
            ("limit", parse_limit),
            ("evidence", parse_evidence),
            ("unit", lookups.unit),
            ("category", lookups.category),
        ):
            try:
                values[key] = parse(cell(cells, key))
            except (ValueError, ArithmeticError) as error:
                fail(key, str(error))
        if not row_errors:
            rule, deduction, scope = values["rule"]
            kind, limit = values["limit"]
            spec = ItemSpec(
                content=content,
                full_points=values["points"],
                rule=rule,
                deduction=deduction,
                veto_scope=scope,
                photos_required=values["evidence"],
                unit=values["unit"],
                category=values["category"],
                rectify_limit_kind=kind,
                rectify_limit_value=limit,
            )
            try:
                spec = clean_item(spec)
            except ValidationFailed as error:
                column = {
                    "content": "item",
                    "full_points": "points",
                    "deduction": "rule",
                    "veto_scope": "rule",
                    "rule": "rule",
                    "photos_required": "evidence",
                    "unit": "unit",
                    "category": "category",
                }.get(error.field or "", "limit")
                fail(column, error.message)
            else:
                sections.setdefault(section_name, SectionSpec(name=section_name)).items.append(spec)
        errors.extend(row_errors)
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
    if not body:
        errors.append(RowError(0, "", _("The sheet has a header row but no items.")))
    if errors:
        raise StandardImportError(errors)
    return ParsedStandard(sections=list(sections.values()), about=about)


# ---- export -------------------------------------------------------------------------------------


def _cell_number(value: Decimal) -> int | float:
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _workbook() -> tuple[Any, Any]:
    """A workbook whose first sheet has the Chinese headers in bold and sensible widths."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_TITLE
    sheet.append([c.zh for c in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDEFGHI", (6, 18, 48, 8, 16, 14, 20, 12, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    return book, sheet


def _zh_label(label: Any) -> str:
    """"Back street (背街小巷)" → "背街小巷"."""
    text = str(label)
    if "(" in text and text.endswith(")"):
        return text[text.rindex("(") + 1 : -1]
    return text


def standard_template() -> bytes:
    """An empty standard in the import's format, with the 说明 sheet explaining each column."""
    book, _sheet = _workbook()
    about = book.create_sheet(ABOUT_TITLE)
    for row in (
        ("标准编号", ""),
        ("标准名称", ""),
        ("点位类型", " / ".join(_zh_label(label) for _v, label in LocationType.choices)),
        (),
        ("填写说明", ""),
        ("测评项目", "同一项目的各行可留空，沿用上一行"),
        ("分值", "一票否决项可留空"),
        ("扣分标准", "每处扣1分 / 发现即扣5分 / 一票否决（整个点位计0分）/ 本项目一票否决"),
        ("责任单位", "单位编码或全称，可留空"),
        ("问题分类", "GB/T 30428 编码，如 E0102，可留空"),
        ("整改时限", "3个工作日 / 8个工作小时 / 24小时 / 7天，可留空"),
        ("佐证要求", "照片2张 / 拍照 / 无"),
    ):
        about.append(list(row))
    about.column_dimensions["A"].width = 12
    about.column_dimensions["B"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def standard_export(standard: Standard) -> bytes:
    """The version as an XLSX workbook in the import's format."""
    from openpyxl.styles import Alignment

    book, sheet = _workbook()
    number = 0
    for section in sections_of(standard):
        for item in section.items:
            number += 1
            sheet.append(
                [
                    number,
                    safe_text(section.name),
                    safe_text(item.content),
                    _cell_number(item.full_points),
                    rule_text(item.rule, item.deduction, item.veto_scope),
                    item.unit.code if item.unit else "",
                    category_text(item.category),
                    limit_text(item.rectify_limit_kind, item.rectify_limit_value),
                    evidence_text(item.photos_required),
                ]
            )
    for row in sheet.iter_rows(min_row=2):
        row[2].alignment = Alignment(wrap_text=True, vertical="top")
    about = book.create_sheet(ABOUT_TITLE)
    label = dict(LocationType.choices)[standard.location_type]
    for key, value in (
        ("标准编号", standard.code),
        ("标准名称", safe_text(standard.name)),
        ("版本", standard.version),
        ("点位类型", str(label)),
        ("状态", standard.status),
    ):
        about.append([key, value])
    about.column_dimensions["A"].width = 12
    about.column_dimensions["B"].width = 40
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
