"""The dashboard over real HTTP, assembled as `ocppd serve` does: pages, fragments read
through the API with the caller's token, static files, and the router beside the API."""

import asyncio
import json
import re
from html import unescape
from urllib.parse import quote

import pytest

from ocppd.api.tokens import Role
from ocppd.csms import registration
from ocppd.web import message_log
from tests.api.conftest import Api, charge_point
from tests.web.conftest import fetch


async def test_pages_need_no_token_and_carry_a_strict_policy(served: Api) -> None:
    for path in (
        "/",
        "/login",
        "/charge-points/CP1",
        "/?q=x&state=charging",
        "/transactions",
        "/transactions/7",
        "/id-tags",
        "/reservations",
    ):
        page = await asyncio.to_thread(fetch, served.url + path)
        assert page.status == 200, path
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
    js = await asyncio.to_thread(fetch, served.url + "/static/app.js")
    assert js.status == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "startLiveUpdates" in js.text
    css = await asyncio.to_thread(fetch, served.url + "/static/app.css")
    assert css.status == 200 and "@media" in css.text
    for path in ("/static/../pyproject.toml", "/transactions/0", "/transactions/x", "/nope"):
        missing = await asyncio.to_thread(fetch, served.url + path)
        assert missing.status == 404, path


async def test_the_api_keeps_its_paths_and_answers(served: Api) -> None:
    answer = await asyncio.to_thread(fetch, served.url + "/api/v1/charge-points")
    assert answer.status == 401
    assert json.loads(answer.text)["error"] == "a bearer token is required"
    answer = await asyncio.to_thread(
        fetch, served.url + "/api/v1/nothing", served.tokens[Role.VIEWER]
    )
    assert answer.status == 404 and answer.headers["content-type"].startswith("application/")
    spec = await asyncio.to_thread(fetch, served.url + "/api/v1/openapi.json")
    assert spec.status == 200


async def test_fragments_need_a_token_like_the_api(served: Api) -> None:
    for path in (
        "/fragments/overview",
        "/fragments/charge-points/CP1",
        "/fragments/charge-points/CP1/messages",
        "/fragments/charge-points/CP1/configuration",
        "/fragments/transactions",
        "/fragments/transactions/1",
        "/fragments/id-tags",
        "/fragments/reservations",
    ):
        page = await asyncio.to_thread(fetch, served.url + path)
        assert page.status == 401 and "a bearer token is required" in page.text
        page = await asyncio.to_thread(fetch, served.url + path, "not-a-token")
        assert page.status == 401 and "unknown token" in page.text


async def test_the_overview_and_a_charge_point_from_a_live_connection(served: Api) -> None:
    hostile = "<b>CP\"'&1"
    async with charge_point(served, hostile) as cp:
        await cp.ask(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Charging"},
        )
        await cp.ask("Heartbeat", {})
        await asyncio.sleep(0.2)  # the message log is written by the group commit
        viewer = served.tokens[Role.VIEWER]
        overview = await asyncio.to_thread(fetch, served.url + "/fragments/overview", viewer)
        assert overview.status == 200
        assert "&lt;b&gt;CP&quot;&#x27;&amp;1" in overview.text and "<b>" not in overview.text
        assert '<dd id="count-connected">1</dd>' in overview.text
        assert '<dd id="count-charging">1</dd>' in overview.text
        assert 'class="badge s-charging"' in overview.text
        assert f'href="/charge-points/{quote(hostile, safe="")}"' in overview.text

        path = "/fragments/charge-points/" + quote(hostile, safe="")
        page = await asyncio.to_thread(fetch, served.url + path, viewer)
        assert page.status == 200
        assert "<b>" not in page.text and 'class="badge s-charging"' in page.text
        log = await asyncio.to_thread(fetch, served.url + path + "/messages", viewer)
        assert "BootNotification" in log.text and "StatusNotification" in log.text
        assert "&quot;chargePointVendor&quot;: &quot;V&quot;" in log.text
        only = await asyncio.to_thread(
            fetch, served.url + path + "/messages?action=Heartbeat&direction=in", viewer
        )
        assert "Heartbeat" in only.text and "BootNotification" not in only.text
        assert only.text.count("<li") == 1

        shell = await asyncio.to_thread(
            fetch, served.url + "/charge-points/" + quote(hostile, safe="")
        )
        assert 'data-charge-point-id="&lt;b&gt;CP&quot;&#x27;&amp;1"' in shell.text

    filtered = await asyncio.to_thread(
        fetch, served.url + "/fragments/overview?state=connected", served.tokens[Role.VIEWER]
    )
    assert "No charge point matches the filter." in filtered.text


