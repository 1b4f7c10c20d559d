"""Several `ocppd serve` processes of one cluster, for tests (issue 18).

The fixture `cluster` gives a `Cluster`: a Redis server of the test's own (`redis_server`),
a fresh PostgreSQL database (a role and schema of its own, migrated, with an admin token),
and `start(name)` for each node: `ocppd serve --port 0 --redis-url ... --database ...
--node-name NAME --registration open`, its port read from its output. Every node still running
at the end is killed.

    async def test_something(cluster: Cluster) -> None:
        a, b = cluster.start("A"), cluster.start("B")
        async with connect(a.ws_url("CP1"), subprotocols=["ocpp1.6"]) as ws: ...
        answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})

Nothing here waits a fixed time: `eventually` polls a condition up to a generous deadline.
"""

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ocppd.api import tokens
from ocppd.cli.api_client import Answer, ApiClient
from ocppd.csms.database import create_engine, upgrade
from tests.cli.test_serve import Served
from tests.redis_server import RedisServer

DEADLINE = 60.0
"""Seconds a condition may take to come true on a loaded machine (2 cores, load 8+)."""

T = TypeVar("T")


class Node(Served):
    """One `ocppd serve` of the cluster, listening once constructed."""

    def __init__(self, cluster: "Cluster", name: str, *args: str) -> None:
        self.name = name
        self.cluster = cluster
        self.args = args
        super().__init__(cluster.directory / (name or "unnamed"), *cluster.arguments(name, *args))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, identity: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/{identity}"

    async def api(
        self, method: str, path: str, body: Any = None, token: str | None = None, **query: Any
    ) -> Answer:
        """An API request to this node (admin token unless `token`), in a thread."""
        client = ApiClient(self.url, token or self.cluster.token)
        return await asyncio.to_thread(client.send, method, path, body, query)

    def kill(self) -> None:
        """kill -9: no goodbye, its Redis connections closed by the kernel."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=DEADLINE)

    def terminate(self) -> int:
        """SIGTERM, and its exit code once it has stopped."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=DEADLINE)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def printed(self, text: str) -> bool:
        """Whether its output so far has `text` (while it runs)."""
        return any(text in line for line in list(self._output))


@dataclass
class Cluster:
    redis: RedisServer
    database: str
    """The URL of the PostgreSQL database every node shares (migrated)."""
    token: str
    """An admin token of the API."""
    directory: Path
    nodes: list[Node] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Node:
        """A node named `name` (no --node-name when empty), listening once returned."""
        node = Node(self, name, *args)
        self.nodes.append(node)
        return node

    def arguments(self, name: str, *args: str) -> list[str]:
        """Of `ocppd serve` for a node of this cluster (after --port 0 and the data dir)."""
        named = ["--node-name", name] if name else []
        return ["--redis-url", self.redis.url, "--database", self.database, *named, *args]

    def refused(self, name: str, *args: str) -> tuple[int, str]:
        """Runs a node expected not to start: its exit code and output."""
        data = self.directory / (name or "unnamed") / "data"
        serve = [sys.executable, "-m", "ocppd", "serve", "--port", "0", "--data-dir", str(data)]
        finished = subprocess.run(
            [*serve, "--registration", "open", *self.arguments(name, *args)],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
        )
        return finished.returncode, finished.stdout + finished.stderr

    def stop_all(self) -> None:
        for node in self.nodes:
            node.stop()

    async def lapse(self, *keys: str) -> None:
        """Ends the leases at `keys` now, as their time running out would: what a killed or
        paused holder leaves lasts a lease (10 s: nodes.LEASE, leadership.LEASE), which the
        other nodes could only wait out. Redis expires them (PEXPIRE), so the others see
        them go the way a lapsed lease goes. (Were a renewal sent before the holder stopped
        processed after this, the lease would last its time again: the test only waits
        longer.)"""
        client = Redis.from_url(self.redis.url)
        try:
            for key in keys:
                await client.pexpire(key, 1)
        finally:
            await client.aclose()


