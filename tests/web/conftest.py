"""`ocppd serve` as the CLI assembles it (API + dashboard behind the OCPP app) on a free port,
with a token of each role; charge points are played by real WebSocket clients
(`tests.api.conftest.charge_point`)."""

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.api import tokens
from ocppd.api.tokens import Role
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.service import build_app, uvicorn_config
from ocppd.web.routing import fallback
from tests.api.conftest import Api
from tests.csms.conftest import FixedClock, central_system, clock  # noqa: F401
from tests.databases import engine_for

__all__ = ["Page", "central_system", "clock", "engine", "fetch"]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    # The dashboard reads through the API, which is tested on both databases: SQLite is enough.
    async for created in engine_for("sqlite", tmp_path):
        yield created


@dataclass
class Page:
    status: int
    headers: dict[str, str]
    text: str


def fetch(url: str, token: str | None = None) -> Page:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Page(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read().decode(),
            )
    except urllib.error.HTTPError as error:
        return Page(
            error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()
        )


@pytest.fixture
async def served(central_system: CentralSystem) -> AsyncIterator[Api]:
    settings = central_system.settings
    settings.port = 0
    settings.ping_interval = 0
    app = fallback(central_system)
    server = uvicorn.Server(uvicorn_config(build_app(central_system, app), settings))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    async with central_system.engine.begin() as db:
        issued = {role: (await tokens.create(db, role, role.value)).token for role in Role}
    yield Api(central_system, server.servers[0].sockets[0].getsockname()[1], app, issued)
    server.should_exit = True
    await task


_SCREENSHOTS: list[Path] = []


@pytest.fixture
def record_screenshots() -> list[Path]:
    """Screenshot paths to print at the end of the run."""
    return _SCREENSHOTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SCREENSHOTS:
        terminalreporter.write_line(
            "dashboard screenshots: " + ", ".join(str(p) for p in _SCREENSHOTS)
        )
