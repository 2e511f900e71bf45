"""Finding a category by Chinese, pinyin initials, full pinyin, a mix, traditional characters or code."""

from __future__ import annotations

import pytest

from civicloop.cases.categories_search import (
    COMMON_CODES,
    category_score,
    category_search,
    common_categories,
    normalise,
    pinyin_match,
    readings,
)
from civicloop.cases.models import Category

pytestmark = pytest.mark.django_db


def codes(q: str, limit: int = 10) -> list[str]:
    return [c.code for c in category_search(q=q, limit=limit)]


# ---- the matcher on its own (no database) ------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["ljldf", "ljdf", "lajiluanduifang", "lajiduifang", "ljluanduif", "LJLDF", "la ji luan dui fang", "ｌｊｌｄｆ", "垃圾乱堆放", "垃圾堆放", "垃圾亂堆放", "垃圾df"],
)
def test_matcher_finds_garbage_piling_however_it_is_typed(query):
    assert pinyin_match(query, "垃圾乱堆放") is not None


def test_initials_and_full_pinyin_rank_above_left_out_syllables():
    exact = pinyin_match("ljldf", "垃圾乱堆放")
    skipped = pinyin_match("ljdf", "垃圾乱堆放")
    assert exact is not None and skipped is not None
    assert (exact.start, exact.gaps, exact.end) == (0, 0, 5)
    assert skipped.gaps == 1


def test_matcher_knows_every_reading_of_a_character():
    # 行道树 is hang-dao-shu; the phrase reading pypinyin prefers is xing.
    assert pinyin_match("hds", "行道树") is not None
    assert pinyin_match("xds", "行道树") is not None
    assert "hang" in readings("行") and "xing" in readings("行")


def test_u_umlaut_typed_as_v_or_u():
    assert pinyin_match("lvdi", "绿地") is not None
    assert pinyin_match("ludi", "绿地") is not None


def test_matcher_refuses_what_is_not_there():
    assert pinyin_match("xyz", "垃圾乱堆放") is None
    assert pinyin_match("fdlj", "垃圾乱堆放") is None  # order matters
    assert pinyin_match("", "垃圾乱堆放") is None
    assert pinyin_match("垃圾", "") is None


def test_normalise_drops_separators_and_width():
    assert normalise(" La'Ji  Dui-Fang ") == "lajiduifang"
    assert normalise("ＬＪＤＦ") == "ljdf"
    assert len(normalise("a" * 500)) == 50


def test_a_long_query_is_answered_quickly():
    import time

    started = time.perf_counter()
    for _ in range(20):
        pinyin_match("zhongzhongzhongzhongzhongzhongzhongzhongzhongzhong", "其他街面秩序问题重大危险源")
    assert time.perf_counter() - started < 2.0


# ---- scores and search over the seeded categories ------------------------------------------


def test_ljdf_finds_the_garbage_piling_category_first(db):
    assert Category.objects.get(code="E0113").name == "垃圾乱堆放"
    assert codes("ljdf")[0] == "E0113"
    assert codes("ljldf")[0] == "E0113"
    assert codes("lajiduifang")[0] == "E0113"


def test_chinese_finds_every_category_with_the_word(db):
    found = codes("垃圾", limit=20)
    for code in ("E0113", "E0102", "E0103", "C0304", "C0305", "C0708"):
        assert code in found
    # Ties are broken by what residents report most.
    assert found[0] == "E0113"


def test_traditional_characters_find_the_simplified_name(db):
    assert codes("垃圾亂堆放")[0] == "E0113"
    assert codes("機動車")[0] == "E0505"


def test_exact_name_and_code_score_highest(db):
    cat = Category.objects.get(code="E0113")
    assert category_score("垃圾乱堆放", cat) == 100
    assert category_score("e0113", cat) == 100
    assert category_score("乱堆", cat) > category_score("ljdf", cat) > 0
    assert category_score("xyz", cat) == 0


def test_english_names_are_searchable(db):
    assert "E0113" in codes("garbage")
    assert codes("fire lane")[0] == "E0408"


def test_empty_query_lists_the_common_categories_in_order(db):
    assert codes("", limit=5) == list(COMMON_CODES[:5])
    assert codes("   ", limit=3) == list(COMMON_CODES[:3])


def test_inactive_categories_are_never_offered(db):
    Category.objects.filter(code="E0113").update(active=False)
    assert "E0113" not in codes("ljldf")
    assert "E0113" not in [c.code for c in common_categories()]


def test_the_common_list_is_configurable(db, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "COMMON_CATEGORY_CODES": ["C0118", "NOPE", "E0102"]}
    assert [c.code for c in common_categories()] == ["C0118", "E0102"]


def test_search_is_limited(db):
    assert len(category_search(q="d", limit=4)) == 4
