"""The audit log page in a real headless Chromium (as tests/web/test_e2e.py): an operator's
change made through the dashboard shows up for an admin with the token's name and outcome,
filtered and a page at a time; the page's link is hidden from the operator, whom the API
refuses."""

import re
from pathlib import Path

import pytest

from ocppd.api.tokens import Role
from ocppd.web import audit_log as web_audit_log
from tests.api.conftest import Api
from tests.web.test_e2e import (  # noqa: F401 (fixtures)
    ARGS,
    TIMEOUT_MS,
    chromium_path,
    live,
    navigate,
    page_back_and_forth,
    shot,
)

pytestmark = pytest.mark.slow


async def sign_in(browser: object, served: Api, role: Role) -> object:
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    await page.goto(served.url + "/login")
    await page.get_by_label("API token").fill(served.tokens[role])
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(served.url + "/")
    await expect(page.locator("#role")).to_have_text(f"{role.value} · {role.value}")
    return page


async def test_an_admin_reads_what_an_operator_changed(
    live: Api,  # noqa: F811
    chromium_path: Path,  # noqa: F811
    record_screenshots: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.async_api import Page, async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            # The operator sets an id tag through the dashboard; no audit log for them.
            operator: Page = await sign_in(browser, live, Role.OPERATOR)  # type: ignore[assignment]
            main = operator.get_by_role("navigation", name="Main")
            await expect(main.get_by_role("link", name="Id tags")).to_be_visible()
            await expect(main.get_by_role("link", name="Audit log")).to_be_hidden()
            await navigate(operator, "Id tags")
            create = operator.locator("#tag-new")
            await create.get_by_label("Id tag", exact=True).fill("TAG-A")
            await create.get_by_role("button", name="Save").click()
            await expect(operator.locator("#live")).to_contain_text("TAG-A")
            await operator.goto(live.url + "/audit-log")
            await expect(operator.locator("#live")).to_contain_text("API answered 403")

            # A viewer's attempt, refused.
            viewer = live.client(Role.VIEWER)
            assert (await viewer("PUT", "/id-tags/TAG-V", {"status": "Accepted"})).status == 403

            # The admin sees both, newest first, with the tokens' names and the outcomes.
            admin: Page = await sign_in(browser, live, Role.ADMIN)  # type: ignore[assignment]
            await navigate(admin, "Audit log")
            await expect(admin).to_have_url(live.url + "/audit-log")
            rows = admin.locator("#live tbody tr")
            await expect(rows).to_have_count(2)
            await expect(rows.nth(0)).to_contain_text("viewer")
            await expect(rows.nth(0).locator(".badge")).to_have_text("refused")
            await expect(rows.nth(0)).to_contain_text("this needs the operator role")
            await expect(rows.nth(1)).to_contain_text("operator")
            await expect(rows.nth(1)).to_contain_text("put_id_tag")
            await expect(rows.nth(1).locator(".badge")).to_have_text("succeeded")
            await rows.nth(1).locator("summary", has_text="Details").click()
            await expect(rows.nth(1).locator("pre")).to_contain_text('"idTag": "TAG-A"')
            await admin.screenshot(path=shot(record_screenshots, "20-audit-log"), full_page=True)

            # Filters: by outcome, by the token's name.
            await admin.locator("#audit-filters-outcome").select_option("succeeded")
            await expect(rows).to_have_count(1)
            await expect(rows.nth(0)).to_contain_text("TAG-A")
            await expect(admin).to_have_url(re.compile(r"outcome=succeeded"))
            await admin.locator("#audit-filters-outcome").select_option("")
            await admin.locator("#audit-filters-actor").fill("viewer")
            await expect(rows).to_have_count(1)
            await expect(rows.nth(0)).to_contain_text("TAG-V")
            await admin.locator("#audit-filters-actor").fill("")
            await expect(rows).to_have_count(2)

            # A page of one, newest first.
            monkeypatch.setattr(web_audit_log, "LIST_LIMIT", 1)
            await admin.goto(live.url + "/audit-log")
            await page_back_and_forth(
                admin, admin.locator("#live"), ("TAG-V", "TAG-A"), ("Older", "Newest")
            )
        finally:
            await browser.close()


async def test_the_fragment_escapes_what_operators_sent_and_refuses_non_admins(
    served: Api,
) -> None:
    import asyncio

    from tests.web.conftest import fetch

    hostile = "<b>x</b>"
    operator = served.client(Role.OPERATOR)
    tag = {"status": "Accepted", "parentIdTag": hostile}
    assert (await operator("PUT", "/id-tags/T1", tag)).status == 201
    shown = await asyncio.to_thread(
        fetch, served.url + "/fragments/audit-log", served.tokens[Role.ADMIN]
    )
    assert shown.status == 200 and "put_id_tag" in shown.text
    assert "&lt;b&gt;x&lt;/b&gt;" in shown.text and hostile not in shown.text
    for role in (Role.VIEWER, Role.OPERATOR):
        refused = await asyncio.to_thread(
            fetch, served.url + "/fragments/audit-log", served.tokens[role]
        )
        assert refused.status == 403 and "needs the admin role" in refused.text
    shell = await asyncio.to_thread(fetch, served.url + "/audit-log")
    assert 'href="/audit-log" aria-current=page data-needs=admin hidden' in shell.text
