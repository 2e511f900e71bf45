"""Importing historical cases: every bad input named, nothing ever half-imported.

Given the test city and a ledger as an office sends it, when a dispatcher uploads it,
then each row is checked (the preview), and on confirmation either every row becomes a
case — history, with its own ticket and times, and nobody notified — or none does.
"""

from __future__ import annotations

import datetime as dt

import pytest

from civicloop.cases.models import Case, CaseEvent, CaseUnit, EventKind, Report, Source, State
from civicloop.core.errors import ConflictError, PermissionRefused, TransitionRefused
from civicloop.core.tickets import ticket_next
from civicloop.ledger import actions
from civicloop.ledger.models import ImportBatch
from civicloop.ledger.reading import LedgerFileError
from civicloop.notifications.models import Delivery, Notice
from civicloop.org import policy
from civicloop.testing import SHANGHAI

from .helpers import csv_bytes, good_row, read_xlsx, xlsx

pytestmark = pytest.mark.django_db


def check(city, data: bytes, who: str = "dispatcher", **kw):
    return actions.ledger_check(data=data, by=city.users[who], **kw)


def errors_of(checked) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in checked.errors]


def only_error(city, row: dict, who: str = "dispatcher") -> tuple[str, str]:
    checked = check(city, xlsx([row]), who)
    assert not checked.prepared and len(checked.errors) >= 1, errors_of(checked)
    return checked.errors[0].column, checked.errors[0].message


def upload(
    city, data: bytes, who: str = "dispatcher", name: str = "台账.xlsx", **kw
) -> ImportBatch:
    return actions.ledger_upload(data=data, file_name=name, by=city.users[who], **kw)


# ---- a good ledger ------------------------------------------------------------------------------


def test_a_good_ledger_becomes_history_with_its_own_tickets_and_times(
    city, django_capture_on_commit_callbacks
):
    rows = [
        good_row("LG-0001"),
        good_row("LG-0002", 状态="处置中", 办结时间=None, 结案时间=None, 满意度=None),
    ]
    batch = upload(city, xlsx(rows))
    assert (
        batch.status == ImportBatch.Status.READY and batch.rows_total == 2 and batch.rows_bad == 0
    )
    assert batch.summary["states"] == [["in_progress", 1], ["closed", 1]]
    assert Case.objects.count() == 0  # the preview writes no case

    with django_capture_on_commit_callbacks(execute=True):
        result = actions.ledger_import(batch=batch, by=city.users["dispatcher"])
    assert (
        result.cases == 2
        and result.batch.status == ImportBatch.Status.IMPORTED
        and not result.batch.file
    )

    closed = Case.objects.get(ticket_no="LG-0001")
    assert closed.source == Source.IMPORT and closed.state == State.CLOSED
    assert closed.reported_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)
    assert closed.closed_at == dt.datetime(2026, 3, 2, 15, 0, tzinfo=SHANGHAI)
    assert closed.deadline_at is not None and closed.closed_on_time is True
    assert closed.rating == "satisfied" and closed.lookback_due_at is None
    assert closed.grid == city.areas["g1"] or closed.grid.parent == city.areas["c1"]
    assert closed.unit == city.units["hwc"]
    assert Report.objects.get(ticket_no="LG-0001").case == closed
    assert CaseUnit.objects.filter(case=closed, unit=city.units["hwc"], role="main").exists()
    event = CaseEvent.objects.get(case=closed)
    assert event.kind == EventKind.IMPORTED and event.actor == city.users["dispatcher"]
    assert (
        "台账.xlsx" in event.note
        and event.data["source"] == Source.HOTLINE
        and event.data["row"] == 2
    )

    running = Case.objects.get(ticket_no="LG-0002")
    assert (
        running.state == State.IN_PROGRESS and running.deadline_at is not None
    )  # from the category's limit
    # An open imported case is in the unit's hands like any other.
    assert policy.visible_cases(city.users["unit_staff"]).filter(pk=running.pk).exists()
    # History tells nobody.
    assert Notice.objects.count() == 0 and Delivery.objects.count() == 0


def test_importing_sends_nothing_on_commit(city, django_capture_on_commit_callbacks):
    checked = check(city, xlsx([good_row()]))
    with django_capture_on_commit_callbacks() as callbacks:
        actions.import_rows(checked.prepared, by=city.users["dispatcher"], file_name="a.xlsx")
    assert callbacks == [] and Case.objects.count() == 1


def test_english_headers_and_labels_are_accepted(city):
    row = {
        "Ticket number": "EN-1",
        "Category code": "E0102",
        "Street": "东关街道",
        "Community": "幸福社区",
        "Description": "rubbish",
        "Reported at": "2026-03-02 09:30",
        "State": "Reported, awaiting registration",
    }
    checked = check(city, xlsx([row]))
    assert checked.ok and checked.prepared[0].state == State.REPORTED


