"""Pagination of lists that grow: `limit` and an opaque `cursor`, `nextCursor` in the answer.

Keyset pagination (the cursor is the sort key of the last item) stays cheap deep into a long
message log, where an OFFSET would scan every skipped row.
"""

from typing import Annotated, Any

import sqlalchemy as sa
from litestar.params import QueryParameter

from ocppd.api.problems import Problem, ProblemException
from ocppd.csms.models import MAX_STORED_INTEGER

Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="Items per page (1-1000).")]
Cursor = Annotated[
    str | None,
    QueryParameter(description="`nextCursor` of the previous page; absent for the first page."),
]
IdCursor = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^-?[0-9]{1,18}$",
        description="`nextCursor` of the previous page (an id); absent for the first page.",
    ),
]
"""The cursor of a list `newest_first` pages: the id it stopped before."""


def next_cursor(keys: list[str], limit: int) -> str | None:
    """The cursor after a page fetched with `limit + 1` rows (None: it was the last page)."""
    return keys[limit - 1] if len(keys) > limit else None


def id_cursor(text: str) -> int:
    """A cursor that is an integer id: bounded, or the database refuses the query (400)."""
    try:
        value = int(text)
    except ValueError:
        value = MAX_STORED_INTEGER + 1
    if abs(value) > MAX_STORED_INTEGER:
        raise ProblemException(
            Problem(status=400, error="invalid cursor", field="cursor", reason="not an id")
        )
    return value


def newest_first(
    table: sa.Table, key: sa.Column[Any], limit: int, cursor: str | None
) -> sa.Select[Any]:
    """A page of `table`, highest integer `key` first, after `cursor` (one row more than
    `limit`, for `next_cursor`)."""
    query = sa.select(table).order_by(key.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(key < id_cursor(cursor))
    return query
