"""A reconnect storm on one node: thousands of chargers claimed at once, on a pool of two
connections, cost a handful of round trips, and the node never takes the wait for a pooled
connection for Redis being away (bench/cluster.py measures the storm of whole processes)."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from ocppd.csms.cluster import redis_cluster
from ocppd.csms.cluster.owners import OWNERS
from ocppd.csms.cluster.redis_cluster import REPLACED, RedisCluster
from tests.csms.cluster.test_redis_cluster import T0, StubNode
from tests.redis_server import RedisServer

STORM = 2000


@pytest.fixture
async def nodes(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setattr(redis_cluster, "MAX_CONNECTIONS", 2)
    started: list[RedisCluster] = []

    async def start(name: str) -> tuple[RedisCluster, StubNode]:
        node = RedisCluster(redis_server.url, name, "127.0.0.1:0", "test", lambda: T0, renew=0.1)
        local = StubNode()
        await node.start(local)
        started.append(node)
        return node, local

    yield start
    for node in started:
        await node.stop()


async def storm(node: RedisCluster, local: StubNode, identities: list[str]) -> None:
    local.connections.update(identities)
    await asyncio.gather(*(node.claim(identity, T0) for identity in identities))


async def test_a_storm_of_claims_is_coalesced_and_not_taken_for_redis_down(
    nodes: Any, redis_server: RedisServer
) -> None:
    (a, on_a), (b, _) = await nodes("A"), await nodes("B")
    identities = [f"CP{i}" for i in range(STORM)]
    # Reads that are not coalesced queue for the two connections meanwhile.
    reads = asyncio.gather(*(b.holders([identity]) for identity in identities[:200]))
    await storm(a, on_a, identities)
    await reads
    assert a._trouble is None and b._trouble is None
    assert a._owners_changes.round_trips <= STORM // 20
    check = redis.Redis.from_url(redis_server.url)
    try:
        assert await check.hlen(OWNERS) == STORM
    finally:
        await check.aclose()
    assert (await b.holders(identities)).keys() == set(identities)
    await asyncio.gather(*(a.release(identity) for identity in identities[: STORM // 2]))
    assert a._owners_changes.round_trips <= STORM // 10
    assert (await b.holders(identities)).keys() == set(identities[STORM // 2 :])


async def test_a_storm_onto_another_node_replaces_each_older_connection(nodes: Any) -> None:
    """One owner per identity, newest wins: claimed together, each claim still returns the
    holder it replaced, and that node closes its connection."""
    (a, on_a), (b, on_b) = await nodes("A"), await nodes("B")
    identities = [f"CP{i}" for i in range(200)]
    await storm(a, on_a, identities)
    await storm(b, on_b, identities)
    assert sorted(on_a.closed) == sorted((identity, 1000, REPLACED) for identity in identities)
    assert (await a.holders(identities)) == (await b.holders(identities))
    assert {holder.node for holder in (await a.holders(identities)).values()} == {"B"}
    assert b._owners_changes.round_trips <= 20
