import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ocppd.csms.group_commit import GroupCommit
from ocppd.csms.models import id_tags, messages
from tests.databases import POSTGRES_URL

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def log_row(n: int) -> tuple[sa.Table, dict[str, Any]]:
    return messages, {
        "charge_point_id": "CP1",
        "direction": "in",
        "message_type": 2,
        "action": "Heartbeat",
        "unique_id": str(n),
        "payload": "{}",
        "at": NOW,
    }


async def count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_concurrent_writes_share_commits_and_all_land(engine: AsyncEngine) -> None:
    writer = GroupCommit(engine)
    writer.start()
    await asyncio.gather(*(writer.commit([log_row(n)]) for n in range(500)))
    await writer.stop()
    assert await count(engine, messages) == 500
    assert writer.writes == 500
    assert writer.batches < 500 / 5, "writes were not grouped"


async def test_action_result_is_returned_after_commit(engine: AsyncEngine) -> None:
    writer = GroupCommit(engine)
    writer.start()

    async def insert_tag(connection: AsyncConnection) -> str:
        await connection.execute(
            id_tags.insert().values(id_tag="ABC", id_tag_key="abc", status="Accepted")
        )
        return "inserted"

    assert await writer.commit([log_row(1)], insert_tag) == "inserted"
    # Committed: another connection sees it.
    assert await count(engine, id_tags) == 1
    await writer.stop()


async def test_a_failing_write_fails_alone(engine: AsyncEngine) -> None:
    writer = GroupCommit(engine)
    writer.start()

    async def duplicate(connection: AsyncConnection) -> None:
        row = {"id_tag": "DUP", "id_tag_key": "dup", "status": "Accepted"}
        await connection.execute(id_tags.insert().values(**row))
        await connection.execute(id_tags.insert().values(**row))

    results = await asyncio.gather(
        *(writer.commit([log_row(n)]) for n in range(20)),
        writer.commit([], duplicate),
        *(writer.commit([log_row(n)]) for n in range(20, 40)),
        return_exceptions=True,
    )
    await writer.stop()
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1
    assert await count(engine, messages) == 40
    assert await count(engine, id_tags) == 0


async def test_stop_commits_what_is_queued(engine: AsyncEngine) -> None:
    writer = GroupCommit(engine)
    writer.start()
    for n in range(50):
        writer.insert_later([log_row(n)])
    await writer.stop()
    assert await count(engine, messages) == 50


@pytest.mark.parametrize("size", [1])
async def test_single_write_at_rest_is_committed_promptly(engine: AsyncEngine, size: int) -> None:
    writer = GroupCommit(engine)
    writer.start()
    await asyncio.wait_for(writer.commit([log_row(n) for n in range(size)]), 5)
    await writer.stop()
    assert writer.batches == 1


async def test_upserts_of_a_batch_go_together_and_the_latest_wins(engine: AsyncEngine) -> None:
    from ocppd.csms.bulk_writes import Upsert
    from ocppd.csms.models import connectors

    writer = GroupCommit(engine)
    writer.start()

    def status(connector: int, value: str) -> Upsert:
        row = {
            "charge_point_id": "CP1",
            "connector_id": connector,
            "status": value,
            "error_code": "NoError",
            "status_at": NOW,
        }
        return Upsert(connectors, ("charge_point_id", "connector_id"), row)

    await asyncio.gather(
        writer.commit([], upserts=[status(1, "Available")]),
        writer.commit([], upserts=[status(1, "Charging"), status(2, "Faulted")]),
    )
    await writer.commit([], upserts=[status(2, "Available")])
    await writer.stop()
    async with engine.connect() as connection:
        rows = (
            await connection.execute(sa.select(connectors.c.connector_id, connectors.c.status))
        ).all()
    assert sorted(rows) == [(1, "Charging"), (2, "Available")]


async def test_overlapping_batches_all_land(engine: AsyncEngine) -> None:
    writer = GroupCommit(engine, in_flight=1 if engine.dialect.name == "sqlite" else 4)
    writer.start()
    await asyncio.gather(*(writer.commit([log_row(n)]) for n in range(300)))
    await writer.stop()
    assert await count(engine, messages) == 300


async def test_plain_writes_commit_beside_a_batch_that_reads_on_postgresql(
    engine: AsyncEngine,
) -> None:
    """On PostgreSQL rows and upserts do not wait for a batch with an action (or starts and
    stops) to commit: they have a lane of their own. SQLite has one writer: they wait."""
    writer = GroupCommit(engine)
    writer.later_delay = 60.0
    writer.start()
    committing, release = asyncio.Event(), asyncio.Event()

    async def hold(_: AsyncConnection) -> None:
        committing.set()
        await release.wait()

    held = asyncio.ensure_future(writer.commit([log_row(1)], hold))
    await asyncio.wait_for(committing.wait(), 5)
    plain = asyncio.ensure_future(writer.commit([log_row(2)]))
    writer.insert_later([log_row(3)])
    try:
        done, _ = await asyncio.wait({plain}, timeout=1.0)
        if engine.dialect.name == "postgresql":
            assert done == {plain}, "a plain write waited for the batch that reads"
            assert await count(engine, messages) == 2, "the waiting rows did not ride along"
        else:
            assert not done
            assert writer.queued() == 1
    finally:
        release.set()
        await asyncio.gather(held, plain)
    await writer.stop()
    assert await count(engine, messages) == 3


