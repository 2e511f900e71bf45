"""``make demo`` prints an Open311 api_key and jurisdiction for the demo city, and the key it
prints works for a POST (issue 4 point 2); printing again revokes the earlier key."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from civicloop.api.models import ApiToken
from civicloop.cases.models import Report
from civicloop.demo.loader import load_demo
from civicloop.demo.logins import demo_banner
from civicloop.demo.open311 import DEMO_CLIENT
from civicloop.org.models import RoleAssignment, User

from .test_open311_support import generous_limits, parse_json  # noqa: F401  (fixture)

ANCHOR = dt.datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
BASE = "http://127.0.0.1:8000"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_limits")]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        with transaction.atomic():
            load_demo(cases=20, seed=3, anchor=ANCHOR)
            yield
            transaction.set_rollback(True)


def _printed(banner: str) -> dict[str, str]:
    found = {
        "jurisdiction": re.search(r"^  jurisdiction_id  (\S+)$", banner, re.MULTILINE),
        "key": re.search(r"^  api_key          (clk_\S+)$", banner, re.MULTILINE),
        "try": re.search(r"^  try: curl (.+) (\S+)$", banner, re.MULTILINE),
    }
    assert all(found.values()), banner
    return {name: match.group(1) for name, match in found.items()}


def _curl_form(arguments: str) -> dict[str, str]:
    """The -d / --data-urlencode pairs of the printed curl line."""
    return dict(
        pair.split("=", 1) for pair in re.findall(r"(?:-d|--data-urlencode) (\S+)", arguments)
    )


def test_the_loader_creates_the_integration_account_once(demo) -> None:
    user = User.objects.get(username=DEMO_CLIENT)
    assert not RoleAssignment.objects.filter(user=user).exists()
    assert not user.has_usable_password()
    assert ApiToken.objects.filter(user=user).exists()


def test_the_printed_key_works_for_an_open311_post(demo, client) -> None:
    printed = _printed(demo_banner(BASE))
    assert printed["jurisdiction"] == "650100"  # the demo city's division code
    assert f"{BASE}/open311/v2/discovery.xml" in demo_banner(BASE)
    printed = _printed(demo_banner(BASE))  # printing again gives a new key …
    data = _curl_form(printed["try"])
    assert data["api_key"] == printed["key"] and data["jurisdiction_id"] == printed["jurisdiction"]
    response = client.post("/open311/v2/requests.json", data)
    assert response.status_code == 201, response.content
    ticket = parse_json(response)[0]["service_request_id"]
    assert Report.objects.get(ticket_no=ticket).reporter.username == DEMO_CLIENT


def test_printing_again_revokes_the_earlier_key(demo, client) -> None:
    earlier = _printed(demo_banner(BASE))
    later = _printed(demo_banner(BASE))
    assert earlier["key"] != later["key"]
    data = {**_curl_form(later["try"]), "description": "另一处垃圾"}
    assert (
        client.post("/open311/v2/requests.json", {**data, "api_key": earlier["key"]}).status_code
        == 403
    )
    assert client.post("/open311/v2/requests.json", data).status_code in (201, 202)
    live = ApiToken.objects.filter(user__username=DEMO_CLIENT, revoked_at__isnull=True)
    assert live.count() == 1
