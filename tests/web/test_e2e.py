"""End to end in a real headless Chromium (Debian's `chromium`, driven by Playwright for
Python; never `playwright install`) against the central system as `ocppd serve` assembles it,
with a charge point played by ocppd's own simulator (`Station`).

One operator's session: log in, watch the charger come online (pushed by the event stream,
no reload), create and block id tags, start a remote transaction and watch its meter values
arrive, read and change the configuration, filter the message log, open the transaction's
chart and export its CSV, stop it, reserve and cancel; then a viewer sees no commands.
Screenshots go to SCREENSHOTS (printed in the test summary).

Skips with a message when /usr/bin/chromium is missing, except under CI (CI=true), where
`.ci/run` installs it and the test must run.
"""

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.api.tokens import Role
from ocppd.chargepoint.clock import Clock
from ocppd.chargepoint.files import TransferOptions
from ocppd.chargepoint.station import Station
from ocppd.csms import models, registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.settings import Settings
from ocppd.web import commands
from ocppd.web import id_tags as web_id_tags
from ocppd.web import message_log as web_message_log
from ocppd.web import overview as web_overview
from ocppd.web import transactions as web_transactions
from ocppd.web.routing import with_dashboard
from tests.api.conftest import Api, api_app, issue_tokens
from tests.servers import serving

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(
    os.environ.get("OCPPD_SCREENSHOTS") or Path(tempfile.gettempdir()) / "ocppd-screenshots"
)
TIMEOUT_MS = 10_000
CHARGER = "SIM-1"
TEXT_LINES = """(cell) => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  return new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top))).size;
}"""
"""How many lines the text of an element takes on the screen."""
ELEVEN_KW = {
    "chargingProfileId": 11,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
    },
}


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(why + "; under CI it must be there (.ci/run installs it)")
        pytest.skip(why)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def live(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Api]:
    """`ocppd serve` on a free port, on the wall clock (the charts need real time)."""
    system = CentralSystem(Settings(data_dir=tmp_path / "data"), engine=engine)
    await system.start()
    try:
        async with system.engine.begin() as db:
            await registration.register(db, CHARGER)
        app = with_dashboard(api_app(system))
        async with serving(system, app) as port:
            yield Api(system, port, app, await issue_tokens(system))
    finally:
        await system.stop()


async def another_stopped_transaction(live: Api, tag: str) -> None:
    """A stopped transaction of the charger, stored after the others (the list's newest)."""
    earlier = datetime.now(UTC) - timedelta(minutes=10)
    async with live.system.engine.begin() as db:
        await db.execute(
            models.transactions.insert().values(
                charge_point_id=CHARGER,
                connector_id=1,
                id_tag=tag,
                start_status="Accepted",
                meter_start=0,
                started_at=earlier,
                received_at=earlier,
                meter_stop=10,
                stopped_at=earlier + timedelta(minutes=5),
                stop_reason="Local",
                energy_wh=10,
            )
        )


async def page_back_and_forth(
    page: Any, live_list: Any, shown: tuple[str, str], links: tuple[str, str]
) -> None:
    """A list of two, a page of one: the first page shows `shown[0]`, the link `links[0]`
    the second, `links[1]` the first again; ends on the second page."""
    from playwright.async_api import expect

    first, second = shown
    following, back = links
    await expect(live_list.locator("tbody tr")).to_have_count(1)
    await expect(live_list).to_contain_text(first)
    await live_list.get_by_role("link", name=following).click()
    await expect(live_list).to_contain_text(second)
    await expect(live_list.locator("tbody tr")).to_have_count(1)
    assert "cursor=" in page.url
    await live_list.get_by_role("link", name=back).click()
    await expect(live_list).to_contain_text(first)
    await live_list.get_by_role("link", name=following).click()
    await expect(live_list).to_contain_text(second)


async def navigate(page: Any, name: str) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def shot(record: list[Path], name: str) -> str:
    path = SCREENSHOTS / f"{name}.png"
    record.append(path)
    return str(path)


