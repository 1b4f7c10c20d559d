"""Housekeeping once per cluster per period: each period's run is claimed in Redis first
(`SET NX PX`), so one node runs it. Against a Redis of the test's own."""

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from ocppd.csms.cluster.nodes import node_key
from ocppd.csms.cluster.once import claim, once_key
from ocppd.csms.housekeeping import Claim, repeat
from tests.cluster_nodes import Cluster, charger
from tests.eventually import eventually
from tests.redis_server import RedisServer


class Node:
    """A node's housekeeping loop, with what its claims and runs were."""

    def __init__(self, redis: Redis, name: str, every: float) -> None:
        self.name = name
        self.redis = redis
        self.every = every
        self.claims: list[tuple[float, float, bool]] = []
        """(asked at, answered at, won), monotonic."""
        self.runs = 0
        self.task: asyncio.Task[None] | None = None

    async def claim(self, period: float) -> bool:
        asked = time.monotonic()
        won = await claim(self.redis, "prune", self.name, period)
        self.claims.append((asked, time.monotonic(), won))
        return won

    async def prune(self) -> int:
        self.runs += 1
        return 1

    def start(self, claimed: Claim | None = None) -> None:
        self.task = asyncio.create_task(
            repeat("pruning", self.prune, "pruned %d", self.every, claimed or self.claim)
        )

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def nodes(redis_client: Redis) -> AsyncIterator[Callable[[int, float], list[Node]]]:
    made: list[Node] = []

    def make(count: int, every: float) -> list[Node]:
        made.extend(Node(redis_client, f"node-{i}", every) for i in range(count))
        return made[-count:]

    yield make
    for node in made:
        if node.task is not None:
            await node.stop()


async def test_of_nodes_starting_together_one_runs_the_period(
    nodes: Callable[[int, float], list[Node]],
) -> None:
    started = nodes(3, 3600)
    for node in started:
        node.start()
    await eventually(lambda: all(node.claims for node in started), "every node claimed")
    assert sorted(node.runs for node in started) == [0, 0, 1]


async def test_runs_are_a_period_apart_cluster_wide_and_keep_coming(
    nodes: Callable[[int, float], list[Node]],
) -> None:
    period = 0.3
    started = nodes(2, period)
    for node in started:
        node.start()
    await eventually(lambda: sum(node.runs for node in started) >= 4, "four runs")
    won = sorted((asked, answered) for node in started for asked, answered, w in node.claims if w)
    # A claim is granted in Redis between its asking and its answer; the next one only once
    # the previous one expired, a period after it was granted (Redis counts in ms).
    for (asked, _), (_, answered) in itertools.pairwise(won):
        assert answered - asked >= period - 0.002


async def test_a_claim_that_fails_is_logged_and_a_later_period_runs(
    nodes: Callable[[int, float], list[Node]],
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis_server.stop()
    (node,) = nodes(1, 0.05)
    with caplog.at_level(logging.ERROR, logger="ocppd.csms.housekeeping"):
        node.start()
        await eventually(lambda: "pruning failed" in caplog.text, "the failure logged")
    assert node.runs == 0
    redis_server.start()
    await eventually(lambda: node.runs > 0, "runs once Redis answers")


async def test_without_a_claim_every_period_runs_here() -> None:
    runs: list[int] = []

    async def prune() -> int:
        runs.append(1)
        return 0

    task = asyncio.create_task(repeat("pruning", prune, "pruned %d", 0.01))
    await eventually(lambda: len(runs) >= 3, "three runs")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.slow
async def test_the_nodes_sweep_what_a_dead_node_left_once_a_period(cluster: Cluster) -> None:
    """Housekeeping of the cluster itself: a killed node's owners entry is deleted by the
    sweep of a live node once the dead node's lease expired (at its start here, then hourly,
    one node a period: the claim is there)."""
    a = cluster.start("A")
    async with charger(a, "CP1"):
        a.kill()
    async with contextlib.aclosing(Redis.from_url(cluster.redis.url)) as client:
        assert await client.hexists("ocppd:owners", "CP1")
        await cluster.lapse(node_key("A"))  # not waited for (10 s)
        await eventually(lambda: _expired(client, "A"), "the dead node's lease expires")
        b = cluster.start("B")
        await eventually(lambda: _gone(client), "the dead node's entry swept")
        assert await client.exists(once_key("cluster-sweep")) == 1
    assert b.running


async def _expired(client: Redis, node: str) -> bool:
    return not await client.exists(f"ocppd:node:{node}")


async def _gone(client: Redis) -> bool:
    return not await client.hexists("ocppd:owners", "CP1")
