"""Starts and stops merged per batch: what one batch of many charge points gets, and what it
costs in statements."""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms import models
from ocppd.csms import transactions as tx
from ocppd.csms.batch_database import AlchemyDatabase, DriverDatabase
from ocppd.csms.bulk_writes import Upsert, driver_connection
from ocppd.csms.group_commit import GroupCommit
from ocppd.csms.settings import ConcurrencyScope, Settings
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import MeterValue, SampledValue
from ocppd.protocol.enums import AuthorizationStatus

T0 = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
Accepted, ConcurrentTx, Invalid = (
    AuthorizationStatus.ACCEPTED,
    AuthorizationStatus.CONCURRENT_TX,
    AuthorizationStatus.INVALID,
)


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[GroupCommit]:
    async with engine.begin() as connection:
        await connection.execute(
            models.id_tags.insert(),
            [
                {"id_tag": "GOOD", "id_tag_key": "good", "status": "Accepted"},
                {"id_tag": "CARD-A", "id_tag_key": "card-a", "status": "Accepted",
                 "parent_id_tag": "FLEET"},
                {"id_tag": "CARD-B", "id_tag_key": "card-b", "status": "Accepted",
                 "parent_id_tag": "fleet"},
            ],
        )  # fmt: skip
    writer = GroupCommit(engine)
    yield writer
    await writer.stop()


async def one_batch(writer: GroupCommit, *writes: Any) -> list[Any]:
    """Queue every write, then start the writer: they go in one batch."""
    tasks = [asyncio.ensure_future(write) for write in writes]
    await asyncio.sleep(0)
    writer.start()
    results = await asyncio.gather(*tasks)
    assert writer.batches == 1
    return results


def start(cp: str, tag: str, connector: int = 1, meter: int = 0, **extra: Any) -> tx.Start:
    request = m.StartTransactionRequest(
        connector_id=connector, id_tag=tag, meter_start=meter, timestamp=T0, **extra
    )
    return tx.Start(cp, request, T0)


