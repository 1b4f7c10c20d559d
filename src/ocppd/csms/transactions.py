"""Transactions: starts (with duplicate detection), stops (never refused), energy."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.clock import as_utc
from ocppd.csms.id_tags import tag_key
from ocppd.csms.models import id_tags, transactions, unmatched_stops
from ocppd.protocol.datatypes import IdTagInfo
from ocppd.protocol.enums import AuthorizationStatus
from ocppd.protocol.messages import StartTransactionRequest, StopTransactionRequest

# PostgreSQL BIGINT; a charger can send any JSON integer, the database cannot store it.
MAX_STORED_INTEGER = 2**63 - 1


def storable(number: int) -> int | None:
    """`number` if a BIGINT column holds it, else None (stored as unknown, never refused)."""
    return number if -MAX_STORED_INTEGER <= number <= MAX_STORED_INTEGER else None


@dataclass(frozen=True)
class StartOutcome:
    transaction_id: int
    id_tag_info: IdTagInfo
    created: bool


async def find_duplicate_start(
    connection: AsyncConnection, charge_point_id: str, request: StartTransactionRequest
) -> tuple[int, str] | None:
    """(id, answered status) of a start already stored with the same identity."""
    if storable(request.meter_start) is None:
        return None
    row = (
        await connection.execute(
            sa.select(transactions.c.id, transactions.c.start_status).where(
                transactions.c.charge_point_id == charge_point_id,
                transactions.c.connector_id == request.connector_id,
                transactions.c.meter_start == request.meter_start,
                transactions.c.started_at == as_utc(request.timestamp),
                sa.func.lower(transactions.c.id_tag) == tag_key(request.id_tag),
            )
        )
    ).first()
    return None if row is None else (int(row.id), str(row.start_status))


async def tag_in_running_transaction(connection: AsyncConnection, id_tags: list[str]) -> bool:
    keys = [tag_key(tag) for tag in id_tags]
    query = sa.select(transactions.c.id).where(
        sa.func.lower(transactions.c.id_tag).in_(keys), transactions.c.stopped_at.is_(None)
    )
    return (await connection.execute(query.limit(1))).first() is not None


async def group_of(connection: AsyncConnection, id_tag: str) -> list[str]:
    """The tag and every tag that shares its parentIdTag (just the tag when it has none)."""
    parent = await connection.scalar(
        sa.select(id_tags.c.parent_id_tag).where(id_tags.c.id_tag_key == tag_key(id_tag))
    )
    if not parent:
        return [id_tag]
    members = await connection.scalars(
        sa.select(id_tags.c.id_tag).where(sa.func.lower(id_tags.c.parent_id_tag) == tag_key(parent))
    )
    return [id_tag, *members]


async def insert_start(
    connection: AsyncConnection,
    charge_point_id: str,
    request: StartTransactionRequest,
    status: AuthorizationStatus,
    received_at: datetime,
) -> int:
    reservation = None if request.reservation_id is UNSET else request.reservation_id
    if reservation is not None and not -(2**31) <= reservation < 2**31:
        reservation = None  # the column is an INTEGER; a start is answered all the same
    result = await connection.execute(
        transactions.insert()
        .values(
            charge_point_id=charge_point_id,
            connector_id=request.connector_id,
            id_tag=request.id_tag,
            start_status=status.value,
            meter_start=storable(request.meter_start),
            started_at=as_utc(request.timestamp),
            reservation_id=reservation,
            received_at=received_at,
        )
        .returning(transactions.c.id)
    )
    return int(result.scalar_one())


# Energy is computed in the database only for readings within +-2**61 Wh, so that the
# difference always fits a BIGINT (a real meter is below 2**40).
_ENERGY_BOUND = 2**61


async def record_stop(
    connection: AsyncConnection,
    charge_point_id: str,
    request: StopTransactionRequest,
    received_at: datetime,
) -> int | None:
    """Close the transaction in one statement and return its connector; an unknown id is
    recorded as an unmatched stop (None)."""
    reason = "Local" if request.reason is UNSET else str(request.reason)
    stop_tag = None if request.id_tag is UNSET else request.id_tag
    stopped_at = as_utc(request.timestamp)
    meter_stop = storable(request.meter_stop)
    if 0 < request.transaction_id <= MAX_STORED_INTEGER:
        connector = await connection.scalar(
            transactions.update()
            .where(
                transactions.c.id == request.transaction_id,
                transactions.c.charge_point_id == charge_point_id,
            )
            .values(
                meter_stop=meter_stop,
                stopped_at=stopped_at,
                stop_reason=reason,
                stop_id_tag=stop_tag,
                energy_wh=_energy(meter_stop),
            )
            .returning(transactions.c.connector_id)
        )
        if connector is not None:
            return int(connector)
    await connection.execute(
        unmatched_stops.insert().values(
            charge_point_id=charge_point_id,
            transaction_id=max(
                -MAX_STORED_INTEGER, min(request.transaction_id, MAX_STORED_INTEGER)
            ),
            id_tag=stop_tag,
            meter_stop=meter_stop,
            stopped_at=stopped_at,
            stop_reason=reason,
            received_at=received_at,
        )
    )
    return None


def _energy(meter_stop: int | None) -> Any:
    """SQL for max(0, meter_stop - meter_start), NULL when either reading is unknown."""
    if meter_stop is None or abs(meter_stop) > _ENERGY_BOUND:
        return None
    start = transactions.c.meter_start
    used = sa.literal(meter_stop, sa.BigInteger) - start
    return sa.case(
        (sa.or_(start.is_(None), start > _ENERGY_BOUND, start < -_ENERGY_BOUND), None),
        (used < 0, 0),
        else_=used,
    )
