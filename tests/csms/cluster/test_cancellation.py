"""A loop around Redis ends when cancelled, though redis-py may lose the cancel."""

import asyncio

import pytest
from redis.asyncio import Redis

from ocppd.csms.cluster import cancellation
from ocppd.csms.cluster.cancellation import raise_if_cancelled
from tests.redis_server import RedisServer


async def test_a_loop_of_redis_commands_ends_when_cancelled(redis_server: RedisServer) -> None:
    redis = Redis.from_url(redis_server.url, socket_timeout=5)
    script = redis.register_script("return redis.call('get', KEYS[1])")

    async def loop() -> None:
        while True:
            await script(keys=["x"], args=[])
            raise_if_cancelled()
            await asyncio.sleep(0)

    try:
        for _ in range(50):
            tasks = [asyncio.create_task(loop()) for _ in range(2)]
            await asyncio.sleep(0.005)
            for task in tasks:
                task.cancel()
            async with asyncio.timeout(30):
                await asyncio.gather(*tasks, return_exceptions=True)
            assert all(task.cancelled() for task in tasks)
    finally:
        await redis.aclose()


async def test_a_task_that_lost_its_cancel_is_cancelled_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As redis-py can: the first cancel swallowed and the loop going on; `stop` must not
    wait for it forever."""
    monkeypatch.setattr(cancellation, "RECANCEL_EVERY", 0.01)
    swallowed = asyncio.Event()

    async def loop() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed.is_set():
                    raise
                swallowed.set()
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    await cancellation.cancel_and_wait(task, None)
    assert swallowed.is_set() and task.cancelled()