def stop(cp: str, transaction_id: int, meter: int, **extra: Any) -> tx.Stop:
    request = m.StopTransactionRequest(
        transaction_id=transaction_id, meter_stop=meter, timestamp=T0 + timedelta(hours=1), **extra
    )
    return tx.Stop(cp, request, T0)


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """What reaches the database while inside: on PostgreSQL each statement, through
    SQLAlchemy and on the driver (where the group commit runs batches without actions); on
    SQLite each call to aiosqlite's thread, where a statement through SQLAlchemy is several and
    a batch without actions is one (`sqlite_batches`)."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    def log(record: Any) -> None:
        # Not asyncpg's type introspection (three statements, once per connection and type).
        if "typeinfo_tree" not in record.query and "'jit'" not in record.query:
            seen.append(record.query)

    def watch(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.driver_connection.add_query_logger(log)

    def unwatch(_dbapi: Any, record: Any) -> None:
        record.driver_connection.remove_query_logger(log)

    class ThreadCalls(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg.startswith("executing"):
                seen.append(record.getMessage())

    if engine.dialect.name == "postgresql":
        sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
        sa.event.listen(engine.sync_engine.pool, "checkout", watch)
        sa.event.listen(engine.sync_engine.pool, "checkin", unwatch)
    calls, aiosqlite_log = ThreadCalls(), logging.getLogger("aiosqlite")
    level = aiosqlite_log.level
    if engine.dialect.name == "sqlite":
        aiosqlite_log.addHandler(calls)
        aiosqlite_log.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        if engine.dialect.name == "postgresql":
            sa.event.remove(engine.sync_engine, "before_cursor_execute", count)
            sa.event.remove(engine.sync_engine.pool, "checkout", watch)
            sa.event.remove(engine.sync_engine.pool, "checkin", unwatch)
        aiosqlite_log.removeHandler(calls)
        aiosqlite_log.setLevel(level)


async def stored(engine: AsyncEngine, table: sa.Table) -> list[Any]:
    async with engine.connect() as connection:
        query = sa.select(table).order_by(*table.primary_key.columns)
        return list((await connection.execute(query)).mappings())


async def test_a_batch_of_starts_sees_itself_and_costs_a_fixed_number_of_statements(
    engine: AsyncEngine, writer: GroupCommit
) -> None:
    starts = tx.Transactions(Settings())
    with statements(engine) as seen:
        results = await one_batch(
            writer,
            *(writer.merge(starts, start(f"CP{n}", f"T{n}", meter=n)) for n in range(40)),
            writer.merge(starts, start("CPA", "GOOD")),
            writer.merge(starts, start("CPB", "good", meter=7)),  # same tag, other charger
            writer.merge(starts, start("CPA", "GOOD")),  # the first, retransmitted
        )
    selects_and_inserts = [s for s in seen if not s.upper().startswith(("BEGIN", "COMMIT"))]
    assert 1 <= len(selects_and_inserts) <= 5, selects_and_inserts
    ids = [transaction_id for transaction_id, _ in results]
    assert len(set(ids[:40])) == 40
    assert [info.status for _, info in results[:40]] == [Invalid] * 40
    (first, a), (second, b), (again, c) = results[40:]
    assert (a.status, b.status, c.status) == (Accepted, ConcurrentTx, Accepted)
    assert again == first and second not in [*ids[:40], first]
    assert len(await stored(engine, models.transactions)) == 42


async def test_group_scope_and_stops_in_the_same_batch(
    engine: AsyncEngine, writer: GroupCommit
) -> None:
    settings = Settings(concurrent_tx=ConcurrencyScope.GROUP)
    starts = stops = tx.Transactions(settings)
    writer.start()
    running, _ = await writer.merge(starts, start("CP1", "CARD-A", meter=1000))
    await writer.stop()
    writer = GroupCommit(engine)
    data = [MeterValue(timestamp=T0, sampled_value=[SampledValue(value="1100")])]
    results = await one_batch(
        writer,
        writer.merge(starts, start("CP2", "card-b")),  # group running: CARD-A
        writer.merge(stops, stop("CP1", running, 1500, id_tag="CARD-A", transaction_data=data)),
        writer.merge(stops, stop("CP2", running, 1, id_tag="NOBODY")),  # not CP2's
        writer.merge(stops, stop("CP1", 2**70, 2**70, transaction_data=data)),
    )
    await writer.stop()
    # Stops go first: CARD-A's transaction is closed when CARD-B starts.
    assert results[0][1].status is Accepted
    assert [r.status if r else None for r in results[1:]] == [Accepted, Invalid, None]
    closed = next(r for r in await stored(engine, models.transactions) if r["id"] == running)
    assert (closed["meter_stop"], closed["energy_wh"], closed["stop_id_tag"]) == (
        1500,
        500,
        "CARD-A",
    )
    unmatched = await stored(engine, models.unmatched_stops)
    assert [(u["charge_point_id"], u["transaction_id"]) for u in unmatched] == [
        ("CP2", running),
        ("CP1", 2**63 - 1),
    ]
    values = await stored(engine, models.meter_values)
    assert [(v["connector_id"], v["transaction_id"]) for v in values] == [(1, running), (0, None)]


async def test_a_stop_that_closes_nothing_leaves_its_transaction_running_for_a_start(
    engine: AsyncEngine, writer: GroupCommit
) -> None:
    """A start sees only the closes of its batch's stops, not the transaction ids they name:
    another charge point's stop of a transaction closes nothing."""
    transactions = tx.Transactions(Settings())
    writer.start()
    running, _ = await writer.merge(transactions, start("CP1", "GOOD", meter=1))
    await writer.stop()
    writer = GroupCommit(engine)
    _, (_, first), (_, second) = await one_batch(
        writer,
        writer.merge(transactions, stop("CP2", running, 5)),  # not CP2's
        writer.merge(transactions, start("CP3", "good", meter=2)),
        writer.merge(transactions, start("CP4", "good", meter=3)),
    )
    await writer.stop()
    assert (first.status, second.status) == (ConcurrentTx, ConcurrentTx)
    (row,) = [r for r in await stored(engine, models.transactions) if r["id"] == running]
    assert row["stopped_at"] is None


