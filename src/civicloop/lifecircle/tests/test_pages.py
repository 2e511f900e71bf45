"""The life-circle pages: who sees what (scoped to his areas), the what-if and best-site
endpoints with bad input, the facility register and the network import."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from civicloop.lifecircle import selectors, views
from civicloop.lifecircle.models import (
    Analysis,
    Facility,
    FacilitySource,
    JobStatus,
    Network,
    Reach,
)
from civicloop.lifecircle.views import legend_bands, level_colours, parse_candidates, share_cell
from civicloop.org.models import Role, RoleAssignment, User
from civicloop.testing import LAT0, LON0

from .conftest import LcCity

pytestmark = pytest.mark.django_db

MAP = reverse("lifecircle:map")
COVERAGE = reverse("lifecircle:coverage")
GAPS = reverse("lifecircle:gaps")
FACILITIES = reverse("lifecircle:facilities")
NETWORK = reverse("lifecircle:network")
WHATIF = reverse("lifecircle:whatif")
BEST = reverse("lifecircle:best_sites")
EXPORT = reverse("lifecircle:export")
READ_PAGES = (MAP, COVERAGE, GAPS, EXPORT)
# Between the compounds 幸福家园 (c1) and 和平里 (c2), on the lattice.
CANDIDATE = {"lon": f"{LON0 + 0.0033:.6f}", "lat": f"{LAT0 + 0.0033:.6f}"}


@pytest.fixture(autouse=True)
def _fresh_analysis_cache():
    """``selectors.loaded()`` keeps the current analysis's arrays by id, and a test
    database hands out the same ids again after each rollback."""
    selectors._loaded = None
    yield
    selectors._loaded = None


def layer_url(layer: str, kind: str = "") -> str:
    url = reverse("lifecircle:layer", kwargs={"layer": layer})
    return f"{url}?kind={kind}" if kind else url


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def as_(lc: LcCity, key: str) -> Client:
    return client_for(lc.city.users[key])


def district_b_office(lc: LcCity) -> User:
    """A campaign office of district B only (the test city's is city-wide)."""
    user = User.objects.create_user(username="office_b", password="pw", display_name="office_b")
    RoleAssignment.objects.create(user=user, role=Role.CAMPAIGN_OFFICE, area=lc.city.areas["dB"])
    return user


def text(response) -> str:  # noqa: ANN001
    return response.content.decode()


def counts() -> tuple[int, int, int, int]:
    return (
        Facility.objects.count(),
        Analysis.objects.count(),
        Reach.objects.count(),
        Network.objects.count(),
    )


# ---- who may open the pages ----------------------------------------------------------------


def test_pages_need_a_login(lc_city):
    for url in (*READ_PAGES, FACILITIES, NETWORK, layer_url("compounds", "clinic")):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("key", ["resident", "outsider", "dispatcher", "grid_worker", "unit_staff"])
def test_people_outside_the_campaign_office_and_leaders_get_404(lc_city, key):
    client = as_(lc_city, key)
    before = counts()
    for url in (
        *READ_PAGES,
        FACILITIES,
        NETWORK,
        layer_url("compounds", "clinic"),
        layer_url("facilities"),
    ):
        assert client.get(url).status_code == 404, url
    for url, data in (
        (WHATIF, {"kind": "clinic", **CANDIDATE}),
        (BEST, {"kind": "clinic", "k": "2"}),
        (FACILITIES, {"kind": "clinic", "name": "x", "lon": LON0, "lat": LAT0}),
        (reverse("lifecircle:recompute"), {}),
    ):
        assert client.post(url, data).status_code == 404, url
    assert counts() == before


@pytest.mark.parametrize("key", ["campaign_office", "leader", "leader_b", "admin"])
def test_readers_see_the_pages(lc_city, key):
    client = as_(lc_city, key)
    for url in READ_PAGES:
        assert client.get(url).status_code == 200, url
    for layer in ("compounds", "buildings", "segments", "facilities"):
        response = client.get(layer_url(layer, "supermarket"))
        assert response.status_code == 200
        assert response.json()["type"] == "FeatureCollection"


def test_leaders_neither_register_facilities_nor_import(lc_city):
    client = as_(lc_city, "leader")
    assert client.get(FACILITIES).status_code == 404
    assert client.get(NETWORK).status_code == 404
    facility = lc_city.facilities["clinic"]
    assert client.get(reverse("lifecircle:facility_edit", args=[facility.pk])).status_code == 404
    response = client.post(
        reverse("lifecircle:facility_active", args=[facility.pk]), {"active": "0"}
    )
    assert response.status_code == 404
    assert Facility.objects.get(pk=facility.pk).active
    html = text(client.get(MAP))
    assert FACILITIES not in html and NETWORK not in html


def test_navigation_offers_the_life_circle(lc_city):
    html = text(as_(lc_city, "campaign_office").get(COVERAGE))
    assert f'href="{MAP}"' in html and f'href="{NETWORK}"' in html
    assert f'href="{MAP}"' in text(as_(lc_city, "leader").get(COVERAGE))


# ---- the map ---------------------------------------------------------------------------------


def test_map_page_offers_the_kinds_and_the_tools(lc_city):
    html = text(as_(lc_city, "campaign_office").get(MAP + "?kind=clinic"))
    assert '<option value="clinic" selected>' in html
    assert 'id="lc-place"' in html and 'id="lc-best-form"' in html
    setup = json.loads(
        re.search(
            r'<script id="lc-setup" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert setup["kind"] == "clinic"
    assert setup["whatif_url"] == WHATIF and setup["best_url"] == BEST
    assert len(setup["bands"]) == 5
    assert setup["text"]["not_computed"] == "Not computed yet"
    assert 'data-lc-map role="region" aria-label="Map of the life circle"' in html
    assert "Compound not computed yet" in html
    assert "csrfmiddlewaretoken" in html


def test_the_legend_has_a_band_for_every_level(lc_city):
    """``selectors.segments_layer`` makes one band per level, then farther, then unreached."""
    assert level_colours(3) == ["#1a7f37", "#7cb342", "#f9a825"]
    assert level_colours(1) == ["#1a7f37"]
    five = level_colours(5)
    assert len(set(five)) == 5 and five[0] == "#1a7f37" and five[-1] == "#f9a825"
    bands = legend_bands([15, 5, 10, 20])
    assert [b["label"] for b in bands] == [
        "≤ 5 min",
        "≤ 10 min",
        "≤ 15 min",
        "≤ 20 min",
        "Farther",
        "Not reached",
    ]
    assert bands[-2]["colour"] == views.FARTHER_COLOUR
    assert bands[-1]["colour"] == views.UNREACHED_COLOUR
    Analysis.objects.filter(pk=lc_city.analysis.pk).update(levels=[5, 10, 15, 20])
    html = text(as_(lc_city, "leader").get(MAP))
    setup = json.loads(
        re.search(
            r'<script id="lc-setup" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert [b["label"] for b in setup["bands"]][:4] == [
        "≤ 5 min",
        "≤ 10 min",
        "≤ 15 min",
        "≤ 20 min",
    ]
    assert len(setup["bands"]) == 6
    assert "≤ 20 min" in html.split('class="lc-legend"')[1].split("</ul>")[0]


def test_map_page_without_a_network_links_to_the_import(city):
    html = text(client_for(city.users["campaign_office"]).get(MAP))
    assert "There is no walking network yet" in html and NETWORK in html
    html = text(client_for(city.users["leader"]).get(MAP))
    assert "There is no walking network yet" in html and NETWORK not in html


def test_map_page_says_when_results_are_stale_or_failed(lc_city):
    finished = lc_city.analysis.finished_at
    Analysis.objects.create(
        network=lc_city.network,
        status=JobStatus.QUEUED,
        speed_m_per_min=80,
        levels=[5, 10, 15],
        cutoff_m=1500,
        max_snap_m=100,
        requested_at=finished,
    )
    html = text(as_(lc_city, "leader").get(MAP))
    assert "being recomputed" in html and "The results shown are from" in html
    Analysis.objects.filter(status=JobStatus.QUEUED).update(
        status=JobStatus.FAILED, error="disk full"
    )
    html = text(as_(lc_city, "leader").get(MAP))
    assert "The last computation failed" in html and "disk full" in html


def test_layers_answer_json_and_refuse_a_bad_kind(lc_city):
    client = as_(lc_city, "campaign_office")
    for kind in ("", "nonsense", "999999"):
        response = client.get(layer_url("compounds", kind))
        assert response.status_code == 400
        assert response.json()["error"] == "Choose a kind of facility from the list."
    assert client.get(layer_url("roads", "clinic")).status_code == 404
    compounds = client.get(layer_url("compounds", "clinic")).json()["features"]
    by_name = {f["properties"]["name"]: f["properties"] for f in compounds}
    assert set(by_name) == {"阳光小区", "幸福家园", "和平里", "团结新村"}
    assert by_name["团结新村"]["state"] == "unreachable"
    assert by_name["团结新村"]["distance_m"] is None
    segments = client.get(layer_url("segments", "clinic")).json()["features"]
    assert segments and all(f["geometry"]["type"] == "MultiLineString" for f in segments)
    facilities = client.get(layer_url("facilities", "clinic")).json()["features"]
    assert [f["properties"]["name"] for f in facilities] == ["幸福社区卫生服务站"]
    assert facilities[0]["properties"]["source"] == FacilitySource.CIVICLOOP
    assert len(client.get(layer_url("facilities")).json()["features"]) == 2


def test_a_district_leader_sees_only_his_district_on_the_map(lc_city):
    client = as_(lc_city, "leader_b")
    compounds = client.get(layer_url("compounds", "clinic")).json()["features"]
    assert [f["properties"]["name"] for f in compounds] == ["团结新村"]
    assert client.get(layer_url("buildings", "clinic")).json()["features"] == []
    # Facilities are public places: every reader sees all of them.
    assert len(client.get(layer_url("facilities")).json()["features"]) == 2


# ---- what-if ---------------------------------------------------------------------------------


def test_whatif_answers_what_the_selector_computes(lc_city):
    user = lc_city.city.users["campaign_office"]
    response = client_for(user).post(WHATIF, {"kind": "kindergarten", **CANDIDATE})
    assert response.status_code == 200
    data = response.json()
    expected = selectors.whatif(user, kind=lc_city.kind("kindergarten"), **CANDIDATE)
    assert data["households_gained"] == expected.households_gained == 350
    assert data["covered_before"] == expected.covered_before
    assert data["covered_after"] == expected.covered_after
    assert data["share_before"] == expected.share_before
    assert data["share_after"] == expected.share_after
    assert data["snap_m"] == expected.snap_m
    assert [(p["name"], p["households"], p["distance_m"]) for p in data["places"]] == [
        tuple(p) for p in expected.places
    ]
    assert [(a["name"], a["before"], a["after"]) for a in data["areas"]] == [
        (a.name, a.before, a.after) for a in expected.areas
    ]
    assert "350 households newly within 5 minutes" in data["html"]
    assert "幸福家园" in data["html"] and "和平社区" in data["html"]


def test_whatif_is_scoped_to_the_readers_areas(lc_city):
    data = as_(lc_city, "leader_b").post(WHATIF, {"kind": "kindergarten", **CANDIDATE}).json()
    assert data["households_gained"] == 0 and data["total_households"] == 120
    assert "幸福家园" not in data["html"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"kind": "kindergarten", "lat": CANDIDATE["lat"]},
            "Give the position as longitude and latitude.",
        ),
        (
            {"kind": "kindergarten", "lon": "abc", "lat": CANDIDATE["lat"]},
            "Give the position as longitude and latitude.",
        ),
        (
            {"kind": "kindergarten", "lon": "500", "lat": CANDIDATE["lat"]},
            "The position is not a valid longitude and latitude.",
        ),
        (
            {"kind": "kindergarten", "lon": "nan", "lat": CANDIDATE["lat"]},
            "The position is not a valid longitude and latitude.",
        ),
        ({"kind": "bakery", **CANDIDATE}, "Choose a kind of facility from the list."),
        ({**CANDIDATE}, "Choose a kind of facility from the list."),
        (
            {"kind": "kindergarten", "lon": f"{LON0 + 0.06:.6f}", "lat": CANDIDATE["lat"]},
            "This point is more than 100 m from every walkable way.",
        ),
    ],
)
def test_whatif_refuses_bad_input_and_writes_nothing(lc_city, fields, message):
    client = as_(lc_city, "campaign_office")
    before = counts()
    response = client.post(WHATIF, fields)
    assert response.status_code == 400
    assert response.json()["error"] == message
    assert counts() == before


def test_whatif_needs_post_and_csrf(lc_city):
    client = as_(lc_city, "campaign_office")
    assert client.get(WHATIF).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(lc_city.city.users["campaign_office"])
    assert strict.post(WHATIF, {"kind": "kindergarten", **CANDIDATE}).status_code == 403


def test_whatif_and_best_sites_are_rate_limited(lc_city, settings):
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "LIFECIRCLE": {
            **settings.CIVICLOOP["LIFECIRCLE"],
            "WHATIF_PER_MINUTE": 2,
            "BEST_SITES_PER_MINUTE": 1,
        },
    }
    client = as_(lc_city, "campaign_office")
    for _i in range(2):
        assert client.post(WHATIF, {"kind": "kindergarten", **CANDIDATE}).status_code == 200
    response = client.post(WHATIF, {"kind": "kindergarten", **CANDIDATE})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "Too many requests" in response.json()["error"]
    assert client.post(BEST, {"kind": "kindergarten", "k": "1"}).status_code == 200
    assert client.post(BEST, {"kind": "kindergarten", "k": "1"}).status_code == 429
    # Counted per user: another reader is not held back.
    assert (
        as_(lc_city, "leader").post(WHATIF, {"kind": "kindergarten", **CANDIDATE}).status_code
        == 200
    )


