"""`GET /metrics` over real HTTP: a charger on a real WebSocket sends its messages, an
operator sends commands, and the Prometheus text shows the counts; a token is required; and
two `ocppd serve` processes sharing one PROMETHEUS_MULTIPROC_DIR (as `--workers N` runs them)
are both seen by one scrape of either."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from ocppd.api import tokens
from ocppd.api.tokens import Role
from ocppd.csms import metrics
from ocppd.csms.database import create_engine
from tests.api.conftest import Api, CallError, charge_point
from tests.api.test_events import events
from tests.cli.test_serve import Served
from tests.databases import empty_postgres_database

__all__ = ["empty_postgres_database"]  # a fixture

DEADLINE = 60.0
"""Seconds to wait for what another process or a closing socket does (a loaded machine)."""


class Scrape:
    """The samples of one scrape, by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0: none)."""
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def has(self, name: str, **labels: str) -> bool:
        return any(
            sample.name == name and labels.items() <= sample.labels.items()
            for sample in self.samples
        )


async def scrape(url: str, token: str | None) -> Scrape:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        answer = await client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(answer.text)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Until `check` holds, up to DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE} s: {what}")
        await asyncio.sleep(0.1)


async def test_a_chargers_messages_and_commands_are_counted(api: Api) -> None:
    node = api.system.metrics.node
    viewer = api.tokens[Role.VIEWER]
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        await cp.ask("Heartbeat", {})
        await cp.ask("Heartbeat", {})
        cp.replies["Reset"] = {"status": "Accepted"}
        answer = await operator("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert answer.status == 200
        cp.replies["ClearCache"] = CallError("NotSupported", "no cache")
        answer = await operator("POST", "/charge-points/CP1/commands/ClearCache", {})
        assert answer.status == 502
        refused = await cp.send_text('[2,"x1","Frobnicate",{}]')
        assert refused[:3] == [4, "x1", "NotImplemented"]
        # A CALLERROR code OCPP 1.6 does not have: counted, not a label of its own.
        cp.replies["GetLocalListVersion"] = CallError("NoSuchCode")
        answer = await operator("POST", "/charge-points/CP1/commands/GetLocalListVersion", {})
        assert answer.status == 502
        # An answer to no call: dropped, counted as invalid.
        await cp.ws.send('[4,"nobody","GenericError","",{}]')
        answer = await operator("POST", "/charge-points/CP2/commands/Reset", {"type": "Soft"})
        assert answer.status == 404

        seen = await scrape(api.url, viewer)
        assert seen.value("ocppd_chargers_connected", node=node) == 1
        assert seen.value("ocppd_connections_opened_total", node=node) == 1
        messages = "ocppd_messages_total"
        incoming = {"node": node, "direction": "in"}
        outgoing = {"node": node, "direction": "out"}
        assert seen.value(messages, **incoming, type="call", action="BootNotification") == 1
        assert seen.value(messages, **incoming, type="call", action="Heartbeat") == 2
        assert seen.value(messages, **outgoing, type="result", action="Heartbeat") == 2
        assert seen.value(messages, **outgoing, type="call", action="Reset") == 1
        assert seen.value(messages, **incoming, type="result", action="Reset") == 1
        assert seen.value(messages, **incoming, type="error", action="ClearCache") == 1
        assert seen.value(messages, **incoming, type="call", action="unknown") == 1
        assert seen.value(messages, **outgoing, type="error", action="unknown") == 1
        assert not seen.has(messages, action="Frobnicate")
        assert seen.value(messages, **incoming, type="invalid") == 1
        callerrors = "ocppd_callerrors_total"
        assert seen.value(callerrors, node=node, direction="in", code="NotSupported") == 1
        assert seen.value(callerrors, node=node, direction="out", code="NotImplemented") == 1
        assert seen.value(callerrors, node=node, direction="in", code="unknown") == 1
        assert not seen.has(callerrors, code="NoSuchCode")
        handler = "ocppd_handler_seconds_count"
        assert seen.value(handler, node=node, action="Heartbeat") == 2
        assert seen.value(handler, node=node, action="BootNotification") == 1
        assert seen.value("ocppd_handler_seconds_bucket", action="Heartbeat", le="+Inf") == 2
        assert seen.value("ocppd_commit_seconds_count", node=node) >= 1
        assert seen.value("ocppd_commit_batch_writes_sum", node=node) >= 3
        commands = "ocppd_commands_total"
        assert seen.value(commands, node=node, action="Reset", outcome="answered") == 1
        assert seen.value(commands, node=node, action="ClearCache", outcome="call_error") == 1
        assert seen.value(commands, action="Reset", outcome="unknown_charge_point") == 1
        assert seen.value("ocppd_database_errors_total", node=node) == 0

    async def closed() -> bool:
        seen = await scrape(api.url, viewer)
        return (
            seen.value("ocppd_connections_closed_total", node=node, code="1000") == 1
            and seen.value("ocppd_chargers_connected", node=node) == 0
        )

    await eventually(closed, "the connection's close counted, 0 chargers connected")


async def test_event_streams_are_counted_while_open(api: Api) -> None:
    viewer = api.tokens[Role.VIEWER]
    subscribers = "ocppd_event_stream_subscribers"
    async with events(api):
        assert (await scrape(api.url, viewer)).value(subscribers) == 1

    async def ended() -> bool:
        return (await scrape(api.url, viewer)).value(subscribers) == 0

    await eventually(ended, "the closed stream no longer counted")


async def test_metrics_need_a_token_of_any_role(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        missing = await client.get("/metrics")
        unknown = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    for answer in (missing, unknown):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "ocppd_" not in answer.text
    for role in Role:
        seen = await scrape(api.url, api.tokens[role])
        assert "# TYPE ocppd_chargers_connected gauge" in seen.text


async def test_metrics_are_not_in_the_api_contract(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        document = (await client.get("/api/v1/openapi.json")).json()
    assert "/metrics" not in document["paths"]


# Multiprocess mode: `ocppd serve` processes sharing one directory.


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for process in started:
        process.stop()


async def boot(port: int, identity: str) -> None:
    """A charger connects to `port`, boots, and leaves."""
    url = f"ws://127.0.0.1:{port}/ocpp/{identity}"
    async with connect(url, subprotocols=["ocpp1.6"], open_timeout=30) as ws:
        boot = [2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
        await ws.send(msgspec.json.encode(boot).decode())
        answer = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))
        assert answer[0] == 3 and answer[2]["status"] == "Accepted", answer


@pytest.mark.slow
async def test_one_scrape_shows_every_process_sharing_the_directory(
    tmp_path: Path, empty_postgres_database: str, served: list[Served]
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    database = ("--database", empty_postgres_database)
    # One after the other: the first migrates the empty database.
    for name in ("node-a", "node-b"):
        served.append(Served(tmp_path / name, *database, "--node-name", name, env=env))
    a, b = served
    engine = create_engine(empty_postgres_database)
    try:
        async with engine.begin() as db:
            token = (await tokens.create(db, Role.VIEWER, "prometheus")).token
    finally:
        await engine.dispose()
    await boot(a.port, "CP-A")
    await boot(b.port, "CP-B")

    def booted(seen: Scrape, node: str) -> bool:
        return (
            seen.value("ocppd_messages_total", node=node, action="BootNotification") == 2
            and seen.value("ocppd_connections_closed_total", node=node) == 1
        )

    for port in (a.port, b.port):
        url = f"http://127.0.0.1:{port}"

        async def both(url: str = url) -> bool:
            seen = await scrape(url, token)
            return booted(seen, "node-a") and booted(seen, "node-b")

        await eventually(both, f"both nodes' boots in the scrape of {url}")
        seen = await scrape(url, token)
        assert seen.has("ocppd_chargers_connected", node="node-a")
        assert seen.has("ocppd_chargers_connected", node="node-b")
        assert not seen.has("ocppd_chargers_connected", pid=str(a.process.pid))

    # A worker that died: its gauges go (the supervisor says so), its counts stay.
    b.process.kill()
    b.process.wait()
    metrics.worker_died(b.process.pid, str(directory))
    seen = await scrape(f"http://127.0.0.1:{a.port}", token)
    assert not seen.has("ocppd_chargers_connected", node="node-b")
    assert booted(seen, "node-b")
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(f"http://127.0.0.1:{a.port}/metrics")).status_code == 401


@pytest.mark.slow
def test_serve_refuses_a_multiprocess_directory_that_is_not_there(tmp_path: Path) -> None:
    """A clear error at start, not a traceback, nor a failed scrape later."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")}
    command = [sys.executable, "-m", "ocppd", "serve", "--port", "0", "--data-dir", str(tmp_path)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "PROMETHEUS_MULTIPROC_DIR=" in run.stderr and "is not a directory" in run.stderr
    assert "Traceback" not in run.stderr
