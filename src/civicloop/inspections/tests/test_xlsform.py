"""The XLSForm export compiles with pyxform and computes what scoring.py computes; submitted
answers are re-scored on the server."""

from __future__ import annotations

import io
import itertools
import shutil
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from pyxform.xls2xform import convert

from civicloop.inspections import actions as A
from civicloop.inspections.actions import ItemSpec, SectionSpec
from civicloop.inspections.scoring import ItemResult, rules_for, score_location
from civicloop.inspections.submissions import (
    SubmissionError,
    submission_rescore,
    submissions_rescore_file,
)
from civicloop.inspections.xlsform import form_items, xlsform_export, xlsform_rows
from civicloop.org.models import User
from civicloop.testing import T0

from .helpers import make_standard
from .xpath import Expr, run_form

pytestmark = pytest.mark.django_db
D = Decimal


def compile_form(standard) -> str:
    warnings: list[str] = []
    result = convert(xlsform=xlsform_export(standard), file_type=".xlsx", warnings=warnings)
    assert warnings == []
    return result.xform


def answers_for(standard, results: dict[str, ItemResult]) -> dict[str, str]:
    """What a phone submits for these findings (the non-relevant questions left empty)."""
    answers = {
        "standard_ref": standard.reference,
        "location_code": "LOC-1",
        "location_name": "幸福小区",
    }
    na: dict[str, list[str]] = {}
    for item in form_items(standard):
        result = results.get(item.key, ItemResult())
        if result.not_applicable:
            na.setdefault(item.section, []).append(item.choice)
            if item.occurrences:
                answers[item.occurrences] = ""
            if item.veto:
                answers[item.veto] = ""
        elif item.veto:
            answers[item.veto] = "yes" if result.veto_hit else "no"
        else:
            answers[item.occurrences] = str(result.occurrences)
    for section in {i.section for i in form_items(standard)}:
        answers[f"{section}_na"] = " ".join(na.get(section, []))
    return answers


def test_the_form_compiles_with_pyxform_and_names_its_version(city):
    standard = make_standard(city, publish=True)
    xform = compile_form(standard)
    root = ET.fromstring(xform)
    instance = root.find(".//{http://www.w3.org/2002/xforms}instance/*")
    assert instance is not None
    assert instance.get("id") == "civicloop_LXXQ_v1" and instance.get("version") == "1"
    names = {
        b.get("nodeset", "").rsplit("/", 1)[-1]
        for b in root.iter("{http://www.w3.org/2002/xforms}bind")
    }
    assert {
        "s1_na",
        "s1_i1_n",
        "s1_i1_photo1",
        "s1_i3_veto",
        "s2_i1_photo2",
        "gps",
        "score",
        "standard_ref",
    } <= names
    assert "s1_i3_n" not in names  # a veto item asks yes/no, not how many


def test_odk_validate_accepts_the_form(city):
    """ODK Validate (JavaRosa, shipped with pyxform, run on the machine's Java) loads the form
    and checks every expression and reference, offline."""
    assert shutil.which("java"), "ODK Validate needs Java (openjdk), part of the machine's set-up"
    standard = make_standard(city, publish=True)
    warnings: list[str] = []
    convert(xlsform=xlsform_export(standard), file_type=".xlsx", validate=True, warnings=warnings)
    assert warnings == []


def test_photo_questions_follow_the_evidence_requirement(city):
    standard = make_standard(city)
    rows = {r["name"]: r for r in xlsform_rows(standard, lang="en")["survey"] if r.get("name")}
    assert rows["s2_i1_photo1"]["required"] == "yes" and rows["s2_i1_photo2"]["required"] == "yes"
    assert "required" not in rows["s1_i2_photo1"]  # no photo required, one may be added
    assert rows["s1_i1_photo1"]["relevant"] == "not(selected(${s1_na}, 'i1')) and ${s1_i1_n} > 0"
    assert rows["s1_i1_n"]["hint"] == "Points: 10. 每处扣2分 How many places were found? 0 if none."
    zh = {r["name"]: r for r in xlsform_rows(standard)["survey"] if r.get("name")}
    assert zh["s1"]["label"] == "环境卫生"


