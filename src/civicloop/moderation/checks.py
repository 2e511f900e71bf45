"""What makes a resident's text look like spam or abuse. Pure functions, no database.

Each check returns a reason code; any reason holds the report for a person to look at.
Thresholds and the keyword list are settings (``CIVICLOOP["MODERATION"]``) a city tunes.
"""

from __future__ import annotations

import hashlib
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
    "MAX_LINKS": 1,  # more links than this → held
    "BLOCKED_WORDS": (
        "代开发票", "办证", "刷单", "兼职日结", "网贷", "裸聊", "博彩", "赌场", "六合彩", "加微信", "加v", "私服",
        "casino", "viagra", "loan offer", "crypto giveaway",
    ),
    "STUFFING_MIN_REPEATS": 6,  # one word (or two-character run in Chinese) at least this often …
    "STUFFING_MIN_SHARE": 0.3,  # … and at least this share of all words
    "REPEAT_LIMIT": 2,  # the same text from one sender more than this often in REPEAT_WINDOW_HOURS → held
    "REPEAT_WINDOW_HOURS": 24,
}

_URL = re.compile(
    r"(?:https?://|ftp://|www\.)\S+|\b[a-z0-9-]{2,}\.(?:com|cn|net|org|top|xyz|vip|cc|info|biz|io|me|app|site|shop|club)\b(?:/\S*)?",
    re.IGNORECASE,
)
_SCRIPT = re.compile(
    r"<\s*/?\s*(?:script|iframe|object|embed|svg|img|a|style|link|meta|form)\b|javascript\s*:|vbscript\s*:|data\s*:\s*text/html|\bon[a-z]+\s*=",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")


def config() -> dict[str, Any]:
    return {**DEFAULTS, **settings.CIVICLOOP.get("MODERATION", {})}


def normalise(text: str) -> str:
    """Fold width and case, drop spaces and punctuation: "加 微 信" and "加微信" are one text."""
    folded = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in folded if ch.isalnum())


def fingerprint(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def _tokens(text: str) -> list[str]:
    lowered = unicodedata.normalize("NFKC", text).lower()
    words = _WORD.findall(lowered)
    cjk = [ch for ch in lowered if _CJK.match(ch)]
    # Chinese has no spaces: two-character runs stand in for words.
    bigrams = ["".join(pair) for pair in zip(cjk, cjk[1:], strict=False)]
    return words + bigrams


def text_reasons(text: str) -> list[str]:
    """Reasons found in the text alone (everything but REPEATED)."""
    cfg = config()
    text = text or ""
    reasons: list[str] = []
    if len(_URL.findall(text)) > int(cfg["MAX_LINKS"]):
        reasons.append(LINKS)
    folded = normalise(text)
    if any(normalise(word) and normalise(word) in folded for word in cfg["BLOCKED_WORDS"]):
        reasons.append(KEYWORDS)
    tokens = _tokens(text)
    if tokens:
        _word, top = Counter(tokens).most_common(1)[0]
        if top >= int(cfg["STUFFING_MIN_REPEATS"]) and top / len(tokens) >= float(cfg["STUFFING_MIN_SHARE"]):
            reasons.append(STUFFING)
    if _SCRIPT.search(text):
        reasons.append(SCRIPT)
    return reasons