# ---- best sites ------------------------------------------------------------------------------


def test_best_sites_answer_what_the_selector_computes(lc_city):
    user = lc_city.city.users["campaign_office"]
    response = client_for(user).post(BEST, {"kind": "kindergarten", "k": "2"})
    assert response.status_code == 200
    data = response.json()
    expected = selectors.best_sites(user, kind=lc_city.kind("kindergarten"), k=2)
    assert [(p["lon"], p["lat"], p["households_gained"]) for p in data["picks"]] == [
        (p.lon, p.lat, p.households_gained) for p in expected.picks
    ]
    assert data["picks"][0]["n"] == 1 and data["picks"][0]["households_gained"] > 0
    assert data["candidates"] == expected.candidates
    assert 'id="lc-best-table"' in data["html"]


def test_best_sites_among_my_points(lc_city):
    client = as_(lc_city, "campaign_office")
    far_away = f"{LON0 + 0.0001:.6f},{LAT0 + 0.0039:.6f}"
    good = f"{CANDIDATE['lon']},{CANDIDATE['lat']}"
    data = client.post(
        BEST, {"kind": "kindergarten", "k": "2", "candidates": f"{far_away};{good}"}
    ).json()
    assert data["candidates"] == 2
    first = data["picks"][0]
    assert (f"{first['lon']:.6f}", f"{first['lat']:.6f}") == (CANDIDATE["lon"], CANDIDATE["lat"])
    assert first["households_gained"] == 350


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"k": "0"}, "Ask for between 1 and 20 sites."),
        ({"k": "999"}, "Ask for between 1 and 20 sites."),
        ({"k": "x"}, "Ask for a whole number of sites."),
        ({}, "Ask for a whole number of sites."),
        (
            {"k": "2", "candidates": "80.26;41.17"},
            "Give the candidate points as longitude,latitude separated by semicolons.",
        ),
        ({"k": "2", "candidates": "80.26,abc"}, "Give the position as longitude and latitude."),
        ({"k": "2", "kind": "bakery"}, "Choose a kind of facility from the list."),
    ],
)
def test_best_sites_refuse_bad_input(lc_city, fields, message):
    before = counts()
    response = as_(lc_city, "campaign_office").post(BEST, {"kind": "kindergarten", **fields})
    assert response.status_code == 400
    assert response.json()["error"] == message
    assert counts() == before


