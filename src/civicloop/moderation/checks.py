"""What makes a resident's text look like spam or abuse. Pure functions, no database.

Each check returns a reason code; any reason holds the report for a person to look at.
Thresholds and the word list are settings a city tunes, ``CIVICLOOP["MODERATION"]``:

    "MAX_LINKS": 1                      more links than this → held (links)
    "BLOCKED_WORDS": (...)              replaces the default list (keywords)
    "EXTRA_BLOCKED_WORDS": (...)        added to the list
    "STUFFING_MIN_REPEATS": 6           one word (a two-character run in Chinese) this often …
    "STUFFING_MIN_SHARE": 0.3           … and this share of all words → held (stuffing)
    "STUFFING_PHRASE_SHARE": 0.75       a phrase repeated STUFFING_MIN_REPEATS times making up
                                        this share of the text → held (stuffing)
    "REPEAT_LIMIT": 2                   the same text from one sender more often than this …
    "REPEAT_WINDOW_HOURS": 24           … within this window → held (repeated; see actions.py)

Decisions:

* Every check reads the text after NFKC folding, so full-width ``ｈｔｔｐ：／／`` or
  ``＜script＞`` count like their ASCII forms, and blocked words are matched with spaces,
  punctuation and invisible characters removed ("加 微 信" is "加微信").
* Script and markup are looked for in the text as typed, after HTML entities are decoded
  (``&#106;avascript:``), and with the tabs and line breaks a browser drops from a URL
  removed (``java<TAB>script:``). A ``<`` before a digit or a space ("宽度<5米") is no tag.
* Links are counted, not just found: ``http://a.cn,http://b.cn`` is two links even where
  the two run together, and a bare domain (``abc.top``) or ``www.`` counts as one. The
  ideographic full stop counts as a dot (``abc。com``).
* Patterns are linear: no nested quantifiers that backtrack, so a long hostile text costs
  no more than a long ordinary one. Nothing here raises on any ``str``, lone surrogates
  included.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections import Counter
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

LINKS = "links"
KEYWORDS = "keywords"
STUFFING = "stuffing"
SCRIPT = "script"
REPEATED = "repeated"

REASON_LABELS = {
    LINKS: _("Too many links"),
    KEYWORDS: _("Blocked words (advertising, fraud, abuse)"),
    STUFFING: _("The same words repeated over and over"),
    SCRIPT: _("Script or markup in the text"),
    REPEATED: _("The same text sent several times"),
}

DEFAULTS: dict[str, Any] = {
    "MAX_LINKS": 1,
    # Phrases of advertising, fraud and gambling spam. Specific on purpose: "办证" alone
    # would hold "办证大厅门口路灯不亮".
    "BLOCKED_WORDS": (
        "代开发票",
        "办证刻章",
        "办假证",
        "刷单",
        "兼职日结",
        "日赚",
        "网贷",
        "裸聊",
        "博彩",
        "赌场",
        "六合彩",
        "时时彩",
        "百家乐",
        "加微信",
        "加vx",
        "加v信",
        "加薇信",
        "私服",
        "代孕",
        "出售银行卡",
        "casino",
        "viagra",
        "loan offer",
        "crypto giveaway",
    ),
    "EXTRA_BLOCKED_WORDS": (),
    "STUFFING_MIN_REPEATS": 6,
    "STUFFING_MIN_SHARE": 0.3,
    "STUFFING_PHRASE_SHARE": 0.75,
    "REPEAT_LIMIT": 2,
    "REPEAT_WINDOW_HOURS": 24,
}

_TLDS = (
    "com|cn|net|org|top|xyz|vip|cc|info|biz|io|me|app|site|shop|club|online|live|link|icu|tk|ml|ga|cf|gq|"
    "ru|tv|co|ly|gl|to|ws|win|bid|loan|work|fun|ink|red|pub|wang|ren|mobi|asia|hk|tw|us|uk|de|jp|kr"
)
# A URL with a scheme or www.: the scheme and the ASCII characters a URL is made of.
# Several URLs that run together ("http://a.cn,http://b.cn") are one match; each "://"
# or "www." in it counts.
_URL = re.compile(
    r"(?:(?:https?|ftps?)://|www\.)[a-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*", re.IGNORECASE | re.ASCII
)
_URL_STARTS = re.compile(r"(?:https?|ftps?)://|(?<![a-z0-9./])www\.", re.IGNORECASE | re.ASCII)
# A bare domain: labels of letters, digits and hyphens, then a known top-level domain.
# The look-behind starts a match only where a run of labels starts, and at most eight labels
# are tried, so a long dotted text stays linear. After "@" it is an e-mail address: no link.
_DOMAIN = re.compile(
    rf"(?<![a-z0-9.\-@])(?:[a-z0-9][a-z0-9\-]*+\.){{1,8}}(?:{_TLDS})(?![a-z0-9\-])(?:/[a-z0-9\-._~/?#@!$&*+=%:;]*+)?",
    re.IGNORECASE | re.ASCII,
)
_SCRIPT = re.compile(
    r"<\s*/?\s*(?:script|iframe|frame|frameset|object|embed|applet|svg|math|img|image|video|audio|source|a|style|link|"
    r"meta|base|form|input|button|textarea|select|body|html|marquee|template|details|xml|xss)(?![a-z0-9])"
    r"|<\s*[!?]"  # <!-- comments -->, <![CDATA[, <?xml
    r"|javascript\s*:|vbscript\s*:|livescript\s*:|data\s*:\s*text/html|expression\s*\("
    r"|srcdoc\s*+="
    r"|\[/?\s*(?:url|img|link|iframe)\b",  # BBCode links
    re.IGNORECASE,
)
# Event handlers (onclick=, onerror =) anywhere, even glued to other text ("路灯onload="):
# every run of letters before "=" whose "on" is followed by a letter. Whole runs only, so
# the search stays linear.
_ASSIGNED = re.compile(r"(?<![a-z])([a-z]++)\s*+=", re.IGNORECASE)
_HANDLER = re.compile(r"on[a-z]", re.IGNORECASE)
# Any other complete tag: <b>, </p>, <br/>, <span class="x">.
_TAG = re.compile(r"<\s*+/?\s*+[a-z][a-z0-9\-]*+(?:[\s/][^<>]*+)?>", re.IGNORECASE)
# What a browser removes from inside a URL before reading its scheme.
_URL_INVISIBLE = re.compile(r"[\t\n\r\x00]")
_WORD = re.compile(r"[a-z0-9]+", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def config() -> dict[str, Any]:
    civicloop: dict[str, Any] = settings.CIVICLOOP
    return {**DEFAULTS, **civicloop.get("MODERATION", {})}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def normalise(text: str) -> str:
    """Fold width and case, drop spaces and punctuation: "加 微 信" and "加微信" are one text."""
    return "".join(ch for ch in _fold(text).lower() if ch.isalnum())


def fingerprint(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8", "surrogatepass")).hexdigest()


def link_count(text: str) -> int:
    """How many links the text carries (scheme URLs, www. addresses and bare domains)."""
    folded = _fold(text).replace("。", ".").replace("｡", ".")
    count = 0
    rest: list[str] = []
    last = 0
    for match in _URL.finditer(folded):
        count += max(1, len(_URL_STARTS.findall(match.group())))
        rest.append(folded[last : match.start()])
        last = match.end()
    rest.append(folded[last:])
    # Bare domains outside the URLs already counted; a space keeps the pieces apart.
    count += len(_DOMAIN.findall(" ".join(rest)))
    return count


def has_markup(text: str) -> bool:
    """Script, event handlers, dangerous URLs or HTML tags anywhere in the text."""
    folded = _fold(text)
    decoded = html.unescape(folded)
    for variant in (text or "", folded, decoded, _URL_INVISIBLE.sub("", decoded)):
        if _SCRIPT.search(variant) or _TAG.search(variant):
            return True
        if any(_HANDLER.search(m.group(1)) for m in _ASSIGNED.finditer(variant)):
            return True
    return False


def blocked_words(text: str) -> list[str]:
    cfg = config()
    folded = normalise(text)
    words = [*cfg["BLOCKED_WORDS"], *cfg.get("EXTRA_BLOCKED_WORDS", ())]
    return [word for word in words if (key := normalise(str(word))) and key in folded]


def _streams(text: str) -> tuple[list[str], str]:
    lowered = _fold(text).lower()
    return _WORD.findall(lowered), "".join(ch for ch in lowered if _CJK.match(ch))


def _phrase_repeated(units: Any, repeats: int, share: float, lengths: range) -> bool:
    """A run of ``n`` units (words, or characters in Chinese) found ``repeats`` times or more,
    its copies making up ``share`` of all units."""
    total = len(units)
    for n in lengths:
        if total < n * repeats:
            break
        slices = (units[i : i + n] for i in range(total - n + 1))
        grams = Counter(s if isinstance(s, str) else tuple(s) for s in slices)
        top = grams.most_common(1)[0][1]
        if top >= repeats and top * n / total >= share:
            return True
    return False


def is_stuffed(text: str) -> bool:
    """One word over and over ("垃圾垃圾垃圾…", "cheap cheap …"), or one phrase over and over
    ("便宜发票 便宜发票 …"). Chinese has no spaces: two-character runs stand in for words."""
    cfg = config()
    repeats, share = int(cfg["STUFFING_MIN_REPEATS"]), float(cfg["STUFFING_MIN_SHARE"])
    words, cjk = _streams(text)
    tokens = words + [cjk[i : i + 2] for i in range(len(cjk) - 1)]
    if not tokens:
        return False
    _word, top = Counter(tokens).most_common(1)[0]
    if top >= repeats and top / len(tokens) >= share:
        return True
    phrase_share = float(cfg["STUFFING_PHRASE_SHARE"])
    return _phrase_repeated(cjk, repeats, phrase_share, range(3, 13)) or _phrase_repeated(
        words, repeats, phrase_share, range(2, 7)
    )


def text_reasons(text: str) -> list[str]:
    """Reasons found in the text alone (everything but REPEATED), in REASON_LABELS order."""
    text = text if isinstance(text, str) else ""
    cfg = config()
    reasons: list[str] = []
    if link_count(text) > int(cfg["MAX_LINKS"]):
        reasons.append(LINKS)
    if blocked_words(text):
        reasons.append(KEYWORDS)
    if is_stuffed(text):
        reasons.append(STUFFING)
    if has_markup(text):
        reasons.append(SCRIPT)
    return reasons
