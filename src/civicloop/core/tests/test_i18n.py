"""The zh-Hans and en catalogues are complete, compiled, and cover every string in the code.

Nothing here needs the gettext binaries. The code is read the way makemessages reads
it: Python files through their syntax tree, templates through Django's own
``templatize`` (what makemessages hands to xgettext). When a test here fails, run
``make messages`` (needs GNU gettext), translate what is new in
``locale/zh_Hans/LC_MESSAGES/django.po``, and commit the .po and .mo files.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation.template import templatize

import civicloop
from civicloop.cases.models import State
from civicloop.cases.workflow import Action, require_transition
from civicloop.core.errors import TransitionRefused

PACKAGE_DIR = Path(civicloop.__file__).resolve().parent
LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
LANGUAGES = {"zh_Hans": 1, "en": 2}  # locale directory → number of plural forms
TRANSLATED = "zh_Hans"  # translated by people; en is the source language, msgstr = msgid
TEMPLATE_SUFFIXES = {".html", ".txt"}  # makemessages' defaults for the django domain

# ---- reading the code like makemessages -----------------------------------------------

# Translation function → argument positions of (context, singular, plural).
SIGNATURES: dict[str, tuple[int | None, int, int | None]] = {
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}
# The names xgettext extracts as makemessages calls it; a call through any other alias
# (``gettext as t``) is invisible to makemessages, so its string never reaches the catalogue.
XGETTEXT_NAMES = set(SIGNATURES) | {"_"}
TRANSLATION_MODULE = "django.utils.translation"


@dataclass(frozen=True)
class Message:
    msgid: str
    plural: str | None
    context: str | None
    where: str
    called_as: str

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.context, self.msgid)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _message_from_call(
    call: ast.Call, function: str, called_as: str, where: str, problems: list[str]
) -> Message | None:
    context_at, singular_at, plural_at = SIGNATURES[function]
    values: list[str | None] = []
    for position in (context_at, singular_at, plural_at):
        if position is None:
            values.append(None)
            continue
        arg = call.args[position] if position < len(call.args) else None
        if isinstance(arg, ast.JoinedStr):
            problems.append(f"{where}: f-string inside {called_as}(); use named placeholders")
            return None
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return None  # a variable: data, or a string marked elsewhere
        values.append(arg.value)
    context, msgid, plural = values
    assert msgid is not None
    return Message(msgid=msgid, plural=plural, context=context, where=where, called_as=called_as)


def python_messages(source: str, filename: str, problems: list[str]) -> list[Message]:
    """Every literal passed to a django.utils.translation function, under whatever name."""
    tree = ast.parse(source, filename=filename)
    functions: dict[str, str] = {}  # local name → translation function
    modules = {TRANSLATION_MODULE}  # names bound to the translation module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == TRANSLATION_MODULE:
            functions.update(
                {a.asname or a.name: a.name for a in node.names if a.name in SIGNATURES}
            )
        elif isinstance(node, ast.ImportFrom) and node.module == "django.utils":
            modules.update(a.asname or a.name for a in node.names if a.name == "translation")
        elif isinstance(node, ast.Import):
            modules.update(
                a.asname for a in node.names if a.name == TRANSLATION_MODULE and a.asname
            )
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in functions:
            function, called_as = functions[func.id], func.id
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in SIGNATURES
            and _dotted(func.value) in modules
        ):
            function, called_as = func.attr, func.attr
        else:
            continue
        message = _message_from_call(
            node, function, called_as, f"{filename}:{node.lineno}", problems
        )
        if message is not None:
            found.append(message)
    return found


_TEMPLATIZED_CALL = re.compile(r"\b(gettext|ngettext|pgettext|npgettext|_)\(")


def template_messages(source: str, filename: str, problems: list[str]) -> list[Message]:
    """{% translate %}, {% blocktranslate %} (with plural and context) and {{ _("…") }}."""
    text = templatize(source, origin=filename)
    found = []
    for match in _TEMPLATIZED_CALL.finditer(text):
        # The call ends at the first ")" after which the text parses as one call expression.
        end = match.end()
        call = None
        while call is None and (end := text.find(")", end) + 1) > 0:
            try:
                expression = ast.parse(text[match.start() : end], mode="eval").body
            except SyntaxError:
                continue
            call = expression if isinstance(expression, ast.Call) else None
        assert call is not None, (
            f"{filename}: cannot read {text[match.start() : match.start() + 80]!r}"
        )
        name = match.group(1)
        function = "gettext" if name == "_" else name
        where = f"{filename}:{text.count(chr(10), 0, match.start()) + 1}"
        message = _message_from_call(call, function, name, where, problems)
        if message is not None:
            found.append(message)
    return found


def _source_files() -> Iterable[Path]:
    for path in sorted(PACKAGE_DIR.rglob("*")):
        parts = path.relative_to(PACKAGE_DIR).parts
        if any(part.startswith(".") or part == "__pycache__" for part in parts):
            continue  # makemessages ignores hidden directories too
        if path.is_file() and (path.suffix == ".py" or path.suffix in TEMPLATE_SUFFIXES):
            yield path


@cache
def code_messages() -> tuple[tuple[Message, ...], tuple[str, ...]]:
    messages: list[Message] = []
    problems: list[str] = []
    for path in _source_files():
        name = str(path.relative_to(PACKAGE_DIR))
        source = path.read_text(encoding="utf-8")
        read = python_messages if path.suffix == ".py" else template_messages
        messages.extend(read(source, name, problems))
    return tuple(messages), tuple(problems)


def missing_from(catalogue: polib.POFile, messages: Iterable[Message]) -> list[str]:
    """One line per message the catalogue lacks (or has with another plural)."""
    entries = {(e.msgctxt, e.msgid): e for e in catalogue if not e.obsolete}
    missing = []
    for message in messages:
        entry = entries.get(message.key)
        if entry is not None and (entry.msgid_plural or None) == message.plural:
            continue
        hint = ""
        if message.called_as not in XGETTEXT_NAMES:
            hint = f"  (called as {message.called_as}(), which makemessages cannot see: import it as _ or by its own name)"
        missing.append(f"{message.where}: {message.msgid!r}{hint}")
    return missing


# ---- the catalogues -----------------------------------------------------------------------


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


@cache
def catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(po_path(language)))


def live(po: polib.POFile) -> list[polib.POEntry]:
    return [e for e in po if not e.obsolete]


# Python %-format directives: %(name)s, %(distance).1f, %d …; "%%" is a literal percent sign.
_PLACEHOLDER = re.compile(
    r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]"
)


def placeholders(text: str) -> Counter[str]:
    return Counter(p for p in _PLACEHOLDER.findall(text) if p != "%%")


def is_python_format(entry: polib.POEntry) -> bool:
    return "python-format" in entry.flags or bool(re.search(r"%\([^)]+\)", entry.msgid))


def translations(entry: polib.POEntry, nplurals: int) -> list[tuple[str, str]]:
    """(source, translation) pairs whose placeholders must agree."""
    if not entry.msgid_plural:
        return [(entry.msgid, entry.msgstr)]
    return [
        (entry.msgid if index == 0 and nplurals > 1 else entry.msgid_plural, text)
        for index, text in sorted(entry.msgstr_plural.items())
    ]


def as_compiled(
    entries: Iterable[polib.POEntry | polib.MOEntry],
) -> dict[tuple[str | None, str, str | None], object]:
    return {
        (e.msgctxt, e.msgid, e.msgid_plural or None): (
            tuple(text for _, text in sorted(e.msgstr_plural.items()))
            if e.msgid_plural
            else e.msgstr
        )
        for e in entries
        if e.msgid
    }


# ---- the extractor catches what it should ---------------------------------------------------

SAMPLE_PY = """
from django.utils import translation
from django.utils.translation import gettext as _, gettext_lazy, ngettext, pgettext_lazy
from django.utils.translation import gettext as t

