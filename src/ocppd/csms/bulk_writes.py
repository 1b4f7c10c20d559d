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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Row = dict[str, Any]


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
        return dialect.name == "postgresql" and all(
            _plan(table, dialect) is not None for table in self.rows
        )


async def write(connection: AsyncConnection, writes: BulkWrites) -> None:
    """All of `writes`, in the caller's transaction."""
    dialect = connection.dialect
    if writes.fits_one_statement(dialect):
        sql, arguments = _one_statement(writes, dialect)
        await connection.exec_driver_sql(sql, arguments)
        return
    for table, rows in writes.rows.items():
        await insert_rows(connection, table, rows)
    for shape, latest in writes.upserts.items():
        await connection.execute(_upsert_statement(shape, dialect), list(latest.values()))


async def write_alone(engine: AsyncEngine, writes: BulkWrites) -> bool:
    """All of `writes` as one statement with no transaction around it (atomic on its own:
    one round trip instead of three); False, with nothing written, where that cannot be."""
    if not writes.fits_one_statement(engine.dialect):
        return False
    sql, arguments = _one_statement(writes, engine.dialect)
    async with engine.connect() as connection:
        # The driver's own connection: SQLAlchemy's would open a transaction first.
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute(sql, *arguments)
    return True


async def insert_rows(connection: AsyncConnection, table: sa.Table, rows: list[Row]) -> None:
    """Insert `rows` (column name -> value; a missing column is NULL) into `table`."""
    dialect = connection.dialect
    plan = _plan(table, dialect)
    if plan is not None and dialect.name == "postgresql":
        sql = plan.statement(1)
        await connection.exec_driver_sql(sql, (plan.document(rows),))
    elif plan is not None and dialect.driver == "aiosqlite":
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.executemany(plan.sql, plan.records(rows))
    else:
        await connection.execute(table.insert(), rows)


@dataclass(frozen=True)
class _Plan:
    """How rows of one table go to one dialect: column order, statement, bind processors."""

    columns: tuple[str, ...]
    sql: str
    """SQLite: the executemany statement. PostgreSQL: the statement with `{0}` for the number
    of its one parameter (it depends on where it sits in a batch's statement)."""
    processors: tuple[Callable[[Any], Any] | None, ...]

    def statement(self, first: int) -> str:
        return self.sql.format(first)

    def document(self, rows: list[Row]) -> str:
        """PostgreSQL: the rows as the JSON document of `json_populate_recordset`."""
        return msgspec.json.encode(rows).decode()

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


_plans: dict[tuple[sa.Table, str], _Plan | None] = {}


def _plan(table: sa.Table, dialect: sa.Dialect) -> _Plan | None:
    """None for a table with column defaults: only SQLAlchemy applies them."""
    key = (table, dialect.name)
    if key not in _plans:
        columns = [c for c in table.columns if c is not table.autoincrement_column]
        if any(c.default is not None or c.server_default is not None for c in columns):
            _plans[key] = None
        elif dialect.name == "postgresql":
            _plans[key] = _json_plan(table, columns, dialect, "")
        else:
            names = tuple(c.name for c in columns)
            sql = str(table.insert().compile(dialect=dialect, column_keys=list(names)))
            bind = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
            _plans[key] = _Plan(names, sql, tuple(bind))
    return _plans[key]


def _json_plan(
    table: sa.Table, columns: list[sa.Column[Any]], dialect: sa.Dialect, suffix: str
) -> _Plan:
    names = ", ".join(f'"{c.name}"' for c in columns)
    source = f'json_populate_recordset(NULL::"{table.name}", ${{0}}::json)'
    sql = f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM {source}{suffix}'
    return _Plan(tuple(c.name for c in columns), sql, ())


_upsert_plans: dict[tuple[Shape, str], _Plan] = {}


def _upsert_plan(shape: Shape, dialect: sa.Dialect) -> _Plan:
    key = (shape, dialect.name)
    if key not in _upsert_plans:
        table, keys, names = shape
        updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n not in keys)
        conflict = ", ".join(f'"{k}"' for k in keys)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        columns = [table.c[name] for name in names]
        suffix = f" ON CONFLICT ({conflict}) {action}"
        _upsert_plans[key] = _json_plan(table, columns, dialect, suffix)
    return _upsert_plans[key]


def _one_statement(writes: BulkWrites, dialect: sa.Dialect) -> tuple[str, tuple[Any, ...]]:
    """PostgreSQL: every insert and upsert of `writes` chained as data-modifying CTEs (all
    run to completion whether or not the main query reads them)."""
    parts: list[tuple[_Plan, list[Row]]] = []
    for table, rows in writes.rows.items():
        plan = _plan(table, dialect)
        assert plan is not None
        parts.append((plan, rows))
    for shape, latest in writes.upserts.items():
        parts.append((_upsert_plan(shape, dialect), list(latest.values())))
    statements: list[str] = []
    arguments: list[str] = []
    for number, (plan, rows) in enumerate(parts, start=1):
        statements.append(plan.statement(number))
        arguments.append(plan.document(rows))
    if len(statements) == 1:
        return statements[0], tuple(arguments)
    ctes = ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(statements))
    return f"WITH {ctes} SELECT 1", tuple(arguments)


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
