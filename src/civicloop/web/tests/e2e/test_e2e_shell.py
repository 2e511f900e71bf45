"""The page shell in a browser: logging in, the language switch."""

from __future__ import annotations

from playwright.sync_api import expect


def test_wrong_password_stays_on_the_login_form(site, open_page, log_in):
    page = open_page("phone")
    log_in(page, "dispatcher", password="wrong")
    expect(page).to_have_url(site.at("/login/"))
    expect(page.get_by_role("alert")).to_be_visible()


def test_language_switch_to_english_and_back(site, open_page, shot):
    # Checked on the shell's own strings (header, login page), which are translated.
    page = open_page("phone", locale="zh-CN")
    page.goto(site.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("link", name="工作人员登录").first).to_be_visible()
    shot(page, "chinese")

    with page.expect_navigation():
        page.get_by_label("语言").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Staff login").first).to_be_visible()
    expect(page.get_by_label("Language")).to_have_value("en")
    shot(page, "english")

    # The choice sticks (a cookie), whatever the phone's own language says.
    page.goto(site.at("/login/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff login")

    with page.expect_navigation():
        page.get_by_label("Language").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("工作人员登录")
