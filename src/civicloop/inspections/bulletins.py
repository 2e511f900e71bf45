"""Bulletins (通报) of a published round: the text, the DOCX, and the request to write one.

A bulletin is always Chinese, whatever language the reader's pages are in: the campaign
office sends it to the units as an official document. Its text is built inside
``translation.override("zh-hans")`` from English msgids, so the catalogues stay the one
home of every sentence. ``bulletin_content`` assembles it once (title, opening, ranking
tables, red and black lists, typical problems with photos, the deadlines of every
finding's rectification case); the printable page and ``bulletin_docx`` both render that
same content.

The DOCX is written by a background job (``tasks.bulletin_write`` → ``bulletin_run``):
``bulletin_request`` queues it, one at a time per round.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Case as DbCase
from django.db.models import IntegerField, Value, When
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civicloop.core.errors import (
    CivicError,
    ConflictError,
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.org import policy

from . import rankings
from .models import (
    Bulletin,
    BulletinStatus,
    DeductionRule,
    Finding,
    Round,
    RoundKind,
    RoundStatus,
    VisitPhoto,
)

log = logging.getLogger("civicloop.inspections")

BULLETIN_LANGUAGE = "zh-hans"
TYPICAL_PROBLEMS = 6  # problems shown, the veto hits first; every veto hit is shown even beyond it
PHOTOS_PER_PROBLEM = 3
RANKING_LEVELS = ("community", "unit")
ACTIVE = (BulletinStatus.QUEUED, BulletinStatus.RUNNING)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# ---- the content ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulletinPhoto:
    photo_id: int
    name: str  # the stripped copy in the private storage
    width: int
    height: int


@dataclass(frozen=True)
class TypicalProblem:
    number: int
    finding_id: int
    heading: str  # "1. 幸福里小区：楼道、院落无垃圾堆积"
    site: str
    place: str  # community (or street) of the site
    section: str
    item: str
    description: str
    deduction: Decimal
    deduction_text: str  # "扣2.00分" or "一票否决"
    veto: bool
    recurred: bool
    unit: str
    ticket_no: str
    deadline: str
    photos: tuple[BulletinPhoto, ...]
    facts: tuple[tuple[str, str], ...]  # (label, value) lines under the heading


@dataclass(frozen=True)
class DeadlineRow:
    number: int
    finding_id: int
    ticket_no: str
    site: str
    problem: str
    unit: str
    deadline_at: dt.datetime | None  # local time
    deadline: str
    state: str


@dataclass(frozen=True)
class RankingTable:
    level: str
    heading: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # formatted cells, in ranking order
    ranking: tuple[rankings.RankRow, ...]
    red: tuple[rankings.RankRow, ...]
    black: tuple[rankings.RankRow, ...]
    red_line: str  # "红榜：幸福社区（95.00分）"
    black_line: str
    empty: str  # shown instead of the table when nothing was ranked


@dataclass(frozen=True)
class BulletinContent:
    round_id: int
    title: str
    issuer: str
    date: dt.date
    date_text: str
    byline: str  # "示范市创建办　2026年11月25日"
    opening: str
    sampled: int
    inspected: int
    average: Decimal | None
    grades: tuple[tuple[str, int], ...]
    rankings: tuple[RankingTable, ...]
    problems: tuple[TypicalProblem, ...]
    deadline_columns: tuple[str, ...]
    deadlines: tuple[DeadlineRow, ...]
    requirements: str
    labels: dict[str, str]


def _sentences(parts: Sequence[str]) -> str:
    """Sentences of one paragraph: Chinese needs no space after its full stops."""
    joiner = "" if (translation.get_language() or "").startswith("zh") else " "
    return joiner.join(p for p in parts if p)


def _points(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _day(value: dt.date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def _moment(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def bulletin_title(rnd: Round) -> str:
    return _("Bulletin on the inspection “%(round)s”") % {"round": rnd.name}


def _issuer(rnd: Round) -> str:
    """The unit of the campaign office that planned the round, else its area's office."""
    from civicloop.org.models import Role, RoleAssignment

    grants = []
    if rnd.created_by_id is not None:
        grants = list(
            RoleAssignment.objects.filter(user_id=rnd.created_by_id, role=Role.CAMPAIGN_OFFICE)
            .select_related("area", "unit")
            .order_by("pk")
        )
    covering = [g for g in grants if g.area is not None and rnd.area_path.startswith(g.area.path)]
    # The narrowest office whose area holds the round speaks for it.
    covering.sort(key=lambda g: len(g.area.path), reverse=True)
    for grant in covering + [g for g in grants if g not in covering]:
        if grant.unit is not None:
            return grant.unit.name
        if grant.area is not None:
            return _("%(area)s campaign office") % {"area": grant.area.name}
    return _("The campaign office")


