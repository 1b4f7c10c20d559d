"""A node dies, stops, or loses Redis (issue 18, behaviours 5-7): real `ocppd serve` nodes on
one PostgreSQL database and a Redis of the test's own."""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as redis

from ocppd.csms.cluster.nodes import node_key
from tests.cluster_nodes import Charger, Cluster, Node, Silent, charger, eventually

pytestmark = pytest.mark.slow

CHARGERS = ["CP1", "CP2", "CP3"]


def at(seconds: int) -> str:
    moment = datetime(2026, 12, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


def meter_values(transaction_id: int, seconds: int) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [{"timestamp": at(seconds), "sampledValue": [{"value": str(seconds)}]}],
    }


async def command_works(node: Node, identity: str) -> bool:
    answer = await node.api(
        "POST", f"/charge-points/{identity}/commands/Reset", {"type": "Soft"}, timeout=10
    )
    return answer.status == 200 and answer.body == {"status": "Accepted"}


async def test_kill_9_chargers_reconnect_elsewhere_and_nothing_acknowledged_is_lost(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.start("A"), cluster.start("B"), cluster.start("C")
    started: dict[str, int] = {}
    old: list[Charger] = []
    stack = contextlib.AsyncExitStack()
    for identity in CHARGERS:
        cp = await stack.enter_async_context(charger(a, identity))
        old.append(cp)
        answer = await cp.ask(
            "StartTransaction",
            {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": at(0)},
        )
        started[identity] = answer["transactionId"]
        for seconds in (10, 20, 30):
            await cp.ask("MeterValues", meter_values(started[identity], seconds))
    a.kill()
    for cp in old:
        assert await cp.wait_closed() == 1006  # dropped, not closed by the node
    await stack.aclose()
    # They reconnect to B (a load balancer would pick any live node).
    async with charger(b, "CP1") as cp1, charger(b, "CP2") as cp2, charger(b, "CP3") as cp3:
        for cp in (cp1, cp2, cp3):
            cp.replies["Reset"] = {"status": "Accepted"}
        for identity in CHARGERS:
            assert await command_works(c, identity), identity
        for cp, identity in zip((cp1, cp2, cp3), CHARGERS, strict=True):
            await cp.ask(
                "StopTransaction",
                {"transactionId": started[identity], "meterStop": 40, "timestamp": at(40)},
            )
    for identity in CHARGERS:
        detail = await c.api("GET", f"/transactions/{started[identity]}")
        assert detail.status == 200, detail.body
        assert detail.body["chargePointId"] == identity
        assert detail.body["meterStop"] == 40 and detail.body["active"] is False
        values = [s["value"] for m in detail.body["meterValues"] for s in m["sampledValue"]]
        assert values == ["10", "20", "30"], (identity, values)

    async def a_gone() -> bool:
        listed = (await b.api("GET", "/cluster")).body["nodes"]
        return [n["name"] for n in listed] == ["B", "C"]

    await cluster.lapse(node_key("A"))  # not waited for (10 s from its last renewal)
    await eventually(a_gone, what="A's lease expired")


async def test_sigterm_finishes_calls_in_flight_then_closes_with_1001_and_leaves(
    cluster: Cluster,
) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    client = redis.Redis.from_url(cluster.redis.url)
    try:
        async with charger(a, "CP1") as cp:
            cp.replies["Reset"] = Silent()
            pending = asyncio.create_task(
                b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
            )

            async def sent() -> bool:
                return "Reset" in cp.unique_ids

            await eventually(sent, what="Reset received")
            a.process.terminate()  # SIGTERM

            async def waiting() -> bool:
                return a.printed("waiting for 1 calls in flight")

            await eventually(waiting, what="A waits for the call in flight")
            assert not cp.closed.is_set()
            await cp.answer("Reset", {"status": "Accepted"})
            answer = await pending
            assert (answer.status, answer.body) == (200, {"status": "Accepted"})
            assert await cp.wait_closed() == 1001
        assert a.process.wait(timeout=60) == 0
        assert await client.get("ocppd:node:A") is None
        assert await client.hget("ocppd:nodes", "A") is None
        assert await client.hgetall("ocppd:owners") == {}
        async with charger(b, "CP1") as back:
            back.replies["Reset"] = {"status": "Accepted"}
            assert await command_works(b, "CP1")
    finally:
        await client.aclose()


async def test_redis_down_chargers_served_cross_node_503_and_all_resumes(
    cluster: Cluster,
) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    async with charger(a, "CP1") as cp1, charger(b, "CP2") as cp2, charger(a, "CP3") as cp3:
        for cp in (cp1, cp2, cp3):
            cp.replies["Reset"] = {"status": "Accepted"}
        assert await command_works(b, "CP1")
        cluster.redis.stop()
        # The chargers held are served: their messages stored and answered.
        started = await cp1.ask(
            "StartTransaction",
            {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": at(0)},
        )
        await cp1.ask("MeterValues", meter_values(started["transactionId"], 10))
        assert "currentTime" in await cp2.ask("Heartbeat", {})
        assert await command_works(a, "CP1")  # held here: no Redis needed
        answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert answer.status == 503 and "Redis" in answer.body["error"], answer.body
        assert (await a.api("GET", "/cluster")).status == 503
        # CP3 moves to B meanwhile: A cannot be told; once Redis is back, B's newer
        # connection stays and A closes its stale one.
        async with charger(b, "CP3") as cp3_on_b:
            cp3_on_b.replies["Reset"] = {"status": "Accepted"}
            cluster.redis.start()

            async def resumed() -> bool:
                return await command_works(b, "CP1") and await command_works(a, "CP2")

            await eventually(resumed, what="commands across nodes again")
            assert await cp3.wait_closed() == 1000
            assert await command_works(a, "CP3")
            assert [action for action, _ in cp3_on_b.received][-1] == "Reset"
            listed = (await a.api("GET", "/cluster")).body["nodes"]
            assert [(n["name"], n["chargePoints"]) for n in listed] == [("A", 1), ("B", 2)]
    detail = await b.api("GET", f"/transactions/{started['transactionId']}")
    assert detail.body["meterValues"][0]["sampledValue"][0]["value"] == "10"
