"""What ``civicloop demo`` prints: the URL and one login per role with the page it starts on,
then the Open311 endpoint with the demo city's jurisdiction and a working api_key.

The start page is the one the login redirect sends that user to (``web.roles.landing_url``),
so what is printed is what happens. Where it helps, a case to try is named too, found
within the role's own scope (``policy.visible_cases``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from civicloop.api.open311.selectors import jurisdiction as open311_jurisdiction
from civicloop.cases.models import Case, Report, State
from civicloop.cases.selectors import overdue_q
from civicloop.org import policy
from civicloop.org.models import User
from civicloop.places.models import Area, AreaKind
from civicloop.web.roles import landing_url

from .loader import DEMO_PASSWORD, LOGINS, demo_loaded
from .models import DemoLoad
from .open311 import DEMO_CLIENT, open311_demo_key


@dataclass(frozen=True)
class LoginLine:
    username: str
    role: str
    name: str
    start: str  # path of the page the login lands on
    hint: str = ""  # a case worth opening, with its path


def _newest(cases: QuerySet[Case], condition: Q) -> Case | None:
    return cases.filter(condition).order_by("-reported_at", "-pk").first()


def _case_page(case: Case) -> str:
    return reverse("web:case", kwargs={"case_id": case.pk})


def _hint(username: str, user: User) -> str:
    """A case this login would open first, if there is one in its scope."""
    if username == "resident":
        report = Report.objects.filter(reporter=user).order_by("-created_at", "-pk").first()
        if report is not None:
            page = reverse("web:ticket_detail", kwargs={"ticket_no": report.ticket_no})
            return f"his latest report: {page}"
        return ""
    wanted = {
        "gridworker": [
            (Q(state=State.HANDLED), "a fix awaiting her check"),
            (Q(state=State.CLOSED), "a closed case, look-back to come"),
        ],
        "unitstaff": [
            (overdue_q(), "an overdue case of his unit"),
            (Q(state=State.IN_PROGRESS), "a case his unit is handling"),
        ],
        "inspector": [(Q(state=State.RECURRED), "a problem that came back at the look-back")],
    }
    for condition, what in wanted.get(username, []):
        case = _newest(policy.visible_cases(user), condition)
        if case is not None:
            return f"{what}: {_case_page(case)}"
    return _inspection_hint(username, user)


def _inspection_hint(username: str, user: User) -> str:
    """The campaign office's latest published round (rankings, bulletin, look-back)."""
    from civicloop.inspections.models import RoundStatus

    if username != "campaign":
        return ""
    rnd = (
        policy.visible_rounds(user)
        .filter(status=RoundStatus.PUBLISHED, lookback_of=None, lookbacks__isnull=False)
        .order_by("-period_end", "-pk")
        .first()
    )
    if rnd is None:
        return ""
    page = reverse("inspections:round_detail", kwargs={"round_id": rnd.pk})
    return f"an undercover round with its findings, look-back and bulletin: {page}"


def login_lines() -> list[LoginLine]:
    users = {
        u.username: u
        for u in User.objects.filter(username__in=[login.username for login in LOGINS])
    }
    lines = []
    for login in LOGINS:
        user = users.get(login.username)
        if user is not None:
            name = user.display_name or user.username
            start = landing_url(user)
            lines.append(
                LoginLine(
                    login.username, login.role_label, name, start, _hint(login.username, user)
                )
            )
    return lines


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def open311_lines(base: str) -> list[str]:
    """Open311 for the demo city: where, the jurisdiction, a working api_key (issued now, see
    demo/open311.py) and a POST to try with it, at a point inside the city's first grid."""
    key = open311_demo_key()
    jurisdiction = open311_jurisdiction()
    discovery = reverse("open311:discovery", kwargs={"fmt": "xml"})
    requests = reverse("open311:requests", kwargs={"fmt": "json"})
    lines = [
        f"Open311 GeoReport v2: {base}{discovery} (services.xml, requests.json …)",
        f"  jurisdiction_id  {jurisdiction}",
        f"  api_key          {key}",
        f"                   (write scope, account {DEMO_CLIENT}; a new key each time this list is "
        "printed, the earlier one revoked)",
    ]
    grid = Area.objects.filter(kind=AreaKind.GRID).order_by("code").first()
    if grid is not None:
        point = grid.shape.representative_point()
        lines.append(
            f"  try: curl -d api_key={key} -d jurisdiction_id={jurisdiction} -d service_code=E0102 "
            f"-d lat={point.y:.6f} -d long={point.x:.6f} --data-urlencode description=路边垃圾堆放 "
            f"{base}{requests}"
        )
    return lines


def demo_banner(base_url: str) -> str:
    """The text printed once ``civicloop demo`` serves."""
    base = base_url.rstrip("/")
    if not demo_loaded():
        return f"civicloop at {base}/: the demo city is not loaded (civicloop manage load_demo).\n"
    out = [f"civicloop demo city: {base}/"]
    load = DemoLoad.objects.order_by("-pk").first()
    if load is not None:
        until = timezone.localtime(load.anchor)
        out.append(f"  {load.cases} reports over the half year up to {until:%Y-%m-%d %H:%M}")
    out += [
        "",
        f"Demo logins: sign in at {base}{reverse('web:login')} (password for all: {DEMO_PASSWORD})",
    ]
    lines = login_lines()
    fields = ("username", "role", "name", "start")
    widths = {f: max(_width(getattr(line, f)) for line in lines) for f in fields}
    widths["start"] += len(base)
    for line in lines:
        row = "  ".join(
            [
                _pad(line.username, widths["username"]),
                _pad(line.role, widths["role"]),
                _pad(line.name, widths["name"]),
                _pad(f"starts on {base}{line.start}", widths["start"] + len("starts on ")),
            ]
        )
        if line.hint:
            what, _, page = line.hint.rpartition(": ")
            row += f"  {what}: {base}{page}"
        out.append(f"  {row.rstrip()}")
    out += ["", *open311_lines(base)]
    out += [
        "",
        f"Without a login: {base}{reverse('web:home')} (front page), "
        f"{base}{reverse('web:report')} (report a problem), "
        f"{base}/t/<ticket number>/ (follow a case), {base}{reverse('web:nearby')} (problems nearby)",
    ]
    return "\n".join(out) + "\n"
