"""Where an Open311 POST without ``lat``/``long`` is: what ``address_id`` and
``address_string`` can honestly resolve to in civicloop.

civicloop has no street-address gazetteer, so no house number can be geocoded. What it does
know are places with a polygon:

* ``address_id``: a 15-digit unit grid code (GB/T 30428.1, the ``address_id`` every request
  carries in GET), ``compound:<id>`` (a residential compound) or ``backstreet:<id>`` (a back
  street or lane). The report goes to a point inside that polygon.
* ``address_string``: free text that names a residential compound or a back street, e.g.
  "幸福小区3号楼东侧". The longest known name found in the text wins; a name two places share
  is refused as ambiguous.

Anything else answers 400 saying what can be resolved. The text itself is kept as the case's
address either way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext as _

from civicloop.core.errors import ValidationFailed
from civicloop.places.models import Area, AreaKind, BackStreet, Compound

GRID_CODE = re.compile(r"^\d{15}$")
PLACE_ID = re.compile(r"^(compound|backstreet):(\d{1,12})$")
MIN_NAME = 2  # a one-character name would match almost any text


@dataclass(frozen=True)
class Located:
    lat: float
    lon: float
    name: str  # the place's name, used as the address when the client gave none


def _inside(place: Area | Compound | BackStreet) -> Located:
    point = place.shape.representative_point()  # always inside the polygon, unlike the centroid
    return Located(lat=point.y, lon=point.x, name=place.name)


def by_address_id(address_id: str) -> Located:
    value = address_id.strip()
    if GRID_CODE.match(value):
        grid = Area.objects.filter(kind=AreaKind.GRID, code=value).first()
        if grid is not None:
            return _inside(grid)
    match = PLACE_ID.match(value)
    if match:
        model = Compound if match.group(1) == "compound" else BackStreet
        place = model.objects.filter(pk=int(match.group(2))).first()
        if place is not None:
            return _inside(place)
    raise ValidationFailed(
        _(
            "address_id “%(value)s” was not found. Use a 15-digit unit grid code, "
            "compound:<id> or backstreet:<id>, or give lat and long."
        )
        % {"value": value},
        field="address_id",
    )


def _folded(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def by_address_string(address: str) -> Located:
    folded = _folded(address)
    best: list[Compound | BackStreet] = []
    best_length = 0
    for model in (Compound, BackStreet):
        for place in model.objects.only("pk", "name", "geometry").order_by("pk"):
            name = _folded(place.name)
            if len(name) < MIN_NAME or name not in folded:
                continue
            if len(name) > best_length:
                best, best_length = [place], len(name)
            elif len(name) == best_length:
                best.append(place)
    if not best:
        raise ValidationFailed(
            _(
                "No residential compound or back street we know is named in address_string "
                "“%(value)s”. Give lat and long, an address_id, or the compound's or back street's name."
            )
            % {"value": address},
            field="address_string",
        )
    if len(best) > 1:
        raise ValidationFailed(
            _(
                "address_string could mean %(count)d places (%(names)s). Give lat and long or an address_id."
            )
            % {"count": len(best), "names": ", ".join(p.name for p in best[:5])},
            field="address_string",
        )
    return _inside(best[0])
