"""Standards as Excel sheets with Chinese headers: export → import round trip, row errors."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from civicloop.core.errors import PermissionRefused
from civicloop.inspections import actions as A
from civicloop.inspections.excel import (
    StandardImportError,
    parse_evidence,
    parse_limit,
    parse_points,
    parse_rule,
    standard_export,
)
from civicloop.inspections.models import Item, Standard, StandardStatus
from civicloop.inspections.tables import TableFileError

from .helpers import make_standard

pytestmark = pytest.mark.django_db

HEADERS = [
    "序号",
    "测评项目",
    "测评内容",
    "分值",
    "扣分标准",
    "责任单位",
    "问题分类",
    "整改时限",
    "佐证要求",
]


def xlsx(rows, *, title_row: str | None = None, headers=HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    if title_row:
        sheet.append([title_row])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD_ROWS = [
    [
        1,
        "环境卫生",
        "楼道、院落无垃圾堆积",
        10,
        "每处扣2分",
        "U-HWC",
        "E0102",
        "3个工作日",
        "照片1张",
    ],
    [2, None, "垃圾分类设施完好", 5, "发现即扣3分", "市环境卫生管理处", "", "8个工作小时", "无"],
    [3, None, "存在大面积垃圾焚烧", None, "本项目一票否决", "", "", "", ""],
    [4, "秩序管理", "车辆停放有序", 8, "每发现一处扣0.5分，扣完为止", "", "", "24小时", "拍照2张"],
    [5, "秩序管理", "无违章搭建", 7, "扣7分", "", "", "7天", "照片两张"],
    [6, "秩序管理", "发生安全责任事故", "", "一票否决", "", "", "", ""],
]


def test_export_then_import_gives_the_same_standard(city):
    v1 = make_standard(city, publish=True)
    data = standard_export(v1)
    sheet = load_workbook(io.BytesIO(data))["测评标准"]
    assert [c.value for c in sheet[1]] == HEADERS
    assert [c.value for c in sheet[2]] == [
        1,
        "环境卫生",
        "楼道、院落无垃圾堆积，无卫生死角",
        10,
        "每处扣2分",
        "U-HWC",
        "E0102 暴露垃圾",
        "3个工作日",
        "照片1张",
    ]
    assert load_workbook(io.BytesIO(data))["说明"]["B1"].value == "LXXQ"
    row4 = [c.value for c in sheet[5]]
    assert row4[3:5] == [8, "每处扣0.5分"] and row4[7:9] == ["24小时", "照片2张"]
    assert [c.value for c in sheet[4]][4] == "本项目一票否决"
    assert [c.value for c in sheet[7]][4] == "一票否决"

    # Importing the export into the same code starts version 2 with identical content.
    v2 = A.standard_import(data=data, by=city.users["campaign_office"])
    assert (v2.code, v2.version, v2.status) == ("LXXQ", 2, StandardStatus.DRAFT)
    assert v2.name == v1.name and v2.location_type == v1.location_type
    assert A.sections_of(v2) == A.sections_of(v1)
    # … and into a new code, version 1.
    copy = A.standard_import(data=data, code="LXXQ-COPY", by=city.users["campaign_office"])
    assert copy.version == 1 and A.sections_of(copy) == A.sections_of(v1)
    assert standard_export(copy) != b"" and A.sections_of(copy) == A.sections_of(v2)


def test_import_reads_the_forms_offices_write(city):
    data = xlsx(GOOD_ROWS, title_row="2026年老旧小区暗访测评标准")
    standard = A.standard_import(
        data=data,
        code="NEW",
        name="老旧小区",
        location_type="old_community",
        by=city.users["campaign_office"],
    )
    sections = A.sections_of(standard)
    assert [s.name for s in sections] == ["环境卫生", "秩序管理"]
    assert [len(s.items) for s in sections] == [3, 3]
    a, b, c = sections[0].items
    assert (a.rule, a.deduction, a.unit.code, a.category.code) == (
        "per_occurrence",
        Decimal("2.00"),
        "U-HWC",
        "E0102",
    )
    assert (a.rectify_limit_kind, a.rectify_limit_value, a.photos_required) == (
        "working_days",
        3,
        1,
    )
    assert (b.rule, b.deduction, b.unit.code, b.photos_required) == (
        "fixed",
        Decimal("3.00"),
        "U-HWC",
        0,
    )
    assert (b.rectify_limit_kind, b.rectify_limit_value) == ("working_hours", 8)
    assert (c.rule, c.veto_scope, c.full_points) == ("veto", "section", Decimal("0.00"))
    d, e, f = sections[1].items
    assert (
        d.rule,
        d.deduction,
        d.rectify_limit_kind,
        d.rectify_limit_value,
        d.photos_required,
    ) == ("per_occurrence", Decimal("0.50"), "emergency_hours", 24, 2)
    assert (e.rule, e.deduction, e.rectify_limit_kind, e.photos_required) == (
        "fixed",
        Decimal("7.00"),
        "calendar_days",
        2,
    )
    assert (f.rule, f.veto_scope) == ("veto", "location")


def test_csv_and_english_headers_are_read_too(city):
    text = "Section,Item,Points,Deduction rule\n路面,无坑洼,5,每处扣1分\n,无积水,5,发现即扣2分\n"
    standard = A.standard_import(
        data=text.encode("gb18030"),
        code="CSV",
        name="csv",
        location_type="back_street",
        by=city.users["admin"],
    )
    assert [len(s.items) for s in A.sections_of(standard)] == [2]


def test_every_bad_row_is_reported_with_its_row_number_and_nothing_is_written(city):
    rows = [
        [1, "环境卫生", "楼道无垃圾", 10, "每处扣2分", "", "", "", ""],
        [2, "", "", 5, "每处扣1分", "", "", "", ""],  # no content
        [3, "", "垃圾分类", "五分", "每处扣1分", "", "", "", ""],  # points not a number
        [4, "", "无焚烧", 5, "酌情扣分", "", "", "", ""],  # unreadable rule
        [5, "", "无乱堆", 5, "每处扣1分", "不存在的单位", "Z9999", "三天内", "照片"],
        [6, "", "无违建", 5, "每处扣6分", "", "", "", ""],  # deduction above points
        [7, "", "无乱贴", 5.555, "每处扣1分", "", "", "", ""],
    ]
    with pytest.raises(StandardImportError) as error:
        A.standard_import(
            data=xlsx(rows), code="BAD", name="坏", location_type="market", by=city.users["admin"]
        )
    found = {(e.row, e.column) for e in error.value.errors}
    assert found == {
        (3, "测评内容"),
        (4, "分值"),
        (5, "扣分标准"),
        (6, "责任单位"),
        (6, "问题分类"),
        (6, "整改时限"),
        (7, "扣分标准"),
        (8, "分值"),
    }
    messages = {(e.row, e.column): e.message for e in error.value.errors}
    assert "No unit has the name or code “不存在的单位”" in messages[(6, "责任单位")]
    assert "cannot be more than the item's points" in messages[(7, "扣分标准")]
    assert "8 problem(s); nothing was imported" in error.value.message
    assert "Row 3 · 测评内容" in error.value.message
    assert not Standard.objects.exists() and not Item.objects.exists()


def test_a_bad_import_into_an_existing_draft_leaves_the_draft_as_it_was(city):
    draft = make_standard(city)
    before = A.sections_of(draft)
    with pytest.raises(StandardImportError):
        A.standard_import(
            data=xlsx([[1, "x", "y", 5, "乱写", "", "", "", ""]]),
            code="LXXQ",
            by=city.users["admin"],
        )
    assert A.sections_of(draft) == before


def test_import_into_a_draft_replaces_its_content(city):
    draft = make_standard(city)
    standard = A.standard_import(data=xlsx(GOOD_ROWS[:2]), code="LXXQ", by=city.users["admin"])
    assert standard.pk == draft.pk and standard.version == 1
    assert [len(s.items) for s in A.sections_of(standard)] == [2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"PK\x03\x04garbage", "damaged"),
        (b"\x00\x01\x02binary", "not a spreadsheet"),
        ("项目,内容\n环境,干净\n".encode(), "No header row with 测评项目, 测评内容 and 扣分标准"),
        (xlsx([]), "header row but no items"),
    ],
)
def test_unusable_files_are_refused(city, data, message):
    with pytest.raises((StandardImportError, TableFileError), match=message):
        A.standard_import(
            data=data, code="F", name="f", location_type="market", by=city.users["admin"]
        )
    assert not Standard.objects.exists()


def test_a_new_code_needs_a_name_and_location_type(city):
    from civicloop.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="Unknown location type"):
        A.standard_import(data=xlsx(GOOD_ROWS), code="NEW", name="新", by=city.users["admin"])
    assert not Standard.objects.exists()


def test_only_authors_import(city):
    with pytest.raises(PermissionRefused):
        A.standard_import(
            data=xlsx(GOOD_ROWS),
            code="NEW",
            name="新",
            location_type="market",
            by=city.users["dispatcher"],
        )


def test_exported_text_never_runs_as_a_formula(city):
    standard = make_standard(city)
    item = Item.objects.get(section__standard=standard, section__position=1, position=1)
    A.item_update(
        item=item,
        spec=A.ItemSpec('=HYPERLINK("http://x")', "10", "per_occurrence", "2"),
        by=city.users["admin"],
    )
    data = standard_export(standard)
    cell = load_workbook(io.BytesIO(data))["测评标准"]["C2"]
    assert cell.data_type == "s" and cell.value.startswith("'=")
    copy = A.standard_import(data=data, code="COPY", by=city.users["admin"])
    assert A.sections_of(copy)[0].items[0].content == '=HYPERLINK("http://x")'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("每处扣1分", ("per_occurrence", Decimal("1"), "")),
        ("每处扣１分", ("per_occurrence", Decimal("1"), "")),
        ("每发现一处扣0.5分", ("per_occurrence", Decimal("0.5"), "")),
        ("每次扣 2 分，扣完为止", ("per_occurrence", Decimal("2"), "")),
        ("每个扣一分", ("per_occurrence", Decimal("1"), "")),
        ("发现即扣5分", ("fixed", Decimal("5"), "")),
        ("不符合要求扣3分", ("fixed", Decimal("3"), "")),
        ("一票否决", ("veto", Decimal("0"), "location")),
        ("本项目一票否决", ("veto", Decimal("0"), "section")),
        ("一票否决（本项目）", ("veto", Decimal("0"), "section")),
    ],
)
def test_deduction_rules_in_the_words_offices_use(text, expected):
    assert parse_rule(text) == expected


def test_other_cell_parsers():
    assert parse_limit("3个工作日") == ("working_days", 3)
    assert parse_limit("24 小时") == ("emergency_hours", 24)
    assert parse_limit("4工作时") == ("working_hours", 4)
    assert parse_limit("7日") == ("calendar_days", 7)
    assert parse_limit("") == ("", None)
    assert (
        parse_evidence("照片3张") == 3 and parse_evidence("拍照") == 1 and parse_evidence(None) == 0
    )
    assert parse_points(0.1) == Decimal("0.10") and parse_points("5分") == Decimal("5.00")
    for bad, parser in (
        ("立即", parse_limit),
        ("按要求", parse_evidence),
        ("1e999999", parse_points),
    ):
        with pytest.raises(ValueError):
            parser(bad)
