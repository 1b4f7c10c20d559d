"""How long a commit may take, and what the group commit does past it (issue 17).

A database behind a black hole answers nothing and refuses nothing: without a bound every
charger waited for its own timeout while the server waited forever. Now:

- a write's caller gets `DatabaseUnavailable` once `timeout` seconds have passed since it
  submitted the write (`expire_after`), whatever the batch it is in is doing: a charger's call
  is answered with a CALLERROR InternalError and the charger sends it again later;
- a batch's work on its connection is aborted after `timeout` seconds (`Deadline`): asyncpg's
  connection is terminated (it cannot be returned to the pool half-way through a
  transaction), SQLite's statement is interrupted (and rolled back), so the lane goes on with
  the next batch and recovers by itself when the database answers again;
- a batch that failed because of the database (`unavailable`: a lost connection, a timeout,
  a lock it waited too long for), not because of one of its writes, fails as a whole: it is
  not retried one write at a time, which would cost `timeout` per write.

A write that timed out may still have been committed (its COMMIT was on its way); the
charger's retransmission must then find it: StartTransaction and MeterValues are idempotent.
"""

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import sqlalchemy as sa

from ocppd.csms import bulk_writes
from ocppd.protocol.errors import InternalError


class DatabaseUnavailable(InternalError):
    """The database did not commit a write, for reasons of its own. An InternalError: a
    charger's call that waited for the write is answered with that CALLERROR (no traceback in
    the log: the group commit logs once per batch)."""


def expire_after(timeout: float, future: asyncio.Future[Any]) -> asyncio.TimerHandle:
    """Fail `future` with `DatabaseUnavailable` in `timeout` seconds unless it is done."""
    return asyncio.get_running_loop().call_later(timeout, _expire, future, timeout)


def _expire(future: asyncio.Future[Any], timeout: float) -> None:
    if not future.done():
        future.set_exception(
            DatabaseUnavailable(f"the database did not commit within {timeout:g} s")
        )


class Deadline:
    """Aborts the work on a driver connection when `timeout` seconds have passed."""

    def __init__(self) -> None:
        self.expired = False

    @contextmanager
    def watch(self, driver: Any, timeout: float) -> Iterator["Deadline"]:
        handle = asyncio.get_running_loop().call_later(timeout, self._abort, driver)
        try:
            yield self
        finally:
            handle.cancel()

    def _abort(self, driver: Any) -> None:
        self.expired = True
        if isinstance(driver, asyncpg.Connection):
            driver.terminate()  # the statement in flight fails at once, as a lost connection
        else:
            # aiosqlite's: sqlite3's interrupt may be called from any thread; the statement
            # running in the connection's thread fails ("interrupted") and is rolled back.
            driver._conn.interrupt()


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not do the work, rather than refused a write."""
    if bulk_writes.connection_lost(exc):
        return True
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError | sa.exc.TimeoutError):
            return True
        if isinstance(seen, asyncpg.QueryCanceledError | asyncpg.LockNotAvailableError):
            return True
        if isinstance(seen, sqlite3.OperationalError) and _sqlite_stuck(str(seen)):
            return True
        orig = getattr(seen, "orig", None)  # SQLAlchemy's DBAPIError: the driver's error
        seen = orig if isinstance(orig, BaseException) else seen.__cause__
    return False


def _sqlite_stuck(message: str) -> bool:
    return any(word in message for word in ("locked", "busy", "interrupted"))