def test_parse_candidates():
    assert parse_candidates(" 1,2 ; 3.5,-4;") == [("1", "2"), ("3.5", "-4")]
    assert parse_candidates("") == []


# ---- coverage and gaps -----------------------------------------------------------------------


def rows_of(html: str, css: str) -> list[str]:
    body = html.split(f'class="list lc-table {css}"')[1].split("</table>")[0].split("<tbody>")[1]
    return re.findall(r'<th scope="row">(?:<a [^>]*>)?([^<]+)', body)


def test_coverage_table_per_level(lc_city):
    client = as_(lc_city, "campaign_office")
    html = text(client.get(COVERAGE))
    assert rows_of(html, "lc-coverage") == ["幸福社区", "和平社区", "团结社区"]
    assert 'data-kind="clinic"' in html and "5 min" in html
    assert 'class="num lc-good">100.0%</td>' in html and 'class="num lc-poor">0.0%</td>' in html
    chart = json.loads(
        re.search(
            r'<script id="lc-coverage-chart" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert chart["labels"] == ["幸福社区", "和平社区", "团结社区"]
    table = selectors.coverage_table(lc_city.city.users["campaign_office"], level="community")
    assert chart["values"] == [r.all_required.share for r in table.rows]
    assert EXPORT in html
    assert rows_of(text(client.get(COVERAGE + "?level=street")), "lc-coverage") == [
        "东关街道",
        "西门街道",
    ]
    assert rows_of(text(client.get(COVERAGE + "?level=district")), "lc-coverage") == [
        "老城区",
        "新华区",
    ]


def test_coverage_refuses_a_bad_level(lc_city):
    response = as_(lc_city, "leader").get(COVERAGE + "?level=planet")
    assert response.status_code == 400
    assert "Choose communities, street offices or districts." in text(response)


def test_a_district_leader_sees_only_his_communities(lc_city):
    client = as_(lc_city, "leader_b")
    assert rows_of(text(client.get(COVERAGE)), "lc-coverage") == ["团结社区"]
    assert rows_of(text(client.get(COVERAGE + "?level=street")), "lc-coverage") == ["西门街道"]
    html = text(client.get(GAPS))
    assert set(rows_of(html, "lc-gaps")) == {"团结新村"}
    assert "幸福家园" not in html


def test_share_cells():
    assert share_cell(None) == ("—", "lc-none")
    assert share_cell(90.0) == ("90.0%", "lc-good")
    assert share_cell(89.9) == ("89.9%", "lc-fair")
    assert share_cell(60.0) == ("60.0%", "lc-fair")
    assert share_cell(59.9) == ("59.9%", "lc-poor")


def test_gaps_read_not_connected_never_zero_metres(lc_city):
    client = as_(lc_city, "campaign_office")
    html = text(client.get(GAPS + "?kind=clinic"))
    assert rows_of(html, "lc-gaps") == ["团结新村"]
    row = html.split('data-state="unreachable"')[1].split("</tr>")[0]
    assert "Not connected to any facility of this kind" in row
    assert ">0<" not in row and "—" in row
    summary = dict(
        re.findall(
            r'<tr data-kind="([a-z_]+)">.*?<td class="num">\d+ min</td><td class="num">(\d+)</td>',
            html,
        )
    )
    assert summary["clinic"] == "1" and summary["kindergarten"] == "4"


def test_gaps_tell_too_far_from_not_connected(lc_city):
    Facility.objects.create(
        kind=lc_city.kind("kindergarten"),
        name="阳光幼儿园",
        lon=LON0 + 0.0005,
        lat=LAT0 + 0.0005,
        source=FacilitySource.CIVICLOOP,
        area_path=lc_city.city.areas["g2"].path,
    )
    lc_city.recompute()
    html = text(as_(lc_city, "campaign_office").get(GAPS + "?kind=kindergarten"))
    names = rows_of(html, "lc-gaps")
    assert "阳光小区" not in names and "幸福家园" in names
    row = html.split("幸福家园")[1].split("</tr>")[0]
    assert "Not within 5 minutes" in row and "阳光幼儿园" in row
    metres = int(re.findall(r'<td class="num">(\d+)</td>', row)[1])
    reach = Reach.objects.get(compound=lc_city.compounds["far"], kind__code="kindergarten")
    assert metres == round(reach.distance_m) and metres > 400


def test_gaps_page_reads_one_page_never_the_whole_list(lc_city, monkeypatch):
    """The gap list of a city is long: the page counts and slices it in SQL."""

    def refuse(self):  # noqa: ANN001, ANN202
        raise AssertionError("the gap list was read whole")

    monkeypatch.setattr(selectors.GapList, "__iter__", refuse)
    monkeypatch.setattr(views, "GAPS_PAGE", 2)
    client = as_(lc_city, "campaign_office")
    total = selectors.gaps(lc_city.city.users["campaign_office"]).count()
    assert total > 2
    html = text(client.get(GAPS))
    assert len(rows_of(html, "lc-gaps")) == 2
    assert f"Gaps: all kinds ({total})" in html
    pages = -(-total // 2)
    assert f"Page 1 of {pages}" in html
    html = text(client.get(GAPS + f"?page={pages}"))
    assert len(rows_of(html, "lc-gaps")) == total - 2 * (pages - 1)


def test_gaps_refuse_an_unknown_kind(lc_city):
    response = as_(lc_city, "leader").get(GAPS + "?kind=bakery")
    assert response.status_code == 400
    assert "Choose a kind of facility from the list." in text(response)


# ---- facilities ------------------------------------------------------------------------------


def new_facility(**over: str) -> dict[str, str]:
    return {
        "kind": "kindergarten",
        "name": "东关幼儿园",
        "address": "东关路1号",
        "lon": f"{LON0 + 0.001:.6f}",
        "lat": f"{LAT0 + 0.0015:.6f}",
        **over,
    }


def test_register_a_facility(lc_city):
    client = as_(lc_city, "campaign_office")
    assert "东关幼儿园" not in text(client.get(FACILITIES))
    response = client.post(FACILITIES, new_facility())
    assert response.status_code == 302
    facility = Facility.objects.get(name="东关幼儿园")
    assert facility.source == FacilitySource.CIVICLOOP and facility.kind.code == "kindergarten"
    assert facility.area_path == lc_city.city.areas["g2"].path
    assert facility.created_by == lc_city.city.users["campaign_office"]
    assert "东关幼儿园" in text(client.get(FACILITIES + "?kind=kindergarten"))


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"name": "  "}, "Give the facility a name."),
        ({"lon": "abc"}, "Give the position as longitude and latitude."),
        ({"lat": ""}, "Give the position as longitude and latitude."),
        ({"lon": "500"}, "The position is not a valid longitude and latitude."),
        ({"kind": "bakery"}, "Choose a kind of facility from the list."),
    ],
)
def test_register_refuses_bad_input(lc_city, over, message):
    before = counts()
    response = as_(lc_city, "campaign_office").post(FACILITIES, new_facility(**over))
    assert response.status_code == 400
    assert message in text(response)
    assert counts() == before


