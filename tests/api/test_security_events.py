"""Security events through the API (filters, pages, roles) from chargers on real sockets; the
installed certificates recorded from GetInstalledCertificateIds and DeleteCertificate."""

import asyncio
import json
from typing import Any

import httpx

from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point
from tests.api.test_commands import HASH_DATA, with_security_extension


def event(event_type: str, at: str, tech_info: str | None = None) -> dict[str, Any]:
    payload = {"type": event_type, "timestamp": at}
    if tech_info is not None:
        payload["techInfo"] = tech_info
    return payload


async def test_events_are_listed_filtered_and_paged(api: Api) -> None:
    async with charge_point(api) as cp1, charge_point(api, "CP2") as cp2:
        for cp, payload in [
            (cp1, event("StartupOfTheDevice", "2026-11-25T10:00:00Z")),
            (cp1, event("InvalidMessages", "2026-11-25T10:05:00Z", "bad frame")),
            (cp2, event("TamperDetectionActivated", "2026-11-25T10:10:00Z", "lid")),
            (cp2, event("AcmeDoorOpened", "2026-11-25T10:15:00Z")),
        ]:
            assert await cp.ask("SecurityEventNotification", payload) == {}
    await api.system.security_events.observed(
        "GHOST", "InvalidChargePointCertificate", "certificate of CP1"
    )
    viewer = api.client(Role.VIEWER)

    async def listed(**query: Any) -> list[tuple[str, str]]:
        answer = await viewer("GET", "/security-events", **query)
        assert answer.status == 200, answer.body
        return [(item["chargePointId"], item["type"]) for item in answer.body["items"]]

    everything = (await viewer("GET", "/security-events")).body["items"]
    assert [(e["chargePointId"], e["type"], e["critical"], e["source"]) for e in everything] == [
        ("GHOST", "InvalidChargePointCertificate", False, "central_system"),
        ("CP2", "AcmeDoorOpened", False, "charger"),
        ("CP2", "TamperDetectionActivated", True, "charger"),
        ("CP1", "InvalidMessages", False, "charger"),
        ("CP1", "StartupOfTheDevice", True, "charger"),
    ]
    assert everything[3]["techInfo"] == "bad frame" and everything[4]["techInfo"] is None
    assert everything[4]["timestamp"] == "2026-11-25T10:00:00Z"
    assert await listed(critical="true") == [
        ("CP2", "TamperDetectionActivated"),
        ("CP1", "StartupOfTheDevice"),
    ]
    assert await listed(chargePointId="CP1", critical="false") == [("CP1", "InvalidMessages")]
    assert await listed(type="startupofthedevice") == [("CP1", "StartupOfTheDevice")]
    assert await listed(source="central_system") == [("GHOST", "InvalidChargePointCertificate")]
    assert await listed(since="2026-11-25T11:05:00+01:00", until="2026-11-25T10:15:00Z") == [
        ("CP2", "TamperDetectionActivated"),
        ("CP1", "InvalidMessages"),
    ]
    assert await listed(chargePointId="x" * 300) == []  # longer than any: matches nothing

    first = (await viewer("GET", "/security-events", limit=2)).body
    assert len(first["items"]) == 2 and first["nextCursor"] is not None
    rest = (await viewer("GET", "/security-events", limit=2, cursor=first["nextCursor"])).body
    last = (await viewer("GET", "/security-events", limit=2, cursor=rest["nextCursor"])).body
    ids = [e["id"] for page in (first, rest, last) for e in page["items"]]
    assert ids == [e["id"] for e in everything] and last["nextCursor"] is None

    one = (await viewer("GET", "/charge-points/CP2/security-events", critical="true")).body
    assert [e["type"] for e in one["items"]] == ["TamperDetectionActivated"]
    assert (await viewer("GET", "/charge-points/GHOST/security-events")).status == 404


async def test_bad_filters_are_400_naming_the_parameter(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    for query, field in [
        ({"critical": "maybe"}, "critical"),
        ({"source": "someone"}, "source"),
        ({"since": "2026-11-25T10:00:00"}, "since"),  # no zone
        ({"until": "0001-01-01T00:00:00+01:00"}, "until"),
        ({"cursor": "x"}, "cursor"),
        ({"cursor": str(2**63)}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"type": "a\x00b"}, "type"),
    ]:
        answer = await viewer("GET", "/security-events", **query)
        assert answer.status == 400, (query, answer.body)
        assert field in str(answer.body), (query, answer.body)
    assert (await api.client(None)("GET", "/security-events")).status == 401


