"""A batch on SQLite in one call to the driver's thread: the queries as SQLAlchemy would run
them, and a write that waits for anything but the database fails its batch, loudly."""

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms import id_tags, models
from ocppd.csms import transactions as tx
from ocppd.csms.batch_database import AlchemyDatabase, Database, Query
from ocppd.csms.group_commit import GroupCommit, Rows
from ocppd.csms.sqlite_batches import commit_in_thread, run_to_end
from tests.databases import engine_for

T0 = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async for engine in engine_for("sqlite", tmp_path):
        yield engine


async def test_a_coroutine_that_never_waits_runs_to_its_end_without_a_loop() -> None:
    async def answer() -> int:
        return 42

    async def waits() -> None:
        await asyncio.sleep(0)

    assert run_to_end(answer()) == 42
    with pytest.raises(RuntimeError, match="waited for something"):
        run_to_end(waits())


async def test_reads_give_what_sqlalchemy_gives(sqlite: AsyncEngine) -> None:
    """Every query of the merged kinds, with lists of one, several and no values, and with
    timestamps: the same rows, with the same types, on the thread as through SQLAlchemy."""
    async with sqlite.begin() as connection:
        await connection.execute(
            models.id_tags.insert(),
            [
                {
                    "id_tag": "A",
                    "id_tag_key": "a",
                    "status": "Accepted",
                    "expiry_date": T0,
                    "parent_id_tag": None,
                },
                {
                    "id_tag": "B",
                    "id_tag_key": "b",
                    "status": "Blocked",
                    "expiry_date": None,
                    "parent_id_tag": "P",
                },
            ],
        )
        await connection.execute(
            models.transactions.insert(),
            [
                {"charge_point_id": "CP1", "connector_id": 1, "id_tag": "A",
                 "start_status": "Accepted", "meter_start": 5, "started_at": T0,
                 "received_at": T0, "stopped_at": None},
                {"charge_point_id": "CP2", "connector_id": 2, "id_tag": "b",
                 "start_status": "Accepted", "meter_start": 2**62, "started_at": T0,
                 "received_at": T0, "stopped_at": T0},
            ],
        )  # fmt: skip
    cases: list[tuple[Query, tuple[Any, ...]]] = [
        (id_tags._LOAD_TAGS, (["a", "b", "c"],)),
        (id_tags._LOAD_TAGS, (["b"],)),
        (id_tags._LOAD_TAGS, ([],)),
        (tx._RUNNING, (["a", "b"], [], [], [])),
        (tx._RUNNING, (["a", "b"], [1, 7], [], [])),
        (tx._RUNNING, (["a", "b"], [], ["CP1"], [1, 2])),
        (tx._OPEN_ON_CONNECTORS, ([("CP1", 1), ("CP2", 2), ("CP3", 1)],)),
        (tx._GROUP_MEMBERS, (["p"],)),
        (tx._OPEN_TRANSACTIONS, ([1, 2, 3],)),
        (tx._STORED_STARTS, ([("CP1", 1, 5, T0), ("CP2", 2, 2**62, T0), ("CP1", 2, 5, T0)],)),
        (tx._STORED_STARTS, ([],)),
    ]
    for query, arguments in cases:
        async with sqlite.connect() as connection:
            expected = [
                tuple(row) for row in await AlchemyDatabase(connection).fetch(query, *arguments)
            ]

        async def read(db: Database, query: Query = query, arguments: Any = arguments) -> Any:
            return await db.fetch(query, *arguments)

        assert await commit_in_thread(sqlite, read) == expected, query.postgresql
        assert expected or arguments == ([],), "a case that finds nothing proves little"


class Waits:
    """A merged kind that waits for something other than the database."""

    order = 0
    on_driver = True

    async def apply(self, db: Database, items: list[Any]) -> tuple[list[Any], Rows]:
        await asyncio.sleep(0)
        return [None] * len(items), []


async def test_a_kind_that_waits_in_the_thread_fails_alone_and_writes_nothing(
    sqlite: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    writer = GroupCommit(sqlite)
    row = (models.status_history, {"charge_point_id": "CP1", "connector_id": 1,
                                   "status": "Available", "error_code": "NoError",
                                   "timestamp": T0, "received_at": T0})  # fmt: skip
    tasks = [
        asyncio.ensure_future(writer.merge(Waits(), "x")),
        asyncio.ensure_future(writer.commit([row])),
    ]
    await asyncio.sleep(0)
    writer.start()
    with caplog.at_level(logging.ERROR):
        waited, written = await asyncio.gather(*tasks, return_exceptions=True)
    await writer.stop()
    assert isinstance(waited, RuntimeError) and written is None
    assert "waited for something in SQLite's thread" in caplog.text
    async with sqlite.connect() as connection:
        count = await connection.scalar(
            sa.select(sa.func.count()).select_from(models.status_history)
        )
    assert count == 1, "the row of the other write, retried alone"
