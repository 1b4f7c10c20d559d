"""Events everywhere (issue 18 §3, decision 0005): each node's event bus relayed, through Redis
pub/sub, to the subscribers of the other nodes.

Forwarding: while another node listens, each event published here is also appended to a
buffer (`EventBus.forward`: the publisher never waits on Redis), and one task PUBLISHes what
has gathered as one batch to `ocppd:events`, a batch at a time (so in order). The buffer is
bounded: past `max_buffered`, or when a PUBLISH fails, events are dropped and counted.

Listening: a node whose bus has subscribers subscribes to `ocppd:events` and hands the
batches of other nodes to them (`EventBus.deliver`: never forwarded again). It then announces
`listening` on `ocppd:events:control`; every node turns forwarding on and acknowledges, and
PUBLISH's receiver count says how many acknowledgements to expect: `listen` returns once all
came (at most `ACK_TIMEOUT`), so nothing published after it returned is missed. Every
`check_every` seconds each node counts the listeners (PUBSUB NUMSUB): it forwards while another
node listens and stops when none does, and stops listening when its bus has no subscribers.

Lost events are never silent: each batch carries its node's run id and a number that skips
when events were dropped. A listener that sees a skip, or that loses Redis, ends its
subscribers with the reason (`EventBus.end_all`): the site controller rebuilds from the
database, an event stream's client reconnects (503 while Redis is down). The relay connects
again by itself; subscribers that existed while it was cut off are ended once it is back.

Event data travels as JSON: `at` and the data's top-level datetimes (listed in the batch) come
back as datetimes; other values as their JSON form (a tuple as a list).
"""

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ocppd.csms.cluster import ClusterUnavailable
from ocppd.csms.cluster.cancellation import cancel_and_wait
from ocppd.csms.events import Event, EventBus

log = logging.getLogger("ocppd.csms.cluster.events")

MAX_BUFFERED = 10_000
"""Events waiting for their PUBLISH; more are dropped (Redis slower than the events)."""
MAX_BATCH = 1_000
"""Events in one PUBLISH at most (a message of a few hundred kB)."""
ACK_TIMEOUT = 1.0
"""How long `listen` waits for the other nodes' acknowledgements before it returns anyway."""
CHECK_EVERY = 5.0
"""Seconds between two counts of the listeners (forwarding stops this long after the last)."""
COMMAND_TIMEOUT = 5.0
"""A Redis command unanswered this long counts as failed."""
PING_EVERY = 2.0
DEAD_AFTER = 10.0
"""The subscription's connection is given up when Redis answered nothing for this long
(a black-holed Redis sends no reset)."""
RECONNECT_FIRST, RECONNECT_MAX = 0.1, 2.0
MAX_RUNS = 1_000
"""Runs whose sequence is remembered; beyond, forgotten (only a hostile channel has so many)."""
LOG_GARBLED_EVERY = 60.0

_RELAY_ERRORS = (RedisError, OSError, TimeoutError)
_SKIP = None
"""In the buffer: events were dropped here."""


# On the wire


# Fields are only ever added at the end (with defaults): a node of an older version ignores
# what it does not know (a rolling upgrade).


class WireEvent(msgspec.Struct, array_like=True):
    type: str
    charge_point_id: str
    at: datetime
    data: dict[str, Any]
    dates: list[str] = []
    """The keys of `data` whose values were datetimes."""

    @classmethod
    def of(cls, event: Event) -> "WireEvent":
        dates = [key for key, value in event.data.items() if isinstance(value, datetime)]
        return cls(event.type, event.charge_point_id, event.at, event.data, dates)

    def event(self) -> Event:
        """Raises msgspec.ValidationError when a listed date is none."""
        data = self.data
        for key in self.dates:
            data[key] = msgspec.convert(data.get(key), datetime)
        return Event(self.type, self.charge_point_id, self.at, data)


class Batch(msgspec.Struct):
    node: str
    run: str
    seq: int
    events: list[WireEvent]


class Listening(msgspec.Struct, tag="listening"):
    node: str
    run: str
    id: int


class Heard(msgspec.Struct, tag="heard"):
    """`node` (run `run`) forwards its events since it heard `Listening` `id` of run `to`:
    its batches numbered from `seq` on (a skip after that is a loss)."""

    node: str
    run: str
    to: str
    id: int
    seq: int