def utc_field(at: datetime) -> str:
    """A datetime-local value: the dashboard's time fields are UTC."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


async def test_an_operators_session_in_a_real_browser(
    live: Api,
    chromium_path: Path,
    record_screenshots: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)

    station = Station(
        live.ws_url("").removesuffix("/"),
        CHARGER,
        configuration={"MeterValueSampleInterval": "1"},
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            url = live.url

            # Not signed in: the overview sends us to the login form.
            await page.goto(url + "/")
            await expect(page).to_have_url(url + "/login?next=%2F")
            await page.get_by_label("API token").fill("wrong")
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("alert")).to_have_text("This token is not valid.")
            await page.get_by_label("API token").fill(live.tokens[Role.OPERATOR])
            await page.screenshot(path=shot(record_screenshots, "01-login"))
            await page.keyboard.press("Enter")

            # The overview: the charger is registered, offline; it comes online live.
            await expect(page).to_have_url(url + "/")
            await expect(page.locator("#role")).to_have_text("operator · operator")
            await expect(page.locator("#stream")).to_have_text("Live")
            row = page.locator(f'tr[data-charge-point-id="{CHARGER}"]')
            await expect(row.locator(".badge.offline")).to_have_text("Offline")
            await page.evaluate("window.notReloaded = true")
            station.start()
            await station.wait_accepted()
            await expect(row.locator(".badge.online")).to_have_text("Online")
            await expect(row.locator(".badge.s-available")).to_have_count(3)  # 0, 1, 2
            await expect(page.locator("#count-connected")).to_have_text("1")
            assert await page.evaluate("window.notReloaded") is True
            await page.screenshot(path=shot(record_screenshots, "02-overview"), full_page=True)

            # Id tags: create two, block one.
            await navigate(page, "Id tags")
            create = page.locator("#tag-new")
            for tag in ("TAG1", "BAD1"):
                await create.get_by_label("Id tag", exact=True).fill(tag)
                await create.get_by_role("button", name="Save").click()
                await expect(page.locator("#live")).to_contain_text(tag)
            bad = page.locator("#live tr", has_text="BAD1")
            await bad.get_by_role("button", name="Block").click()
            await expect(bad.locator(".badge")).to_have_text("Blocked")
            await page.screenshot(path=shot(record_screenshots, "03-id-tags"), full_page=True)

            # A page of one, from A: BAD1, then TAG1 behind "Next"; a filter starts again.
            whole_page = web_id_tags.LIST_LIMIT
            monkeypatch.setattr(web_id_tags, "LIST_LIMIT", 1)
            tags = page.locator("#live")
            await page.goto(url + "/id-tags")
            await page_back_and_forth(page, tags, ("BAD1", "TAG1"), ("Next", "First"))
            # BAD1 comes before the page's cursor: shown only if the cursor went.
            await page.locator("#tag-filters-status").select_option("Blocked")
            await expect(tags).to_contain_text("BAD1")
            assert "cursor=" not in page.url
            monkeypatch.setattr(web_id_tags, "LIST_LIMIT", whole_page)

            # The charge point: plug in, start remotely, watch the meter values arrive.
            await page.goto(url + "/charge-points/" + CHARGER)
            await expect(page.locator("#connection")).to_have_text("Online")
            await station.plug_in(1)
            start = page.locator("#cmd-RemoteStartTransaction")
            await start.get_by_label("Id tag", exact=True).fill("TAG1")
            await start.get_by_label("Connector (optional)").fill("1")
            await start.get_by_role("button", name="Start").click()
            await expect(start.locator("output")).to_contain_text('"status": "Accepted"')
            running = page.locator(".running")
            await expect(running).to_contain_text("TAG1")
            await expect(running).to_contain_text("Energy.Active.Import.Register")
            first = await running.locator("time").last.get_attribute("datetime")
            await expect(running.locator("time").last).not_to_have_attribute(
                "datetime", first or ""
            )
            await page.screenshot(
                path=shot(record_screenshots, "04-charge-point-charging"), full_page=True
            )

            # Configuration: read it from the charger, change a key in the table.
            await (
                page.locator("#cmd-GetConfiguration")
                .get_by_role("button", name="Read from charger")
                .click()
            )
            configuration = page.locator("#configuration")
            key_row = configuration.locator("tr", has_text="HeartbeatInterval")
            await expect(key_row).to_be_visible()
            await key_row.get_by_label("New value of HeartbeatInterval").fill("120")
            await key_row.get_by_role("button", name="Save").click()
            await expect(key_row.locator("output")).to_contain_text('"status": "Accepted"')
            assert station.configuration.get_int("HeartbeatInterval") == 120
            await expect(key_row.get_by_label("New value of HeartbeatInterval")).to_have_value(
                "120"
            )

            # The message log, filtered by action: the call and its answer together, both
            # payloads in view.
            await page.locator("#log-filters-action").select_option("ChangeConfiguration")
            log = page.locator("#messages")
            await expect(log.locator("li")).to_have_count(1)
            await expect(log.locator("li pre")).to_have_count(2)
            await expect(log.locator("pre").first).to_be_visible()
            await expect(log.locator("pre").first).to_contain_text('"HeartbeatInterval"')
            await expect(log.locator("pre").last).to_contain_text('"Accepted"')
            await expect(log.locator(".payload.call .mt")).to_contain_text("CALL")
            await expect(log.locator(".payload.answer .mt")).to_contain_text("CALLRESULT")
            await expect(page).to_have_url(re.compile(r"\?action=ChangeConfiguration$"))
            log_section = page.locator('section[aria-labelledby="log-title"]')
            await log_section.screenshot(path=shot(record_screenshots, "05-charge-point-log"))
            # A page of two frames: one exchange, the older ones behind "Older", the filter
            # kept; no exchange is split.
            monkeypatch.setattr(web_message_log, "MESSAGES_SHOWN", 2)
            await page.locator("#log-filters-action").select_option("StatusNotification")
            await expect(log.locator("li")).to_have_count(1)
            newest = await log.locator("li").get_attribute("data-unique-id")
            await log.get_by_role("link", name="Older").click()
            await expect(page.locator("#log-filters-action")).to_have_value("StatusNotification")
            await expect(log.locator("li")).to_have_count(1)
            await expect(log.locator("li pre")).to_have_count(2)
            await expect(log.locator("li")).not_to_have_attribute("data-unique-id", newest or "")
            await log.get_by_role("link", name="Older").click()
            await expect(log.locator("li pre")).to_have_count(2)
            await log_section.screenshot(
                path=shot(record_screenshots, "05b-charge-point-log-older")
            )
            await log.get_by_role("link", name="Newest").click()
            await expect(log.get_by_role("link", name="Newest")).to_have_count(0)
            await expect(log.locator("li pre")).to_have_count(2)
            assert "cursor=" not in page.url
            monkeypatch.setattr(web_message_log, "MESSAGES_SHOWN", 50)

            # An 11 kW default profile on its connector: the transaction's power chart draws
            # it over the power curve.
            limit = await live.client(Role.OPERATOR)(
                "POST",
                f"/charge-points/{CHARGER}/commands/SetChargingProfile",
                {"connectorId": 1, "csChargingProfiles": ELEVEN_KW},
            )
            assert limit.body == {"status": "Accepted"}, limit.body

            # The transaction: its chart grows, its CSV downloads, then stop it.
            await running.get_by_role("link").first.click()
            await expect(page.locator("#chart-power")).to_be_visible()
            await expect(page.locator("#chart-power .limit-line")).to_have_count(1)
            await expect(page.locator("#live figcaption").first).to_contain_text(
                "limit in force (dashed): 11 kW"
            )
            await expect(page.locator("#chart-energy")).to_be_visible()
            before = await page.locator("#chart-energy circle").count()
            await expect(page.locator("#chart-energy circle")).not_to_have_count(before)
            async with page.expect_download() as downloading:
                await page.get_by_role("button", name="Export meter values (CSV)").click()
            download = await downloading.value
            csv_text = await asyncio.to_thread(Path(await download.path()).read_text)
            assert csv_text.startswith("transactionId,chargePointId,connectorId,timestamp")
            assert "Energy.Active.Import.Register" in csv_text
            await page.screenshot(
                path=shot(record_screenshots, "06-transaction-chart"), full_page=True
            )
            await page.get_by_role("button", name="Remote stop").click()
            await expect(page.locator("#live")).to_contain_text("Stopped")
            await expect(page.locator("#live")).to_contain_text("Remote")
            await expect(page.locator("#chart-power .limit-line")).to_have_count(0)
            await expect(page.locator("#live")).to_contain_text(
                "The limit in force is drawn while a transaction runs"
            )

            # The transactions list, filtered.
            await navigate(page, "Transactions")
            await page.locator("#tx-filters-state").select_option("stopped")
            await expect(page.locator("#live tbody tr")).to_have_count(1)
            await expect(page.locator("#live")).to_contain_text("TAG1")
            await page.screenshot(path=shot(record_screenshots, "07-transactions"), full_page=True)

            # A page of one: the older transaction behind "Older", with the filter kept; a
            # changed filter starts again at the newest.
            await another_stopped_transaction(live, "TAG2")
            monkeypatch.setattr(web_transactions, "LIST_LIMIT", 1)
            live_list = page.locator("#live")
            await page.goto(url + "/transactions?state=stopped")
            await page_back_and_forth(page, live_list, ("TAG2", "TAG1"), ("Older", "Newest"))
            await expect(page.locator("#tx-filters-state")).to_have_value("stopped")
            # TAG2 is newer than the page's cursor: shown only if the cursor went.
            await page.locator("#tx-filters-idTag").fill("TAG2")
            await expect(live_list).to_contain_text("TAG2")
            assert "cursor=" not in page.url

            # Reservations: reserve connector 2, then cancel it.
            await navigate(page, "Reservations")
            reserve = page.locator("#reserve")
            await expect(reserve.get_by_label("Reservation id")).to_have_value("1")
            await reserve.get_by_label("Charge point").fill(CHARGER)
            await reserve.get_by_label("Connector").fill("2")
            expiry = utc_field(datetime.now(UTC) + timedelta(hours=1))
            await reserve.get_by_label("Expiry date").fill(expiry)
            await reserve.get_by_label("Id tag", exact=True).fill("TAG1")
            await reserve.get_by_role("button", name="Reserve").click()
            await expect(reserve.locator("output")).to_contain_text('"status": "Accepted"')
            reservation = page.locator("#live tbody tr").first
            await expect(reservation.locator(".badge")).to_have_text("Active")
            await page.screenshot(path=shot(record_screenshots, "08-reservations"), full_page=True)
            await reservation.get_by_role("button", name="Cancel").click()
            await expect(reservation.locator(".badge")).to_have_text("Cancelled")

            # A viewer: the same pages, no command.
            await page.get_by_role("button", name="Sign out").click()
            await page.get_by_label("API token").fill(live.tokens[Role.VIEWER])
            await page.keyboard.press("Enter")
            await expect(page).to_have_url(url + "/")
            await page.goto(url + "/charge-points/" + CHARGER)
            await expect(page.locator("#role")).to_have_text("viewer · viewer")
            await expect(page.locator("#configuration tr").first).to_be_visible()
            await expect(page.locator("form[data-api]:visible")).to_have_count(0)
            await expect(page.locator("#commands-title")).to_be_hidden()
            await page.screenshot(
                path=shot(record_screenshots, "09-charge-point-viewer"), full_page=True
            )

            # A phone.
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.goto(url + "/")
            await expect(page.locator(".badge.online")).to_be_visible()
            await page.screenshot(
                path=shot(record_screenshots, "10-overview-phone"), full_page=True
            )
            await page.goto(url + "/transactions/1")
            await expect(page.locator("#chart-power")).to_be_visible()
            await page.screenshot(
                path=shot(record_screenshots, "11-transaction-phone"), full_page=True
            )

            # The one expected failure: the wrong token's 401 at the login.
            assert [p for p in problems if "status of 401" not in p] == [], problems
        finally:
            await browser.close()
            await station.stop()


async def test_refusals_on_the_field_and_a_lost_event_stream(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    """What the browser lets through and the API refuses (400) is shown on the form, with the
    field marked; the page and the server carry on. A lost event stream is said and retried."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    station = Station(live.ws_url("").removesuffix("/"), CHARGER)
    station.start()
    await station.wait_accepted()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(live.url + "/login")
            await page.get_by_label("API token").fill(live.tokens[Role.OPERATOR])
            await page.keyboard.press("Enter")
            await expect(page).to_have_url(live.url + "/")
            await page.goto(live.url + "/charge-points/" + CHARGER)
            await page.locator("summary", has_text="Smart charging").click()  # unfold the group
            form = page.locator("#cmd-SetChargingProfile")
            profile = form.get_by_label("Charging profile (JSON)")
            await form.get_by_label("Connector").fill("1")
            await profile.fill('{"chargingProfileId": 1}')
            await form.get_by_role("button", name="Set profile").click()
            answer = form.locator("output")
            await expect(answer).to_contain_text("HTTP 400")
            await expect(profile).to_have_attribute("aria-invalid", "true")
            await profile.fill("{not json")
            await form.get_by_role("button", name="Set profile").click()
            await expect(answer).to_contain_text("not valid JSON")
            # Nothing invalid reached the charger.
            assert station.stats.received["SetChargingProfile"] == 0

            # The event stream ends (the bus ends every subscription): the page says so,
            # subscribes again, and is live again.
            live.system.events.close()
            await expect(page.locator("#stream")).to_have_text("Reconnecting…")
            await expect(page.locator("#stream")).to_have_text("Live")
            await station.plug_in(2)
            connectors = page.locator("#connectors-title + table")
            await expect(connectors.locator("tr", has_text="Preparing")).to_have_count(1)

            # A valid profile, and the smart charging page draws the predicted composite.
            await profile.fill(commands.EXAMPLE_PROFILE)
            await form.get_by_role("button", name="Set profile").click()
            await expect(answer).to_contain_text('"status": "Accepted"')
            # Its composite shows connector 1 (the first with profiles) unless told otherwise.
            await page.get_by_role("link", name="Smart charging").click()
            await expect(page.locator("#profiles")).to_contain_text("TxDefaultProfile")
            await expect(page.locator("#chart-composite")).to_be_visible()
            await expect(page.locator("#composite")).to_contain_text(
                "Connector 1 (the first with profiles)."
            )
            await expect(page.locator("#sc-window-connectorId")).to_have_value("1")
            await expect(page.locator("#composite")).to_contain_text("16 A")
            await expect(page.locator("#chart-composite text.unit")).to_have_text("A")
            # On a narrow window the profile table scrolls; its words stay whole.
            await page.set_viewport_size({"width": 700, "height": 900})
            purpose = page.locator("#profiles td", has_text="TxDefaultProfile")
            assert await purpose.evaluate(TEXT_LINES) == 1
            await page.screenshot(
                path=shot(record_screenshots, "13-smart-charging"), full_page=True
            )
            await page.locator("#sc-window-connectorId").fill("0")
            await expect(page.locator("#composite")).to_contain_text("Connector 0.")
            assert "connectorId=0" in page.url
        finally:
            await browser.close()
            await station.stop()


