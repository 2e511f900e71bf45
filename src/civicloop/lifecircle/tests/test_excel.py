"""The life-circle workbook (``/lifecircle/export.xlsx``): the same numbers as the pages,
scoped to the reader's areas, with not-connected places never shown as 0 m."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from civicloop.lifecircle import selectors
from civicloop.lifecircle.excel import coverage_workbook

pytestmark = pytest.mark.django_db

EXPORT = reverse("lifecircle:export")


def workbook_for(lc_city, key: str):  # noqa: ANN001, ANN201
    client = Client()
    client.force_login(lc_city.city.users[key])
    response = client.get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in response["Content-Disposition"]
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def rows(sheet) -> list[list]:  # noqa: ANN001
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def test_sheets_headers_and_values_equal_the_table(lc_city):
    book = workbook_for(lc_city, "campaign_office")
    assert book.sheetnames == ["Communities", "Street offices", "Gaps"]
    communities = rows(book["Communities"])
    kinds = selectors.active_kinds()
    assert communities[0][:3] == ["Community", "Street office", "Households"]
    assert communities[0][3] == f"{kinds[0].name} ({kinds[0].level_minutes} min) %"
    assert communities[0][-1] == "All required kinds %"
    assert len(communities[0]) == 3 + len(kinds) + 1
    table = selectors.coverage_table(lc_city.city.users["campaign_office"], level="community")
    assert [r[0] for r in communities[1:]] == [r.area.name for r in table.rows]
    clinic = next(i for i, k in enumerate(kinds) if k.code == "clinic")
    for line, row in zip(communities[1:], table.rows, strict=True):
        assert line[1] == row.parent_name
        assert line[2] == row.households
        assert line[3 + clinic] == row.by_kind[kinds[clinic].pk].share
        assert line[-1] == row.all_required.share
    assert communities[1][:3] == ["幸福社区", "东关街道", 500]
    streets = rows(book["Street offices"])
    assert streets[0][:2] == ["Street office", "District"]
    assert [r[0] for r in streets[1:]] == ["东关街道", "西门街道"]


def test_gap_sheet_says_not_connected_never_zero(lc_city):
    book = workbook_for(lc_city, "campaign_office")
    gaps = rows(book["Gaps"])
    assert gaps[0] == [
        "Kind of facility",
        "Compound or building",
        "Community",
        "Street office",
        "Households",
        "State",
        "Walking distance (m)",
        "Minutes",
        "Nearest facility",
    ]
    clinic_gaps = [g for g in gaps[1:] if g[0] == lc_city.kind("clinic").name]
    assert clinic_gaps == [
        [
            "Community health station",
            "团结新村",
            "团结社区",
            "西门街道",
            120,
            "Not connected to any facility of this kind",
            "—",
            "—",
            "—",
        ]
    ]
    assert len(gaps) - 1 == len(selectors.gaps(lc_city.city.users["campaign_office"]))


def test_a_district_leader_gets_only_his_areas(lc_city):
    book = workbook_for(lc_city, "leader_b")
    assert [r[0] for r in rows(book["Communities"])[1:]] == ["团结社区"]
    assert [r[0] for r in rows(book["Street offices"])[1:]] == ["西门街道"]
    assert {r[1] for r in rows(book["Gaps"])[1:]} == {"团结新村"}


def test_headers_follow_the_language(lc_city):
    with translation.override("zh-hans"):
        book = load_workbook(coverage_workbook(lc_city.city.users["campaign_office"]))
        first = rows(book.worksheets[0])[0]
    assert first[3].startswith("超市")


def test_refused_to_people_without_the_role(lc_city):
    for key in ("resident", "dispatcher", "outsider"):
        client = Client()
        client.force_login(lc_city.city.users[key])
        assert client.get(EXPORT).status_code == 404
