"""The /inspections/standards/ pages through the HTTP client: who may open and change what,
create from Excel (row errors shown, nothing written) or empty, replace a draft's content,
publish / new version / retire / delete, item by item editing, and the downloads (the Excel
round trip through the pages)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from civicloop.inspections import actions as A
from civicloop.inspections.models import Item, Section, Standard, StandardStatus
from civicloop.testing import jpeg_upload

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
GOOD_ROWS = [
    [1, "环境卫生", "楼道无垃圾堆积", 10, "每处扣2分", "U-HWC", "E0102", "3个工作日", "照片1张"],
    [2, None, "垃圾分类设施完好", 5, "发现即扣3分", "", "", "8个工作小时", "无"],
    [3, "秩序管理", "发生安全责任事故", None, "一票否决", "", "", "", ""],
]
STAFF = [
    "leader",
    "leader_b",
    "unit_staff",
    "grid_worker",
    "inspector",
    "dispatcher",
    "campaign_office",
    "admin",
]


def xlsx(rows, *, about=None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "测评标准"
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    if about:
        info = book.create_sheet("说明")
        for key, value in about.items():
            info.append([key, value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def login(city, key: str) -> Client:
    client = Client()
    client.force_login(city.users[key])
    return client


def upload(data: bytes, name: str = "标准.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def create_from(client: Client, data: bytes, filename: str = "标准.xlsx", **fields):
    return client.post(
        reverse("inspections:standard_create"),
        {"mode": "import", "file": upload(data, filename), **fields},
    )


def html(response) -> str:
    return response.content.decode()


# ---- who may open what ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login(city):
    for name in (
        "inspections:standards",
        "inspections:standard_create",
        "inspections:standard_template",
    ):
        response = Client().get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("key", ["resident", "outsider"])
def test_residents_and_people_without_a_role_are_refused(city, key):
    standard = make_standard(city, publish=True)
    client = login(city, key)
    for url in (
        reverse("inspections:standards"),
        reverse("inspections:standard_detail", args=[standard.pk]),
        reverse("inspections:standard_excel", args=[standard.pk]),
        reverse("inspections:standard_xlsform", args=[standard.pk]),
        reverse("inspections:standard_template"),
    ):
        assert client.get(url).status_code == 403, url


@pytest.mark.parametrize("key", STAFF)
def test_every_staff_role_reads_the_standards(city, key):
    published = make_standard(city, publish=True)
    draft = A.standard_new_version(standard=published, by=city.users["campaign_office"])
    client = login(city, key)
    page = html(client.get(reverse("inspections:standards")))
    assert "老旧小区测评标准" in page and "LXXQ" in page
    assert reverse("inspections:standard_detail", args=[published.pk]) in page
    assert reverse("inspections:standard_detail", args=[draft.pk]) in page
    detail = client.get(reverse("inspections:standard_detail", args=[published.pk]))
    assert detail.status_code == 200
    author = key in ("campaign_office", "admin")
    assert (reverse("inspections:standard_retire", args=[published.pk]) in html(detail)) is author
    assert (reverse("inspections:standard_create") in page) is author


@pytest.mark.parametrize("key", ["leader", "inspector", "dispatcher", "unit_staff"])
def test_only_authors_write(city, key):
    published = make_standard(city, publish=True)
    draft = make_standard(city, code="DRAFT")
    client = login(city, key)
    assert client.get(reverse("inspections:standard_create")).status_code == 403
    assert (
        create_from(
            client, xlsx(GOOD_ROWS), code="X1", name="x", location_type="market"
        ).status_code
        == 403
    )
    for name, standard in (
        ("inspections:standard_publish", draft),
        ("inspections:standard_delete", draft),
        ("inspections:standard_retire", published),
        ("inspections:standard_new_version", published),
    ):
        assert client.post(reverse(name, args=[standard.pk])).status_code == 403
    response = client.post(
        reverse("inspections:standard_import", args=[draft.pk]), {"file": upload(xlsx(GOOD_ROWS))}
    )
    assert response.status_code == 403
    assert Standard.objects.count() == 2
    assert Standard.objects.get(pk=draft.pk).status == StandardStatus.DRAFT
    assert Standard.objects.get(pk=published.pk).status == StandardStatus.PUBLISHED


def test_a_missing_standard_is_404(city):
    client = login(city, "campaign_office")
    assert client.get(reverse("inspections:standard_detail", args=[999])).status_code == 404
    assert client.post(reverse("inspections:standard_publish", args=[999])).status_code == 404
    assert client.get(reverse("inspections:standard_excel", args=[999])).status_code == 404


def test_the_detail_shows_items_rules_and_totals(city):
    standard = make_standard(city, publish=True)
    page = html(
        login(city, "leader").get(reverse("inspections:standard_detail", args=[standard.pk]))
    )
    for text in (
        "环境卫生",
        "秩序管理",
        "楼道、院落无垃圾堆积，无卫生死角",
        "每处扣2分",
        "发现即扣3分",
        "本项目一票否决",
        "一票否决",
        "每处扣0.5分",
        "照片2张",
        "3个工作日",
        "24小时",
        "7天",
        "E0102",
        "市环境卫生管理处",
    ):
        assert text in page, text
    # Section totals and the standard's total (10 + 5 + 0 and 8 + 7 + 0).
    assert "15.00" in page and "30.00" in page


# ---- create ---------------------------------------------------------------------------------------


def test_create_from_excel_then_publish(city):
    client = login(city, "campaign_office")
    response = create_from(
        client, xlsx(GOOD_ROWS), code="NEW", name="新标准", location_type="market"
    )
    standard = Standard.objects.get(code="NEW")
    assert response.status_code == 302
    assert response["Location"] == reverse("inspections:standard_detail", args=[standard.pk])
    assert (standard.version, standard.status, standard.name, standard.location_type) == (
        1,
        StandardStatus.DRAFT,
        "新标准",
        "market",
    )
    sections = A.sections_of(standard)
    assert [s.name for s in sections] == ["环境卫生", "秩序管理"]
    assert sections[0].items[0].unit == city.units["hwc"]
    response = client.post(reverse("inspections:standard_publish", args=[standard.pk]))
    assert response.status_code == 302
    standard.refresh_from_db()
    assert (
        standard.status == StandardStatus.PUBLISHED
        and standard.published_by == city.users["campaign_office"]
    )


def test_create_from_excel_reads_code_name_and_type_from_the_about_sheet(city):
    client = login(city, "campaign_office")
    data = xlsx(
        GOOD_ROWS, about={"标准编号": "ABOUT", "标准名称": "说明表里的名字", "点位类型": "农贸市场"}
    )
    assert create_from(client, data).status_code == 302
    standard = Standard.objects.get(code="ABOUT")
    assert (standard.name, standard.location_type) == ("说明表里的名字", "market")


def test_row_errors_are_listed_by_row_and_column_and_nothing_is_written(city):
    client = login(city, "campaign_office")
    rows = [
        GOOD_ROWS[0],
        [2, None, "", 5, "发现即扣3分"],
        [3, None, "道路破损", 5, "扣得很多"],
        [4, None, "占道经营", "abc", "每处扣1分", "没有这个单位"],
    ]
    response = create_from(client, xlsx(rows), code="BAD", name="坏表", location_type="market")
    assert response.status_code == 400
    page = html(response)
    assert "row-errors" in page and "nothing was imported" in page
    assert "测评内容" in page and "扣分标准" in page and "分值" in page and "责任单位" in page
    assert "“扣得很多” is not a deduction rule" in page.replace("&ldquo;", "“").replace(
        "&rdquo;", "”"
    )
    # Row numbers are the sheet's (header is row 1).
    assert '<td class="num">3</td>' in page and '<td class="num">5</td>' in page
    assert not Standard.objects.exists()


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.xlsx", "The submitted file is empty."),
        (None, "photo.jpg", "This is not a spreadsheet"),
        (b"PK\x03\x04garbage", "broken.xlsx", "The file is damaged"),
        (xlsx([], about=None), "headers-only.xlsx", "header row but no items"),
        ("名称,分值\n路面,5\n".encode(), "plain.csv", "No header row"),
    ],
)
def test_bad_files_are_refused_with_a_reason(city, data, filename, message):
    if data is None:
        data = jpeg_upload().read()
    client = login(city, "campaign_office")
    response = create_from(client, data, filename, code="BAD", name="坏表", location_type="market")
    assert response.status_code == 400
    assert message in html(response)
    assert not Standard.objects.exists()


def test_a_bad_code_or_missing_type_is_shown_on_the_field(city):
    client = login(city, "campaign_office")
    response = create_from(
        client, xlsx(GOOD_ROWS), code="坏 代码", name="x", location_type="market"
    )
    assert response.status_code == 400 and "The code must be 1–32 letters" in html(response)
    response = create_from(client, xlsx(GOOD_ROWS), code="NOTYPE", name="x")
    assert response.status_code == 400 and "Unknown location type" in html(response)
    response = client.post(reverse("inspections:standard_create"), {"mode": "import", "code": "X"})
    assert response.status_code == 400 and "This field is required." in html(response)
    assert not Standard.objects.exists()


def test_create_an_empty_draft_and_its_bad_inputs(city):
    client = login(city, "campaign_office")
    url = reverse("inspections:standard_create")
    response = client.post(
        url, {"mode": "empty", "code": "", "name": "", "location_type": "nowhere"}
    )
    assert response.status_code == 400
    assert "This field is required." in html(response) and "Select a valid choice" in html(response)
    response = client.post(
        url, {"mode": "empty", "code": "E1", "name": "空白标准", "location_type": "market"}
    )
    standard = Standard.objects.get(code="E1")
    assert (
        response.status_code == 302
        and standard.status == StandardStatus.DRAFT
        and not standard.sections.exists()
    )
    response = client.post(
        url, {"mode": "empty", "code": "E1", "name": "again", "location_type": "market"}
    )
    assert response.status_code == 409 and "already exists" in html(response)
    assert Standard.objects.filter(code="E1").count() == 1


def test_the_template_is_an_empty_sheet_with_chinese_headers_that_imports_after_filling(city):
    client = login(city, "inspector")
    response = client.get(reverse("inspections:standard_template"))
    assert response.status_code == 200 and response["Content-Type"].startswith(
        "application/vnd.openxmlformats"
    )
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book["测评标准"]
    assert [c.value for c in sheet[1]] == HEADERS and sheet.max_row == 1
    for row in GOOD_ROWS:
        sheet.append(row)
    about = book["说明"]
    about["B1"], about["B2"], about["B3"] = "TPL", "模板标准", "背街小巷"
    out = io.BytesIO()
    book.save(out)
    assert create_from(login(city, "campaign_office"), out.getvalue()).status_code == 302
    standard = Standard.objects.get(code="TPL")
    assert (standard.name, standard.location_type) == ("模板标准", "back_street")
    assert sum(len(s.items) for s in A.sections_of(standard)) == 3


# ---- the Excel round trip through the pages ------------------------------------------------------


def test_excel_round_trip_through_the_pages(city):
    v1 = make_standard(city, publish=True)
    client = login(city, "campaign_office")
    response = client.get(reverse("inspections:standard_excel", args=[v1.pk]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    # Uploading the download as a new standard: version 2 of the same code, same content.
    assert create_from(client, data).status_code == 302
    v2 = Standard.objects.get(code="LXXQ", version=2)
    assert v2.status == StandardStatus.DRAFT and A.sections_of(v2) == A.sections_of(v1)
    # Replace the draft's content from an edited download: one item's points change.
    book = load_workbook(io.BytesIO(data))
    book["测评标准"]["D2"] = 12
    out = io.BytesIO()
    book.save(out)
    response = client.post(
        reverse("inspections:standard_import", args=[v2.pk]), {"file": upload(out.getvalue())}
    )
    assert response.status_code == 302
    first = A.sections_of(v2)[0].items[0]
    assert first.full_points == Decimal("12.00")
    assert Standard.objects.filter(code="LXXQ").count() == 2


def test_xlsform_download(city):
    standard = make_standard(city, publish=True)
    response = login(city, "inspector").get(
        reverse("inspections:standard_xlsform", args=[standard.pk])
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert {"survey", "choices", "settings"} <= set(book.sheetnames)
    assert book["settings"]["C2"].value == str(standard.version)


def test_replacing_from_a_bad_file_keeps_the_draft_as_it_was(city):
    draft = make_standard(city)
    before = A.sections_of(draft)
    client = login(city, "campaign_office")
    url = reverse("inspections:standard_import", args=[draft.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"file": upload(xlsx([[1, "环境", "内容", 5, "随便扣"]]))})
    assert response.status_code == 400 and "row-errors" in html(response)
    response = client.post(url, {"file": upload(jpeg_upload().read(), "x.jpg")})
    assert response.status_code == 400 and "This is not a spreadsheet" in html(response)
    response = client.post(url, {})
    assert response.status_code == 400
    assert A.sections_of(draft) == before


def test_a_published_version_cannot_be_replaced(city):
    published = make_standard(city, publish=True)
    before = A.sections_of(published)
    client = login(city, "campaign_office")
    url = reverse("inspections:standard_import", args=[published.pk])
    assert client.get(url).status_code == 409
    response = client.post(url, {"file": upload(xlsx(GOOD_ROWS))})
    assert response.status_code == 409 and "start a new version" in html(response)
    assert A.sections_of(published) == before and Standard.objects.count() == 1


# ---- lifecycle ------------------------------------------------------------------------------------


def test_new_version_retire_and_delete_draft(city):
    v1 = make_standard(city, publish=True)
    client = login(city, "campaign_office")
    response = client.post(reverse("inspections:standard_new_version", args=[v1.pk]))
    v2 = Standard.objects.get(code="LXXQ", version=2)
    assert response["Location"] == reverse("inspections:standard_detail", args=[v2.pk])
    # A second draft of the same code is refused with the reason, nothing written.
    response = client.post(reverse("inspections:standard_new_version", args=[v1.pk]))
    assert response.status_code == 409 and "already a draft" in html(response)
    # Publishing a draft with an empty section is refused.
    A.section_add(standard=v2, name="空项目", by=city.users["campaign_office"])
    response = client.post(reverse("inspections:standard_publish", args=[v2.pk]))
    assert response.status_code == 400 and "has no items" in html(response)
    assert Standard.objects.get(pk=v2.pk).status == StandardStatus.DRAFT
    # Delete the draft; delete again is a conflict (it no longer exists → 404).
    response = client.post(reverse("inspections:standard_delete", args=[v2.pk]))
    assert response.status_code == 302 and not Standard.objects.filter(pk=v2.pk).exists()
    assert client.post(reverse("inspections:standard_delete", args=[v2.pk])).status_code == 404
    # Retire v1; retiring again is refused; deleting a published/retired version too.
    assert client.post(reverse("inspections:standard_retire", args=[v1.pk])).status_code == 302
    assert Standard.objects.get(pk=v1.pk).status == StandardStatus.RETIRED
    assert client.post(reverse("inspections:standard_retire", args=[v1.pk])).status_code == 409
    assert client.post(reverse("inspections:standard_delete", args=[v1.pk])).status_code == 409
    assert client.get(reverse("inspections:standard_retire", args=[v1.pk])).status_code == 405


def test_rename_a_draft_and_its_bad_input(city):
    draft = make_standard(city)
    client = login(city, "campaign_office")
    url = reverse("inspections:standard_update", args=[draft.pk])
    response = client.post(url, {"name": "", "location_type": "market"})
    assert response.status_code == 400 and "This field is required." in html(response)
    assert (
        client.post(url, {"name": "新名字", "location_type": "market", "note": "n"}).status_code
        == 302
    )
    draft.refresh_from_db()
    assert (draft.name, draft.location_type, draft.note) == ("新名字", "market", "n")
    A.standard_publish(standard=draft, by=city.users["campaign_office"])
    assert client.post(url, {"name": "again", "location_type": "market"}).status_code == 409
    assert Standard.objects.get(pk=draft.pk).name == "新名字"


# ---- item by item -------------------------------------------------------------------------------


def item_post(**changes):
    data = {
        "content": "井盖完好",
        "full_points": "6",
        "rule": "per_occurrence",
        "deduction": "2",
        "veto_scope": "",
        "photos_required": "1",
        "unit": "",
        "category": "",
        "rectify_limit_kind": "working_days",
        "rectify_limit_value": "3",
    }
    data.update(changes)
    return data


def test_add_edit_and_remove_items_and_sections(city):
    draft = make_standard(city)
    client = login(city, "campaign_office")
    response = client.post(reverse("inspections:section_add", args=[draft.pk]), {"name": "设施"})
    assert response.status_code == 302
    section = Section.objects.get(standard=draft, name="设施")
    url = reverse("inspections:item_add", args=[draft.pk, section.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, item_post(unit=city.units["hwc"].pk, category="E0102"))
    assert response.status_code == 302
    item = Item.objects.get(section=section)
    assert (item.full_points, item.deduction, item.unit, item.category.code) == (
        Decimal("6.00"),
        Decimal("2.00"),
        city.units["hwc"],
        "E0102",
    )
    edit = reverse("inspections:item_edit", args=[draft.pk, item.pk])
    assert "井盖完好" in html(client.get(edit))
    assert client.post(edit, item_post(content="井盖齐全", deduction="6")).status_code == 302
    item.refresh_from_db()
    assert (item.content, item.deduction) == ("井盖齐全", Decimal("6.00"))
    assert (
        client.post(reverse("inspections:item_remove", args=[draft.pk, item.pk])).status_code == 302
    )
    assert not Item.objects.filter(pk=item.pk).exists()
    response = client.post(reverse("inspections:section_remove", args=[draft.pk, section.pk]))
    assert response.status_code == 302 and not Section.objects.filter(pk=section.pk).exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"deduction": "9"}, "cannot be more than the item"),
        ({"rule": "veto", "veto_scope": ""}, "A veto item must say"),
        ({"rule": "fixed", "veto_scope": "section"}, "Only veto items have a veto scope"),
        ({"content": ""}, "This field is required."),
        ({"full_points": "abc"}, "Enter a number."),
        ({"category": "Z9999"}, "No category has the code"),
        (
            {"rectify_limit_kind": "working_days", "rectify_limit_value": ""},
            "whole number more than 0",
        ),
        ({"photos_required": "11"}, "less than or equal to 10"),
    ],
)
def test_bad_item_inputs_are_shown_and_nothing_is_written(city, changes, message):
    draft = make_standard(city)
    section = draft.sections.first()
    before = A.sections_of(draft)
    client = login(city, "campaign_office")
    response = client.post(
        reverse("inspections:item_add", args=[draft.pk, section.pk]), item_post(**changes)
    )
    assert response.status_code == 400
    assert message in html(response)
    item = section.items.first()
    response = client.post(
        reverse("inspections:item_edit", args=[draft.pk, item.pk]), item_post(**changes)
    )
    assert response.status_code == 400
    assert A.sections_of(draft) == before


def test_a_published_version_refuses_item_changes(city):
    published = make_standard(city, publish=True)
    section = published.sections.first()
    item = section.items.first()
    before = A.sections_of(published)
    client = login(city, "campaign_office")
    assert (
        client.get(reverse("inspections:item_add", args=[published.pk, section.pk])).status_code
        == 409
    )
    assert (
        client.post(
            reverse("inspections:item_edit", args=[published.pk, item.pk]), item_post()
        ).status_code
        == 409
    )
    assert (
        client.post(reverse("inspections:item_remove", args=[published.pk, item.pk])).status_code
        == 409
    )
    assert (
        client.post(
            reverse("inspections:section_add", args=[published.pk]), {"name": "新"}
        ).status_code
        == 409
    )
    assert (
        client.post(
            reverse("inspections:section_remove", args=[published.pk, section.pk])
        ).status_code
        == 409
    )
    assert A.sections_of(published) == before
    # An item of another standard is not found through this one.
    other = make_standard(city, code="OTHER")
    url = reverse("inspections:item_edit", args=[other.pk, item.pk])
    assert client.get(url).status_code == 404


def test_a_duplicate_section_name_is_refused(city):
    draft = make_standard(city)
    client = login(city, "campaign_office")
    response = client.post(
        reverse("inspections:section_add", args=[draft.pk]), {"name": "环境卫生"}
    )
    assert response.status_code == 400 and "both called" in html(response)
    assert draft.sections.count() == 2