async def test_installed_certificates_follow_the_chargers_answers(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    other = {**HASH_DATA, "serialNumber": "0A"}
    path = "/charge-points/CP1/commands/"
    async with charge_point(api) as cp:
        assert (await operator("GET", "/charge-points/CP1/installed-certificates")).body == []
        cp.replies["GetInstalledCertificateIds"] = {
            "status": "Accepted",
            "certificateHashData": [HASH_DATA, other],
        }
        manufacturer = {"certificateType": "ManufacturerRootCertificate"}
        central = {"certificateType": "CentralSystemRootCertificate"}
        assert (
            await operator("POST", path + "GetInstalledCertificateIds", manufacturer)
        ).status == 200
        cp.replies["GetInstalledCertificateIds"] = {
            "status": "Accepted",
            "certificateHashData": [{**HASH_DATA, "serialNumber": "77"}],
        }
        assert (await operator("POST", path + "GetInstalledCertificateIds", central)).status == 200
        listed = (
            await api.client(Role.VIEWER)("GET", "/charge-points/CP1/installed-certificates")
        ).body
        assert [(c["certificateType"], c["serialNumber"]) for c in listed] == [
            ("CentralSystemRootCertificate", "77"),
            ("ManufacturerRootCertificate", "0A"),
            ("ManufacturerRootCertificate", "1f"),
        ]
        assert listed[0]["issuerNameHash"] == "a" * 64 and listed[0]["hashAlgorithm"] == "SHA256"
        # A refused delete changes nothing; an accepted one (the serial as a number: 00a is
        # 0A) removes it.
        cp.replies["DeleteCertificate"] = {"status": "Failed"}
        deleted = {"certificateHashData": {**other, "serialNumber": "00a"}}
        assert (await operator("POST", path + "DeleteCertificate", deleted)).status == 200
        assert len((await operator("GET", "/charge-points/CP1/installed-certificates")).body) == 3
        cp.replies["DeleteCertificate"] = {"status": "Accepted"}
        assert (await operator("POST", path + "DeleteCertificate", deleted)).status == 200
        listed = (await operator("GET", "/charge-points/CP1/installed-certificates")).body
        assert [c["serialNumber"] for c in listed] == ["77", "1f"]
        # NotFound: none of that type any more.
        cp.replies["GetInstalledCertificateIds"] = {"status": "NotFound"}
        assert (
            await operator("POST", path + "GetInstalledCertificateIds", manufacturer)
        ).status == 200
        listed = (await operator("GET", "/charge-points/CP1/installed-certificates")).body
        assert [c["serialNumber"] for c in listed] == ["77"]
    assert (await operator("GET", "/charge-points/NOBODY/installed-certificates")).status == 404


async def test_a_security_event_on_the_event_stream(api: Api) -> None:
    """The `event:` line names SecurityEvent; the data's `type` is the security event's (the
    contract's field names), with the rest of the contract's fields."""
    headers = {"Authorization": f"Bearer {api.tokens[Role.VIEWER]}"}
    async with (
        httpx.AsyncClient(base_url=api.url, timeout=30) as client,
        client.stream(
            "GET", "/api/v1/events", params={"chargePointId": "CP1"}, headers=headers
        ) as response,
    ):
        lines = response.aiter_lines()
        assert await asyncio.wait_for(anext(lines), 30) == ": subscribed"
        async with charge_point(api) as cp:
            payload = event("MemoryExhaustion", "2026-11-25T10:00:00+02:00", "heap")
            assert await cp.ask("SecurityEventNotification", payload) == {}

            async def security_event() -> tuple[str, dict[str, Any]]:
                kind = ""
                async for line in lines:
                    if line.startswith("event:"):
                        kind = line.removeprefix("event:").strip()
                    elif line.startswith("data:") and kind == "SecurityEvent":
                        return kind, json.loads(line.removeprefix("data:").strip())
                raise AssertionError("the stream ended")

            kind, data = await asyncio.wait_for(security_event(), 30)
    assert kind == "SecurityEvent"
    assert {k: v for k, v in data.items() if k != "at"} == {
        "type": "MemoryExhaustion",
        "chargePointId": "CP1",
        "techInfo": "heap",
        "critical": True,
        "source": "charger",
        "timestamp": "2026-11-25T08:00:00Z",
    }
