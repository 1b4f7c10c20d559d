"""What only an admin may change or read, in a real headless Chromium against `ocppd serve`:
the charge point's default file transport (issue 20) is shown to everyone on its jobs page and
its page, and an admin changes it there; the audit log (issue 19) is neither linked nor shown
to a viewer: the page says why, without its filters."""

from pathlib import Path

import pytest

from ocppd.api.tokens import Role
from tests.api.conftest import Api
from tests.web.test_e2e import ARGS, CHARGER, TIMEOUT_MS, chromium_path, live, shot, sign_in

__all__ = ["chromium_path", "live"]

pytestmark = pytest.mark.slow


async def test_an_admin_changes_the_default_file_transport_a_viewer_sees_it(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            admin = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(admin, live, Role.ADMIN)
            await admin.goto(f"{live.url}/charge-points/{CHARGER}/jobs")
            shown = admin.locator("#file-transport-default")
            await expect(shown).to_have_text("HTTP")
            form = admin.locator("#file-transport")
            await form.get_by_label("Default").select_option("ftp")
            await form.get_by_role("button", name="Save").click()
            await expect(form.locator("output")).to_contain_text('"fileTransport": "ftp"')
            await expect(shown).to_have_text("FTP")  # the form refreshes what is shown
            await admin.screenshot(path=shot(record_screenshots, "18-file-transport"))
            await admin.goto(f"{live.url}/charge-points/{CHARGER}")
            await expect(admin.locator("#file-transport")).to_have_text("FTP")

            viewer = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(viewer, live, Role.VIEWER)
            await viewer.goto(f"{live.url}/charge-points/{CHARGER}/jobs")
            await expect(viewer.locator("#file-transport-default")).to_have_text("FTP")
            await expect(viewer.locator("#file-transport")).to_be_hidden()
        finally:
            await browser.close()


async def test_a_viewer_gets_neither_the_audit_logs_link_nor_its_page(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(page, live, Role.VIEWER)
            navigation = page.get_by_role("navigation", name="Main")
            await expect(navigation.get_by_role("link", name="Charge points")).to_be_visible()
            await expect(navigation.get_by_role("link", name="Audit log")).to_be_hidden()
            await page.goto(live.url + "/audit-log")
            await expect(page.locator("#live")).to_contain_text("needs the admin role")
            await expect(page.locator("#audit-filters")).to_be_hidden()
            await expect(page.get_by_role("table")).to_have_count(0)
            await page.screenshot(path=shot(record_screenshots, "19-audit-log-viewer"))

            admin = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(admin, live, Role.ADMIN)
            await admin.goto(live.url + "/audit-log")
            await expect(admin.locator("#audit-filters")).to_be_visible()
            await expect(
                admin.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log")
            ).to_be_visible()
        finally:
            await browser.close()


async def test_an_admin_sets_the_authorization_key_the_upgrade_to_2_needs(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    """Without a key, the upgrade to profile 2 is refused with "set one first": the Security
    card sets it (typed hidden, never shown back, only whether one is set)."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(page, live, Role.ADMIN)
            await page.goto(f"{live.url}/charge-points/{CHARGER}")
            key = page.locator("#authorization-key")
            await expect(key).to_have_text("none")
            form = page.locator("#security-settings")
            field = form.get_by_label("AuthorizationKey")
            await expect(field).to_have_attribute("type", "password")
            await field.fill("0123456789abcdef0123")
            await form.get_by_role("button", name="Save security settings").click()
            await expect(form.locator("output")).to_contain_text('"basicAuth": true')
            await expect(key).to_have_text("set")
            await expect(page.locator("main")).not_to_contain_text("0123456789abcdef0123")
            await page.screenshot(path=shot(record_screenshots, "21-authorization-key"))
        finally:
            await browser.close()
    shown = await live.client(Role.ADMIN)("GET", f"/charge-points/{CHARGER}")
    assert shown.body["basicAuth"] is True
