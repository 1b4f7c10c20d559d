"""Chargers that keep a ledger of what the central system acknowledged, and the check that the
database holds exactly that: each acknowledged StartTransaction, StopTransaction and sampled
meter value once, nothing else (issue 17's durability proof; also `bench/faults.py`).

A charger runs transactions (StartTransaction, MeterValues, StopTransaction with
transactionData), one call outstanding. A call that gets no CALLRESULT (the connection
dropped, no answer within `call_timeout`, a CALLERROR) is sent again, with the same content,
after reconnecting if need be, until one comes: a retransmission of something the server
may have committed already. Every payload is unique (the charger's own clock counts a
second per message), so the database's rows can be matched to the calls one by one.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from ocppd.csms import models

EPOCH = datetime(2026, 12, 1, tzinfo=UTC)
MEASURAND = "Energy.Active.Import.Register"
BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


@dataclass
class Ledger:
    """What the chargers were told, and when."""

    starts: dict[tuple[str, datetime], set[int]] = field(default_factory=dict)
    """(charger, start timestamp) -> the transaction ids its CALLRESULTs carried."""
    stops: dict[int, tuple[int, datetime]] = field(default_factory=dict)
    """transaction id -> (meterStop, timestamp) of an acknowledged StopTransaction."""
    samples: set[tuple[int, datetime]] = field(default_factory=set)
    """(transaction id, timestamp) of every acknowledged sampled value (one per timestamp)."""
    acknowledged = 0
    """CALLRESULTs received (of starts, meter values and stops)."""
    retransmissions = 0
    """Calls sent again: no answer (the connection dropped or timed out) or a CALLERROR."""
    internal_errors = 0
    charger_timeouts = 0
    """Calls that the charger gave up waiting for (no answer within its own timeout)."""
    answers: list[tuple[float, int]] = field(default_factory=list)
    """(monotonic time, message type 3 or 4) of every answer received."""

    def first_answer_after(self, moment: float, kind: int = 3) -> float | None:
        """Seconds from `moment` to the first answer of `kind` after it."""
        later = [at for at, answered in self.answers if answered == kind and at >= moment]
        return min(later) - moment if later else None


class Charger:
    def __init__(
        self,
        identity: str,
        url: Callable[[], str],
        ledger: Ledger,
        call_timeout: float = 15.0,
        samples_per_transaction: int = 3,
    ) -> None:
        """`url`: where to connect now (a restarted server may listen elsewhere)."""
        self.identity = identity
        self.url = url
        self.ledger = ledger
        self.call_timeout = call_timeout
        self.samples = samples_per_transaction
        self.clock = EPOCH
        self.meter = 0
        self.messages = 0
        self.ws: ClientConnection | None = None
        self.booted = False

    async def run(self, stop: asyncio.Event) -> None:
        """Transactions until `stop` is set; the one under way is finished first."""
        try:
            while not stop.is_set():
                await self.transaction()
        finally:
            if self.ws is not None:
                await self.ws.close()

    async def transaction(self) -> None:
        started = self._tick()
        start = {
            "connectorId": 1,
            "idTag": "TAG",
            "meterStart": self.meter,
            "timestamp": _iso(started),
        }
        result = await self.call("StartTransaction", start)
        transaction_id = int(result["transactionId"])
        self.ledger.starts.setdefault((self.identity, started), set()).add(transaction_id)
        for _ in range(self.samples):
            at = self._tick()
            self.meter += 100
            values = {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [_sample(at, self.meter)],
            }
            await self.call("MeterValues", values)
            self.ledger.samples.add((transaction_id, at))
        stopped = self._tick()
        self.meter += 100
        stop = {
            "transactionId": transaction_id,
            "meterStop": self.meter,
            "timestamp": _iso(stopped),
            "transactionData": [_sample(stopped, self.meter)],
        }
        await self.call("StopTransaction", stop)
        self.ledger.stops[transaction_id] = (self.meter, stopped)
        self.ledger.samples.add((transaction_id, stopped))

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        """The CALLRESULT's payload, however many times it takes."""
        sent_before = False
        while True:
            if sent_before:
                self.ledger.retransmissions += 1
            reply = await self._attempt(action, payload)
            sent_before = True
            if reply is None:
                continue
            self.ledger.answers.append((time.monotonic(), reply[0]))
            if reply[0] == 3:
                self.ledger.acknowledged += 1
                return reply[2]
            if reply[2] == "InternalError":
                self.ledger.internal_errors += 1
            else:
                raise AssertionError(f"{self.identity}: {action} refused: {reply}")

    async def _attempt(self, action: str, payload: dict[str, Any]) -> Any:
        """The answer to one sending of the call; None if none came."""
        ws = await self._connected()
        self.messages += 1
        unique_id = f"{self.messages}"
        try:
            await ws.send(msgspec.json.encode([2, unique_id, action, payload]).decode())
            while True:
                reply = msgspec.json.decode(await asyncio.wait_for(ws.recv(), self.call_timeout))
                if reply[1] == unique_id:  # an answer to an earlier sending is ignored
                    return reply
        except TimeoutError:
            self.ledger.charger_timeouts += 1
            await self._drop()
        except (OSError, WebSocketException):
            await self._drop()
        return None

    async def _connected(self) -> ClientConnection:
        while self.ws is None:
            try:
                ws = await connect(self.url(), subprotocols=["ocpp1.6"], open_timeout=5)  # type: ignore[list-item]
            except (OSError, TimeoutError, InvalidHandshake):
                await asyncio.sleep(0.1)  # the server is down or starting
                continue
            self.ws = ws
            if not self.booted:  # a reconnect needs no new boot
                await ws.send(msgspec.json.encode([2, "boot", "BootNotification", BOOT]).decode())
                reply = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))
                assert reply[0] == 3, reply
                self.booted = True
        return self.ws

    async def _drop(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 1)
            self.ws = None

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _sample(at: datetime, meter: int) -> dict[str, Any]:
    return {
        "timestamp": _iso(at),
        "sampledValue": [{"value": str(meter), "measurand": MEASURAND, "unit": "Wh"}],
    }


