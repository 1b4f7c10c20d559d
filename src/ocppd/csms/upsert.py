"""INSERT ... ON CONFLICT DO UPDATE for SQLite and PostgreSQL alike."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(
    connection: AsyncConnection, table: sa.Table, values: dict[str, Any], keys: list[str]
) -> None:
    """Insert `values`, or update the row with the same `keys` to them."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = module.insert(table).values(**values)
    updates = {name: statement.excluded[name] for name in values if name not in keys}
    await connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates))
