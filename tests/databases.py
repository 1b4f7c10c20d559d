"""The databases persistence tests run against: SQLite (a file) and the real PostgreSQL.

PostgreSQL is reached at OCPPD_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test).
Where no server answers, those tests skip with a message, except under CI (CI=true), where they
fail.

Each test gets a database of its own, a copy of one that the real migrations built once per
test process (running all of them took most of a persistence test's set-up): SQLite copies the
migrated file; on PostgreSQL each test has a schema of its own, made by replaying `pg_dump`'s
dump of the migrated schema (tables, indexes, sequences, the `alembic_version` row), renamed.
Without a usable `pg_dump` each test migrates its schema instead. The migration tests
(`tests/csms/test_database.py`) migrate an empty database themselves (`from_scratch`).
"""

import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ocppd.csms.database import async_url, create_engine, upgrade
from ocppd.csms.settings import DATABASE_TIMEOUT

POSTGRES_URL = os.environ.get("OCPPD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


async def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    engine = create_async_engine(async_url(POSTGRES_URL))
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("select 1"))
    except Exception as exc:  # any failure to connect means: not available
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()
    return None


class _Templates:
    """The migrated databases of this test process, made on first use."""

    def __init__(self) -> None:
        self.directory: Path | None = None
        self.sqlite: Path | None = None
        self.schema = f"ocppd_template_{secrets.token_hex(6)}"
        """Migrated once on PostgreSQL; its random name is what a copy renames."""
        self.dump: str | None = None
        """`pg_dump` of `schema`, without psql's meta-commands; "" when unusable."""
        self.postgres_problem: str | None = None
        self.postgres_checked = False

    async def sqlite_file(self) -> Path:
        if self.sqlite is None:
            self.directory = Path(tempfile.mkdtemp(prefix="ocppd-template-"))
            path = self.directory / "migrated.db"
            engine = create_engine(f"sqlite:///{path}")
            await upgrade(engine)
            await engine.dispose()  # the last connection checkpoints the WAL into the file
            self.sqlite = path
        return self.sqlite

    async def postgres_dump(self) -> str:
        if self.dump is None:
            await administer(f'create schema "{self.schema}"')
            engine = create_engine(POSTGRES_URL, search_path=self.schema)
            await upgrade(engine)
            await engine.dispose()
            self.dump = await asyncio.to_thread(_dump_schema, self.schema)
        return self.dump

    async def postgres_unavailable(self) -> str | None:
        if not self.postgres_checked:
            self.postgres_problem = await postgres_available()
            self.postgres_checked = True
        return self.postgres_problem

    def drop(self) -> None:
        """At the end of the test session."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        if self.dump is not None:
            asyncio.run(administer(f'drop schema if exists "{self.schema}" cascade'))


TEMPLATES = _Templates()


async def engine_for(
    kind: str, tmp_path: Path, *, from_scratch: bool = False, timeout: float = DATABASE_TIMEOUT
) -> AsyncIterator[AsyncEngine]:
    """A migrated database of `kind` for one test; `from_scratch`: migrated by this call;
    `timeout`: the engine's bound on database work (`--database-timeout`)."""
    if kind == "sqlite":
        path = tmp_path / "ocppd.db"
        if not from_scratch:
            shutil.copyfile(await TEMPLATES.sqlite_file(), path)
        engine = create_engine(f"sqlite:///{path}", timeout=timeout)
        if from_scratch:
            await upgrade(engine)
        yield engine
        await engine.dispose()
        return
    await require_postgres()
    schema = f"t_{secrets.token_hex(6)}"
    dump = "" if from_scratch else await TEMPLATES.postgres_dump()
    if dump:
        await administer(dump.replace(TEMPLATES.schema, schema))
    else:
        await administer(f'create schema "{schema}"')
    engine = create_engine(POSTGRES_URL, search_path=schema, timeout=timeout)
    try:
        if not dump:
            await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        await administer(f'drop schema "{schema}" cascade')


async def require_postgres() -> None:
    """Skips the test when PostgreSQL does not answer, or fails it under CI."""
    problem = await TEMPLATES.postgres_unavailable()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")


@pytest.fixture
async def empty_postgres_database() -> AsyncIterator[str]:
    """The URL of an empty PostgreSQL database as a client sees it: a role of its own, whose
    search path is a new schema it owns (a whole new database would cost a checkpoint to
    drop: half a minute on a busy machine). Dropped, with the role, afterwards."""
    await require_postgres()
    name = f"ocppd_empty_{secrets.token_hex(6)}"
    await administer(
        f'create role "{name}" login; create schema "{name}" authorization "{name}";'
        f'alter role "{name}" set search_path = "{name}"'
    )
    try:
        yield sa.make_url(POSTGRES_URL).set(username=name, password=None).render_as_string()
    finally:
        await administer(
            f"select pg_terminate_backend(pid) from pg_stat_activity where usename = '{name}';"
            f'drop schema "{name}" cascade; drop role "{name}"'
        )


def _dump_schema(schema: str) -> str:
    """The statements that rebuild `schema` with its rows, or "" without a usable pg_dump."""
    command = ["pg_dump", "--no-owner", "--no-privileges", "--inserts", f"--schema={schema}"]
    try:
        dumped = subprocess.run(
            [*command, POSTGRES_URL], capture_output=True, text=True, check=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    # psql's meta-commands (`\\restrict`) are no SQL; the rest runs as one simple query.
    lines = dumped.stdout.splitlines()
    return "\n".join(line for line in lines if not line.startswith("\\"))


async def administer(statements: str) -> None:
    """Statements outside any transaction and any schema (CREATE/DROP SCHEMA, a dump)."""
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(statements)
    finally:
        await connection.close()
