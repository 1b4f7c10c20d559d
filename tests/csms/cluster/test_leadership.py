"""A named lease in Redis: one leader at a time, hand-over on stop, fencing of a paused or cut
off leader (decision 0005, "Cluster-wide singletons"). Against a Redis of the test's own."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from ocppd.csms.cluster import Fence
from ocppd.csms.cluster.leadership import Leadership, fence_holds, lease_key
from tests.eventually import eventually
from tests.redis_server import RedisServer


@dataclass
class Work:
    """What a candidate's callbacks saw: the fences it was elected with, its depositions."""

    name: str
    elected: list[Fence] = field(default_factory=list)
    deposed: int = 0
    leading: Fence | None = None
    fail_to_start: bool = False

    async def start(self, fence: Fence) -> None:
        self.elected.append(fence)
        if self.fail_to_start:
            raise RuntimeError("the database is away")
        self.leading = fence

    async def stop(self) -> None:
        self.deposed += 1
        self.leading = None


Candidate = Callable[..., Leadership]


@pytest.fixture
async def candidate(redis_client: Redis) -> AsyncIterator[Candidate]:
    """Makes candidates for the lease `site-controller`; those left running are stopped."""
    made: list[Leadership] = []

    def make(work: Work, **timing: float) -> Leadership:
        made.append(
            Leadership(
                redis_client,
                "site-controller",
                work.name,
                f"run-{work.name}",
                work.start,
                work.stop,
                **timing,
            )
        )
        return made[-1]

    yield make
    for leadership in made:
        await leadership.stop()


async def test_one_of_two_candidates_leads_and_hands_over_when_it_stops(
    redis_client: Redis, candidate: Candidate
) -> None:
    # A lease of a minute: the successor can only have come through the release.
    works = [Work("a"), Work("b")]
    nodes = [candidate(w, lease=60, renew=10, retry=0.05) for w in works]
    for node in nodes:
        await node.start()
    await eventually(lambda: any(w.leading for w in works), "someone leads")
    await asyncio.sleep(0.2)  # the other candidate tries meanwhile
    leaders = [n for n, w in zip(nodes, works, strict=True) if w.leading]
    assert len(leaders) == 1
    first = leaders[0]
    other = nodes[1 - nodes.index(first)]
    before = first.fence
    assert before is not None and await fence_holds(redis_client, before)
    await first.stop()
    assert first.fence is None and works[nodes.index(first)].deposed == 1
    await eventually(lambda: other.fence is not None, "the other takes over")
    after = other.fence
    assert after is not None and after.token > before.token
    assert not await fence_holds(redis_client, before)
    assert await fence_holds(redis_client, after)
    await other.stop()
    assert await redis_client.exists(lease_key("site-controller")) == 0


async def test_a_paused_leader_is_fenced_off_once_another_took_over(
    redis_client: Redis, candidate: Candidate
) -> None:
    old, new = Work("old"), Work("new")
    paused = candidate(old, lease=3, renew=0.2, retry=0.05)
    await paused.start()
    await eventually(lambda: old.leading is not None, "old leads")
    # Paused: nothing of it runs any more, it still believes it leads.
    assert paused._campaigning is not None
    paused._campaigning.cancel()
    stale = paused.fence
    assert stale is not None
    successor = candidate(new, lease=60, renew=10, retry=0.05)
    await successor.start()
    await eventually(lambda: new.leading is not None, "new leads once the old lease expired")
    assert paused.fence == stale and old.deposed == 0  # it does not know
    assert not await fence_holds(redis_client, stale)
    assert new.leading is not None and await fence_holds(redis_client, new.leading)
    await successor.stop()
    await paused.stop()


async def test_a_lapsed_lease_fences_its_leader_even_without_a_successor(
    redis_client: Redis, candidate: Candidate
) -> None:
    work = Work("a")
    paused = candidate(work, lease=3, renew=0.2, retry=0.05)
    await paused.start()
    await eventually(lambda: work.leading is not None, "a leads")
    assert paused._campaigning is not None
    paused._campaigning.cancel()
    fence = paused.fence
    assert fence is not None
    await eventually(lambda: _lapsed(redis_client), "the lease lapses")
    assert not await fence_holds(redis_client, fence)
    await paused.stop()


