"""`ocppd serve` as the CLI assembles it (API + dashboard behind the OCPP app) on a free port,
with a token of each role; charge points are played by real WebSocket clients
(`tests.api.conftest.charge_point`)."""

import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms.central_system import CentralSystem
from ocppd.web.routing import with_dashboard
from tests.api.conftest import Api, api_app, issue_tokens
from tests.csms.conftest import FixedClock, central_system, clock  # noqa: F401
from tests.databases import engine_for
from tests.servers import serving

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
    app = with_dashboard(api_app(central_system))
    async with serving(central_system, app) as port:
        yield Api(central_system, port, app, await issue_tokens(central_system))


@pytest.fixture
def record_screenshots(request: pytest.FixtureRequest) -> Iterator[list[Path]]:
    """Screenshot paths to print at the end of the run: kept with the test's report, which
    reaches the terminal summary from pytest-xdist's workers too."""
    taken: list[Path] = []
    yield taken
    request.node.user_properties.append(("screenshots", [str(path) for path in taken]))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    taken = [
        path
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "teardown"
        for name, paths in report.user_properties
        if name == "screenshots"
        for path in paths
    ]
    if taken:
        terminalreporter.write_line("dashboard screenshots: " + ", ".join(sorted(taken)))
