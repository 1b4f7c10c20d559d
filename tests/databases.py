"""The databases persistence tests run against: SQLite (a file) and the real PostgreSQL.

PostgreSQL is reached at OCPPD_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test);
each test gets a schema of its own, dropped afterwards. Where no server answers, those tests
skip with a message, except under CI (CI=true), where they fail.
"""

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ocppd.csms.database import async_url, create_engine, upgrade

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


async def engine_for(kind: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if kind == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'ocppd.db'}")
        await upgrade(engine)
        yield engine
        await engine.dispose()
        return
    problem = await postgres_available()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_async_engine(async_url(POSTGRES_URL))
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'create schema "{schema}"'))
    engine = create_engine(POSTGRES_URL, search_path=schema)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'drop schema "{schema}" cascade'))
        await admin.dispose()
