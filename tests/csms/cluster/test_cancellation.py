"""A loop around Redis ends when cancelled, though redis-py may lose the cancel."""

import asyncio

from redis.asyncio import Redis

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
