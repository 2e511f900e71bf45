"""Service attributes (GeoReport v2 service definitions): which questions a service asks,
and the checks on the answers a client sends as ``attribute[code]``.

The questions are data (``data/service_attributes.json``, or the file named by
``CIVICLOOP["OPEN311_ATTRIBUTES_FILE"]``), matched to categories by family, big class or
code. civicloop's cases have no attribute columns: the answers are appended to the
report's description as labelled lines, in the site's language, so dispatchers read them
where they read everything else.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from civicloop.cases.models import Category
from civicloop.core.errors import ValidationFailed

from . import params

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "service_attributes.json"
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_TYPES = ("singlevaluelist", "multivaluelist")
MAX_STRING = 200
MAX_TEXT = 2000

Texts = dict[str, str]  # language code → text


def in_language(texts: Texts, language: str | None = None) -> str:
    """The text for the active language; else English, else the first one given."""
    if not texts:
        return ""
    language = (language or translation.get_language() or "").lower()
    for candidate in (language, language.split("-")[0], "en"):
        if candidate in texts:
            return texts[candidate]
    return next(iter(texts.values()))


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    required: bool
    variable: bool
    description: Texts
    label: Texts
    datatype_description: Texts
    values: tuple[tuple[str, Texts], ...] = ()
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None

    def value_name(self, key: str) -> str:
        return next((in_language(name) for k, name in self.values if k == key), key)


@dataclass(frozen=True)
class Rule:
    codes: frozenset[str]
    family: str
    big_code: str
    attributes: tuple[str, ...]

    def matches(self, category: Category) -> bool:
        if self.codes:
            return category.code in self.codes
        if self.family and category.family != self.family:
            return False
        return not self.big_code or category.big_code == self.big_code


class AttributeFileError(ValueError):
    pass


def _texts(raw: Any, where: str) -> Texts:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise AttributeFileError(f"{where}: texts must be an object of language → text")
    return {k.lower(): v for k, v in raw.items()}


def _attribute(code: str, raw: dict[str, Any]) -> Attribute:
    datatype = raw.get("datatype")
    if datatype not in DATATYPES:
        raise AttributeFileError(
            f"attribute {code}: datatype must be one of {', '.join(DATATYPES)}"
        )
    values = tuple(
        (str(v["key"]), _texts(v.get("name"), f"attribute {code} value"))
        for v in raw.get("values", [])
    )
    if (datatype in LIST_TYPES) != bool(values):
        raise AttributeFileError(
            f"attribute {code}: values are required for list types and only for them"
        )
    pattern = raw.get("pattern")
    if pattern is not None:
        re.compile(pattern)
    return Attribute(
        code=code,
        datatype=datatype,
        required=bool(raw.get("required", False)),
        variable=bool(raw.get("variable", True)),
        description=_texts(raw.get("description"), f"attribute {code}"),
        label=_texts(raw.get("label"), f"attribute {code}"),
        datatype_description=_texts(raw.get("datatype_description"), f"attribute {code}"),
        values=values,
        pattern=pattern,
        minimum=raw.get("min"),
        maximum=raw.get("max"),
    )


@cache
def _load(path: str) -> tuple[dict[str, Attribute], tuple[Rule, ...]]:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    attributes = {code: _attribute(code, spec) for code, spec in raw.get("attributes", {}).items()}
    rules = []
    for i, rule in enumerate(raw.get("rules", [])):
        unknown = [a for a in rule.get("attributes", []) if a not in attributes]
        if unknown:
            raise AttributeFileError(f"rule {i + 1}: unknown attributes {', '.join(unknown)}")
        rules.append(
            Rule(
                codes=frozenset(rule.get("codes", [])),
                family=rule.get("family", ""),
                big_code=rule.get("big_code", ""),
                attributes=tuple(rule["attributes"]),
            )
        )
    return attributes, tuple(rules)


def catalogue() -> tuple[dict[str, Attribute], tuple[Rule, ...]]:
    return _load(str(settings.CIVICLOOP.get("OPEN311_ATTRIBUTES_FILE") or DEFAULT_FILE))


def attributes_for(category: Category) -> list[Attribute]:
    """The service's questions, in the order they are asked."""
    attributes, rules = catalogue()
    chosen: list[str] = []
    for rule in rules:
        if rule.matches(category):
            chosen += [code for code in rule.attributes if code not in chosen]
    return [attributes[code] for code in chosen]