async def test_rows_nobody_waits_for_ride_with_the_next_commit(engine: AsyncEngine) -> None:
    writer = GroupCommit(engine)
    writer.later_delay = 60.0  # only the next commit can take them
    writer.start()
    writer.insert_later([log_row(1)])
    writer.insert_later([log_row(2)])
    await asyncio.sleep(0.05)
    assert await count(engine, messages) == 0
    await writer.commit([log_row(3)])
    assert await count(engine, messages) == 3
    assert writer.batches == 1, "the waiting rows did not share the commit"
    await writer.stop()


async def test_rows_nobody_waits_for_are_committed_after_the_delay(engine: AsyncEngine) -> None:
    writer = GroupCommit(engine)
    writer.later_delay = 0.05
    writer.start()
    writer.insert_later([log_row(1)])
    for _ in range(100):
        if await count(engine, messages) == 1:
            break
        await asyncio.sleep(0.02)
    assert await count(engine, messages) == 1
    writer.insert_later([log_row(2)])
    await writer.stop()  # stop commits what waits, without waiting for the delay
    assert await count(engine, messages) == 2


async def test_connections_the_database_dropped_are_replaced(engine: AsyncEngine) -> None:
    """PostgreSQL restarted, or its pooled connections were killed: a batch that finds its
    connection dead is retried once on another, on every path (a plain batch, starts on the
    driver, an action through SQLAlchemy), and no write is refused for it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's connections")
    from ocppd.csms import transactions as tx
    from ocppd.csms.settings import Settings
    from ocppd.protocol import messages as m

    def start(n: int) -> tx.Start:
        request = m.StartTransactionRequest(
            connector_id=1, id_tag=f"T{n}", meter_start=n, timestamp=NOW
        )
        return tx.Start(f"CP{n}", request, NOW)

    async def count_tags(connection: AsyncConnection) -> int:
        return int(await connection.scalar(sa.select(sa.func.count()).select_from(id_tags)) or 0)

    starts = tx.Transactions(Settings())
    writer = GroupCommit(engine)
    writer.start()
    # Several pooled connections, all in use once.
    await asyncio.gather(
        writer.commit([log_row(0)]), writer.merge(starts, start(0)), writer.commit([], count_tags)
    )
    # The pool's connections (the batch above used one), killed from outside the pool.
    async with engine.connect() as a, engine.connect() as b:
        pids = [await a.scalar(sa.text("SELECT pg_backend_pid()")) for a in (a, b)]
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        for pid in pids:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    refused = 0
    for n in range(1, 30):
        for write in (
            writer.commit([log_row(n)]),
            writer.merge(starts, start(n)),
            writer.commit([], count_tags),
        ):
            try:
                await write
            except RuntimeError:  # refused: on a connection found dead
                refused += 1
    assert refused == 0, "writes were refused for a connection the database had dropped"
    # Every path works again.
    await writer.commit([log_row(100)])
    transaction_id, _ = await writer.merge(starts, start(100))
    assert await writer.commit([], count_tags) == 0
    await writer.stop()
    async with engine.connect() as connection:
        stored = await connection.scalar(
            sa.select(sa.func.count()).select_from(messages).where(messages.c.unique_id == "100")
        )
    assert stored == 1 and transaction_id > 0


async def test_a_write_whose_caller_gave_up_is_not_committed_later(engine: AsyncEngine) -> None:
    """A batch that never ends (here an action that waits) holds the lane past the timeout: the
    writes queued behind it are answered DatabaseUnavailable at their own deadline, whatever
    the batch does, and are not committed once the lane moves on (their chargers send them
    again); the lane then commits new writes."""
    from ocppd.csms.commit_deadline import DatabaseUnavailable

    writer = GroupCommit(engine, timeout=0.5)
    writer.start()
    committing, release = asyncio.Event(), asyncio.Event()

    async def hold(_: AsyncConnection) -> None:
        committing.set()
        await release.wait()

    held = asyncio.ensure_future(writer.commit([log_row(1)], hold))
    await asyncio.wait_for(committing.wait(), 5)
    behind = asyncio.ensure_future(writer.commit([log_row(2)], hold))
    with pytest.raises(DatabaseUnavailable):
        await asyncio.wait_for(behind, 10)
    with pytest.raises(DatabaseUnavailable):
        await asyncio.wait_for(held, 10)
    release.set()
    await writer.commit([log_row(3)])
    await writer.stop()
    async with engine.connect() as connection:
        stored = set(await connection.scalars(sa.select(messages.c.unique_id)))
    assert "2" not in stored and "3" in stored
