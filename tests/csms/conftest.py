from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms.central_system import CentralSystem
from ocppd.csms.settings import Settings
from tests.databases import engine_for
from tests.servers import serving


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
    async with serving(central_system) as port:
        yield RunningServer(central_system, port)
