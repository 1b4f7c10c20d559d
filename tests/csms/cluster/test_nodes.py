"""Nodes join and leave (issue 18): a name is one live node's, a dead node's name is taken
over at once, a stopped node leaves nothing behind in Redis."""

import pytest
import redis.asyncio as redis

from tests.cluster_nodes import Cluster, charger, eventually

pytestmark = pytest.mark.slow


async def test_a_second_live_node_of_the_same_name_does_not_start(cluster: Cluster) -> None:
    a = cluster.start("A")
    code, output = cluster.refused("A")
    assert code == 1, output
    assert "a live node is named 'A' already" in output and "--node-name" in output, output
    assert a.running
    answer = await a.api("GET", "/cluster")
    assert [n["name"] for n in answer.body["nodes"]] == ["A"]


async def test_a_node_restarted_at_once_after_kill_9_takes_its_name_over(
    cluster: Cluster,
) -> None:
    a = cluster.start("A")
    a.kill()  # its lease is still there for 10 s; its channel has no listener any more
    again = cluster.start("A")
    answer = await again.api("GET", "/cluster")
    assert answer.status == 200, answer.body
    assert [n["name"] for n in answer.body["nodes"]] == ["A"]


async def test_sigterm_leaves_nothing_behind(cluster: Cluster) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    client = redis.Redis.from_url(cluster.redis.url)
    try:
        async with charger(a, "CP1"), charger(a, "CP2"), charger(b, "CP3"):

            async def both_held() -> bool:
                answer = await b.api("GET", "/charge-points", connected="true")
                return [i["chargePointId"] for i in answer.body["items"]] == ["CP1", "CP2", "CP3"]

            await eventually(both_held)
            assert await client.get("ocppd:node:A") is not None
            assert a.terminate() == 0
            assert await client.get("ocppd:node:A") is None
            assert await client.hget("ocppd:nodes", "A") is None
            owners = await client.hgetall("ocppd:owners")
            assert [i.decode() for i in owners] == ["CP3"], owners
            answer = await b.api("GET", "/cluster")
            assert [n["name"] for n in answer.body["nodes"]] == ["B"]
    finally:
        await client.aclose()


async def test_a_node_that_cannot_reach_redis_does_not_start(cluster: Cluster) -> None:
    cluster.redis.stop()
    code, output = cluster.refused("A")
    assert code == 1, output
    assert "cannot join the cluster: Redis is unreachable" in output, output
    assert "Traceback" not in output, output