def test_a_title_line_above_the_headers_is_skipped(city):
    checked = check(city, xlsx([good_row()], title_row="东关街道2026年3月城市管理问题台账"))
    assert checked.ok and checked.sheet.header_row == 2 and checked.prepared[0].row == 3


def test_unknown_columns_are_listed_and_ignored(city):
    checked = check(city, xlsx([{**good_row(), "备注": "无"}]))
    assert checked.ok and checked.summary()["ignored"] == ["备注"]


def test_gb18030_csv_from_chinese_excel(city):
    checked = check(city, csv_bytes([good_row()], encoding="gb18030"))
    assert checked.ok and checked.sheet.encoding == "gb18030"
    assert checked.prepared[0].description == "小区门口垃圾堆放"


@pytest.mark.parametrize(
    ("encoding", "delimiter"), [("utf-8-sig", ","), ("utf-8", ";"), ("utf-16", "\t")]
)
def test_csv_in_utf8_with_or_without_bom_and_excel_unicode_text(city, encoding, delimiter):
    checked = check(city, csv_bytes([good_row()], encoding=encoding, delimiter=delimiter))
    assert checked.ok, errors_of(checked)


def test_excel_serial_dates_in_number_cells_and_as_text(city):
    rows = [
        good_row(
            "S-1",
            上报时间=46083.395833333,
            立案时间=None,
            派遣时间=None,
            办结时间=46083.625,
            结案时间=46083.66666667,
        ),
        good_row(
            "S-2",
            上报时间="46083.395833333",
            立案时间=None,
            派遣时间=None,
            办结时间="46083.625",
            结案时间="46083.6666667",
        ),
    ]
    checked = check(city, xlsx(rows))
    assert checked.ok, errors_of(checked)
    for p in checked.prepared:
        assert p.reported_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)
        assert p.closed_at == dt.datetime(2026, 3, 2, 16, 0, tzinfo=SHANGHAI)


def test_a_point_places_the_case_in_its_grid(city):
    lat, lon = city.point_in("g2")
    checked = check(city, xlsx([good_row(经度=lon, 纬度=lat)]))
    assert (
        checked.ok
        and checked.prepared[0].grid == city.areas["g2"]
        and checked.prepared[0].located == "point"
    )


def test_without_a_point_a_given_grid_places_the_case(city):
    checked = check(city, xlsx([good_row(所属网格="幸福社区第2网格")]))
    p = checked.prepared[0]
    assert p.grid == city.areas["g2"] and p.located == "grid"
    assert city.areas["g2"].shape.covers(__import__("shapely").geometry.Point(p.lon, p.lat))


def test_imported_own_format_tickets_are_never_handed_out_again(city):
    checked = check(city, xlsx([good_row("20260302-000050")]))
    actions.import_rows(checked.prepared, by=city.users["dispatcher"], file_name="a.xlsx")
    assert ticket_next(at=dt.datetime(2026, 3, 2, 12, 0, tzinfo=SHANGHAI)) == "20260302-000051"


# ---- every bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"问题分类": "外星人入侵"}, "问题分类", "Unknown category"),
        ({"所属社区": "不存在社区"}, "所属社区", "Unknown community"),
        (
            {"所属社区": "团结社区"},
            "所属社区",
            "belongs to",
        ),  # a community of another street office
        ({"所属街道": "西大街街道"}, "所属街道", "Unknown street office"),
        ({"上报时间": "2026-02-30 09:00"}, "上报时间", "not a valid date"),
        ({"上报时间": "上周三"}, "上报时间", "not a date"),
        ({"上报时间": None}, "上报时间", "missing"),
        ({"结案时间": "2026-03-02 08:00"}, "结案时间", "is before"),  # end before start
        ({"派遣时间": "2026-03-01 08:00"}, "派遣时间", "is before"),
        (
            {
                "上报时间": "2099-01-01 08:00",
                "立案时间": None,
                "派遣时间": None,
                "办结时间": None,
                "结案时间": None,
                "状态": "已上报",
                "满意度": None,
                "处置单位": None,
            },
            "上报时间",
            "future",
        ),
        ({"状态": "神秘状态"}, "状态", "Unknown state"),
        ({"处置单位": "不存在的单位"}, "处置单位", "Unknown handling unit"),
        ({"处置单位": None}, "处置单位", "handling unit is missing"),
        ({"满意度": "还行吧"}, "满意度", "Unknown satisfaction"),
        ({"状态": "处置中", "结案时间": None, "办结时间": None}, "满意度", "Only closed cases"),
        ({"状态": "处置中", "办结时间": None}, "结案时间", "no closing time"),
        ({"返工次数": "-1"}, "返工次数", "whole number"),
        ({"工单编号": "工单/1"}, "工单编号", "not a ticket number"),
        ({"问题描述": ""}, "问题描述", "missing"),
        ({"经度": 80.262}, "纬度", "both"),
        ({"经度": 200, "纬度": 41.1}, "纬度", "not a place on Earth"),
        ({"经度": "东经80度", "纬度": 41.1}, "经度", "not a number"),
        ({"经度": 116.4, "纬度": 39.9}, "经度", "outside every grid"),
        ({"所属网格": "团结社区第1网格"}, "所属网格", "is not in community"),
    ],
)
def test_each_bad_row_is_named_with_its_column(city, changes, column, words):
    found_column, message = only_error(city, good_row(**changes))
    assert found_column == column and words in message, message


