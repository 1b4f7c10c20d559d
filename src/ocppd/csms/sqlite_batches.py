"""A batch of the group commit on SQLite in one call to the driver's thread.

aiosqlite runs every call of a connection in a thread of its own and hands each result back
to the event loop: a statement through SQLAlchemy is several such hand-overs (cursor,
execute, fetch, close), each waking two threads. A batch with starts or stops made a few
dozen, and at 1,000 chargers sending a message a second the kernel was 38 % of the
server's CPU, context switches most of it (decision 0002, "Applied (9)"). Here the whole
batch (the merged kinds' reads and writes, the rows and upserts, COMMIT) is one call:
`SQLiteDatabase` runs each `Query` and `RowsQuery` on the sqlite3 connection, in that thread,
with statements compiled once per query.

The merged kinds are coroutines (on PostgreSQL they wait for the network); on
`SQLiteDatabase` they never wait, so `run_to_end` runs them to their end in the thread
without an event loop. A kind that waits for anything else fails the batch, loudly.
"""

import functools
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms import bulk_writes
from ocppd.csms.batch_database import Database, Query, ReadsOneByOne, RowsQuery
from ocppd.csms.bulk_writes import BulkWrites, Row

Result = TypeVar("Result")
Processor = Callable[[Any], Any] | None


async def commit_in_thread(
    engine: AsyncEngine, apply: Callable[[Database], Coroutine[Any, Any, Result]]
) -> Result:
    """`apply` on a `SQLiteDatabase`, then COMMIT (ROLLBACK if it fails), in one call to the
    thread of a pooled aiosqlite connection."""
    async with engine.connect() as connection:
        return await commit_on(await bulk_writes.driver_of(connection), engine.dialect, apply)


async def commit_on(
    driver: Any, dialect: sa.Dialect, apply: Callable[[Database], Coroutine[Any, Any, Result]]
) -> Result:
    """`commit_in_thread` on aiosqlite's connection `driver`."""
    result: Result = await _call_in_thread(driver, _apply_and_commit, apply, dialect)
    return result


async def _call_in_thread(driver: Any, function: Callable[..., Any], *arguments: Any) -> Any:
    """`function(sqlite3 connection, *arguments)` in the thread of an aiosqlite connection.
    aiosqlite 0.22 (locked) has no public call for this; `tests/csms/test_sqlite_batches.py`
    fails if its private `_execute` and `_conn` change."""
    return await driver._execute(lambda: function(driver._conn, *arguments))


def _apply_and_commit(
    connection: sqlite3.Connection,
    apply: Callable[[Database], Coroutine[Any, Any, Result]],
    dialect: sa.Dialect,
) -> Result:
    try:
        result = run_to_end(apply(SQLiteDatabase(connection, dialect)))
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return result


