"""The API keeps its own contract: schemathesis, run from the document the server serves
(`/api/v1/openapi.json`), with every check, finds no failure in either direction (the server
answers what the document says, and refuses what it forbids).

The server is `ocppd serve` as the CLI assembles it, on a database of its own, with a charger
played by ocppd's simulator (`Station`) connected, so commands reach a real charger and its
answers come back. The run is bounded (examples per operation) and derandomized (a fixed seed),
so it is the same run each time; schemathesis runs as its CLI in a subprocess, as an operator
would run it, while the server and the charger run in this test's event loop.
"""

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.api.app import PREFIX
from ocppd.api.tokens import Role
from ocppd.chargepoint.station import Station
from tests.api.conftest import Api
from tests.databases import engine_for
from tests.web.test_e2e import CHARGER, live

__all__ = ["live"]

pytestmark = pytest.mark.slow

EXAMPLES = 10
SEED = 16
RUN_DEADLINE = 600.0
"""Far above the run's duration: only a hung run ends here."""
CONFIG = """
# Charging profiles are checked before they are sent (400 "not sent: ..." or the protocol's
# "at most one decimal"): rules JSON Schema cannot state (the first period starts at 0,
# periods in order, a float with one decimal: `multipleOf: 0.1` in binary floats refuses 0.3),
# some of them the charger's configuration (ChargingScheduleMaxPeriods, allowed units). Their
# operations may answer a schema-valid body with 400; every other check still applies.
[[operations]]
include-operation-id-regex = "^(SetChargingProfile|RemoteStartTransaction)$"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"
]

# A signed firmware update's signature and certificate must verify over the image (a PEM
# certificate whose key signed those bytes: not stated by JSON Schema).
[[operations]]
include-path = "/api/v1/charge-points/{chargePointId}/firmware-updates"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"
]

# A site's schedule: its periods start at increasing times of day (not stated by JSON Schema).
[[operations]]
include-path = "/api/v1/sites/{siteId}"
include-method = "PUT"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"
]
"""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    # The contract is the API's, whatever the database: SQLite keeps the run short.
    async for created in engine_for("sqlite", tmp_path):
        yield created


@pytest.fixture
async def charged(live: Api) -> AsyncIterator[Api]:
    """`ocppd serve` (the dashboard's `live`: the wall clock, the simulator's answers take
    real time) with the simulated charger connected and accepted."""
    station = Station(live.ws_url("").removesuffix("/"), CHARGER)
    station.start()
    try:
        await station.wait_accepted()
        yield live
    finally:
        await station.stop()


async def test_schemathesis_finds_no_failure(charged: Api, tmp_path: Path) -> None:
    """With an operator's token, every operation but /events: an endless stream, which
    schemathesis would read until its timeout (tests/api/test_events.py reads it;
    test_openapi checks its media type). Then with an admin's, the operations only an admin
    may use (tokens, sites, changing charge points): last, as they delete what they find."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    operator = await schemathesis(
        charged, Role.OPERATOR, config, ["--exclude-path", f"{PREFIX}/events"]
    )
    assert operator >= 1000  # a run, not a skip
    admin_only = "/(tokens|sites)|/charge-points/[{]chargePointId[}]$"
    admin = await schemathesis(charged, Role.ADMIN, config, ["--include-path-regex", admin_only])
    assert admin >= 200


async def schemathesis(live: Api, role: Role, config: Path, selection: list[str]) -> int:
    """How many cases schemathesis ran on `selection`, finding no failure (else the test
    fails with its report)."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{live.url}{PREFIX}/openapi.json",
        "--header",
        f"Authorization: Bearer {live.tokens[role]}",
        *selection,
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-color",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
        cwd=config.parent,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_DEADLINE)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    generated = re.search(r"([0-9]+) generated", text)
    assert generated is not None, text
    return int(generated[1])
