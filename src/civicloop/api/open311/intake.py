"""POST requests: an Open311 form turned into one ``moderation.actions.report_submit`` call.

Everything is checked before anything is written (service, location, attributes, contacts,
lengths, the photo); ``report_submit`` then publishes the report or holds it for moderation,
in one transaction.

* ``first_name`` / ``last_name`` become the reporter's name (family name first when either is
  written in Chinese characters, as Chinese names are).
* ``description`` is optional in the specification; without one the service's name stands in.
  Attribute answers are appended to it as labelled lines.
* ``device_id`` and ``account_id`` are accepted and checked but not stored: civicloop has no
  field for them (``account_id`` is echoed in the answer, as the specification shows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from civicloop.api.models import ApiToken
from civicloop.cases.actions import MAX_DESCRIPTION, report_prepare
from civicloop.cases.models import Category, Source
from civicloop.core.errors import ValidationFailed
from civicloop.moderation.actions import Submitted, report_submit
from civicloop.moderation.models import Channel

from . import attributes, locate, media, params
from .selectors import service_get

MAX_NAME_PART = 31  # first + " " + last fits the 64 characters of a name
MAX_SHORT = 100
MAX_URL = 2048
MAX_UPLOADS = 3
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Posted:
    submitted: Submitted
    category: Category
    account_id: str


def _coordinate(value: str, *, name: str, low: float, high: float) -> float:
    number = params.number(params.text(value, name=name, max_length=40), name=name)
    if not low <= number <= high:
        raise ValidationFailed(
            _("“%(name)s” must be between %(min)s and %(max)s.")
            % {"name": name, "min": low, "max": high},
            field=name,
        )
    return number


def _location(data: Any) -> tuple[float, float, str]:
    """(lat, lon, place name) from lat+long, else address_id, else address_string."""
    lat_raw, lon_raw = (data.get("lat") or "").strip(), (data.get("long") or "").strip()
    if lat_raw or lon_raw:
        if not (lat_raw and lon_raw):
            raise ValidationFailed(_("Give both lat and long, or neither."), field="lat")
        lat = _coordinate(lat_raw, name="lat", low=-90, high=90)
        lon = _coordinate(lon_raw, name="long", low=-180, high=180)
        return lat, lon, ""
    address_id = params.text(data.get("address_id"), name="address_id", max_length=MAX_SHORT)
    if address_id:
        place = locate.by_address_id(address_id)
        return place.lat, place.lon, place.name
    address = params.text(data.get("address_string"), name="address_string", max_length=200)
    if address:
        place = locate.by_address_string(address)
        return place.lat, place.lon, place.name
    raise ValidationFailed(
        _("A location is required: lat and long, an address_string or an address_id."), field="lat"
    )


def _name(first: str, last: str) -> str:
    if _CJK.search(first + last):
        return f"{last}{first}"
    return " ".join(part for part in (first, last) if part)


def _description(category: Category, text: str, answers: list[attributes.Answer]) -> str:
    text = text or category.name
    extra = attributes.answers_text(answers)
    full = f"{text}\n\n{extra}" if extra else text
    if len(full) > MAX_DESCRIPTION:
        raise ValidationFailed(
            _(
                "The description and the attribute answers together are %(count)d characters; at most %(max)d fit."
            )
            % {"count": len(full), "max": MAX_DESCRIPTION},
            field="description",
        )
    return full


def request_post(*, data: Any, files: Any, token: ApiToken, ip: str) -> Posted:
    """Check an Open311 POST and submit it; CivicErrors (400/403/429) for what is wrong."""
    code = params.text(data.get("service_code"), name="service_code", max_length=64)
    if not code:
        raise ValidationFailed(_("service_code was not provided."), field="service_code")
    category = service_get(code)
    if category is None:
        raise ValidationFailed(
            _("service_code “%(code)s” was not found (see services.xml).") % {"code": code},
            field="service_code",
        )
    lat, lon, place_name = _location(data)
    answers = attributes.answers_check(category, attributes.answers_from(data))
    text = params.text(data.get("description"), name="description", max_length=MAX_DESCRIPTION)
    description = _description(category, text, answers)
    first = params.text(data.get("first_name"), name="first_name", max_length=MAX_NAME_PART)
    last = params.text(data.get("last_name"), name="last_name", max_length=MAX_NAME_PART)
    email = params.text(data.get("email"), name="email", max_length=254)
    phone = params.text(data.get("phone"), name="phone", max_length=32)
    params.text(data.get("device_id"), name="device_id", max_length=MAX_SHORT)
    account_id = params.text(data.get("account_id"), name="account_id", max_length=MAX_SHORT)
    address = (
        params.text(data.get("address_string"), name="address_string", max_length=200) or place_name
    )
    media_url = params.text(data.get("media_url"), name="media_url", max_length=MAX_URL)
    uploads = files.getlist("media") if files is not None else []
    if len(uploads) + bool(media_url) > MAX_UPLOADS:
        raise ValidationFailed(
            _("At most %(max)d photos per request.") % {"max": MAX_UPLOADS}, field="media"
        )
    photos = list(uploads)
    if media_url:
        # Everything else is checked before a byte is fetched from anywhere.
        report_prepare(
            category=category,
            lat=lat,
            lon=lon,
            description=description,
            source=Source.API,
            name=_name(first, last),
            phone=phone,
            email=email,
            address=address,
        )
        photos.append(media.media_fetch(media_url))
    with transaction.atomic():
        submitted = report_submit(
            channel=Channel.OPEN311,
            ip=ip,
            category=category,
            lat=lat,
            lon=lon,
            description=description,
            crs="wgs84",
            source=Source.API,
            by=token.user,
            api_token=token,
            name=_name(first, last),
            phone=phone,
            email=email,
            address=address,
            photos=photos,
        )
    return Posted(submitted=submitted, category=category, account_id=account_id)
