"""Requests to Redis coalesced: those that arrive while one round trip is in flight go
together in the next one (a reconnect storm's thousands of claims cost a handful of round
trips instead of thousands queued for the pool's connections)."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ocppd.csms.cluster.cancellation import cancel_and_wait

Item = TypeVar("Item")
Result = TypeVar("Result")

MOST = 1000
"""Items in one round trip at most (one script call: a few milliseconds of Redis's time)."""


class Batches(Generic[Item, Result]):
    """`await batches(item)`: its result, from `send` called with it and the items that
    arrived with it, in their order; the exception `send` raised for all of them."""

    def __init__(
        self, send: Callable[[list[Item]], Awaitable[Sequence[Result]]], most: int = MOST
    ) -> None:
        self._send = send
        self._most = most
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._sender: asyncio.Task[None] | None = None
        self.round_trips = 0
        """How many times `send` was called (for tests and curiosity)."""

    async def __call__(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_pending())
        return await future

    async def _send_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._most], self._pending[self._most :]
            self.round_trips += 1
            try:
                results = await self._send([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch + self._pending:
                    future.cancel()
                self._pending = []
                raise
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # its caller may have been cancelled meanwhile
                    future.set_result(result)

    async def stop(self) -> None:
        """The round trip in flight cancelled; the items waiting with it too."""
        await cancel_and_wait(self._sender)
