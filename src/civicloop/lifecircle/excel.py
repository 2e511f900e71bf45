"""The life circle as an Excel workbook (``/lifecircle/export.xlsx``): the coverage of each
community and of each street office, and the gap list, with the headers in the reader's
language (Chinese first). Only the areas and places the reader may see (``selectors``
scope every read)."""

from __future__ import annotations

import io
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.ledger.values import safe_text

from . import selectors
from .models import FacilityKind, ReachState

NO_VALUE = "—"


def kind_header(kind: FacilityKind) -> str:
    """ "超市 (10 min) %": the kind with its life circle."""
    return _("%(name)s (%(minutes)d min) %%") % {"name": kind.name, "minutes": kind.level_minutes}


def state_label(*, state: str, kind: FacilityKind) -> str:
    """What a gap is: too far within the search distance, beyond it, or not connected."""
    if state == ReachState.REACHED:
        return _("Not within %(minutes)d minutes") % {"minutes": kind.level_minutes}
    return str(ReachState(state).label)


def _share(value: float | None) -> Any:
    return NO_VALUE if value is None else value


def _coverage_sheet(
    ws: Any, table: selectors.CoverageTable, *, name_header: str, parent_header: str
) -> None:
    from openpyxl.styles import Font

    ws.append(
        [
            name_header,
            parent_header,
            _("Households"),
            *(kind_header(k) for k in table.kinds),
            _("All required kinds %"),
        ]
    )
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        ws.append(
            [
                safe_text(row.area.name),
                safe_text(row.parent_name),
                row.households,
                *(
                    _share(row.by_kind[k.pk].share if k.pk in row.by_kind else None)
                    for k in table.kinds
                ),
                _share(row.all_required.share if row.all_required else None),
            ]
        )
        for cell in ws[ws.max_row][3:]:
            if isinstance(cell.value, float):
                cell.number_format = "0.0"
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 20
    ws.freeze_panes = "C2"


def coverage_workbook(user: Any) -> io.BytesIO:
    """Three sheets: per community, per street office, the gap list."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    ws = book.active
    ws.title = _("Communities")[:31]
    _coverage_sheet(
        ws,
        selectors.coverage_table(user, level="community"),
        name_header=_("Community"),
        parent_header=_("Street office"),
    )
    ws = book.create_sheet(_("Street offices")[:31])
    _coverage_sheet(
        ws,
        selectors.coverage_table(user, level="street"),
        name_header=_("Street office"),
        parent_header=_("District"),
    )
    ws = book.create_sheet(_("Gaps")[:31])
    ws.append(
        [
            _("Kind of facility"),
            _("Compound or building"),
            _("Community"),
            _("Street office"),
            _("Households"),
            _("State"),
            _("Walking distance (m)"),
            _("Minutes"),
            _("Nearest facility"),
        ]
    )
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for gap in selectors.gaps(user):
        ws.append(
            [
                safe_text(gap.kind.name),
                safe_text(gap.name),
                safe_text(gap.community),
                safe_text(gap.street),
                gap.households,
                state_label(state=gap.state, kind=gap.kind),
                round(gap.distance_m) if gap.distance_m is not None else NO_VALUE,
                round(gap.minutes, 1) if gap.minutes is not None else NO_VALUE,
                safe_text(gap.facility) or NO_VALUE,
            ]
        )
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 28
    ws.column_dimensions["F"].width = 30
    ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.properties.created = timezone.now().replace(tzinfo=None)
    book.save(buffer)
    buffer.seek(0)
    return buffer
