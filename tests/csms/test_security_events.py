"""Security events over real WebSockets: a charger's SecurityEventNotification stored and
published, critical per the white paper's list; the central system's own events."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from websockets.asyncio.client import ClientConnection, connect

from ocppd.csms import models, registration, security_events
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.events import Event, Subscription
from ocppd.csms.settings import Settings
from tests.csms.conftest import FixedClock, RunningServer
from tests.eventually import eventually

BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


@asynccontextmanager
async def charger(server: RunningServer, identity: str = "CP1") -> AsyncIterator[ClientConnection]:
    async with server.system.engine.begin() as db:
        await registration.register(db, identity)
    async with connect(server.url(identity), subprotocols=["ocpp1.6"], open_timeout=10) as ws:
        yield ws


async def ask(ws: ClientConnection, action: str, payload: Any, unique_id: str = "u1") -> Any:
    await ws.send(msgspec.json.encode([2, unique_id, action, payload]).decode())
    return msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))


async def booted(ws: ClientConnection) -> None:
    await ws.send(BOOT)
    answer = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))
    assert answer[2]["status"] == "Accepted"


async def stored(system: CentralSystem) -> list[Any]:
    async with system.engine.connect() as db:
        table = models.security_events
        return list((await db.execute(sa.select(table).order_by(table.c.id))).mappings())


async def next_security_event(events: Subscription) -> Event:
    while True:
        event = await asyncio.wait_for(events.__anext__(), 30)
        if event.type == security_events.EVENT:
            return event


async def test_a_notification_is_stored_published_and_answered(server: RunningServer) -> None:
    events = server.system.events.subscribe()
    async with charger(server) as ws:
        await booted(ws)
        answer = await ask(
            ws,
            "SecurityEventNotification",
            {
                "type": "TamperDetectionActivated",
                "timestamp": "2026-11-25T13:00:00+01:00",
                "techInfo": "lid opened",
            },
        )
    assert answer == [3, "u1", {}]
    [row] = await stored(server.system)
    assert row["charge_point_id"] == "CP1"
    assert row["type"] == "TamperDetectionActivated"
    assert row["tech_info"] == "lid opened"
    assert row["critical"] is True
    assert row["source"] == "charger"
    assert row["timestamp"].replace(tzinfo=UTC) == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    event = await next_security_event(events)
    assert event.charge_point_id == "CP1"
    assert event.data == {
        "type": "TamperDetectionActivated",
        "techInfo": "lid opened",
        "critical": True,
        "source": "charger",
        "timestamp": datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    }


@pytest.mark.parametrize(
    ("event_type", "critical"),
    [
        ("StartupOfTheDevice", True),
        ("startupofthedevice", True),  # a CiString: compared without case
        ("FirmwareUpdated", True),
        ("InvalidFirmwareSignature", False),  # listed, not critical in 1.6
        ("FailedToAuthenticateAtCentralSystem", False),
        ("VendorSpecificThing", False),  # not on the list: stored, not critical
    ],
)
async def test_critical_follows_the_white_papers_list(
    server: RunningServer, event_type: str, critical: bool
) -> None:
    async with charger(server) as ws:
        await booted(ws)
        notification = {"type": event_type, "timestamp": "2026-11-25T12:00:00Z"}
        assert await ask(ws, "SecurityEventNotification", notification) == [3, "u1", {}]
    [row] = await stored(server.system)
    assert (row["type"], row["critical"], row["tech_info"]) == (event_type, critical, None)


@pytest.mark.parametrize(
    ("payload", "code", "named"),
    [
        ({"type": "ResetOrReboot", "timestamp": "2026-11-25T12:00:00Z", "techInfo": "x" * 256},
         "TypeConstraintViolation", "techInfo"),
        ({"type": "T" * 51, "timestamp": "2026-11-25T12:00:00Z"},
         "TypeConstraintViolation", "type"),
        ({"type": "ResetOrReboot"}, "ProtocolError", "timestamp"),
        ({"type": "ResetOrReboot", "timestamp": "yesterday"}, "", "timestamp"),
    ],
)  # fmt: skip
async def test_bad_notifications_are_refused_and_nothing_is_stored(
    server: RunningServer, payload: dict[str, Any], code: str, named: str
) -> None:
    async with charger(server) as ws:
        await booted(ws)
        answer = await ask(ws, "SecurityEventNotification", payload)
        assert answer[0] == 4 and answer[1] == "u1", answer
        if code:
            assert answer[2] == code, answer
        assert named in answer[3], answer
        # The connection goes on.
        good = {"type": "ResetOrReboot", "timestamp": "2026-11-25T12:00:00Z"}
        assert await ask(ws, "SecurityEventNotification", good, "u2") == [3, "u2", {}]
    assert [row["type"] for row in await stored(server.system)] == ["ResetOrReboot"]


async def test_a_notification_before_the_boot_is_a_security_error(server: RunningServer) -> None:
    async with charger(server) as ws:
        notification = {"type": "StartupOfTheDevice", "timestamp": "2026-11-25T12:00:00Z"}
        answer = await ask(ws, "SecurityEventNotification", notification)
    assert answer[0] == 4 and answer[2] == "SecurityError"
    assert await stored(server.system) == []


async def test_the_central_systems_own_events(server: RunningServer, clock: FixedClock) -> None:
    events = server.system.events.subscribe()
    # Any identity (a refused connection may name one that is not registered), strings cut.
    await server.system.security_events.observed(
        "nobody", "InvalidChargePointCertificate", "certificate of CP2: " + "y" * 300
    )
    [row] = await stored(server.system)
    assert row["source"] == "central_system"
    assert row["charge_point_id"] == "nobody"
    assert row["critical"] is False
    assert len(row["tech_info"]) == 255 and row["tech_info"].startswith("certificate of CP2")
    assert row["timestamp"].replace(tzinfo=UTC) == clock.now
    event = await next_security_event(events)
    assert event.data["source"] == "central_system"
    assert event.data["type"] == "InvalidChargePointCertificate"
    assert event.data["techInfo"] == row["tech_info"]


def test_criticality() -> None:
    assert security_events.is_critical("MemoryExhaustion")
    assert security_events.is_critical("SECURITYLOGWASCLEARED")
    assert not security_events.is_critical("InvalidTLSVersion")
    assert not security_events.is_critical("")
    assert security_events.CRITICAL_TYPES < security_events.KNOWN_TYPES
    assert len(security_events.KNOWN_TYPES) == 18


async def test_events_past_their_retention_are_pruned(
    server: RunningServer, clock: FixedClock
) -> None:
    """A charger sending SecurityEventNotification in a loop: its rows last the retention
    (by when they were received), then the hourly housekeeping deletes them."""
    notification = {"type": "InvalidMessages", "timestamp": "2026-11-25T12:00:00Z"}
    async with charger(server) as ws:
        await booted(ws)
        for n in range(3):
            assert await ask(ws, "SecurityEventNotification", notification, f"old{n}") == [
                3,
                f"old{n}",
                {},
            ]
        clock.now += timedelta(days=Settings().security_event_retention_days + 1)
        assert await ask(ws, "SecurityEventNotification", notification, "new") == [3, "new", {}]
    assert len(await stored(server.system)) == 4
    # The housekeeping runs at start, then hourly: a node started now prunes at once.
    later = CentralSystem(Settings(), clock=clock, engine=server.system.engine)
    await later.start()
    try:

        async def pruned() -> bool:
            return len(await stored(server.system)) == 1

        await eventually(pruned, "the 3 old security events deleted")
    finally:
        await later.stop()
    [kept] = await stored(server.system)
    assert kept["received_at"].replace(tzinfo=UTC) == clock.now
    assert await server.system.prune_security_events() == 0
