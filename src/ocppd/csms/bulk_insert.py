"""Rows into a table at the lowest cost per row each database offers, inside the caller's
transaction.

SQLAlchemy's executemany processes every parameter of every row in Python (compiled-statement
lookup, `construct_params`, bind processors): for the message log and meter values, which are
most of what the central system writes, that was the larger part of a row's cost (decision
0002). PostgreSQL gets one `INSERT ... SELECT FROM unnest(<an array per column>)`: one round
trip for any number of rows, prepared once per connection, the arrays encoded by asyncpg in C
(binary COPY, used before, needs two round trips and an opened transaction, which cost more
than it saved in the small batches of a lightly loaded server). SQLite gets the driver's
executemany with the statement compiled once per table and only the bind processors that the
column types need (timestamps to SQLite's text form). Other databases go through SQLAlchemy.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class _Plan:
    """How rows of one table go to one dialect: column order, statement, bind processors."""

    columns: tuple[str, ...]
    sql: str
    processors: tuple[Callable[[Any], Any] | None, ...]

    def arrays(self, rows: list[dict[str, Any]]) -> tuple[list[Any], ...]:
        """The rows as one list per column (PostgreSQL's `unnest` form)."""
        return tuple([row.get(name) for row in rows] for name in self.columns)

    def records(self, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
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
            _plans[key] = _unnest_plan(table, columns, dialect)
        else:
            names = tuple(c.name for c in columns)
            sql = str(table.insert().compile(dialect=dialect, column_keys=list(names)))
            bind = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
            _plans[key] = _Plan(names, sql, tuple(bind))
    return _plans[key]


def _unnest_plan(table: sa.Table, columns: list[sa.Column[Any]], dialect: sa.Dialect) -> _Plan:
    """One statement for any number of rows: an array per column, `unnest`ed. One round trip
    (COPY takes two, and a statement before it to open the transaction), and prepared once
    per connection by the driver; asyncpg encodes the arrays in C."""
    names = ", ".join(f'"{c.name}"' for c in columns)
    arrays = ", ".join(
        f"${n}::{c.type.compile(dialect=dialect)}[]" for n, c in enumerate(columns, start=1)
    )
    sql = f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({arrays})'
    return _Plan(tuple(c.name for c in columns), sql, tuple(None for _ in columns))


async def insert_rows(
    connection: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]
) -> None:
    """Insert `rows` (column name -> value; a missing column is NULL) into `table`."""
    dialect = connection.dialect
    plan = _plan(table, dialect)
    if plan is not None and dialect.driver == "asyncpg":
        await connection.exec_driver_sql(plan.sql, plan.arrays(rows))
    elif plan is not None and dialect.driver == "aiosqlite":
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.executemany(plan.sql, plan.records(rows))
    else:
        await connection.execute(table.insert(), rows)
