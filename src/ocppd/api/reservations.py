"""Reservations: what ReserveNow asked and the charger answered, and how it ended.

A reservation is recorded when a ReserveNow is answered (whatever the answer: `status`);
the same reservationId replaces it. Its `state`:
- `Active`: Accepted, not ended, before its expiryDate;
- `Used`: a StartTransaction carried its reservationId (`transactionId`);
- `Cancelled`: a CancelReservation for it was Accepted;
- `Faulted`, `Unavailable`: its connector (or the whole charge point) went so;
- `Expired`: Accepted, not ended, and its expiryDate has passed (derived when read);
- `NotReserved`: the charger did not accept it (Occupied, Faulted, Unavailable, Rejected).
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from litestar import get
from litestar.params import PathParameter, QueryParameter
from msgspec import UNSET
from sqlalchemy.sql import ColumnElement

from ocppd.api.pages import IdCursor, Limit, newest_first, next_cursor
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.sending import FollowUp
from ocppd.api.system import System
from ocppd.csms import reservations as ends
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.clock import as_utc
from ocppd.csms.id_tags import tag_key
from ocppd.csms.models import MAX_STORED_INTEGER, reservations
from ocppd.csms.stored_text import fitted
from ocppd.protocol import messages as m
from ocppd.protocol.enums import CancelReservationStatus, ReservationStatus


class State(StrEnum):
    ACTIVE = "Active"
    USED = "Used"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"
    FAULTED = "Faulted"
    UNAVAILABLE = "Unavailable"
    NOT_RESERVED = "NotReserved"


class Reservation(msgspec.Struct, rename="camel", kw_only=True):
    reservation_id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry_date: datetime
    status: str
    """The charger's answer to ReserveNow."""
    state: State
    reserved_at: datetime
    ended_at: datetime | None
    transaction_id: int | None
    """The transaction that used it."""


class ReservationPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Reservation]
    next_cursor: str | None


# Follow-ups of the commands


async def reserved(
    system: CentralSystem, charge_point_id: str, request: m.ReserveNowRequest, response: Any
) -> None:
    now = system.clock()
    values = {
        "reservation_id": request.reservation_id,
        "charge_point_id": charge_point_id,
        "connector_id": request.connector_id,
        "id_tag": request.id_tag,
        "parent_id_tag": None if request.parent_id_tag is UNSET else request.parent_id_tag,
        "expiry_date": as_utc(request.expiry_date),
        "status": str(response.status),
        "reserved_at": now,
        "ended_at": None,
        "end_reason": None,
        "transaction_id": None,
    }

    async def store(db: Any) -> None:
        accepted = response.status == ReservationStatus.ACCEPTED
        used = accepted and await ends.used_early(db, charge_point_id, request.reservation_id, now)
        if used:
            values.update(
                ended_at=as_utc(used.received_at), end_reason=ends.USED, transaction_id=used.id
            )
        # The same reservationId replaces the reservation.
        r = reservations.c
        await db.execute(reservations.delete().where(r.reservation_id == request.reservation_id))
        await db.execute(reservations.insert().values(fitted(reservations, values)))

    await system.writer.commit([], store)


async def cancelled(
    system: CentralSystem,
    charge_point_id: str,
    request: m.CancelReservationRequest,
    response: Any,
) -> None:
    if response.status != CancelReservationStatus.ACCEPTED:
        return
    r = reservations.c
    end = (
        reservations.update()
        .where(
            r.reservation_id == request.reservation_id,
            r.charge_point_id == charge_point_id,
            r.ended_at.is_(None),
        )
        .values(ended_at=system.clock(), end_reason=ends.CANCELLED)
    )

    async def store(db: Any) -> None:
        if abs(request.reservation_id) <= MAX_STORED_INTEGER:
            await db.execute(end)

    await system.writer.commit([], store)


FOLLOW_UPS: dict[str, FollowUp] = {"ReserveNow": reserved, "CancelReservation": cancelled}


# Routes


@get("/reservations", tags=["reservations"], responses=documented())
async def list_reservations(
    system: System,
    limit: Limit = 100,
    cursor: IdCursor = None,
    charge_point_id: Annotated[str | None, QueryParameter(name="chargePointId")] = None,
    id_tag: Annotated[str | None, QueryParameter(name="idTag")] = None,
    in_state: Annotated[State | None, QueryParameter(name="state")] = None,
) -> ReservationPage:
    """Highest reservationId first."""
    r = reservations.c
    query = newest_first(reservations, r.reservation_id, limit, cursor)
    if charge_point_id is not None:
        query = query.where(r.charge_point_id == charge_point_id)
    if id_tag is not None:
        query = query.where(sa.func.lower(r.id_tag) == tag_key(id_tag))
    if in_state is not None:
        query = query.where(_in_state(in_state, system.clock()))
    async with system.engine.connect() as db:
        rows = (await db.execute(query)).all()
    now = system.clock()
    return ReservationPage(
        items=[_reservation(row, now) for row in rows[:limit]],
        next_cursor=next_cursor([str(row.reservation_id) for row in rows], limit),
    )


@get("/reservations/{reservationId:int}", tags=["reservations"], responses=documented(404))
async def get_reservation(
    system: System,
    reservation_id: Annotated[
        int,
        PathParameter(name="reservationId", ge=-MAX_STORED_INTEGER, le=MAX_STORED_INTEGER),
    ],
) -> Reservation:
    async with system.engine.connect() as db:
        row = (
            await db.execute(
                sa.select(reservations).where(reservations.c.reservation_id == reservation_id)
            )
        ).first()
    if row is None:
        raise ProblemException(Problem(status=404, error=f"unknown reservation {reservation_id}"))
    return _reservation(row, system.clock())


ROUTES = [list_reservations, get_reservation]


def _in_state(state: State, now: datetime) -> ColumnElement[bool]:
    r = reservations.c
    accepted = r.status == ReservationStatus.ACCEPTED.value
    if state is State.USED:
        return r.end_reason == ends.USED
    if state in (State.CANCELLED, State.FAULTED, State.UNAVAILABLE):
        return r.end_reason == state.value
    if state is State.NOT_RESERVED:
        return r.status != ReservationStatus.ACCEPTED.value
    open_ = sa.and_(accepted, r.ended_at.is_(None))
    if state is State.ACTIVE:
        return sa.and_(open_, r.expiry_date > now)
    return sa.and_(open_, r.expiry_date <= now)


def _state(row: Any, now: datetime) -> State:
    if row.status != ReservationStatus.ACCEPTED.value:
        return State.NOT_RESERVED
    if row.end_reason is not None:
        return State(row.end_reason)
    expiry = as_utc(row.expiry_date)
    assert expiry is not None
    return State.ACTIVE if expiry > now else State.EXPIRED


def _reservation(row: Any, now: datetime) -> Reservation:
    expiry = as_utc(row.expiry_date)
    reserved_at = as_utc(row.reserved_at)
    assert expiry is not None and reserved_at is not None
    return Reservation(
        reservation_id=row.reservation_id,
        charge_point_id=row.charge_point_id,
        connector_id=row.connector_id,
        id_tag=row.id_tag,
        parent_id_tag=row.parent_id_tag,
        expiry_date=expiry,
        status=row.status,
        state=_state(row, now),
        reserved_at=reserved_at,
        ended_at=as_utc(row.ended_at),
        transaction_id=row.transaction_id,
    )
