"""What happens in the central system, as it happens: an in-process publish/subscribe bus.

The central system publishes (connections, boots, status changes, transactions, meter
values, command results); edges such as the API's event stream subscribe. Publishing never
waits: with no subscriber it costs a length check, and a subscriber that falls more than
`max_queued` events behind is ended (`overflowed`) rather than slowing the charge points down
or silently missing events; it can subscribe again.

In a cluster (csms/cluster/events.py) the bus is relayed: while other nodes listen, what is
published here is also handed to `forward`, and what other nodes published arrives through
`deliver`, to the subscribers here only (never forwarded again). A subscriber that would miss
events of other nodes (Redis lost) is ended with the reason (`end_all`).
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_QUEUED = 10_000


@dataclass(frozen=True)
class Event:
    type: str
    """Connected, Disconnected, BootNotification, StatusNotification, TransactionStarted,
    TransactionStopped, TransactionReconciled (a transaction the charger forgot, closed:
    `reconciliation`), MeterValues, CommandResult, CommandFailed, CompositeScheduleChecked,
    SiteProfileFailed, SecurityEvent (`security_events`), CertificateRequested and
    CertificateSent (`certificate_requests`)."""
    charge_point_id: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


_END = object()


class Subscription:
    def __init__(self, bus: "EventBus", max_queued: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Any] = asyncio.Queue(max_queued + 1)
        self._max = max_queued
        self.overflowed = False
        """Ended because events were lost: it fell behind, or (in a cluster) events of other
        nodes could not reach it; a subscriber that keeps state rebuilds it."""
        self.ended_because: str | None = None

    def _put(self, event: Event) -> None:
        if self._queue.qsize() >= self._max:
            self._end(f"fell more than {self._max} events behind", overflowed=True)
            return
        self._queue.put_nowait(event)

    def _end(self, reason: str | None = None, overflowed: bool = False) -> None:
        if self not in self._bus._subscribers:
            return
        self.ended_because = reason
        self.overflowed = overflowed
        self._bus._subscribers.discard(self)
        self._queue.put_nowait(_END)

    async def next(self, timeout: float | None = None) -> Event | None:
        """The next event; None when none came within `timeout` seconds. Raises
        StopAsyncIteration once the subscription has ended."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        if item is _END:
            self._queue.put_nowait(_END)
            raise StopAsyncIteration
        event: Event = item
        return event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while True:
            event = await self.next()
            if event is not None:
                return event

    def close(self) -> None:
        if self in self._bus._subscribers:
            self._end()


class EventBus:
    def __init__(self, max_queued: int = MAX_QUEUED) -> None:
        self.max_queued = max_queued
        self._subscribers: set[Subscription] = set()
        self.forward: Callable[[Event], None] | None = None
        """Set while other nodes listen: takes each event published here (must not wait)."""
        self.on_subscribe: Callable[[], None] | None = None
        """Told of each new subscription (a cluster asks the other nodes to forward)."""
        self._watchers: dict[str, list[Callable[[Event], None]]] = {}

    def watch(self, type: str, callback: Callable[[Event], None]) -> None:
        """`callback` is called with each event of `type` published on this node (it must not
        wait). Unlike a subscription it does not make the bus `active`: a part of the central
        system that follows one rare kind does not make every publisher build its events."""
        self._watchers.setdefault(type, []).append(callback)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self.max_queued)
        self._subscribers.add(subscription)
        if self.on_subscribe is not None:
            self.on_subscribe()
        return subscription

    @property
    def active(self) -> bool:
        """Someone listens, here or (forwarded) on another node: publishers that build costly
        events skip them otherwise."""
        return bool(self._subscribers) or self.forward is not None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, type: str, charge_point_id: str, at: datetime, /, **data: Any) -> None:
        # Positional-only: an event's data may have a `type` of its own (SecurityEvent).
        watchers = self._watchers.get(type)
        if watchers is not None:
            watched = Event(type, charge_point_id, at, data)
            for callback in watchers:
                callback(watched)
        forward = self.forward
        if not self._subscribers and forward is None:
            return
        event = Event(type, charge_point_id, at, data)
        if forward is not None:
            forward(event)
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        """To the subscribers here only (an event another node published)."""
        for subscription in list(self._subscribers):
            subscription._put(event)

    def end_all(self, reason: str) -> None:
        """End every subscription as having missed events (`overflowed`), saying why."""
        for subscription in list(self._subscribers):
            subscription._end(reason, overflowed=True)

    def close(self) -> None:
        """End every subscription (the central system stops)."""
        for subscription in list(self._subscribers):
            subscription._end()
