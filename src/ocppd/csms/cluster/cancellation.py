"""A cancel that redis-py lost.

redis-py 8.2 on Python 3.11 can finish a command and return its reply to a task that was
cancelled while it waited (measured: about one cancel in two of a task looping on a script);
the CancelledError is gone, only `Task.cancelling()` remembers it. A loop around Redis then
never ends, and whoever awaits it after cancelling it (a `stop`) waits forever. Such loops call
`raise_if_cancelled` after each command.
"""

import asyncio
from typing import Any


def raise_if_cancelled() -> None:
    """Raise CancelledError when this task was cancelled and the cancel went astray."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


RECANCEL_EVERY = 1.0
"""Seconds a cancelled task has to end before it is cancelled again."""


async def cancel_and_wait(*tasks: "asyncio.Task[Any] | None") -> None:
    """Cancel `tasks` and wait until they have ended, cancelling again any that a lost cancel
    kept going (a loop around Redis without `raise_if_cancelled`, or one in redis-py itself):
    a `stop` that awaits them can then not wait forever."""
    pending = {task for task in tasks if task is not None and not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_EVERY)
