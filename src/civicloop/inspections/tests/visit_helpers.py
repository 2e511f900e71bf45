"""Visits for tests, recorded through the real actions (``visits.visit_submit``).

Shared by ``test_visits.py``, ``test_inspect_pages.py`` and the browser test.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from civicloop.inspections.lookback import lookback_create
from civicloop.inspections.models import Item, Round, RoundLocation, RoundStatus, Site, Visit
from civicloop.inspections.rounds import round_start
from civicloop.inspections.scoring import item_key
from civicloop.inspections.visits import CheckInput, PhotoInput, location_code, visit_submit
from civicloop.testing import T0, TestCity

from .round_helpers import advance, make_round, make_sites, site_point

# make_round starts a round an hour after T0; visits come an hour later.
VISIT_AT = T0 + dt.timedelta(hours=2)


def location_of(rnd: Round, site: Site | str, city: TestCity | None = None) -> RoundLocation:
    if isinstance(site, str):
        assert city is not None
        site = make_sites(city)[site]
    return RoundLocation.objects.select_related("round", "site", "standard").get(
        round=rnd, site=site
    )


def items_of(location: RoundLocation) -> dict[str, Item]:
    """The pinned standard's items by scoring key ("s1_i2")."""
    items = Item.objects.filter(section__standard=location.standard).select_related("section")
    return {
        item_key(i.section.position, i.position): i
        for i in items.order_by("section__position", "position")
    }


def checks_for(location: RoundLocation, **found: dict[str, Any]) -> list[CheckInput]:
    """A check of every item, all fine unless ``found`` says otherwise: ``s1_i1={"occurrences": 3}``."""
    return [
        CheckInput(item_id=item.pk, **found.get(key, {}))
        for key, item in items_of(location).items()
    ]


def jpeg(
    name: str = "photo.jpg",
    color: tuple[int, int, int] = (200, 80, 40),
    exif: Image.Exif | None = None,
) -> SimpleUploadedFile:
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": 85}
    if exif is not None:
        options["exif"] = exif
    Image.new("RGB", (64, 48), color).save(out, "JPEG", **options)
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def gps_exif(
    lat: tuple[float, float, float] = (41, 10, 10.0),
    lon: tuple[float, float, float] = (80, 15, 50.0),
) -> Image.Exif:
    """EXIF as a phone writes it: capture time and where the photographer stood."""
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"
    exif.get_ifd(0x8769)[0x9003] = "2026:11:17 12:01:02"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", tuple(IFDRational(v) for v in lat)
    gps[3], gps[4] = "E", tuple(IFDRational(v) for v in lon)
    return exif


def photos_for(item: Item, count: int = 1) -> list[PhotoInput]:
    return [PhotoInput(upload=jpeg(f"p{item.pk}-{i}.jpg"), item_id=item.pk) for i in range(count)]


def submit(location: RoundLocation, by: Any, **kw: Any) -> Visit:
    """``visit_submit`` with a fresh draft id, every item fine, a position inside the site."""
    lat, lon = site_point(location.site)
    kw.setdefault("client_uuid", uuid.uuid4())
    kw.setdefault("checks", [] if location.round.lookback_of_id else checks_for(location))
    kw.setdefault("lat", lat)
    kw.setdefault("lon", lon)
    kw.setdefault("at", VISIT_AT)
    return visit_submit(location=location, by=by, **kw)


def round_with_findings(city: TestCity) -> tuple[Round, RoundLocation]:
    """An undercover round over dA, published, whose visit of 幸福里小区 (c1_old) found two problems:
    three places of rubbish (s1_i1, 6 points, one photo) and an illegal structure (s2_i2, 7 points)."""
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    location = location_of(rnd, "c1_old", city)
    items = items_of(location)
    submit(
        location,
        city.users["inspector"],
        checks=checks_for(location, s1_i1={"occurrences": 3}, s2_i2={"occurrences": 1}),
        photos=photos_for(items["s1_i1"]),
    )
    return advance(city, rnd, RoundStatus.PUBLISHED), location


LOOKBACK_AT = T0 + dt.timedelta(days=9)


def lookback_of(city: TestCity, earlier: Round) -> tuple[Round, RoundLocation]:
    """The earlier round's look-back, being inspected by the persona ``inspector``."""
    office = city.users["campaign_office"]
    rnd = lookback_create(
        of_round=earlier,
        by=office,
        period_start=LOOKBACK_AT.date(),
        period_end=LOOKBACK_AT.date() + dt.timedelta(days=6),
        inspectors=[city.users["inspector"]],
        at=LOOKBACK_AT,
    )
    rnd = round_start(round=rnd, by=office, at=LOOKBACK_AT)
    return rnd, RoundLocation.objects.select_related("round", "site", "standard").get(round=rnd)


# ---- ODK / KoboCollect exports ----------------------------------------------------------------------


def export(rows: list[dict[str, str]]) -> bytes:
    """A KoboToolbox CSV export of the XLSForm (group paths in the headers)."""
    headers = [
        "start", "end", "standard_ref", "location_code", "location_name", "gps", "_gps_latitude", "_gps_longitude",
        "_gps_precision", "s1/s1_na", "s1/s1_i1_n", "s1/s1_i2_n", "s1/s1_i3_veto", "s2/s2_na", "s2/s2_i1_n",
        "s2/s2_i2_n", "s2/s2_i3_veto", "score", "meta/instanceID", "_uuid",
    ]  # fmt: skip
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=headers)
    writer.writeheader()
    for row in rows:
        writer.writerow({h: row.get(h, "") for h in headers})
    return out.getvalue().encode("utf-8")


def answer(location, **cells) -> dict[str, str]:
    lat, lon = site_point(location.site)
    row = {
        "start": "2026-11-17T11:05:00.000+08:00",
        "end": "2026-11-17T11:40:00.000+08:00",
        "standard_ref": location.standard.reference,
        "location_code": location_code(location),
        "_gps_latitude": str(lat),
        "_gps_longitude": str(lon),
        "_gps_precision": "8.5",
        "s1/s1_i1_n": "0", "s1/s1_i2_n": "0", "s1/s1_i3_veto": "no",
        "s2/s2_i1_n": "0", "s2/s2_i2_n": "0", "s2/s2_i3_veto": "no",
        "score": "100",
        "meta/instanceID": f"uuid:{uuid.uuid4()}",
    }  # fmt: skip
    row.update(cells)
    return row
