import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms.central_system import CentralSystem
from ocppd.csms.service import build_app, uvicorn_config
from ocppd.csms.settings import Settings
from tests.databases import engine_for


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async for created in engine_for(request.param, tmp_path):
        yield created


class FixedClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def central_system(engine: AsyncEngine, clock: FixedClock) -> AsyncIterator[CentralSystem]:
    """A central system on the test database (SQLite file or a PostgreSQL schema)."""
    system = CentralSystem(Settings(), clock=clock, engine=engine)
    await system.start()
    yield system
    await system.stop()


@dataclass
class RunningServer:
    system: CentralSystem
    port: int

    def url(self, identity: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/{identity}"


@pytest.fixture
async def server(central_system: CentralSystem) -> AsyncIterator[RunningServer]:
    """`central_system` behind uvicorn on a free port of 127.0.0.1, as `ocppd serve` runs it."""
    settings = central_system.settings
    settings.port = 0
    settings.ping_interval = 0
    server = uvicorn.Server(uvicorn_config(build_app(central_system), settings))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    yield RunningServer(central_system, port)
    server.should_exit = True
    await task