LABEL = gettext_lazy("A label")
MONTH = pgettext_lazy("month name", "May")


def refuse(count, name):
    _(name)  # a variable: data, not extracted
    translation.gettext("Through the module")
    t("Through an alias")
    return _("A new sentence nobody has translated yet") + ngettext("%(n)d grid", "%(n)d grids", count)
"""

SAMPLE_TEMPLATE = """{% load i18n %}
<h1>{% translate "Heading" %}</h1><p title="{% translate 'Tooltip' context 'hover' %}">
{% blocktranslate with no=case.ticket_no %}Ticket {{ no }}{% endblocktranslate %}
{% blocktranslate count counter=n %}{{ counter }} case{% plural %}{{ counter }} cases{% endblocktranslate %}
{{ _("Constant") }}</p>"""


def test_the_extractor_reads_every_form_of_call_in_python():
    problems: list[str] = []
    found = {
        (m.context, m.msgid, m.plural, m.called_as)
        for m in python_messages(SAMPLE_PY, "sample.py", problems)
    }
    assert found == {
        (None, "A label", None, "gettext_lazy"),
        ("month name", "May", None, "pgettext_lazy"),
        (None, "Through the module", None, "gettext"),
        (None, "Through an alias", None, "t"),
        (None, "A new sentence nobody has translated yet", None, "_"),
        (None, "%(n)d grid", "%(n)d grids", "ngettext"),
    }
    assert problems == []


def test_the_extractor_reads_every_form_of_tag_in_templates():
    found = {
        (m.context, m.msgid, m.plural)
        for m in template_messages(SAMPLE_TEMPLATE, "sample.html", [])
    }
    assert found == {
        (None, "Heading", None),
        ("hover", "Tooltip", None),
        (None, "Ticket %(no)s", None),
        (None, "%(counter)s case", "%(counter)s cases"),
        (None, "Constant", None),
    }


def test_a_newly_added_string_is_reported_missing():
    messages = python_messages(SAMPLE_PY, "sample.py", [])
    missing = missing_from(catalogue(TRANSLATED), messages)
    assert any("A new sentence nobody has translated yet" in line for line in missing)
    assert any("Through an alias" in line and "cannot see" in line for line in missing)


def test_an_f_string_inside_gettext_is_refused():
    problems: list[str] = []
    source = 'from django.utils.translation import gettext as _\n_(f"{n} grids")\n'
    assert python_messages(source, "bad.py", problems) == []
    assert problems == ["bad.py:2: f-string inside _(); use named placeholders"]


def test_placeholders_are_compared_exactly():
    assert placeholders("at most %(max)d, got %(count)d") == placeholders(
        "最多 %(max)d 个，实际 %(count)d 个"
    )
    assert placeholders("%(max).0f m") != placeholders("%(max)s 米")
    assert placeholders("Case %(ticket)s") != placeholders("案件 %(tiket)s")
    assert placeholders("%(a)s and %(b)s") != placeholders("%(a)s")
    assert placeholders("100%% done") == Counter()


def test_a_stale_mo_is_noticed(tmp_path):
    po = polib.pofile(str(po_path(TRANSLATED)))
    po.save_as_mofile(str(tmp_path / "django.mo"))
    entry = next(e for e in po.translated_entries() if not e.msgid_plural)
    entry.msgstr += "（已改）"
    compiled = as_compiled(polib.mofile(str(tmp_path / "django.mo")))
    assert compiled != as_compiled(po.translated_entries())


# ---- the code and the catalogues agree --------------------------------------------------------


def test_the_code_has_translatable_strings_to_check():
    messages, _problems = code_messages()
    files = {m.where.split(":")[0] for m in messages}
    assert len(messages) > 100
    assert "cases/workflow.py" in files and "web/templates/web/ticket.html" in files


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_in_the_code_is_in_the_catalogue(language):
    messages, _problems = code_messages()
    missing = missing_from(catalogue(language), messages)
    assert not missing, (
        f"{len(missing)} strings are not in {po_path(language).relative_to(PACKAGE_DIR)}; "
        "run `make messages` and translate them:\n" + "\n".join(missing)
    )


def test_no_f_strings_inside_gettext():
    _messages, problems = code_messages()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_refers_only_to_files_of_the_package(language):
    # makemessages run from the repository root would also sweep up .venv and tests/.
    outside = {
        path
        for e in live(catalogue(language))
        for path, _line in e.occurrences
        if not (PACKAGE_DIR / path).is_file()
    }
    assert not outside, f"run makemessages from src/civicloop (`make messages`): {sorted(outside)}"


@pytest.mark.parametrize(("language", "nplurals"), LANGUAGES.items())
def test_the_catalogue_is_complete(language, nplurals):
    po = catalogue(language)
    assert po.metadata["Language"] == language
    assert po.metadata["Plural-Forms"].startswith(f"nplurals={nplurals};")
    assert not po.metadata_is_fuzzy
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    untranslated = [e.msgid for e in po.untranslated_entries()]
    assert not fuzzy, f"fuzzy in {language}: check and unmark them:\n" + "\n".join(fuzzy)
    assert not untranslated, f"untranslated in {language}:\n" + "\n".join(untranslated)
    wrong_forms = [
        e.msgid
        for e in live(po)
        if e.msgid_plural and sorted(e.msgstr_plural) != list(range(nplurals))
    ]
    assert not wrong_forms, (
        f"{language} has {nplurals} plural forms; these entries do not:\n" + "\n".join(wrong_forms)
    )


def test_the_source_language_catalogue_is_the_identity():
    po = catalogue("en")
    different = [
        e.msgid
        for e in live(po)
        if translations(e, LANGUAGES["en"])
        != [(e.msgid, e.msgid)] + ([(e.msgid_plural, e.msgid_plural)] if e.msgid_plural else [])
    ]
    assert not different, (
        "en must be msgstr = msgid (tools/compile_messages.py fills it):\n" + "\n".join(different)
    )


@pytest.mark.parametrize(("language", "nplurals"), LANGUAGES.items())
def test_translations_keep_the_placeholders_of_their_msgid(language, nplurals):
    wrong = [
        f"{source!r} → {text!r}"
        for entry in live(catalogue(language))
        if is_python_format(entry)
        for source, text in translations(entry, nplurals)
        if text and placeholders(text) != placeholders(source)
    ]
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_compiled_from_the_po(language):
    po = catalogue(language)
    mo_path = po_path(language).with_suffix(".mo")
    assert mo_path.is_file(), (
        f"{mo_path} is missing: run `.venv/bin/python tools/compile_messages.py`"
    )
    mo = polib.mofile(str(mo_path))
    assert as_compiled(mo) == as_compiled(po.translated_entries()), (
        f"{mo_path} is out of date: run `.venv/bin/python tools/compile_messages.py`"
    )
    assert mo.metadata == po.metadata


# ---- and Django uses them ---------------------------------------------------------------------


def test_switching_to_zh_hans_translates_a_refusal():
    with translation.override("zh-hans"), pytest.raises(TransitionRefused) as refused:
        require_transition(State.CLOSED, Action.DISPATCH)
    assert str(refused.value).startswith("案件处于“已结案”时不能“派遣”，此操作要求案件处于：")
    with translation.override("en"), pytest.raises(TransitionRefused) as refused:
        require_transition(State.CLOSED, Action.DISPATCH)
    assert str(refused.value).startswith("“Dispatch” is not possible while the case is “Closed”")