def test_the_compiled_form_scores_like_the_server_on_worked_examples(city):
    standard = make_standard(city, publish=True)
    xform = compile_form(standard)
    rules = rules_for(standard)
    for results, expected in (
        ({}, "100"),
        (
            {
                "s1_i1": ItemResult(occurrences=7),
                "s1_i2": ItemResult(occurrences=4),
                "s2_i1": ItemResult(occurrences=3),
            },
            "51.67",
        ),
        ({"s1_i3": ItemResult(veto_hit=True), "s2_i1": ItemResult(occurrences=2)}, "46.67"),
        ({"s2_i3": ItemResult(veto_hit=True)}, "0"),
        ({"s1_i1": ItemResult(not_applicable=True), "s2_i2": ItemResult(occurrences=1)}, "65"),
        ({k.key: ItemResult(not_applicable=True) for k in rules}, ""),
    ):
        values = run_form(xform, answers_for(standard, results))
        server = score_location(rules, results)
        assert values["score"] == expected
        assert (D(values["score"]) if values["score"] else None) == server.score


_codes = itertools.count(1)


@st.composite
def standard_and_answers(draw):
    sections = []
    for s in range(draw(st.integers(1, 3))):
        items = []
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["per_occurrence", "fixed", "veto"]))
            if kind == "veto":
                items.append(
                    ItemSpec(
                        "否决项",
                        draw(st.sampled_from(["0", "3"])),
                        "veto",
                        "0",
                        veto_scope=draw(st.sampled_from(["section", "location"])),
                    )
                )
            else:
                full = draw(st.decimals(min_value=D("0.5"), max_value=D("25"), places=1))
                deduction = draw(st.decimals(min_value=D("0.1"), max_value=full, places=1))
                items.append(
                    ItemSpec(
                        "检查内容", full, kind, deduction, photos_required=draw(st.integers(0, 2))
                    )
                )
        sections.append(SectionSpec(f"项目{s + 1}", items))
    n_items = [len(s.items) for s in sections]
    results = {}
    for s, count in enumerate(n_items, start=1):
        for i in range(1, count + 1):
            veto = sections[s - 1].items[i - 1].rule == "veto"
            results[f"s{s}_i{i}"] = ItemResult(
                occurrences=0 if veto else draw(st.integers(0, 30)),
                veto_hit=veto and draw(st.integers(0, 3)) == 0,
                not_applicable=draw(st.integers(0, 4)) == 0,
            )
    return sections, results


@given(standard_and_answers())
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_compiled_forms_calculations_equal_scoring_py_for_any_standard(db, example):
    sections, results = example
    admin = User.objects.filter(username="hyp-admin").first() or User.objects.create_superuser(
        "hyp-admin", password="pw"
    )
    standard = A.standard_create(
        code=f"HYP{next(_codes)}",
        name="随机标准",
        location_type="market",
        sections=sections,
        by=admin,
        at=T0,
    )
    xform = compile_form(standard)
    values = run_form(xform, answers_for(standard, results))
    server = score_location(rules_for(standard), results)

    assert (D(values["score"]) if values["score"] else None) == server.score
    assert D(values["total_full"]) == server.full_points
    assert D(values["total_raw"]) == server.raw_score
    assert (values["loc_veto"] == "1") == server.vetoed
    for section in server.sections:
        assert D(values[f"{section.key}_score"]) == section.score
        assert D(values[f"{section.key}_full"]) == section.full_points
        for item in section.items:
            assert D(values[f"{item.key}_d"]) == item.deduction
    # Re-scoring the phone's answers on the server gives the same again.
    rescored = submission_rescore(
        standard, {**answers_for(standard, results), "score": values["score"]}
    )
    assert rescored.score == server and not rescored.form_score_differs


def test_the_evaluator_refuses_what_it_does_not_understand():
    with pytest.raises(Exception, match="function today"):
        Expr("today()")(lambda name: "")
    assert Expr("if(/d/a > 2, 'x', 'y')")(lambda name: "3") == "x"
    assert Expr("round(2 * 100 div 3, 2)")(lambda name: "") == D("66.67")


# ---- submissions ----------------------------------------------------------------------------------


FINDINGS = {
    "s1_i1": ItemResult(occurrences=2),
    "s1_i2": ItemResult(not_applicable=True),
    "s2_i1": ItemResult(occurrences=20),
}


def test_a_submission_is_rescored_and_the_forms_own_score_only_compared(city):
    standard = make_standard(city, publish=True)
    answers = answers_for(standard, FINDINGS)
    server = score_location(rules_for(standard), FINDINGS)
    # s1: 10 − 2×2 = 6 (s1_i2 does not apply); s2: 8 − min(8, 20×0.5) + 7 = 7; 13 of 25.
    assert server.score == D("52.00")

    honest = submission_rescore(standard, {**answers, "score": "52", "instanceID": "uuid:1"})
    assert honest.score == server and honest.form_score == D("52") and not honest.form_score_differs
    assert (honest.location_code, honest.location_name, honest.submission_id) == (
        "LOC-1",
        "幸福小区",
        "uuid:1",
    )
    assert honest.results["s1_i2"].not_applicable

    tampered = submission_rescore(
        standard, {**answers, "score": "100", "s1_score": "10", "total_raw": "25"}
    )
    assert tampered.score.score == D("52.00") and tampered.form_score_differs


