"""Transactions a charger forgot, over real sockets on both databases: closed as reconciled
by a new StartTransaction on the same connector or by an Available status after a boot, never
with an invented reading, and reopened to the real close by a late StopTransaction."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from websockets.asyncio.client import ClientConnection, connect

from ocppd.csms import models, registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.events import Subscription
from tests.csms.conftest import RunningServer


class Charger:
    """A charge point on a real WebSocket, sending one call at a time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.sent = 0

    async def ask(self, action: str, payload: dict[str, Any]) -> Any:
        self.sent += 1
        unique_id = f"m{self.sent}"
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        answer = msgspec.json.decode(await asyncio.wait_for(self.ws.recv(), 5))
        assert answer[:2] == [3, unique_id], answer
        return answer[2]

    async def boot(self) -> None:
        answer = await self.ask(
            "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
        )
        assert answer["status"] == "Accepted"

    async def start(self, connector: int, meter: int, at: str, tag: str = "GOOD") -> Any:
        payload = {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": at}
        return await self.ask("StartTransaction", payload)

    async def stop(self, transaction_id: int, meter: int, at: str, **extra: Any) -> Any:
        payload = {"transactionId": transaction_id, "meterStop": meter, "timestamp": at}
        return await self.ask("StopTransaction", payload | extra)

    async def status(self, connector: int, status: str, at: str | None = None) -> None:
        payload = {"connectorId": connector, "errorCode": "NoError", "status": status}
        await self.ask("StatusNotification", payload | ({"timestamp": at} if at else {}))


@asynccontextmanager
async def charger(server: RunningServer, identity: str = "CP1") -> AsyncIterator[Charger]:
    """A registered charge point, connected and booted (again, if it was before)."""
    async with server.system.engine.begin() as db:
        if await registration.load(db, identity) is None:
            await registration.register(db, identity)
    async with connect(server.url(identity), subprotocols=["ocpp1.6"], open_timeout=5) as ws:  # type: ignore[list-item]
        station = Charger(ws)
        await station.boot()
        yield station


async def transaction(system: CentralSystem, transaction_id: int) -> dict[str, Any]:
    async with system.engine.connect() as db:
        row = (
            await db.execute(
                sa.select(models.transactions).where(models.transactions.c.id == transaction_id)
            )
        ).one()
    return dict(row._mapping)


async def accept_tag(system: CentralSystem) -> None:
    async with system.engine.begin() as db:
        await db.execute(
            models.id_tags.insert().values(id_tag="GOOD", id_tag_key="good", status="Accepted")
        )


async def events_of(subscription: Subscription, kind: str) -> list[dict[str, Any]]:
    """The `kind` events published so far: each is published before the answer of its
    message is sent, so all are queued (the last wait, for none, is short)."""
    found = []
    while (event := await subscription.next(0.05)) is not None:
        if event.type == kind:
            found.append({"chargePointId": event.charge_point_id, **event.data})
    return found


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def test_a_new_start_on_the_connector_closes_the_forgotten_one_as_reconciled(
    server: RunningServer,
) -> None:
    system = server.system
    await accept_tag(system)
    async with charger(server) as cp, charger(server, "CP2") as other:
        forgotten = (await cp.start(1, 1000, "2026-11-25T10:00:00Z"))["transactionId"]
        elsewhere = (await other.start(1, 5, "2026-11-25T10:00:00Z", tag="OTHER"))["transactionId"]
        beside = (await cp.start(2, 70, "2026-11-25T10:05:00Z", tag="OTHER"))["transactionId"]
    events = system.events.subscribe()
    async with charger(server) as cp:  # rebooted: it forgot the transaction of connector 1
        answer = await cp.start(1, 1000, "2026-11-25T11:00:00Z")
        again = await cp.start(1, 1000, "2026-11-25T11:00:00Z")  # retransmitted
    # Not ConcurrentTx: the tag's only running transaction was the forgotten one.
    assert answer["idTagInfo"]["status"] == "Accepted"
    assert again == answer
    new = answer["transactionId"]
    closed = await transaction(system, forgotten)
    evidence = (
        f"StartTransaction of transaction {new} on connector 1 at 2026-11-25T11:00:00Z "
        "(received 2026-11-25T12:00:00Z)"
    )
    assert {k: closed[k] for k in ("stop_reason", "meter_stop", "energy_wh", "stop_evidence")} == {
        "stop_reason": "reconciled",
        "meter_stop": None,
        "energy_wh": None,
        "stop_evidence": evidence,
    }
    assert closed["stopped_at"].replace(tzinfo=UTC) == utc("2026-11-25T11:00:00Z")
    for untouched in (new, elsewhere, beside):  # the retransmission closed nothing either
        assert (await transaction(system, untouched))["stopped_at"] is None
    assert await events_of(events, "TransactionReconciled") == [
        {
            "chargePointId": "CP1",
            "transactionId": forgotten,
            "connectorId": 1,
            "reason": "reconciled",
            "stoppedAt": utc("2026-11-25T11:00:00Z"),
            "evidence": evidence,
        }
    ]


async def test_a_late_stop_replaces_the_reconciled_close_with_its_real_reading(
    server: RunningServer,
) -> None:
    system = server.system
    async with charger(server) as cp:
        forgotten = (await cp.start(1, 1000, "2026-11-25T10:00:00Z"))["transactionId"]
        newer = (await cp.start(1, 1800, "2026-11-25T11:00:00Z"))["transactionId"]
        assert (await transaction(system, forgotten))["stop_reason"] == "reconciled"
        # Its StopTransaction had been queued behind a failure: it comes after all.
        await cp.stop(forgotten, 1750, "2026-11-25T10:40:00Z", reason="PowerLoss")
        await cp.stop(newer, 1900, "2026-11-25T11:30:00Z")
    closed = await transaction(system, forgotten)
    assert {k: closed[k] for k in ("stop_reason", "meter_stop", "energy_wh", "stop_evidence")} == {
        "stop_reason": "PowerLoss",
        "meter_stop": 1750,
        "energy_wh": 750,
        "stop_evidence": None,
    }
    assert closed["stopped_at"].replace(tzinfo=UTC) == utc("2026-11-25T10:40:00Z")
    assert (await transaction(system, newer))["energy_wh"] == 100


async def test_available_after_a_boot_closes_what_was_open_at_the_boot(
    server: RunningServer,
) -> None:
    system = server.system
    async with charger(server) as cp:
        forgotten = (await cp.start(1, 1000, "2026-11-25T10:00:00Z"))["transactionId"]
        survived = (await cp.start(2, 10, "2026-11-25T10:00:00Z", tag="B"))["transactionId"]
        unplugged = (await cp.start(3, 20, "2026-11-25T10:00:00Z", tag="C"))["transactionId"]
    events = system.events.subscribe()
    async with charger(server) as cp:
        await cp.status(2, "Charging")  # it still has that one: no longer watched
        await cp.status(3, "Unavailable")  # says nothing of a transaction: still watched
        await cp.status(1, "Available", "2026-11-25T11:59:00Z")
        late = (await cp.start(4, 30, "2026-11-25T12:00:00Z", tag="D"))["transactionId"]
        # The ordinary race (a status overtaking its StopTransaction) leaves these alone:
        await cp.status(2, "Available")  # its watch ended with Charging
        await cp.status(4, "Available")  # started after the boot
        await cp.status(3, "Available", "2026-11-25T11:59:30Z")
    closed = await transaction(system, forgotten)
    evidence = (
        "StatusNotification Available on connector 1 at 2026-11-25T11:59:00Z after a "
        "BootNotification at 2026-11-25T12:00:00Z (received 2026-11-25T12:00:00Z)"
    )
    assert (closed["stop_reason"], closed["meter_stop"], closed["energy_wh"]) == (
        "reconciled",
        None,
        None,
    )
    assert closed["stop_evidence"] == evidence
    assert closed["stopped_at"].replace(tzinfo=UTC) == utc("2026-11-25T11:59:00Z")
    assert (await transaction(system, unplugged))["stop_reason"] == "reconciled"
    assert (await transaction(system, survived))["stopped_at"] is None
    assert (await transaction(system, late))["stopped_at"] is None
    reconciled = await events_of(events, "TransactionReconciled")
    assert [(e["transactionId"], e["connectorId"]) for e in reconciled] == [
        (forgotten, 1),
        (unplugged, 3),
    ]
    assert reconciled[0]["evidence"] == evidence


async def test_a_stop_sent_after_the_boot_wins_over_the_available_that_follows(
    server: RunningServer,
) -> None:
    system = server.system
    async with charger(server) as cp:
        running = (await cp.start(1, 1000, "2026-11-25T10:00:00Z"))["transactionId"]
    events = system.events.subscribe()
    async with charger(server) as cp:
        await cp.stop(running, 1200, "2026-11-25T10:30:00Z", reason="HardReset")
        await cp.status(1, "Available")
    closed = await transaction(system, running)
    assert (closed["stop_reason"], closed["meter_stop"], closed["stop_evidence"]) == (
        "HardReset",
        1200,
        None,
    )
    assert await events_of(events, "TransactionReconciled") == []


async def test_a_status_without_a_boot_on_its_connection_reconciles_nothing(
    server: RunningServer,
) -> None:
    system = server.system
    async with charger(server) as cp:
        running = (await cp.start(1, 1000, "2026-11-25T10:00:00Z"))["transactionId"]
        await cp.status(1, "Available")  # started after the boot: the ordinary race
    async with connect(server.url("CP1"), subprotocols=["ocpp1.6"], open_timeout=5) as ws:  # type: ignore[list-item]
        await Charger(ws).status(1, "Available")  # reconnected, not rebooted
    assert (await transaction(system, running))["stopped_at"] is None
