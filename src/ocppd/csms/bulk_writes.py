"""The rows and upserts of a batch, written in as few statements as each database allows.

Statements executed per batch, not rows, are what a commit costs (decision 0002): each is a
round trip, and SQLAlchemy's per-statement work (compiling, `construct_params`, bind
processors) is larger than a row's. So:

- PostgreSQL: one statement for all of a batch's rows and upserts, whatever their tables.
  Each table's rows go in as one JSON document (`INSERT ... SELECT FROM
  json_populate_recordset(NULL::table, $1::json)`, upserts with `ON CONFLICT`), and the
  tables are chained as data-modifying CTEs. msgspec encodes the rows in C and PostgreSQL
  (another process, another core) parses them with the table's own column types: that cost
  the server 20 % less CPU per message than arrays per column through `unnest` (asyncpg
  checks every array element against `collections.abc`), and binary COPY needs two round
  trips per table. The statement's text depends only on which tables and upsert shapes the
  batch has, so the driver prepares it once per connection. A batch with nothing else to do
  needs no transaction around that one statement (`write_alone`).
- SQLite: one executemany per table, on the driver with the statement compiled once per
  table and only the bind processors that the column types need; an upsert statement per
  table and shape.

A table with column defaults goes through SQLAlchemy, which applies them.
"""

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ocppd.csms.models import ignores_duplicates
from ocppd.csms.stored_text import column_lengths, without_nul

Row = dict[str, Any]

Part = tuple[str, str]
"""One write of a statement: its SQL with `{0}` for its parameter's number (it depends on
where the write sits in the statement), and the JSON document of its rows."""


@dataclass(frozen=True)
class Upsert:
    """Insert `values` into `table`, or update the row with the same `keys` to them."""

    table: sa.Table
    keys: tuple[str, ...]
    values: Row


Shape = tuple[sa.Table, tuple[str, ...], tuple[str, ...]]
"""An upsert's table, key columns and columns: upserts of one shape share a statement."""


@dataclass
class BulkWrites:
    """Rows to insert by table, and the latest upsert per key by shape."""

    rows: dict[sa.Table, list[Row]] = field(default_factory=dict)
    upserts: dict[Shape, dict[tuple[Any, ...], Row]] = field(default_factory=dict)

    def insert(self, table: sa.Table, row: Row) -> None:
        self.rows.setdefault(table, []).append(row)

    def upsert(self, upsert: Upsert) -> None:
        shape = (upsert.table, upsert.keys, tuple(sorted(upsert.values)))
        key = tuple(upsert.values[name] for name in upsert.keys)
        self.upserts.setdefault(shape, {})[key] = upsert.values  # the latest wins

    def __bool__(self) -> bool:
        return bool(self.rows or self.upserts)

    def fits_one_statement(self, dialect: sa.Dialect) -> bool:
        return dialect.name == "postgresql" and not any(map(_has_defaults, self.rows))


async def write(connection: AsyncConnection, writes: BulkWrites) -> None:
    """All of `writes`, in the caller's transaction."""
    dialect = connection.dialect
    if writes.fits_one_statement(dialect):
        sql, arguments = _one_statement(writes)
        await connection.exec_driver_sql(sql, arguments)
        return
    for table, rows in writes.rows.items():
        await insert_rows(connection, table, rows)
    for shape, latest in writes.upserts.items():
        await connection.execute(_upsert_statement(shape, dialect), list(latest.values()))


async def write_alone(driver: Any, writes: BulkWrites) -> None:
    """All of `writes` as one statement with no transaction around it (atomic on its own:
    one round trip instead of three) on PostgreSQL's driver (SQLAlchemy's connection would
    open a transaction first), for `writes` that fit one statement."""
    sql, arguments = _one_statement(writes)
    await driver.execute(sql, *arguments)


def driver_parts(writes: BulkWrites) -> list[Part]:
    """`parts` of `writes` for PostgreSQL's driver (asyncpg): not for tables with defaults."""
    if any(map(_has_defaults, writes.rows)):
        raise ValueError("rows of a table with column defaults need SQLAlchemy")
    return parts(writes)


async def driver_of(connection: AsyncConnection) -> Any:
    """The driver's own connection under SQLAlchemy's (asyncpg's on PostgreSQL)."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    return driver


@contextlib.asynccontextmanager
async def pooled_connection(engine: AsyncEngine) -> AsyncIterator[tuple[AsyncConnection, Any]]:
    """A pooled connection and its driver's connection (asyncpg's). One found dead is
    invalidated, so that the pool does not hand it out again: SQLAlchemy does that only for
    the statements that go through it."""
    async with engine.connect() as connection:
        driver = await driver_of(connection)
        try:
            yield connection, driver
        except BaseException as exc:
            if is_closed(driver) or connection_lost(exc):
                await connection.invalidate()
            raise


@contextlib.asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A pooled connection's driver connection (`pooled_connection`)."""
    async with pooled_connection(engine) as (_, driver):
        yield driver


