"""Waiting for a condition in tests: polled until true, with a deadline generous enough for a
loaded machine (the tests never assert how fast something happened)."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable

DEADLINE = 60.0


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], what: str, deadline: float = DEADLINE
) -> None:
    """Returns once `condition()` (awaited when it is a coroutine) is true; fails the test
    naming `what` after `deadline` seconds."""
    try:
        async with asyncio.timeout(deadline):
            while True:
                outcome = condition()
                if await outcome if inspect.isawaitable(outcome) else outcome:
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {deadline} s: {what}") from None
