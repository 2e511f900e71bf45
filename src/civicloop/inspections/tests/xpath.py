"""An exact evaluator for the subset of ODK XPath our XLSForm export writes.

Enough to run a compiled XForm's ``calculate`` binds (and the ``relevant`` binds of the
questions, which clear a non-relevant answer) over sample answers, the way ODK Collect
recalculates: numbers are ``Decimal`` (so the comparison with ``scoring.py`` is exact),
strings, booleans; references are absolute paths whose last step names the field (every
name in our forms is unique). Anything outside the subset raises, so a change to the
export that the evaluator does not understand fails the test instead of passing silently.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

NAN = Decimal("NaN")
TOKEN_RE = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'[^']*'|\"[^\"]*\")|(?P<path>(?:/[A-Za-z_][\w.-]*)+)"
    r"|(?P<op>!=|>=|<=|[=<>+\-*(),])|(?P<name>[A-Za-z_][\w-]*))"
)
Value = Decimal | str | bool


class Unsupported(Exception):
    pass


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise Unsupported(f"cannot read {text[pos:]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def number(value: Value) -> Decimal:
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(value.strip()) if value.strip() else NAN
    except InvalidOperation:
        return NAN


def boolean(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return not value.is_nan() and value != 0
    return value != ""


def string(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if value.is_nan():
            return "NaN"
        return (
            format(value.normalize(), "f")
            if value != value.to_integral_value()
            else str(int(value))
        )
    return value


class Expr:
    """A parsed expression: ``Expr(text)(lookup)`` with ``lookup(name) -> str``."""

    def __init__(self, text: str):
        self.text = text
        self.toks = tokens(text)
        self.i = 0
        self.tree = self._or()
        if self.i != len(self.toks):
            raise Unsupported(f"trailing input in {text!r}")

    def __call__(self, lookup: Callable[[str], str]) -> Value:
        return self._eval(self.tree, lookup)

    # ---- parser: nested tuples ------------------------------------------------------------
    def _peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        tok = self._peek()
        if tok is None or (value is not None and tok[1] != value):
            raise Unsupported(f"expected {value!r} in {self.text!r}")
        self.i += 1
        return tok

    def _binary(self, next_level: Callable[[], Any], ops: set[str]) -> Any:
        left = next_level()
        while (tok := self._peek()) is not None and tok[1] in ops and tok[0] in {"op", "name"}:
            self.i += 1
            left = ("bin", tok[1], left, next_level())
        return left

    def _or(self) -> Any:
        return self._binary(self._and, {"or"})

    def _and(self) -> Any:
        return self._binary(self._cmp, {"and"})

    def _cmp(self) -> Any:
        return self._binary(self._add, {"=", "!=", ">", "<", ">=", "<="})

    def _add(self) -> Any:
        return self._binary(self._mul, {"+", "-"})

    def _mul(self) -> Any:
        return self._binary(self._unary, {"*", "div", "mod"})

    def _unary(self) -> Any:
        tok = self._peek()
        if tok == ("op", "-"):
            self.i += 1
            return ("neg", self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, value = self._take()
        if kind == "number":
            return ("lit", Decimal(value))
        if kind == "string":
            return ("lit", value[1:-1])
        if kind == "path":
            return ("ref", value.rsplit("/", 1)[-1])
        if kind == "op" and value == "(":
            inner = self._or()
            self._take(")")
            return inner
        if kind == "name" and self._peek() == ("op", "("):
            self._take("(")
            args = []
            if self._peek() != ("op", ")"):
                args.append(self._or())
                while self._peek() == ("op", ","):
                    self.i += 1
                    args.append(self._or())
            self._take(")")
            return ("call", value, args)
        raise Unsupported(f"unexpected {value!r} in {self.text!r}")

    # ---- evaluation -----------------------------------------------------------------------
    def _eval(self, node: Any, lookup: Callable[[str], str]) -> Value:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "ref":
            return lookup(node[1])
        if kind == "neg":
            return -number(self._eval(node[1], lookup))
        if kind == "call":
            return self._call(node[1], node[2], lookup)
        op, left, right = node[1], node[2], node[3]
        if op == "or":
            return boolean(self._eval(left, lookup)) or boolean(self._eval(right, lookup))
        if op == "and":
            return boolean(self._eval(left, lookup)) and boolean(self._eval(right, lookup))
        a, b = self._eval(left, lookup), self._eval(right, lookup)
        if op in {"=", "!="}:
            if isinstance(a, bool) or isinstance(b, bool):
                same = boolean(a) == boolean(b)
            elif isinstance(a, Decimal) or isinstance(b, Decimal):
                x, y = number(a), number(b)
                same = not x.is_nan() and not y.is_nan() and x == y
            else:
                same = a == b
            return same if op == "=" else not same
        x, y = number(a), number(b)
        if op in {">", "<", ">=", "<="}:
            if x.is_nan() or y.is_nan():
                return False
            return {">": x > y, "<": x < y, ">=": x >= y, "<=": x <= y}[op]
        if x.is_nan() or y.is_nan():
            return NAN
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "div":
            return x / y if y != 0 else NAN
        if op == "mod":
            return x % y
        raise Unsupported(op)

    def _call(self, name: str, args: list[Any], lookup: Callable[[str], str]) -> Value:
        if name == "if":
            condition, yes, no = args
            return self._eval(yes if boolean(self._eval(condition, lookup)) else no, lookup)
        values = [self._eval(a, lookup) for a in args]
        if name == "not":
            return not boolean(values[0])
        if name == "coalesce":
            first = string(values[0])
            return values[0] if first != "" else values[1]
        if name == "selected":
            return string(values[1]) in string(values[0]).split()
        if name == "round":
            x = number(values[0])
            places = int(number(values[1])) if len(values) > 1 else 0
            if x.is_nan():
                return NAN
            return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        raise Unsupported(f"function {name}()")


def run_form(xform: str, answers: Mapping[str, str], *, passes: int = 10) -> dict[str, str]:
    """Every field's value after recalculating the form's binds over ``answers``."""
    ns = {"xf": "http://www.w3.org/2002/xforms"}
    root = ET.fromstring(xform)
    binds = root.findall(".//xf:bind", ns)
    calcs = [
        (b.get("nodeset", "").rsplit("/", 1)[-1], Expr(b.get("calculate", "")))
        for b in binds
        if b.get("calculate")
    ]
    relevants = [
        (b.get("nodeset", "").rsplit("/", 1)[-1], Expr(b.get("relevant", "")))
        for b in binds
        if b.get("relevant")
    ]
    values: dict[str, str] = {k: str(v) for k, v in answers.items()}
    for _pass in range(passes):
        before = dict(values)

        def lookup(name: str) -> str:
            return values.get(name, "")

        for name, expr in relevants:
            if not boolean(expr(lookup)):
                values[name] = ""
        for name, expr in calcs:
            values[name] = string(expr(lookup))
        if values == before:
            return values
    raise AssertionError("the form's calculations do not settle")