def test_another_districts_office_may_not_touch_ours(lc_city):
    client = client_for(district_b_office(lc_city))
    before = counts()
    response = client.post(FACILITIES, new_facility())
    assert response.status_code == 403
    assert "only inside your own area" in text(response)
    clinic = lc_city.facilities["clinic"]
    assert client.get(reverse("lifecircle:facility_edit", args=[clinic.pk])).status_code == 404
    response = client.post(
        reverse("lifecircle:facility_edit", args=[clinic.pk]), new_facility(name="改名")
    )
    assert response.status_code == 404
    response = client.post(reverse("lifecircle:facility_active", args=[clinic.pk]), {"active": "0"})
    assert response.status_code == 404
    assert counts() == before
    clinic.refresh_from_db()
    assert clinic.active and clinic.name == "幸福社区卫生服务站"
    # The list shows every facility, with actions only where he may act.
    html = text(client.get(FACILITIES))
    row = html.split(f'data-facility="{clinic.pk}"')[1].split("</tr>")[0]
    assert "幸福社区卫生服务站" in row and "Retire" not in row


def test_edit_retire_and_restore(lc_city):
    client = as_(lc_city, "campaign_office")
    clinic = lc_city.facilities["clinic"]
    url = reverse("lifecircle:facility_edit", args=[clinic.pk])
    html = text(client.get(url))
    assert 'value="幸福社区卫生服务站"' in html
    response = client.post(
        url, new_facility(kind="clinic", name="和平社区卫生服务站", lon=f"{LON0 + 0.0052:.6f}")
    )
    assert response.status_code == 302
    clinic.refresh_from_db()
    assert clinic.name == "和平社区卫生服务站" and clinic.lon == pytest.approx(LON0 + 0.0052)
    response = client.post(url, new_facility(kind="clinic", name=""))
    assert response.status_code == 400 and "Give the facility a name." in text(response)
    active = reverse("lifecircle:facility_active", args=[clinic.pk])
    assert client.post(active, {"active": "0"}).status_code == 302
    assert not Facility.objects.get(pk=clinic.pk).active
    assert client.post(active, {"active": "1"}).status_code == 302
    assert Facility.objects.get(pk=clinic.pk).active
    client.post(active, {"active": "maybe"})
    assert Facility.objects.get(pk=clinic.pk).active
    assert client.get(active).status_code == 405


