"""Reservations as the central system sees them end: used by a StartTransaction."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.models import reservations
from ocppd.csms.transactions import MAX_STORED_INTEGER

USED = "Used"
CANCELLED = "Cancelled"


async def mark_used(
    connection: AsyncConnection,
    charge_point_id: str,
    reservation_id: int,
    transaction_id: int,
    at: datetime,
) -> None:
    """The reservation a StartTransaction carries ends, used by that transaction (if it is
    this charge point's and still open; an unknown id changes nothing)."""
    if not -MAX_STORED_INTEGER <= reservation_id <= MAX_STORED_INTEGER:
        return
    r = reservations.c
    await connection.execute(
        reservations.update()
        .where(
            r.reservation_id == reservation_id,
            r.charge_point_id == charge_point_id,
            r.ended_at.is_(None),
        )
        .values(ended_at=at, end_reason=USED, transaction_id=transaction_id)
    )
