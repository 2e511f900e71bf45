"""Logging in as each role lands on that role's page (web/roles.py), in a browser."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from civicloop.web.roles import ROLE_PAGES

PERSONAS = {
    "dispatcher": "dispatcher",
    "unit_staff": "unit_staff",
    "grid_worker": "grid_worker",
    "leader": "leader",
    "campaign_office": "campaign_office",
    "inspector": "inspector",
    "resident": "resident",
}


@pytest.mark.parametrize("role", list(PERSONAS))
def test_login_lands_each_role_on_its_page(site, open_page, log_in, shot, role):
    landing = reverse(ROLE_PAGES[role][0].url_name)
    page = open_page("desktop")
    log_in(page, PERSONAS[role])
    expect(page).to_have_url(re.compile(re.escape(site.at(landing)) + r"(\?.*)?$"))
    # The landing page is a real page of the shell: navigation marks it current.
    expect(page.get_by_role("navigation", name="Main").locator("[aria-current=page]")).to_have_attribute("href", landing)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    shot(page, "landing")