async def test_a_start_of_a_failing_batch_is_retried_alone(
    engine: AsyncEngine, writer: GroupCommit
) -> None:
    starts = tx.Transactions(Settings())
    bad_row = (models.messages, {"charge_point_id": "CP9", "direction": "in", "at": T0})
    writer.start()
    results = await asyncio.gather(
        writer.merge(starts, start("CP1", "GOOD")),
        writer.commit([bad_row]),
        writer.merge(starts, start("CP2", "GOOD", meter=3)),
        return_exceptions=True,
    )
    assert isinstance(results[1], RuntimeError)
    assert [r[1].status for r in (results[0], results[2])] == [Accepted, ConcurrentTx]
    assert len(await stored(engine, models.transactions)) == 2


@pytest.mark.parametrize(
    ("meter_start", "meter_stop", "energy"),
    [
        (1000, 1500, 500),
        (1500, 1000, 0),
        (None, 10, None),
        (0, 2**62, None),
        (-(2**61), 2**61, 2**62),
    ],
)
def test_energy(meter_start: int | None, meter_stop: int, energy: int | None) -> None:
    assert tx.energy(meter_start, meter_stop) == energy


async def test_the_running_transactions_of_a_tag_are_found_by_index(engine: AsyncEngine) -> None:
    tag = sa.func.lower(models.transactions.c.id_tag)
    query = sa.select(tag).where(tag.in_(["good"]), models.transactions.c.stopped_at.is_(None))
    async with engine.connect() as connection:
        sql = str(query.compile(connection.engine, compile_kwargs={"literal_binds": True}))
        if engine.dialect.name == "sqlite":
            plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
        else:
            await connection.exec_driver_sql("SET enable_seqscan = off")  # the table is empty
            plan = await connection.exec_driver_sql(f"EXPLAIN {sql}")
        text = " ".join(str(row[-1]) for row in plan)
    assert "ix_transactions_running_tag" in text, text