# ---- answers ------------------------------------------------------------------------------

ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]*)\](\[\])?$")


def answers_from(data: Any) -> dict[str, list[str]]:
    """``attribute[code]=v`` and ``attribute[code][]=v1&attribute[code][]=v2`` from a form."""
    found: dict[str, list[str]] = {}
    for key in data:
        match = ATTRIBUTE_KEY.match(key)
        if match:
            found.setdefault(match.group(1), []).extend(data.getlist(key))
    return found


@dataclass(frozen=True)
class Answer:
    attribute: Attribute
    values: tuple[str, ...]

    def line(self) -> str:
        label = in_language(self.attribute.label) or self.attribute.code
        if self.attribute.datatype in LIST_TYPES:
            shown = "、".join(self.attribute.value_name(v) for v in self.values)
        else:
            shown = self.values[0]
        return f"{label}: {shown}"


def _check_one(attribute: Attribute, value: str, name: str) -> str:
    if attribute.datatype == "string":
        value = params.text(value, name=name, max_length=MAX_STRING)
        if "\n" in value or "\r" in value:
            raise ValidationFailed(_("%(name)s must be one line.") % {"name": name}, field=name)
        if value and attribute.pattern and not re.fullmatch(attribute.pattern, value):
            raise ValidationFailed(
                _("%(name)s: “%(value)s” does not have the expected form (%(form)s).")
                % {
                    "name": name,
                    "value": value,
                    "form": in_language(attribute.datatype_description) or attribute.pattern,
                },
                field=name,
            )
        return value
    if attribute.datatype == "text":
        return params.text(value, name=name, max_length=MAX_TEXT)
    if attribute.datatype == "number":
        number = params.number(params.text(value, name=name, max_length=40), name=name)
        low = attribute.minimum if attribute.minimum is not None else -math.inf
        high = attribute.maximum if attribute.maximum is not None else math.inf
        if not low <= number <= high:
            raise ValidationFailed(
                _("%(name)s must be between %(min)s and %(max)s.")
                % {"name": name, "min": low, "max": high},
                field=name,
            )
        return params.text(value, name=name, max_length=40)
    if attribute.datatype == "datetime":
        raw = params.text(value, name=name, max_length=40)
        params.iso_datetime(raw, name=name)
        return raw
    # single- and multivaluelist
    value = params.text(value, name=name, max_length=MAX_STRING)
    keys = [k for k, _name in attribute.values]
    if value not in keys:
        raise ValidationFailed(
            _("%(name)s: “%(value)s” is not one of the allowed values (%(keys)s).")
            % {"name": name, "value": value, "keys": ", ".join(keys)},
            field=name,
        )
    return value


def answers_check(category: Category, raw: dict[str, list[str]]) -> list[Answer]:
    """The answers checked against the service definition: no unknown or informational
    attributes, every required one answered, each value of its datatype (and list)."""
    attributes = {a.code: a for a in attributes_for(category)}
    for code in raw:
        if code not in attributes:
            raise ValidationFailed(
                _("The service %(service)s has no attribute “%(code)s”.")
                % {"service": category.code, "code": code},
                field=f"attribute[{code}]",
            )
        if not attributes[code].variable:
            raise ValidationFailed(
                _("attribute[%(code)s] is information for the user and takes no answer.")
                % {"code": code},
                field=f"attribute[{code}]",
            )
    answers: list[Answer] = []
    for attribute in attributes.values():
        if not attribute.variable:
            continue
        name = f"attribute[{attribute.code}]"
        given = [v for v in raw.get(attribute.code, []) if v.strip()]
        if not given:
            if attribute.required:
                raise ValidationFailed(
                    _("%(name)s is required for this service: %(question)s")
                    % {"name": name, "question": in_language(attribute.description)},
                    field=name,
                )
            continue
        if attribute.datatype != "multivaluelist" and len(given) > 1:
            raise ValidationFailed(_("%(name)s takes one value.") % {"name": name}, field=name)
        values: list[str] = []
        for value in given:
            checked = _check_one(attribute, value, name)
            if checked not in values:
                values.append(checked)
        answers.append(Answer(attribute, tuple(values)))
    return answers


def answers_text(answers: list[Answer]) -> str:
    """The answers as lines for the case description, in the site's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return "\n".join(answer.line() for answer in answers)
