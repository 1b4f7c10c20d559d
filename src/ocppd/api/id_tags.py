"""Id tags: what Authorize and StartTransaction answer about each one (operators write).

The body is an idTagInfo. Tags are matched case-insensitively, as the central system does:
a PUT of `abc` replaces `ABC`.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec
import sqlalchemy as sa
from litestar import Response, delete, get, put
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.api.auth import needs
from ocppd.api.operator_input import utc
from ocppd.api.pages import Cursor, Limit, next_cursor
from ocppd.api.problems import Problem, ProblemException, created, documented
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.csms.clock import as_utc
from ocppd.csms.id_tags import tag_key
from ocppd.csms.models import id_tags
from ocppd.protocol.fields import DateTime, IdToken

IdTagParameter = Annotated[str, PathParameter(name="idTag", min_length=1, max_length=20)]
Prefix = Annotated[
    str | None,
    QueryParameter(max_length=20, description="Only the tags starting with this (any case)."),
]


class StoredStatus(StrEnum):
    """The AuthorizationStatus values a tag can have (ConcurrentTx is decided per start)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"


class IdTagInfo(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    status: StoredStatus
    expiry_date: DateTime | None = None
    parent_id_tag: IdToken | None = None


class IdTag(msgspec.Struct, rename="camel", kw_only=True):
    id_tag: str
    status: StoredStatus
    expiry_date: datetime | None
    parent_id_tag: str | None
    updated_at: datetime


class IdTagPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[IdTag]
    next_cursor: str | None


@get("/id-tags", tags=["id tags"], responses=documented())
async def list_id_tags(
    system: System,
    limit: Limit = 100,
    cursor: Cursor = None,
    status: FromQuery[StoredStatus | None] = None,
    prefix: Prefix = None,
) -> IdTagPage:
    """A page of the tags, from A (case-insensitive), optionally only those with a status or
    starting with `prefix`."""
    query = sa.select(id_tags).order_by(id_tags.c.id_tag_key).limit(limit + 1)
    if cursor is not None:
        query = query.where(id_tags.c.id_tag_key > cursor)
    if status is not None:
        query = query.where(id_tags.c.status == status.value)
    if prefix:
        # Compared as text, not by LIKE (whose % and _ a tag may hold) nor by a range of
        # the keys (whose upper end depends on the database's collation).
        key = tag_key(prefix)
        query = query.where(sa.func.substr(id_tags.c.id_tag_key, 1, len(key)) == key)
    async with system.engine.connect() as db:
        rows = (await db.execute(query)).all()
    return IdTagPage(
        items=[_id_tag(row) for row in rows[:limit]],
        next_cursor=next_cursor([row.id_tag_key for row in rows], limit),
    )


@get("/id-tags/{idTag:str}", tags=["id tags"], responses=documented(404))
async def get_id_tag(system: System, id_tag: IdTagParameter) -> IdTag:
    async with system.engine.connect() as db:
        return await _load(db, id_tag)


@put(
    "/id-tags/{idTag:str}",
    tags=["id tags"],
    opt=needs(Role.OPERATOR),
    responses={**created(IdTag), **documented()},
)
async def put_id_tag(
    system: System, id_tag: IdTagParameter, data: JSONBody[IdTagInfo]
) -> Response[IdTag]:
    """Create or replace a tag: status, expiry, parent (201 when new). Block with
    `{"status": "Blocked"}`."""
    values = {
        "id_tag": id_tag,
        "status": data.status.value,
        "expiry_date": utc("expiryDate", data.expiry_date),
        "parent_id_tag": data.parent_id_tag,
        "updated_at": system.clock(),
    }
    key = tag_key(id_tag)
    async with system.engine.begin() as db:
        updated = await db.execute(
            id_tags.update().where(id_tags.c.id_tag_key == key).values(values)
        )
        if not updated.rowcount:
            await db.execute(id_tags.insert().values(id_tag_key=key, **values))
        view = await _load(db, id_tag)
    return Response(view, status_code=200 if updated.rowcount else 201)


@delete(
    "/id-tags/{idTag:str}", tags=["id tags"], opt=needs(Role.OPERATOR), responses=documented(404)
)
async def delete_id_tag(system: System, id_tag: IdTagParameter) -> None:
    async with system.engine.begin() as db:
        deleted = await db.execute(id_tags.delete().where(id_tags.c.id_tag_key == tag_key(id_tag)))
    if not deleted.rowcount:
        raise _unknown(id_tag)


async def _load(db: AsyncConnection, id_tag: str) -> IdTag:
    row = (
        await db.execute(sa.select(id_tags).where(id_tags.c.id_tag_key == tag_key(id_tag)))
    ).first()
    if row is None:
        raise _unknown(id_tag)
    return _id_tag(row)


def _id_tag(row: sa.Row[tuple[object, ...]]) -> IdTag:
    updated_at = as_utc(row.updated_at)
    assert updated_at is not None
    return IdTag(
        id_tag=row.id_tag,
        status=StoredStatus(row.status),
        expiry_date=as_utc(row.expiry_date),
        parent_id_tag=row.parent_id_tag,
        updated_at=updated_at,
    )


def _unknown(id_tag: str) -> ProblemException:
    return ProblemException(Problem(status=404, error=f"unknown id tag {id_tag!r}"))
