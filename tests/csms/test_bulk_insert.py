"""Bulk rows (COPY on PostgreSQL, the driver's executemany on SQLite): stored as SQLAlchemy
would store them, and inside the caller's transaction."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms.bulk_insert import insert_rows
from ocppd.csms.models import charge_points, messages

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
