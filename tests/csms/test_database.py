import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms.database import (
    LockBusy,
    advisory_lock,
    alembic_config,
    async_url,
    create_engine,
    upgrade,
)
from ocppd.csms.models import metadata
from tests.databases import engine_for


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """Migrated here, from an empty database: these tests are about the migrations (the other
    tests get a copy of a database migrated once)."""
    async for created in engine_for(request.param, tmp_path, from_scratch=True):
        yield created


async def test_migrations_create_exactly_the_declared_schema(engine: AsyncEngine) -> None:
    def differences(connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_upgrade_twice_is_harmless(engine: AsyncEngine) -> None:
    await upgrade(engine)
    async with engine.connect() as connection:
        version = await connection.scalar(sa.text("select version_num from alembic_version"))
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_urls_users_type_get_async_drivers() -> None:
    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("sqlite:///data/x.db") == "sqlite+aiosqlite:///data/x.db"
    assert async_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


async def test_the_old_job_states_become_ended_jobs_with_their_status(engine: AsyncEngine) -> None:
    """Migration 0007: what the `jobs` table of 0001 said is kept, as history."""
    from datetime import UTC, datetime

    from alembic import command

    from ocppd.csms.models import job_statuses, jobs

    at = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0006"))
        await connection.execute(
            sa.text(
                "INSERT INTO jobs (charge_point_id, kind, status, updated_at) "
                "VALUES ('CP1', 'firmware', 'Downloading', :at), ('CP2', 'diagnostics', "
                "'Uploaded', :at)"
            ),
            {"at": at},
        )
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
        rows = (await connection.execute(sa.select(jobs).order_by(jobs.c.id))).mappings().all()
        history = (await connection.execute(sa.select(job_statuses))).mappings().all()
    assert [(r["charge_point_id"], r["kind"], r["status"]) for r in rows] == [
        ("CP1", "firmware", "Downloading"),
        ("CP2", "diagnostics", "Uploaded"),
    ]
    assert all(r["ended_at"] is not None and r["token_hash"] is None for r in rows)
    assert sorted((h["job_id"], h["status"]) for h in history) == [
        (rows[0]["id"], "Downloading"),
        (rows[1]["id"], "Uploaded"),
    ]


def _description(connection: sa.Connection) -> dict[str, object]:
    """The schema as the database describes it (SQLite: the DDL it keeps; PostgreSQL: its
    catalogs, index definitions included), its tables, and the migration it is at."""
    inspector = sa.inspect(connection)
    names = sorted(inspector.get_table_names())
    if connection.dialect.name == "sqlite":
        schema = connection.execute(sa.text("select type, name, sql from sqlite_master order by 2"))
        described: object = schema.all()
    else:
        indexes = connection.execute(
            sa.text(
                "select indexname, replace(indexdef, current_schema() || '.', '') from pg_indexes"
                " where schemaname = current_schema() order by 1"
            )
        )
        described = (repr([_table(inspector, name) for name in names]), indexes.all())
    version = connection.execute(sa.text("select version_num from alembic_version")).all()
    return {"tables": names, "schema": described, "version": version}


def _table(inspector: sa.Inspector, name: str) -> tuple[object, ...]:
    return (
        name,
        inspector.get_columns(name),
        inspector.get_pk_constraint(name),
        inspector.get_foreign_keys(name),
        inspector.get_unique_constraints(name),
        inspector.get_check_constraints(name),
    )


async def test_a_tests_copy_of_the_migrated_database_is_the_migrated_database(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """What the other tests get (`tests/databases.py`): a copy of a database migrated once."""
    (tmp_path / "copy").mkdir()
    async for copy in engine_for(engine.dialect.name, tmp_path / "copy"):
        async with copy.connect() as connection:
            copied = await connection.run_sync(_description)
    async with engine.connect() as connection:
        migrated = await connection.run_sync(_description)
    assert copied == migrated
    assert set(metadata.tables) < set(migrated["tables"])  # and alembic_version


async def test_meter_values_stored_twice_are_kept_once(engine: AsyncEngine) -> None:
    """Migration 0012: of sampled values stored twice (the same natural key, NULLs included)
    the first stays; values that differ in any part of the key all stay."""
    from datetime import UTC, datetime

    from alembic import command

    from ocppd.csms.models import meter_values

    at = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    sample = {
        "charge_point_id": "CP1", "connector_id": 1, "transaction_id": None, "timestamp": at,
        "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic",
        "format": "Raw", "location": "Outlet", "phase": None,
    }  # fmt: skip
    rows = [
        {**sample, "value": "1"},
        {**sample, "value": "2"},  # a retransmission: gone
        {**sample, "value": "3", "transaction_id": 5},
        {**sample, "value": "4", "transaction_id": 5},  # gone
        {**sample, "value": "5", "phase": "L1"},
        {**sample, "value": "6", "phase": "L1"},  # gone
        {**sample, "value": "7", "connector_id": 2},
        {**sample, "value": "8", "context": "Sample.Clock"},
        {**sample, "value": "9", "location": "Inlet"},
        {**sample, "value": "10", "measurand": "Power.Active.Import"},
        {**sample, "value": "11", "charge_point_id": "CP2"},
    ]
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0011"))
        await connection.execute(meter_values.insert(), rows)
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
        kept = await connection.scalars(sa.select(meter_values.c.value).order_by(meter_values.c.id))
        assert list(kept) == ["1", "3", "5", "7", "8", "9", "10", "11"]
        with pytest.raises(sa.exc.IntegrityError):  # and the key holds from now on
            async with connection.begin_nested():
                await connection.execute(meter_values.insert(), rows[1])


async def test_firmware_uploaded_twice_becomes_one_image(engine: AsyncEngine) -> None:
    """Migration 0014: images with the same SHA-256 become the first of them; the jobs of the
    others refer to it; the hash is unique from then on."""
    from datetime import UTC, datetime

    from alembic import command

    from ocppd.csms.models import firmware, jobs

    at = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    image = {"size": 3, "uploaded_at": at}
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0013"))
        await connection.execute(
            firmware.insert(),
            [
                {**image, "id": 1, "name": "a.bin", "sha256": "aa"},
                {**image, "id": 2, "name": "b.bin", "sha256": "bb"},
                {**image, "id": 3, "name": "a-again.bin", "sha256": "aa"},
                {**image, "id": 4, "name": "a-third.bin", "sha256": "aa"},
            ],
        )
        job = {"charge_point_id": "CP1", "kind": "firmware", "status": "Installed"}
        await connection.execute(
            jobs.insert(),
            [
                {**job, "id": 10, "firmware_id": 3, "created_at": at, "updated_at": at},
                {**job, "id": 11, "firmware_id": 2, "created_at": at, "updated_at": at},
                {**job, "id": 12, "firmware_id": 99, "created_at": at, "updated_at": at},
                {**job, "id": 13, "firmware_id": None, "kind": "diagnostics",
                 "created_at": at, "updated_at": at},
            ],
        )  # fmt: skip
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
        images = (await connection.execute(sa.select(firmware.c.id, firmware.c.name))).all()
        assert sorted(images) == [(1, "a.bin"), (2, "b.bin")]
        refs = await connection.execute(sa.select(jobs.c.id, jobs.c.firmware_id))
        assert sorted(refs.all()) == [(10, 1), (11, 2), (12, 99), (13, None)]
        with pytest.raises(sa.exc.IntegrityError):
            async with connection.begin_nested():
                await connection.execute(
                    firmware.insert(), {**image, "name": "c.bin", "sha256": "bb"}
                )


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_database_work_is_bounded_by_the_timeout(kind: str, tmp_path: Path) -> None:
    """`--database-timeout` on the connections themselves: PostgreSQL cancels a longer
    statement and ends a transaction left idle, the kernel probes a silent connection and
    drops one whose sent data goes unacknowledged; SQLite waits for a lock at most that long."""
    import socket

    from ocppd.csms import bulk_writes

    async for engine in engine_for(kind, tmp_path, timeout=2.5):
        async with engine.connect() as connection:
            driver = await bulk_writes.driver_of(connection)
            if kind == "sqlite":
                busy = await connection.exec_driver_sql("PRAGMA busy_timeout")
                assert busy.scalar() == 2500
            else:
                assert await driver.fetchval("SHOW statement_timeout") == "2500ms"
                idle = await driver.fetchval("SHOW idle_in_transaction_session_timeout")
                assert idle == "1min"
                raw = driver._transport.get_extra_info("socket")
                assert raw.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 2500
                with pytest.raises(Exception, match="statement timeout"):
                    await driver.execute("SELECT pg_sleep(10)")


async def test_unmatched_stops_stored_twice_are_kept_once(engine: AsyncEngine) -> None:
    """Migration 0015: of unmatched stops stored twice (the same charger, transaction,
    timestamp and meterStop, an unknown meterStop included) the first stays; stops that differ
    in any part of the key all stay."""
    from datetime import UTC, datetime

    from alembic import command

    from ocppd.csms.models import unmatched_stops

    at = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    stop = {"charge_point_id": "CP1", "transaction_id": 7, "meter_stop": 1200,
            "stopped_at": at, "received_at": at}  # fmt: skip
    rows = [
        {**stop, "stop_reason": "1"},
        {**stop, "stop_reason": "2"},  # a retransmission: gone
        {**stop, "stop_reason": "3", "meter_stop": None},
        {**stop, "stop_reason": "4", "meter_stop": None},  # gone
        {**stop, "stop_reason": "5", "meter_stop": 1300},
        {**stop, "stop_reason": "6", "transaction_id": 8},
        {**stop, "stop_reason": "7", "charge_point_id": "CP2"},
        {**stop, "stop_reason": "8", "stopped_at": datetime(2026, 11, 1, 8, 31, tzinfo=UTC)},
    ]
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0014"))
        await connection.execute(unmatched_stops.insert(), rows)
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
        c = unmatched_stops.c
        kept = await connection.scalars(sa.select(c.stop_reason).order_by(c.id))
        assert list(kept) == ["1", "3", "5", "6", "7", "8"]
        with pytest.raises(sa.exc.IntegrityError):  # and the key holds from now on
            async with connection.begin_nested():
                await connection.execute(unmatched_stops.insert(), rows[1])


async def test_nodes_starting_together_migrate_once(empty_postgres_database: str) -> None:
    """Nodes of a cluster start together on one database: one migrates, the others wait for it
    and find nothing left to do (without the lock they all create the tables and fail)."""
    engines = [create_engine(empty_postgres_database) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        async with engines[0].connect() as db:
            versions = (await db.execute(sa.text("select version_num from alembic_version"))).all()
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert versions == [(head,)]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_an_advisory_lock_is_one_holder_at_a_time_and_never_left_behind(
    empty_postgres_database: str,
) -> None:
    """Held by one connection of one engine (one node); another node waits for it, gives up
    past its wait (LockBusy), and a waiter that was cancelled leaves no lock behind."""
    holder, other = create_engine(empty_postgres_database), create_engine(empty_postgres_database)
    try:
        async with advisory_lock(holder, "local-list:CP1", wait=30):
            with pytest.raises(LockBusy, match="local-list:CP1"):
                async with advisory_lock(other, "local-list:CP1", wait=0.2):
                    pytest.fail("two holders")
            async with advisory_lock(other, "local-list:CP2", wait=30):
                pass  # another name: not held
            waiter = asyncio.create_task(_hold(other, "local-list:CP1"))
            await asyncio.sleep(0.2)
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
        async with advisory_lock(other, "local-list:CP1", wait=30):
            with pytest.raises(LockBusy):
                async with advisory_lock(holder, "local-list:CP1", wait=0.2):
                    pytest.fail("two holders")
        async with advisory_lock(holder, "local-list:CP1", wait=30):
            pass  # released by its holder, not kept by the cancelled waiter's connection
    finally:
        await holder.dispose()
        await other.dispose()


async def _hold(engine: AsyncEngine, name: str) -> None:
    async with advisory_lock(engine, name, wait=30):
        await asyncio.sleep(3600)
