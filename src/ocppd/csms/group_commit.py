"""Group commit: many handlers' writes in one database transaction.

A handler submits its writes and awaits the commit; only then does it answer the charge
point, so nothing acknowledged is lost when the process dies. While one transaction
commits, the next writes queue up and go together in the following one: under load a
commit carries hundreds of messages, at rest it carries one. A batch's rows and upserts go in
as few statements as the database allows (`bulk_writes`: one on PostgreSQL, with no
transaction around it when the batch has nothing else; a batch that reads runs its reads
first and all its writes in that one statement, `batch_database.DriverDatabase`; on SQLite
a batch is one call to the driver's thread, `sqlite_batches`). If a batch fails, it is
committed again in halves until the bad write is alone (`GroupCommit._isolate`): it fails
alone, and costs a few commits, not one per write. A batch the database could not commit
(lost, stalled, locked) fails as a whole, and no write waits longer than `timeout`
(`commit_deadline`).

Writes that need reads and return values (a StartTransaction needs its tag's status, the
running transactions and a new id) are `Merged`: the batch hands all writes of one kind to
the kind's `apply`, which runs a fixed number of statements for all of them, not a few per
message (decision 0002: statements executed per message were what cost).
"""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ocppd.csms import bulk_writes, sqlite_batches
from ocppd.csms.batch_database import AlchemyDatabase, Database, DriverDatabase
from ocppd.csms.bulk_writes import BulkWrites, Upsert
from ocppd.csms.commit_deadline import DatabaseUnavailable, Deadline, expire_after, unavailable
from ocppd.csms.metrics import Metrics
from ocppd.csms.settings import DATABASE_TIMEOUT

log = logging.getLogger("ocppd.csms.storage")

Action = Callable[[AsyncConnection], Awaitable[Any]]
Rows = list[tuple[sa.Table, dict[str, Any]]]


class Merged(Protocol):
    """A kind of write that needs reads or returns values, applied for a whole batch at once.

    `apply` gets the items of every write of this kind in the batch, in arrival order, and
    returns one result per item and rows to insert with the batch's rows. Kinds run in
    ascending `order`, before the rows, upserts and actions. With `on_driver`, `apply` also
    works on the drivers' own databases, for batches without actions: `DriverDatabase`
    (PostgreSQL's asyncpg) and `sqlite_batches.SQLiteDatabase` (in aiosqlite's thread, where
    it must never wait for anything but the database)."""

    order: int
    on_driver: bool

    async def apply(self, db: Database, items: list[Any]) -> tuple[list[Any], Rows]: ...


@dataclass
class Write:
    """Rows to insert, rows to upsert, an item of a `Merged` kind, and an optional action
    that runs after them and returns a value. Rows and upserts of a batch go in one statement
    per table and shape, merged items in the statements of their kind; an action's statements
    are its own, so they cost per message: keep them for what is rare."""

    rows: Rows = field(default_factory=list)
    action: Action | None = None
    done: asyncio.Future[Any] | None = None
    upserts: list[Upsert] = field(default_factory=list)
    merged: Merged | None = None
    item: Any = None


IN_FLIGHT = 1
"""Batches of one lane committing at once by default (bench/server.py's `+inflightN` variants
set it)."""

LATER_DELAY = 0.05
"""Seconds rows that nobody waits for may wait for a batch to ride with."""


def only_rows(write: Write) -> bool:
    """Whether `write` only inserts and upserts: nothing to read, nothing to return."""
    return write.action is None and write.merged is None


class Lane:
    """Writes waiting for a batch, and the batches committing one after another."""

    def __init__(self, in_flight: int) -> None:
        self.queue: asyncio.Queue[Write] = asyncio.Queue()
        self.slots = asyncio.Semaphore(in_flight)
        self.task: asyncio.Task[None] | None = None