def _kind(rnd: Round) -> str:
    if rnd.kind == RoundKind.UNDERCOVER:
        return _("an undercover inspection (暗访)")
    return _("an open inspection (明查)")


def _opening(
    rnd: Round,
    issuer: str,
    location_rows: Sequence[rankings.LocationRow],
    bands: Sequence[tuple[str, Decimal]],
    findings: int,
) -> tuple[str, int, int, Decimal | None, tuple[tuple[str, int], ...]]:
    scored = [r for r in location_rows if r.score is not None]
    sampled, inspected = len(location_rows), sum(1 for r in location_rows if r.inspected)
    average = (
        (sum((r.score for r in scored if r.score is not None), Decimal(0)) / len(scored)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        if scored
        else None
    )
    counted = Counter(r.grade for r in scored)
    grades = tuple((grade, counted.get(grade, 0)) for grade, _bound in bands)
    parts = [
        _("From %(start)s to %(end)s, %(issuer)s carried out %(kind)s in %(area)s.")
        % {
            "start": _day(rnd.period_start),
            "end": _day(rnd.period_end),
            "issuer": issuer,
            "kind": _kind(rnd),
            "area": rnd.area.name,
        },
        ngettext(
            "%(inspected)d of %(sampled)d sampled location was inspected.",
            "%(inspected)d of %(sampled)d sampled locations were inspected.",
            sampled,
        )
        % {"inspected": inspected, "sampled": sampled},
    ]
    if average is not None:
        parts.append(_("The average score was %(average)s points.") % {"average": _points(average)})
        parts.append(
            _("By grade: %(grades)s.")
            % {
                "grades": _("; ").join(
                    ngettext(
                        "grade %(grade)s, %(count)d location",
                        "grade %(grade)s, %(count)d locations",
                        count,
                    )
                    % {"grade": grade, "count": count}
                    for grade, count in grades
                )
            }
        )
    elif rnd.lookback_of_id is None:  # a look-back rechecks findings; it scores nothing
        parts.append(_("No location has a score yet."))
    vetoed = sum(1 for r in location_rows if r.vetoed)
    if vetoed:
        parts.append(
            ngettext(
                "%(count)d location hit a veto item (一票否决) and scores 0.",
                "%(count)d locations hit a veto item (一票否决) and score 0.",
                vetoed,
            )
            % {"count": vetoed}
        )
    parts.append(
        ngettext(
            "%(count)d problem was found; each became a rectification case for its responsible unit.",
            "%(count)d problems were found; each became a rectification case for its responsible unit.",
            findings,
        )
        % {"count": findings}
        if findings
        else _("No problem was found.")
    )
    if rnd.lookback_of_id is not None:
        from .models import Recheck

        rechecks = Recheck.objects.filter(visit__location__round=rnd)
        parts.append(
            ngettext(
                "This look-back (回头看) rechecked %(count)d problem of “%(round)s”; %(recurred)d recurred.",
                "This look-back (回头看) rechecked %(count)d problems of “%(round)s”; %(recurred)d recurred.",
                rechecks.count(),
            )
            % {
                "count": rechecks.count(),
                "round": rnd.lookback_of.name if rnd.lookback_of else "",
                "recurred": rechecks.filter(recurred=True).count(),
            }
        )
    return _sentences(parts), sampled, inspected, average, grades


def _ranking_table(rnd: Round, level: str) -> RankingTable:
    rows = rankings.round_ranking(rnd, level)
    red, black = rankings.red_black(rows)
    name_column = _("Community") if level == "community" else _("Responsible unit")
    columns = [
        _("Rank"),
        name_column,
        _("Score"),
        _("Grade"),
        _("Locations inspected"),
        _("Problems"),
    ]
    if level == "unit":
        columns.append(_("Recurrences"))
    cells = []
    for row in rows:
        line = [
            str(row.rank),
            row.name,
            _points(row.score),
            row.grade,
            str(row.locations),
            str(row.findings),
        ]
        if level == "unit":
            line.append(str(row.recurrences))
        cells.append(tuple(line))

    def listed(members: Sequence[rankings.RankRow]) -> str:
        if not members:
            return _("none")
        return _(", ").join(
            _("%(name)s (%(score)s points)") % {"name": r.name, "score": _points(r.score)}
            for r in members
        )

    return RankingTable(
        level=level,
        heading=_("Ranking of communities")
        if level == "community"
        else _("Ranking of responsible units"),
        columns=tuple(columns),
        rows=tuple(cells),
        ranking=tuple(rows),
        red=tuple(red),
        black=tuple(black),
        red_line=_("Red list (红榜): %(names)s") % {"names": listed(red)},
        black_line=_("Black list (黑榜): %(names)s") % {"names": listed(black)},
        empty=_("No location of this round was scored at this level."),
    )


def _findings(rnd: Round, now: dt.datetime) -> list[Finding]:
    """Every finding of the round with its rectification ``state``, the gravest first: veto
    hits, then the largest deductions."""
    from .rectification import findings_with_state

    return list(
        findings_with_state(Finding.objects.filter(visit__location__round=rnd), now)
        .select_related(
            "visit__location__site",
            "item__section",
            "unit",
            "case__unit",
            "recurrence_of",
            "item_check",
        )
        .annotate(
            veto_first=DbCase(
                When(item__rule=DeductionRule.VETO, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("veto_first", "-deduction", "visit__location__draw_order", "pk")
    )


def _is_veto(finding: Finding) -> bool:
    if finding.item_check is not None:
        return bool(finding.item_check.veto_hit)
    return finding.item.rule == DeductionRule.VETO


def _typical(findings: Sequence[Finding], limit: int) -> list[Finding]:
    """Every veto hit, then the largest deductions until ``limit`` problems are shown."""
    vetoes = [f for f in findings if _is_veto(f)]
    others = [f for f in findings if not _is_veto(f) and f.deduction > 0]
    return vetoes + others[: max(0, limit - len(vetoes))]


def _photos(findings: Sequence[Finding]) -> dict[int, list[BulletinPhoto]]:
    photos: dict[int, list[BulletinPhoto]] = {}
    for photo in VisitPhoto.objects.filter(finding__in=[f.pk for f in findings]).order_by("pk"):
        photos.setdefault(photo.finding_id, []).append(
            BulletinPhoto(
                photo_id=photo.pk, name=photo.image.name, width=photo.width, height=photo.height
            )
        )
    return photos


def _problem_text(finding: Finding) -> str:
    return " ".join(finding.item.content.split())


def bulletin_content(
    round: Round, *, at: dt.datetime | None = None, problems: int = TYPICAL_PROBLEMS
) -> BulletinContent:  # noqa: A002
    """The bulletin of ``round`` as of ``at``, in Chinese. The caller checks who may read it."""
    if isinstance(problems, bool) or not isinstance(problems, int) or problems < 0:
        raise ValidationFailed(
            _("The number of typical problems must be a whole number."), field="problems"
        )
    now = at or timezone.now()
    rnd = Round.objects.select_related("area", "lookback_of").get(pk=round.pk)
    with translation.override(BULLETIN_LANGUAGE):
        from .rectification import FindingState

        bands = rankings.bands_for(rnd)
        findings = _findings(rnd, now)
        issuer = _issuer(rnd)
        locations = rankings.location_rows(rnd)
        opening, sampled, inspected, average, grades = _opening(
            rnd, issuer, locations, bands, len(findings)
        )
        tables = tuple(_ranking_table(rnd, level) for level in RANKING_LEVELS)
        # Where each site lies: its community, else (a back street across communities) its street.
        places = {row.location.pk: row.community or row.street for row in locations}
        chosen = _typical(findings, problems)
        photos = _photos(chosen)
        typical = []
        for number, finding in enumerate(chosen, start=1):
            site = finding.visit.location.site
            veto = _is_veto(finding)
            case = finding.case
            typical.append(
                TypicalProblem(
                    number=number,
                    finding_id=finding.pk,
                    heading=_("%(number)d. %(site)s: %(item)s")
                    % {"number": number, "site": site.name, "item": _problem_text(finding)},
                    site=site.name,
                    place=places.get(finding.visit.location_id, ""),
                    section=finding.item.section.name,
                    item=_problem_text(finding),
                    description=finding.description,
                    deduction=finding.deduction,
                    deduction_text=_deduction_text(finding, veto),
                    veto=veto,
                    recurred=finding.recurrence_of_id is not None,
                    unit=_unit_name(finding),
                    ticket_no=case.ticket_no if case else "",
                    deadline=_moment(case.deadline_at) if case else "",
                    photos=tuple(photos.get(finding.pk, [])[:PHOTOS_PER_PROBLEM]),
                    facts=_facts(
                        finding, site.name, places.get(finding.visit.location_id, ""), veto
                    ),
                )
            )
        deadlines = [
            DeadlineRow(
                number=number,
                finding_id=f.pk,
                ticket_no=f.case.ticket_no if f.case else "",
                site=f.visit.location.site.name,
                problem=f.description or _problem_text(f),
                unit=_unit_name(f),
                deadline_at=timezone.localtime(f.case.deadline_at)
                if f.case and f.case.deadline_at
                else None,
                deadline=_moment(f.case.deadline_at) if f.case else "",
                state=str(FindingState(f.state).label),
            )
            for number, f in enumerate(sorted(findings, key=_deadline_order), start=1)
        ]
        today = timezone.localtime(now).date()
        return BulletinContent(
            round_id=rnd.pk,
            title=bulletin_title(rnd),
            issuer=issuer,
            date=today,
            date_text=_day(today),
            byline=_("%(issuer)s, %(date)s") % {"issuer": issuer, "date": _day(today)},
            opening=opening,
            sampled=sampled,
            inspected=inspected,
            average=average,
            grades=grades,
            rankings=tables,
            problems=tuple(typical),
            deadline_columns=(
                _("No."),
                _("Ticket number"),
                _("Location"),
                _("Problem found"),
                _("Responsible unit"),
                _("Rectify by"),
                _("State"),
            ),
            deadlines=tuple(deadlines),
            requirements=_(
                "Each responsible unit rectifies its problems by the deadline below and reports back "
                "through its rectification case; problems not rectified in time will be named in the next bulletin."
            ),
            labels={
                "overview": _("1. Overview"),
                "rankings": _("2. Rankings"),
                "problems": _("3. Typical problems"),
                "requirements": _("4. Rectification and deadlines"),
                "no_problems": _("No problem was found in this round."),
                "no_deadlines": _("No rectification case was opened."),
                "no_case": _("no case"),
                "photo": _("Photo"),
                "photo_missing": _("(the photo file is missing)"),
            },
        )


def _facts(finding: Finding, site: str, place: str, veto: bool) -> tuple[tuple[str, str], ...]:
    case = finding.case
    facts = [
        (
            _("Location"),
            _("%(site)s (%(place)s)") % {"site": site, "place": place} if place else site,
        ),
        (_("Section"), finding.item.section.name),
        # The inspector's own words; a finding described only by its item says nothing more.
        (
            _("Problem found"),
            "" if finding.description == _problem_text(finding) else finding.description,
        ),
        (_("Deduction"), _deduction_text(finding, veto)),
        (_("Responsible unit"), _unit_name(finding)),
        (_("Rectification case"), case.ticket_no if case else _("no case")),
        (_("Rectify by"), _moment(case.deadline_at) if case else ""),
    ]
    if finding.recurrence_of_id is not None:
        facts.append((_("Look-back"), _("the problem recurred after rectification (回头看)")))
    return tuple((label, value) for label, value in facts if value)


def _deduction_text(finding: Finding, veto: bool) -> str:
    if veto:
        return _("veto (一票否决)")
    return _("%(points)s points deducted") % {"points": _points(finding.deduction)}


def _unit_name(finding: Finding) -> str:
    if finding.case is not None and finding.case.unit is not None:
        return finding.case.unit.name
    return finding.unit.name if finding.unit is not None else ""


def _deadline_order(finding: Finding) -> tuple[Any, ...]:
    deadline = finding.case.deadline_at if finding.case and finding.case.deadline_at else None
    return (deadline is None, deadline or dt.datetime.max.replace(tzinfo=dt.UTC), finding.pk)


# ---- the DOCX ------------------------------------------------------------------------------------------

BODY_FONT = ("SimSun", "宋体")
HEADING_FONT = ("SimHei", "黑体")
PHOTO_WIDTH_CM = 8.0
PHOTO_MAX_HEIGHT_CM = 10.0


def _set_fonts(element: Any, fonts: tuple[str, str]) -> None:
    """Latin and East Asian font of a style or run: Word and WPS pick Chinese glyphs by w:eastAsia."""
    from docx.oxml.ns import qn

    r_pr = element.get_or_add_rPr()
    r_fonts = r_pr.get_or_add_rFonts()
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        r_fonts.attrib.pop(qn(theme), None)
    r_fonts.set(qn("w:ascii"), fonts[0])
    r_fonts.set(qn("w:hAnsi"), fonts[0])
    r_fonts.set(qn("w:eastAsia"), fonts[1])
    lang = r_pr.find(qn("w:lang"))
    if lang is None:
        lang = r_pr.makeelement(qn("w:lang"), {})
        r_pr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")


def _styles(document: Any) -> None:
    from docx.shared import Pt, RGBColor

    normal = document.styles["Normal"]
    normal.font.size = Pt(12)
    _set_fonts(normal.element, BODY_FONT)
    for name, size in (("Heading 1", 16), ("Heading 2", 14)):
        style = document.styles[name]
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.color.rgb = RGBColor(0, 0, 0)
        _set_fonts(style.element, HEADING_FONT)


def _page(document: Any) -> None:
    """A4 with the margins of Chinese official documents (GB/T 9704)."""
    from docx.shared import Cm

    for section in document.sections:
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
        section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)


def _paragraph(document: Any, text: str, *, indent: bool = True, bold: bool = False) -> Any:
    from docx.shared import Pt

    paragraph = document.add_paragraph()
    if indent:
        paragraph.paragraph_format.first_line_indent = Pt(24)  # two characters
    run = paragraph.add_run(text)
    run.bold = bold
    return paragraph


def _table(document: Any, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Any:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    table = document.add_table(rows=1, cols=len(columns))
    table.style = document.styles["Table Grid"]
    header = table.rows[0]
    # Repeated at the top of every page the table runs over.
    tr_pr = header._tr.get_or_add_trPr()
    tr_pr.append(tr_pr.makeelement(qn("w:tblHeader"), {}))
    for cell, text in zip(header.cells, columns, strict=True):
        paragraph = cell.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(text)
        run.bold = True
        run.font.size = Pt(10.5)
    for values in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, values, strict=True):
            run = cell.paragraphs[0].add_run(text)
            run.font.size = Pt(10.5)
    return table


def _picture(document: Any, photo: BulletinPhoto, missing: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.image.exceptions import UnrecognizedImageError
    from docx.shared import Cm

    storage = VisitPhoto._meta.get_field("image").storage
    try:
        with storage.open(photo.name, "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, OSError):
        _paragraph(document, missing, indent=False)
        return
    width = Cm(PHOTO_WIDTH_CM)
    size: dict[str, Any] = {"width": width}
    if (
        photo.width
        and photo.height
        and photo.height / photo.width * PHOTO_WIDTH_CM > PHOTO_MAX_HEIGHT_CM
    ):
        size = {"height": Cm(PHOTO_MAX_HEIGHT_CM)}  # a portrait photo: keep the page readable
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    try:
        paragraph.add_run().add_picture(io.BytesIO(data), **size)
    except UnrecognizedImageError:
        paragraph.add_run(missing)


def bulletin_docx(content: BulletinContent) -> bytes:
    """The bulletin as a Word document (A4, Chinese fonts, tables, embedded photos)."""
    with translation.override(BULLETIN_LANGUAGE):
        return _docx(content)


def _docx(content: BulletinContent) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    labels = content.labels
    document = Document()
    _styles(document)
    _page(document)
    document.core_properties.title = content.title
    document.core_properties.author = content.issuer
    document.core_properties.language = "zh-CN"

    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(content.title)
    run.bold = True
    run.font.size = Pt(22)
    _set_fonts(run._r, HEADING_FONT)
    byline = document.add_paragraph()
    byline.alignment = WD_ALIGN_PARAGRAPH.CENTER
    byline.add_run(content.byline)

    document.add_heading(labels["overview"], level=1)
    _paragraph(document, content.opening)

    document.add_heading(labels["rankings"], level=1)
    for table in content.rankings:
        document.add_heading(table.heading, level=2)
        if table.rows:
            _table(document, table.columns, table.rows)
        else:
            _paragraph(document, table.empty)
        _paragraph(document, table.red_line, indent=False)
        _paragraph(document, table.black_line, indent=False)

    document.add_heading(labels["problems"], level=1)
    if not content.problems:
        _paragraph(document, labels["no_problems"])
    for problem in content.problems:
        document.add_heading(problem.heading, level=2)
        for label, value in problem.facts:
            _paragraph(
                document, _("%(label)s: %(value)s") % {"label": label, "value": value}, indent=False
            )
        for photo in problem.photos:
            _picture(document, photo, labels["photo_missing"])

    document.add_heading(labels["requirements"], level=1)
    _paragraph(document, content.requirements)
    if content.deadlines:
        _table(
            document,
            content.deadline_columns,
            [
                (
                    str(r.number),
                    r.ticket_no or labels["no_case"],
                    r.site,
                    r.problem,
                    r.unit,
                    r.deadline,
                    r.state,
                )
                for r in content.deadlines
            ],
        )
    else:
        _paragraph(document, labels["no_deadlines"])

    for text in (content.issuer, content.date_text):
        signature = document.add_paragraph()
        signature.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        signature.add_run(text)

    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# ---- the request and the job ---------------------------------------------------------------------------


@transaction.atomic
def bulletin_request(*, round: Round, by: Any, at: dt.datetime | None = None) -> Bulletin:  # noqa: A002
    """Queue the DOCX of a published round's bulletin (one at a time per round)."""
    from .tasks import bulletin_write

    rnd = Round.objects.select_for_update().filter(pk=round.pk).first()
    if rnd is None or not policy.visible_rounds(by).filter(pk=rnd.pk).exists():
        raise NotFoundOrForbidden(_("No such inspection round, or it is not yours to see."))
    if not policy.may_manage_round(by, rnd):
        raise PermissionRefused(
            _("Only the campaign office that owns this round writes its bulletins.")
        )
    if rnd.status != RoundStatus.PUBLISHED:
        raise TransitionRefused(
            _(
                "A bulletin is written for a published round; publish the results of “%(round)s” first."
            )
            % {"round": rnd.name}
        )
    if Bulletin.objects.filter(round=rnd, status__in=ACTIVE).exists():
        raise ConflictError(
            _("A bulletin of this round is already being written; wait until it is ready.")
        )
    with translation.override(BULLETIN_LANGUAGE):
        title = bulletin_title(rnd)
    bulletin = Bulletin.objects.create(
        round=rnd, title=title, requested_by=by, requested_at=at or timezone.now()
    )
    transaction.on_commit(lambda: bulletin_write.enqueue(bulletin_id=bulletin.pk))
    return bulletin


def _fail(bulletin_id: int, message: str) -> None:
    """Record the failure of the job's own (running) bulletin; another writer's word stands."""
    Bulletin.objects.filter(pk=bulletin_id, status=BulletinStatus.RUNNING).update(
        status=BulletinStatus.FAILED, error=message, document="", finished_at=timezone.now()
    )


def _store(bulletin: Bulletin, content: BulletinContent, data: bytes) -> None:
    """Save the file, then mark the bulletin done; a file whose bulletin could not be marked is removed."""
    field = bulletin.document
    field.save(f"bulletin-{bulletin.pk}.docx", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            done = Bulletin.objects.filter(pk=bulletin.pk, status=BulletinStatus.RUNNING).update(
                status=BulletinStatus.DONE,
                title=content.title,
                document=field.name,
                error="",
                finished_at=timezone.now(),
            )
            if not done:
                raise ConflictError(_("The bulletin was changed while it was being written."))
    except BaseException:
        field.storage.delete(field.name)
        raise


def bulletin_run(bulletin_id: int) -> str:
    """The job: claim a queued bulletin, write its DOCX; returns the final status."""
    claimed = Bulletin.objects.filter(pk=bulletin_id, status=BulletinStatus.QUEUED).update(
        status=BulletinStatus.RUNNING
    )
    if not claimed:
        return "skipped"  # written, failed, deleted or claimed by another worker
    bulletin = Bulletin.objects.select_related("round", "requested_by").get(pk=bulletin_id)
    requester = bulletin.requested_by
    language = (requester.language if requester is not None else "") or settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            if bulletin.round.status != RoundStatus.PUBLISHED:
                raise TransitionRefused(_("The round is no longer published."))
            content = bulletin_content(bulletin.round)
            _store(bulletin, content, bulletin_docx(content))
        except CivicError as exc:
            _fail(bulletin_id, exc.message)
            return BulletinStatus.FAILED
        except Exception:
            log.exception("bulletin %s failed", bulletin_id)
            _fail(
                bulletin_id,
                _(
                    "The bulletin could not be written. Try again; if it fails again, tell the administrator."
                ),
            )
            return BulletinStatus.FAILED
    return BulletinStatus.DONE


# A bulletin takes seconds to write: one still "running" this long after it was asked for lost its worker.
STALE_AFTER = dt.timedelta(hours=2)


def bulletins_recover(now: dt.datetime | None = None) -> int:
    """Housekeeping (``CIVICLOOP["PERIODIC_JOBS"]``): mark bulletins whose worker died while
    writing them as failed, so the page offers to write them again. Returns how many."""
    now = now or timezone.now()
    with translation.override(settings.LANGUAGE_CODE):
        message = _("The job writing this bulletin stopped before it finished. Write it again.")
    return Bulletin.objects.filter(status=BulletinStatus.RUNNING, requested_at__lt=now - STALE_AFTER).update(
        status=BulletinStatus.FAILED, error=message, document="", finished_at=now
    )


# ---- reading ------------------------------------------------------------------------------------------


def round_bulletins(rnd: Round) -> list[Bulletin]:
    return list(
        Bulletin.objects.filter(round=rnd)
        .select_related("requested_by")
        .order_by("-requested_at", "-pk")[:20]
    )


def access_bulletin(user: Any, bulletin_id: int) -> Bulletin:
    """A bulletin of a published round whose results the user may see; the same error otherwise."""
    bulletin = (
        Bulletin.objects.filter(pk=bulletin_id, round__in=policy.visible_rounds(user))
        .select_related("round", "requested_by")
        .first()
    )
    if (
        bulletin is None
        or bulletin.round.status != RoundStatus.PUBLISHED
        or not policy.round_results_visible(user, bulletin.round)
    ):
        raise NotFoundOrForbidden(_("No such bulletin, or it is not yours to see."))
    return bulletin