def test_osm_facilities_are_found_and_retired_not_edited(lc_city):
    shop = Facility.objects.create(
        kind=lc_city.kind("convenience"),
        name="快客便利店",
        lon=LON0 + 0.002,
        lat=LAT0 + 0.001,
        source=FacilitySource.OSM,
        network=lc_city.network,
        osm_type="node",
        osm_id=42,
        area_path=lc_city.city.areas["g2"].path,
    )
    client = as_(lc_city, "campaign_office")
    assert "快客便利店" not in text(client.get(FACILITIES))
    html = text(client.get(FACILITIES + "?source=osm&kind=convenience&q=快客"))
    assert "快客便利店" in html
    assert "快客便利店" not in text(client.get(FACILITIES + "?source=osm&q=沃尔玛"))
    assert client.get(FACILITIES + "?source=moon").status_code == 400
    url = reverse("lifecircle:facility_edit", args=[shop.pk])
    assert "corrected in OpenStreetMap" in text(client.get(url))
    response = client.post(url, new_facility(kind="convenience", name="改名"))
    assert response.status_code == 400 and "corrected in OpenStreetMap" in text(response)
    client.post(reverse("lifecircle:facility_active", args=[shop.pk]), {"active": "0"})
    shop.refresh_from_db()
    assert not shop.active and shop.name == "快客便利店"


