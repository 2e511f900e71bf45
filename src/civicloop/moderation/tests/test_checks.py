"""The spam/abuse checks: examples of each reason, and properties over generated text.

Properties: ordinary Chinese problem descriptions are never held; script, ``javascript:``
or an ``on…=`` handler anywhere is always held; links beyond the limit are always held;
no unicode input makes a check raise.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloop.moderation import checks
from civicloop.moderation.checks import KEYWORDS, LINKS, REASON_LABELS, SCRIPT, STUFFING

# ---- a generator of ordinary problem descriptions ---------------------------------------------

PROBLEMS = (
    "路灯不亮",
    "井盖缺失",
    "垃圾满溢",
    "占道经营",
    "道路破损",
    "消防通道堵塞",
    "私搭乱建",
    "机动车乱停放",
    "共享单车乱停放",
    "下水道堵塞",
    "绿化带枯死",
    "广告牌破损",
    "噪音扰民",
    "污水外溢",
    "路面积水严重",
    "树枝折断挡路",
    "垃圾乱堆放",
    "小广告乱贴",
    "路面塌陷",
    "电线乱拉",
    "油烟污染",
    "宠物粪便无人清理",
    "施工扬尘",
    "窨井盖松动",
    "公厕脏乱",
    "流动摊贩占道经营",
    "空中管线乱架",
    "店面门头广告破旧残缺",
    "建筑垃圾倾倒",
    "路边废弃车辆",
    "楼道堆放杂物",
    "雨水箅子堵塞",
    "红绿灯故障",
    "人行道地砖松动",
)
DETAILS = (
    "已经三天了",
    "晚上很危险",
    "请尽快处理",
    "影响行人通行",
    "老人小孩经过很不安全",
    "多次反映未解决",
    "下雨天更严重",
    "周边居民意见很大",
    "希望有关部门尽快处理",
    "谢谢",
    "气味很大",
    "早晚高峰特别堵",
    "办证大厅门口",
    "政务服务中心旁边",
    "菜市场出口",
    "学校门口",
    "公交站台边上",
)
ROADS = (
    "幸福路",
    "人民路",
    "解放大街",
    "文化巷",
    "团结路",
    "西环路",
    "建设路",
    "东关街",
    "和平巷",
    "迎宾大道",
)
PLACES = ("小区门口", "东侧", "西门", "对面", "拐角处", "楼下", "停车场入口", "健身器材旁")

addresses = st.builds(
    lambda road, number, building, unit, place: f"{road}{number}号{building}号楼{unit}单元{place}",
    st.sampled_from(ROADS),
    st.integers(1, 999),
    st.integers(1, 40),
    st.integers(1, 6),
    st.sampled_from(PLACES),
)
amounts = st.one_of(
    st.builds(lambda n: f"约{n}米", st.integers(1, 500)),
    st.builds(lambda n: f"{n}个", st.integers(1, 30)),
    st.builds(lambda n: f"第{n}次反映", st.integers(2, 9)),
    st.builds(lambda h: f"每天{h}点左右", st.integers(0, 23)),
    st.builds(lambda n: f"{n}.{n % 10}米宽", st.integers(1, 20)),
    st.builds(lambda n: f"电话{n}", st.integers(13000000000, 13999999999)),
)
descriptions = st.builds(
    lambda problems, details, address, amount, seps: "".join(
        part + sep for part, sep in zip([address, *problems, amount, *details], seps, strict=False)
    ),
    st.lists(st.sampled_from(PROBLEMS), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(DETAILS), max_size=3, unique=True),
    addresses,
    amounts,
    st.lists(st.sampled_from(["，", "。", " ", "！", "、", "\n", ""]), min_size=8, max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(text=descriptions)
def test_ordinary_chinese_descriptions_are_never_held(text):
    assert checks.text_reasons(text) == [], text


# ---- script anywhere ---------------------------------------------------------------------------

handlers = st.builds(
    lambda name, gap, value: f"on{name}{gap}={value}",
    st.from_regex(r"[a-zA-Z]{1,12}", fullmatch=True),
    st.sampled_from(["", " ", "\t", "  "]),
    st.sampled_from(["", "alert(1)", "'x'", '"steal()"']),
)
scripts = st.one_of(
    st.sampled_from(
        [
            "<script>",
            "<SCRIPT src=//evil.example>",
            "< script >alert(1)</script>",
            "</script>",
            "javascript:",
            "JavaScript:alert(document.cookie)",
            "javascript :void(0)",
            "java\tscript:x",
            "&#106;avascript:alert(1)",
            "＜script＞",
            "ｊａｖａｓｃｒｉｐｔ：",
            "<img src=x onerror=alert(1)>",
            "<svg/onload=alert(1)>",
            "<iframe src=x>",
        ]
    ),
    handlers,
)


@settings(max_examples=400, deadline=None)
@given(base=st.one_of(descriptions, st.text(max_size=300)), payload=scripts, where=st.floats(0, 1))
def test_script_or_a_handler_anywhere_is_always_held(base, payload, where):
    at = int(where * len(base))
    text = base[:at] + payload + base[at:]
    assert SCRIPT in checks.text_reasons(text), text


# ---- links beyond the limit ---------------------------------------------------------------------

labels = st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True)
tlds = st.sampled_from(["com", "cn", "net", "top", "xyz", "vip", "cc", "shop", "site", "info"])
paths = st.one_of(st.just(""), st.from_regex(r"/[a-z0-9/_.?=&-]{0,12}", fullmatch=True))
links = st.one_of(
    st.builds(
        lambda s, lab, tld, p: f"{s}://{lab}.{tld}{p}",
        st.sampled_from(["http", "https", "HTTP"]),
        labels,
        tlds,
        paths,
    ),
    st.builds(lambda lab, tld, p: f"www.{lab}.{tld}{p}", labels, tlds, paths),
    st.builds(lambda lab, tld, p: f"{lab}.{tld}{p}", labels, tlds, paths),
    st.builds(lambda lab, tld: f"ｗｗｗ．{lab}．{tld}", labels, tlds),
)


@settings(max_examples=300, deadline=None)
@given(
    base=st.one_of(descriptions, st.text(max_size=200)),
    extra=st.integers(1, 4),
    data=st.data(),
)
def test_links_beyond_the_limit_are_always_held(base, extra, data):
    limit = int(checks.config()["MAX_LINKS"])
    chosen = data.draw(st.lists(links, min_size=limit + extra, max_size=limit + extra))
    cuts = sorted(
        data.draw(st.lists(st.integers(0, len(base)), min_size=len(chosen), max_size=len(chosen)))
    )
    pieces, last = [], 0
    for cut, link in zip(cuts, chosen, strict=True):
        pieces += [base[last:cut], f" {link} "]
        last = cut
    text = "".join(pieces) + base[last:]
    assert checks.link_count(text) >= len(chosen), text
    assert LINKS in checks.text_reasons(text), text


@settings(max_examples=200, deadline=None)
@given(text=descriptions, link=links)
def test_one_link_alone_is_allowed(text, link):
    assert LINKS not in checks.text_reasons(f"{text} {link} ")


# ---- never an exception ---------------------------------------------------------------------------

any_text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=2000),
    st.binary(max_size=600).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.text(
        alphabet=st.sampled_from("<>=:/.&#;on javascriptwwwcomhttp@。＜＞ \t\n\u0338\u200b垃圾"),
        max_size=800,
    ),
)


@settings(max_examples=500, deadline=None)
@given(text=any_text)
def test_the_checks_never_raise_on_any_unicode(text):
    reasons = checks.text_reasons(text)
    assert set(reasons) <= set(REASON_LABELS)
    assert len(checks.fingerprint(text)) == 64
    assert checks.link_count(text) >= 0


def test_not_a_string_is_no_reason():
    assert checks.text_reasons(None) == []  # type: ignore[arg-type]
    assert checks.text_reasons("") == []


# ---- examples ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, count",
    [
        ("幸福路12号路灯不亮", 0),
        ("请访问 abc.com 和 www.x.cn", 2),
        ("详情见abc.com。", 1),  # glued to Chinese, with a full stop after it
        ("see abc.com.", 1),
        ("http://a.cn,http://b.cn", 2),  # run together, still two
        ("abc。com 和 t.cn/xyz", 2),  # ideographic full stop, a short link
        ("ｈｔｔｐ：／／ａ．ｃｏｍ", 1),  # full-width
        ("联系邮箱 zhang@qq.com 或 li@163.com", 0),  # e-mail addresses are contacts, not links
        ("宽3.5米，长12.8米", 0),
        ("http://www.a.com/www.b.com", 1),
    ],
)
def test_link_count(text, count):
    assert checks.link_count(text) == count


@pytest.mark.parametrize(
    "text",
    [
        "<b>路灯</b>不亮",
        "<p class='x'>",
        "<br/>",
        "<!-- x -->",
        "[url=http://a.cn]点我[/url]",
        "路灯onclick=alert(1)",
        "x ONERROR =1",
        "data:text/html;base64,xx",
        "<a href=x>",
        "style=expression(alert(1))",
    ],
)
def test_markup_is_held(text):
    assert SCRIPT in checks.text_reasons(text)


@pytest.mark.parametrize(
    "text", ["宽度<5米", "温度 < 0 度", "3 > 2", "location=3号楼", "onion", "幸福路a栋 < b栋"]
)
def test_angle_brackets_and_equals_signs_in_ordinary_text_are_not_markup(text):
    assert SCRIPT not in checks.text_reasons(text)


@pytest.mark.parametrize(
    "text",
    [
        "专业代开发票",
        "代 开 发 票",
        "代-开-发-票",
        "加微信领红包",
        "加VX了解",
        "兼职日结，日赚500",
        "ONLINE CASINO",
        "Cheap Viagra",
    ],
)
def test_blocked_words_are_held_however_spaced_or_cased(text):
    assert KEYWORDS in checks.text_reasons(text)


def test_blocked_words_are_specific_enough_for_ordinary_places():
    assert checks.text_reasons("办证大厅门口的路灯不亮，晚上办事的人看不清台阶") == []


def test_blocked_words_are_a_setting(settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MODERATION": {"BLOCKED_WORDS": ("收费停车",)}}
    assert KEYWORDS in checks.text_reasons("这里乱收费停车")
    assert KEYWORDS not in checks.text_reasons("加微信")  # replaced, not added
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "MODERATION": {"EXTRA_BLOCKED_WORDS": ("收费停车",)},
    }
    assert KEYWORDS in checks.text_reasons("这里乱收费停车") and KEYWORDS in checks.text_reasons(
        "加微信"
    )


def test_the_link_limit_is_a_setting(settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MODERATION": {"MAX_LINKS": 0}}
    assert checks.text_reasons("见 abc.com") == [LINKS]
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MODERATION": {"MAX_LINKS": 3}}
    assert checks.text_reasons("a.com b.com c.com") == []


@pytest.mark.parametrize(
    "text",
    [
        "垃圾垃圾垃圾垃圾垃圾垃圾垃圾",
        "便宜发票 便宜发票 便宜发票 便宜发票 便宜发票 便宜发票",
        "cheap cheap cheap cheap cheap cheap loans",
        "BUY buy Buy ｂｕｙ buy buy now",
        "便宜发票便宜发票便宜发票便宜发票便宜发票便宜发票请联系张经理",
        "buy cheap pills buy cheap pills buy cheap pills buy cheap pills buy cheap pills buy cheap pills",
    ],
)
def test_keyword_stuffing_in_chinese_and_latin_is_held(text):
    assert STUFFING in checks.text_reasons(text)


@pytest.mark.parametrize(
    "text",
    [
        "幸福路的路灯不亮，人民路的路灯也不亮，建设路有两盏路灯不亮，团结路路灯闪烁，请检修这几条路上的路灯。",
        "幸福路路灯不亮，人民路路灯不亮，解放路路灯不亮，建设路路灯不亮，团结路路灯不亮，西环路路灯不亮",
    ],
)
def test_an_ordinary_text_that_repeats_a_word_is_not_stuffing(text):
    assert STUFFING not in checks.text_reasons(text)


def test_stuffing_thresholds_are_settings(settings):
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "MODERATION": {"STUFFING_MIN_REPEATS": 3, "STUFFING_MIN_SHARE": 0.2},
    }
    assert STUFFING in checks.text_reasons("路灯 路灯 路灯 坏了")


def test_normalise_folds_width_case_spaces_and_punctuation():
    assert checks.normalise("加 微 信！") == checks.normalise("加微信") == "加微信"
    assert checks.normalise("ＡＢＣ") == "abc"
    assert checks.fingerprint("路灯不亮。") == checks.fingerprint(" 路灯 不亮 ")


def test_every_reason_has_a_label():
    for code in (checks.LINKS, checks.KEYWORDS, checks.STUFFING, checks.SCRIPT, checks.REPEATED):
        assert str(REASON_LABELS[code])