def run_to_end(coroutine: Coroutine[Any, Any, Result]) -> Result:
    """The value of a coroutine that never waits, run without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a write of the batch waited for something in SQLite's thread")


class SQLiteDatabase(ReadsOneByOne):
    """`Database` on a sqlite3 connection, in its thread: every method returns without
    waiting. The pysqlite module begins a transaction before the first write; reads before it
    run on their own, as on PostgreSQL's driver (the group commit is SQLite's only writer of
    what the merged kinds read)."""

    def __init__(self, connection: sqlite3.Connection, dialect: sa.Dialect) -> None:
        self.connection = connection
        self.dialect = dialect

    async def fetch(self, query: Query, *arguments: Any) -> Sequence[Sequence[Any]]:
        plan = _read_plan(query, self.dialect)
        rows = []
        for values in query.bound_each(arguments):
            sql, parameters = plan.bound(values)
            rows += self.connection.execute(sql, parameters).fetchall()
        return plan.processed(rows)

    async def write_rows(self, query: RowsQuery, rows: list[Row]) -> Sequence[Sequence[Any]]:
        if not rows:
            return []
        plan = _rows_plan(query, tuple(rows[0]), self.dialect)
        records = [plan.record(row) for row in rows]
        if not query.returning:
            self.connection.executemany(plan.sql, records)
            return []
        # executemany returns no rows: one INSERT ... RETURNING per row (a few per batch).
        returned = [self.connection.execute(plan.sql, r).fetchone() for r in records]
        return plan.processed(returned)

    async def write(self, writes: BulkWrites) -> None:
        if not bulk_writes.in_one_call(self.dialect, writes):
            raise ValueError("rows of a table with column defaults need SQLAlchemy")
        for sql, records in bulk_writes.sqlite_statements(writes, self.dialect):
            self.connection.executemany(sql, records)


@dataclass(frozen=True)
class _ReadPlan:
    """A `Query` compiled for SQLite: positional parameters in `names`, a list parameter's
    `IN` expanded when bound (SQLAlchemy's expanding IN, rendered the same way)."""

    sql: str
    names: tuple[str, ...]
    expanding: frozenset[str]
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]

    def bound(self, values: dict[str, Any]) -> tuple[str, list[Any]]:
        sql = self.sql
        parameters: list[Any] = []
        for name, process in zip(self.names, self.binds, strict=True):
            value = values[name]
            if name not in self.expanding:
                parameters.append(_processed(process, value))
                continue
            # An empty IN matches nothing, as SQLAlchemy's does.
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(value)) or "NULL")
            parameters += [_processed(process, item) for item in value]
        return sql, parameters

    def processed(self, rows: list[Any]) -> list[tuple[Any, ...]]:
        return _processed_rows(self.results, rows)


@dataclass(frozen=True)
class _RowsPlan:
    """A `RowsQuery` compiled for SQLite, for rows with one set of keys: each positional
    parameter from the row (`prefix` + column name) or the statement's own value."""

    sql: str
    sources: tuple[tuple[str | None, Any, Processor], ...]  # (row key or None, fixed, process)
    results: tuple[Processor, ...]

    def record(self, row: Row) -> tuple[Any, ...]:
        return tuple(
            _processed(process, fixed if key is None else row[key])
            for key, fixed, process in self.sources
        )

    def processed(self, rows: list[Any]) -> list[tuple[Any, ...]]:
        return _processed_rows(self.results, rows)


def _processed(process: Processor, value: Any) -> Any:
    return value if process is None or value is None else process(value)


def _processed_rows(results: tuple[Processor, ...], rows: list[Any]) -> list[tuple[Any, ...]]:
    if not any(results):
        return [tuple(row) for row in rows]
    return [
        tuple(_processed(process, value) for process, value in zip(results, row, strict=True))
        for row in rows
    ]


@functools.cache
def _read_plan(query: Query, dialect: sa.Dialect) -> _ReadPlan:
    statement: Any = query.alchemy
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup or ())
    binds = compiled.binds
    return _ReadPlan(
        sql=compiled.string,
        names=names,
        expanding=frozenset(name for name in names if binds[name].expanding),
        binds=tuple(_bind_processor(binds[name].type, dialect) for name in names),
        results=_result_processors(statement, dialect),
    )


@functools.cache
def _rows_plan(query: RowsQuery, keys: tuple[str, ...], dialect: sa.Dialect) -> _RowsPlan:
    statement: Any = query.alchemy
    inserting = isinstance(statement, sa.Insert)
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if inserting else None)
    sources = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        key = name.removeprefix(query.prefix) if name.startswith(query.prefix) else None
        if key not in keys:
            key = None
        sources.append((key, bind.value, _bind_processor(bind.type, dialect)))
    results = _result_processors(statement, dialect) if query.returning else ()
    return _RowsPlan(compiled.string, tuple(sources), results)


def _bind_processor(type_: Any, dialect: sa.Dialect) -> Processor:
    processor: Processor = type_.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _result_processors(statement: Any, dialect: sa.Dialect) -> tuple[Processor, ...]:
    return tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.exported_columns
    )
