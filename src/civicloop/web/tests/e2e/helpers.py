"""Steps the browser tests share: the map, photos, and each person's step of the loop,
done through the pages as that person would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from civicloop.testing import jpeg_upload

SANITATION = "市环境卫生管理处"  # where the test city routes 垃圾乱堆放 (big code 01)
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"
# Visible form fields without a name a screen reader can say (label, aria-label, aria-labelledby).
UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter((el) => el.type !== 'hidden' && el.type !== 'submit' && el.type !== 'button')
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map((el) => el.outerHTML.slice(0, 120))"""
# Leaflet layers drawn from /geo/areas.geojson: polygons (grids, communities …).
COUNT_POLYGONS = """(id) => {
  const api = document.getElementById(id)._civicMap;
  let n = 0;
  api.map.eachLayer((l) => { if (l instanceof L.Polygon) n += 1; });
  return n;
}"""
COUNT_TILE_LAYERS = """(id) => {
  const api = document.getElementById(id)._civicMap;
  let n = 0;
  api.map.eachLayer((l) => { if (l instanceof L.TileLayer) n += 1; });
  return n;
}"""
# Where a WGS-84 point is on the map element, in CSS pixels (the map shows WGS-84 when
# there are no tiles, or shifts to GCJ-02 for Amap tiles: ask the map's own transform).
POINT_ON_MAP = """([id, lat, lon]) => {
  const api = document.getElementById(id)._civicMap;
  const p = api.show(lat, lon);
  const xy = api.map.latLngToContainerPoint(L.latLng(p[0], p[1]));
  return {x: xy.x, y: xy.y};
}"""


def wait_for_map(page: Any, map_id: str, *, polygons: int) -> None:
    """Until the map is set up and has drawn at least ``polygons`` area boundaries."""
    page.wait_for_function(
        "([id, n]) => { const el = document.getElementById(id);"
        " if (!el || !el._civicMap) return false;"
        " let c = 0; el._civicMap.map.eachLayer((l) => { if (l instanceof L.Polygon) c += 1; });"
        " return c >= n; }",
        arg=[map_id, polygons],
    )
    page.wait_for_timeout(300)  # fitBounds' animation settles before anyone clicks


def tap_map_at(page: Any, map_id: str, lat: float, lon: float) -> None:
    """A real click (or tap, on a touch phone) on the map where (lat, lon) is drawn."""
    xy = page.evaluate(POINT_ON_MAP, [map_id, lat, lon])
    target = page.locator(f"#{map_id}")
    box = target.bounding_box()
    assert box and 0 <= xy["x"] <= box["width"] and 0 <= xy["y"] <= box["height"], (xy, box)
    target.click(position={"x": xy["x"], "y": xy["y"]})


def settle(page: Any, quiet_ms: int = 250) -> None:
    """Until htmx is quiet: no request in flight, none for ``quiet_ms``. First waits out
    the delayed triggers (the category search fires 250 ms after the last key)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "(quiet) => window.__e2e && window.__e2e.inflight <= 0 && Date.now() - window.__e2e.last > quiet",
        arg=quiet_ms,
    )


def jpeg_file(tmp_path: Path, name: str = "photo.jpg", color: tuple[int, int, int] = (200, 80, 40)) -> Path:
    """A real JPEG on disk, for ``set_input_files`` (the same bytes the Client tests upload)."""
    path = tmp_path / name
    path.write_bytes(jpeg_upload(name, color=color, size=(640, 480)).read())
    return path


def image_loaded(page: Any, locator: Any) -> bool:
    return bool(locator.evaluate("(img) => img.complete && img.naturalWidth > 0"))


# ---- the people of the loop, each doing their step through the pages ----------------


def report_problem(
    page: Any,
    site: Any,
    *,
    grid: str = "g1",
    query: str = "ljldf",
    category: str = "垃圾乱堆放",
    description: str = "楼下垃圾堆放三天无人清理",
    photo: Path | None = None,
    join_ticket: str | None = None,
    offset: tuple[float, float] = (0.0, 0.0),
) -> str:
    """A resident on /report/: pin, category, text, photo; with ``join_ticket`` he joins
    that case from the "already reported nearby" list. Returns the new ticket number."""
    page.goto(site.at("/report/"))
    wait_for_map(page, "report-map", polygons=1)
    lat, lon = site.city.point_in(grid)
    tap_map_at(page, "report-map", lat + offset[0], lon + offset[1])
    expect(page.locator("#id_lat")).not_to_have_value("")
    page.get_by_label(re.compile(r"^Search: Chinese, pinyin or initials")).press_sequentially(query, delay=30)
    settle(page)  # the search answers as one types: pick from the last answer
    choice = page.get_by_role("group", name="What kind of problem?").get_by_role("radio", name=re.compile(category))
    choice.check()
    settle(page)  # picking a category (like moving the pin) refreshes the nearby list
    page.get_by_label("What is wrong?").fill(description)
    if photo is not None:
        page.get_by_label("Photos (optional)").set_input_files(photo)
    if join_ticket is not None:
        nearby = page.get_by_role("group", name=re.compile("Already reported nearby"))
        expect(nearby).to_be_visible()
        join = nearby.get_by_role("radio", name=re.compile("join it"))
        join.check()
        settle(page)
        expect(join).to_be_checked()
    else:
        expect(page.get_by_role("group", name=re.compile("Already reported nearby"))).to_have_count(0)
    expect(choice).to_be_checked()
    with page.expect_navigation():
        page.get_by_role("button", name="Send report").click()
    expect(page.locator("#ticket-no")).to_have_text(re.compile(r"\d{8}-\d{6}"))
    return str(page.locator("#ticket-no").inner_text()).strip()


def queue_row(page: Any, case_pk: int) -> Any:
    return page.locator(f"#case-row-{case_pk}")


def register_and_dispatch(page: Any, site: Any, case_pk: int, unit: str) -> None:
    """The dispatcher registers the new report from the intake queue and dispatches it to
    the routing rule's suggestion, which must be ``unit``; both by htmx, row by row."""
    if not page.url.endswith("/dispatch/"):
        page.goto(site.at("/dispatch/"))
    row = queue_row(page, case_pk)
    row.get_by_role("button", name="Register", exact=True).click()
    expect(row.locator(".done")).to_have_text("Registered.")
    expect(row.get_by_label("Handling unit", exact=True)).to_be_visible()
    expect(row).to_contain_text(f"Routing suggests {unit}.")
    row.get_by_role("button", name="Dispatch", exact=True).click()
    expect(row.locator(".done")).to_have_text("Dispatched.")