def test_facility_list_pages(lc_city):
    kind = lc_city.kind("toilets")
    Facility.objects.bulk_create(
        [
            Facility(kind=kind, name=f"公厕{i:03d}", lon=LON0, lat=LAT0, source=FacilitySource.OSM)
            for i in range(120)
        ]
    )
    client = as_(lc_city, "campaign_office")
    html = text(client.get(FACILITIES + "?source=osm&kind=toilets"))
    assert "120 facilities" in html and "Page 1 of 3" in html
    assert "source=osm&amp;kind=toilets" in html.split('class="lc-pages"')[1]
    html = text(client.get(FACILITIES + "?source=osm&kind=toilets&page=3"))
    assert "公厕119" in html and "公厕000" not in html


# ---- the walking network ---------------------------------------------------------------------


def test_network_page_lists_imports_and_polls_running_ones(lc_city):
    queued = Network.objects.create(
        source_name="city.osm.pbf", requested_at=lc_city.network.requested_at
    )
    client = as_(lc_city, "campaign_office")
    html = text(client.get(NETWORK))
    assert "lattice" in html and "city.osm.pbf" in html
    assert reverse("admin:lifecircle_tagrule_changelist") in html
    progress = reverse("lifecircle:network_progress", args=[queued.pk])
    assert f'hx-get="{progress}" hx-trigger="every 2s"' in html
    done = text(client.get(reverse("lifecircle:network_progress", args=[lc_city.network.pk])))
    assert "hx-trigger" not in done and f"{lc_city.graph.n_nodes} nodes" in done
    assert "Computing time" in html and re.search(r"<dd>\d+\.\d s</dd>", html)
    Network.objects.filter(pk=queued.pk).update(
        status=JobStatus.RUNNING, stage="graph", done=3, total=10
    )
    running = text(client.get(progress))
    assert "Building the walking network" in running and "· graph" not in running
    assert client.get(reverse("lifecircle:network_progress", args=[99999])).status_code == 404
    assert as_(lc_city, "leader").get(progress).status_code == 404


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("city.csv", b"a,b\n1,2\n"),
            "The file must be an OpenStreetMap extract (.osm.pbf).",
        ),
        (SimpleUploadedFile("city.osm.pbf", b""), "The file is empty."),
        (None, "Choose an .osm.pbf file."),
    ],
)
def test_network_upload_refuses_bad_files(lc_city, upload, message):
    before = counts()
    data = {"source": upload} if upload is not None else {}
    response = as_(lc_city, "campaign_office").post(NETWORK, data)
    assert response.status_code == 400
    assert message in text(response)
    assert counts() == before