async def test_diagnostics_and_firmware_from_the_browser(
    live: Api, chromium_path: Path, record_screenshots: list[Path], tmp_path: Path
) -> None:
    """Upload an image, ask the simulator for its diagnostics and download them, update its
    firmware and watch the job reach Installed."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    identity = "SIM-FILES"
    async with live.system.engine.begin() as db:
        await registration.register(db, identity)
    station = Station(
        live.ws_url("").removesuffix("/"),
        identity,
        clock=Clock(speed=1000.0),
        file_transfer=TransferOptions(timeout=5),
    )
    station.start()
    await station.wait_accepted()
    image = tmp_path / "sim-2.0.bin"
    await asyncio.to_thread(image.write_bytes, b"firmware image")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(live.url + "/login")
            await page.get_by_label("API token").fill(live.tokens[Role.OPERATOR])
            await page.keyboard.press("Enter")
            await expect(page).to_have_url(live.url + "/")

            await navigate(page, "Firmware")
            await page.get_by_label("Image", exact=True).set_input_files(str(image))
            await page.get_by_role("button", name="Upload").click()
            await expect(page.locator("#live")).to_contain_text("sim-2.0.bin")
            await expect(page.locator("#live")).to_contain_text("14 bytes")

            await page.goto(f"{live.url}/charge-points/{identity}/jobs")
            get_diagnostics = page.get_by_role("form", name="Get diagnostics")
            await get_diagnostics.get_by_role("button", name="Request upload").click()
            diagnostics = page.locator("#diagnostics")
            await expect(diagnostics.locator(".badge")).to_have_text("Uploaded")
            async with page.expect_download() as downloading:
                await diagnostics.get_by_role("button", name="Download").click()
            saved = Path(await (await downloading.value).path())
            assert "identity: SIM-FILES" in await asyncio.to_thread(saved.read_text)

            # Charging: the charger installs once the transaction ends, and the page says so.
            await live.client(Role.OPERATOR)("PUT", "/id-tags/TAG1", {"status": "Accepted"})
            await station.plug_in(1)
            charging = await station.start_transaction(1, "TAG1")
            assert charging is not None and charging.transaction_id is not None
            update = page.locator("#job-firmware")
            await update.get_by_label("Firmware image id").fill("1")
            await update.get_by_role("button", name="Update").click()
            await expect(update.locator("output")).to_contain_text('"kind": "firmware"')
            firmware = page.locator("#firmware-updates")
            await expect(firmware.locator(".badge")).to_have_text("Downloaded")
            await expect(firmware.locator(".waiting")).to_have_text(
                f"Installation waits for transaction #{charging.transaction_id} to end"
            )
            await station.stop_transaction(1)
            await expect(firmware.locator(".badge")).to_have_text("Installed")
            await expect(firmware.locator(".waiting")).to_have_count(0)
            await page.screenshot(path=shot(record_screenshots, "12-jobs"), full_page=True)
        finally:
            await browser.close()
            await station.stop()


async def sign_in(page: Any, live: Api, role: Role = Role.OPERATOR) -> None:
    from playwright.async_api import expect

    await page.goto(live.url + "/login")
    await page.get_by_label("API token").fill(live.tokens[role])
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(live.url + "/")


async def test_the_fleet_at_a_glance(
    live: Api,
    chromium_path: Path,
    record_screenshots: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Identities in natural order, a page at a time with the filter kept; a charger that goes
    offline shows its connectors grey, the last known status in a tooltip."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    fleet = [f"CP1-{n}" for n in range(1, 13)]
    async with live.system.engine.begin() as db:
        for identity in fleet:
            await registration.register(db, identity)
    monkeypatch.setattr(web_overview, "LIST_LIMIT", 5)
    stations = [Station(live.ws_url("").removesuffix("/"), i) for i in ("CP1-2", "CP1-10")]
    for station in stations:
        station.start()
        await station.wait_accepted()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(page, live)
            ids = page.locator("#live tbody th")
            await expect(ids).to_have_text(["CP1-1", "CP1-2", "CP1-3", "CP1-4", "CP1-5"])
            await expect(page.locator("#live")).to_contain_text("5 shown, from A.")
            await page.screenshot(path=shot(record_screenshots, "20-overview-first-page"))
            await page.get_by_role("link", name="Next").click()
            await expect(ids).to_have_text(["CP1-6", "CP1-7", "CP1-8", "CP1-9", "CP1-10"])
            assert "cursor=CP1-5" in page.url
            await page.get_by_role("link", name="Next").click()
            await expect(ids).to_have_text(["CP1-11", "CP1-12", "SIM-1"])
            await page.get_by_role("link", name="First").click()
            await expect(ids.first).to_have_text("CP1-1")

            # One command to three charge points ticked on two pages: two answer, the
            # third is not connected (the API's 409, on its row).
            await page.get_by_label("Select CP1-2", exact=True).check()
            await page.get_by_label("Select CP1-3", exact=True).check()
            await page.get_by_role("link", name="Next").click()
            await page.get_by_label("Select CP1-10", exact=True).check()
            await page.locator("details.bulk > summary").click()
            await expect(page.locator("#bulk-count")).to_have_text(
                "3 selected: CP1-2, CP1-3, CP1-10"
            )
            await expect(page.locator("#bulk-action")).to_have_value("TriggerMessage")
            await page.locator("#bulk-TriggerMessage-requestedMessage").select_option("Heartbeat")
            await page.get_by_role("button", name="Send to the selected").click()
            results = page.locator("#bulk-results tbody tr")
            await expect(results.locator("th")).to_have_text(["CP1-2", "CP1-3", "CP1-10"])
            await expect(page.locator("#bulk output")).to_have_text(
                "TriggerMessage: 2 answered, 1 failed."
            )
            await expect(results.nth(0).locator("td")).to_have_text('{"status":"Accepted"}')
            await expect(results.nth(1).locator("td")).to_contain_text("HTTP 409")
            await expect(results.nth(1).locator("td")).to_contain_text("not connected")
            await expect(results.nth(2).locator("td")).to_have_text('{"status":"Accepted"}')
            assert [s.stats.received["TriggerMessage"] for s in stations] == [1, 1]
            # A live refresh keeps the ticks.
            await page.evaluate("document.querySelector('#live table').dataset.old = 'yes'")
            await page.evaluate("window.ocppd.refresh()")
            await expect(page.locator("#live table[data-old]")).to_have_count(0)
            await expect(page.get_by_label("Select CP1-10", exact=True)).to_be_checked()
            await page.screenshot(path=shot(record_screenshots, "22-overview-bulk"), full_page=True)
            # Another command's fields, checked before anything is sent.
            await page.locator("#bulk-action").select_option("ChangeAvailability")
            await expect(page.locator("#bulk-TriggerMessage-requestedMessage")).to_be_hidden()
            await page.locator("#bulk-ChangeAvailability-connectorId").fill("0")
            await page.locator("#bulk-ChangeAvailability-type").select_option("Inoperative")
            await page.get_by_role("button", name="Clear the selection").click()
            await expect(page.get_by_label("Select CP1-10", exact=True)).not_to_be_checked()
            await page.get_by_role("button", name="Send to the selected").click()
            await expect(page.locator("#bulk output")).to_have_text(
                "Select charge points in the list first."
            )
            assert [s.stats.received["ChangeAvailability"] for s in stations] == [0, 0]
            await page.get_by_role("link", name="First").click()

            # A filter starts again from A and is kept by the paging links.
            await page.get_by_role("link", name="Next").click()
            await expect(ids.first).to_have_text("CP1-6")
            await page.locator("#filters-state").select_option("connected")
            await expect(ids).to_have_text(["CP1-2", "CP1-10"])
            assert "cursor=" not in page.url
            await page.locator("#filters-state").select_option("")
            await page.locator("#filters-q").fill("CP1-1")  # CP1-1, CP1-10..12
            await expect(ids).to_have_text(["CP1-1", "CP1-10", "CP1-11", "CP1-12"])

            # CP1-10 goes away: its connectors turn grey, "Unknown", the last status kept.
            await page.locator("#filters-q").fill("")
            await page.get_by_role("link", name="Next").click()
            gone = page.locator('tr[data-charge-point-id="CP1-10"]')
            await expect(gone.locator(".badge.s-available")).to_have_count(3)
            await stations[1].stop()
            await expect(gone.locator(".badge.offline")).to_have_text("Offline")
            unknown = gone.locator(".badge.offline-connector")
            await expect(unknown).to_have_count(3)
            await expect(gone.locator(".badge.s-available")).to_have_count(0)
            await expect(unknown.first).to_have_attribute(
                "title", re.compile(r"^Last known: Available \(since .* UTC\)$")
            )
            await unknown.first.hover()
            await page.screenshot(path=shot(record_screenshots, "21-overview-offline"))
            await page.goto(live.url + "/charge-points/CP1-10")
            connectors = page.locator("#connectors-title + table")
            await expect(connectors.locator(".offline-connector")).to_have_count(3)

            # A viewer has no ticks and no command.
            await page.get_by_role("button", name="Sign out").click()
            await page.get_by_label("API token").fill(live.tokens[Role.VIEWER])
            await page.keyboard.press("Enter")
            await expect(page.locator("#role")).to_have_text("viewer · viewer")
            await expect(ids.first).to_have_text("CP1-1")
            await expect(page.locator("input[data-select]:visible")).to_have_count(0)
            await expect(page.locator("details.bulk")).to_be_hidden()
        finally:
            await browser.close()
            for station in stations:
                await station.stop()


async def test_a_sites_shares_with_their_units_to_one_decimal(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    """100 A among three cars: the site's page writes 33.3 A on each part of its bar and
    99.9 A allocated (the API's one decimal), never a bare 33.3333."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    admin = live.client(Role.ADMIN)
    made = await admin("PUT", "/sites/depot", {"limit": 100, "minPerCar": 6, "maxPerCar": 50})
    assert made.status == 201, made.body
    names = ["SITE-1", "SITE-2", "SITE-3"]
    async with live.system.engine.begin() as db:
        for name in names:  # a tag each: one tag in two transactions would be ConcurrentTx
            await registration.register(db, name)
            await db.execute(
                models.id_tags.insert().values(
                    id_tag=name, id_tag_key=name.lower(), status="Accepted"
                )
            )
    stations = [Station(live.ws_url("").removesuffix("/"), name) for name in names]
    try:
        for station in stations:
            station.start()
            await station.wait_accepted()
            joined = await admin("PUT", f"/sites/depot/charge-points/{station.identity}")
            assert joined.status == 200, joined.body
            await station.plug_in(1)
            assert await station.start_transaction(1, station.identity) is not None
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium_path), args=ARGS
            )
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await sign_in(page, live)
                await page.goto(live.url + "/sites/depot")
                allocation = page.locator("#allocation")
                await expect(allocation.locator(".facts")).to_contain_text("Allocated99.9 A")
                labels = allocation.locator("text.part-label")
                await expect(labels).to_have_text(["33.3 A", "33.3 A", "33.3 A"])
                await expect(allocation.locator("text.tick")).to_have_text("limit 100 A")
                await expect(allocation.locator("tbody tr")).to_have_count(3)
                assert "33.33" not in await allocation.inner_text()
                await allocation.screenshot(path=shot(record_screenshots, "23-site-allocation"))
            finally:
                await browser.close()
    finally:
        for station in stations:
            await station.stop()


