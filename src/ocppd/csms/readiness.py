"""Whether the central system can serve: its database answers, and holds the schema this
ocppd's migrations make (`alembic_version` at their head). What `GET /readyz` answers.

One short query on a pooled connection, bounded in time: a database that hangs makes the
answer "not ready" within `TIMEOUT`, never a probe that hangs with it. The reasons are
short and name no host, file or credential (the route needs no token); what went wrong in
detail is logged, once each time the reason changes.
"""

import asyncio
import functools
import logging
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms.database import alembic_config, has_schema_table

log = logging.getLogger("ocppd.csms.readiness")

REVISIONS = sa.text("SELECT version_num FROM alembic_version")
TIMEOUT = 5.0
"""Seconds the database has to answer; load balancers probe every few seconds."""


@functools.cache
def migration_head() -> str:
    """The revision this ocppd's newest migration makes (read from the scripts once)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "ocppd ships its migrations"
    return head


class Readiness:
    """Asked on every probe; remembers the last reason only to log each change once."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._last: str | None = None
        self._asking: asyncio.Future[list[str] | None] | None = None

    async def problem(self) -> str | None:
        """None when ready, else why not. Probes that come while a query is under way wait
        for that one: the route needs no token, and a query each would let anyone looping on
        it take the whole pool while the database hangs."""
        if self._asking is None or self._asking.done():
            self._asking = asyncio.ensure_future(self._revisions())
            self._asking.add_done_callback(_retrieved)
        asked = self._asking
        done, _ = await asyncio.wait({asked}, timeout=TIMEOUT)
        if not done or asked.cancelled():
            # Answered now: cancelling a query on a dead connection can itself hang until the
            # driver gives up on the socket, and the probe must not wait for that. The next
            # probe asks anew rather than wait on the query being cancelled.
            asked.cancel()
            if self._asking is asked:
                self._asking = None
            return self._seen(f"the database did not answer within {TIMEOUT:g} s", None)
        try:
            revisions = asked.result()
        except Exception as exc:  # whatever the driver raises, the probe answers
            return self._seen("the database cannot be reached or read", exc)
        head = migration_head()
        if revisions is None:
            return self._seen("the database holds no ocppd schema (no migration applied)", None)
        if revisions != [head]:
            found = ", ".join(revisions) or "none"
            return self._seen(
                f"migrations not at head: the database is at {found}, this ocppd needs {head}", None
            )
        return self._seen(None, None)

    async def _revisions(self) -> list[str] | None:
        """The revisions the database is at; None when it has no ocppd schema."""
        try:
            async with self.engine.connect() as connection:
                result = await connection.execute(REVISIONS)
                return sorted(result.scalars())
        except sa.exc.DBAPIError:
            # No such table, or no database at all: looked at (on a connection of its own:
            # PostgreSQL refuses more statements in a transaction that failed) only then.
            async with self.engine.connect() as connection:
                if await connection.run_sync(has_schema_table):
                    raise
            return None

    def _seen(self, reason: str | None, exc: BaseException | None) -> str | None:
        if reason != self._last:
            if reason is None:
                log.info("ready again")
            else:
                log.warning("not ready: %s%s", reason, f" ({exc!r})" if exc else "")
            self._last = reason
        return reason


def _retrieved(abandoned: "asyncio.Future[Any]") -> None:
    """Take the outcome of a query (a probe may have given up on it), so that asyncio does
    not log it as never read."""
    if not abandoned.cancelled():
        abandoned.exception()
