"""PostgreSQL's driver as the merged kinds see it (`DriverDatabase`): a write that returns rows
opens the batch's transaction, which the batch's end commits or its failure rolls back."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms import models
from ocppd.csms import transactions as tx
from ocppd.csms.batch_database import AlchemyDatabase, DriverDatabase, Read
from ocppd.csms.bulk_writes import driver_connection
from tests.databases import engine_for

T0 = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


@pytest.fixture
async def postgresql(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async for engine in engine_for("postgresql", tmp_path):
        yield engine


def start_row(charge_point_id: str, meter_start: int) -> dict[str, Any]:
    return {
        "charge_point_id": charge_point_id,
        "connector_id": 1,
        "id_tag": "TAG\x00",  # returned as stored: U+FFFD
        "start_status": "Accepted",
        "meter_start": meter_start,
        "started_at": T0,
        "reservation_id": None,
        "received_at": T0,
    }


async def stored_starts(engine: AsyncEngine) -> list[tuple[int, str]]:
    async with engine.connect() as connection:
        t = models.transactions.c
        rows = await connection.execute(sa.select(t.id, t.charge_point_id).order_by(t.id))
        return [(row.id, row.charge_point_id) for row in rows]


async def test_a_write_that_returns_rows_is_committed_with_the_batch(
    postgresql: AsyncEngine,
) -> None:
    async with driver_connection(postgresql) as driver:
        db = DriverDatabase(driver)
        returned = await db.write_rows(
            tx._INSERT_RETURNING, [start_row("CP1", 10), start_row("CP2", 20)]
        )
        assert db.transaction is not None, "the batch's writes after this one are in it"
        await db.write_rows(tx._CLOSE, [{"id": returned[0][0], "meter_stop": 15}])
        assert await stored_starts(postgresql) == [], "nothing visible before the batch ends"
        await db.finish()
    assert sorted((cp, tag, meter) for _, cp, _, tag, meter, _ in returned) == [
        ("CP1", "TAG\ufffd", 10),
        ("CP2", "TAG\ufffd", 20),
    ]
    assert await stored_starts(postgresql) == sorted((row[0], row[1]) for row in returned)
    async with postgresql.connect() as connection:
        stopped = await connection.scalar(
            sa.select(models.transactions.c.meter_stop).where(
                models.transactions.c.id == returned[0][0]
            )
        )
    assert stopped == 15


async def test_a_failed_batch_leaves_nothing_of_a_write_that_returned_rows(
    postgresql: AsyncEngine,
) -> None:
    async with driver_connection(postgresql) as driver:
        db = DriverDatabase(driver)
        assert len(await db.write_rows(tx._INSERT_RETURNING, [start_row("CP1", 10)])) == 1
        await db.abort()
    assert await stored_starts(postgresql) == []


async def test_a_per_row_read_matches_whole_rows_as_sqlalchemy_does(
    postgresql: AsyncEngine,
) -> None:
    """The stored starts are looked up by identity, not by any mix of its columns' values: a
    start of CP1 with CP2's meter reading is not found."""
    async with postgresql.begin() as connection:
        await connection.execute(
            models.transactions.insert(), [start_row("CP1", 10), start_row("CP2", 20)]
        )
    wanted = [("CP1", 1, 10, T0), ("CP1", 1, 20, T0), ("CP3", 1, 10, T0)]
    async with postgresql.connect() as connection:
        expected = sorted(
            tuple(row) for row in await AlchemyDatabase(connection).fetch(tx._STORED_STARTS, wanted)
        )
    assert [(row[2], row[4]) for row in expected] == [("CP1", 10)]
    async with driver_connection(postgresql) as driver:
        db = DriverDatabase(driver)
        alone = await db.fetch(tx._STORED_STARTS, wanted)
        combined, nothing, open_ = await db.fetch_each(
            [
                Read(tx._STORED_STARTS, (wanted,)),
                Read(tx._STORED_STARTS, ([],)),
                Read(tx._OPEN_TRANSACTIONS, ([row[0] for row in expected],)),
            ]
        )
    assert sorted(tuple(row) for row in alone) == expected
    assert sorted(tuple(row) for row in combined) == expected
    assert list(nothing) == [] and len(open_) == 1
