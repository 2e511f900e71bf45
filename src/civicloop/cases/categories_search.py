"""Finding a problem category the way residents type: Chinese, pinyin initials or full pinyin.

A resident looking for 垃圾乱堆放 (E0113) may type any of 垃圾乱堆放, 垃圾堆放,
垃圾亂堆放 (traditional), ljldf, ljdf (initials, a syllable left out), lajiduifang,
ljduifang, or an English word when the page is in English. Decisions:

* Matching is done here in Python over the active categories (about 130 rows):
  no search engine, no extra table, and names edited in the admin are found at once.
  The pinyin of each name is computed once per distinct name (``lru_cache``).
* Every reading of a character counts (行道树 is hang-dao-shu, and pypinyin's phrase
  reading says xing), and ü may be typed v or u.
* A letter query is consumed by prefixes of consecutive syllables: one letter per
  syllable is the initials, whole syllables are full pinyin, and any mix works.
  Leaving syllables out is allowed but ranks lower.
* Chinese characters in the query match a name's character literally, or by sharing a
  reading: a traditional character finds its simplified form this way.
* Ties are broken by how often residents report the category (``COMMON_CODES``,
  overridable with ``settings.CIVICLOOP["COMMON_CATEGORY_CODES"]``), then by code.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from django.conf import settings
from pypinyin import Style, pinyin

from .models import Category

# What residents report most, most frequent first: the list shown before anything is typed.
COMMON_CODES: tuple[str, ...] = (
    "E0113",  # 垃圾乱堆放
    "E0102",  # 暴露垃圾
    "E0505",  # 机动车乱停放
    "E0110",  # 道路破损
    "E0408",  # 消防通道堵塞
    "E0511",  # 流动摊贩占道经营
    "E0101",  # 私搭乱建
    "E0201",  # 非法小广告
    "E0404",  # 下水道堵塞或破损
    "C0118",  # 路灯
    "E0506",  # 非机动车乱停放
    "E0111",  # 油烟污染
    "E0301",  # 施工扰民
    "C0305",  # 垃圾箱
)

MAX_QUERY_CHARS = 50
# A query of letters is matched against syllables; these characters are only separators.
_SEPARATORS = set(" \t'’-_·/.,，。、")


def common_codes() -> tuple[str, ...]:
    configured: Any = settings.CIVICLOOP.get("COMMON_CATEGORY_CODES")
    return tuple(str(code) for code in configured) if configured else COMMON_CODES


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0002ffff"


def normalise(text: str) -> str:
    """Full-width to ASCII, lower case, separators dropped, at most ``MAX_QUERY_CHARS``."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in text if ch not in _SEPARATORS and not ch.isspace())[:MAX_QUERY_CHARS]


@lru_cache(maxsize=8192)
def readings(ch: str) -> frozenset[str]:
    """Every toneless reading of one character (``lv`` also as ``lu``); a non-Han character reads as itself."""
    if not _is_han(ch):
        return frozenset({ch.lower()})
    found: set[str] = set()
    for syllable in pinyin(ch, style=Style.NORMAL, heteronym=True)[0]:
        syllable = syllable.lower()
        found.add(syllable)
        if "v" in syllable:
            found.add(syllable.replace("v", "u"))
    return frozenset(found)


@lru_cache(maxsize=4096)
def syllables(text: str) -> tuple[frozenset[str], ...]:
    """The readings of each character of a (normalised) name."""
    return tuple(readings(ch) for ch in normalise(text))


@dataclass(frozen=True)
class Match:
    start: int  # index of the first character matched
    gaps: int  # characters left out between the first and the last matched one
    end: int  # index after the last character matched


