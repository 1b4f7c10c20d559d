"""Opening the database and keeping its schema current (Alembic, applied on start)."""

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """The SQLAlchemy async URL for what a user types (`postgresql://`, `sqlite:///`)."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'ocppd.db'}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or one in memory."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


async def holds_schema(url: str) -> bool:
    """Whether ocppd's migrations ever ran in the database at `url` (its `alembic_version`
    table). Opened as it is, without the settings `create_engine` makes (SQLite's WAL mode
    stays in the file): a database that is not ocppd's is left untouched."""
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(has_schema_table)
    finally:
        await engine.dispose()


def has_schema_table(connection: sa.Connection) -> bool:
    """Whether the database has the table where Alembic notes the migrations applied."""
    return sa.inspect(connection).has_table("alembic_version")


def create_engine(url: str, search_path: str | None = None) -> AsyncEngine:
    """An engine for `url`; `search_path` puts PostgreSQL tables in a schema of their own."""
    connect_args: dict[str, object] = {}
    if search_path is not None:
        connect_args["server_settings"] = {"search_path": search_path}
    pool: dict[str, int] = {}
    if not async_url(url).startswith("sqlite"):
        # Reads outside the group commit (admission, Authorize, the API) come in bursts; a
        # pool that is too small opens and closes connections all the time (decision 0002).
        pool = {"pool_size": 20, "max_overflow": 20}
    engine = create_async_engine(async_url(url), connect_args=connect_args, **pool)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    # WAL with synchronous=NORMAL survives a killed process (only power loss can lose the
    # last commits), and lets readers work while the writer commits.
    @sa.event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every migration that the database lacks."""
    path = sqlite_path(str(engine.url))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