async def test_on_postgresql_batches_without_actions_bypass_sqlalchemy(
    engine: AsyncEngine, writer: GroupCommit
) -> None:
    """Starts, stops and rows go on the driver (a third of the CPU a statement costs through
    SQLAlchemy); a batch with an action still runs through SQLAlchemy, and both commit."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's")
    through_sqlalchemy: list[str] = []

    def count(*args: Any) -> None:
        through_sqlalchemy.append(args[2])

    starts = stops = tx.Transactions(Settings())
    sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        writer.start()
        (running, info), *_ = await asyncio.gather(
            writer.merge(starts, start("CP1", "GOOD", meter=100)),
            writer.commit([(models.messages, frame_row("CP1"))]),
        )
        data = [MeterValue(timestamp=T0, sampled_value=[SampledValue(value="150")])]
        await asyncio.gather(
            writer.merge(stops, stop("CP1", running, 200, id_tag="GOOD", transaction_data=data)),
            writer.merge(stops, stop("CP2", 987654, 5)),  # unmatched: recorded
        )
        assert through_sqlalchemy == []

        async def count_tags(connection: Any) -> int:
            return int(await connection.scalar(sa.select(sa.func.count(models.id_tags.c.id_tag))))

        assert await writer.commit([], count_tags) == 3
        assert through_sqlalchemy, "a batch with an action did not go through SQLAlchemy"
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert info.status is Accepted
    (row,) = await stored(engine, models.transactions)
    assert (row["meter_stop"], row["energy_wh"], row["stop_id_tag"]) == (200, 100, "GOOD")
    (unmatched,) = await stored(engine, models.unmatched_stops)
    assert (unmatched["charge_point_id"], unmatched["transaction_id"]) == ("CP2", 987654)
    (meter,) = await stored(engine, models.meter_values)
    assert (meter["transaction_id"], meter["value"]) == (running, "150")
    assert len(await stored(engine, models.messages)) == 1


def frame_row(charge_point_id: str) -> dict[str, Any]:
    return {
        "charge_point_id": charge_point_id,
        "direction": "in",
        "message_type": 2,
        "action": "Heartbeat",
        "unique_id": "1",
        "payload": '[2,"1","Heartbeat",{}]',
        "at": T0,
    }


async def started_alone(
    engine: AsyncEngine, writer: GroupCommit, starts: tx.Transactions, item: tx.Start
) -> int:
    """The transaction id of `item`, started in a batch of its own."""
    [(transaction_id, _)] = await one_batch(writer, writer.merge(starts, item))
    await writer.stop()
    return transaction_id


async def test_on_postgresql_a_batch_of_starts_and_stops_is_one_read_and_one_write(
    engine: AsyncEngine, writer: GroupCommit
) -> None:
    """Every read of the batch and the new ids in one round trip, then every write in one
    statement, with no BEGIN and COMMIT (stops, starts or both: two round trips, were six, six
    and ten); starts after stops in one batch see them closed."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's")
    starts = stops = tx.Transactions(Settings())
    running = await started_alone(engine, writer, starts, start("CP1", "GOOD", meter=100))
    writer = GroupCommit(engine)
    data = [MeterValue(timestamp=T0, sampled_value=[SampledValue(value="150")])]
    with statements(engine) as seen:
        await one_batch(
            writer,
            writer.merge(stops, stop("CP1", running, 200, id_tag="GOOD", transaction_data=data)),
            writer.merge(stops, stop("CP2", 987654, 5)),
        )
    await writer.stop()
    assert [s.split()[0].upper() for s in seen] == ["SELECT", "WITH"], seen
    (row,) = await stored(engine, models.transactions)
    assert (row["meter_stop"], row["energy_wh"]) == (200, 100)
    assert len(await stored(engine, models.unmatched_stops)) == 1
    assert len(await stored(engine, models.meter_values)) == 1

    stopping = await started_alone(engine, GroupCommit(engine), starts, start("CP3", "GOOD"))
    writer = GroupCommit(engine)
    with statements(engine) as seen:
        _, (_, restarted) = await one_batch(
            writer,
            writer.merge(stops, stop("CP3", stopping, 2, id_tag="GOOD")),
            writer.merge(starts, start("CP4", "GOOD", meter=7)),
        )
    await writer.stop()
    assert restarted.status is Accepted, "the start did not see the stop of its batch"
    # Transactions, tags, stored starts, running tags and ids; the closes and the INSERT.
    assert [s.split()[0].upper() for s in seen] == ["SELECT", "WITH"], seen
    assert "nextval" in seen[0], seen
    rows = {r["id"]: r for r in await stored(engine, models.transactions)}
    assert (rows[stopping]["meter_stop"], rows[stopping]["stop_id_tag"]) == (2, "GOOD")

    writer = GroupCommit(engine)
    with statements(engine) as seen:
        [(_, concurrent)] = await one_batch(writer, writer.merge(starts, start("CP5", "GOOD")))
    await writer.stop()
    assert concurrent.status is ConcurrentTx
    # Tags, stored starts, running tags and ids from the sequence in one read; the INSERT.
    assert [s.split()[0].upper() for s in seen] == ["SELECT", "INSERT"], seen
    assert "ARRAY(SELECT ROW(q.*)" in seen[0] and "nextval" in seen[0], seen


