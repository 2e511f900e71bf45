"""Bulletins (通报) of a published round: the Chinese text, the DOCX written by the background
job, and the printable page, for each role."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn

from civicloop.core.errors import (
    ConflictError,
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.inspections import bulletins
from civicloop.inspections.bulletins import (
    bulletin_content,
    bulletin_docx,
    bulletin_request,
    bulletin_run,
)
from civicloop.inspections.models import (
    Bulletin,
    BulletinStatus,
    Finding,
    Round,
    RoundStatus,
    VisitPhoto,
)
from civicloop.inspections.rankings import location_rows, round_ranking
from civicloop.inspections.rectification import FindingState
from civicloop.testing import T0

from .round_helpers import advance, make_round
from .test_rectification import GARBAGE, PARKING, SORTING, STRUCTURE, record_visit
from .visit_helpers import checks_for, items_of, location_of, photos_for, submit

if TYPE_CHECKING:
    from civicloop.testing import TestCity

pytestmark = pytest.mark.django_db

LOCATION_VETO = "s2_i3"  # "发生安全责任事故": the whole location scores 0
PUBLISHED_AT = T0 + dt.timedelta(days=8)
NOW = PUBLISHED_AT + dt.timedelta(hours=2)


def inspected(city: TestCity, *, publish: bool = True) -> Round:
    """An undercover round of district A: five findings at three sites, one of them a veto."""
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    record_visit(
        city,
        location_of(rnd, "c1_street", city),
        {GARBAGE: 2, SORTING: 1},
        description="楼道垃圾堆积两处",
    )
    record_visit(city, location_of(rnd, "c2_street", city), {PARKING: 3, STRUCTURE: 1})
    vetoed = location_of(rnd, "c2_old", city)
    submit(
        vetoed,
        city.users["inspector"],
        checks=checks_for(
            vetoed, **{LOCATION_VETO: {"veto_hit": True, "description": "配电箱起火"}}
        ),
        photos=photos_for(items_of(vetoed)[LOCATION_VETO]),
        at=T0 + dt.timedelta(days=2),
    )
    record_visit(city, location_of(rnd, "c1_old2", city))  # nothing found
    return advance(city, rnd, RoundStatus.PUBLISHED if publish else RoundStatus.CLOSED)


def findings(rnd: Round) -> list[Finding]:
    return list(Finding.objects.filter(visit__location__round=rnd).select_related("case", "item"))


def chinese_moment(value: dt.datetime) -> str:
    local = timezone.localtime(value)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def bulletin_files() -> set[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT) / "bulletins"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


# ---- the content ------------------------------------------------------------------------------------


def test_the_content_is_chinese_whatever_the_page_language(city):
    rnd = inspected(city)
    with translation.override("en"):
        content = bulletin_content(rnd, at=NOW)
        assert translation.get_language() == "en"  # the override did not leak
    assert content.title == f"关于{rnd.name}督查情况的通报"
    assert "通报" in content.title
    assert content.issuer == "示范市创建办"  # the campaign office of the city planned the round
    assert content.date_text == "2026年11月25日"
    opening = content.opening
    assert "2026年11月17日" in opening and "老城区" in opening and "暗访" in opening
    assert "共抽取点位5处，实际检查4处" in opening
    assert "A等1处；B等1处；C等1处；D等1处" in opening and "1处点位触发一票否决" in opening
    assert "共发现问题5个" in opening
    assert f"{content.average}分" in opening
    assert [label for label in content.labels.values() if label.isascii()] == []


def test_the_opening_counts_locations_grades_and_findings(city):
    rnd = inspected(city)
    content = bulletin_content(rnd, at=NOW)
    assert (content.sampled, content.inspected) == (5, 4)
    scores = [r.score for r in location_rows(rnd) if r.score is not None]
    assert sum(scores) / 4 == Decimal("62.085")  # 76.67 + 71.67 + 0 (vetoed) + 100
    assert content.average == Decimal("62.09")  # rounded half up
    assert sum(n for _grade, n in content.grades) == 4
    assert [g for g, _n in content.grades] == ["A", "B", "C", "D"]
    assert dict(content.grades)["D"] >= 1  # the vetoed location scores 0


def test_the_ranking_tables_are_the_rounds_rankings(city):
    rnd = inspected(city)
    content = bulletin_content(rnd, at=NOW)
    community, unit = content.rankings
    assert (community.level, unit.level) == ("community", "unit")
    expected = round_ranking(rnd, "community")
    assert (
        [row[1] for row in community.rows] == [r.name for r in expected] == ["幸福社区", "和平社区"]
    )
    assert [row[2] for row in community.rows] == [str(r.score) for r in expected]
    assert community.columns[:4] == ("排名", "社区", "得分", "等级")
    assert {row[1] for row in unit.rows} == {"幸福社区居委会", "市环境卫生管理处", "东关街道办事处"}
    assert unit.columns[-1] == "复发数"
    # Two communities: the better one on the red list, the other on the black list.
    assert [r.name for r in community.red] == ["幸福社区"] and [
        r.name for r in community.black
    ] == ["和平社区"]
    assert community.red_line.startswith("红榜") and "幸福社区" in community.red_line
    assert community.black_line.startswith("黑榜") and "和平社区" in community.black_line


def test_typical_problems_put_veto_hits_first_then_the_largest_deductions(city):
    rnd = inspected(city)
    content = bulletin_content(rnd, at=NOW)
    problems = content.problems
    assert [p.site for p in problems] == ["和平小区", "和平巷", "幸福巷", "幸福巷", "和平巷"]
    assert problems[0].veto and problems[0].deduction_text == "一票否决"
    assert [p.deduction for p in problems[1:]] == sorted(
        (p.deduction for p in problems[1:]), reverse=True
    )
    assert problems[0].heading.startswith("1. 和平小区")
    # At most N typical problems, but never without a veto hit.
    short = bulletin_content(rnd, at=NOW, problems=2).problems
    assert [p.site for p in short] == ["和平小区", "和平巷"]
    assert [p.site for p in bulletin_content(rnd, at=NOW, problems=0).problems] == ["和平小区"]
    with pytest.raises(ValidationFailed):
        bulletin_content(rnd, problems=-1)


def test_each_typical_problem_has_its_photos_unit_ticket_and_deadline(city):
    rnd = inspected(city)
    content = bulletin_content(rnd, at=NOW)
    by_finding = {f.pk: f for f in findings(rnd)}
    for problem in content.problems:
        finding = by_finding[problem.finding_id]
        assert problem.ticket_no == finding.case.ticket_no
        assert problem.deadline == chinese_moment(finding.case.deadline_at)
        assert problem.unit == finding.case.unit.name
        assert [p.photo_id for p in problem.photos] == list(
            VisitPhoto.objects.filter(finding=finding).order_by("pk").values_list("pk", flat=True)
        )[: bulletins.PHOTOS_PER_PROBLEM]
        assert problem.photos
        facts = dict(problem.facts)
        assert facts["整改工单"] == finding.case.ticket_no and facts["整改期限"] == problem.deadline
    parking = next(
        p
        for p in content.problems
        if p.finding_id
        == Finding.objects.get(
            visit__location__round=rnd, item__section__position=2, item__position=1
        ).pk
    )
    assert len(parking.photos) == 2  # the parking item requires two photos


def test_the_deadlines_list_every_finding_with_its_ticket_number(city):
    rnd = inspected(city)
    content = bulletin_content(rnd, at=NOW)
    cases = {f.pk: f.case for f in findings(rnd)}
    with translation.override("zh-hans"):
        being_rectified = str(FindingState.OPEN.label)  # every case is still with its unit
    assert len(content.deadlines) == len(cases) == 5
    assert {r.ticket_no for r in content.deadlines} == {c.ticket_no for c in cases.values()}
    for row in content.deadlines:
        case = cases[row.finding_id]
        assert row.deadline_at == timezone.localtime(case.deadline_at)
        assert row.deadline == chinese_moment(case.deadline_at)
        assert row.unit == case.unit.name
        assert row.state == being_rectified
    assert [r.deadline_at for r in content.deadlines] == sorted(
        r.deadline_at for r in content.deadlines
    )
    assert content.deadline_columns[1] == "受理编号"


def test_a_round_without_findings_says_so(city):
    rnd = make_round(city, status=RoundStatus.PUBLISHED, area="dB", name="团结明查")
    content = bulletin_content(rnd, at=NOW)
    assert content.problems == () and content.deadlines == ()
    assert content.inspected == 0 and content.average is None
    data = bulletin_docx(content)
    text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    assert content.labels["no_problems"] in text and content.labels["no_deadlines"] in text


# ---- the DOCX ----------------------------------------------------------------------------------------


def test_the_docx_opens_with_a_centred_chinese_title_tables_and_photos(city):
    rnd = inspected(city)
    content = bulletin_content(rnd, at=NOW)
    document = Document(io.BytesIO(bulletin_docx(content)))
    title = document.paragraphs[0]
    assert title.text == content.title and "通报" in title.text
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    text = "\n".join(p.text for p in document.paragraphs)
    assert content.opening in text and content.requirements in text
    assert content.rankings[0].red_line in text and content.rankings[0].black_line in text
    for problem in content.problems:
        assert problem.heading in text

    tables = [
        [[cell.text for cell in row.cells] for row in table.rows] for table in document.tables
    ]
    community, unit, deadlines = tables
    assert community[0] == list(content.rankings[0].columns)
    assert community[1:] == [list(r) for r in content.rankings[0].rows]
    assert unit[1:] == [list(r) for r in content.rankings[1].rows]
    assert deadlines[0] == list(content.deadline_columns)
    assert [row[1] for row in deadlines[1:]] == [r.ticket_no for r in content.deadlines]
    assert all(row[5] for row in deadlines[1:])  # every deadline is written out
    # The header row repeats on each page.
    assert document.tables[2].rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None

    photos = sum(len(p.photos) for p in content.problems)
    assert photos >= 6 and len(document.inline_shapes) == photos
    assert all(
        abs(shape.width.cm - bulletins.PHOTO_WIDTH_CM) < 0.01 for shape in document.inline_shapes
    )


def test_the_docx_names_an_east_asian_font(city):
    rnd = inspected(city)
    document = Document(io.BytesIO(bulletin_docx(bulletin_content(rnd, at=NOW))))
    fonts = document.styles["Normal"].element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == "宋体" and fonts.get(qn("w:ascii")) == "SimSun"
    heading = document.styles["Heading 1"].element.rPr.rFonts
    assert heading.get(qn("w:eastAsia")) == "黑体" and heading.get(qn("w:asciiTheme")) is None
    section = document.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)


def test_a_missing_photo_file_is_named_not_fatal(city):
    rnd = inspected(city)
    content = bulletin_content(rnd, at=NOW)
    gone = content.problems[0].photos[0]
    VisitPhoto._meta.get_field("image").storage.delete(gone.name)
    document = Document(io.BytesIO(bulletin_docx(content)))
    assert content.labels["photo_missing"] in [p.text for p in document.paragraphs]
    assert len(document.inline_shapes) == sum(len(p.photos) for p in content.problems) - 1


# ---- the request and the job --------------------------------------------------------------------------


def test_a_request_writes_the_docx_in_the_background(city, django_capture_on_commit_callbacks):
    rnd = inspected(city)
    before = bulletin_files()
    with django_capture_on_commit_callbacks(execute=True):
        bulletin = bulletin_request(round=rnd, by=city.users["campaign_office"], at=NOW)
    assert bulletin.title == f"关于{rnd.name}督查情况的通报"
    bulletin.refresh_from_db()
    assert bulletin.status == BulletinStatus.DONE and bulletin.error == ""
    assert bulletin.finished_at is not None and bulletin.requested_at == NOW
    assert bulletin.requested_by == city.users["campaign_office"]
    with bulletin.document.open("rb") as handle:
        document = Document(io.BytesIO(handle.read()))
    assert document.paragraphs[0].text == bulletin.title
    assert len(document.tables) == 3 and len(document.inline_shapes) >= 6
    assert bulletin_files() - before == {Path(bulletin.document.path)}
    # Done: the job does nothing a second time.
    assert bulletin_run(bulletin.pk) == "skipped"


def test_the_request_is_queued_on_commit(city, django_capture_on_commit_callbacks):
    rnd = inspected(city)
    with django_capture_on_commit_callbacks() as callbacks:
        bulletin = bulletin_request(round=rnd, by=city.users["admin"])
    assert len(callbacks) == 1
    assert Bulletin.objects.get(pk=bulletin.pk).status == BulletinStatus.QUEUED
    assert bulletin_run(bulletin.pk) == BulletinStatus.DONE


def test_a_second_request_waits_for_the_first(city, django_capture_on_commit_callbacks):
    rnd = inspected(city)
    office = city.users["campaign_office"]
    with django_capture_on_commit_callbacks():
        first = bulletin_request(round=rnd, by=office)
    with pytest.raises(ConflictError) as caught:
        bulletin_request(round=rnd, by=office)
    assert "already being written" in caught.value.message
    Bulletin.objects.filter(pk=first.pk).update(status=BulletinStatus.RUNNING)
    with pytest.raises(ConflictError):
        bulletin_request(round=rnd, by=office)
    assert Bulletin.objects.count() == 1
    bulletin_run(first.pk)  # running: claimed by another worker, left alone
    assert Bulletin.objects.get(pk=first.pk).status == BulletinStatus.RUNNING
    Bulletin.objects.filter(pk=first.pk).update(status=BulletinStatus.DONE)
    with django_capture_on_commit_callbacks(execute=True):
        second = bulletin_request(round=rnd, by=office)
    assert Bulletin.objects.get(pk=second.pk).status == BulletinStatus.DONE


def test_only_the_owners_request_a_bulletin(city):
    rnd = inspected(city)
    refusals = {
        "leader": PermissionRefused,  # reads the results, does not own the round
        "inspector": PermissionRefused,
        "community_staff": PermissionRefused,
        "dispatcher_b": NotFoundOrForbidden,  # district B: the round does not exist for him
        "resident": NotFoundOrForbidden,
        "outsider": NotFoundOrForbidden,
    }
    for persona, error in refusals.items():
        with pytest.raises(error):
            bulletin_request(round=rnd, by=city.users[persona])
    assert not Bulletin.objects.exists()


def test_an_unpublished_round_has_no_bulletin(city):
    rnd = inspected(city, publish=False)
    with pytest.raises(TransitionRefused) as caught:
        bulletin_request(round=rnd, by=city.users["campaign_office"])
    assert "publish" in caught.value.message
    assert not Bulletin.objects.exists()


def test_a_failing_job_keeps_its_error_and_no_file(
    city, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    rnd = inspected(city)
    before = bulletin_files()

    def broken(content):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bulletins, "bulletin_docx", broken)
    with django_capture_on_commit_callbacks(execute=True):
        bulletin = bulletin_request(round=rnd, by=city.users["campaign_office"])
    bulletin.refresh_from_db()
    assert bulletin.status == BulletinStatus.FAILED and bulletin.finished_at is not None
    assert bulletin.error.startswith("The bulletin could not be written.")
    assert not bulletin.document and bulletin_files() == before
    assert "disk on fire" in caplog.text  # the cause is logged for the administrator


def test_a_refusal_while_writing_is_the_error(
    city, django_capture_on_commit_callbacks, monkeypatch
):
    rnd = inspected(city)

    def refused(round, **kwargs):  # noqa: A002
        raise ValidationFailed("The grade bands are not valid.")

    monkeypatch.setattr(bulletins, "bulletin_content", refused)
    with django_capture_on_commit_callbacks(execute=True):
        bulletin = bulletin_request(round=rnd, by=city.users["campaign_office"])
    bulletin.refresh_from_db()
    assert (bulletin.status, bulletin.error) == (
        BulletinStatus.FAILED,
        "The grade bands are not valid.",
    )


def test_a_file_whose_bulletin_changed_meanwhile_is_removed(
    city, django_capture_on_commit_callbacks, monkeypatch
):
    rnd = inspected(city)
    before = bulletin_files()
    write = bulletins.bulletin_docx

    def cancelled_meanwhile(content):
        data = write(content)
        Bulletin.objects.filter(round=rnd).update(status=BulletinStatus.FAILED, error="cancelled")
        return data

    monkeypatch.setattr(bulletins, "bulletin_docx", cancelled_meanwhile)
    with django_capture_on_commit_callbacks(execute=True):
        bulletin = bulletin_request(round=rnd, by=city.users["campaign_office"])
    bulletin.refresh_from_db()
    # The other writer's word stands, and the file written meanwhile is gone.
    assert (bulletin.status, bulletin.error) == (BulletinStatus.FAILED, "cancelled")
    assert bulletin_files() == before


# ---- the pages -------------------------------------------------------------------------------------------


def page(client, city: TestCity, persona: str, rnd: Round):
    client.force_login(city.users[persona])
    return client.get(reverse("inspections:bulletin", kwargs={"round_id": rnd.pk}))


def test_the_printable_page_shows_the_bulletin_with_photos(client, city):
    rnd = inspected(city)
    response = page(client, city, "campaign_office", rnd)
    assert response.status_code == 200
    html = response.content.decode()
    content = response.context["content"]
    assert content.title in html and "@media print" in html and "size: A4" in html
    assert 'lang="zh-Hans"' in html
    for problem in content.problems:
        for photo in problem.photos:
            assert reverse("inspections:visit_photo", kwargs={"photo_id": photo.photo_id}) in html
    for row in content.deadlines:
        assert row.ticket_no in html
    assert "幸福社区" in html and "红榜" in html
    assert "Write DOCX" in html  # the page chrome speaks the reader's language
    assert reverse("inspections:bulletin_request", kwargs={"round_id": rnd.pk}) in html


def test_readers_of_the_results_see_the_page_and_others_a_404(client, city):
    rnd = inspected(city)
    for persona in ("leader", "inspector", "community_staff", "dispatcher", "admin"):
        response = page(client, city, persona, rnd)
        assert response.status_code == 200, persona
        html = response.content.decode()
        assert response.context["content"].title in html
        assert ("Write DOCX" in html) is (persona == "admin"), persona
    for persona in ("dispatcher_b", "leader_b", "resident", "outsider", "park_staff"):
        assert page(client, city, persona, rnd).status_code == 404, persona
        response = client.post(reverse("inspections:bulletin_request", kwargs={"round_id": rnd.pk}))
        assert response.status_code == 404, persona
    assert not Bulletin.objects.exists()


def test_anonymous_users_are_sent_to_log_in(client, city):
    rnd = inspected(city)
    response = client.get(reverse("inspections:bulletin", kwargs={"round_id": rnd.pk}))
    assert response.status_code == 302 and reverse("web:login") in response["Location"]


def test_an_unpublished_round_is_an_error_for_owners_and_missing_for_readers(client, city):
    rnd = inspected(city, publish=False)
    response = page(client, city, "campaign_office", rnd)
    assert response.status_code == 409
    html = response.content.decode()
    assert "is not published yet" in html and "Write DOCX" not in html
    assert response.context["content"] is None
    for persona in ("inspector", "leader"):
        assert page(client, city, persona, rnd).status_code == 404
    client.force_login(city.users["campaign_office"])
    response = client.post(reverse("inspections:bulletin_request", kwargs={"round_id": rnd.pk}))
    assert response.status_code == 400 and "publish the results" in response.content.decode()
    assert not Bulletin.objects.exists()


def test_writing_from_the_page(client, city, django_capture_on_commit_callbacks):
    rnd = inspected(city)
    client.force_login(city.users["campaign_office"])
    url = reverse("inspections:bulletin_request", kwargs={"round_id": rnd.pk})
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse(
        "inspections:bulletin", kwargs={"round_id": rnd.pk}
    )
    bulletin = Bulletin.objects.get()
    assert bulletin.status == BulletinStatus.DONE
    html = client.get(response["Location"]).content.decode()
    download = reverse("inspections:bulletin_download", kwargs={"bulletin_id": bulletin.pk})
    assert download in html and "being written" in html  # the success message
    response = client.get(download)
    assert response.status_code == 200 and response["Content-Type"] == bulletins.DOCX
    assert "attachment" in response["Content-Disposition"]
    assert (
        Document(io.BytesIO(b"".join(response.streaming_content))).paragraphs[0].text
        == bulletin.title
    )


def test_a_repeated_request_from_the_page_is_refused(
    client, city, django_capture_on_commit_callbacks
):
    rnd = inspected(city)
    client.force_login(city.users["campaign_office"])
    url = reverse("inspections:bulletin_request", kwargs={"round_id": rnd.pk})
    with django_capture_on_commit_callbacks():
        client.post(url)
        response = client.post(url)
    assert response.status_code == 409
    html = response.content.decode()
    assert "already being written" in html
    assert Bulletin.objects.count() == 1
    bulletin = Bulletin.objects.get()
    # The row polls while the job is queued, and stops once it is done.
    assert reverse("inspections:bulletin_status", kwargs={"bulletin_id": bulletin.pk}) in html
    row = client.get(reverse("inspections:bulletin_status", kwargs={"bulletin_id": bulletin.pk}))
    assert row.status_code == 200 and 'hx-trigger="every 2s"' in row.content.decode()
    assert row["Cache-Control"] == "no-store"
    bulletin_run(bulletin.pk)
    row = client.get(
        reverse("inspections:bulletin_status", kwargs={"bulletin_id": bulletin.pk})
    ).content.decode()
    assert (
        "hx-trigger" not in row
        and reverse("inspections:bulletin_download", kwargs={"bulletin_id": bulletin.pk}) in row
    )


def test_readers_cannot_write_from_the_page(client, city):
    rnd = inspected(city)
    client.force_login(city.users["leader"])
    response = client.post(reverse("inspections:bulletin_request", kwargs={"round_id": rnd.pk}))
    assert response.status_code == 403
    assert "Only the campaign office" in response.content.decode()
    assert not Bulletin.objects.exists()


def test_a_failed_job_shows_its_error_and_has_no_download(
    client, city, django_capture_on_commit_callbacks, monkeypatch
):
    rnd = inspected(city)

    def broken(content):
        raise RuntimeError("boom")

    monkeypatch.setattr(bulletins, "bulletin_docx", broken)
    with django_capture_on_commit_callbacks(execute=True):
        bulletin = bulletin_request(round=rnd, by=city.users["campaign_office"])
    html = page(client, city, "leader", rnd).content.decode()
    assert "The bulletin could not be written." in html and "Failed" in html
    response = client.get(
        reverse("inspections:bulletin_download", kwargs={"bulletin_id": bulletin.pk})
    )
    assert response.status_code == 404


def test_downloads_follow_the_rounds_results(client, city, django_capture_on_commit_callbacks):
    rnd = inspected(city)
    with django_capture_on_commit_callbacks(execute=True):
        bulletin = bulletin_request(round=rnd, by=city.users["campaign_office"])
    url = reverse("inspections:bulletin_download", kwargs={"bulletin_id": bulletin.pk})
    for persona, status in (
        ("leader", 200),
        ("community_staff", 200),
        ("outsider", 404),
        ("dispatcher_b", 404),
    ):
        client.force_login(city.users[persona])
        assert client.get(url).status_code == status, persona
        assert (
            client.get(
                reverse("inspections:bulletin_status", kwargs={"bulletin_id": bulletin.pk})
            ).status_code
            == status
        )
    client.force_login(city.users["leader"])
    assert (
        client.get(
            reverse("inspections:bulletin_download", kwargs={"bulletin_id": bulletin.pk + 1000})
        ).status_code
        == 404
    )
    bulletin.refresh_from_db()
    bulletin.document.storage.delete(bulletin.document.name)
    assert client.get(url).status_code == 404


def test_a_lookback_bulletin_names_what_recurred(city):
    from civicloop.inspections.rounds import round_publish

    from .test_lookback import office, run_lookback
    from .test_rectification import finding_at, inspected_round

    rnd = inspected_round(city)
    found = {
        item: finding_at(rnd, site, item, city)
        for site, item in (
            ("c1_street", GARBAGE),
            ("c1_street", SORTING),
            ("c2_street", PARKING),
            ("c2_street", STRUCTURE),
        )
    }
    lookback = run_lookback(
        city,
        rnd,
        {
            "c1_street": {found[GARBAGE].pk: True, found[SORTING].pk: False},
            "c2_street": {found[PARKING].pk: False, found[STRUCTURE].pk: False},
        },
    )
    lookback = round_publish(round=lookback, by=office(city), at=T0 + dt.timedelta(days=25))
    content = bulletin_content(lookback, at=T0 + dt.timedelta(days=25, hours=1))
    assert f"复查“{rnd.name}”发现的问题4个，其中1个反弹复发" in content.opening
    assert "暂无点位得分" not in content.opening  # a look-back scores nothing
    again = Finding.objects.select_related("case").get(visit__location__round=lookback)
    [problem] = content.problems
    assert problem.finding_id == again.pk and problem.recurred
    assert ("回头看", "整改后反弹复发（回头看）") in problem.facts
    assert [r.ticket_no for r in content.deadlines] == [again.case.ticket_no]


def test_the_content_reads_a_bounded_number_of_queries(city, django_assert_max_num_queries):
    rnd = inspected(city)
    with django_assert_max_num_queries(13):
        bulletin_content(rnd, at=NOW)


def test_a_bulletin_whose_worker_died_is_marked_failed_by_the_housekeeping(city):
    from civicloop.inspections.bulletins import STALE_AFTER, bulletins_recover
    from civicloop.inspections.models import Bulletin, BulletinStatus

    rnd = make_round(city, status="published")
    asked = T0 + dt.timedelta(days=9)
    stuck = Bulletin.objects.create(round=rnd, title="通报", status=BulletinStatus.RUNNING, requested_at=asked)
    fresh = Bulletin.objects.create(round=rnd, title="通报", status=BulletinStatus.RUNNING, requested_at=asked + STALE_AFTER)
    assert bulletins_recover(now=asked + STALE_AFTER + dt.timedelta(minutes=1)) == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == BulletinStatus.FAILED and stuck.error
    assert fresh.status == BulletinStatus.RUNNING
