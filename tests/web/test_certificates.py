"""The certificates page: hostile values stay text, and in a real Chromium an admin approves a
charger's held certificate request with the page's button (the charger, a real WebSocket
client, receives the chain) and rejects another; a viewer sees no buttons."""

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from ocppd.api.tokens import Role
from ocppd.csms import models
from ocppd.csms.certificate_authority import CaFiles, fingerprint
from ocppd.web import certificates
from tests.api.conftest import Api, charge_point
from tests.api.test_certificate_authority import make_csr, with_extension
from tests.eventually import eventually
from tests.web.test_e2e import ARGS, CHARGER, TIMEOUT_MS, chromium_path, live, shot  # noqa: F401

HOSTILE = '<script>alert("x")</script>'


def test_hostile_values_stay_text() -> None:
    item = {
        "id": 7,
        "chargePointId": HOSTILE,
        "status": HOSTILE,
        "reason": HOSTILE,
        "subject": HOSTILE,
        "keyType": HOSTILE,
        "keyBits": 2048,
        "serialNumber": HOSTILE,
        "chargerAnswer": HOSTILE,
        "requestedAt": "2026-12-06T12:00:00Z",
    }
    for html in (
        certificates.pending_fragment([item]),
        certificates.recent_fragment([item]),
        certificates.authority_fragment({"rootFingerprint": HOSTILE}),
    ):
        assert "<script>" not in html
        assert "&lt;script&gt;" in html


@pytest.mark.slow
async def test_an_admin_approves_and_rejects_from_the_page(
    live: Api,  # noqa: F811
    chromium_path: Path,  # noqa: F811
    record_screenshots: list[Path],
) -> None:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    authority = CaFiles.of(live.system.settings.data_dir).initialize(live.system.clock())
    await with_extension(live, CHARGER)
    await with_extension(live, "OTHER")
    async with charge_point(live, CHARGER) as cp, charge_point(live, "OTHER") as other:
        cp.replies["CertificateSigned"] = {"status": "Accepted"}
        for charger, identity in ((cp, CHARGER), (other, "OTHER")):
            answer = await charger.ask(
                "SignCertificate",
                {"csr": make_csr(ec.generate_private_key(ec.SECP256R1()), identity)},
            )
            assert answer == {"status": "Accepted"}
        async with live.system.engine.connect() as db:
            first, second = (
                await db.execute(
                    sa.select(models.certificate_requests.c.id).order_by(
                        models.certificate_requests.c.id
                    )
                )
            ).scalars()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium_path), args=ARGS
            )
            try:
                viewer = await browser.new_page()
                await viewer.goto(live.url + "/login")
                await viewer.get_by_label("API token").fill(live.tokens[Role.VIEWER])
                await viewer.keyboard.press("Enter")
                await expect(viewer).to_have_url(live.url + "/")
                await viewer.goto(live.url + "/certificates")
                await expect(viewer.locator("#pending tbody tr")).to_have_count(2)
                await expect(viewer.locator(f"#approve-{first}")).to_be_hidden()

                page = await browser.new_page()
                await page.goto(live.url + "/login")
                await page.get_by_label("API token").fill(live.tokens[Role.ADMIN])
                await page.keyboard.press("Enter")
                await expect(page).to_have_url(live.url + "/")
                await page.get_by_role("link", name="Certificates").click()
                await expect(page.locator("#authority")).to_contain_text(
                    fingerprint(authority.certificate)
                )
                await expect(page.locator("#pending tbody tr")).to_have_count(2)
                await page.screenshot(path=shot(record_screenshots, "20-certificates-pending"))
                await (
                    page.locator(f"#approve-{first}")
                    .get_by_role("button", name="Approve and send")
                    .click()
                )
                await eventually(
                    lambda: any(action == "CertificateSigned" for action, _ in cp.received),
                    "the charger received the chain",
                )
                await expect(page.locator("#pending tbody tr")).to_have_count(1)
                await expect(page.locator("#recent")).to_contain_text("accepted")

                page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
                reject = page.locator(f"#reject-{second}")
                await reject.get_by_label("Reason").fill("unknown installer")
                await reject.get_by_role("button", name="Reject").click()
                await expect(page.locator("#pending")).to_contain_text("No request waits.")
                await expect(page.locator("#recent")).to_contain_text("unknown installer")
                await page.screenshot(path=shot(record_screenshots, "21-certificates-decided"))
            finally:
                await browser.close()
    statuses = [
        row["status"]
        for row in (await live.client(Role.VIEWER)("GET", "/certificate-requests")).body["items"]
    ]
    assert statuses == ["rejected", "accepted"]
    assert [action for action, _ in other.received] == []