async def test_on_sqlite_a_batch_of_stops_and_starts_is_one_call_to_its_thread(
    engine: AsyncEngine, writer: GroupCommit
) -> None:
    """Reads, writes and COMMIT in one call to aiosqlite's thread, not several per statement
    (and the pool's ROLLBACK when the connection goes back); the start sees the stop."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's thread")
    starts = stops = tx.Transactions(Settings())
    running = await started_alone(engine, writer, starts, start("CP1", "GOOD", meter=100))
    writer = GroupCommit(engine)
    data = [MeterValue(timestamp=T0, sampled_value=[SampledValue(value="150")])]
    heartbeat = Upsert(models.charge_points, ("id",), {"id": "CP4", "last_seen_at": T0})
    with statements(engine) as seen:
        _, _, (new, restarted), _ = await one_batch(
            writer,
            writer.merge(stops, stop("CP1", running, 200, id_tag="GOOD", transaction_data=data)),
            writer.merge(stops, stop("CP2", 987654, 5)),
            writer.merge(starts, start("CP4", "GOOD", meter=7, reservation_id=3)),
            writer.commit([], upserts=[heartbeat]),
        )
    await writer.stop()
    calls = [call for call in seen if "rollback" not in call]
    assert len(calls) == 1, seen
    assert restarted.status is Accepted, "the start did not see the stop of its batch"
    rows = await stored(engine, models.transactions)
    assert [(r["id"], r["meter_stop"], r["energy_wh"]) for r in rows] == [
        (running, 200, 100),
        (new, None, None),
    ]
    assert (rows[1]["started_at"], rows[1]["reservation_id"]) == (T0.replace(tzinfo=None), 3)
    assert len(await stored(engine, models.unmatched_stops)) == 1
    assert len(await stored(engine, models.meter_values)) == 1
    assert [r["last_seen_at"] for r in await stored(engine, models.charge_points)] == [
        T0.replace(tzinfo=None)
    ]


async def test_a_failing_batch_on_a_driver_writes_nothing_of_it(
    engine: AsyncEngine, writer: GroupCommit
) -> None:
    """The writes of a batch on a driver (PostgreSQL's, SQLite's thread) are one: a start's
    INSERT and a stop's close are undone when a row of their batch is refused, and the batch
    is then committed again in halves: the bad row's alone, the kinds' together."""
    starts = stops = tx.Transactions(Settings())
    running = await started_alone(engine, writer, starts, start("CP1", "GOOD", meter=100))
    bad_row = (models.messages, {"charge_point_id": "CP9", "direction": "in", "at": T0})
    for write in ("stop", "start"):
        writer = GroupCommit(engine)
        writer.plain_lane = False  # the bad row in the same batch as the kinds
        batches_before = writer.batches
        kinds = (
            [writer.merge(stops, stop("CP1", running, 200)), writer.merge(stops, stop("CP2", 9, 5))]
            if write == "stop"
            else [writer.merge(starts, start("CP2", "T2", meter=5))]
        )
        tasks = [asyncio.ensure_future(w) for w in [writer.commit([bad_row]), *kinds]]
        await asyncio.sleep(0)
        writer.start()
        refused, *applied = await asyncio.gather(*tasks, return_exceptions=True)
        await writer.stop()
        assert isinstance(refused, RuntimeError)
        assert not any(isinstance(result, BaseException) for result in applied)
        assert writer.batches == batches_before + 1, "the kinds' half not committed as one"
    rows = await stored(engine, models.transactions)
    assert [(r["charge_point_id"], r["meter_stop"]) for r in rows] == [("CP1", 200), ("CP2", None)]
    assert len(await stored(engine, models.unmatched_stops)) == 1


async def test_a_tag_with_many_transactions_never_stopped_is_read_as_one_row(
    engine: AsyncEngine,
) -> None:
    """A start reads whether its tag is running, not every transaction a charger never
    stopped; those the batch's stops name come back one by one (they may close), and those on
    the starts' chargers and connectors (they may be reconciled)."""
    lost = [
        {"charge_point_id": f"CP{n}", "connector_id": 1, "id_tag": "LOST",
         "start_status": "Accepted", "meter_start": n, "started_at": T0, "received_at": T0}
        for n in range(200)
    ]  # fmt: skip
    async with engine.begin() as connection:
        await connection.execute(models.transactions.insert(), lost)
    async with engine.connect() as connection:
        db = AlchemyDatabase(connection)
        none: list[Any] = []
        running = await db.fetch(tx._RUNNING, ["lost"], none, none, none)
        assert list(map(tuple, running)) == [("lost", None)]
        named = await db.fetch(tx._RUNNING, ["lost"], [3, 5], none, none)
        placed = await db.fetch(tx._RUNNING, ["lost"], none, ["CP7"], [1])
    assert sorted(map(tuple, named), key=str) == [("lost", 3), ("lost", 5), ("lost", None)]
    assert sorted(map(tuple, placed), key=str) == [("lost", 8), ("lost", None)]
    if engine.dialect.name == "postgresql":
        async with driver_connection(engine) as driver:
            rows = await DriverDatabase(driver).fetch(tx._RUNNING, ["lost"], none, ["CP7"], [1])
        assert sorted(map(tuple, rows), key=str) == [("lost", 8), ("lost", None)]