@dataclass
class Stored:
    """How the database holds what the ledger says was acknowledged."""

    acknowledged: int
    """Acknowledged items: starts, stops and sampled values."""
    lost: list[str]
    duplicated: list[str]
    unexpected: list[str]
    """Rows no acknowledged call accounts for."""


async def stored(engine: AsyncEngine, ledger: Ledger) -> Stored:
    t, mv = models.transactions, models.meter_values
    async with engine.connect() as connection:
        transactions = (
            await connection.execute(
                sa.select(
                    t.c.id, t.c.charge_point_id, t.c.started_at, t.c.meter_stop, t.c.stopped_at
                )
            )
        ).all()
        samples = (
            await connection.execute(
                sa.select(mv.c.transaction_id, mv.c.timestamp, sa.func.count()).group_by(
                    mv.c.transaction_id, mv.c.timestamp
                )
            )
        ).all()
    lost: list[str] = []
    duplicated: list[str] = []
    unexpected: list[str] = []
    by_start: dict[tuple[str, datetime], list[int]] = {}
    rows = {row.id: row for row in transactions}
    for row in transactions:
        by_start.setdefault((row.charge_point_id, _utc(row.started_at)), []).append(row.id)
    for key, ids in ledger.starts.items():
        found = by_start.pop(key, [])
        if not found:
            lost.append(f"start {key}")
        elif len(found) > 1 or len(ids) > 1 or set(found) != ids:
            duplicated.append(f"start {key}: stored {found}, answered {sorted(ids)}")
    unexpected += [f"transaction {ids} started {key}" for key, ids in by_start.items()]
    for transaction_id, (meter, at) in ledger.stops.items():
        stop = rows.get(transaction_id)
        if stop is None or stop.stopped_at is None or stop.meter_stop != meter:
            lost.append(f"stop of {transaction_id}")
        elif _utc(stop.stopped_at) != at:
            unexpected.append(f"stop of {transaction_id} at {stop.stopped_at}, not {at}")
    counts = {(sample[0], _utc(sample[1])): sample[2] for sample in samples}
    for sampled in ledger.samples:
        count = counts.pop(sampled, 0)
        if count == 0:
            lost.append(f"sample {sampled}")
        elif count > 1:
            duplicated.append(f"sample {sampled} x{count}")
    unexpected += [f"sample {sampled} x{count}" for sampled, count in counts.items()]
    acknowledged = len(ledger.starts) + len(ledger.stops) + len(ledger.samples)
    return Stored(acknowledged, lost, duplicated, unexpected)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
