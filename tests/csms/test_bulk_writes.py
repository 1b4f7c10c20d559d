"""A batch's rows and upserts in bulk (one statement on PostgreSQL, the driver's executemany
on SQLite): stored as SQLAlchemy would store them, inside the caller's transaction, or all or
nothing on their own (PostgreSQL: one statement with no transaction, `write_alone`; SQLite:
one call to its thread, `sqlite_batches`)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms import sqlite_batches
from ocppd.csms.bulk_writes import (
    BulkWrites,
    Upsert,
    driver_connection,
    in_one_call,
    insert_rows,
    write,
    write_alone,
)
from ocppd.csms.models import charge_points, connectors, messages, status_history

AT = datetime(2026, 11, 25, 12, 30, 15, 123456, tzinfo=UTC)


def frame(n: int, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "charge_point_id": f"CP{n}",
        "direction": "in",
        "message_type": 2,
        "action": "Heartbeat",
        "unique_id": str(n),
        "payload": f'[2,"{n}","Heartbeat",{{}}] é',
        "at": AT + timedelta(seconds=n),
    }
    row.update(extra)
    return row


async def test_rows_read_back_as_sqlalchemy_stores_them(engine: AsyncEngine) -> None:
    local = AT.astimezone(timezone(timedelta(hours=2)))
    rows = [frame(n) for n in range(3)] + [frame(3, action=None, unique_id=None, at=local)]
    async with engine.begin() as connection:
        await insert_rows(connection, messages, rows)
        await connection.execute(messages.insert(), rows)
    async with engine.connect() as connection:
        stored = (await connection.execute(sa.select(messages).order_by(messages.c.id))).all()
    assert [row.id for row in stored] == list(range(1, 9))
    ours, theirs = [row[1:] for row in stored[:4]], [row[1:] for row in stored[4:]]
    assert ours == theirs
    assert [row.payload for row in stored[:3]] == [r["payload"] for r in rows[:3]]
    assert (stored[3].action, stored[3].unique_id) == (None, None)
    times = [row.at.replace(tzinfo=row.at.tzinfo or UTC) for row in stored[:3]]
    assert times == [AT + timedelta(seconds=n) for n in range(3)]


async def test_rows_go_with_the_transaction(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as connection:
            await insert_rows(connection, messages, [frame(1)])
            raise RuntimeError("rolled back")
    async with engine.begin() as connection:
        await insert_rows(connection, messages, [frame(2)])
    async with engine.connect() as connection:
        ids = (await connection.execute(sa.select(messages.c.unique_id))).scalars().all()
    assert ids == ["2"]


async def test_a_bad_row_fails_the_insert(engine: AsyncEngine) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error type
        async with engine.begin() as connection:
            await insert_rows(connection, messages, [frame(1), frame(2, payload=None)])
    async with engine.connect() as connection:
        assert await connection.scalar(sa.select(sa.func.count()).select_from(messages)) == 0


async def test_a_table_with_defaults_gets_them(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await insert_rows(connection, charge_points, [{"id": "CP1"}])
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(charge_points))).one()
    assert (row.registration_status, row.leniency_rules) == ("Accepted", "")
    assert row.created_at is not None


def connector(n: int, status: str) -> Upsert:
    row = {"charge_point_id": "CP1", "connector_id": n, "status": status}
    return Upsert(
        connectors,
        ("charge_point_id", "connector_id"),
        {**row, "error_code": "NoError", "status_at": AT},
    )


def history(n: int, status: str) -> dict[str, object]:
    return {
        "charge_point_id": "CP1",
        "connector_id": n,
        "status": status,
        "error_code": "NoError",
        "timestamp": AT,
        "received_at": AT,
    }


def batch(*statuses: tuple[int, str]) -> BulkWrites:
    writes = BulkWrites()
    for n, (connector_id, status) in enumerate(statuses):
        writes.insert(messages, frame(n))
        writes.insert(status_history, history(connector_id, status))
        writes.upsert(connector(connector_id, status))
    return writes


async def written_alone(engine: AsyncEngine, writes: BulkWrites) -> bool:
    """`writes` committed on their own, as the group commit commits a batch of rows and
    upserts; False, with nothing written, where SQLAlchemy is needed."""
    if engine.dialect.name != "sqlite":
        if not writes.fits_one_statement(engine.dialect):
            return False
        async with driver_connection(engine) as driver:
            await write_alone(driver, writes)
        return True
    if not in_one_call(engine.dialect, writes):
        return False
    await sqlite_batches.commit_in_thread(engine, lambda db: db.write(writes))
    return True


async def stored(engine: AsyncEngine) -> tuple[int, int, dict[int, str]]:
    async with engine.connect() as connection:
        frames = await connection.scalar(sa.select(sa.func.count()).select_from(messages))
        statuses = await connection.scalar(sa.select(sa.func.count()).select_from(status_history))
        current = (
            await connection.execute(sa.select(connectors.c.connector_id, connectors.c.status))
        ).all()
    return int(frames or 0), int(statuses or 0), dict(current)  # type: ignore[arg-type]


async def test_rows_of_several_tables_and_upserts_in_one_write(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await write(connection, batch((1, "Preparing"), (2, "Available"), (1, "Charging")))
    assert await stored(engine) == (3, 3, {1: "Charging", 2: "Available"})
    async with engine.begin() as connection:
        await write(connection, batch((2, "Faulted")))
    assert await stored(engine) == (4, 4, {1: "Charging", 2: "Faulted"})


async def test_written_alone_on_both_databases(engine: AsyncEngine) -> None:
    """One statement on PostgreSQL; on SQLite one call to aiosqlite's thread (a private
    call of aiosqlite's: this fails if it changes)."""
    assert await written_alone(engine, batch((1, "Preparing"), (1, "Charging")))
    assert await stored(engine) == (2, 2, {1: "Charging"})
    assert await written_alone(engine, batch((2, "Faulted")))
    assert await stored(engine) == (3, 3, {1: "Charging", 2: "Faulted"})