class GroupCommit:
    def __init__(
        self,
        engine: AsyncEngine,
        max_batch: int = 2000,
        in_flight: int | None = None,
        timeout: float = DATABASE_TIMEOUT,
        metrics: Metrics | None = None,
    ) -> None:
        """`timeout`: seconds a write may wait for its commit, and a batch may work on its
        connection (`commit_deadline`). `metrics`: the node's, where commits are counted."""
        self.engine = engine
        self.metrics = metrics if metrics is not None else Metrics("")
        self.max_batch = max_batch
        self.timeout = timeout
        # Commits in flight at once per lane. A charge point has one call outstanding and is
        # answered after its commit, so its writes are never in two batches at once; batches
        # could overlap where the database allows concurrent writers (PostgreSQL). Not shown
        # to help (decision 0002), and two batches of starts would miss each other's running
        # transactions (ConcurrentTx), so one at a time; SQLite has one writer anyway.
        slots = IN_FLIGHT if in_flight is None else in_flight
        self._reading = Lane(slots)
        # Plain writes (rows and upserts: Heartbeat, StatusNotification, MeterValues, the
        # message log) on PostgreSQL commit on a lane of their own, beside the batches that
        # read (starts, stops, Authorize, actions): a batch with starts and stops is ten round
        # trips, a plain batch one statement, and at a light load most messages were waiting
        # behind a start's commit (decision 0002, "Applied (6)"). Nothing a plain write does
        # is read by a batch of the other lane, and a charge point's next call comes after
        # its last one is committed. SQLite has one writer: one lane.
        self.plain_lane = engine.dialect.name == "postgresql"
        self._plain = Lane(slots)
        self._committing: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.writes = 0
        self.attempts = 0
        """Commits tried: `batches` and the failed ones, the halves of `_isolate` included."""
        # Rows nobody waits for: they ride with the next batch, or go on their own after
        # `later_delay` if no batch comes (a commit of their own for every frame sent doubled
        # the commits of a lightly loaded server: bench/group_commit.py).
        self.later_delay = LATER_DELAY
        self._later: Rows = []
        self._later_timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        for lane in (self._reading, self._plain) if self.plain_lane else (self._reading,):
            lane.task = asyncio.create_task(self._run(lane), name="group-commit")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        await self.flush()
        for lane in (self._reading, self._plain):
            if lane.task is not None:
                lane.task.cancel()
                await asyncio.gather(lane.task, return_exceptions=True)
                lane.task = None

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        self._queue_later()
        for lane in (self._reading, self._plain):
            await lane.queue.join()

    def queued(self) -> int:
        """Writes waiting for a batch."""
        return self._reading.queue.qsize() + self._plain.queue.qsize()

    async def commit(
        self, rows: Rows, action: Action | None = None, upserts: list[Upsert] | None = None
    ) -> Any:
        """Insert `rows`, upsert `upserts`, run `action`, and return its value once all is
        committed."""
        return await self._wait(Write(rows, action, None, upserts or []))

    async def merge(self, kind: Merged, item: Any) -> Any:
        """Apply `item` with the other items of `kind` in the batch; its result once committed."""
        return await self._wait(Write([], merged=kind, item=item))

    async def _wait(self, write: Write) -> Any:
        write.done = future = asyncio.get_running_loop().create_future()
        self._lane_of(write).queue.put_nowait(write)
        expiry = expire_after(self.timeout, future)
        try:
            return await future
        finally:
            expiry.cancel()

    def _lane_of(self, write: Write) -> Lane:
        return self._rows_lane() if only_rows(write) else self._reading

    def _rows_lane(self) -> Lane:
        return self._plain if self.plain_lane else self._reading

    def insert_later(self, rows: Rows) -> None:
        """Rows that nobody waits for (the log of frames): in the next commit, at the latest
        `later_delay` seconds from now."""
        self._later += rows
        if self._later_timer is None:
            loop = asyncio.get_running_loop()
            self._later_timer = loop.call_later(self.later_delay, self._queue_later)

    def _queue_later(self) -> None:
        if self._later_timer is not None:
            self._later_timer.cancel()
            self._later_timer = None
        if self._later:
            self._rows_lane().queue.put_nowait(Write(self._later))
            self._later = []

    async def _run(self, lane: Lane) -> None:
        while True:
            await lane.slots.acquire()
            try:
                batch = [await lane.queue.get()]
            except BaseException:
                lane.slots.release()
                raise
            # Everything queued while the slot was busy goes in this batch, and the rows
            # that wait for one, if they go in this lane.
            if lane is self._rows_lane():
                self._queue_later()
            while len(batch) < self.max_batch and not lane.queue.empty():
                batch.append(lane.queue.get_nowait())
            task = asyncio.create_task(self._commit_batch(lane, _unexpired(lane, batch)))
            self._committing.add(task)
            task.add_done_callback(self._committing.discard)

    async def _commit_batch(self, lane: Lane, batch: list[Write]) -> None:
        try:
            if batch:
                await self._commit(batch)
        finally:
            lane.slots.release()
            for _ in batch:
                lane.queue.task_done()

    async def _commit(self, batch: list[Write], retried: bool = False) -> bool:
        """Commit `batch` and hand each write its result; False when the database could not
        commit (every write of the batch failed for it)."""
        self.attempts += 1
        started = perf_counter()
        try:
            results = await self._attempt(batch)
        except Exception as exc:
            self.metrics.committed(len(batch), perf_counter() - started)
            return await self._failed(batch, exc, retried)
        self.metrics.committed(len(batch), perf_counter() - started)
        self.batches += 1
        self.writes += len(batch)
        for write, result in zip(batch, results, strict=True):
            if write.done is not None and not write.done.done():
                write.done.set_result(result)
        return True

    async def _attempt(self, batch: list[Write]) -> list[Any]:
        """The batch's results once committed, on one pooled connection whose work is aborted
        past the deadline."""
        writes, plain = _gather(batch)
        async with bulk_writes.pooled_connection(self.engine) as (connection, driver):
            with Deadline().watch(driver, self.timeout) as deadline:
                try:
                    return await _apply_batch(connection, driver, batch, writes, plain)
                except BaseException as exc:
                    if deadline.expired:
                        raise DatabaseUnavailable(
                            f"the database did not commit within {self.timeout:g} s"
                        ) from exc
                    raise

    async def _failed(self, batch: list[Write], exc: Exception, retried: bool) -> bool:
        if not retried and _reconnect_may_help(exc):
            # PostgreSQL restarted, or dropped the connection this batch got: the others
            # in the pool are likely gone too. A new pool, and once more, before any
            # write is refused for it.
            log.warning("database connection lost (%s); batch retried", exc)
            self.metrics.database_error("lost")
            await self.engine.dispose()
            return await self._commit(batch, retried=True)
        if isinstance(exc, DatabaseUnavailable) or unavailable(exc):
            # The database's fault, not a write's: one by one, each would wait as long.
            log.warning("database unavailable: %d writes failed (%s)", len(batch), exc)
            self.metrics.database_error("unavailable")
            _fail_all(batch, f"the database is unavailable ({exc})")
            return False
        self.metrics.database_error("refused")
        return await self._isolate(batch, exc)

    async def _isolate(self, batch: list[Write], error: Exception) -> bool:
        """A failed batch committed again in halves, each halved again if it fails, until
        what fails is alone: its waiter gets an error, everything else is stored. One bad
        write among n costs about 2 log2(n) commits more, not n (issue 17: a batch replayed
        one write at a time cut every charger's throughput to a quarter). Rows that nobody
        waits for (the log of frames, many chargers' rows in one write) are halved down to
        the row; a write that somebody waits for stays whole (its rows are one message)."""
        if len(batch) == 1 and not _divisible(batch[0]):
            log.error("write failed: %s", error)
            _fail(batch[0])
            return True
        if len(batch) == 1:
            rows = batch[0].rows
            halves = [[Write(rows[: len(rows) // 2])], [Write(rows[len(rows) // 2 :])]]
        else:
            halves = [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
        log.warning("a batch of %d writes failed (%s); committing it in halves", len(batch), error)
        first, second = halves
        if not await self._commit(first):
            _fail_all(second, "the database is unavailable")
            return False
        return await self._commit(second)


def _reconnect_may_help(exc: Exception) -> bool:
    """A connection found dead (not one that timed out: a database that does not answer
    would not answer the next one either)."""
    return bulk_writes.connection_lost(exc) and not isinstance(
        exc, TimeoutError | DatabaseUnavailable
    )


def _unexpired(lane: Lane, batch: list[Write]) -> list[Write]:
    """The writes of `batch` whose callers still wait (or that nobody waits for): one whose
    caller was answered with a timeout is not committed later (the charger sends it again)."""
    if all(write.done is None or not write.done.done() for write in batch):
        return batch
    kept = [write for write in batch if write.done is None or not write.done.done()]
    for _ in range(len(batch) - len(kept)):
        lane.queue.task_done()
    return kept


async def _apply_batch(
    connection: AsyncConnection, driver: Any, batch: list[Write], writes: BulkWrites, plain: bool
) -> list[Any]:
    """The batch's results, committed the cheapest way its writes allow."""
    dialect = connection.dialect
    if plain and writes.fits_one_statement(dialect):
        await bulk_writes.write_alone(driver, writes)
        return [None] * len(batch)
    if writes.fits_one_statement(dialect) and _without_alchemy(batch):
        return await _apply_on_driver(driver, batch, writes)
    if bulk_writes.in_one_call(dialect, writes) and _without_alchemy(batch):
        apply = functools.partial(_apply_on_database, batch, writes)
        return await sqlite_batches.commit_on(driver, dialect, apply)
    async with connection.begin():
        return await _apply(connection, batch, writes)


def _divisible(write: Write) -> bool:
    """Whether `write` is rows that nobody waits for, more than one."""
    return write.done is None and only_rows(write) and not write.upserts and len(write.rows) > 1


def _gather(batch: list[Write]) -> tuple[BulkWrites, bool]:
    """The batch's rows and upserts, and whether they are all it has (nothing to read, nothing
    to return): then they may go on their own."""
    writes = BulkWrites()
    plain = True
    for write in batch:
        plain = plain and only_rows(write)
        for table, row in write.rows:
            writes.insert(table, row)
        for upsert in write.upserts:
            writes.upsert(upsert)
    return writes, plain


def _without_alchemy(batch: list[Write]) -> bool:
    """Whether nothing in the batch needs SQLAlchemy: no action, no kind without `on_driver`
    (the rows' tables are the caller's to check)."""
    return all(
        write.action is None and (write.merged is None or write.merged.on_driver) for write in batch
    )


async def _apply_on_database(batch: list[Write], writes: BulkWrites, db: Database) -> list[Any]:
    merged = await _merged_and_rows(db, batch, writes)
    return [merged.get(index) for index in range(len(batch))]


async def _apply_on_driver(driver: Any, batch: list[Write], writes: BulkWrites) -> list[Any]:
    db = DriverDatabase(driver)
    try:
        results = await _apply_on_database(batch, writes, db)
        await db.finish()
    except BaseException:
        await db.abort()
        raise
    return results


async def _apply(connection: AsyncConnection, batch: list[Write], writes: BulkWrites) -> list[Any]:
    merged = await _merged_and_rows(AlchemyDatabase(connection), batch, writes)
    return [
        await write.action(connection) if write.action else merged.get(index)
        for index, write in enumerate(batch)
    ]


async def _merged_and_rows(db: Database, batch: list[Write], writes: BulkWrites) -> dict[int, Any]:
    """The merged kinds applied, then every row and upsert of the batch (the kinds' too);
    the merged results by index in the batch."""
    merged, extra_rows = await _apply_merged(db, batch)
    for table, row in extra_rows:
        writes.insert(table, row)
    if writes:
        await db.write(writes)
    return merged


async def _apply_merged(db: Database, batch: list[Write]) -> tuple[dict[int, Any], Rows]:
    """The results of the merged writes by their index in the batch, and the rows they add."""
    kinds: dict[Merged, list[int]] = {}
    for index, write in enumerate(batch):
        if write.merged is not None:
            kinds.setdefault(write.merged, []).append(index)
    results: dict[int, Any] = {}
    rows: Rows = []
    for kind in sorted(kinds, key=lambda kind: kind.order):
        indexes = kinds[kind]
        values, added = await kind.apply(db, [batch[i].item for i in indexes])
        results.update(zip(indexes, values, strict=True))
        rows += added
    return results, rows


def _fail(write: Write) -> None:
    if write.done is not None and not write.done.done():
        write.done.set_exception(RuntimeError("the database refused this write"))


def _fail_all(batch: list[Write], reason: str) -> None:
    for write in batch:
        if write.done is not None and not write.done.done():
            write.done.set_exception(DatabaseUnavailable(reason))