def test_a_point_in_another_community_is_refused(city):
    lat, lon = city.point_in("g3")  # 和平社区, same street office
    column, message = only_error(city, good_row(经度=lon, 纬度=lat))
    assert column == "经度" and "和平社区" in message


def test_a_point_in_another_grid_than_the_one_given_is_refused(city):
    lat, lon = city.point_in("g1")
    column, message = only_error(city, good_row(经度=lon, 纬度=lat, 所属网格="幸福社区第2网格"))
    assert column == "所属网格" and "幸福社区第1网格" in message


def test_a_ticket_twice_in_the_file_is_refused_in_its_second_row(city):
    checked = check(city, xlsx([good_row("DUP-1"), good_row("OK-2"), good_row("DUP-1")]))
    assert errors_of(checked) == [(4, "工单编号", "Ticket number DUP-1 is also in row 2.")]
    assert not checked.ok


def test_a_ticket_that_already_exists_is_refused(city):
    actions.import_rows(
        check(city, xlsx([good_row("OLD-1")])).prepared,
        by=city.users["dispatcher"],
        file_name="a.xlsx",
    )
    column, message = only_error(city, good_row("OLD-1"))
    assert column == "工单编号" and "already exists" in message


def test_closed_on_time_must_agree_with_the_overdue_column(city):
    row = good_row(是否超期="是", 处置时限="2026-03-05 17:00")
    column, message = only_error(city, row)
    assert column == "是否超期" and "by its deadline" in message


def test_without_a_deadline_the_overdue_column_says_whether_it_closed_on_time(city):
    checked = check(city, xlsx([good_row(是否超期="是", 派遣时间=None)]))
    assert (
        checked.ok
        and checked.prepared[0].closed_on_time is False
        and checked.prepared[0].deadline_at is None
    )


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \n  ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, "not a spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, ".xls"),
        (b"PK\x03\x04 not really a zip", "damaged"),
        ("工单编号,问题分类\nA-1,暴露垃圾\n".encode(), "lacks these columns"),
        ("名字,年龄\n张三,3\n".encode(), "lacks these columns"),
    ],
)
def test_files_that_are_no_usable_ledger(city, data, words):
    with pytest.raises(LedgerFileError, match=words):
        upload(city, data)
    assert ImportBatch.objects.count() == 0


def test_a_zip_that_is_not_a_workbook(city):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(LedgerFileError, match="not an Excel workbook"):
        upload(city, buffer.getvalue())


def test_wrong_headers_name_the_missing_ones(city):
    data = xlsx([{"编号": "1", "分类": "x", "街道": "东关街道"}])
    with pytest.raises(LedgerFileError) as info:
        upload(city, data)
    assert (
        "所属社区" in info.value.message
        and "状态" in info.value.message
        and "分类" in info.value.message
    )


def test_two_columns_meaning_the_same(city):
    with pytest.raises(LedgerFileError, match="both mean"):
        upload(city, xlsx([{**good_row(), "案卷编号": "X"}]))


def test_headers_without_rows(city):
    with pytest.raises(LedgerFileError, match="no rows"):
        upload(
            city,
            csv_bytes(
                [],
                headers=[
                    "工单编号",
                    "问题分类",
                    "所属街道",
                    "所属社区",
                    "问题描述",
                    "上报时间",
                    "状态",
                ],
            ),
        )


def test_too_many_rows(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "LEDGER_IMPORT_MAX_ROWS": 2}
    with pytest.raises(LedgerFileError, match="more than 2 rows"):
        upload(city, xlsx([good_row(f"R-{i}") for i in range(3)]))


def test_too_many_bytes(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "LEDGER_IMPORT_MAX_BYTES": 1000}
    with pytest.raises(LedgerFileError, match="at most"):
        upload(city, xlsx([good_row(f"R-{i}") for i in range(20)]))


# ---- nothing half-imported ---------------------------------------------------------------------------


