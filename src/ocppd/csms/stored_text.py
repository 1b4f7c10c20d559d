"""Strings as the database can hold them: on PostgreSQL a NUL is stored as U+FFFD.

A charger may send NUL (U+0000) in any string: it is valid JSON and the schemas allow it. SQLite
stores it as is; PostgreSQL's text cannot hold it and refuses the whole statement, which would
fail the message for good (the charger retries it forever). So on PostgreSQL every NUL becomes
U+FFFD, the replacement character, wherever a string is written or looked up:

- `String` and `Text`, the string column types of `models`, do it for every value SQLAlchemy
  binds on PostgreSQL (inserts, updates, upserts, lookups); on other databases they are the
  plain types, with no bind processor (SQLite's bulk inserts stay without per-value work).
- The bulk writes' JSON documents bypass bind processing: they replace NUL themselves
  (`bulk_writes`), only in a document that has one.

A lookup with a NUL finds the value stored for it on PostgreSQL; where a NUL must match nothing
(an idTag), the caller says so (`id_tags.load_tags`). A value bound outside a column's type (a
literal inside a SQL function: `coalesce(column, value)`, `lower(column) == value`) is a plain
string, NUL and all: bind a charger's strings to columns.
"""

import functools
from typing import Any

import sqlalchemy as sa

NUL = "\x00"
STAND_IN = "\ufffd"
"""What PostgreSQL stores for a NUL."""


def without_nul(text: str) -> str:
    """`text` as PostgreSQL stores it (the same object when it has no NUL)."""
    return text.replace(NUL, STAND_IN)


class _PostgresString(sa.types.TypeDecorator[str]):
    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return without_nul(value) if isinstance(value, str) else value


class _PostgresText(_PostgresString):
    impl = sa.Text
    cache_ok = True


def String(length: int | None = None) -> sa.types.TypeEngine[str]:
    """`sa.String(length)`; on PostgreSQL a NUL in a bound value is stored as U+FFFD."""
    return sa.String(length).with_variant(_PostgresString(length), "postgresql")


def Text() -> sa.types.TypeEngine[str]:
    """`sa.Text()`; on PostgreSQL a NUL in a bound value is stored as U+FFFD."""
    return sa.Text().with_variant(_PostgresText(), "postgresql")


def fitted(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """`values` for `table` (the same dict when all fit) with every string cut to its column's
    length: PostgreSQL refuses a longer one, and with it the statement, which may carry other
    chargers' writes. For writes through SQLAlchemy (PostgreSQL's JSON statements cut them
    themselves: `bulk_writes.json_source`); never for lookups, where a cut value could match
    another."""
    cut = None
    for name, length in column_lengths(table).items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > length:
            cut = dict(values) if cut is None else cut
            cut[name] = value[:length]
    return values if cut is None else cut


@functools.cache
def column_lengths(table: sa.Table) -> dict[str, int]:
    """The most characters each string column of `table` holds (those with a length)."""
    return {
        column.name: column.type.length
        for column in table.columns
        if isinstance(column.type, sa.String) and column.type.length is not None
    }
