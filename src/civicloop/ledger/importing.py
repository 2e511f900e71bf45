"""Checking a ledger's rows before anything is written: row by row, every problem named.

``check_ledger`` reads nothing but the database's reference data (categories, areas,
units, existing ticket numbers) and returns, for every row, either the case it would
become (``Prepared``) or its errors. ``ledger.actions`` writes the prepared cases only
when there is no error at all: nothing is ever half-imported.

Decisions (see also ``ledger.columns``):

* Any state may be imported, open ones too, so a city moving to civicloop brings its
  backlog; an open case then continues in the normal workflow.
* A ticket number that already exists in civicloop is an error, as is one that appears
  twice in the file: an import never changes an existing case, and the preview shows
  which rows to take out.
* Street office and community must match the area tree; a given grid must lie in the
  community; a given point must fall in a grid of that community (and in the given
  grid). Without a point the case is placed at the grid's (or the community's)
  representative point, recorded as such on the case's timeline.
* Times must run in order: reported ≤ registered ≤ dispatched ≤ handled ≤ closed, and
  the deadline not before the dispatch; none may lie in the future.
* Every row must lie in the importer's area (``org.policy.may_import_cases``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from shapely.geometry import Point

from civicloop.cases.models import Case, Category, Rating, Report, State
from civicloop.cases.workflow import CLOCK_RUNNING, CLOSED_STATES
from civicloop.core import workcal
from civicloop.core.errors import CivicError
from civicloop.org import policy
from civicloop.org.models import Unit
from civicloop.places.index import NO_GRID, grids_for_points
from civicloop.places.models import Area, AreaKind

from . import columns as C
from . import values as V
from .reading import Sheet

MAX_DESCRIPTION = 4000
MAX_ADDRESS = 200
# Times a little ahead of the server's clock are a clock difference, not the future.
FUTURE_TOLERANCE = dt.timedelta(minutes=10)
# States in which a handling unit holds (or held) the case.
UNIT_STATES = {State.DISPATCHED, State.IN_PROGRESS, State.DEFERRED, State.HANDLED, *CLOSED_STATES}
HANDLED_STATES = {State.HANDLED, *CLOSED_STATES}
ORDERED_TIMES = ("reported_at", "registered_at", "dispatched_at", "handled_at", "closed_at")


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Prepared:
    """One row, checked: everything the case will be."""

    row: int
    ticket: str
    state: State
    category: Category
    grid: Area
    street: str
    lat: float
    lon: float
    located: str  # "point", "grid" or "community": where the position came from
    address: str
    description: str
    unit: Unit | None
    reported_at: dt.datetime
    registered_at: dt.datetime | None
    dispatched_at: dt.datetime | None
    deadline_at: dt.datetime | None
    deadline_estimated: bool
    handled_at: dt.datetime | None
    handled_on_time: bool | None
    closed_at: dt.datetime | None
    closed_on_time: bool | None
    rework_count: int
    rating: str
    source: str  # one of cases.Source, or "" when the ledger's word is not ours
    source_text: str


@dataclass
class Checked:
    sheet: Sheet
    prepared: list[Prepared] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows_total(self) -> int:
        return len(self.sheet.rows)

    @property
    def bad_rows(self) -> set[int]:
        return {e.row for e in self.errors}

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.prepared)

    def errors_by_row(self) -> dict[int, list[RowError]]:
        out: dict[int, list[RowError]] = defaultdict(list)
        for e in self.errors:
            out[e.row].append(e)
        return out

    def summary(self) -> dict[str, Any]:
        """What the preview shows: counts, the period, the first errors."""
        states = Counter(p.state for p in self.prepared)
        streets = Counter(p.street for p in self.prepared)
        times = [p.reported_at for p in self.prepared]
        return {
            "rows": self.rows_total,
            "good": len(self.prepared),
            "bad": len(self.bad_rows),
            "errors": len(self.errors),
            "states": [[str(s), states[s]] for s in State if states.get(s)],
            "streets": sorted(
                ((name, n) for name, n in streets.items()), key=lambda x: (-x[1], x[0])
            )[:20],
            "first": timezone.localtime(min(times)).strftime("%Y-%m-%d %H:%M") if times else "",
            "last": timezone.localtime(max(times)).strftime("%Y-%m-%d %H:%M") if times else "",
            "first_errors": [
                {"row": e.row, "column": e.column, "message": e.message} for e in self.errors[:50]
            ],
            "ignored": self.sheet.ignored,
            "header_row": self.sheet.header_row,
            "kind": self.sheet.kind,
            "encoding": self.sheet.encoding,
        }


# ---- reference data, loaded once per check --------------------------------------------------------


def _key(value: str) -> str:
    return C.normalize(value)


class _Places:
    """The area tree by id, name and code."""

    def __init__(self) -> None:
        self.by_id: dict[int, Area] = {}
        self.by_code: dict[str, Area] = {}
        self.named: dict[tuple[str, str], list[Area]] = defaultdict(list)  # (kind, name) → areas
        self.children: dict[int, list[Area]] = defaultdict(list)
        for area in Area.objects.only(
            "id", "kind", "code", "name", "parent_id", "path", "geometry"
        ).order_by("code"):
            self.by_id[area.pk] = area
            self.by_code[area.code] = area
            self.named[(area.kind, _key(area.name))].append(area)
            if area.parent_id:
                self.children[area.parent_id].append(area)

    def find(self, kind: str, value: str, parent: Area | None = None) -> list[Area]:
        area = self.by_code.get(value)
        if area is not None and area.kind == kind:
            found = [area]
        else:
            found = list(self.named.get((kind, _key(value)), []))
        if parent is not None:
            found = [a for a in found if a.parent_id == parent.pk]
        return found

    def ancestor(self, area: Area, kind: str) -> Area | None:
        for pk in [int(x) for x in area.path.strip("/").split("/") if x]:
            a = self.by_id.get(pk)
            if a is not None and a.kind == kind:
                return a
        return None


class _Categories:
    def __init__(self) -> None:
        self.by_code: dict[str, Category] = {}
        self.named: dict[str, list[Category]] = defaultdict(list)
        for cat in Category.objects.all():
            self.by_code[cat.code.upper()] = cat
            self.named[_key(cat.name)].append(cat)
            if cat.name_en:
                self.named[_key(cat.name_en)].append(cat)


class _Units:
    def __init__(self) -> None:
        self.by_code: dict[str, Unit] = {}
        self.named: dict[str, list[Unit]] = defaultdict(list)
        for unit in Unit.objects.all():
            self.by_code[unit.code] = unit
            self.named[_key(unit.name)].append(unit)

    def find(self, value: str) -> list[Unit]:
        unit = self.by_code.get(value)
        return [unit] if unit is not None else list(self.named.get(_key(value), []))


def existing_tickets(tickets: Iterable[str]) -> set[str]:
    """Ticket numbers already used by a case or a report (every case, whoever may see it)."""
    wanted = list(dict.fromkeys(tickets))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(Case.objects.filter(ticket_no__in=chunk).values_list("ticket_no", flat=True))
        found.update(Report.objects.filter(ticket_no__in=chunk).values_list("ticket_no", flat=True))
    return found


# ---- one row --------------------------------------------------------------------------------------


class _RowFailed(Exception):
    pass


@dataclass
class _Draft:
    """A row after the checks that need no location lookup."""

    row: int
    values: dict[str, Any]
    community: Area
    grid: Area | None
    point: tuple[float, float] | None


class _Checker:
    def __init__(self, sheet: Sheet, *, by: Any, crs: str, now: dt.datetime):
        self.sheet, self.by, self.crs, self.now = sheet, by, crs, now
        self.places, self.categories, self.units = _Places(), _Categories(), _Units()
        self.errors: list[RowError] = []
        self._row_errors: list[RowError] = []
        self.tickets: dict[int, str] = {}  # row → its ticket number, bad rows included
        self._calendar: workcal.WorkCalendar | None = None

    @property
    def calendar(self) -> workcal.WorkCalendar:
        """One snapshot of the working-day calendar (admin days of every year) per check."""
        if self._calendar is None:
            self._calendar = workcal.WorkCalendar.load()
        return self._calendar

    # -- helpers

    def cell(self, cells: list[Any], key: str) -> Any:
        index = self.sheet.columns.get(key)
        if index is None or index >= len(cells):
            return None
        value = cells[index]
        return None if isinstance(value, str) and not value.strip() else value

    def fail(self, row: int, key: str, message: str) -> None:
        self._row_errors.append(RowError(row, self.sheet.header_of(key), message))

    def text(self, cells: list[Any], key: str) -> str:
        return V.text(self.cell(cells, key))

    # -- the checks of one row, in the order a person reads the row

    def draft(self, row: int, cells: list[Any]) -> _Draft | None:
        self._row_errors = []
        out: dict[str, Any] = {}
        try:
            out["ticket"] = self.tickets[row] = V.parse_ticket(self.cell(cells, "ticket"))
        except ValueError as exc:
            self.fail(row, "ticket", str(exc))
        out["category"] = self._category(row, cells)
        community, grid = self._area(row, cells)
        point = self._point(row, cells)
        state_text = self.text(cells, "state")
        state = C.state_from(state_text)
        if not state_text:
            self.fail(row, "state", _("The state is missing."))
        elif state is None:
            self.fail(
                row,
                "state",
                _("Unknown state “%(value)s”. Use one of: %(states)s.")
                % {"value": state_text[:40], "states": "、".join(str(s.label) for s in State)},
            )
        out["state"] = state
        description = self.text(cells, "description")
        if not description:
            self.fail(row, "description", _("The description is missing."))
        elif len(description) > MAX_DESCRIPTION:
            self.fail(
                row,
                "description",
                _("Too long: at most %(max)d characters, this has %(count)d.")
                % {"max": MAX_DESCRIPTION, "count": len(description)},
            )
        out["description"] = description
        address = self.text(cells, "address")
        if len(address) > MAX_ADDRESS:
            self.fail(
                row,
                "address",
                _("Too long: at most %(max)d characters, this has %(count)d.")
                % {"max": MAX_ADDRESS, "count": len(address)},
            )
        out["address"] = address
        self._times(row, cells, out)
        out["unit"] = self._unit(row, cells, state)
        self._outcome(row, cells, out)
        source_text = self.text(cells, "source")
        source = C.source_from(source_text) if source_text else None
        out["source"], out["source_text"] = (str(source) if source else ""), source_text[:64]
        if self._row_errors or community is None:
            self.errors.extend(self._row_errors)
            return None
        return _Draft(row=row, values=out, community=community, grid=grid, point=point)

    def _category(self, row: int, cells: list[Any]) -> Category | None:
        code, name, big = (
            self.text(cells, "category_code"),
            self.text(cells, "category"),
            self.text(cells, "big_class"),
        )
        cats = self.categories
        found: Category | None = None
        if code:
            found = cats.by_code.get(code.upper())
            if found is None:
                self.fail(
                    row,
                    "category_code",
                    _("Unknown category code “%(code)s”.") % {"code": code[:20]},
                )
                return None
            if name and found not in self._by_name(name):
                self.fail(
                    row,
                    "category",
                    _("“%(name)s” is not the category with code %(code)s (%(expected)s).")
                    % {"name": name[:40], "code": found.code, "expected": found.name},
                )
                return None
        elif not name:
            self.fail(row, "category", _("The category is missing."))
            return None
        else:
            candidates = self._by_name(name)
            if big and len(candidates) > 1:
                candidates = [
                    c for c in candidates if _key(big) in {_key(c.big_name), _key(c.big_code)}
                ]
            if not candidates:
                self.fail(
                    row,
                    "category",
                    _(
                        "Unknown category “%(name)s”. Use a small class name or code from the template."
                    )
                    % {"name": name[:40]},
                )
                return None
            if len(candidates) > 1:
                self.fail(
                    row,
                    "category",
                    _("Several categories are called “%(name)s”; give %(column)s (%(codes)s).")
                    % {
                        "name": name[:40],
                        "column": self.sheet.header_of("category_code"),
                        "codes": ", ".join(c.code for c in candidates),
                    },
                )
                return None
            found = candidates[0]
        if big and _key(big) not in {_key(found.big_name), _key(found.big_code)}:
            self.fail(
                row,
                "big_class",
                _("“%(big)s” is not the big class of %(code)s (%(expected)s).")
                % {"big": big[:40], "code": found.code, "expected": found.big_name},
            )
            return None
        return found

    def _by_name(self, name: str) -> list[Category]:
        cats = self.categories
        if name.upper() in cats.by_code:
            return [cats.by_code[name.upper()]]
        first, _sep, rest = name.partition(" ")
        if rest and first.upper() in cats.by_code:  # "E0102 暴露垃圾", as some systems write it
            return [cats.by_code[first.upper()]]
        return list(cats.named.get(_key(name), []))

    def _area(self, row: int, cells: list[Any]) -> tuple[Area | None, Area | None]:
        places = self.places
        district_name, street_name = self.text(cells, "district"), self.text(cells, "street")
        community_name, grid_name = self.text(cells, "community"), self.text(cells, "grid")
        district = None
        if district_name:
            districts = places.find(AreaKind.DISTRICT, district_name)
            if len(districts) != 1:
                self.fail(
                    row,
                    "district",
                    _("Unknown district “%(name)s”.") % {"name": district_name[:40]},
                )
                return None, None
            district = districts[0]
        if not street_name:
            self.fail(row, "street", _("The street office is missing."))
            return None, None
        streets = places.find(AreaKind.STREET, street_name, district)
        if not streets:
            if district is not None and places.find(AreaKind.STREET, street_name):
                self.fail(
                    row,
                    "street",
                    _("Street office “%(street)s” is not in district “%(district)s”.")
                    % {"street": street_name[:40], "district": district.name},
                )
            else:
                self.fail(
                    row,
                    "street",
                    _("Unknown street office “%(name)s”.") % {"name": street_name[:40]},
                )
            return None, None
        if len(streets) > 1:
            self.fail(
                row,
                "street",
                _("Several street offices are called “%(name)s”; fill in %(column)s.")
                % {"name": street_name[:40], "column": self.sheet.header_of("district")},
            )
            return None, None
        street = streets[0]
        if not community_name:
            self.fail(row, "community", _("The community is missing."))
            return None, None
        communities = places.find(AreaKind.COMMUNITY, community_name, street)
        if len(communities) != 1:
            elsewhere = places.find(AreaKind.COMMUNITY, community_name)
            if elsewhere:
                parent = places.by_id.get(elsewhere[0].parent_id or 0)
                self.fail(
                    row,
                    "community",
                    _(
                        "Community “%(community)s” belongs to “%(other)s”, not to street office “%(street)s”."
                    )
                    % {
                        "community": community_name[:40],
                        "other": parent.name if parent else "?",
                        "street": street.name,
                    },
                )
            else:
                self.fail(
                    row,
                    "community",
                    _("Unknown community “%(name)s”.") % {"name": community_name[:40]},
                )
            return None, None
        community = communities[0]
        grid = None
        if grid_name:
            grids = places.find(AreaKind.GRID, grid_name, community)
            if len(grids) != 1:
                self.fail(
                    row,
                    "grid",
                    _("Grid “%(grid)s” is not in community “%(community)s”.")
                    % {"grid": grid_name[:40], "community": community.name},
                )
                return None, None
            grid = grids[0]
        if not policy.may_import_cases(self.by, (grid or community).path):
            self.fail(
                row,
                "community",
                _(
                    "Community “%(name)s” is outside your area: you may import only your own area's cases."
                )
                % {"name": community.name},
            )
            return None, None
        return community, grid

    def _point(self, row: int, cells: list[Any]) -> tuple[float, float] | None:
        raw_lon, raw_lat = self.cell(cells, "lon"), self.cell(cells, "lat")
        if raw_lon is None and raw_lat is None:
            return None
        try:
            lon, lat = V.parse_float(raw_lon), V.parse_float(raw_lat)
        except ValueError as exc:
            self.fail(
                row, "lon" if raw_lon is not None and _not_number(raw_lon) else "lat", str(exc)
            )
            return None
        if lon is None or lat is None:
            self.fail(
                row,
                "lat" if lat is None else "lon",
                _("Give both %(lon)s and %(lat)s, or neither.") % self._point_headers(),
            )
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            self.fail(
                row,
                "lat",
                _(
                    "(%(x)s, %(y)s) is not a place on Earth: %(lon)s is the longitude, %(lat)s the latitude."
                )
                % {"x": lon, "y": lat, **self._point_headers()},
            )
            return None
        return lat, lon

    def _point_headers(self) -> dict[str, str]:
        return {"lon": self.sheet.header_of("lon"), "lat": self.sheet.header_of("lat")}

    def _time(self, row: int, cells: list[Any], key: str) -> dt.datetime | None:
        try:
            value = V.parse_datetime(self.cell(cells, key), epoch=self.sheet.epoch)
        except ValueError as exc:
            self.fail(row, key, str(exc))
            return None
        if value is not None and value > self.now + FUTURE_TOLERANCE:
            self.fail(row, key, _("%(when)s is in the future.") % {"when": _show(value)})
            return None
        return value

    def _times(self, row: int, cells: list[Any], out: dict[str, Any]) -> None:
        for key in (*ORDERED_TIMES, "deadline_at"):
            out[key] = self._time(row, cells, key)
        if out["reported_at"] is None and self.cell(cells, "reported_at") is None:
            self.fail(row, "reported_at", _("The time of the report is missing."))
        previous: str | None = None
        for key in ORDERED_TIMES:
            if out[key] is None:
                continue
            if previous is not None and out[key] < out[previous]:
                self.fail(
                    row,
                    key,
                    _("%(column)s (%(when)s) is before %(earlier)s (%(then)s).")
                    % {
                        "column": self.sheet.header_of(key),
                        "when": _show(out[key]),
                        "earlier": self.sheet.header_of(previous),
                        "then": _show(out[previous]),
                    },
                )
            previous = key
        if (
            out["deadline_at"] is not None
            and out["dispatched_at"] is not None
            and out["deadline_at"] < out["dispatched_at"]
        ):
            self.fail(
                row,
                "deadline_at",
                _("%(column)s (%(when)s) is before %(earlier)s (%(then)s).")
                % {
                    "column": self.sheet.header_of("deadline_at"),
                    "when": _show(out["deadline_at"]),
                    "earlier": self.sheet.header_of("dispatched_at"),
                    "then": _show(out["dispatched_at"]),
                },
            )

    def _unit(self, row: int, cells: list[Any], state: State | None) -> Unit | None:
        name = self.text(cells, "unit")
        if not name:
            if state in UNIT_STATES:
                self.fail(
                    row,
                    "unit",
                    _("The handling unit is missing: a case in state “%(state)s” has one.")
                    % {"state": state.label if state else ""},
                )
            return None
        units = self.units.find(name)
        if not units:
            self.fail(
                row,
                "unit",
                _("Unknown handling unit “%(name)s”. Add it in civicloop first, or use its code.")
                % {"name": name[:60]},
            )
            return None
        if len(units) > 1:
            self.fail(
                row,
                "unit",
                _("Several units are called “%(name)s”; use the unit's code (%(codes)s).")
                % {"name": name[:60], "codes": ", ".join(u.code for u in units)},
            )
            return None
        unit = units[0]
        if state is not None and state not in CLOSED_STATES and not unit.active:
            self.fail(
                row,
                "unit",
                _("Unit “%(name)s” is inactive; an open case needs an active unit.")
                % {"name": unit.name},
            )
            return None
        return unit

    def _outcome(self, row: int, cells: list[Any], out: dict[str, Any]) -> None:
        """State-dependent times, the deadline, on-time flags, reworks and the rating."""
        state: State | None = out["state"]
        closed = state in CLOSED_STATES
        if state is not None:
            if out["closed_at"] is not None and not closed:
                self.fail(
                    row,
                    "closed_at",
                    _("A case in state “%(state)s” has no closing time.") % {"state": state.label},
                )
            if closed and out["closed_at"] is None and self.cell(cells, "closed_at") is None:
                out["closed_at"] = out["handled_at"]
                if out["closed_at"] is None:
                    self.fail(
                        row,
                        "closed_at",
                        _("A closed case needs %(closed)s (or %(handled)s).")
                        % {
                            "closed": self.sheet.header_of("closed_at"),
                            "handled": self.sheet.header_of("handled_at"),
                        },
                    )
            if out["handled_at"] is not None and state not in HANDLED_STATES:
                self.fail(
                    row,
                    "handled_at",
                    _("A case in state “%(state)s” was not handled yet; leave %(column)s empty.")
                    % {"state": state.label, "column": self.sheet.header_of("handled_at")},
                )
            if (
                state == State.HANDLED
                and out["handled_at"] is None
                and self.cell(cells, "handled_at") is None
            ):
                self.fail(
                    row,
                    "handled_at",
                    _("A handled case needs %(column)s.")
                    % {"column": self.sheet.header_of("handled_at")},
                )
        out["deadline_estimated"] = False
        category: Category | None = out["category"]
        if (
            out["deadline_at"] is None
            and out["dispatched_at"] is not None
            and category is not None
            and state in UNIT_STATES
        ):
            try:
                deadline = workcal.deadline_for(
                    start=out["dispatched_at"],
                    kind=category.time_limit_kind,
                    value=category.time_limit_value,
                    calendar=self.calendar,
                )
            except CivicError as exc:
                self.fail(row, "deadline_at", exc.message)
            else:
                out["deadline_at"], out["deadline_estimated"] = deadline.at, deadline.estimated
        if (
            state in CLOCK_RUNNING
            and out["deadline_at"] is None
            and self.cell(cells, "deadline_at") is None
        ):
            self.fail(
                row,
                "dispatched_at",
                _("A case still being handled needs %(dispatched)s or %(deadline)s.")
                % {
                    "dispatched": self.sheet.header_of("dispatched_at"),
                    "deadline": self.sheet.header_of("deadline_at"),
                },
            )
        overdue_text = self.text(cells, "overdue")
        overdue = C.yes_no_from(overdue_text) if overdue_text else None
        if overdue_text and overdue is None:
            self.fail(
                row, "overdue", _("Write 是 or 否, not “%(value)s”.") % {"value": overdue_text[:20]}
            )
        out["handled_on_time"] = out["closed_on_time"] = None
        deadline = out["deadline_at"]
        if out["handled_at"] is not None and deadline is not None:
            out["handled_on_time"] = out["handled_at"] <= deadline
        if closed and out["closed_at"] is not None:
            if deadline is not None:
                out["closed_on_time"] = out["closed_at"] <= deadline
                if overdue is not None and overdue == out["closed_on_time"]:
                    words = {
                        "column": self.sheet.header_of("overdue"),
                        "value": overdue_text[:20],
                        "deadline": _show(deadline),
                    }
                    if overdue:
                        message = (
                            _(
                                "%(column)s says “%(value)s”, but the case was closed by its deadline %(deadline)s."
                            )
                            % words
                        )
                    else:
                        message = (
                            _(
                                "%(column)s says “%(value)s”, but the case was closed after its deadline %(deadline)s."
                            )
                            % words
                        )
                    self.fail(row, "overdue", message)
            elif overdue is not None:
                out["closed_on_time"] = not overdue
        try:
            out["rework_count"] = V.parse_count(self.cell(cells, "rework_count"))
        except ValueError as exc:
            self.fail(row, "rework_count", str(exc))
        rating_text = self.text(cells, "rating")
        out["rating"] = ""
        if rating_text:
            rating = C.rating_from(rating_text)
            if rating is None:
                self.fail(
                    row,
                    "rating",
                    _("Unknown satisfaction “%(value)s”. Use one of: %(ratings)s.")
                    % {
                        "value": rating_text[:20],
                        "ratings": "、".join(str(r.label) for r in Rating),
                    },
                )
            elif state is not None and not closed:
                self.fail(
                    row,
                    "rating",
                    _("Only closed cases are rated; this one is “%(state)s”.")
                    % {"state": state.label},
                )
            else:
                out["rating"] = str(rating)

    # -- the location, for all rows at once

    def locate(self, drafts: list[_Draft]) -> list[Prepared]:
        with_point = [d for d in drafts if d.point is not None]
        points = [d.point for d in with_point if d.point is not None]
        found: dict[int, int] = {}
        if with_point:
            ids = grids_for_points([p[0] for p in points], [p[1] for p in points], crs=self.crs)  # type: ignore[index]
            found = {d.row: int(g) for d, g in zip(with_point, ids, strict=True)}
        prepared: list[Prepared] = []
        for d in drafts:
            self._row_errors = []
            placed = self._place(d, found.get(d.row))
            if placed is None or self._row_errors:
                self.errors.extend(self._row_errors)
                continue
            grid, lat, lon, located = placed
            street = self.places.ancestor(grid, AreaKind.STREET)
            v = d.values
            prepared.append(
                Prepared(
                    row=d.row,
                    ticket=v["ticket"],
                    state=v["state"],
                    category=v["category"],
                    grid=grid,
                    street=street.name if street else "",
                    lat=lat,
                    lon=lon,
                    located=located,
                    address=v["address"],
                    description=v["description"],
                    unit=v["unit"],
                    reported_at=v["reported_at"],
                    registered_at=v["registered_at"],
                    dispatched_at=v["dispatched_at"],
                    deadline_at=v["deadline_at"],
                    deadline_estimated=v["deadline_estimated"],
                    handled_at=v["handled_at"],
                    handled_on_time=v["handled_on_time"],
                    closed_at=v["closed_at"],
                    closed_on_time=v["closed_on_time"],
                    rework_count=v["rework_count"],
                    rating=v["rating"],
                    source=v["source"],
                    source_text=v["source_text"],
                )
            )
        return prepared

    def _place(self, d: _Draft, grid_id: int | None) -> tuple[Area, float, float, str] | None:
        if d.point is not None:
            lat, lon = d.point
            if self.crs == "gcj02":
                from civicloop.places.coords import gcj02_to_wgs84

                lat, lon = gcj02_to_wgs84(lat, lon)
            grid = self.places.by_id.get(grid_id) if grid_id not in (None, NO_GRID) else None  # type: ignore[arg-type]
            where = {"lon": f"{d.point[1]:.6f}", "lat": f"{d.point[0]:.6f}"}
            if grid is None:
                self.fail(
                    d.row,
                    "lon",
                    _("The point (%(lon)s, %(lat)s) is outside every grid of the city.") % where,
                )
                return None
            if grid.parent_id != d.community.pk:
                community = self.places.by_id.get(grid.parent_id or 0)
                self.fail(
                    d.row,
                    "lon",
                    _(
                        "The point (%(lon)s, %(lat)s) lies in community “%(other)s”, not in “%(community)s”."
                    )
                    % {
                        **where,
                        "other": community.name if community else "?",
                        "community": d.community.name,
                    },
                )
                return None
            if d.grid is not None and d.grid.pk != grid.pk:
                self.fail(
                    d.row,
                    "grid",
                    _("The point (%(lon)s, %(lat)s) lies in grid “%(other)s”, not in “%(grid)s”.")
                    % {**where, "other": grid.name, "grid": d.grid.name},
                )
                return None
            return grid, lat, lon, "point"
        if d.grid is not None:
            spot = d.grid.shape.representative_point()
            return d.grid, spot.y, spot.x, "grid"
        return self._community_spot(d)

    def _community_spot(self, d: _Draft) -> tuple[Area, float, float, str] | None:
        grids = self.places.children.get(d.community.pk, [])
        grids = [g for g in grids if g.kind == AreaKind.GRID]
        if not grids:
            self.fail(
                d.row,
                "community",
                _("Community “%(name)s” has no grids; give %(column)s or a point.")
                % {"name": d.community.name, "column": self.sheet.header_of("grid")},
            )
            return None
        spot: Point = d.community.shape.representative_point()
        for grid in grids:
            if grid.shape.covers(spot):
                return grid, spot.y, spot.x, "community"
        first = grids[0].shape.representative_point()
        return grids[0], first.y, first.x, "community"


def _not_number(value: Any) -> bool:
    try:
        V.parse_float(value)
    except ValueError:
        return True
    return False


def _show(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def check_ledger(
    sheet: Sheet, *, by: Any, crs: str = "wgs84", now: dt.datetime | None = None
) -> Checked:
    """Every row checked; nothing written. ``Checked.ok`` says whether it may be imported."""
    now = now or timezone.now()
    checker = _Checker(sheet, by=by, crs=crs, now=now)
    drafts = [d for d in (checker.draft(row, cells) for row, cells in sheet.rows) if d is not None]
    # Ticket numbers: unique in the file and new to civicloop (every row, bad ones too).
    header = sheet.header_of("ticket")
    taken = existing_tickets(checker.tickets.values())
    seen: dict[str, int] = {}
    refused: set[int] = set()
    for row, ticket in checker.tickets.items():
        if ticket in seen:
            refused.add(row)
            checker.errors.append(
                RowError(
                    row,
                    header,
                    _("Ticket number %(ticket)s is also in row %(row)d.")
                    % {"ticket": ticket, "row": seen[ticket]},
                )
            )
            continue
        seen[ticket] = row
        if ticket in taken:
            refused.add(row)
            checker.errors.append(
                RowError(
                    row,
                    header,
                    _(
                        "Ticket number %(ticket)s already exists in civicloop; take the row out (an import never changes a case)."
                    )
                    % {"ticket": ticket},
                )
            )
    prepared = checker.locate([d for d in drafts if d.row not in refused])
    errors = sorted(
        checker.errors, key=lambda e: e.row
    )  # stable: a row's errors stay in column order
    bad = {e.row for e in errors}
    return Checked(sheet=sheet, prepared=[p for p in prepared if p.row not in bad], errors=errors)
