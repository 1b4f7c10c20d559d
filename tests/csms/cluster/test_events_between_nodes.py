"""Events everywhere (issue 18, behaviours 3 and 7): `/api/v1/events` on any node of real
`ocppd serve` processes carries the events of chargers on every node, in order; while Redis
is down it answers 503 with the reason (an open stream ends), and works again once it is back."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.cluster_nodes import DEADLINE, Cluster, Node, charger, eventually
from tests.csms.cluster.test_cluster_metrics import value

pytestmark = pytest.mark.slow

TRY = 10.0
"""Seconds one attempt waits for an event that may never come."""


class Stream:
    """An open `/api/v1/events` of one node."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.lines = lines
        self.comments: list[str] = []

    async def next(self) -> dict[str, Any] | None:
        """The next event's data; None once the stream ended (its comments kept)."""

        async def read() -> dict[str, Any] | None:
            async for line in self.lines:
                if line.startswith("data:"):
                    data: dict[str, Any] = json.loads(line.removeprefix("data:").strip())
                    return data
                if line.startswith(":"):
                    self.comments.append(line)
            return None

        return await asyncio.wait_for(read(), DEADLINE)

    async def of(self, identity: str, count: int) -> list[dict[str, Any]]:
        """The next `count` events of `identity` (others skipped)."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            event = await self.next()
            assert event is not None, f"the stream ended after {found}"
            if event["chargePointId"] == identity:
                found.append(event)
        return found


@asynccontextmanager
async def events(node: Node, **query: str) -> AsyncIterator[Stream]:
    headers = {"Authorization": f"Bearer {node.cluster.token}"}
    async with (
        httpx.AsyncClient(base_url=node.url, timeout=DEADLINE) as client,
        client.stream("GET", "/api/v1/events", params=query, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        lines = response.aiter_lines()
        assert await asyncio.wait_for(anext(lines), DEADLINE) == ": subscribed"
        yield Stream(lines)


async def opened(node: Node) -> httpx.Response:
    """The answer to a request for the stream (closed at once: its status and any body)."""
    headers = {"Authorization": f"Bearer {node.cluster.token}"}
    async with (
        httpx.AsyncClient(base_url=node.url, timeout=DEADLINE) as client,
        client.stream("GET", "/api/v1/events", headers=headers) as response,
    ):
        if response.status_code != 200:
            await response.aread()
        return response


async def charge(cp: Any) -> None:
    """A charging session's messages, each answered by the node holding `cp`."""
    status = {"connectorId": 1, "status": "Charging", "errorCode": "NoError"}
    await cp.ask("StatusNotification", status)
    started = await cp.ask(
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": "2026-01-01T10:00:00Z"},
    )
    tx = started["transactionId"]
    for wh in (100, 200):
        sample = {"value": str(wh), "measurand": "Energy.Active.Import.Register"}
        meter = {"timestamp": "2026-01-01T10:01:00Z", "sampledValue": [sample]}
        await cp.ask("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [meter]})
    await cp.ask(
        "StopTransaction",
        {"transactionId": tx, "meterStop": 300, "timestamp": "2026-01-01T10:05:00Z"},
    )


SESSION = [
    "Connected",
    "BootNotification",
    "StatusNotification",
    "TransactionStarted",
    "MeterValues",
    "MeterValues",
    "TransactionStopped",
    "CommandResult",
    "Disconnected",
]


async def test_the_events_of_a_charger_on_one_node_reach_the_stream_of_another_in_order(
    cluster: Cluster,
) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    async with events(b) as on_b, events(b, chargePointId="CP1") as filtered, events(a) as on_a:
        async with charger(a, "CP1") as cp:
            await charge(cp)
            cp.replies["Reset"] = {"status": "Accepted"}
            answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
            assert answer.status == 200, answer.body
        for stream in (on_b, filtered, on_a):
            got = await stream.of("CP1", len(SESSION))
            assert [event["type"] for event in got] == SESSION
            started, meter = got[3], got[4]
            assert started["connectorId"] == 1 and started["idTag"] == "TAG"
            assert meter["transactionId"] == started["transactionId"]
            assert got[7]["response"] == {"status": "Accepted"}
        # A charger on B: its events on A's stream (and B's own, delivered there at once).
        async with charger(b, "CP2"):
            pass
        for stream in (on_a, on_b):
            assert [e["type"] for e in await stream.of("CP2", 3)] == [
                "Connected",
                "BootNotification",
                "Disconnected",
            ]


async def test_events_need_redis_503_while_it_is_down_and_resume_once_it_is_back(
    cluster: Cluster,
) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    async with charger(a, "CP1") as cp:
        async with events(b) as stream:
            cluster.redis.stop()
            while (await stream.next()) is not None:
                pass  # whatever came before Redis went: then the stream ends
            assert any("ended:" in c and "Redis" in c for c in stream.comments), stream.comments
        refused = await opened(b)
        assert refused.status_code == 503, refused.text
        assert "Redis" in refused.json()["error"], refused.text
        lost = {"node": "B", "operation": "events-subscription"}
        assert await value(b, "ocppd_redis_errors_total", **lost) >= 1
        # The charger's own messages need no Redis: answered as ever.
        heartbeat = await cp.ask("Heartbeat", {})
        assert "currentTime" in heartbeat

        cluster.redis.start()

        async def stream_open() -> bool:
            return (await opened(b)).status_code == 200

        await eventually(stream_open, what="B's event stream open again")
        # A reconnects on its own schedule: until it has, its events cannot reach B.
        await eventually(lambda: relayed(b, cp), what="A's events on B's stream again")


async def relayed(node: Node, cp: Any) -> bool:
    """Whether a StatusNotification of `cp` reaches a new stream of `node` (within a while)."""
    async with events(node, chargePointId="CP1") as stream:
        status = {"connectorId": 1, "status": "Available", "errorCode": "NoError"}
        await cp.ask("StatusNotification", status)
        try:
            [event] = await asyncio.wait_for(stream.of("CP1", 1), TRY)
        except TimeoutError:
            return False
        return bool(event["type"] == "StatusNotification")