async def test_written_alone_is_all_or_nothing(engine: AsyncEngine) -> None:
    writes = batch((1, "Preparing"))
    writes.insert(messages, frame(9, payload=None))  # NOT NULL
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error type
        await written_alone(engine, writes)
    assert await stored(engine) == (0, 0, {})
    assert await written_alone(engine, batch((1, "Available")))
    assert await stored(engine) == (1, 1, {1: "Available"})


async def test_an_upsert_written_alone_gets_the_server_defaults(engine: AsyncEngine) -> None:
    writes = BulkWrites()
    writes.upsert(Upsert(charge_points, ("id",), {"id": "CP1", "last_heartbeat_at": AT}))
    assert await written_alone(engine, writes)
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(charge_points))).mappings().one()
    assert (row["registration_status"], row["leniency_rules"]) == ("Accepted", "")
    assert row["created_at"] is not None


async def test_a_table_with_defaults_is_never_written_alone(engine: AsyncEngine) -> None:
    writes = BulkWrites()
    writes.insert(charge_points, {"id": "CP1"})
    assert not await written_alone(engine, writes)
    async with engine.begin() as connection:
        await write(connection, writes)
    async with engine.connect() as connection:
        assert (
            await connection.execute(sa.select(charge_points.c.registration_status))
        ).scalar() == "Accepted"


@pytest.mark.parametrize("alone", [False, True], ids=["in a transaction", "alone"])
async def test_awkward_values_read_back_exactly(engine: AsyncEngine, alone: bool) -> None:
    from ocppd.csms.models import meter_values

    text = (
        '[2,"x","DataTransfer",{"data":"\\"quoted\\" \\\\ back\\nslash \u2603 \U0001f600 \t{}[]"}]'
    )
    row = {
        "charge_point_id": "CP/é ☃",
        "connector_id": 2**31 - 1,
        "transaction_id": 2**63 - 1,
        "timestamp": AT,  # always UTC here (decision 0004): SQLite keeps no offset
        "value": "1e308",
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
        "context": "Sample.Periodic",
        "format": "Raw",
        "location": "Outlet",
        "phase": None,
    }
    writes = BulkWrites()
    writes.insert(messages, frame(1, payload=text, unique_id="'; drop table x; --"))
    writes.insert(meter_values, row)
    if alone:
        assert await written_alone(engine, writes)
    else:
        async with engine.begin() as connection:
            await write(connection, writes)
    async with engine.connect() as connection:
        [logged] = (await connection.execute(sa.select(messages))).mappings().all()
        [stored] = (await connection.execute(sa.select(meter_values))).mappings().all()
    assert (logged["payload"], logged["unique_id"]) == (text, "'; drop table x; --")
    assert {k: v for k, v in stored.items() if k not in ("id", "timestamp")} == {
        k: v for k, v in row.items() if k != "timestamp"
    }
    assert stored["timestamp"].replace(tzinfo=stored["timestamp"].tzinfo or UTC) == AT


@pytest.mark.parametrize("alone", [False, True], ids=["in a transaction", "alone"])
async def test_a_sampled_value_stored_already_is_ignored(engine: AsyncEngine, alone: bool) -> None:
    """Meter values are insert-or-ignore by their natural key (issue 17, 7), in each write
    path: SQLAlchemy's connection (`write`, `insert_rows`) and on their own (PostgreSQL's one
    statement, SQLite's thread); a NULL transaction or phase is part of the key."""
    from ocppd.csms.models import meter_values

    sample = {"charge_point_id": "CP1", "connector_id": 1, "transaction_id": None,
              "timestamp": AT, "value": "1", "measurand": "Energy.Active.Import.Register",
              "unit": "Wh", "context": "Sample.Periodic", "format": "Raw", "location": "Outlet",
              "phase": None}  # fmt: skip
    others = [{**sample, "transaction_id": 3}, {**sample, "phase": "L1"}]
    for _ in range(2):  # the second time, everything is stored already
        writes = BulkWrites()
        for row in [sample, {**sample, "value": "2"}, *others]:
            writes.insert(meter_values, row)
        if alone:
            assert await written_alone(engine, writes)
        else:
            async with engine.begin() as connection:
                await write(connection, writes)
                await insert_rows(connection, meter_values, [sample, *others])
    async with engine.connect() as connection:
        values = await connection.scalars(sa.select(meter_values.c.value))
        assert sorted(values) == ["1", "1", "1"]
