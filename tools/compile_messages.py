#!/usr/bin/env python3
"""Compile the gettext catalogues of src/civicloop/locale into .mo files, without msgfmt.

    .venv/bin/python tools/compile_messages.py          # write each stale .mo next to its .po
    .venv/bin/python tools/compile_messages.py --check  # write nothing; exit 1 if a .mo is stale

The .mo files are committed, so neither the tests nor `make demo` need the gettext
binaries; only `make messages` (which runs makemessages first) does.

English is the source language: before compiling, its catalogue is filled with
msgstr = msgid (and the plural forms with msgid / msgid_plural), so "complete" holds
literally there. The Chinese catalogue is translated by people: untranslated and
fuzzy entries are left out of the .mo, as msgfmt would, and reported here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "src" / "civicloop" / "locale"
SOURCE_LANGUAGE = "en"
# makemessages runs with --no-wrap; the same here keeps polib and msgmerge from rewrapping each other.
WRAP_WIDTH = 0


def catalogues(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    return sorted(locale_dir.glob("*/LC_MESSAGES/*.po"))


def fill_source_language(po: polib.POFile) -> bool:
    """msgstr = msgid for every live entry; True when something changed."""
    changed = False
    for entry in po:
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            wanted = {0: entry.msgid, 1: entry.msgid_plural}
            if entry.msgstr_plural != wanted:
                entry.msgstr_plural = wanted
                changed = True
        elif entry.msgstr != entry.msgid:
            entry.msgstr = entry.msgid
            changed = True
        if (
            entry.fuzzy
            or entry.previous_msgid
            or entry.previous_msgid_plural
            or entry.previous_msgctxt
        ):
            # A fuzzy match is msgmerge's guess from a neighbouring msgid; the source language needs none.
            entry.flags = [flag for flag in entry.flags if flag != "fuzzy"]
            entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
            changed = True
    return changed


def compile_catalogue(po_path: Path, *, check: bool) -> list[str]:
    """Bring po_path's .mo up to date (or, with check, only say whether it is). Returns problems."""
    po = polib.pofile(str(po_path), wrapwidth=WRAP_WIDTH)
    language = po_path.parent.parent.name
    problems: list[str] = []
    if language == SOURCE_LANGUAGE and fill_source_language(po):
        if check:
            problems.append(
                f"{po_path}: the source-language catalogue is not filled (msgstr = msgid)"
            )
        else:
            po.save()
    mo_path = po_path.with_suffix(".mo")
    compiled = po.to_binary()
    if not mo_path.exists() or mo_path.read_bytes() != compiled:
        if check:
            problems.append(f"{mo_path}: out of date with {po_path.name}")
        else:
            mo_path.write_bytes(compiled)
            print(f"compiled {mo_path.relative_to(ROOT)}")
    left_out = len(po.untranslated_entries()) + len(po.fuzzy_entries())
    if left_out:
        print(
            f"warning: {po_path.relative_to(ROOT)}: {left_out} untranslated or fuzzy entries "
            "(left out of the .mo; the i18n test fails until they are translated)",
            file=sys.stderr,
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a .mo is stale"
    )
    args = parser.parse_args(argv)
    paths = catalogues()
    if not paths:
        print(f"no .po files under {LOCALE_DIR}", file=sys.stderr)
        return 1
    problems = [p for path in paths for p in compile_catalogue(path, check=args.check)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