async def test_a_rejected_charger_gets_a_command_only_when_forced(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    """The 409 of a charger whose boot was Rejected is shown on the form; with the section's
    Force box checked the command goes, and the charger's answer is shown."""
    from playwright.async_api import async_playwright, expect
    from websockets.asyncio.client import connect

    from ocppd.protocol.enums import RegistrationStatus
    from tests.api.conftest import FakeChargePoint

    expect.set_options(timeout=TIMEOUT_MS)
    async with live.system.engine.begin() as db:
        await registration.register(db, CHARGER, RegistrationStatus.REJECTED)
    async with connect(live.ws_url(CHARGER), subprotocols=["ocpp1.6"], open_timeout=5) as ws:  # type: ignore[list-item]
        cp = FakeChargePoint(ws)
        serving_cp = asyncio.create_task(cp.serve())
        boot = await cp.ask("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot["status"] == "Rejected"
        cp.replies["ClearCache"] = {"status": "Accepted"}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium_path), args=ARGS
            )
            try:
                page = await browser.new_page()
                await page.goto(live.url + "/login")
                await page.get_by_label("API token").fill(live.tokens[Role.OPERATOR])
                await page.keyboard.press("Enter")
                await expect(page).to_have_url(live.url + "/")
                await page.goto(live.url + "/charge-points/" + CHARGER)
                await page.locator("summary", has_text="Authorization").click()
                form = page.locator("#cmd-ClearCache")
                answer = form.locator("output")
                await form.get_by_role("button", name="Clear cache").click()
                await expect(answer).to_contain_text("HTTP 409: not sent:")
                await expect(answer).to_contain_text("Rejected at boot")
                assert cp.received == []
                await page.get_by_label("Force: send even though the charger's boot").check()
                await form.get_by_role("button", name="Clear cache").click()
                await expect(answer).to_contain_text('"status": "Accepted"')
                await page.locator("#commands-title").scroll_into_view_if_needed()
                await page.screenshot(path=shot(record_screenshots, "14-forced-command"))
                assert cp.received == [("ClearCache", {})]
            finally:
                await browser.close()
                serving_cp.cancel()
                await asyncio.gather(serving_cp, return_exceptions=True)


