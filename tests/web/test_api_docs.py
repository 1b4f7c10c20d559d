"""The API's docs page in a real headless Chromium: Swagger UI renders the operations with
every request to another host refused (its scripts and styles come from ocppd, not a CDN)."""

from pathlib import Path

import pytest

from tests.api.conftest import Api
from tests.web.test_e2e import ARGS, TIMEOUT_MS, chromium_path, live, shot

__all__ = ["chromium_path", "live"]

pytestmark = pytest.mark.slow


async def test_the_api_docs_render_without_internet(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    """/api/v1/docs shows Swagger UI with the API's operations, its scripts and styles served
    by ocppd itself: every request to another host is refused, and none is made."""
    from playwright.async_api import Route, async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    elsewhere: list[str] = []

    async def only_localhost(route: Route) -> None:
        if route.request.url.startswith(live.url + "/"):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.route("**/*", only_localhost)
            await page.goto(live.url + "/api/v1/docs")
            await expect(page.locator(".swagger-ui .info .title")).to_contain_text("ocppd")
            operations = page.locator(".opblock")
            await expect(operations.first).to_be_visible()
            assert await operations.count() >= 60
            remote_start = page.locator(".opblock-post").filter(
                has_text="/api/v1/charge-points/{chargePointId}/commands/RemoteStartTransaction"
            )
            await expect(remote_start).to_have_count(1)
            await page.screenshot(path=shot(record_screenshots, "14-api-docs"))
        finally:
            await browser.close()
    assert elsewhere == []
