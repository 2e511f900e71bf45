"""The ledger's columns (台账字段): the one table that import, export and the template share.

A ledger is a spreadsheet with one case per row and Chinese headers. Export writes the
headers below in this order (``lang="en"``: the English header); import finds each
column by its Chinese header, its English header or one of the aliases that other
systems' ledgers use (12345 hotline, older 数字城管 systems), in any order, ignoring
spaces, ``*`` required-markers and letter case. Columns the table does not know are
ignored (the preview lists them).

=========== ============= ==========================================================
header      English       meaning
=========== ============= ==========================================================
工单编号    Ticket number required, unique; kept as the case's ticket number
问题来源    Source        where the report came from; kept for the record
问题大类    Big class     optional check of the category's big class
问题分类    Category      small class by name (or code); this or 分类编码 required
分类编码    Category code GB/T 30428 code such as E0102
所属区      District      optional; must hold the street office
所属街道    Street        required
所属社区    Community     required; must lie in the street office
所属网格    Grid          optional; must lie in the community
地址        Address       optional
经度 纬度   Lon, Lat      optional pair, WGS-84 (or GCJ-02 when the importer says so);
                          the point must fall in a grid of the community
问题描述    Description   required
上报时间    Reported at   required
立案时间    Registered at
派遣时间    Dispatched at
处置单位    Handling unit name or code of a unit; required once dispatched
处置时限    Deadline      default: the category's time limit from 派遣时间
办结时间    Handled at    the unit's report-back; required for 已处置
结案时间    Closed at     required for closed states (falls back to 办结时间)
状态        State         our states by their labels, or common ledger words
是否超期    Overdue       export: computed; import: used only when there is no deadline
返工次数    Reworks       whole number, default 0
满意度      Satisfaction  满意 / 基本满意 / 不满意, closed cases only
=========== ============= ==========================================================

Reporters' names and phone numbers are deliberately not part of the ledger: an export
goes to every staff role, and only the area's dispatchers and grid workers may see them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from civicloop.cases.models import Rating, Source, State


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    note: Any = ""

    def header(self, lang: str) -> str:
        return self.en if is_english(lang) else self.zh


COLUMNS: tuple[Column, ...] = (
    Column(
        "ticket",
        "工单编号",
        "Ticket number",
        ("案卷编号", "案件编号", "工单号", "编号", "ticket", "ticket_no"),
        True,
        _("Unique; kept as the case's ticket number. At most 16 letters, digits, - or _."),
    ),
    Column(
        "source",
        "问题来源",
        "Source",
        ("来源", "案件来源", "source"),
        False,
        _(
            "Where the report came from (居民上报, 12345 热线 …). Kept for the record; the case's source becomes “Ledger import”."
        ),
    ),
    Column(
        "big_class",
        "问题大类",
        "Big class",
        ("大类", "big_class"),
        False,
        _("Optional check: must be the big class of the category."),
    ),
    Column(
        "category",
        "问题分类",
        "Category",
        ("问题小类", "小类", "案件类别", "category"),
        False,
        _("Small class by name (or code). This column or 分类编码 is required."),
    ),
    Column(
        "category_code",
        "分类编码",
        "Category code",
        ("类别编码", "小类编码", "category_code"),
        False,
        _("GB/T 30428 code such as E0102."),
    ),
    Column(
        "district",
        "所属区",
        "District",
        ("区县", "所属区县", "district"),
        False,
        _("Optional; must hold the street office."),
    ),
    Column(
        "street",
        "所属街道",
        "Street",
        ("街道", "街道办事处", "street"),
        True,
        _("Name or code of the street office."),
    ),
    Column(
        "community",
        "所属社区",
        "Community",
        ("社区", "community"),
        True,
        _("Name or code of a community of that street office."),
    ),
    Column(
        "grid",
        "所属网格",
        "Grid",
        ("网格", "grid"),
        False,
        _("Optional name or code of a grid of that community."),
    ),
    Column(
        "address",
        "地址",
        "Address",
        ("问题地址", "详细地址", "发生地址", "address"),
        False,
        _("Optional."),
    ),
    Column(
        "lon",
        "经度",
        "Longitude",
        ("lon", "lng", "longitude"),
        False,
        _(
            "Optional, with 纬度; WGS-84 unless the import says GCJ-02. The point must fall in a grid of the community."
        ),
    ),
    Column("lat", "纬度", "Latitude", ("lat", "latitude"), False, _("Optional, with 经度.")),
    Column(
        "description",
        "问题描述",
        "Description",
        ("描述", "案件描述", "诉求内容", "问题内容", "description"),
        True,
        _("What the problem was."),
    ),
    Column(
        "reported_at",
        "上报时间",
        "Reported at",
        ("发现时间", "来电时间", "reported_at"),
        True,
        _("Date and time, e.g. 2026-03-01 09:30, 2026/3/1, 2026年3月1日 or an Excel date."),
    ),
    Column(
        "registered_at",
        "立案时间",
        "Registered at",
        ("registered_at",),
        False,
        _("Optional; not before 上报时间."),
    ),
    Column(
        "dispatched_at",
        "派遣时间",
        "Dispatched at",
        ("派单时间", "dispatched_at"),
        False,
        _(
            "Optional; not before 立案时间. Required for a case still being handled unless 处置时限 is given."
        ),
    ),
    Column(
        "unit",
        "处置单位",
        "Handling unit",
        ("责任单位", "承办单位", "unit"),
        False,
        _("Name or code of a handling unit in civicloop; required once the case was dispatched."),
    ),
    Column(
        "deadline_at",
        "处置时限",
        "Deadline",
        ("办理时限", "截止时间", "deadline", "deadline_at"),
        False,
        _("Optional date and time; default: the category's time limit counted from 派遣时间."),
    ),
    Column(
        "handled_at",
        "办结时间",
        "Handled at",
        ("处置时间", "handled_at"),
        False,
        _("When the unit reported it handled; required for 已处置, not allowed before that."),
    ),
    Column(
        "closed_at",
        "结案时间",
        "Closed at",
        ("closed_at",),
        False,
        _(
            "Required for closed cases (办结时间 is used when it is empty); not allowed for open ones."
        ),
    ),
    Column(
        "state",
        "状态",
        "State",
        ("案件状态", "工单状态", "办理状态", "state", "status"),
        True,
        _(
            "The case's state: our labels (已结案 …) or common ledger words (已办结, 处置中, 不予立案 …). Open cases are imported too and continue in the workflow."
        ),
    ),
    Column(
        "overdue",
        "是否超期",
        "Overdue",
        ("超期", "overdue"),
        False,
        _(
            "Export: computed. Import: 是/否, used for closed cases only when there is no deadline; must agree with the times otherwise."
        ),
    ),
    Column(
        "rework_count",
        "返工次数",
        "Reworks",
        ("返工", "reworks", "rework_count"),
        False,
        _("Whole number, default 0."),
    ),
    Column(
        "rating",
        "满意度",
        "Satisfaction",
        ("满意度评价", "评价", "rating", "satisfaction"),
        False,
        _("满意, 基本满意 or 不满意; closed cases only."),
    ),
)
BY_KEY = {c.key: c for c in COLUMNS}
# Headers a ledger often carries that mean nothing to us (our own error report adds 错误原因).
IGNORED_HEADERS = ("序号", "no", "no.", "错误原因", "error", "errors")
ERROR_HEADER = "错误原因"


def is_english(lang: str | None) -> bool:
    return (lang or "").lower().startswith("en")


def normalize(text: Any) -> str:
    """Headers and labels compared without spaces, markers, width or case differences."""
    value = str(text if text is not None else "").strip()
    value = value.translate(_WIDTH)
    value = re.sub(r"[\s*＊]+", "", value)
    value = re.sub(r"[（(](必填|选填|required|optional)[)）]$", "", value, flags=re.IGNORECASE)
    return value.replace("_", "").casefold()


_WIDTH = str.maketrans("（），：；　", "(),:; ")

_HEADERS: dict[str, str] = {}
for _c in COLUMNS:
    for _h in (_c.zh, _c.en, *_c.aliases):
        _HEADERS.setdefault(normalize(_h), _c.key)
_IGNORED = {normalize(h) for h in IGNORED_HEADERS}


def column_for_header(text: Any) -> str | None:
    """The column key a header means, ``""`` for a known header to ignore, ``None`` if unknown."""
    key = normalize(text)
    if not key:
        return ""
    if key in _HEADERS:
        return _HEADERS[key]
    return "" if key in _IGNORED else None


def headers(lang: str) -> list[str]:
    return [c.header(lang) for c in COLUMNS]


# ---- values: our choices ↔ the words ledgers use -----------------------------------------------

STATE_WORDS: dict[str, State] = {
    "待受理": State.REPORTED,
    "待立案": State.REPORTED,
    "已上报": State.REPORTED,
    "新上报": State.REPORTED,
    "待审核": State.REPORTED,
    "已立案": State.REGISTERED,
    "待派遣": State.REGISTERED,
    "不予立案": State.REJECTED,
    "不立案": State.REJECTED,
    "已驳回": State.REJECTED,
    "驳回": State.REJECTED,
    "已作废": State.VOIDED,
    "作废": State.VOIDED,
    "已派遣": State.DISPATCHED,
    "待签收": State.DISPATCHED,
    "待接收": State.DISPATCHED,
    "已退回": State.RETURNED,
    "退回": State.RETURNED,
    "退单": State.RETURNED,
    "处置中": State.IN_PROGRESS,
    "办理中": State.IN_PROGRESS,
    "处理中": State.IN_PROGRESS,
    "已签收": State.IN_PROGRESS,
    "缓办": State.DEFERRED,
    "挂账": State.DEFERRED,
    "暂缓": State.DEFERRED,
    "已处置": State.HANDLED,
    "待核查": State.HANDLED,
    "处置完毕": State.HANDLED,
    # Hotline ledgers say 办结 for a finished case: closed.
    "已结案": State.CLOSED,
    "结案": State.CLOSED,
    "已办结": State.CLOSED,
    "办结": State.CLOSED,
    "已完成": State.CLOSED,
    "回头看通过": State.LOOKBACK_PASSED,
    "回头看复发": State.RECURRED,
    "复发": State.RECURRED,
}
SOURCE_WORDS: dict[str, Source] = {
    "居民": Source.RESIDENT,
    "市民": Source.RESIDENT,
    "群众": Source.RESIDENT,
    "市民上报": Source.RESIDENT,
    "网格员": Source.GRID_WORKER,
    "巡查": Source.GRID_WORKER,
    "网格巡查": Source.GRID_WORKER,
    "12345": Source.HOTLINE,
    "12345热线": Source.HOTLINE,
    "热线": Source.HOTLINE,
    "督查": Source.INSPECTION,
    "暗访": Source.INSPECTION,
}
RATING_WORDS: dict[str, Rating] = {
    "非常满意": Rating.SATISFIED,
    "一般": Rating.BASIC,
    "很不满意": Rating.DISSATISFIED,
    "非常不满意": Rating.DISSATISFIED,
}
YES_WORDS = {"是", "超期", "已超期", "yes", "y", "true", "1"}
NO_WORDS = {"否", "未超期", "按期", "no", "n", "false", "0"}
YES_NO = {"zh-hans": ("是", "否"), "en": ("Yes", "No")}


def _lookup(choices: Any, words: dict[str, Any]) -> dict[str, Any]:
    """Values, Chinese and English labels of ``choices`` plus the extra words, normalised."""
    table: dict[str, Any] = {}
    for member in choices:
        table[normalize(member.value)] = member
        for lang in ("zh-hans", "en"):
            with translation.override(lang):
                table.setdefault(normalize(str(member.label)), member)
    for word, member in words.items():
        table.setdefault(normalize(word), member)
    return table


@cache
def _tables() -> dict[str, dict[str, Any]]:
    return {
        "state": _lookup(State, STATE_WORDS),
        "source": _lookup(Source, SOURCE_WORDS),
        "rating": _lookup(Rating, RATING_WORDS),
    }


def state_from(text: Any) -> State | None:
    return _tables()["state"].get(normalize(text))


def source_from(text: Any) -> Source | None:
    return _tables()["source"].get(normalize(text))


def rating_from(text: Any) -> Rating | None:
    return _tables()["rating"].get(normalize(text))


def yes_no_from(text: Any) -> bool | None:
    word = normalize(text)
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None


def yes_no(value: bool | None, lang: str) -> str:
    if value is None:
        return ""
    yes, no = YES_NO["en" if is_english(lang) else "zh-hans"]
    return yes if value else no


def label(choices: Any, value: str, lang: str) -> str:
    """A choice's label in the ledger's language (our data, not the page's language)."""
    if not value:
        return ""
    with translation.override("en" if is_english(lang) else "zh-hans"):
        return str(choices(value).label)