def test_kobo_csv_and_odk_central_exports_are_read(city):
    standard = make_standard(city, publish=True)
    answers = answers_for(standard, FINDINGS)
    # Kobo: semicolon separated, group paths with "/", labels 是/否, one 0/1 column per choice.
    kobo_headers = (
        ["start", "standard_ref", "location_code"]
        + [
            (f"{k.split('_')[0]}/{k}" if k.startswith("s") else k)
            for k in answers
            if k not in {"standard_ref", "location_code"}
        ]
        + ["s1/s1_na/i2", "score", "_uuid"]
    )
    row = []
    for h in kobo_headers:
        name = h.rsplit("/", 1)[-1]
        if h == "s1/s1_na/i2":
            row.append("1")
        elif name.endswith("_veto"):
            row.append({"yes": "是", "no": "否"}[answers[name]])
        else:
            row.append(
                {"start": "2026-11-17T10:00:00", "score": "52", "_uuid": "k-1"}.get(
                    name, answers.get(name, "")
                )
            )
    csv = ";".join(kobo_headers) + "\n" + ";".join(row) + "\n"
    # A second row with a bad answer: reported with its row number, the first still scored.
    bad = [("-3" if h.endswith("s1_i1_n") else v) for h, v in zip(kobo_headers, row, strict=True)]
    csv += ";".join(bad) + "\n"
    rows = submissions_rescore_file(standard, ("\ufeff" + csv).encode("utf-8"))
    assert [r.row for r in rows] == [2, 3]
    assert rows[0].result.score.score == D("52.00") and rows[0].result.submission_id == "k-1"
    assert (
        rows[1].result is None
        and "s1_i1_n: “-3” is not a whole number from 0 to 999." in rows[1].problems
    )

    # ODK Central: "-" between group and name, an XLSX file.
    book = Workbook()
    sheet = book.active
    central = {
        ("s" in k and "_" in k and k.startswith("s") and f"{k.split('_')[0]}-{k}") or k: v
        for k, v in answers.items()
    }
    sheet.append(list(central) + ["KEY"])
    sheet.append([int(v) if v.isdigit() else v for v in central.values()] + ["uuid:c-1"])
    out = io.BytesIO()
    book.save(out)
    rows = submissions_rescore_file(standard, out.getvalue())
    assert rows[0].result.score.score == D("52.00") and rows[0].result.submission_id == "uuid:c-1"
    assert load_workbook(io.BytesIO(out.getvalue())).active.max_row == 2


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"s1_i1_n": "-1"}, "s1_i1_n: “-1” is not a whole number from 0 to 999."),
        ({"s1_i1_n": "2.5"}, "s1_i1_n: “2.5” is not a whole number"),
        ({"s1_i1_n": "abc"}, "s1_i1_n: “abc” is not a whole number"),
        ({"s1_i1_n": ""}, "s1_i1_n: no answer."),
        ({"s1_i3_veto": "maybe"}, "s1_i3_veto: “maybe” is not yes or no."),
        ({"s1_na": "i2 i9"}, "s1_na: unknown items i9."),
        ({"standard_ref": "LXXQ-v7"}, "collected with the form of LXXQ-v7, not LXXQ-v1"),
    ],
)
def test_bad_answers_are_refused_with_the_field(city, change, problem):
    standard = make_standard(city, publish=True)
    answers = {**answers_for(standard, FINDINGS), **change}
    with pytest.raises(SubmissionError) as error:
        submission_rescore(standard, answers)
    assert any(problem in p for p in error.value.problems)


def test_answers_from_another_form_lack_questions(city):
    standard = make_standard(city, publish=True)
    answers = answers_for(standard, FINDINGS)
    del answers["s2_i2_n"], answers["s2_i3_veto"]
    with pytest.raises(SubmissionError) as error:
        submission_rescore(standard, answers)
    assert error.value.problems == [
        "s2_i2_n: the answers lack this question.",
        "s2_i3_veto: the answers lack this question.",
    ]


def test_user_text_that_looks_like_a_reference_stays_text(city):
    standard = make_standard(city)
    item = standard.sections.get(position=1).items.get(position=1)
    A.item_update(
        item=item,
        spec=ItemSpec("无${score}字样的涂鸦", "10", "per_occurrence", "2"),
        by=city.users["admin"],
    )
    xform = compile_form(standard)
    assert "无$ {score}字样的涂鸦" in xform
