"""Id tags and what the central system answers about them (an idTagInfo).

idTags are opaque and compared case-insensitively: the folded form is the key.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.batch_database import AlchemyDatabase, Database, Query, Read
from ocppd.csms.clock import as_utc
from ocppd.csms.models import id_tags
from ocppd.csms.stored_text import NUL
from ocppd.protocol.datatypes import IdTagInfo
from ocppd.protocol.enums import AuthorizationStatus


def tag_key(id_tag: str) -> str:
    """The folded form of an idTag: `lower()`, as SQL's lower() folds the ASCII of idTags."""
    return id_tag.lower()


async def id_tag_info(connection: AsyncConnection, id_tag: str, now: datetime) -> IdTagInfo:
    """Accepted, Blocked, Expired or Invalid (unknown), with expiry and parent when set."""
    tags = await load_tags(AlchemyDatabase(connection), [id_tag])
    return info_of(tags.get(tag_key(id_tag)), now)


class StoredTag(NamedTuple):
    status: str
    expiry_date: datetime | None
    parent_id_tag: str | None


async def load_tags(db: Database, tags: Iterable[str]) -> dict[str, StoredTag]:
    """What is stored of `tags` (the known ones), in one query, by key."""
    read = tags_read(tags)
    return {} if read is None else stored_tags(await db.fetch(read.query, *read.arguments))


def tags_read(tags: Iterable[str]) -> Read | None:
    """The read of `load_tags`, to run with others; None when there is nothing to read."""
    keys = storable_keys(tags)
    return Read(_LOAD_TAGS, (list(keys),)) if keys else None


def storable_keys(tags: Iterable[str]) -> set[str]:
    """The keys of `tags` that a stored row can have. A tag with a NUL is never known: no tag
    is stored with one on PostgreSQL, where looking it up would find the tag stored for it
    (`stored_text`), a different one (and PostgreSQL refuses a NUL in a query's text)."""
    return {tag_key(tag) for tag in tags if NUL not in tag}


def stored_tags(rows: Iterable[Sequence[Any]]) -> dict[str, StoredTag]:
    return {key: StoredTag(*stored) for key, *stored in rows}


# Built once (an expanding IN): building a statement per batch cost more than running it.
_LOAD_TAGS = Query(
    alchemy=sa.select(
        id_tags.c.id_tag_key, id_tags.c.status, id_tags.c.expiry_date, id_tags.c.parent_id_tag
    ).where(id_tags.c.id_tag_key.in_(sa.bindparam("keys", expanding=True))),
    names=("keys",),
    postgresql="SELECT id_tag_key, status, expiry_date, parent_id_tag FROM id_tags "
    "WHERE id_tag_key = ANY($1::varchar[])",
)


def info_of(row: StoredTag | None, now: datetime) -> IdTagInfo:
    """The idTagInfo of a stored tag (`load_tags`) at `now`; Invalid for an unknown one."""
    if row is None:
        return IdTagInfo(status=AuthorizationStatus.INVALID)
    status = AuthorizationStatus(row.status)
    expiry = as_utc(row.expiry_date)
    if status is AuthorizationStatus.ACCEPTED and expiry is not None and expiry <= now:
        status = AuthorizationStatus.EXPIRED
    info = IdTagInfo(status=status)
    if expiry is not None:
        info.expiry_date = expiry
    if row.parent_id_tag:
        info.parent_id_tag = row.parent_id_tag
    return info


class Lookup(NamedTuple):
    id_tag: str
    at: datetime


class Authorizations:
    """Authorize requests of a batch: one query for all their tags (a merged kind of the
    group commit, so no connection is checked out per request)."""

    order = 0
    on_driver = True

    async def apply(self, db: Database, items: list[Lookup]) -> tuple[list[IdTagInfo], list[Any]]:
        tags = await load_tags(db, [item.id_tag for item in items])
        return [info_of(tags.get(tag_key(item.id_tag)), item.at) for item in items], []