def is_closed(driver: Any) -> bool:
    """Whether asyncpg's connection `driver` is closed (SQLite's are never found closed)."""
    return isinstance(driver, asyncpg.Connection) and driver.is_closed()


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the connection went away (not that the database refused a write):
    on asyncpg's own connection, or through SQLAlchemy. (A connection the server closed while
    idle can fail its next statement as asyncpg's InternalClientError.)"""
    if isinstance(exc, sa.exc.DBAPIError):
        return bool(exc.connection_invalidated)
    lost = (
        OSError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
    )
    return isinstance(exc, lost)


async def insert_rows(connection: AsyncConnection, table: sa.Table, rows: list[Row]) -> None:
    """Insert `rows` (column name -> value; a missing column is NULL) into `table`."""
    dialect = connection.dialect
    if _has_defaults(table):
        await connection.execute(insert_statement(table, dialect), rows)
    elif dialect.name == "postgresql":
        await connection.exec_driver_sql(json_insert(table).format(1), (document(rows),))
    elif dialect.driver == "aiosqlite":
        plan = _driver_plan(table, dialect)
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.executemany(plan.sql, plan.records(rows))
    else:
        await connection.execute(insert_statement(table, dialect), rows)


def insert_statement(table: sa.Table, dialect: sa.Dialect) -> Any:
    """`table`'s INSERT: insert-or-ignore for a table that `ignores_duplicates`."""
    if not ignores_duplicates(table):
        return table.insert()
    module = postgresql if dialect.name == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


@functools.cache
def _has_defaults(table: sa.Table) -> bool:
    """Whether a column has a default: only SQLAlchemy applies them."""
    return any(c.default is not None or c.server_default is not None for c in _columns(table))


def _columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [c for c in table.columns if c is not table.autoincrement_column]


# PostgreSQL: a table's rows as one JSON document.


def document(rows: list[Row]) -> str:
    document = msgspec.json.encode(rows)
    if b"\\u0000" in document:
        # PostgreSQL's text cannot hold NUL, which a charger may send in any string (valid
        # JSON, allowed by the schemas): stored as U+FFFD rather than refusing the message
        # for good (`stored_text`; these documents bypass its column types' bind processing).
        # (The escaped text of a frame can look alike: then nothing changes.)
        document = msgspec.json.encode([_without_nul(row) for row in rows])
    return document.decode()


def _without_nul(row: Row) -> Row:
    return {k: without_nul(v) if isinstance(v, str) else v for k, v in row.items()}


_POSTGRESQL: sa.Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


@functools.cache
def json_source(table: sa.Table, keyed: bool = False) -> tuple[str, dict[str, str]]:
    """The rows of a JSON document in `${0}` as a FROM item, and each column's value in it
    as the column stores it. A string longer than its column is cut to the column's length
    (an explicit cast: the INSERT's own conversion, and `json_populate_recordset`, refuse it,
    and with it every row of the statement, many chargers' rows: no value a charger sends may
    fail a shared write). With `keyed`, the autoincrement key too."""
    columns = list(table.columns) if keyed else _columns(table)
    lengths = column_lengths(table)
    declared = []
    values = {}
    for column in columns:
        length = lengths.get(column.name)
        name = f'"{column.name}"'
        if length is None:
            declared.append(f"{name} {column.type.compile(dialect=_POSTGRESQL)}")
            values[column.name] = name
        else:
            declared.append(f"{name} text")
            values[column.name] = f"{name}::varchar({length})"
    return f"json_to_recordset(${{0}}::json) AS j({', '.join(declared)})", values


@functools.cache
def json_insert(table: sa.Table, keyed: bool = False) -> str:
    """The INSERT of a JSON document of rows, with `{0}` for its parameter's number (it
    depends on where the statement sits in a batch's). With `keyed`, the rows carry their
    autoincrement key too (drawn from its sequence before). Rows of a table that
    `ignores_duplicates` whose key is stored already are left out."""
    source, values = json_source(table, keyed)
    names = ", ".join(f'"{name}"' for name in values)
    selected = ", ".join(values.values())
    insert = f'INSERT INTO "{table.name}" ({names}) SELECT {selected} FROM {source}'
    return insert + " ON CONFLICT DO NOTHING" if ignores_duplicates(table) else insert


@functools.cache
def _json_upsert(shape: Shape) -> str:
    table, keys, names = shape
    source, values = json_source(table)
    columns = ", ".join(f'"{n}"' for n in names)
    selected = ", ".join(values[n] for n in names)
    updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n not in keys)
    conflict = ", ".join(f'"{k}"' for k in keys)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return (
        f'INSERT INTO "{table.name}" ({columns}) SELECT {selected} FROM {source} '
        f"ON CONFLICT ({conflict}) {action}"
    )


