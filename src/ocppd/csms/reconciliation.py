"""Transactions a charger forgot: closed once it has clearly moved on, never with an invented
reading.

A charger that reboots and loses a transaction never sends its StopTransaction: the
transaction would run in ocppd forever, and a RemoteStopTransaction for it is Rejected (the
charger knows no such transaction). Such a transaction is closed with `stop_reason`
"reconciled", meterStop and energy unknown (NULL), and `stop_evidence` saying which message
showed it and when, on either evidence:

1. A new StartTransaction on the same connector of the same charge point (not a retransmission
   of the transaction's own start): a connector holds one transaction at a time, and a charger
   sends its transaction messages in order, so a StopTransaction it still had queued would
   have come first. Checked in the batch that stores the start, with the batch's one read
   (`transactions.Transactions`); the forgotten transaction then no longer makes the new
   start's tag ConcurrentTx.
2. After a BootNotification, the connector's StatusNotification Available, on the same
   connection (`AfterBoot`): the charger restarted and reports the connector free. Only the
   transactions open when it booted count (read by the boot's own write), so the ordinary
   race of a status overtaking its transaction's StopTransaction (statuses are not queued
   behind transaction messages) is left alone for transactions started since. A status that
   shows a transaction (Charging, SuspendedEV, SuspendedEVSE) or its end (Finishing: the stop
   is on its way) ends the watch of that connector; the others (Preparing, Reserved,
   Unavailable, Faulted) keep it.

Neither loses a legitimate late stop: a charger that queued its StopTransaction while offline
may still send it after the evidence (a status overtakes the queue). A stop is never refused,
and one for a reconciled transaction closes it again with its real reading, time, reason and
energy, and clears the evidence. The close's `stopped_at` is the evidence's timestamp (the
charger's clock, like every stop time: it ended at the latest then), never before its start.
Each close is published as a `TransactionReconciled` event.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.clock import as_utc
from ocppd.csms.models import transactions

REASON = "reconciled"
"""The stop reason of a forgotten transaction (not one of OCPP's, which a charger sends)."""

FREE = "Available"
WATCH_ENDS = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"})


@dataclass(frozen=True)
class Reconciled:
    transaction_id: int
    connector_id: int
    stopped_at: datetime
    evidence: str

    def event_data(self) -> dict[str, Any]:
        return {
            "transactionId": self.transaction_id,
            "connectorId": self.connector_id,
            "reason": REASON,
            "stoppedAt": self.stopped_at,
            "evidence": self.evidence,
        }


def _iso(at: datetime) -> str:
    return as_utc(at).isoformat().replace("+00:00", "Z")


def by_start(transaction_id: int, connector_id: int, at: datetime, received_at: datetime) -> str:
    return (
        f"StartTransaction of transaction {transaction_id} on connector {connector_id} at "
        f"{_iso(at)} (received {_iso(received_at)})"
    )


def by_status(connector_id: int, at: datetime, booted_at: datetime, received_at: datetime) -> str:
    return (
        f"StatusNotification {FREE} on connector {connector_id} at {_iso(at)} after a "
        f"BootNotification at {_iso(booted_at)} (received {_iso(received_at)})"
    )


def closed(
    transaction_id: int, connector_id: int, started_at: datetime, at: datetime, evidence: str
) -> tuple[Reconciled, dict[str, Any]]:
    """The reconciliation of a transaction, and its close (the columns a stop sets)."""
    stopped_at = max(as_utc(started_at), as_utc(at))
    values = {
        "id": transaction_id,
        "meter_stop": None,
        "stopped_at": stopped_at,
        "stop_reason": REASON,
        "stop_id_tag": None,
        "energy_wh": None,
        "stop_evidence": evidence,
    }
    return Reconciled(transaction_id, connector_id, stopped_at, evidence), values


@dataclass(frozen=True)
class Forgotten:
    """A transaction open when its charger booted."""

    transaction_id: int
    started_at: datetime


_OPEN_OF_CHARGER = sa.select(
    transactions.c.id, transactions.c.connector_id, transactions.c.started_at
).where(
    transactions.c.charge_point_id == sa.bindparam("charge_point_id"),
    transactions.c.stopped_at.is_(None),
)


ANY_OPEN = (
    sa.select(transactions.c.id)
    .where(
        transactions.c.charge_point_id == sa.bindparam("open_of"),
        transactions.c.stopped_at.is_(None),
    )
    .exists()
    .label("any_open")
)
"""Whether the charge point `open_of` has an open transaction: for the boot's UPDATE to
return, so that the common boot, with none, reads nothing more (`AfterBoot.read`). Built
once: building it per boot cost more than the read it saves."""


class AfterBoot:
    """The transactions open when a charge point booted, by connector, until its status shows
    whether it still has them (evidence 2 of the module docstring). Empty, and costing one
    truth test per StatusNotification, unless a charger booted with transactions open."""

    def __init__(self) -> None:
        self.booted_at: datetime | None = None
        self.watched: dict[int, list[Forgotten]] = {}

    async def read(self, connection: AsyncConnection, charge_point_id: str) -> list[Any]:
        """The charge point's open transactions, read in its boot's write."""
        rows = await connection.execute(_OPEN_OF_CHARGER, {"charge_point_id": charge_point_id})
        return list(rows)

    def booted(self, at: datetime, open_rows: Sequence[Any]) -> None:
        self.booted_at = at
        self.watched = {}
        for transaction_id, connector_id, started_at in open_rows:
            if connector_id > 0:
                forgotten = Forgotten(int(transaction_id), as_utc(started_at))
                self.watched.setdefault(connector_id, []).append(forgotten)

    def on_status(self, connector_id: int, status: str) -> list[Forgotten]:
        """The transactions that `status` of the connector shows forgotten (none, mostly)."""
        if connector_id not in self.watched:
            return []
        if status == FREE:
            return self.watched.pop(connector_id)
        if status in WATCH_ENDS:
            del self.watched[connector_id]
        return []


async def close_forgotten(
    connection: AsyncConnection,
    forgotten: list[Forgotten],
    connector_id: int,
    at: datetime,
    evidence: str,
) -> list[Reconciled]:
    """Close those of `forgotten` still open (a StopTransaction may have come since: it
    wins), as reconciled; what was closed."""
    done = []
    for transaction in forgotten:
        reconciled, values = closed(
            transaction.transaction_id, connector_id, transaction.started_at, at, evidence
        )
        updated = await connection.execute(
            transactions.update()
            .where(transactions.c.id == values.pop("id"), transactions.c.stopped_at.is_(None))
            .values(**values)
        )
        if updated.rowcount == 1:
            done.append(reconciled)
    return done
