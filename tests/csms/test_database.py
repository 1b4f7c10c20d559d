import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms.database import alembic_config, async_url, upgrade
from ocppd.csms.models import metadata


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