async def test_an_unknown_charge_point(served: Api) -> None:
    page = await asyncio.to_thread(
        fetch, served.url + "/fragments/charge-points/NOPE", served.tokens[Role.VIEWER]
    )
    assert page.status == 404 and "unknown charge point" in page.text


async def test_many_charge_points_are_read_page_by_page(served: Api) -> None:
    async with served.system.engine.begin() as db:
        for i in range(1003):
            await registration.register(db, f"CP{i:04}")
    page = await asyncio.to_thread(
        fetch, served.url + "/fragments/overview", served.tokens[Role.VIEWER]
    )
    assert '<dd id="count-all">1003</dd>' in page.text


async def test_hostile_filters_answer_the_apis_problem(served: Api) -> None:
    viewer = served.tokens[Role.VIEWER]
    for path, status, error in [
        ("/fragments/transactions?since=yesterday", 400, "since"),
        ("/fragments/reservations?state=%3Cb%3E", 400, "Invalid enum value"),
        ("/fragments/transactions?cursor=%3Cb%3E", 400, "cursor: Expected `str` matching"),
        ("/fragments/reservations?cursor=99999999999999999999", 400, "cursor: Expected"),
        ("/fragments/id-tags?status=%22%3E", 200, "No id tag matches."),
        ("/fragments/transactions/99999999999999999999", 404, "Not found"),
        ("/fragments/charge-points/%3Cb%3E/configuration", 404, "unknown charge point"),
    ]:
        page = await asyncio.to_thread(fetch, served.url + path, viewer)
        assert page.status == status, (path, page.text)
        assert error in page.text and "<b>" not in page.text, path


async def test_smart_charging_fragments_from_a_live_connection(served: Api) -> None:
    operator = served.client(Role.OPERATOR)
    viewer = served.tokens[Role.VIEWER]
    profile = {
        "chargingProfileId": 7,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": "2026-11-25T12:00:00Z",
            "duration": 1800,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16.0},
                {"startPeriod": 900, "limit": 8.0},
            ],
        },
    }
    async with charge_point(served) as cp:
        cp.replies["SetChargingProfile"] = {"status": "Accepted"}
        sent = await operator(
            "POST",
            "/charge-points/CP1/commands/SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": profile},
        )
        assert sent.status == 200, sent.body
        base = served.url + "/fragments/charge-points/CP1"
        held = await asyncio.to_thread(fetch, base + "/charging-profiles", viewer)
        assert held.status == 200 and "TxDefaultProfile" in held.text
        assert "+900 s: 8 A" in held.text
        composite = await asyncio.to_thread(
            fetch, base + "/composite?connectorId=1&duration=3600&chargingRateUnit=A", viewer
        )
        assert composite.status == 200, composite.text
        assert 'id="chart-composite"' in composite.text
        assert "16 A" in composite.text and "8 A" in composite.text
        assert "no limit" in composite.text  # after its 30 minutes
        page = await asyncio.to_thread(fetch, served.url + "/charge-points/CP1/smart-charging")
        assert 'data-api="/charge-points/CP1/commands/SetChargingProfile"' in page.text
    unknown = await asyncio.to_thread(
        fetch, served.url + "/fragments/charge-points/NOPE/charging-profiles", viewer
    )
    assert unknown.status == 404 and "unknown charge point" in unknown.text