def pinyin_match(query: str, name: str) -> Match | None:
    """Best way ``query`` (letters and/or Chinese characters) runs along ``name``'s syllables.

    Letters are consumed by a prefix of one reading of each character in turn; a
    Chinese character in the query matches a character of the name that is the same
    or shares a reading. Best: earliest start, then fewest characters left out.
    """
    q = normalise(query)
    chars = normalise(name)
    if not q or not chars:
        return None
    reads = syllables(name)
    n, m = len(chars), len(q)

    @cache
    def run(i: int, j: int) -> tuple[int, int] | None:
        """Consume q[j:] starting with character i: (gaps, end) or None."""
        options: list[int] = []
        if _is_han(q[j]):
            if q[j] == chars[i] or readings(q[j]) & reads[i]:
                options.append(j + 1)
        else:
            for reading in reads[i]:
                k = 0
                while k < len(reading) and j + k < m and not _is_han(q[j + k]) and reading[k] == q[j + k]:
                    k += 1
                if k:
                    # Any prefix length may be the right cut ("lajid" = la + ji + d…).
                    options.extend(j + c for c in range(1, k + 1))
        best: tuple[int, int] | None = None
        for nj in set(options):
            if nj == m:
                candidate = (0, i + 1)
            else:
                candidate = None
                for i2 in range(i + 1, n):
                    rest = run(i2, nj)
                    if rest is not None:
                        option = (rest[0] + (i2 - i - 1), rest[1])
                        if candidate is None or option < candidate:
                            candidate = option
            if candidate is not None and (best is None or candidate < best):
                best = candidate
        return best

    for start in range(n):
        found = run(start, 0)
        if found is not None:
            return Match(start=start, gaps=found[0], end=found[1])
    return None


def _match_score(match: Match | None, length: int) -> int:
    if match is None:
        return 0
    if match.gaps == 0:
        if match.start == 0:
            return 88 if match.end == length else 84
        return 74
    return max(40, 70 - 8 * match.gaps - (5 if match.start else 0))


def category_score(query: str, category: Category) -> int:
    """How well ``query`` names ``category``: 0 (not at all) to 100 (exactly)."""
    q = normalise(query)
    if not q:
        return 0
    name = normalise(category.name)
    scores = [0]
    code = category.code.lower()
    if q == code:
        scores.append(100)
    elif len(q) >= 2 and code.startswith(q) and q[0] in "ce" and q[1:].isdigit():
        scores.append(90)
    if q == name:
        scores.append(100)
    elif name.startswith(q):
        scores.append(96)
    elif q in name:
        scores.append(92)
    scores.append(_match_score(pinyin_match(q, category.name), len(name)))
    english = " ".join((category.name_en or "").lower().split())
    if len(q) >= 2 and q.isascii() and english:
        words = english.replace("/", " ").replace("-", " ").split()
        if any(w.startswith(q) for w in words):
            scores.append(70)
        elif q in english.replace(" ", ""):
            scores.append(60)
    big = normalise(category.big_name)
    if q in big:
        scores.append(50)
    elif _match_score(pinyin_match(q, category.big_name), len(big)) >= 84:
        scores.append(45)
    return max(scores)


def _rank(codes: tuple[str, ...]) -> dict[str, int]:
    return {code: i for i, code in enumerate(codes)}


def common_categories(*, limit: int = 12) -> list[Category]:
    """The categories residents report most, in that order (inactive or unknown codes skipped)."""
    codes = common_codes()
    rank = _rank(codes)
    found = list(Category.objects.filter(code__in=codes, active=True))
    return sorted(found, key=lambda c: rank[c.code])[:limit]


def category_search(*, q: str, limit: int = 10) -> list[Category]:
    """Active categories matching ``q``, best first; the common ones when ``q`` is empty."""
    if not normalise(q):
        return common_categories(limit=limit)
    rank = _rank(common_codes())
    scored = []
    for category in Category.objects.filter(active=True):
        score = category_score(q, category)
        if score:
            scored.append((-score, rank.get(category.code, len(rank)), category.code, category))
    scored.sort(key=lambda row: row[:3])
    return [row[3] for row in scored[:limit]]
