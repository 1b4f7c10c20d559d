"""An in-memory transport: two sessions joined by queues, as a WebSocket would join them."""

import asyncio
from collections.abc import Callable

from ocppd.rpc.session import Session


class Pipe:
    """One direction of a link: what one side sends, the other side's reader receives."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | str] = asyncio.Queue()
        self.sent: list[bytes | str] = []

    async def send(self, data: bytes | str) -> None:
        self.sent.append(data)
        await self.queue.put(data)


async def pump(pipe: Pipe, receive: Callable[[bytes | str], object]) -> None:
    """Feed everything that arrives on `pipe` to a receiver, forever (cancel to stop)."""
    while True:
        data = await pipe.queue.get()
        result = receive(data)
        if asyncio.iscoroutine(result):
            await result


class Link:
    """Two sessions talking; `raw` lets a test play one side by hand."""

    def __init__(self) -> None:
        self.to_a = Pipe()
        self.to_b = Pipe()
        self.tasks: list[asyncio.Task[None]] = []

    def attach(self, a: Session | None, b: Session | None) -> None:
        if a is not None:
            self.tasks.append(asyncio.create_task(pump(self.to_a, a.receive)))
        if b is not None:
            self.tasks.append(asyncio.create_task(pump(self.to_b, b.receive)))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