async def test_sites_pages_and_fragments_from_the_api(served: Api) -> None:
    admin = served.client(Role.ADMIN)
    viewer = served.tokens[Role.VIEWER]
    hostile = "<i>yard</i>"
    made = await admin("PUT", "/sites/depot", {"name": hostile, "limit": 100, "unit": "A"})
    assert made.status in (200, 201), made.body
    async with charge_point(served):
        joined = await admin("PUT", "/sites/depot/charge-points/CP1")
        assert joined.status == 200, joined.body
        for path in ("/sites", "/sites/depot"):
            shell = await asyncio.to_thread(fetch, served.url + path)
            assert shell.status == 200 and 'href="/sites" aria-current=page' in shell.text
        listing = await asyncio.to_thread(fetch, served.url + "/fragments/sites", viewer)
        assert listing.status == 200
        assert 'href="/sites/depot"' in listing.text and "100 A" in listing.text
        assert "&lt;i&gt;yard&lt;/i&gt;" in listing.text and "<i>" not in listing.text
        site = await asyncio.to_thread(fetch, served.url + "/fragments/sites/depot", viewer)
        assert site.status == 200 and 'href="/charge-points/CP1"' in site.text
        allocation = await asyncio.to_thread(
            fetch, served.url + "/fragments/sites/depot/allocation", viewer
        )
        assert allocation.status == 200 and "No transaction running." in allocation.text
    unknown = await asyncio.to_thread(fetch, served.url + "/fragments/sites/nowhere", viewer)
    assert unknown.status == 404
    denied = await asyncio.to_thread(fetch, served.url + "/fragments/sites")
    assert denied.status == 401


async def test_the_message_log_never_splits_a_call_from_its_answer_across_pages(
    served: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 3 frames: each page goes on to the call of its oldest answer, and the next
    page starts after it (Boot, then three Heartbeats: 8 frames in 2 pages of 2 exchanges)."""
    monkeypatch.setattr(message_log, "MESSAGES_SHOWN", 3)
    viewer = served.tokens[Role.VIEWER]
    async with charge_point(served) as cp:
        for _ in range(3):
            await cp.ask("Heartbeat", {})
        client = served.client(Role.VIEWER)
        for _ in range(500):  # the log is written by the group commit
            logged = await client("GET", "/messages", chargePointId="CP1")
            if len(logged.body["items"]) == 8:
                break
            await asyncio.sleep(0.01)
        ids = [m["uniqueId"] for m in logged.body["items"]]
    base = served.url + "/fragments/charge-points/CP1/messages"
    first = await asyncio.to_thread(fetch, base, viewer)
    assert first.status == 200, first.text
    assert re.findall(r'data-unique-id="([^"]*)"', first.text) == [ids[0], ids[2]]
    assert first.text.count("<pre>") == 4 and "Its call is not shown" not in first.text
    older = re.findall(r'<a href="([^"]*)">Older</a>', first.text)
    assert len(older) == 1 and "cursor=" in older[0]
    cursor = unescape(older[0]).split("cursor=")[1]
    second = await asyncio.to_thread(fetch, base + "?cursor=" + cursor, viewer)
    assert re.findall(r'data-unique-id="([^"]*)"', second.text) == [ids[4], ids[6]]
    assert second.text.count("<pre>") == 4 and ">Older</a>" not in second.text
    assert "BootNotification" in second.text


async def test_a_reconciled_transaction_shows_its_evidence_and_no_invented_reading(
    served: Api,
) -> None:
    async with charge_point(served) as cp:
        started = {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000}
        first = await cp.ask("StartTransaction", started | {"timestamp": "2026-11-25T10:00:00Z"})
        second = await cp.ask("StartTransaction", started | {"timestamp": "2026-11-25T11:00:00Z"})
    viewer = served.tokens[Role.VIEWER]
    page = await asyncio.to_thread(
        fetch, f"{served.url}/fragments/transactions/{first['transactionId']}", viewer
    )
    assert page.status == 200
    assert (
        "<dt>Stop reason</dt><dd>reconciled: the charger forgot this transaction; closed on "
        f"StartTransaction of transaction {second['transactionId']} on connector 1 at "
        "2026-11-25T11:00:00Z (received 2026-11-25T12:00:00Z). Meter stop and energy unknown."
        "</dd>"
    ) in page.text
    dash = '<span class="muted">-</span>'
    assert f"<dt>Meter stop</dt><dd>{dash}</dd>" in page.text
    assert f'<dt>Energy</dt><dd><span id="energy">{dash}</span></dd>' in page.text
    listed = await asyncio.to_thread(fetch, f"{served.url}/fragments/transactions", viewer)
    assert '<td data-label="Stop reason">reconciled</td>' in listed.text
