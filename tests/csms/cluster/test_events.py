"""Events everywhere: event buses of several nodes relayed through a Redis of the test's own."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from ocppd.csms.cluster import ClusterUnavailable
from ocppd.csms.cluster.events import Batch, EventRelay, WireEvent
from ocppd.csms.events import Event, EventBus, Subscription
from tests.redis_server import RedisServer

AT = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
DEADLINE = 60.0


async def until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.02)


async def take(subscription: Subscription, count: int) -> list[Event]:
    got = []
    for _ in range(count):
        event = await subscription.next(DEADLINE)
        assert event is not None, f"{len(got)} of {count} events came"
        got.append(event)
    return got


async def rest(subscription: Subscription) -> list[Event]:
    """The events until the subscription ends (which it must)."""
    async with asyncio.timeout(DEADLINE):
        return [event async for event in subscription]


class Node:
    def __init__(self, name: str, redis: Redis, check_every: float, max_buffered: int) -> None:
        self.bus = EventBus()
        self.failed: list[str] = []
        """The Redis operations that failed (what metrics count)."""
        self.relay = EventRelay(
            redis,
            name,
            f"run-{name}",
            self.bus,
            check_every=check_every,
            max_buffered=max_buffered,
            redis_failed=self.failed.append,
        )


class Nodes:
    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.redis = Redis.from_url(server.url)
        self.started: list[Node] = []

    async def node(self, name: str, check_every: float = 0.2, max_buffered: int = 10_000) -> Node:
        node = Node(name, self.redis, check_every, max_buffered)
        await node.relay.start()
        self.started.append(node)
        await until(lambda: node.relay.unavailable is None, f"{name} connected")
        return node

    async def stop(self) -> None:
        for node in self.started:
            await node.relay.stop()
        await self.redis.aclose()


@pytest.fixture
async def nodes(redis_server: RedisServer) -> AsyncIterator[Nodes]:
    started = Nodes(redis_server)
    try:
        yield started
    finally:
        await started.stop()


async def test_events_published_on_one_node_reach_the_subscribers_of_another_in_order(
    nodes: Nodes,
) -> None:
    a, b = await nodes.node("a"), await nodes.node("b")
    a.bus.publish("Connected", "CP0", AT)  # nobody listens anywhere: not forwarded
    assert not a.bus.active and a.relay.stats.batches == 0
    here = b.bus.subscribe()
    await b.relay.listen()
    assert a.relay.forwarding and a.bus.active  # publishers build their events again
    # Nobody listens to b (a count taken while b subscribed may have counted b: once).
    await until(lambda: not b.relay.forwarding, "b does not forward")
    for n in range(500):
        a.bus.publish("MeterValues", f"CP{n % 3}", AT, connectorId=1, n=n, currentA=16.0)
    b.bus.publish("Heartbeat", "CPb", AT)  # b's own: delivered once, at once
    got = await take(here, 501)
    assert got[0] == Event("Heartbeat", "CPb", AT)
    relayed = got[1:]
    assert [e.data["n"] for e in relayed] == list(range(500))
    assert relayed[0] == Event(
        "MeterValues", "CP0", AT, {"connectorId": 1, "n": 0, "currentA": 16.0}
    )
    assert await here.next(0.2) is None
    # One PUBLISH per batch, not per event: the publisher gathered while one was under way.
    assert a.relay.stats.forwarded_events == 500
    assert a.relay.stats.batches < 500


async def test_event_data_comes_back_as_it_was_published(nodes: Nodes) -> None:
    a, b = await nodes.node("a"), await nodes.node("b")
    here = b.bus.subscribe()
    await b.relay.listen()
    stopped = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    published = [
        Event("StatusNotification", "CP1", AT, {"connectorId": 1, "timestamp": stopped}),
        Event("TransactionStarted", "CP1", AT, {"transactionId": 7, "connectorId": 1}),
        Event(
            "TransactionReconciled",
            "CP1",
            AT,
            {"transactionId": 6, "stoppedAt": stopped, "evidence": "x", "reason": "reconciled"},
        ),
        Event("CommandResult", "CP1", AT, {"action": "Reset", "response": {"status": "OK"}}),
        Event("MeterValues", "CP1", AT, {"transactionId": 7, "powerW": 7400.0, "phases": 3}),
    ]
    for event in published:
        a.bus.publish(event.type, event.charge_point_id, event.at, **event.data)
    assert await take(here, len(published)) == published


async def test_a_batch_is_relayed_once_never_again_by_its_receivers(nodes: Nodes) -> None:
    a, b, c = await nodes.node("a"), await nodes.node("b"), await nodes.node("c")
    on_b, on_c = b.bus.subscribe(), c.bus.subscribe()
    await b.relay.listen()
    await c.relay.listen()
    a.bus.publish("Connected", "CPa", AT)
    b.bus.publish("Connected", "CPb", AT)
    assert sorted(e.charge_point_id for e in await take(on_b, 2)) == ["CPa", "CPb"]
    assert sorted(e.charge_point_id for e in await take(on_c, 2)) == ["CPa", "CPb"]
    # Anything relayed twice would be here by now (a's and b's later events came after it).
    a.bus.publish("Disconnected", "CPa", AT)
    b.bus.publish("Disconnected", "CPb", AT)
    for subscription in (on_b, on_c):
        later = await take(subscription, 2)
        assert sorted(e.charge_point_id for e in later) == ["CPa", "CPb"]
        assert {e.type for e in later} == {"Disconnected"}
        assert await subscription.next(0.2) is None


async def test_forwarding_stops_once_nobody_listens_and_resumes_when_someone_does(
    nodes: Nodes,
) -> None:
    a, b = await nodes.node("a"), await nodes.node("b")
    here = b.bus.subscribe()
    await b.relay.listen()
    assert a.relay.forwarding
    here.close()
    await until(lambda: not a.relay.forwarding, "a stopped forwarding")
    assert not a.bus.active
    a.bus.publish("Connected", "CP0", AT)
    assert a.relay.stats.forwarded_events == 0
    again = b.bus.subscribe()
    await b.relay.listen()
    a.bus.publish("Connected", "CP1", AT)
    [event] = await take(again, 1)
    assert event.charge_point_id == "CP1"


async def test_a_node_that_joins_later_forwards_to_those_already_listening(
    nodes: Nodes,
) -> None:
    b = await nodes.node("b")
    here = b.bus.subscribe()
    await b.relay.listen()
    a = await nodes.node("a")  # heard no announcement: counts the listeners when it connects
    await until(lambda: a.relay.forwarding, "a forwards")
    a.bus.publish("Connected", "CP1", AT)
    [event] = await take(here, 1)
    assert event.charge_point_id == "CP1"


async def test_a_subscriber_alone_makes_its_node_listen(nodes: Nodes) -> None:
    """The site controller subscribes and never calls `listen`: its node listens anyway."""
    a, b = await nodes.node("a"), await nodes.node("b")
    here = b.bus.subscribe()
    await until(lambda: a.relay.forwarding, "a forwards")
    a.bus.publish("TransactionStarted", "CP1", AT, transactionId=1, connectorId=1)
    [event] = await take(here, 1)
    assert event.data == {"transactionId": 1, "connectorId": 1}


async def test_events_dropped_past_the_buffer_end_the_listeners_subscribers(
    nodes: Nodes,
) -> None:
    a, b = await nodes.node("a", max_buffered=10), await nodes.node("b")
    here = b.bus.subscribe()
    await b.relay.listen()
    for n in range(100):  # all at once: the buffer fills before its first PUBLISH
        a.bus.publish("MeterValues", "CP1", AT, n=n)
    assert a.relay.stats.dropped_events == 90
    await until(lambda: a.relay.stats.batches == 1, "the first ten sent")
    a.bus.publish("MeterValues", "CP1", AT, n=100)  # its batch shows the skip
    events = [event.data["n"] for event in await rest(here)]
    assert events == list(range(10))  # then ended: it would have missed events
    assert here.overflowed and here.ended_because is not None
    assert "lost" in here.ended_because
    assert b.relay.stats.gaps == 1


async def test_garbled_messages_on_the_channels_are_ignored(nodes: Nodes) -> None:
    a, b = await nodes.node("a"), await nodes.node("b")
    here = b.bus.subscribe()
    await b.relay.listen()
    bad_date = WireEvent("X", "CP1", AT, {"at": "yesterday"}, ["at"])
    for garbage in [
        b"\xff not json",
        b'{"node": "z"}',
        b"[]",
        msgspec.json.encode(Batch("z", "run-z", 0, [bad_date])),
    ]:
        await nodes.redis.publish("ocppd:events", garbage)
        await nodes.redis.publish("ocppd:events:control", garbage)
    await nodes.redis.publish("ocppd:events:control", b'{"type": "other"}')
    a.bus.publish("Connected", "CP1", AT)
    [event] = await take(here, 1)
    assert event.charge_point_id == "CP1"
    await until(lambda: b.relay.stats.garbled >= 5, "b counted the garbled messages")
    await b.relay.listen()  # still answered by a


async def test_redis_lost_ends_the_subscribers_refuses_listening_and_all_resumes(
    nodes: Nodes,
) -> None:
    a, b = await nodes.node("a"), await nodes.node("b")
    here = b.bus.subscribe()
    await b.relay.listen()
    nodes.server.stop()
    events = await rest(here)  # ends: events of other nodes cannot come
    assert events == []
    assert here.overflowed and here.ended_because is not None
    assert "cannot reach" in here.ended_because
    with pytest.raises(ClusterUnavailable, match="Redis"):
        await b.relay.listen()
    assert "events-subscription" in b.failed
    a.bus.publish("Connected", "CP0", AT)  # never waits, never raises
    meanwhile = b.bus.subscribe()  # e.g. the site controller: it will have missed events
    nodes.server.start()
    await until(lambda: b.relay.unavailable is None, "b connected again")
    assert meanwhile.overflowed  # ended once b is back
    await until(lambda: a.relay.unavailable is None, "a connected again")
    again = b.bus.subscribe()
    await b.relay.listen()
    a.bus.publish("Connected", "CP1", AT)
    [event] = await take(again, 1)
    assert event.charge_point_id == "CP1"


async def test_a_skipped_batch_number_ends_the_subscribers_an_older_one_is_delivered(
    nodes: Nodes,
) -> None:
    b = await nodes.node("b")
    here = b.bus.subscribe()
    await b.relay.listen()

    async def send(seq: int, identity: str) -> None:
        wire = [WireEvent("Connected", identity, AT, {})]
        await nodes.redis.publish("ocppd:events", msgspec.json.encode(Batch("z", "z1", seq, wire)))

    await send(5, "CP5")
    await send(3, "CP3")  # sent before z heard of b (its `heard` came first): delivered
    await send(6, "CP6")
    assert [e.charge_point_id for e in await take(here, 3)] == ["CP5", "CP3", "CP6"]
    await send(8, "CP8")
    assert [e.charge_point_id for e in await rest(here)] == []
    assert here.overflowed and here.ended_because == "events of node z were lost on the way (Redis)"
    again = b.bus.subscribe()
    await send(9, "CP9")
    assert [e.charge_point_id for e in await take(again, 1)] == ["CP9"]