def test_one_bad_row_among_good_ones_imports_nothing(city):
    rows = [
        good_row("G-1"),
        good_row("G-2"),
        good_row("BAD-3", 问题分类="外星人入侵"),
        good_row("G-4"),
    ]
    before = (Case.objects.count(), Report.objects.count(), CaseEvent.objects.count())
    batch = upload(city, xlsx(rows), name="三月台账.xlsx")
    assert (
        batch.status == ImportBatch.Status.INVALID and batch.rows_bad == 1 and batch.rows_total == 4
    )
    with pytest.raises(TransitionRefused):
        actions.ledger_import(batch=batch, by=city.users["dispatcher"])
    assert (Case.objects.count(), Report.objects.count(), CaseEvent.objects.count()) == before

    # The error report: the rows as uploaded plus 错误原因, filled only where something is wrong.
    with batch.error_report.open("rb") as fh:
        report = read_xlsx(fh.read())
    assert report[0][-1] == "错误原因" and report[0][0] == "工单编号"
    assert [r[0] for r in report[1:]] == ["G-1", "G-2", "BAD-3", "G-4"]
    assert report[3][-1].startswith("问题分类: Unknown category") and report[1][-1] is None


def test_a_ledger_that_changed_meanwhile_imports_nothing(city):
    batch = upload(city, xlsx([good_row("C-1"), good_row("C-2")]))
    assert batch.status == ImportBatch.Status.READY
    # Someone imports C-2 between the preview and the confirmation.
    actions.import_rows(
        check(city, xlsx([good_row("C-2")])).prepared,
        by=city.users["dispatcher"],
        file_name="other.xlsx",
    )
    result = actions.ledger_import(batch=batch, by=city.users["dispatcher"])
    assert result.cases == 0 and result.batch.status == ImportBatch.Status.INVALID
    assert not Case.objects.filter(ticket_no="C-1").exists()


def test_a_ledger_is_imported_once(city):
    batch = upload(city, xlsx([good_row()]))
    actions.ledger_import(batch=batch, by=city.users["dispatcher"])
    with pytest.raises(TransitionRefused, match="already imported"):
        actions.ledger_import(batch=batch, by=city.users["dispatcher"])
    assert Case.objects.count() == 1


def test_a_ticket_taken_at_the_last_moment_rolls_everything_back(city, monkeypatch):
    from civicloop.ledger import importing

    batch = upload(city, xlsx([good_row("T-1"), good_row("T-2")]))
    actions.import_rows(
        check(city, xlsx([good_row("T-2")])).prepared,
        by=city.users["dispatcher"],
        file_name="x.xlsx",
    )
    monkeypatch.setattr(
        importing, "existing_tickets", lambda tickets: set()
    )  # the race: the check saw nothing
    with pytest.raises(ConflictError):
        actions.ledger_import(batch=batch, by=city.users["dispatcher"])
    assert not Case.objects.filter(ticket_no="T-1").exists()
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.READY


# ---- who may import what ------------------------------------------------------------------------------


def test_a_dispatcher_cannot_import_rows_outside_his_area(city):
    row = good_row(所属街道="西门街道", 所属社区="团结社区", 处置单位="团结社区居委会")
    column, message = only_error(city, row, who="dispatcher")
    assert column == "所属社区" and "outside your area" in message
    assert check(city, xlsx([row]), who="dispatcher_b").ok
    assert check(city, xlsx([row]), who="admin").ok


def test_one_row_outside_the_area_stops_the_whole_file(city):
    rows = [
        good_row("IN-1"),
        good_row("OUT-2", 所属街道="西门街道", 所属社区="团结社区", 处置单位="团结社区居委会"),
    ]
    batch = upload(city, xlsx(rows))
    assert (
        batch.status == ImportBatch.Status.INVALID and batch.summary["first_errors"][0]["row"] == 3
    )


@pytest.mark.parametrize("who", ["leader", "unit_staff", "grid_worker", "resident", "outsider"])
def test_only_dispatchers_and_admins_import(city, who):
    with pytest.raises(PermissionRefused):
        upload(city, xlsx([good_row()]), who=who)


def test_someone_else_cannot_confirm_my_import(city):
    batch = upload(city, xlsx([good_row()]))
    with pytest.raises(PermissionRefused):
        actions.ledger_import(batch=batch, by=city.users["admin"])
    assert Case.objects.count() == 0


def test_gcj02_points_are_converted(city):
    from civicloop.places.coords import wgs84_to_gcj02

    lat, lon = city.point_in("g2")
    g_lat, g_lon = wgs84_to_gcj02(lat, lon)
    checked = check(city, xlsx([good_row(经度=g_lon, 纬度=g_lat)]), crs="gcj02")
    assert checked.ok and checked.prepared[0].grid == city.areas["g2"]
    assert abs(checked.prepared[0].lat - lat) < 1e-5 and abs(checked.prepared[0].lon - lon) < 1e-5
