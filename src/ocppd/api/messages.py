"""The message log: every frame in and out, newest first, filterable.

Frames reach the log through the group commit, so the newest may show up a few
milliseconds after they were sent.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import get
from litestar.params import FromQuery, QueryParameter

from ocppd.api.operator_input import DATE_TIMES, utc
from ocppd.api.pages import IdCursor, Limit, newest_first, next_cursor
from ocppd.api.problems import documented
from ocppd.api.system import System
from ocppd.csms.clock import as_utc
from ocppd.csms.models import messages


class Message(msgspec.Struct, rename="camel", kw_only=True):
    id: int
    charge_point_id: str
    direction: str
    """`in` (from the charge point) or `out`."""
    message_type: int | None
    """2 CALL, 3 CALLRESULT, 4 CALLERROR; null for a frame that could not be read."""
    action: str | None
    unique_id: str | None
    frame: Any
    """The frame as JSON, or as the text received when it was not JSON."""
    at: datetime


class MessagePage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Message]
    next_cursor: str | None


@get(
    "/messages",
    tags=["messages"],
    opt={DATE_TIMES: ("since", "until")},
    responses=documented(),
)
async def list_messages(
    system: System,
    limit: Limit = 100,
    cursor: IdCursor = None,
    charge_point_id: Annotated[str | None, QueryParameter(name="chargePointId")] = None,
    action: FromQuery[str | None] = None,
    direction: FromQuery[Literal["in", "out"] | None] = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
) -> MessagePage:
    m = messages.c
    query = newest_first(messages, m.id, limit, cursor)
    if charge_point_id is not None:
        query = query.where(m.charge_point_id == charge_point_id)
    if action is not None:
        query = query.where(m.action == action)
    if direction is not None:
        query = query.where(m.direction == direction)
    if since is not None:
        query = query.where(m.at >= utc("since", since))
    if until is not None:
        query = query.where(m.at < utc("until", until))
    async with system.engine.connect() as db:
        rows = (await db.execute(query)).all()
    return MessagePage(
        items=[_message(row) for row in rows[:limit]],
        next_cursor=next_cursor([str(row.id) for row in rows], limit),
    )


def _message(row: Any) -> Message:
    try:
        frame = msgspec.json.decode(row.payload)
    except (msgspec.DecodeError, RecursionError):  # a charger's frame nested too deep, too
        frame = row.payload
    return Message(
        id=row.id,
        charge_point_id=row.charge_point_id,
        direction=row.direction,
        message_type=row.message_type,
        action=row.action,
        unique_id=row.unique_id,
        frame=frame,
        at=as_utc(row.at) or row.at,
    )
