"""A cancel that redis-py lost.

redis-py 8.2 on Python 3.11 can finish a command and return its reply to a task that was
cancelled while it waited (measured: about one cancel in two of a task looping on a script);
the CancelledError is gone, only `Task.cancelling()` remembers it. A loop around Redis then
never ends, and whoever awaits it after cancelling it (a `stop`) waits forever. Such loops call
`raise_if_cancelled` after each command.
"""

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError when this task was cancelled and the cancel went astray."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
