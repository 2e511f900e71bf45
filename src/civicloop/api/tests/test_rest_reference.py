"""Reference data (categories, areas as GeoJSON, units) and the API's own description:
``/api/v1/openapi.json`` is a valid OpenAPI 3 document of every endpoint, and
``/api/v1/docs`` renders Swagger UI from the app's own static files."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from drf_spectacular.validation import validate_schema

from civicloop.cases.models import Category
from civicloop.org.models import Unit

pytestmark = pytest.mark.django_db


# ---- categories ----------------------------------------------------------------------------------


def test_categories_are_public_with_codes_and_time_limits(api, city):
    response = api(None).get("/api/v1/categories/")
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == Category.objects.filter(active=True).count()
    garbage = next(r for r in rows if r["code"] == "E0102")
    assert (
        garbage["family"] == "event"
        and garbage["big_code"] == "01"
        and garbage["name"] == "暴露垃圾"
    )
    assert garbage["time_limit_kind"] == "working_hours" and garbage["time_limit_value"] > 0


def test_inactive_categories_are_not_offered(api, city):
    Category.objects.filter(code="E0102").update(active=False)
    codes = {r["code"] for r in api(None).get("/api/v1/categories/").json()}
    assert "E0102" not in codes and "E0103" in codes


def test_categories_filter_by_family_big_class_and_text(api, city):
    c = api(None)
    assert {r["family"] for r in c.get("/api/v1/categories/", {"family": "component"}).json()} == {
        "component"
    }
    assert {
        r["big_code"]
        for r in c.get("/api/v1/categories/", {"family": "event", "big_code": "01"}).json()
    } == {"01"}
    assert [r["code"] for r in c.get("/api/v1/categories/", {"q": "暴露垃圾"}).json()] == ["E0102"]
    assert "E0102" in {r["code"] for r in c.get("/api/v1/categories/", {"q": "garbage"}).json()}
    response = c.get("/api/v1/categories/", {"family": "plant"})
    assert response.status_code == 400 and response.json()["field"] == "family"


def test_the_category_tree_groups_families_and_big_classes(api, city):
    tree = api(None).get("/api/v1/categories/tree/").json()
    assert [f["family"] for f in tree] == ["component", "event"]
    events = tree[1]
    big = next(b for b in events["big_classes"] if b["big_code"] == "01")
    assert big["big_name"] == "市容环境" and "E0102" in {c["code"] for c in big["categories"]}
    assert (
        sum(len(b["categories"]) for f in tree for b in f["big_classes"])
        == Category.objects.filter(active=True).count()
    )


# ---- areas ---------------------------------------------------------------------------------------


def test_areas_are_a_geojson_feature_collection(api, city):
    body = api(None).get("/api/v1/places/areas/", {"kind": "grid"}).json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 4
    feature = body["features"][0]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
    assert feature["properties"] == {
        "code": "650102001001001",
        "name": "幸福社区第1网格",
        "kind": "grid",
        "kind_label": "Grid",
        "parent": "650102001001",
        "households": 0,
        "population": 0,
    }


def test_areas_filter_by_parent_and_code_prefix_and_may_leave_out_boundaries(api, city):
    c = api(None)
    children = c.get("/api/v1/places/areas/", {"parent": "650102001001"}).json()["features"]
    assert [f["properties"]["code"] for f in children] == ["650102001001001", "650102001001002"]
    inside = c.get("/api/v1/places/areas/", {"code": "650103", "geometry": "false"}).json()[
        "features"
    ]
    assert [f["properties"]["kind"] for f in inside] == ["district", "street", "community", "grid"]
    assert all(f["geometry"] is None for f in inside)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "village"}, "kind"),
        ({"parent": "000"}, "parent"),
        ({"geometry": "sometimes"}, "geometry"),
    ],
)
def test_bad_area_filters_are_400(api, city, params, field):
    response = api(None).get("/api/v1/places/areas/", params)
    assert response.status_code == 400 and response.json()["field"] == field


def test_one_area_by_its_code(api, city):
    body = api(None).get("/api/v1/places/areas/650102001001/").json()
    assert body["type"] == "Feature" and body["properties"]["kind"] == "community"
    assert body["geometry"]["type"] == "Polygon"
    for code in ("999999", "65%00", "x" * 30, "a b"):
        response = api(None).get(f"/api/v1/places/areas/{code}/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


# ---- units ---------------------------------------------------------------------------------------


def test_staff_list_every_active_unit_to_dispatch_to(api, city):
    Unit.objects.filter(code="U-YLJ").update(active=False)
    rows = api("dispatcher").get("/api/v1/units/").json()
    codes = [r["code"] for r in rows]
    assert "U-YLJ" not in codes and codes == sorted(codes) and "U-HWC" in codes
    hwc = next(r for r in rows if r["code"] == "U-HWC")
    assert hwc["parent"] == "U-CGJ" and hwc["kind"] == "department" and hwc["area"] is None


def test_mine_lists_the_callers_own_units(api, city):
    assert [r["code"] for r in api("cgj_staff").get("/api/v1/units/", {"mine": "true"}).json()] == [
        "U-CGJ",
        "U-HWC",
    ]
    assert api("dispatcher").get("/api/v1/units/", {"mine": "true"}).json() == []
    assert api("dispatcher").get("/api/v1/units/", {"mine": "often"}).status_code == 400


def test_units_are_for_staff(api, city):
    assert api(None).get("/api/v1/units/").status_code == 401
    assert api("resident").get("/api/v1/units/").status_code == 403


# ---- the description ---------------------------------------------------------------------------------


def test_openapi_json_is_a_valid_document_of_every_endpoint(api, city):
    response = api(None).get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"].startswith(
        "application/vnd.oai.openapi+json"
    )
    doc = response.json()
    validate_schema(doc)
    paths = doc["paths"]
    for path in (
        "/api/v1/cases/",
        "/api/v1/cases/{case_id}/",
        "/api/v1/cases/{case_id}/timeline/",
        "/api/v1/cases/{case_id}/attachments/",
        "/api/v1/cases/{case_id}/actions/",
        "/api/v1/categories/",
        "/api/v1/places/areas/",
        "/api/v1/places/areas/{code}/",
        "/api/v1/units/",
        "/api/v1/me/",
    ):
        assert path in paths, path
    actions = {
        p.rsplit("/", 2)[-2] for p in paths if "/actions/" in p and not p.endswith("/actions/")
    }
    assert actions == {
        "register",
        "reject",
        "void",
        "reclassify",
        "dispatch",
        "reassign",
        "add-co-unit",
        "accept",
        "return",
        "feedback",
        "request-extension",
        "decide-extension",
        "defer",
        "resume",
        "urge",
        "escalate",
        "verify",
        "lookback",
        "rate",
    }
    assert doc["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    assert not any(p.startswith("/open311/") for p in paths)
    create = paths["/api/v1/cases/"]["post"]
    assert {"201", "202", "400", "401", "429"} <= set(create["responses"])
    assert {} in create["security"] and {} not in paths["/api/v1/cases/"]["get"]["security"]
    register = paths["/api/v1/cases/{case_id}/actions/register/"]["post"]
    assert {"200", "400", "403", "404", "409"} <= set(register["responses"])
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "field"}


def test_docs_render_swagger_ui_from_our_own_static_files(city):
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in html
        and "/api/v1/openapi.json" in html
    )
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    # Served by whitenoise after collectstatic.
    for asset in (
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
    ):
        assert finders.find(f"vendor/swagger-ui-dist/{asset}"), asset
