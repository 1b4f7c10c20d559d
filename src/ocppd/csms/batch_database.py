"""The database as the group commit's merged kinds see it, two ways.

A merged kind (starts, stops, Authorize) reads and writes through a `Database`:

- `AlchemyDatabase` runs SQLAlchemy statements on a connection: any database, any batch.
- `DriverDatabase` runs PostgreSQL's own SQL on the asyncpg connection under it, for batches
  with nothing but merged kinds, rows and upserts. A statement through SQLAlchemy cost about
  three times the driver's CPU (317 against 107 µs for the same select, and BEGIN ... COMMIT
  around it 863 against 570), and a commit with starts and stops runs ten; at 1,000 chargers
  sending a message a second that was a third of the server's CPU (decision 0002, "Applied
  (5)").

Each query is declared once with both texts (`Query`, `RowsQuery`), beside the code that uses
it. Rows come back as sequences: read them by position.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from ocppd.csms import bulk_writes
from ocppd.csms.bulk_writes import BulkWrites, Row


@dataclass(frozen=True)
class Query:
    """A read. `alchemy` names its parameters `names`; `postgresql` numbers them in that order
    (a list goes to `= ANY($n::type[])` there, to an expanding IN in `alchemy`)."""

    alchemy: Executable
    names: tuple[str, ...]
    postgresql: str


@dataclass(frozen=True)
class RowsQuery:
    """A statement for many rows (dicts by column name). `alchemy` runs once per row with the
    row's values bound as `prefix` + column name; `postgresql` takes all rows at once as a JSON
    document in `$1` (`json_populate_recordset`). With `returning`, the rows it returns."""

    alchemy: Executable
    postgresql: str
    prefix: str = ""
    returning: bool = False


class Database(Protocol):
    async def fetch(self, query: Query, *arguments: Any) -> Sequence[Sequence[Any]]: ...

    async def write_rows(self, query: RowsQuery, rows: list[Row]) -> Sequence[Sequence[Any]]: ...

    async def write(self, writes: BulkWrites) -> None:
        """A batch's rows and upserts (`bulk_writes`), in the batch's transaction."""
        ...


class AlchemyDatabase:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def fetch(self, query: Query, *arguments: Any) -> Sequence[Sequence[Any]]:
        parameters = dict(zip(query.names, arguments, strict=True))
        return (await self.connection.execute(query.alchemy, parameters)).all()

    async def write_rows(self, query: RowsQuery, rows: list[Row]) -> Sequence[Sequence[Any]]:
        if not rows:
            return []
        bound = [{query.prefix + name: value for name, value in row.items()} for row in rows]
        result = await self.connection.execute(query.alchemy, bound)
        return result.all() if query.returning else []

    async def write(self, writes: BulkWrites) -> None:
        await bulk_writes.write(self.connection, writes)


class DriverDatabase:
    def __init__(self, driver: Any) -> None:
        """`driver`: an asyncpg connection (untyped: asyncpg ships no type hints)."""
        self.driver = driver

    async def fetch(self, query: Query, *arguments: Any) -> Sequence[Sequence[Any]]:
        rows: Sequence[Sequence[Any]] = await self.driver.fetch(query.postgresql, *arguments)
        return rows

    async def write_rows(self, query: RowsQuery, rows: list[Row]) -> Sequence[Sequence[Any]]:
        if not rows:
            return []
        document = bulk_writes.document(rows)  # NUL as U+FFFD, as the column types do
        if query.returning:
            returned: Sequence[Sequence[Any]] = await self.driver.fetch(query.postgresql, document)
            return returned
        await self.driver.execute(query.postgresql, document)
        return []

    async def write(self, writes: BulkWrites) -> None:
        await bulk_writes.write_on_driver(self.driver, writes)
