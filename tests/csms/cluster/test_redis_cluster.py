"""RedisCluster in one process, on a Redis of the test's own: the details the process-level
tests do not reach (several nodes here are several RedisCluster objects, each with a stub
in place of its central system)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as redis

from ocppd.csms.cluster import Fence, NodeNameTaken, NotHeld
from ocppd.csms.cluster.owners import OWNERS
from ocppd.csms.cluster.redis_cluster import RedisCluster
from ocppd.csms.events import EventBus
from ocppd.protocol import messages as m
from ocppd.protocol.enums import RegistrationStatus, ResetStatus, ResetType
from ocppd.rpc.session import CallTimeout
from tests.cluster_nodes import eventually
from tests.redis_server import RedisServer

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class StubNode:
    """What a RedisCluster asks of its central system, recorded."""

    def __init__(self) -> None:
        self.connections: set[str] = set()
        self.calls: list[tuple[str, Any, Fence | None]] = []
        self.closed: list[tuple[str, int, str]] = []
        self.node: RedisCluster | None = None
        self.events = EventBus()

    def held(self) -> set[str]:
        return self.connections

    async def call_here(
        self, identity: str, request: Any, timeout: float | None, force: bool, fence: Fence | None
    ) -> Any:
        if identity not in self.connections:
            raise NotHeld(identity)
        self.calls.append((identity, request, fence))
        return m.ResetResponse(status=ResetStatus.ACCEPTED)

    async def disconnect_here(self, identity: str, code: int, reason: str) -> bool:
        if identity not in self.connections:
            return False
        self.connections.discard(identity)
        self.closed.append((identity, code, reason))
        if self.node is not None:
            await self.node.release(identity)  # as the central system's `_forget`
        return True

    def registration_changed_here(self, identity: str, status: RegistrationStatus) -> bool:
        return identity in self.connections


@pytest.fixture
async def nodes(redis_server: RedisServer) -> AsyncIterator[Any]:
    started: list[RedisCluster] = []

    async def start(name: str) -> tuple[RedisCluster, StubNode]:
        node = RedisCluster(
            redis_server.url, name, f"127.0.0.1:{len(started)}", "test", lambda: T0, renew=0.1
        )
        local = StubNode()
        local.node = node
        await node.start(local)
        started.append(node)
        return node, local

    yield start
    for node in started:
        await node.stop()


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_server.url)
    yield connection
    await connection.aclose()


async def connect(node: RedisCluster, local: StubNode, identity: str, at: datetime) -> None:
    local.connections.add(identity)
    await node.claim(identity, at)


async def test_a_call_travels_to_the_holder_and_back(nodes: Any) -> None:
    (a, on_a), (b, _) = await nodes("A"), await nodes("B")
    await connect(a, on_a, "CP1", T0)
    request = m.ResetRequest(type=ResetType.SOFT)
    response = await b.call("CP1", request, None, False, Fence("site-controller", 7))
    assert response == m.ResetResponse(status=ResetStatus.ACCEPTED)
    assert on_a.calls == [("CP1", request, Fence("site-controller", 7))]
    assert (await b.holders(["CP1", "CP2"])).keys() == {"CP1"}
    with pytest.raises(NotHeld):
        await b.call("CP2", request, None, False)
    with pytest.raises(NotHeld):  # its own entry: the connection ended as the call came
        await a.call("CP1", request, None, False)


async def test_a_live_name_is_refused_and_the_first_node_keeps_it(
    nodes: Any, redis_server: RedisServer
) -> None:
    await nodes("A")
    twin = RedisCluster(redis_server.url, "A", "x", "test", lambda: T0)
    with pytest.raises(NodeNameTaken):
        await twin.start(StubNode())


async def test_a_lost_key_is_registered_again_with_its_chargers(
    nodes: Any, client: redis.Redis
) -> None:
    """Redis restarted empty (here: flushed, the test's own server), or the node paused past
    its lease and was swept: it registers again and claims what it holds."""
    (a, on_a), (b, _) = await nodes("A"), await nodes("B")
    await connect(a, on_a, "CP1", T0)
    await connect(a, on_a, "CP2", T0)
    await client.flushall()

    async def back() -> bool:
        return (await b.holders(["CP1", "CP2"])).keys() == {"CP1", "CP2"}

    await eventually(back, what="A's chargers claimed again")
    assert [n.name for n in await b.nodes()] == ["A", "B"]


async def test_after_an_outage_the_newer_connection_wins(nodes: Any) -> None:
    """Each node held the charger while Redis was away from the other: once both reach it,
    the older connection is closed, whichever node claims first."""
    (a, on_a), (b, on_b) = await nodes("A"), await nodes("B")
    for older, newer, on_older, identity in [(a, b, on_a, "CP1"), (b, a, on_b, "CP2")]:
        on_newer = on_b if newer is b else on_a
        await connect(older, on_older, identity, T0)
        newer._trouble = "test: Redis away"  # claims only in memory now
        await connect(newer, on_newer, identity, T0 + timedelta(seconds=1))

        async def settled(
            identity: str = identity, newer: RedisCluster = newer, on_older: StubNode = on_older
        ) -> bool:
            holders = await a.holders([identity])
            held = identity in holders and holders[identity].node == newer.node_name
            return held and bool(on_older.closed)  # the older node answers after its close

        await eventually(settled, what=f"{identity} held by {newer.node_name}")

        async def closed(on_older: StubNode = on_older) -> bool:
            return bool(on_older.closed)  # asked once the newer entry is written: it may lag

        await eventually(closed, what=f"the older connection of {identity} closed")
        assert on_older.closed == [(identity, 1000, "replaced by a new connection")]
        assert identity in on_newer.connections
        on_older.closed.clear()

    # The other way round: the node that was away holds the older connection.
    await connect(b, on_b, "CP3", T0 + timedelta(seconds=5))
    a._trouble = "test: Redis away"
    await connect(a, on_a, "CP3", T0)

    async def closed_on_a() -> bool:
        return on_a.closed == [("CP3", 1000, "replaced by a new connection")]

    await eventually(closed_on_a, what="A's older CP3 closed")
    assert (await b.holders(["CP3"]))["CP3"].node == "B"


async def test_sweep_deletes_what_dead_nodes_left(nodes: Any, client: redis.Redis) -> None:
    (a, on_a), _ = await nodes("A"), await nodes("B")
    await connect(a, on_a, "CP1", T0)
    await client.hset(OWNERS, "CP9", f"Dead|run9|tok|{T0.isoformat()}")
    await client.hset(OWNERS, "CP8", f"A|an-earlier-run|tok|{T0.isoformat()}")
    await client.hset(OWNERS, "CP7", "garbage")
    await client.hset("ocppd:nodes", "Dead", b'{"run":"run9"}')
    assert await a.sweep() == 4
    assert set(await client.hkeys(OWNERS)) == {b"CP1"}
    assert set(await client.hkeys("ocppd:nodes")) == {b"A", b"B"}
    assert await a.connected() == ["CP1"]


async def test_release_never_deletes_a_newer_holder(nodes: Any) -> None:
    (a, on_a), (b, on_b) = await nodes("A"), await nodes("B")
    await connect(a, on_a, "CP1", T0)
    await connect(b, on_b, "CP1", T0 + timedelta(seconds=1))
    assert on_a.closed  # replaced
    await a.release("CP1")  # A's connection ends late
    assert (await a.holders(["CP1"]))["CP1"].node == "B"
    await b.release("CP1")
    assert await a.holders(["CP1"]) == {}


async def test_a_lost_subscription_is_noticed_and_made_again(
    nodes: Any, client: redis.Redis
) -> None:
    (a, on_a), (b, _) = await nodes("A"), await nodes("B")
    await connect(a, on_a, "CP1", T0)
    await client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # Redis drops them
    request = m.ResetRequest(type=ResetType.SOFT)

    async def answered() -> bool:
        try:
            return await b.call("CP1", request, 5, False) is not None
        except (NotHeld, CallTimeout):  # A not listening yet, or B's reply lost
            return False

    await eventually(answered, what="a call answered after the subscriptions were dropped")
    # A listener deaf without a word (here: stopped) is found by the renewal's count.
    assert a._listener is not None
    a._listener.cancel()
    await asyncio.gather(a._listener, return_exceptions=True)
    await eventually(answered, what="a call answered after the listener was lost")