def task_card(page: Any, case_pk: int) -> Any:
    return page.locator(f"#case-{case_pk}")


def accept_and_report_handled(page: Any, site: Any, case_pk: int, *, note: str, photo: Path) -> None:
    """Unit staff on /tasks/: accept the case, then report it handled with an after-photo."""
    page.goto(site.at("/tasks/"))
    card = task_card(page, case_pk)
    card.get_by_role("button", name="Accept", exact=True).click()
    expect(card.get_by_text("Report it handled")).to_be_visible()
    report_handled(page, case_pk, note=note, photo=photo)


def report_handled(page: Any, case_pk: int, *, note: str, photo: Path) -> None:
    """Unit staff: the "Report it handled" form of a task card, with an after-photo."""
    card = task_card(page, case_pk)
    summary = card.get_by_text("Report it handled")
    if not card.locator("details:has(> summary:text('Report it handled'))").evaluate("(d) => d.open"):
        summary.click()
    card.get_by_label("What was done").fill(note)
    card.get_by_label("Photos of the result").set_input_files(photo)
    card.get_by_role("button", name="Report handled", exact=True).click()
    expect(card).not_to_contain_text("Report it handled")  # the card now says it was sent


def verify_on_grid_page(page: Any, site: Any, case_pk: int, *, fixed: bool, note: str = "") -> None:
    """The grid worker on /grid/: looks at the unit's after-photo and records the check."""
    page.goto(site.at("/grid/"))
    card = task_card(page, case_pk)
    expect(card.get_by_role("img", name="Photo after handling").first).to_be_visible()
    card.get_by_role("radio", name="Fixed" if fixed else "Not fixed", exact=True).check()
    if note:
        card.get_by_label(re.compile(r"^Note")).fill(note)
    card.get_by_role("button", name="Record the check").click()
    expect(card.get_by_role("button", name="Record the check")).to_have_count(0)


def case_of(ticket: str) -> Any:
    """The case a ticket number belongs to (a joined report's ticket gives the joined case)."""
    from civicloop.cases.models import Report

    return Report.objects.select_related("case").get(ticket_no=ticket).case


COUNT_POINTS = """(id) => {
  const api = document.getElementById(id)._civicMap;
  if (!api.points) return null;
  if (api.points._latlngs) return api.points._latlngs.length;  // heat map
  return api.points.getLayers().length;                          // clustered markers
}"""


def wait_for_points(page: Any, map_id: str) -> int:
    """Until the map's point layer is drawn; how many points it holds."""
    page.wait_for_function(
        "(id) => { const el = document.getElementById(id); return !!(el && el._civicMap && el._civicMap.points); }",
        arg=map_id,
    )
    return int(page.evaluate(COUNT_POINTS, map_id))


def verify_on_case_page(page: Any, site: Any, case_pk: int, *, fixed: bool, note: str = "") -> None:
    """The grid worker on the case page (``web:case``): "Verify: fixed" or "not fixed (rework)"."""
    page.goto(site.at(f"/cases/{case_pk}/"))
    label = "Verify: fixed" if fixed else "Verify: not fixed (rework)"
    action = page.locator("#act-verify_pass" if fixed else "#act-verify_fail")
    action.get_by_text(label, exact=True).first.click()  # the <summary> opens the form
    if note:
        action.get_by_label("Note" if fixed else "What is still wrong").fill(note)
    action.get_by_role("button", name=label, exact=True).click()
    expect(page.locator("#act-verify_pass")).to_have_count(0)