async def _lapsed(redis: Redis) -> bool:
    return await redis.exists(lease_key("site-controller")) == 0


async def test_a_leader_cut_off_from_redis_stops_and_leads_again_with_a_newer_token(
    candidate: Candidate, redis_client: Redis, redis_server: RedisServer
) -> None:
    work = Work("a")
    node = candidate(work, lease=4, renew=0.2, retry=0.05)
    await node.start()
    await eventually(lambda: work.leading is not None, "a leads")
    first = work.leading
    assert first is not None
    redis_server.stop()
    await eventually(lambda: work.deposed == 1, "deposed once it could not renew")
    assert node.fence is None
    redis_server.start()  # empty: the fence counter is gone
    await eventually(lambda: work.leading is not None, "leads again")
    again = work.leading
    assert again is not None and again.token > first.token
    assert await fence_holds(redis_client, again)
    await node.stop()


async def test_a_leader_keeps_its_lease_across_renewals(
    redis_client: Redis, candidate: Candidate
) -> None:
    work = Work("a")
    node = candidate(work, lease=10, renew=0.2, retry=0.05)
    await node.start()
    await eventually(lambda: work.leading is not None, "a leads")
    renewed = 0
    last = await redis_client.pttl(lease_key("site-controller"))
    while renewed < 3:
        await asyncio.sleep(0.05)
        now = await redis_client.pttl(lease_key("site-controller"))
        renewed += now > last
        last = now
    assert work.elected == [work.leading] and work.deposed == 0
    await node.stop()


async def test_a_leader_whose_work_fails_to_start_resigns_for_another(
    redis_client: Redis, candidate: Candidate
) -> None:
    failing, healthy = Work("failing", fail_to_start=True), Work("healthy")
    first = candidate(failing, lease=60, renew=10, retry=0.05)
    await first.start()
    await eventually(lambda: failing.elected != [], "the failing one is elected first")
    second = candidate(healthy, lease=60, renew=10, retry=0.05)
    await second.start()
    await eventually(lambda: healthy.leading is not None, "the healthy one takes over")
    assert failing.deposed == 1 and len(failing.elected) == 1
    await first.stop()
    await second.stop()
    assert failing.deposed == 1  # not told twice


async def test_stopping_a_candidate_leaves_the_leaders_lease_alone(
    redis_client: Redis, candidate: Candidate
) -> None:
    leader_work, other_work = Work("leader"), Work("other")
    leader = candidate(leader_work, lease=60, renew=10, retry=0.05)
    await leader.start()
    await eventually(lambda: leader_work.leading is not None, "leader leads")
    other = candidate(other_work, lease=60, renew=10, retry=0.05)
    await other.start()
    await asyncio.sleep(0.2)
    await other.stop()
    assert other_work.elected == [] and other_work.deposed == 0
    assert leader_work.leading is not None and await fence_holds(redis_client, leader_work.leading)
    await leader.stop()


async def test_what_is_not_a_lease_in_redis_fences_nothing_and_is_taken_over(
    candidate: Candidate, redis_client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await redis_client.set(lease_key("site-controller"), "garbage")  # no expiry: no node wrote it
    await redis_client.set("ocppd:fence:site-controller", "not a number")
    with caplog.at_level(logging.WARNING, logger="ocppd.cluster.leadership"):
        assert not await fence_holds(redis_client, Fence("site-controller", 1))
    assert "not node|run|token" in caplog.text
    work = Work("a")
    node = candidate(work, lease=60, renew=10, retry=0.05)
    await node.start()
    await eventually(lambda: work.leading is not None, "a leads")
    assert work.leading is not None and await fence_holds(redis_client, work.leading)
    await node.stop()


def test_a_lease_must_outlast_two_renewals() -> None:
    async def nothing() -> None: ...

    async def elected(_: Fence) -> None: ...

    with pytest.raises(ValueError, match="two renewal periods"):
        Leadership(Redis(), "x", "n", "r", elected, nothing, lease=1, renew=0.5)
