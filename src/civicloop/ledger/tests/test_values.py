"""Cell values: the date formats Chinese offices type, Excel serials, headers and escaping."""

from __future__ import annotations

import datetime as dt

import pytest

from civicloop.cases.models import Rating, Source, State
from civicloop.ledger import columns as C
from civicloop.ledger import values as V
from civicloop.testing import SHANGHAI


def local(y: int, m: int, d: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hour, minute, second, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01 09:30", local(2026, 3, 1, 9, 30)),
        ("2026-03-01 09:30:15", local(2026, 3, 1, 9, 30, 15)),
        ("2026/3/1", local(2026, 3, 1)),
        ("2026/3/1 9:30", local(2026, 3, 1, 9, 30)),
        ("2026.3.1", local(2026, 3, 1)),
        ("2026年3月1日", local(2026, 3, 1)),
        ("2026年3月1日 9时30分", local(2026, 3, 1, 9, 30)),
        ("2026年3月1日09:30", local(2026, 3, 1, 9, 30)),
        ("20260301", local(2026, 3, 1)),
        ("2026-03-01T09:30:00+08:00", local(2026, 3, 1, 9, 30)),
        ("2026-03-01T01:30:00Z", local(2026, 3, 1, 9, 30)),
        ("46082.395833333", local(2026, 3, 1, 9, 30)),  # an Excel serial typed as text
        (46082.395833333, local(2026, 3, 1, 9, 30)),  # an Excel serial in a number cell
        (46082, local(2026, 3, 1)),
        (
            dt.datetime(2026, 3, 1, 9, 29, 59, 999_990),
            local(2026, 3, 1, 9, 30),
        ),  # Excel's float noise
        (dt.date(2026, 3, 1), local(2026, 3, 1)),
    ],
)
def test_dates_in_the_formats_offices_use(raw, expected):
    assert V.parse_datetime(raw) == expected


def test_the_1904_date_system_of_old_mac_workbooks():
    assert V.parse_datetime(44620.5, epoch=dt.datetime(1904, 1, 1)) == local(2026, 3, 1, 12, 0)


@pytest.mark.parametrize(
    "raw", ["2026-13-01", "2026-02-30", "yesterday", "3/1/2026", "12345", 12, "2026年3月"]
)
def test_what_is_not_a_date_is_refused_with_the_value(raw):
    with pytest.raises(ValueError, match="date"):
        V.parse_datetime(raw)


def test_empty_cells_are_no_date():
    assert V.parse_datetime(None) is None and V.parse_datetime("  ") is None


@pytest.mark.parametrize("raw", ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx"])
def test_exported_text_never_runs_as_a_formula_and_reads_back_as_it_was(raw):
    escaped = V.safe_text(raw)
    assert escaped.startswith("'")
    assert V.text(escaped) == raw.strip() or V.text(escaped) == raw


def test_ordinary_text_is_left_alone():
    assert V.safe_text("楼下垃圾") == "楼下垃圾" and V.text("'quoted") == "'quoted"


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("20261117-000123", True),
        (20260301001, True),
        (2.0260301001e10, True),
        ("A/B", False),
        ("x" * 17, False),
        ("工单1", False),
    ],
)
def test_ticket_numbers(raw, ok):
    if ok:
        assert V.parse_ticket(raw)
    else:
        with pytest.raises(ValueError):
            V.parse_ticket(raw)


def test_ticket_numbers_from_number_cells_lose_no_digits():
    assert V.parse_ticket(20260301001.0) == "20260301001"


def test_headers_are_found_in_chinese_english_and_aliases():
    assert C.column_for_header("工单编号") == "ticket"
    assert C.column_for_header(" 工单 编号* ") == "ticket"
    assert C.column_for_header("Ticket number") == "ticket"
    assert C.column_for_header("ticket_no") == "ticket"
    assert C.column_for_header("所属社区（必填）") == "community"
    assert C.column_for_header("序号") == ""
    assert C.column_for_header("错误原因") == ""
    assert C.column_for_header("备注") is None


def test_state_words_of_ledgers_and_our_labels_in_both_languages():
    assert C.state_from("已办结") == State.CLOSED
    assert C.state_from("已结案") == State.CLOSED
    assert C.state_from("已上报，待立案") == State.REPORTED
    assert C.state_from("Closed") == State.CLOSED
    assert C.state_from("in_progress") == State.IN_PROGRESS
    assert C.state_from("处理中") == State.IN_PROGRESS
    assert C.state_from("不知道") is None
    assert C.source_from("12345热线") == Source.HOTLINE
    assert C.rating_from("基本满意") == Rating.BASIC
    assert (
        C.yes_no_from("是") is True
        and C.yes_no_from("否") is False
        and C.yes_no_from("也许") is None
    )


def test_labels_follow_the_ledger_language_not_the_page():
    assert C.label(State, State.CLOSED, "zh-hans") == "已结案"
    assert C.label(State, State.CLOSED, "en") == "Closed"
    assert C.headers("en")[0] == "Ticket number" and C.headers("zh-hans")[0] == "工单编号"
