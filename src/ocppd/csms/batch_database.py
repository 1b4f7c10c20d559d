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

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from ocppd.csms import bulk_writes
from ocppd.csms.bulk_writes import BulkWrites, Row


@dataclass(frozen=True)
class Query:
    """A read. `alchemy` names its parameters `names`; `postgresql` numbers them in that order
    (a list goes to `= ANY($n::type[])` there, to an expanding IN in `alchemy`).

    With `per_row`, the read looks up rows by several columns at once: its one argument is a
    list of tuples in `names` order. `postgresql` takes them as one array per name, to join
    with `unnest` (a lookup per tuple, on an index of those columns); `alchemy` runs once
    per tuple, on SQLite in its thread. An `= ANY` or IN per column would match any
    combination of the values, so it reads every row of the first column's values (a
    charger's whole history) or, on SQLite, looks up every combination."""

    alchemy: Executable
    names: tuple[str, ...]
    postgresql: str
    per_row: bool = False

    def driver_arguments(self, arguments: tuple[Any, ...]) -> tuple[Any, ...]:
        """The arguments as `postgresql` takes them."""
        if not self.per_row:
            return arguments
        (rows,) = arguments
        return tuple(list(column) for column in zip(*rows, strict=True)) or tuple(
            [] for _ in self.names
        )

    def bound_each(self, arguments: tuple[Any, ...]) -> list[dict[str, Any]]:
        """The parameters of `alchemy`, for each time it runs."""
        if not self.per_row:
            return [dict(zip(self.names, arguments, strict=True))]
        (rows,) = arguments
        return [dict(zip(self.names, row, strict=True)) for row in rows]


@dataclass(frozen=True)
class RowsQuery:
    """A statement for many rows (dicts by column name). `alchemy` runs once per row with the
    row's values bound as `prefix` + column name; `postgresql` takes all rows at once as a JSON
    document in `${0}` (`json_populate_recordset`; the number depends on where the write sits
    in a statement of several). With `returning`, the rows it returns."""

    alchemy: Executable
    postgresql: str
    prefix: str = ""
    returning: bool = False


@dataclass(frozen=True)
class Read:
    """A query and its arguments, to run with others (`Database.fetch_each`)."""

    query: Query
    arguments: tuple[Any, ...]


class Database(Protocol):
    async def fetch(self, query: Query, *arguments: Any) -> Sequence[Sequence[Any]]: ...

    async def fetch_each(self, reads: list[Read | None]) -> list[Sequence[Sequence[Any]]]:
        """The rows of each read (none for None): one round trip on PostgreSQL's driver."""
        ...

    def ids_read(self, table: sa.Table, count: int) -> Read | None:
        """The read of `count` new values of `table`'s autoincrement key, to insert rows with
        (to run with others: `fetch_each`); None where only the INSERT draws them (and
        returns them: SQLite, and through SQLAlchemy)."""
        ...

    async def write_rows(self, query: RowsQuery, rows: list[Row]) -> Sequence[Sequence[Any]]: ...

    async def write(self, writes: BulkWrites) -> None:
        """A batch's rows and upserts (`bulk_writes`), in the batch's transaction."""
        ...


class ReadsOneByOne:
    """For a `Database` that runs combined reads one after another (nothing to save: no
    network between it and the database, or SQLAlchemy in between) and has no sequences to
    draw ids from (its INSERT returns them)."""

    async def fetch(self, query: Query, *arguments: Any) -> Sequence[Sequence[Any]]:
        raise NotImplementedError

    async def fetch_each(self, reads: list[Read | None]) -> list[Sequence[Sequence[Any]]]:
        return [[] if r is None else await self.fetch(r.query, *r.arguments) for r in reads]

    def ids_read(self, table: sa.Table, count: int) -> Read | None:
        return None


class AlchemyDatabase(ReadsOneByOne):
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def fetch(self, query: Query, *arguments: Any) -> Sequence[Sequence[Any]]:
        return [
            row
            for parameters in query.bound_each(arguments)
            for row in (await self.connection.execute(query.alchemy, parameters)).all()
        ]

    async def write_rows(self, query: RowsQuery, rows: list[Row]) -> Sequence[Sequence[Any]]:
        if not rows:
            return []
        bound = [{query.prefix + name: value for name, value in row.items()} for row in rows]
        result = await self.connection.execute(query.alchemy, bound)
        return result.all() if query.returning else []

    async def write(self, writes: BulkWrites) -> None:
        await bulk_writes.write(self.connection, writes)