@pytest.fixture
async def cluster_database(empty_postgres_database: str) -> str:
    """A fresh PostgreSQL database URL, migrated, for the nodes of one test."""
    engine = create_engine(empty_postgres_database)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return empty_postgres_database


@pytest.fixture
async def cluster(
    redis_server: RedisServer, cluster_database: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    engine = create_engine(cluster_database)
    try:
        async with engine.begin() as connection:
            token = (await tokens.create(connection, tokens.Role.ADMIN, "cluster tests")).token
    finally:
        await engine.dispose()
    created = Cluster(redis_server, cluster_database, token, tmp_path)
    try:
        yield created
    finally:
        created.stop_all()


class Silent:
    """A reply that never comes (the charger ignores the call)."""


@dataclass
class CallError:
    """A CALLERROR as the reply."""

    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Charger:
    """A charge point on a real WebSocket to one node: boots, answers every call from
    `replies` (by action: a payload, `Silent` or a `CallError`; default `{}`), sends its own
    with `ask`. `close_code` is the code the node closed it with, once it did."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.replies: dict[str, Any] = {}
        self.received: list[tuple[str, Any]] = []
        self.unique_ids: dict[str, str] = {}
        """The unique id of the last call of each action (to answer a `Silent` one later)."""
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self._results: asyncio.Queue[Any] = asyncio.Queue()
        self._next_id = 0
        self._task = asyncio.create_task(self._serve())

    async def ask(self, action: str, payload: dict[str, Any]) -> Any:
        """The payload of the node's CALLRESULT."""
        self._next_id += 1
        await self.ws.send(msgspec.json.encode([2, f"c{self._next_id}", action, payload]).decode())
        frame = await asyncio.wait_for(self._results.get(), DEADLINE)
        assert frame[0] == 3, frame
        return frame[2]

    async def answer(self, action: str, payload: Any) -> None:
        """Answer the last `action` call now (one its reply left `Silent`)."""
        await self.ws.send(msgspec.json.encode([3, self.unique_ids[action], payload]).decode())

    async def boot(self) -> None:
        answer = await self.ask(
            "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
        )
        assert answer["status"] == "Accepted", answer

    async def _serve(self) -> None:
        try:
            async for text in self.ws:
                frame = msgspec.json.decode(text)
                if frame[0] != 2:
                    await self._results.put(frame)
                    continue
                _, unique_id, action, payload = frame
                self.received.append((action, payload))
                self.unique_ids[action] = unique_id
                reply = self.replies.get(action, {})
                if isinstance(reply, Silent):
                    continue
                if isinstance(reply, CallError):
                    answer = [4, unique_id, reply.code, reply.description, reply.details]
                else:
                    answer = [3, unique_id, reply]
                await self.ws.send(msgspec.json.encode(answer).decode())
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason or ""
            self.closed.set()

    async def wait_closed(self) -> int | None:
        await asyncio.wait_for(self.closed.wait(), DEADLINE)
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@asynccontextmanager
async def charger(node: Node, identity: str, boot: bool = True) -> AsyncIterator[Charger]:
    """`identity` connected to `node` (and booted, unless `boot` is False)."""
    ws = await connect(node.ws_url(identity), subprotocols=["ocpp1.6"], open_timeout=DEADLINE)
    connected = Charger(ws)
    try:
        if boot:
            await connected.boot()
        yield connected
    finally:
        await connected.close()


async def eventually(
    condition: Callable[[], Awaitable[T]], deadline: float = DEADLINE, what: str = ""
) -> T:
    """`condition()`'s first truthy result, polled until `deadline` seconds have passed."""
    end = time.monotonic() + deadline
    while True:
        result = await condition()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"not true within {deadline:g} s: {what or condition}")
        await asyncio.sleep(0.1)