def parts(writes: BulkWrites) -> list[Part]:
    """Each table's rows and each upsert shape of `writes` as a part of one statement."""
    found = [(json_insert(table), document(rows)) for table, rows in writes.rows.items()]
    found += [
        (_json_upsert(shape), document(list(latest.values())))
        for shape, latest in writes.upserts.items()
    ]
    return found


def chained(writes: list[Part]) -> tuple[str, tuple[str, ...]]:
    """`writes` as one statement: data-modifying CTEs, which all run to completion whether
    or not the main query reads them; its arguments."""
    statements = [sql.format(number) for number, (sql, _) in enumerate(writes, start=1)]
    arguments = tuple(rows for _, rows in writes)
    if len(statements) == 1:
        return statements[0], arguments
    ctes = ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(statements))
    return f"WITH {ctes} SELECT 1", arguments


def _one_statement(writes: BulkWrites) -> tuple[str, tuple[str, ...]]:
    return chained(parts(writes))


# SQLite: the driver's executemany.


@dataclass(frozen=True)
class _DriverPlan:
    """How rows of one table go to the driver: column order, statement, bind processors."""

    columns: tuple[str, ...]
    sql: str
    processors: tuple[Callable[[Any], Any] | None, ...]

    def records(self, rows: list[Row]) -> list[tuple[Any, ...]]:
        if not any(self.processors):
            return [tuple(row.get(name) for name in self.columns) for row in rows]
        pairs = tuple(zip(self.columns, self.processors, strict=True))
        return [
            tuple(
                value if process is None or value is None else process(value)
                for name, process in pairs
                for value in (row.get(name),)
            )
            for row in rows
        ]


def in_one_call(dialect: sa.Dialect, writes: BulkWrites) -> bool:
    """Rows name every column (a server default would get NULL); an upsert names its own,
    and SQLite applies server defaults to the rest, but only SQLAlchemy applies Python's."""
    upserted = {table for table, _, _ in writes.upserts}
    return (
        dialect.driver == "aiosqlite"
        and not any(map(_has_defaults, writes.rows))
        and not any(c.default is not None for table in upserted for c in table.columns)
    )


def sqlite_statements(
    writes: BulkWrites, dialect: sa.Dialect
) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Each table's INSERT and each upsert shape's, with their rows as the driver takes them."""
    statements = []
    for table, rows in writes.rows.items():
        plan = _driver_plan(table, dialect)
        statements.append((plan.sql, plan.records(rows)))
    for shape, latest in writes.upserts.items():
        plan = _upsert_plan(shape, dialect)
        statements.append((plan.sql, plan.records(list(latest.values()))))
    return statements


_driver_plans: dict[tuple[sa.Table, str], _DriverPlan] = {}


def _driver_plan(table: sa.Table, dialect: sa.Dialect) -> _DriverPlan:
    key = (table, dialect.name)
    if key not in _driver_plans:
        columns = _columns(table)
        names = tuple(c.name for c in columns)
        statement = insert_statement(table, dialect)
        sql = str(statement.compile(dialect=dialect, column_keys=list(names)))
        bind = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
        _driver_plans[key] = _DriverPlan(names, sql, tuple(bind))
    return _driver_plans[key]


_upsert_plans: dict[tuple[Shape, str], _DriverPlan] = {}


def _upsert_plan(shape: Shape, dialect: sa.Dialect) -> _DriverPlan:
    """An upsert shape's statement on SQLite's driver, and its columns' bind processors."""
    key = (shape, dialect.name)
    if key not in _upsert_plans:
        table, _, columns = shape
        compiled = _upsert_statement(shape, dialect).compile(dialect=dialect, column_keys=columns)
        names = tuple(compiled.positiontup or ())
        bind = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
        _upsert_plans[key] = _DriverPlan(names, str(compiled), tuple(bind))
    return _upsert_plans[key]


_upsert_statements: dict[tuple[Shape, str], Any] = {}


def _upsert_statement(shape: Shape, dialect: sa.Dialect) -> Any:
    """SQLAlchemy's upsert for one shape (built once: building it cost more than running it)."""
    key = (shape, dialect.name)
    if key not in _upsert_statements:
        table, keys, columns = shape
        module = postgresql if dialect.name == "postgresql" else sqlite
        statement = module.insert(table)
        updates = {name: statement.excluded[name] for name in columns if name not in keys}
        _upsert_statements[key] = statement.on_conflict_do_update(
            index_elements=list(keys), set_=updates
        )
    return _upsert_statements[key]
