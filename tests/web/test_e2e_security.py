"""The security extension in a real headless Chromium against `ocppd serve`, with a charger on
a real socket: critical security events appear on the security page as they arrive (no
reload), the installed certificates after the command form's GetInstalledCertificateIds, and
a security log asked for on the jobs page, uploaded and downloadable."""

import asyncio
from pathlib import Path

import pytest

from tests.api.conftest import Api, charge_point
from tests.api.test_commands import HASH_DATA, with_security_extension
from tests.api.test_diagnostics import http
from tests.eventually import eventually
from tests.web.test_e2e import ARGS, TIMEOUT_MS, chromium_path, live, shot, sign_in

__all__ = ["chromium_path", "live"]

pytestmark = pytest.mark.slow

CP = "SEC-1"


async def test_security_events_certificates_and_logs_in_the_browser(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    await with_security_extension(live, CP)
    async with charge_point(live, CP) as cp, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(page, live)
            await (
                page.get_by_role("navigation", name="Main")
                .get_by_role("link", name="Security")
                .click()
            )
            critical = page.locator("#critical")
            await expect(critical).to_contain_text("No critical security event.")
            await expect(page.locator("#stream")).to_have_text("Live")
            # Pushed by the event stream: the page is not reloaded.
            for event_type in ("InvalidMessages", "TamperDetectionActivated"):
                payload = {
                    "type": event_type,
                    "timestamp": "2026-11-25T12:00:00Z",
                    "techInfo": f"<b>{event_type}</b>",
                }
                assert await cp.ask("SecurityEventNotification", payload) == {}
            await expect(critical.locator("tbody tr")).to_have_count(1)
            await expect(critical).to_contain_text("TamperDetectionActivated")
            await expect(critical.locator(".badge")).to_have_text("Critical")
            everything = page.locator("#live")
            await expect(everything.locator("tbody tr")).to_have_count(2)
            await expect(everything).to_contain_text("<b>InvalidMessages</b>")  # escaped
            await page.locator("#sec-filters").get_by_label("Critical").select_option("false")
            await expect(everything.locator("tbody tr")).to_have_count(1)
            await expect(everything).to_contain_text("InvalidMessages")
            await page.screenshot(path=shot(record_screenshots, "16-security-events"))

            # The charge point's page: its events, and the certificates it reports.
            await page.goto(f"{live.url}/charge-points/{CP}")
            security = page.locator("#security")
            await expect(security).to_contain_text("None reported")
            await expect(security).to_contain_text("TamperDetectionActivated")
            cp.replies["GetInstalledCertificateIds"] = {
                "status": "Accepted",
                "certificateHashData": [HASH_DATA],
            }
            await page.locator("summary", has_text="Security extension").click()  # it folds
            form = page.locator("#cmd-GetInstalledCertificateIds")
            await form.get_by_label("Certificate type").select_option(
                "CentralSystemRootCertificate"
            )
            await form.get_by_role("button", name="Ask").click()
            await expect(form.locator("output")).to_contain_text('"status": "Accepted"')
            await expect(security).to_contain_text("CentralSystemRootCertificate")
            await expect(security).to_contain_text(HASH_DATA["issuerKeyHash"])

            # A security log, from the jobs page.
            cp.replies["GetLog"] = {"status": "Accepted", "filename": "security.log"}
            await page.goto(f"{live.url}/charge-points/{CP}/jobs")
            log_form = page.locator("#job-log")
            await log_form.get_by_label("Log").select_option("SecurityLog")
            await log_form.get_by_role("button", name="Request upload").click()
            await expect(log_form.locator("output")).to_contain_text('"kind": "log"')
            logs = page.locator("#logs")
            await expect(logs.locator(".badge")).to_have_text("Requested")
            await eventually(lambda: any(a == "GetLog" for a, _ in cp.received), "GetLog sent")
            request = next(p for a, p in cp.received if a == "GetLog")
            location = request["log"]["remoteLocation"]
            assert (await http("PUT", location + "security.log", b"the log"))[0] == 201
            uploaded = {"status": "Uploaded", "requestId": request["requestId"]}
            assert await cp.ask("LogStatusNotification", uploaded) == {}
            await expect(logs.locator(".badge")).to_have_text("Uploaded")
            async with page.expect_download() as downloading:
                await logs.get_by_role("button", name="Download").click()
            saved = Path(await (await downloading.value).path())
            assert await asyncio.to_thread(saved.read_bytes) == b"the log"
            await page.screenshot(path=shot(record_screenshots, "17-logs"), full_page=True)
        finally:
            await browser.close()
