"""Where each role works: its landing page and its navigation.

One table, read by the login redirect (``/me/``), the navigation bar and the demo
logins, so a role's front door is named in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from civicloop.org import policy
from civicloop.org.models import Role


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: Any
    # A policy predicate (name of a function in org.policy taking the user) for pages that
    # only some holders of the role may open (e.g. the city-level office).
    may: str | None = None


# Role → pages, first one is where the role lands after logging in.
ROLE_PAGES: dict[str, tuple[NavItem, ...]] = {
    Role.DISPATCHER: (
        NavItem("web:dispatch_queue", _("Intake queue")),
        NavItem("web:cases", _("All cases")),
        NavItem("web:dispatch_map", _("Map")),
        NavItem("web:extensions", _("Extension requests")),
        NavItem("moderation:queue", _("Held reports")),
        NavItem("web:overview", _("Overview")),
        NavItem("inspections:rankings", _("Rankings")),
        NavItem("ledger:home", _("Ledger")),
        NavItem("webhooks:home", _("Integrations")),
    ),
    Role.UNIT_STAFF: (
        NavItem("web:unit_tasks", _("My tasks")),
        NavItem("inspections:home", _("Inspections")),
        NavItem("inspections:rankings", _("Rankings")),
        NavItem("web:cases", _("All cases")),
        NavItem("ledger:home", _("Ledger")),
        NavItem("webhooks:home", _("Integrations")),
    ),
    Role.GRID_WORKER: (NavItem("web:grid_home", _("My grid")), NavItem("web:report", _("Report a problem"))),
    Role.LEADER: (
        NavItem("web:overview", _("Overview")),
        NavItem("inspections:rankings", _("Rankings")),
        NavItem("inspections:unit_evaluation", _("Unit evaluation")),
        NavItem("inspections:home", _("Inspections")),
        NavItem("lifecircle:map", _("Life circle")),
        NavItem("web:cases", _("All cases")),
        NavItem("ledger:home", _("Ledger")),
    ),
    Role.CAMPAIGN_OFFICE: (
        NavItem("inspections:home", _("Inspections")),
        NavItem("inspections:standards", _("Standards")),
        NavItem("inspections:sites", _("Sites")),
        NavItem("inspections:rankings", _("Rankings")),
        NavItem("inspections:unit_evaluation", _("Unit evaluation")),
        NavItem("lifecircle:map", _("Life circle")),
        NavItem("lifecircle:network", _("Walking network"), may="may_manage_lifecircle"),
        NavItem("web:overview", _("Overview")),
        NavItem("web:cases", _("All cases")),
        NavItem("ledger:home", _("Ledger")),
    ),
    Role.INSPECTOR: (
        NavItem("inspections:inspect_home", _("My inspections")),
        NavItem("inspections:home", _("Rounds")),
        NavItem("inspections:standards", _("Standards")),
        NavItem("inspections:rankings", _("Rankings")),
        NavItem("web:cases", _("All cases")),
        NavItem("web:grid_home", _("On-site checks")),
        NavItem("web:report", _("Report a problem")),
    ),
    Role.RESIDENT: (NavItem("web:report", _("Report a problem")), NavItem("web:nearby", _("Problems nearby"))),
}
# When a user holds several roles, the first in this order decides the landing page.
LANDING_ORDER = (
    Role.DISPATCHER, Role.UNIT_STAFF, Role.GRID_WORKER, Role.LEADER, Role.CAMPAIGN_OFFICE, Role.INSPECTOR, Role.RESIDENT,
)
PUBLIC_PAGES = (NavItem("web:report", _("Report a problem")), NavItem("web:nearby", _("Problems nearby")))


def roles_of(user: Any) -> list[str]:
    held = {g.role for g in policy.grants(user)} if getattr(user, "is_authenticated", False) else set()
    return [r for r in LANDING_ORDER if r in held]


def _resolve(items: tuple[NavItem, ...], user: Any = None) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for item in items:
        if item.may is not None and not getattr(policy, item.may)(user):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue  # a page of a later issue; the navigation test lists which
        if url not in {u for u, _ in out}:
            out.append((url, item.label))
    return out


def navigation(user: Any) -> list[tuple[str, Any]]:
    roles = roles_of(user)
    if not roles:
        return _resolve(PUBLIC_PAGES)
    items: tuple[NavItem, ...] = ()
    for role in roles:
        items += ROLE_PAGES[role]
    return _resolve(items, user)


def landing_url(user: Any) -> str:
    """The page a user starts on: his first role's first page; admins without a role → admin."""
    for role in roles_of(user):
        pages = _resolve(ROLE_PAGES[role][:1], user)
        if pages:
            return pages[0][0]
    if policy.is_admin(user):
        return reverse("admin:index")
    return reverse("web:home")