def test_network_upload_refuses_a_file_too_large(lc_city, settings):
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "LIFECIRCLE": {**settings.CIVICLOOP["LIFECIRCLE"], "MAX_UPLOAD_BYTES": 2 * 1024 * 1024},
    }
    before = counts()
    upload = SimpleUploadedFile("big.osm.pbf", b"\0" * (2 * 1024 * 1024 + 1))
    response = as_(lc_city, "campaign_office").post(NETWORK, {"source": upload})
    assert response.status_code == 400
    assert "The file is larger than 2 MB." in text(response)
    assert counts() == before


def test_only_the_city_office_imports(lc_city):
    upload = SimpleUploadedFile("city.osm.pbf", b"\x00\x00\x00\x0d")
    for user in (lc_city.city.users["leader"], district_b_office(lc_city)):
        client = client_for(user)
        assert client.get(NETWORK).status_code == 404
        assert client.post(NETWORK, {"source": upload}).status_code == 404
        assert client.post(reverse("lifecircle:recompute")).status_code == 404
    assert Network.objects.count() == 1


def test_recompute_now(lc_city):
    before = Analysis.objects.count()
    response = as_(lc_city, "campaign_office").post(reverse("lifecircle:recompute"))
    assert response.status_code == 302
    assert Analysis.objects.count() == before + 1
    assert Analysis.objects.filter(status=JobStatus.QUEUED).exists()
    html = text(as_(lc_city, "campaign_office").get(NETWORK))
    assert "A recomputation is queued or running." in html


def test_import_the_bundled_extract(city, django_capture_on_commit_callbacks):
    """The one slow test: the real extract is read and analysed (the immediate task backend
    runs both jobs inline once the request's transaction commits)."""
    from civicloop.demo.geography import source_pbf_path

    path = Path(source_pbf_path())
    client = client_for(city.users["campaign_office"])
    with django_capture_on_commit_callbacks(execute=True):
        with path.open("rb") as fh:
            response = client.post(NETWORK, {"source": SimpleUploadedFile(path.name, fh.read())})
    assert response.status_code == 302
    network = Network.objects.get()
    assert network.status == JobStatus.DONE and network.is_current, network.error
    assert network.nodes > 5000 and network.edges > 5000 and network.facilities > 0
    html = text(client.get(NETWORK))
    assert f"{network.nodes} nodes, {network.edges} edges, {network.facilities} facilities" in html
    assert Analysis.objects.filter(is_current=True, network=network).exists()
