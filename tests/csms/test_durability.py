"""Durability (issue 17's proof): chargers run transactions against a real `ocppd serve`, the
process is killed with SIGKILL several times mid-traffic, the chargers send again what was
not answered, and afterwards the database holds every acknowledged StartTransaction,
StopTransaction and sampled meter value exactly once, and nothing else; on both databases."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from ocppd.csms.database import create_engine
from tests.cli.test_serve import Served
from tests.databases import POSTGRES_URL, administer, postgres_available
from tests.durability import Charger, Ledger, stored

pytestmark = pytest.mark.slow

CHARGERS = 8
KILLS = 3
ACKNOWLEDGED_BETWEEN_KILLS = 60
WAIT = 90.0
"""Seconds the chargers may take to get that many answers (a generous bound on a busy
machine; the run takes a fraction of it)."""


@asynccontextmanager
async def database_of(kind: str, tmp_path: Path) -> AsyncIterator[tuple[list[str], str]]:
    """The arguments of `ocppd serve` for a fresh database of `kind`, and its URL."""
    if kind == "sqlite":
        yield [], f"sqlite:///{tmp_path / 'data' / 'ocppd.db'}"
        return
    problem = await postgres_available()
    if problem is not None:
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"ocppd_durability_{secrets.token_hex(4)}"
    await administer(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield ["--database", url], url
    finally:
        await administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def answered(ledger: Ledger, count: int, chargers: list[asyncio.Task[None]]) -> None:
    """Until the chargers have `count` CALLRESULTs (failing if one of them failed)."""
    async with asyncio.timeout(WAIT):
        while ledger.acknowledged < count:
            for task in chargers:
                if task.done():
                    task.result()
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_acknowledged_messages_survive_kill_9_exactly_once(kind: str, tmp_path: Path) -> None:
    async with database_of(kind, tmp_path) as (arguments, url):
        server = await asyncio.to_thread(Served, tmp_path, *arguments)
        ledger = Ledger()
        stop = asyncio.Event()

        def url_of(identity: str) -> Callable[[], str]:
            return lambda: f"ws://127.0.0.1:{server.port}/ocpp/{identity}"

        chargers = [Charger(f"D{n}", url_of(f"D{n}"), ledger) for n in range(CHARGERS)]
        tasks = [asyncio.create_task(charger.run(stop)) for charger in chargers]
        try:
            for _ in range(KILLS):
                await answered(ledger, ledger.acknowledged + ACKNOWLEDGED_BETWEEN_KILLS, tasks)
                await asyncio.to_thread(server.stop)  # SIGKILL
                server = await asyncio.to_thread(Served, tmp_path, *arguments)
            await answered(ledger, ledger.acknowledged + ACKNOWLEDGED_BETWEEN_KILLS, tasks)
            stop.set()
            async with asyncio.timeout(WAIT):
                await asyncio.gather(*tasks)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(server.stop)
        engine = create_engine(url)
        try:
            result = await stored(engine, ledger)
        finally:
            await engine.dispose()
    assert result.lost == [], result.lost[:10]
    assert result.duplicated == [], result.duplicated[:10]
    assert result.unexpected == [], result.unexpected[:10]
    assert result.acknowledged >= (KILLS + 1) * ACKNOWLEDGED_BETWEEN_KILLS
    # Calls under way when the process died were sent again (the case that could duplicate).
    assert ledger.retransmissions > 0
