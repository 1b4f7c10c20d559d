"""Opening the database and keeping its schema current (Alembic, applied on start).

Database work is bounded (`--database-timeout`, issue 17): the group commit gives up on a
commit after that long (`group_commit`); below it, PostgreSQL cancels a statement that runs
longer (`statement_timeout`) and ends a transaction its client left idle, a connection that
cannot be opened in that time fails, and TCP keepalive with a user timeout makes the kernel
drop a connection whose peer went silent (a black-holed network), which otherwise would stay
open for the many minutes of TCP's retransmissions. Migrations are exempt: they may take
longer on a large database, and nothing waits for them.
"""

import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ocppd.csms.settings import DATABASE_TIMEOUT

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger("ocppd.csms.database")


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


def create_engine(
    url: str, search_path: str | None = None, timeout: float = DATABASE_TIMEOUT
) -> AsyncEngine:
    """An engine for `url`; `search_path` puts PostgreSQL tables in a schema of their own;
    `timeout`: seconds database work may take (see the module's description)."""
    connect_args: dict[str, Any] = {}
    pool: dict[str, Any] = {}
    if not async_url(url).startswith("sqlite"):
        connect_args = postgresql_connect_arguments(timeout, search_path)
        # Reads outside the group commit (admission, Authorize, the API) come in bursts; a
        # pool that is too small opens and closes connections all the time (decision 0002).
        pool = {"pool_size": 20, "max_overflow": 20, "pool_timeout": timeout}
    engine = create_async_engine(async_url(url), connect_args=connect_args, **pool)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine, timeout)
    else:
        _keep_alive(engine, timeout)
    return engine


def postgresql_connect_arguments(timeout: float, search_path: str | None) -> dict[str, Any]:
    """asyncpg's: a connection opens within `timeout`, and the server bounds its statements."""
    milliseconds = str(max(1, round(timeout * 1000)))
    settings = {
        "statement_timeout": milliseconds,
        # A transaction whose client vanished mid-way would hold its locks until the server
        # noticed; ours are never idle for more than a round trip.
        "idle_in_transaction_session_timeout": str(max(60_000, 6 * int(milliseconds))),
    }
    if search_path is not None:
        settings["search_path"] = search_path
    return {"timeout": timeout, "server_settings": settings}


KEEPALIVE_IDLE = 30
"""Seconds a pooled connection may be silent before the kernel probes it (then every 10 s,
3 times)."""


def _keep_alive(engine: AsyncEngine, timeout: float) -> None:
    @sa.event.listens_for(engine.sync_engine, "connect")
    def on_connect(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        transport = getattr(record.driver_connection, "_transport", None)
        raw = transport.get_extra_info("socket") if transport is not None else None
        if raw is not None and raw.family in (socket.AF_INET, socket.AF_INET6):
            set_keepalive(raw, timeout)


def set_keepalive(raw: Any, timeout: float) -> None:
    """TCP keepalive on `raw`, and (Linux) a bound on how long sent data may go unacknowledged
    before the kernel drops the connection."""
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", 10),
        ("TCP_KEEPCNT", 3),
        ("TCP_USER_TIMEOUT", max(1, round(timeout * 1000))),
    ):
        if hasattr(socket, option):
            raw.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _tune_sqlite(engine: AsyncEngine, timeout: float) -> None:
    # A write waits for another writer's lock at most that long (then "database is locked"),
    # within the bound of database work.
    busy = min(5000, max(1, round(timeout * 1000)))

    # WAL with synchronous=NORMAL survives a killed process (only power loss can lose the
    # last commits), and lets readers work while the writer commits.
    @sa.event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy}")
        cursor.close()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def lock_key(name: str) -> sa.ColumnElement[int]:
    """The key of PostgreSQL's advisory locks for `name` in the current schema: advisory
    locks are database-wide, and each schema holds an ocppd of its own (the tests' schemas)."""
    text = sa.func.concat(f"ocppd:{name}:", sa.func.coalesce(sa.func.current_schema(), ""))
    return sa.func.hashtextextended(text, 0)


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every migration that the database lacks. On PostgreSQL under an advisory lock:
    the nodes of a cluster that start together migrate once, the others wait for it and find
    nothing left to do."""
    path = sqlite_path(str(engine.url))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(sa.text("SET LOCAL statement_timeout = 0"))
            await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key("schema"))))
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))


class LockBusy(TimeoutError):
    """An advisory lock was held by another (node) for longer than one may wait for it."""


QUERY_CANCELED = "57014"


@contextlib.asynccontextmanager
async def advisory_lock(engine: AsyncEngine, name: str, wait: float) -> AsyncIterator[None]:
    """On PostgreSQL, the session advisory lock `name` (of this schema) held while the block
    runs, by a connection of the pool kept for it, outside any transaction (the block may wait
    on a charger longer than a transaction may stay idle); waited for at most `wait` seconds,
    then LockBusy. A lock whose release fails ends with its connection (invalidated). Other
    databases (SQLite: one process) have nothing to lock."""
    if engine.dialect.name != "postgresql":
        yield
        return
    key = lock_key(name)
    async with engine.connect() as connection:
        try:
            await connection.execute(
                sa.select(
                    sa.func.set_config("statement_timeout", f"{max(1, round(wait * 1000))}", True)
                )
            )
            await connection.execute(sa.select(sa.func.pg_advisory_lock(key)))
            await connection.commit()
        except sa.exc.DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == QUERY_CANCELED:
                raise LockBusy(f"{name} is held elsewhere for more than {wait:g} s") from None
            await connection.invalidate()
            raise
        except BaseException:
            # Cancelled (or failed) while the server may have granted the lock: it must not
            # stay with a pooled connection, where no one would ever release it.
            await connection.invalidate()
            raise
        try:
            yield
        finally:
            try:
                await connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                await connection.commit()
            except BaseException as error:  # the lock must not outlive us: it ends with the session
                log.warning(
                    "advisory lock %s not released (%r): its connection is closed", name, error
                )
                await connection.invalidate()
                if not isinstance(error, Exception):
                    raise
