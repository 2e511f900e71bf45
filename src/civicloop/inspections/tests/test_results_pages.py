"""The rankings, round results and unit evaluation pages: who sees what, and bad input."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from civicloop.inspections.models import Finding, Round, RoundKind, RoundStatus, Visit

from .round_helpers import advance, make_round
from .test_evaluation import PERIOD, loop_cases  # noqa: F401 (a fixture)
from .test_rankings import _published_lookback, district_b_round, lane_site, score_district_a

pytestmark = pytest.mark.django_db

RANKINGS = reverse("inspections:rankings")
UNITS = reverse("inspections:unit_evaluation")


def client_for(city, key: str) -> Client:
    client = Client()
    client.force_login(city.users[key])
    return client


def results_url(rnd: Round) -> str:
    return reverse("inspections:round_results", kwargs={"round_id": rnd.pk})


def scored(city, status: str, **kw) -> Round:
    lane_site(city)
    rnd = make_round(city, status=RoundStatus.ACTIVE, type_weights={"old_community": "3"}, **kw)
    score_district_a(city, rnd)
    return advance(city, rnd, status)


@pytest.fixture
def published(city) -> Round:
    return scored(city, RoundStatus.PUBLISHED)


def table(html: str, css: str) -> str:
    return html.split(f'class="list stack {css}"')[1].split("</table>")[0]


def ranking_rows(html: str) -> list[tuple[str, str, str, str]]:
    """(rank, name, score, grade) of each row of the ranking table."""
    body = table(html, "ir-ranking").split("<tbody>")[1]
    return [
        (m.group(1), m.group(2), m.group(3), m.group(4))
        for m in re.finditer(
            r'<td class="num">(\d+)</td><th scope="row">([^<]+)</th><td class="num ir-score">([\d.]+)</td>\s*<td><span class="ir-grade">([^<]*)</span>',
            body,
        )
    ]


# ---- who may open the pages ------------------------------------------------------------------------


def test_pages_need_a_login(city):
    for url in (
        RANKINGS,
        UNITS,
        reverse("inspections:rankings_xlsx"),
        reverse("inspections:round_results", kwargs={"round_id": 1}),
    ):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


def test_residents_and_people_without_a_role_are_refused(city):
    for key in ("resident", "outsider"):
        for url in (RANKINGS, UNITS):
            assert client_for(city, key).get(url).status_code == 403


def test_unit_evaluation_is_for_leaders_the_campaign_office_dispatchers_and_admins(city):
    for key in ("leader", "campaign_office", "dispatcher", "admin"):
        assert client_for(city, key).get(UNITS).status_code == 200, key
    for key in ("unit_staff", "grid_worker", "inspector", "community_staff"):
        assert client_for(city, key).get(UNITS).status_code == 403, key


# ---- rankings --------------------------------------------------------------------------------------


def test_rankings_of_the_latest_published_round(city, published):
    response = client_for(city, "leader").get(RANKINGS)
    assert response.status_code == 200
    html = response.content.decode()
    # Hand-computed in test_rankings: 幸福社区 80.19 (B), 和平社区 63.94 (C).
    assert ranking_rows(html) == [("1", "幸福社区", "80.19", "B"), ("2", "和平社区", "63.94", "C")]
    red = html.split('id="red-h"')[1].split("</section>")[0]
    black = html.split('id="black-h"')[1].split("</section>")[0]
    assert "幸福社区" in red and "和平社区" not in red and "和平社区" in black
    chart = json.loads(
        re.search(
            r'<script id="ranking-chart" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert chart["labels"] == ["幸福社区", "和平社区"] and chart["scores"] == ["80.19", "63.94"]
    assert "vendor/echarts/echarts.min.js" in html and "inspections/results.js" in html
    legend = html.split('class="ir-bands"')[1].split("</ul>")[0]
    assert "<strong>A</strong>: 90 and above" in legend and "<strong>D</strong>: below 60" in legend
    assert "Old community (老旧小区) × 3" in html
    assert results_url(published) in html


def test_unit_level_shows_findings_recurrences_and_the_penalty(city, published):
    finding = Finding.objects.filter(visit__location__round=published, unit=city.units["wy"]).get()
    _published_lookback(city, published, [finding])
    html = (
        client_for(city, "leader")
        .get(RANKINGS, {"round": published.pk, "level": "unit"})
        .content.decode()
    )
    rows = ranking_rows(html)
    # wy: 90.00 − 2 for its recurrence = 88.00 (B), still first.
    assert rows[0] == ("1", city.units["wy"].name, "88.00", "B")
    assert [r[1] for r in rows] == [city.units[k].name for k in ("wy", "jdA", "jwc1", "hwc")]
    assert "Score before recurrences" in html and "2 points off the unit" in html


def test_rankings_for_a_month_and_a_quarter(city, published):
    client = client_for(city, "leader")
    for query in (
        {"scope": "month", "month": "2026-11"},
        {"scope": "quarter", "quarter": "2026-Q4"},
        {"month": "2026-11", "level": "street"},
    ):
        response = client.get(RANKINGS, query)
        assert response.status_code == 200, query
        html = response.content.decode()
        assert published.name in html and "1 published round" in html
    assert ranking_rows(html) == [("1", "东关街道", "74.59", "C")]
    html = client.get(RANKINGS, {"scope": "month", "month": "2026-10"}).content.decode()
    assert "No published round of yours ends in this period." in html


def test_a_month_ranks_the_same_for_every_reader(city, published):
    district_b_round(city)
    query = {"scope": "month", "month": "2026-11"}
    html = client_for(city, "leader").get(RANKINGS, query).content.decode()
    assert ranking_rows(html) == [
        ("1", "幸福社区", "80.19", "B"),
        ("2", "团结社区", "75.00", "B"),
        ("3", "和平社区", "63.94", "C"),
    ]
    assert "2 published rounds" in html
    # District B's leader: the same score and rank for 团结社区, nothing of district A's
    # communities or round, not even in the red and black lists or the chart.
    html = client_for(city, "leader_b").get(RANKINGS, query).content.decode()
    assert ranking_rows(html) == [("2", "团结社区", "75.00", "B")]
    assert "幸福社区" not in html and "和平社区" not in html and published.name not in html
    assert "1 published round" in html and "新华区十一月" in html
    chart = json.loads(
        re.search(
            r'<script id="ranking-chart" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert chart["labels"] == ["团结社区"] and chart["scores"] == ["75.00"]
    html = client_for(city, "leader_b").get(RANKINGS, {**query, "level": "unit"}).content.decode()
    assert [r[1:3] for r in ranking_rows(html)] == [
        (city.units["jwc3"].name, "65.00"),
        (city.units["hwc"].name, "47.50"),
    ]
    assert city.units["wy"].name not in html


def test_xlsx_download_of_the_table(city, published):
    from openpyxl import load_workbook

    response = client_for(city, "leader").get(
        reverse("inspections:rankings_xlsx"), {"round": published.pk, "level": "unit"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "rankings-unit-20261117-20261130.xlsx" in response["Content-Disposition"]
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(ws.iter_rows(values_only=True))
    assert values[1][:4] == ("Rank", "Name", "Score", "Grade")
    assert [(r[0], r[1], r[2], r[3]) for r in values[2:]] == [
        (1, city.units["wy"].name, 90, "A"),
        (2, city.units["jdA"].name, 83.38, "B"),
        (3, city.units["jwc1"].name, 72.88, "C"),
        (4, city.units["hwc"].name, 0, "D"),
    ]
    bad = client_for(city, "leader").get(reverse("inspections:rankings_xlsx"), {"level": "grid"})
    assert bad.status_code == 400 and "Choose communities" in bad.content.decode()


@pytest.mark.parametrize(
    "query, message",
    [
        ({"level": "grid"}, "Choose communities, street offices, districts or units."),
        ({"scope": "week"}, "Choose one round, a month or a quarter."),
        ({"scope": "month", "month": "2026-13"}, "Choose a month from 1 to 12."),
        ({"scope": "month", "month": "November"}, "Enter a month as year-month"),
        ({"scope": "month", "month": "1999-05"}, "Choose a year between 2000 and 2100."),
        ({"scope": "quarter", "quarter": "2026-Q5"}, "Choose a quarter from 1 to 4."),
        ({"scope": "quarter", "quarter": "Q4"}, "Enter a quarter as year-Q1 to year-Q4"),
        ({"round": "abc"}, "Choose a published round from the list."),
    ],
)
def test_bad_ranking_input_is_explained(city, published, query, message):
    response = client_for(city, "leader").get(RANKINGS, query)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'class="list stack ir-ranking"' not in html


def test_an_unknown_or_hidden_round_is_not_found(city, published):
    assert (
        client_for(city, "leader").get(RANKINGS, {"round": published.pk + 1000}).status_code == 404
    )
    # District B's staff and a unit the round never sampled do not see district A's round.
    for key in ("leader_b", "dispatcher_b", "community3_staff"):
        assert client_for(city, key).get(RANKINGS, {"round": published.pk}).status_code == 404, key
        html = client_for(city, key).get(RANKINGS).content.decode()
        assert (
            "No inspection round has been published that you may see yet." in html
            and published.name not in html
        )
    # A unit whose site was sampled sees the published round.
    assert client_for(city, "unit_staff").get(RANKINGS, {"round": published.pk}).status_code == 200


UNDERCOVER_HIDDEN_FROM = (
    "leader",
    "leader_b",
    "dispatcher",
    "grid_worker",
    "unit_staff",
    "community_staff",
    "cgj_staff",
    "outsider",
)


def test_an_undercover_round_is_hidden_until_published(city):
    rnd = scored(city, RoundStatus.CLOSED)
    assert rnd.kind == RoundKind.UNDERCOVER
    for key in UNDERCOVER_HIDDEN_FROM:
        client = client_for(city, key)
        assert client.get(results_url(rnd)).status_code == 404, key
        response = client.get(RANKINGS, {"round": rnd.pk})
        assert response.status_code in (403, 404), key  # 403: a role without rankings at all
        assert (
            rnd.name
            not in client.get(RANKINGS, {"scope": "month", "month": "2026-11"}).content.decode()
        )
    # The owners and the round's inspector see the results, the ranking waits for publication.
    for key in ("campaign_office", "inspector", "admin"):
        client = client_for(city, key)
        response = client.get(results_url(rnd))
        assert response.status_code == 200, key
        assert "东关后街" in response.content.decode()
        response = client.get(RANKINGS, {"round": rnd.pk})
        assert response.status_code == 400 and "not published yet" in response.content.decode()
    advance(city, rnd, RoundStatus.PUBLISHED)
    for key in ("leader", "dispatcher", "grid_worker", "unit_staff", "community_staff"):
        assert client_for(city, key).get(results_url(rnd)).status_code == 200, key
        assert client_for(city, key).get(RANKINGS, {"round": rnd.pk}).status_code == 200, key
    assert client_for(city, "leader_b").get(results_url(rnd)).status_code == 404


def test_an_open_round_is_known_but_its_results_wait_for_publication(city):
    rnd = scored(city, RoundStatus.CLOSED, kind=RoundKind.OPEN)
    response = client_for(city, "dispatcher").get(results_url(rnd))
    assert response.status_code == 403
    assert client_for(city, "campaign_office").get(results_url(rnd)).status_code == 200


def test_round_results_per_location(city, published, django_assert_max_num_queries):
    client = client_for(city, "leader")
    client.get(results_url(published))
    with django_assert_max_num_queries(14):
        response = client.get(results_url(published))
    html = response.content.decode()
    body = table(html, "ir-locations")
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<th scope="row">([^<]+)</th>.*?</tr>', body, re.S)
    }
    assert len(rows) == 6
    vetoed = rows["和平巷"]
    assert (
        "Vetoed (一票否决)" in vetoed
        and "Away from the site" in vetoed
        and '<td class="num">1</td>' in vetoed
    )
    assert "和平社区" in vetoed and "inspector" in vetoed
    lane = rows["东关后街"]
    assert "77.77" in lane and "no community (东关街道)" in lane and "<td>B</td>" in lane
    assert '<td class="num">2</td>' in rows["幸福里小区"]
    assert "<dt>Findings</dt><dd>3</dd>" in html and "<dt>Vetoed</dt><dd>1</dd>" in html
    assert reverse("inspections:rankings") + f"?scope=round&amp;round={published.pk}" in html


def test_round_results_say_when_a_visit_had_no_gps(city, published):
    # The test visits are written without a position; give all but 幸福里小区 one.
    Visit.objects.filter(location__round=published).exclude(
        location__site__name="幸福里小区"
    ).update(distance_m=12.5)
    html = client_for(city, "leader").get(results_url(published)).content.decode()
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(
            r'<th scope="row">([^<]+)</th>.*?</tr>', table(html, "ir-locations"), re.S
        )
    }
    away_column = {name: re.findall(r"<td>(.*?)</td>", row)[-1] for name, row in rows.items()}
    assert away_column["幸福里小区"] == '<span class="muted">no GPS</span>'
    assert away_column["光明小区"] == "No"
    assert "Away from the site" in away_column["和平巷"]  # off site wins


def test_round_results_of_a_missing_round(city):
    assert (
        client_for(city, "admin")
        .get(reverse("inspections:round_results", kwargs={"round_id": 999}))
        .status_code
        == 404
    )


# ---- unit evaluation -------------------------------------------------------------------------------


def test_unit_evaluation_page_shows_the_hand_computed_figures(city, loop_cases):  # noqa: F811
    response = client_for(city, "leader").get(UNITS, {"start": "2026-11-16", "end": "2026-11-30"})
    assert response.status_code == 200
    html = response.content.decode()
    body = table(html, "ir-units")
    hwc = body.split("市环境卫生管理处")[1].split("</tr>")[0]
    jwc1 = body.split("幸福社区居委会")[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">([^<]+)</td>', hwc)[:5] == [
        "100.00 %",
        "100.00 %",
        "25.00 %",
        "100.00 %",
        "75.00 %",
    ]
    assert "90.00" in hwc and "<td>A</td>" in hwc
    assert "55.00" in jwc1 and "<td>D</td>" in jwc1
    assert body.index("市环境卫生管理处") < body.index("幸福社区居委会")
    weights = html.split('class="list ir-weights"')[1].split("</table>")[0]
    assert "On-time closure rate (按期结案率)" in weights and '<td class="num">30</td>' in weights
    # District B's leader sees none of district A's units.
    html = (
        client_for(city, "leader_b")
        .get(UNITS, {"start": "2026-11-16", "end": "2026-11-30"})
        .content.decode()
    )
    assert "No unit had cases due for closure in this period." in html


def test_unit_evaluation_by_month_and_recurrences(city, loop_cases, published):  # noqa: F811
    finding = Finding.objects.filter(
        visit__location__round=published, unit=city.units["hwc"]
    ).first()
    _published_lookback(city, published, [finding])  # its period ends on 2026-12-20
    client = client_for(city, "leader")
    html = client.get(UNITS, {"month": "2026-12"}).content.decode()
    assert "Handling units, 2026-12-01 to 2026-12-31" in html
    november = client.get(UNITS, {"month": "2026-11"}).content.decode()
    row = table(november, "ir-units").split("市环境卫生管理处")[1].split("</tr>")[0]
    assert row.rstrip().endswith('<td class="num">0</td>')  # the look-back ends in December
    html = client.get(UNITS, {"start": "2026-11-16", "end": "2026-12-31"}).content.decode()
    row = table(html, "ir-units").split("市环境卫生管理处")[1].split("</tr>")[0]
    assert row.rstrip().endswith('<td class="num">1</td>')


@pytest.mark.parametrize(
    "query, message",
    [
        ({"month": "2026-13"}, "Choose a month from 1 to 12."),
        ({"month": "soon"}, "Enter a month as year-month"),
        ({"start": "2026-11-30", "end": "2026-11-01"}, "The period cannot end before it starts."),
        ({"start": "2026-11-01"}, "Give both the first and the last day of the period."),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "Enter a valid date."),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "A period is at most three years long."),
        ({"start": "9999-01-01", "end": "9999-12-31"}, "Choose a year between 2000 and 2100."),
        ({"start": "0001-01-01", "end": "2026-11-30"}, "Choose a year between 2000 and 2100."),
        ({"start": "2026-11-01", "end": "2101-01-01"}, "Choose a year between 2000 and 2100."),
    ],
)
def test_bad_unit_evaluation_input_is_explained(city, query, message):
    response = client_for(city, "leader").get(UNITS, query)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'class="list stack ir-units"' not in html


def test_default_period_is_this_month(city):
    from django.utils import timezone

    html = client_for(city, "leader").get(UNITS).content.decode()
    today = timezone.localdate()
    following = dt.date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    last = following - dt.timedelta(days=1)
    assert f"Handling units, {today:%Y-%m}-01 to {last:%Y-%m-%d}" in html