_encoder = msgspec.json.Encoder()
_batches = msgspec.json.Decoder(Batch)
_controls = msgspec.json.Decoder(Listening | Heard)


@dataclass
class RelayStats:
    """Counters, for metrics and tests."""

    forwarded_events: int = 0
    batches: int = 0
    """PUBLISHes of batches: the Redis operations events cost (none per event)."""
    dropped_events: int = 0
    received_events: int = 0
    gaps: int = 0
    """Skips seen in another node's batches: events lost on the way, subscribers ended."""
    garbled: int = 0
    redis_errors: int = 0


@dataclass
class _Announcement:
    heard: set[str]
    arrived: asyncio.Event


def without_retries(redis: Redis) -> Redis:
    """A client of the same server whose errors surface at once: redis-py's retries reconnect
    a subscription silently, and a listener must know that it may have missed messages."""
    pool = redis.connection_pool
    kwargs = {
        **pool.connection_kwargs,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_error": [],
        "decode_responses": False,
    }
    return Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))


class EventRelay:
    """Relays `bus` to and from the other nodes sharing `redis` (`node`: this node's name,
    `run`: its process's random id)."""

    def __init__(
        self,
        redis: Redis,
        node: str,
        run: str,
        bus: EventBus,
        *,
        prefix: str = "ocppd:",
        check_every: float = CHECK_EVERY,
        max_buffered: int = MAX_BUFFERED,
        redis_failed: Callable[[str], None] | None = None,
    ) -> None:
        """`redis_failed` is told of each failed Redis operation (its name: metrics)."""
        self.node = node
        self.run = run
        self.stats = RelayStats()
        self.unavailable: str | None = "not connected to Redis yet"
        """Why events of other nodes cannot reach this node now; None while they can."""
        self._redis = without_retries(redis)
        self._bus = bus
        self._channel = f"{prefix}events"
        self._control = f"{prefix}events:control"
        self._check_every = check_every
        self._max_buffered = max_buffered
        self._buffer: list[Event | None] = []
        """Events to send, and where events were dropped (`_SKIP`)."""
        self._pending = asyncio.Event()
        self._up = asyncio.Event()
        self._next_seq = 0
        self._pubsub: PubSub | None = None
        self._listening: asyncio.Future[str | None] | None = None
        """None: not subscribed to the events channel; else SUBSCRIBE sent, and its result
        None once Redis confirmed it, or why it never will."""
        self._last_seq: dict[str, int] = {}
        self._epoch = 0
        """Counts `Listening` announcements heard: a count of listeners taken across one is
        stale."""
        self._ids = itertools.count(1)
        self._announcements: dict[int, _Announcement] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._garbled_logged_at = -LOG_GARBLED_EVERY
        self._on_redis_failure = redis_failed

    # Lifecycle

    async def start(self, wait: float = COMMAND_TIMEOUT) -> None:
        """Connects (and again whenever Redis is lost) in the background; returns once
        connected, or after `wait` seconds."""
        self._bus.on_subscribe = self._subscribed
        self._spawn(self._keep_connected())
        self._spawn(self._keep_flushing())
        self._spawn(self._keep_checking())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), wait)

    async def stop(self) -> None:
        self._bus.on_subscribe = None
        self._bus.forward = None
        await cancel_and_wait(*self._tasks)
        await self._redis.aclose(close_connection_pool=True)

    def _redis_failed(self, operation: str) -> None:
        self.stats.redis_errors += 1
        if self._on_redis_failure is not None:
            self._on_redis_failure(operation)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def forwarding(self) -> bool:
        return self._bus.forward is not None

    # Forwarding (the publisher's side)

    def _forward(self, event: Event) -> None:
        """EventBus.forward: on the publisher's path, so an append and nothing more."""
        buffer = self._buffer
        if len(buffer) >= self._max_buffered:
            self.stats.dropped_events += 1
            if buffer[-1] is not _SKIP:
                buffer.append(_SKIP)
            return
        buffer.append(event)
        self._pending.set()

    def _forward_on(self) -> None:
        if self._bus.forward is None:
            log.debug("%s: forwarding events", self.node)
            self._bus.forward = self._forward

    def _forward_off(self, lost: str | None = None) -> None:
        """Stop forwarding: nobody listens, or (`lost`) what is buffered cannot be sent."""
        if self._bus.forward is not None:
            log.debug("%s: not forwarding events (%s)", self.node, lost or "nobody listens")
        self._bus.forward = None
        if lost is not None:
            # What is published until forwarding resumes is not sent either: the next
            # batch's number skips, so that a listener knows.
            self._next_seq += 1
            self.stats.dropped_events += sum(1 for event in self._buffer if event is not _SKIP)
            self._buffer.clear()

    async def _keep_flushing(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            while self._buffer:
                events = _leading_events(self._buffer, MAX_BATCH)
                if events:
                    del self._buffer[: len(events)]
                    await self._send(events)
                else:
                    del self._buffer[0]
                    self._next_seq += 1  # the listeners see that events were dropped here

    async def _send(self, events: list[Event]) -> None:
        seq = self._next_seq
        self._next_seq += 1
        try:
            payload = self._encode(seq, events)
        except Exception:  # a defect of ours: these events are lost, the listeners told
            log.exception("%s: %d events not encoded", self.node, len(events))
            self.stats.dropped_events += len(events)
            return
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await self._redis.publish(self._channel, payload)
        except _RELAY_ERRORS as error:
            self._redis_failed("events-publish")
            self.stats.dropped_events += len(events)
            log.warning("%s: %d events not forwarded: %s", self.node, len(events), _why(error))
            self._forward_off(lost=_why(error))
            return
        self.stats.batches += 1
        self.stats.forwarded_events += len(events)

    def _encode(self, seq: int, events: list[Event]) -> bytes:
        wire = [WireEvent.of(event) for event in events]
        try:
            return _encoder.encode(Batch(self.node, self.run, seq, wire))
        except (TypeError, msgspec.EncodeError):
            return _encoder.encode(Batch(self.node, self.run, seq, _encodable(wire)))

    # Listening (the subscriber's side)

    def _subscribed(self) -> None:
        """EventBus.on_subscribe: a subscriber here wants the other nodes' events too."""
        if self._listening is None and self._pubsub is not None:
            self._spawn(self._listen_quietly())

    async def _listen_quietly(self) -> None:
        with contextlib.suppress(ClusterUnavailable):
            await self.listen()

    async def listen(self, timeout: float = ACK_TIMEOUT) -> None:
        """Returns once every other node forwards its events here (at most `timeout` s after
        Redis confirmed the subscription). Raises ClusterUnavailable when Redis cannot be
        reached: events of other nodes would not arrive."""
        number = next(self._ids)
        announcement = _Announcement(set(), asyncio.Event())
        self._announcements[number] = announcement
        try:
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    await self._subscribe_events()
                    receivers = await self._redis.publish(
                        self._control, _encoder.encode(Listening(self.node, self.run, number))
                    )
            except _RELAY_ERRORS as error:
                self._redis_failed("events-listen")
                raise ClusterUnavailable(f"Redis: {_why(error)}") from error
            # Among the receivers: this node's own subscription to the control channel.
            await self._await_acknowledgements(int(receivers) - 1, announcement, timeout)
        finally:
            del self._announcements[number]
        if self.unavailable is not None:
            raise ClusterUnavailable(self.unavailable)

    async def _subscribe_events(self) -> None:
        pubsub = self._pubsub
        if pubsub is None or self.unavailable is not None:
            raise ClusterUnavailable(self.unavailable or "Redis connection lost")
        if self._listening is None:
            self._listening = asyncio.get_running_loop().create_future()
            self._last_seq.clear()
            await pubsub.subscribe(self._channel)
        lost = await asyncio.shield(self._listening)
        if lost is not None:
            raise ClusterUnavailable(lost)

    async def _await_acknowledgements(
        self, expected: int, announcement: _Announcement, timeout: float
    ) -> None:
        """`expected`: the control channel's other subscribers (the other nodes)."""
        deadline = time.monotonic() + timeout
        while len(announcement.heard) < expected and self.unavailable is None:
            announcement.arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.info(
                    "%s: %d of %d nodes acknowledged listening within %.1f s",
                    self.node,
                    len(announcement.heard),
                    expected,
                    timeout,
                )
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(announcement.arrived.wait(), remaining)

    async def _unsubscribe_events(self) -> None:
        listening, self._listening = self._listening, None
        if listening is not None and not listening.done():
            listening.set_result(None)  # its waiter's subscriber is gone
        self._last_seq.clear()
        if self._pubsub is not None:
            await self._pubsub.unsubscribe(self._channel)

    def _listening_confirmed(self) -> bool:
        listening = self._listening
        return listening is not None and listening.done() and listening.result() is None

    # The subscription's connection

    async def _keep_connected(self) -> None:
        delay = RECONNECT_FIRST
        while True:
            started = time.monotonic()
            try:
                reason = await self._session()
            except Exception as error:  # a defect of ours: log it, connect anew
                log.exception("%s: the events' subscription failed", self.node)
                reason = f"internal error: {_why(error)}"
            self._lost(reason)
            if time.monotonic() - started > RECONNECT_MAX * 2:
                delay = RECONNECT_FIRST  # it had worked for a while: retry at once
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def _session(self) -> str:
        """Subscribed to the control channel until Redis is lost; why it was."""
        pubsub = self._redis.pubsub()
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await pubsub.subscribe(self._control)
                while (message := await pubsub.get_message(timeout=COMMAND_TIMEOUT)) is None:
                    pass
            if message["type"] != "subscribe":
                return f"Redis answered SUBSCRIBE with {message['type']!r}"
            self._pubsub = pubsub
            self._connected()
            await self._read(pubsub)
        except _RELAY_ERRORS as error:
            self._redis_failed("events-subscription")
            return f"Redis unreachable: {_why(error)}"
        finally:
            self._pubsub = None
            with contextlib.suppress(*_RELAY_ERRORS):
                await pubsub.aclose()
        raise AssertionError("unreachable")  # _read returns only by raising

    def _connected(self) -> None:
        if self.unavailable is not None:
            log.info("%s: events of other nodes relayed again", self.node)
        self.unavailable = None
        self._up.set()
        if self._bus.subscribers:
            # They were there while this node was cut off: they missed events of other
            # nodes, and they learn it now (the site controller rebuilds, a stream ends).
            self._bus.end_all("events of other nodes did not reach this node for a while")
        self._spawn(self._check_quietly())

    def _lost(self, reason: str) -> None:
        if self.unavailable is None:
            log.warning("%s: events of other nodes cannot be relayed: %s", self.node, reason)
        self.unavailable = reason
        self._up.clear()
        listening, self._listening = self._listening, None
        if listening is not None and not listening.done():
            listening.set_result(reason)
        self._last_seq.clear()
        self._forward_off(lost=reason)
        for announcement in self._announcements.values():
            announcement.arrived.set()
        self._bus.end_all(f"events of other nodes cannot reach this node: {reason}")

    async def _read(self, pubsub: PubSub) -> None:
        heard_at = pinged_at = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=PING_EVERY)
            now = time.monotonic()
            if message is not None:
                heard_at = now
                self._on_message_safely(message)
            elif now - heard_at > DEAD_AFTER:
                raise TimeoutError(f"no answer from Redis for {DEAD_AFTER:.0f} s")
            if now - pinged_at >= PING_EVERY:
                pinged_at = now
                await pubsub.ping()

    def _on_message_safely(self, message: dict[str, Any]) -> None:
        try:
            self._on_message(message)
        except Exception:  # a defect of ours: the next message is handled all the same
            log.exception("%s: a message on the events' channels was not handled", self.node)

    def _on_message(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode(errors="replace")
        if kind == "subscribe" and channel == self._channel:
            listening = self._listening
            if listening is not None and not listening.done():
                listening.set_result(None)
        elif kind == "message" and channel == self._channel:
            self._on_batch(message["data"])
        elif kind == "message" and channel == self._control:
            self._on_control(message["data"])

    def _on_control(self, data: bytes) -> None:
        try:
            message = _controls.decode(data)
        except (msgspec.DecodeError, RecursionError) as error:  # nested too deeply
            self._garbled(self._control, data, error)
            return
        match message:
            case Listening(run=run) if run != self.run:
                self._epoch += 1
                self._forward_on()
                heard = Heard(self.node, self.run, message.run, message.id, self._next_seq)
                self._spawn(self._publish_quietly(self._control, _encoder.encode(heard)))
            case Heard(to=to) if to == self.run:
                if self._listening is not None:
                    self._remember_seq(message.run, message.seq - 1)
                announcement = self._announcements.get(message.id)
                if announcement is not None:
                    announcement.heard.add(message.run)
                    announcement.arrived.set()

    async def _publish_quietly(self, channel: str, payload: bytes) -> None:
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await self._redis.publish(channel, payload)
        except _RELAY_ERRORS as error:
            self._redis_failed("events-ack")
            log.info("%s: PUBLISH to %s failed: %s", self.node, channel, _why(error))

    def _on_batch(self, data: bytes) -> None:
        try:
            batch = _batches.decode(data)
            events = [wire.event() for wire in batch.events]
        except (msgspec.DecodeError, RecursionError) as error:  # nested too deeply
            self._garbled(self._channel, data, error)
            return
        if batch.run == self.run:
            return  # its events reached the subscribers here when they were published
        last = self._last_seq.get(batch.run)
        if last is None or batch.seq > last:
            if last is not None and batch.seq != last + 1:
                self.stats.gaps += 1
                log.warning("%s: events of node %s were lost on the way", self.node, batch.node)
                self._bus.end_all(f"events of node {batch.node} were lost on the way (Redis)")
            self._last_seq.pop(batch.run, None)
            self._remember_seq(batch.run, batch.seq)
        # else: sent before its node heard this one listening (its `heard` came first):
        # events from before the subscribers' streams opened, delivered all the same (pub/sub
        # never delivers a message twice, and the relay's client does not retry a PUBLISH).
        self.stats.received_events += len(events)
        for event in events:
            self._bus.deliver(event)

    def _remember_seq(self, run: str, seq: int) -> None:
        """The last batch of `run` that came (or that it had sent before it heard of this
        node listening): the next must be numbered `seq + 1`."""
        if run not in self._last_seq and len(self._last_seq) >= MAX_RUNS:
            self._last_seq.clear()
        self._last_seq.setdefault(run, seq)

    def _garbled(self, channel: str, data: bytes, error: Exception) -> None:
        self.stats.garbled += 1
        now = time.monotonic()
        if now - self._garbled_logged_at >= LOG_GARBLED_EVERY:
            self._garbled_logged_at = now
            log.error(
                "%s: a message on %s is not one of ocppd's (ignored; %d so far): %s: %r",
                self.node,
                channel,
                self.stats.garbled,
                error,
                data[:200],
            )

    # Who listens

    async def _keep_checking(self) -> None:
        while True:
            await asyncio.sleep(self._check_every)
            await self._check_quietly()

    async def _check_quietly(self) -> None:
        if self._pubsub is None:
            return
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await self.check()
        except _RELAY_ERRORS as error:
            self._redis_failed("events-count")
            log.info("%s: counting the event listeners failed: %s", self.node, _why(error))
        except Exception:
            log.exception("%s: counting the event listeners failed", self.node)

    async def check(self) -> None:
        """Listen while the bus here has subscribers; forward while another node listens."""
        if self._listening is not None and not self._bus.subscribers:
            await self._unsubscribe_events()
        elif self._listening is None and self._bus.subscribers:
            self._spawn(self._listen_quietly())
        mine_before, epoch = self._listening_confirmed(), self._epoch
        [(_, count)] = await self._redis.pubsub_numsub(self._channel)
        # Counted as a listener only when subscribed before and after the count was taken.
        others = int(count) - (1 if mine_before and self._listening_confirmed() else 0)
        if others > 0:
            self._forward_on()
        elif epoch == self._epoch:
            self._forward_off()


def _encodable(wire: list[WireEvent]) -> list[WireEvent]:
    """The events whose data JSON can carry (a publisher's bug must not stop the others)."""
    kept = []
    for event in wire:
        try:
            _encoder.encode(event)
        except (TypeError, msgspec.EncodeError) as error:
            log.error("event %s of %s not forwarded: %s", event.type, event.charge_point_id, error)
            continue
        kept.append(event)
    return kept


def _leading_events(buffer: list[Event | None], limit: int) -> list[Event]:
    """The first events of `buffer`, up to `limit` or its first skip."""
    events = []
    for item in buffer[:limit]:
        if item is _SKIP:
            break
        events.append(item)
    return events


def _why(error: BaseException) -> str:
    return str(error) or type(error).__name__
