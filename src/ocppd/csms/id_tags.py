"""Id tags and what the central system answers about them (an idTagInfo).

idTags are opaque and compared case-insensitively: the folded form is the key.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.clock import as_utc
from ocppd.csms.models import id_tags
from ocppd.protocol.datatypes import IdTagInfo
from ocppd.protocol.enums import AuthorizationStatus


def tag_key(id_tag: str) -> str:
    """The folded form of an idTag: `lower()`, as SQL's lower() folds the ASCII of idTags."""
    return id_tag.lower()


async def id_tag_info(connection: AsyncConnection, id_tag: str, now: datetime) -> IdTagInfo:
    """Accepted, Blocked, Expired or Invalid (unknown), with expiry and parent when set."""
    row = (
        await connection.execute(
            sa.select(id_tags.c.status, id_tags.c.expiry_date, id_tags.c.parent_id_tag).where(
                id_tags.c.id_tag_key == tag_key(id_tag)
            )
        )
    ).first()
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