class DriverDatabase:
    """PostgreSQL's own SQL on the driver, with as few round trips as a batch allows.

    Reads run at once, with no transaction around them: under READ COMMITTED a statement in a
    transaction reads the committed data of its own moment too, and the group commit's
    reading lane is the only writer of what the merged kinds read. Writes wait, and go at the
    end (`finish`) as one statement, which is atomic without BEGIN and COMMIT: a batch of
    stops is two round trips instead of six. A read, or a write that returns rows, that
    comes after a waiting write begins a transaction and writes what waits first: a read sees
    the batch's earlier writes, and the batch's writes stay atomic. (The merged kinds read
    before they write: `transactions.Transactions` leaves the stops' closes out of the
    running transactions it read, rather than reading them again after the closes.)"""

    def __init__(self, driver: Any) -> None:
        """`driver`: an asyncpg connection (untyped: asyncpg ships no type hints)."""
        self.driver = driver
        self.waiting: list[bulk_writes.Part] = []
        self.transaction: Any = None

    async def fetch(self, query: Query, *arguments: Any) -> Sequence[Sequence[Any]]:
        await self._write_waiting()
        rows: Sequence[Sequence[Any]] = await self.driver.fetch(
            query.postgresql, *query.driver_arguments(arguments)
        )
        return rows

    async def fetch_each(self, reads: list[Read | None]) -> list[Sequence[Sequence[Any]]]:
        """Every read as an array of records in one SELECT (asyncpg decodes the records with
        their columns' types), parameters renumbered."""
        present = [read for read in reads if read is not None]
        if len(present) < 2:
            return [[] if r is None else await self.fetch(r.query, *r.arguments) for r in reads]
        await self._write_waiting()
        columns: list[str] = []
        arguments: list[Any] = []
        for read in present:
            sql = _renumbered(read.query.postgresql, len(arguments))
            columns.append(f"ARRAY(SELECT ROW(q.*) FROM ({sql}) AS q)")
            arguments += read.query.driver_arguments(read.arguments)
        found = iter(await self.driver.fetchrow("SELECT " + ", ".join(columns), *arguments))
        return [[] if read is None else next(found) for read in reads]

    def ids_read(self, table: sa.Table, count: int) -> Read | None:
        """From the key's sequence (a read: the rows' INSERT then needs no RETURNING and can
        wait for the batch's one statement). Not transactional: a failed batch, or ids drawn
        and not used, leave a gap."""
        return Read(_ids_query(table), (count,))

    async def write_rows(self, query: RowsQuery, rows: list[Row]) -> Sequence[Sequence[Any]]:
        if not rows:
            return []
        document = bulk_writes.document(rows)  # NUL as U+FFFD, as the column types do
        if not query.returning:
            self.waiting.append((query.postgresql, document))
            return []
        await self._write_waiting()
        await self._begin()  # the writes after this one are of the same transaction
        returned: Sequence[Sequence[Any]] = await self.driver.fetch(
            query.postgresql.format(1), document
        )
        return returned

    async def write(self, writes: BulkWrites) -> None:
        self.waiting += bulk_writes.driver_parts(writes)

    async def finish(self) -> None:
        """Write what waits, and commit."""
        if self.transaction is None:
            await self._execute_waiting()
            return
        await self._write_waiting()
        await self.transaction.commit()

    async def abort(self) -> None:
        """Roll back what was written, if anything; nothing that waits is written."""
        self.waiting = []
        if self.transaction is not None:
            await self.transaction.rollback()

    async def _write_waiting(self) -> None:
        if self.waiting:
            await self._begin()
            await self._execute_waiting()

    async def _begin(self) -> None:
        if self.transaction is None:
            self.transaction = self.driver.transaction()
            await self.transaction.start()

    async def _execute_waiting(self) -> None:
        if self.waiting:
            sql, arguments = bulk_writes.chained(self.waiting)
            self.waiting = []
            await self.driver.execute(sql, *arguments)


@functools.cache
def _ids_query(table: sa.Table) -> Query:
    key = table.autoincrement_column
    assert key is not None
    sequence = sa.func.pg_get_serial_sequence(f'"{table.name}"', key.name)
    return Query(
        alchemy=sa.select(sa.func.nextval(sequence)).select_from(
            sa.func.generate_series(1, sa.bindparam("count"))
        ),
        names=("count",),
        postgresql=f"SELECT nextval(pg_get_serial_sequence('\"{table.name}\"', '{key.name}')) "
        "FROM generate_series(1, $1::integer)",
    )


def _renumbered(sql: str, offset: int) -> str:
    """`sql` with its parameters `$n` as `$(n + offset)`."""
    return re.sub(r"\$(\d+)", lambda match: f"${int(match.group(1)) + offset}", sql)
