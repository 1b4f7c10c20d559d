"""Reservations as the central system sees them end: used by a StartTransaction, or their
connector going Faulted or Unavailable (section 3, ReserveNow).

A connector's Faulted or Unavailable ends the Accepted, open reservations of that connector;
connector 0's (the whole charge point) ends all of them. A reservation of connector 0 (any
connector) is not ended by one connector's fault: another may serve it.

A StartTransaction may carry a reservationId before the ReserveNow answer is stored (the
charger answers and starts at once; the answer's follow-up comes later): `used_early` finds
that transaction when the answer is stored, so the reservation is stored already Used.

A ReserveNow whose connectorId or reservationId the reservations table cannot hold is not sent
(`check_storable`, a check on `CentralSystem.call`): a charger holding a reservation that ocppd
could not keep would be worse than none.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.batch_database import Database, RowsQuery
from ocppd.csms.models import MAX_CONNECTOR_ID, MAX_STORED_INTEGER, reservations, transactions

USED = "Used"
CANCELLED = "Cancelled"
FAULTED = "Faulted"
UNAVAILABLE = "Unavailable"
ENDING_STATUSES = (FAULTED, UNAVAILABLE)

EARLY_START_WINDOW = timedelta(seconds=600)
"""How long before its answer is stored a start may have used a reservation: the longest an
operator's command may wait for its answer."""


class ReservationRefused(ValueError):
    """A ReserveNow whose reservation ocppd could not keep: not sent."""


async def check_storable(charge_point_id: str, request: Any) -> None:
    """Before a ReserveNow goes out: its numbers fit the reservations table."""
    if not 0 <= request.connector_id <= MAX_CONNECTOR_ID:
        raise ReservationRefused(f"no connector {request.connector_id}")
    if not -MAX_STORED_INTEGER <= request.reservation_id <= MAX_STORED_INTEGER:
        raise ReservationRefused(
            f"reservationId {request.reservation_id} is beyond what ocppd stores (64 bits)"
        )


@dataclass(frozen=True)
class Use:
    """A StartTransaction that carried a reservation id."""

    charge_point_id: str
    reservation_id: int
    transaction_id: int
    at: datetime


_END_USED = RowsQuery(
    alchemy=reservations.update()
    .where(
        reservations.c.reservation_id == sa.bindparam("b_reservation_id"),
        reservations.c.charge_point_id == sa.bindparam("b_charge_point_id"),
        reservations.c.ended_at.is_(None),
    )
    .values(
        ended_at=sa.bindparam("b_ended_at"),
        end_reason=USED,
        transaction_id=sa.bindparam("b_transaction_id"),
    ),
    prefix="b_",
    postgresql="UPDATE reservations AS r SET ended_at = u.ended_at, "
    f"end_reason = '{USED}', transaction_id = u.transaction_id "
    "FROM json_populate_recordset(NULL::reservations, ${0}::json) AS u "
    "WHERE r.reservation_id = u.reservation_id AND r.charge_point_id = u.charge_point_id "
    "AND r.ended_at IS NULL",
)


async def mark_used_by(db: Database, uses: list[Use | None]) -> None:
    """Each reservation a StartTransaction carries ends, used by that transaction, if it is
    that charge point's and still open (an unknown id changes nothing); one statement. Of
    two starts with the same reservation, the first uses it."""
    values: dict[tuple[int, str], dict[str, Any]] = {}
    for use in uses:
        if use is not None and -MAX_STORED_INTEGER <= use.reservation_id <= MAX_STORED_INTEGER:
            values.setdefault(
                (use.reservation_id, use.charge_point_id),
                {
                    "reservation_id": use.reservation_id,
                    "charge_point_id": use.charge_point_id,
                    "ended_at": use.at,
                    "transaction_id": use.transaction_id,
                },
            )
    await db.write_rows(_END_USED, list(values.values()))


def ender(
    charge_point_id: str, connector_id: int, status: str, at: datetime
) -> Callable[[AsyncConnection], Awaitable[None]] | None:
    """What a StatusNotification ends: None unless its status ends reservations."""
    if status not in ENDING_STATUSES:
        return None
    r = reservations.c
    which = [r.charge_point_id == charge_point_id, r.ended_at.is_(None), r.status == "Accepted"]
    if connector_id != 0:
        which.append(r.connector_id == connector_id)
    end = reservations.update().where(*which).values(ended_at=at, end_reason=status)

    async def run(connection: AsyncConnection) -> None:
        await connection.execute(end)

    return run


async def used_early(
    connection: AsyncConnection, charge_point_id: str, reservation_id: int, now: datetime
) -> Any:
    """The transaction that carried `reservation_id` before its ReserveNow answer was stored
    (not one a previous reservation of that id already counts), or None."""
    if not -MAX_STORED_INTEGER <= reservation_id <= MAX_STORED_INTEGER:
        return None  # transactions keep BIGINT reservation ids
    t = transactions.c
    r = reservations.c
    counted = sa.select(r.transaction_id).where(
        r.reservation_id == reservation_id, r.transaction_id.is_not(None)
    )
    return (
        await connection.execute(
            sa.select(t.id, t.received_at)
            .where(
                t.charge_point_id == charge_point_id,
                t.reservation_id == reservation_id,
                t.received_at >= now - EARLY_START_WINDOW,
                t.id.not_in(counted),
            )
            .order_by(t.id.desc())
            .limit(1)
        )
    ).first()