async def test_an_admin_changes_the_security_settings_a_viewer_only_sees_them(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    """The charge point page shows the security profile and extension; an admin's form
    changes them through the API (the page follows, and the API has them); a lower profile
    is recorded as a security event; a viewer sees the values but no form."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(live.url + "/login")
            await page.get_by_label("API token").fill(live.tokens[Role.ADMIN])
            await page.keyboard.press("Enter")
            await expect(page).to_have_url(live.url + "/")
            await page.goto(live.url + "/charge-points/" + CHARGER)
            await expect(page.locator("#security-profile")).to_have_text("0: no security")
            await expect(page.locator("#security-extension")).to_have_text("off")
            form = page.locator("#security-settings")
            await expect(form).to_be_visible()
            await form.get_by_label("Security profile").select_option("2")
            await form.get_by_label("Security extension").select_option("true")
            await form.get_by_role("button", name="Save security settings").click()
            await expect(form.locator("output")).to_contain_text('"securityProfile": 2')
            await expect(page.locator("#security-profile")).to_have_text("2: TLS, Basic auth")
            await expect(page.locator("#security-extension")).to_have_text("on")
            await page.locator("#security-title").scroll_into_view_if_needed()
            await page.screenshot(path=shot(record_screenshots, "15-security-settings"))
            shown = await live.client(Role.VIEWER)("GET", f"/charge-points/{CHARGER}")
            assert (shown.body["securityProfile"], shown.body["securityExtension"]) == (2, True)

            # Only the extension changes: the profile left "(unchanged)" stays.
            await form.get_by_label("Security profile").select_option("")
            await form.get_by_label("Security extension").select_option("false")
            await form.get_by_role("button", name="Save security settings").click()
            await expect(page.locator("#security-extension")).to_have_text("off")
            await expect(page.locator("#security-profile")).to_have_text("2: TLS, Basic auth")

            await form.get_by_label("Security profile").select_option("1")
            await form.get_by_role("button", name="Save security settings").click()
            await expect(page.locator("#security-profile")).to_have_text("1: Basic auth")
            async with live.system.engine.connect() as db:
                recorded = (
                    (await db.execute(sa.select(models.security_events.c.type))).scalars().all()
                )
            assert recorded == ["SecurityProfileLowered"]

            viewer = await browser.new_page()
            await viewer.goto(live.url + "/login")
            await viewer.get_by_label("API token").fill(live.tokens[Role.VIEWER])
            await viewer.keyboard.press("Enter")
            await expect(viewer).to_have_url(live.url + "/")
            await viewer.goto(live.url + "/charge-points/" + CHARGER)
            await expect(viewer.locator("#security-profile")).to_have_text("1: Basic auth")
            await expect(viewer.locator("#security-settings")).to_be_hidden()
        finally:
            await browser.close()


async def test_an_operator_starts_a_security_upgrade_and_sees_its_steps(
    live: Api, chromium_path: Path, record_screenshots: list[Path]
) -> None:
    """The charge point page's upgrade button starts the upgrade path; its steps appear as
    they go (pushed by the `SecurityUpgrade` events): here the charger refuses the root
    certificate, so the first step fails, the others are skipped, and its profile stays."""
    from playwright.async_api import async_playwright, expect
    from websockets.asyncio.client import connect

    from ocppd.csms.certificate_authority import CaFiles
    from tests.api.conftest import FakeChargePoint

    expect.set_options(timeout=TIMEOUT_MS)
    CaFiles.of(live.system.settings.data_dir).initialize(datetime.now(UTC))
    async with connect(live.ws_url(CHARGER), subprotocols=["ocpp1.6"], open_timeout=5) as ws:  # type: ignore[list-item]
        cp = FakeChargePoint(ws)
        serving_cp = asyncio.create_task(cp.serve())
        await cp.ask("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        # Stored while it is connected (on profile 0, which admission would no longer let in).
        settings = {"securityProfile": 1, "securityExtension": True}
        changed = await live.client(Role.ADMIN)("PATCH", f"/charge-points/{CHARGER}", settings)
        assert changed.status == 200
        cp.replies["InstallCertificate"] = {"status": "Rejected"}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium_path), args=ARGS
            )
            try:
                page = await browser.new_page()
                page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
                await page.goto(live.url + "/login")
                await page.get_by_label("API token").fill(live.tokens[Role.OPERATOR])
                await page.keyboard.press("Enter")
                await expect(page).to_have_url(live.url + "/")
                await page.goto(live.url + "/charge-points/" + CHARGER)
                steps = page.locator("#security-upgrade")
                await expect(steps).to_contain_text("No security upgrade yet.")
                await expect(page.locator("#security-settings")).to_be_hidden()
                form = page.locator("#security-upgrade-form")
                await form.get_by_label("Raise to profile").select_option("3")
                await form.get_by_role("button", name="Start the security upgrade").click()
                await expect(form.locator("output")).to_contain_text('"status": "running"')
                await expect(page.locator("#security-upgrade-status")).to_have_text("failed")
                rows = steps.locator("tbody tr")
                await expect(rows).to_have_count(4)
                await expect(rows.nth(0)).to_contain_text("InstallRootCertificate")
                await expect(rows.nth(0)).to_contain_text(
                    "the charger answered InstallCertificate Rejected"
                )
                for index in (1, 2, 3):
                    await expect(rows.nth(index)).to_contain_text("skipped")
                await steps.scroll_into_view_if_needed()
                await page.screenshot(path=shot(record_screenshots, "16-security-upgrade"))
                await expect(page.locator("#security-profile")).to_have_text("1: Basic auth")
                assert [action for action, _ in cp.received] == ["InstallCertificate"]
            finally:
                await browser.close()
                serving_cp.cancel()
                await asyncio.gather(serving_cp, return_exceptions=True)
