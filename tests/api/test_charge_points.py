"""Charge points: registration by admins, and the live view (connection, boot, heartbeat,
connectors)."""

import asyncio

import pytest
import sqlalchemy as sa
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from ocppd.api.tokens import Role
from ocppd.csms.models import security_events
from tests.api.conftest import Api, charge_point


async def test_register_replace_patch_and_delete(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    created = await admin("PUT", "/charge-points/CP%207", {"registrationStatus": "Pending"})
    assert created.status == 201
    assert created.body["chargePointId"] == "CP 7"
    assert created.body["registrationStatus"] == "Pending"
    assert created.body["connected"] is False and created.body["boot"] is None
    replaced = await admin(
        "PUT",
        "/charge-points/CP%207",
        {"authorizationKey": "0123456789abcdef", "tolerate": ["empty_lists"]},
    )
    assert replaced.status == 200
    assert replaced.body["registrationStatus"] == "Accepted"
    assert replaced.body["basicAuth"] is True and replaced.body["tolerate"] == ["empty_lists"]
    patched = await admin("PATCH", "/charge-points/CP%207", {"authorizationKey": None})
    assert patched.status == 200
    assert patched.body["basicAuth"] is False and patched.body["tolerate"] == ["empty_lists"]
    assert (await admin("GET", "/charge-points/CP%207")).body == patched.body
    assert (await admin("DELETE", "/charge-points/CP%207")).status == 204
    assert (await admin("GET", "/charge-points/CP%207")).status == 404
    assert (await admin("DELETE", "/charge-points/CP%207")).status == 404
    assert (await admin("PATCH", "/charge-points/CP%207", {})).status == 404


async def test_bad_registration_bodies_are_400_naming_the_field(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    for body, field in [
        ({"registrationStatus": "Maybe"}, "registrationStatus"),
        ({"tolerate": ["nonsense"]}, "tolerate"),
        ({"surprise": 1}, "surprise"),
    ]:
        answer = await admin("PUT", "/charge-points/CP1", body)
        assert answer.status == 400, body
        assert field in answer.body["error"], answer.body
    assert (await admin("PUT", "/charge-points/" + "x" * 256, {})).status == 400


async def test_an_authorization_key_set_by_api_is_required_at_connect(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    await admin("PUT", "/charge-points/CPK", {"authorizationKey": "0123456789abcdef"})
    with pytest.raises(InvalidStatus) as refused:
        async with connect(api.ws_url("CPK"), subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            pass
    assert refused.value.response.status_code == 401


async def test_the_view_has_boot_heartbeat_connectors_and_connection(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    async with charge_point(api, "CP1") as cp:
        await cp.ask("Heartbeat", {})
        for connector, status in [(0, "Available"), (2, "Charging"), (1, "Faulted")]:
            await cp.ask(
                "StatusNotification",
                {
                    "connectorId": connector,
                    "status": status,
                    "errorCode": "GroundFailure" if status == "Faulted" else "NoError",
                    "timestamp": "2026-11-25T11:59:00Z",
                },
            )
        view = (await viewer("GET", "/charge-points/CP1")).body
        assert view["connected"] is True and view["connectedAt"]
        assert view["boot"]["chargePointVendor"] == "V"
        assert view["boot"]["chargePointModel"] == "M"
        assert view["lastHeartbeat"] == "2026-11-25T12:00:00Z"
        assert [(c["connectorId"], c["status"], c["errorCode"]) for c in view["connectors"]] == [
            (0, "Available", "NoError"),
            (1, "Faulted", "GroundFailure"),
            (2, "Charging", "NoError"),
        ]
        assert view["connectors"][0]["timestamp"] == "2026-11-25T11:59:00Z"
    await asyncio.sleep(0.05)
    assert (await viewer("GET", "/charge-points/CP1")).body["connected"] is False


async def test_list_pages_through_every_charge_point_and_filters_by_connection(
    api: Api,
) -> None:
    admin = api.client(Role.ADMIN)
    for n in range(7):
        await admin("PUT", f"/charge-points/CP{n}", {})
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = (await admin("GET", "/charge-points", limit=3, cursor=cursor)).body
        seen += [cp["chargePointId"] for cp in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"CP{n}" for n in range(7)] and pages == 3
    async with charge_point(api, "CP3"):
        online = (await admin("GET", "/charge-points", connected=True)).body["items"]
        offline = (await admin("GET", "/charge-points", connected=False)).body["items"]
        paged: list[str] = []
        cursor = None
        while True:
            page = (
                await admin("GET", "/charge-points", connected=False, limit=2, cursor=cursor)
            ).body
            paged += [cp["chargePointId"] for cp in page["items"]]
            if (cursor := page["nextCursor"]) is None:
                break
        online_page = (await admin("GET", "/charge-points", connected=True, limit=1)).body
    assert [cp["chargePointId"] for cp in online] == ["CP3"]
    assert len(offline) == 6
    assert paged == [f"CP{n}" for n in range(7) if n != 3]
    assert online_page == {"items": online, "nextCursor": None}
    assert (await admin("GET", "/charge-points", limit=0)).status == 400
    assert (await admin("GET", "/charge-points", limit=1001)).status == 400


async def test_deleting_a_connected_charge_point_disconnects_it(api: Api) -> None:
    async with charge_point(api, "CPD") as cp:
        assert (await api.client(Role.ADMIN)("DELETE", "/charge-points/CPD")).status == 204
        await asyncio.wait_for(cp.ws.wait_closed(), 5)
        assert cp.ws.close_code == 1008
    assert "CPD" not in api.system.connections


async def test_a_status_change_reaches_the_next_boot_of_a_connected_charge_point(
    api: Api,
) -> None:
    async with charge_point(api, "CPB") as cp:
        await api.client(Role.ADMIN)(
            "PATCH", "/charge-points/CPB", {"registrationStatus": "Rejected"}
        )
        boot = await cp.ask("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    assert boot["status"] == "Rejected"


async def test_security_settings_are_read_created_changed_and_a_downgrade_recorded(
    api: Api,
) -> None:
    admin = api.client(Role.ADMIN)
    created = await admin(
        "PUT", "/charge-points/SEC1", {"securityProfile": 2, "securityExtension": True}
    )
    assert created.status == 201, created.body
    assert (created.body["securityProfile"], created.body["securityExtension"]) == (2, True)
    # A PUT without them keeps the stored ones: no accidental downgrade by an older script.
    replaced = await admin("PUT", "/charge-points/SEC1", {"registrationStatus": "Pending"})
    assert (replaced.body["securityProfile"], replaced.body["securityExtension"]) == (2, True)
    fresh = await admin("PUT", "/charge-points/SEC2", {})
    assert (fresh.body["securityProfile"], fresh.body["securityExtension"]) == (0, False)

    events = api.system.events.subscribe()
    raised = await admin("PATCH", "/charge-points/SEC1", {"securityProfile": 3})
    assert raised.status == 200 and raised.body["securityProfile"] == 3
    lowered = await admin(
        "PATCH", "/charge-points/SEC1", {"securityProfile": 1, "securityExtension": False}
    )
    assert lowered.status == 200, lowered.body
    assert (lowered.body["securityProfile"], lowered.body["securityExtension"]) == (1, False)
    event = await events.next(30)
    events.close()
    assert event is not None, "the downgrade is published"
    assert (event.type, event.charge_point_id) == ("SecurityEvent", "SEC1")
    assert event.data["type"] == "SecurityProfileLowered"
    assert (event.data["previous"], event.data["profile"]) == (3, 1)
    assert event.data["source"] == "central_system"
    async with api.system.engine.connect() as db:
        rows = (
            await db.execute(
                sa.select(security_events).where(security_events.c.charge_point_id == "SEC1")
            )
        ).all()
    assert [(r.type, r.source, r.tech_info) for r in rows] == [
        (
            "SecurityProfileLowered",
            "central_system",
            "security profile lowered by an operator from 3 to 1",
        )
    ], "raising is not recorded; lowering is, once"
    shown = await api.client(Role.VIEWER)("GET", "/charge-points/SEC1")
    assert (shown.body["securityProfile"], shown.body["securityExtension"]) == (1, False)
    listed = await api.client(Role.VIEWER)("GET", "/charge-points")
    assert {i["chargePointId"]: i["securityProfile"] for i in listed.body["items"]} == {
        "SEC1": 1,
        "SEC2": 0,
    }


async def test_bad_security_settings_are_400_naming_the_field_and_change_nothing(
    api: Api,
) -> None:
    admin = api.client(Role.ADMIN)
    await admin("PUT", "/charge-points/SEC1", {"securityProfile": 1})
    for body, field in [
        ({"securityProfile": 4}, "securityProfile"),
        ({"securityProfile": -1}, "securityProfile"),
        ({"securityProfile": "2"}, "securityProfile"),
        ({"securityProfile": True}, "securityProfile"),
        ({"securityProfile": None}, "securityProfile"),
        ({"securityExtension": "yes"}, "securityExtension"),
        ({"securityExtension": 1}, "securityExtension"),
    ]:
        for method in ("PUT", "PATCH"):
            answer = await admin(method, "/charge-points/SEC1", body)
            assert answer.status == 400, (method, body, answer.body)
            assert field in answer.body["error"], answer.body
    operator = await api.client(Role.OPERATOR)(
        "PATCH", "/charge-points/SEC1", {"securityProfile": 0}
    )
    assert operator.status == 403
    shown = await admin("GET", "/charge-points/SEC1")
    assert (shown.body["securityProfile"], shown.body["securityExtension"]) == (1, False)
