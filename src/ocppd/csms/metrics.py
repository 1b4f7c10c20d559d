"""What a node counts, for Prometheus (`GET /metrics`, issue 18): declared once, here.

Every metric carries the node's name as the label `node` (`--node-name`, else
`node_default_name`), so that a scrape of several workers on one port, and a dashboard over
several nodes, tell them apart. Each `Metrics` has a registry of its own: several central
systems in one process (the tests) count apart.

A charger's frames are on the hot path: a prometheus_client `Counter.inc` costs about 4,500
instructions and a `Histogram.observe` 8,500 (callgrind), where a whole message costs about
300,000 (bench/instructions.py), so three of them per message would cost it 6 %. They are
counted in plain ints and floats instead (`Frames`, `Buckets`), and added to the Prometheus
objects when those are read: `flush`, at every scrape and, in multiprocess mode, every
`FLUSH_EVERY` seconds (another worker's scrape reads them from its files). What happens once
per batch, connection or command is counted on the Prometheus objects directly.

Multiprocess mode (prometheus_client's): when the environment variable
PROMETHEUS_MULTIPROC_DIR names a directory, every value is kept in a file of this process's
in that directory and a scrape of any process reads the files of all, so one scrape shows
every worker, each with its own `node` label. `ocppd serve --workers N` sets it to a fresh
directory for its workers; when a worker dies, `worker_died(pid)` must be called so that its
gauges stop counting (its counters stay: a restarted worker of the same name continues them).
It must be set before prometheus_client is first imported (it chooses how values are kept
then), so it comes from the process's environment (the supervisor sets it for its workers).
"""

import asyncio
import logging
import os
from bisect import bisect_left
from collections.abc import Sequence
from time import perf_counter
from typing import Any

import msgspec
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ocppd.protocol.actions import CORE, SECURITY
from ocppd.protocol.errors import error_code_from_wire
from ocppd.rpc.session import Direction, FrameObserver, Traffic

log = logging.getLogger("ocppd.csms.metrics")

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
"""Where the workers of one `ocppd serve --workers N` keep their values; "" = one process."""

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The Prometheus text format, 0.0.4: what every Prometheus reads."""

FLUSH_EVERY = 1.0
"""Seconds between flushes in multiprocess mode: how stale another worker's counts may be."""

# `_created` samples double the series and multiprocess mode has none: the same in both modes.
disable_created_metrics()  # type: ignore[no-untyped-call]

SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Bucket bounds of the latencies: a message's answer is usually a commit away (milliseconds),
a database in trouble takes up to `--database-timeout` (10 s by default)."""
HOP_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0)
"""A command to a charger on another node: a Redis hop (target < 5 ms) plus the charger's
answer (up to the call's timeout, 30 s by default)."""
WRITES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
"""Writes in one commit: one at rest, hundreds under load, 2,000 at most (`max_batch`)."""

KNOWN_ACTIONS = frozenset(CORE) | frozenset(SECURITY)
UNKNOWN = "unknown"
"""The label of an action or code that is not OCPP 1.6's: a charger may send any string,
and each distinct label value would be a series of its own."""
OTHER_CLOSE = "other"
MESSAGE_TYPES = {2: "call", 3: "result", 4: "error", None: "invalid"}
"""The `type` label by OCPP-J message type; `invalid`: a frame that could not be read, or an
answer to no call of ours (dropped)."""

IN, OUT = Direction.IN, Direction.OUT


def multiprocess_problem() -> str | None:
    """Why multiprocess mode cannot work here (its directory is missing), or None."""
    if MULTIPROCESS_DIR and not os.path.isdir(MULTIPROCESS_DIR):
        return f"PROMETHEUS_MULTIPROC_DIR={MULTIPROCESS_DIR!r} is not a directory"
    return None


def worker_died(pid: int, directory: str | None = None) -> None:
    """A worker of `ocppd serve --workers N` is gone: its gauges (chargers connected, event
    streams) no longer count. For the supervisor, which sees it die; `directory`: the
    workers' PROMETHEUS_MULTIPROC_DIR (default: this process's)."""
    directory = directory or MULTIPROCESS_DIR
    if directory:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def action_label(action: str | None) -> str:
    return action if action is not None and action in KNOWN_ACTIONS else UNKNOWN


def error_code_label(code: object) -> str:
    """A CALLERROR's code as 1.6 names it (2.0.1's spellings mapped), else `unknown`."""
    known = error_code_from_wire(code) if isinstance(code, str) else None
    return UNKNOWN if known is None else known.value


def close_code_label(code: int) -> str:
    """The WebSocket close codes of RFC 6455 and IANA's registry (1000-1015) as they are;
    a peer may close with any of 3000-4999: those are `other`."""
    return str(code) if 1000 <= code <= 1015 else OTHER_CLOSE


class Buckets:
    """A histogram's observations since the last flush, as plain numbers (`Histogram.observe`
    costs 8,500 instructions; `add` a quarter of it, and `FrameMeter` writes it out)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: above every bound (+Inf)
        self.total = 0.0

    def add(self, value: float) -> None:
        # Prometheus buckets count values <= their bound: the first bound >= value.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def flush_into(self, histogram: Any) -> None:
        """Add what was observed to `histogram` (a labelled child) and start again.
        prometheus_client has no public way to add many observations at once; its bucket
        and sum values are reached directly (tests/csms/test_metrics.py checks that the
        result is what `observe` gives)."""
        buckets = histogram._buckets
        counts = self.counts
        for index, count in enumerate(counts):
            if count:
                buckets[index].inc(count)
                counts[index] = 0
        if self.total:
            histogram._sum.inc(self.total)
            self.total = 0.0


class Frames:
    """A node's frames since the last flush: how many by direction, type and action, the
    CALLERRORs by code, and how long its answers to the chargers' calls took, by action.
    Only actions of OCPP 1.6 (and None) become keys: a charger's unknown actions are counted
    as `unknown` and never grow a table."""

    def __init__(self) -> None:
        self.incoming: dict[int | None, dict[str | None, int]] = {t: {} for t in MESSAGE_TYPES}
        self.outgoing: dict[int | None, dict[str | None, int]] = {t: {} for t in MESSAGE_TYPES}
        self.errors: dict[tuple[Direction, str], int] = {}
        self.answers: dict[str | None, Buckets] = {}

    def first(self, by_action: dict[str | None, int], action: str | None) -> None:
        """A frame of an action not seen yet (or not OCPP's: never a key of its own)."""
        if action is None or action in KNOWN_ACTIONS:
            by_action[action] = 1
        else:
            by_action[UNKNOWN] = by_action.get(UNKNOWN, 0) + 1

    def buckets_of(self, action: str | None) -> Buckets:
        """Where the answers to calls of `action` are timed (made on its first answer)."""
        label = action_label(action)
        buckets = self.answers.get(label)
        if buckets is None:
            buckets = self.answers[label] = Buckets(SECONDS)
        return buckets

    def error(self, traffic: Traffic) -> None:
        """A CALLERROR, in or out: its code is read again from the frame (rare: errors only)."""
        try:
            frame = msgspec.json.decode(traffic.data)
        except msgspec.DecodeError:
            frame = None
        code = frame[2] if isinstance(frame, list) and len(frame) > 2 else None
        key = (traffic.direction, error_code_label(code))
        self.errors[key] = self.errors.get(key, 0) + 1


class FrameMeter:
    """The session observer of one connection: counts its frames into the node's `Frames`,
    times the answers to its calls, then hands the frame on to `then` (the message log).

    An answer is timed from the charger's call read (parsed and validated) to the answer
    handed to the socket: the handler and the commit it waits for. A charger that sends a
    call before its previous one is answered (OCPP allows one at a time) has only its last
    one timed.

    Every frame passes here, so it is written out without calls of its own, and the session
    is given the bound method `observe` (called for ~700 instructions under callgrind; an
    object with `__call__` ~1,300): ~7,900 a message (its call and answer), calls included."""

    __slots__ = ("answers", "call_at", "call_id", "frames", "incoming", "outgoing", "then")

    def __init__(self, frames: Frames, then: FrameObserver | None) -> None:
        self.frames = frames
        self.incoming = frames.incoming
        self.outgoing = frames.outgoing
        self.answers = frames.answers
        self.then = then
        self.call_id: str | None = None
        self.call_at = 0.0

    def observe(self, traffic: Traffic) -> None:
        message_type = traffic.message_type
        action = traffic.action
        if traffic.direction is IN:
            by_action = self.incoming[message_type]
            if message_type == 2:
                self.call_id = traffic.unique_id
                self.call_at = perf_counter()
        else:
            by_action = self.outgoing[message_type]
            call_id = self.call_id
            if call_id is not None and traffic.unique_id == call_id and message_type != 2:
                # The answer to the charger's call: timed.
                self.call_id = None
                seconds = perf_counter() - self.call_at
                buckets = self.answers.get(action)
                if buckets is None:
                    buckets = self.frames.buckets_of(action)
                buckets.counts[bisect_left(SECONDS, seconds)] += 1
                buckets.total += seconds
        try:
            by_action[action] += 1
        except KeyError:
            self.frames.first(by_action, action)
        if message_type == 4:
            self.frames.error(traffic)
        then = self.then
        if then is not None:
            then(traffic)


class Metrics:
    """One node's metrics: the Prometheus objects, in a registry of their own, and what the
    hot path counts before they are updated (`frames`)."""

    def __init__(self, node: str) -> None:
        problem = multiprocess_problem()
        if problem:
            raise RuntimeError(problem)
        self.node = node
        self.registry = registry = CollectorRegistry(auto_describe=True)
        labels = ("node",)

        def counter(name: str, text: str, *more: str) -> Counter:
            return Counter(name, text, (*labels, *more), registry=registry)

        def gauge(name: str, text: str) -> Gauge:
            # livesum: a worker's value counts while it lives (`worker_died`); one node is
            # one process, so the sum is its own value.
            return Gauge(name, text, labels, registry=registry, multiprocess_mode="livesum")

        def histogram(name: str, text: str, bounds: Sequence[float], *more: str) -> Histogram:
            return Histogram(name, text, (*labels, *more), registry=registry, buckets=bounds)

        self.chargers_connected = gauge(
            "ocppd_chargers_connected", "Chargers connected to this node now."
        )
        self.connections_opened = counter(
            "ocppd_connections_opened", "Charger connections accepted (WebSocket opened)."
        )
        self.connections_closed = counter(
            "ocppd_connections_closed",
            "Charger connections ended, by WebSocket close code (1000-1015, else other).",
            "code",
        )
        self.messages = counter(
            "ocppd_messages",
            "OCPP-J frames by direction (in: from chargers), type (call, result, error, "
            "invalid: not readable or answering no call) and action (unknown: not OCPP 1.6's).",
            "direction",
            "type",
            "action",
        )
        self.callerrors = counter(
            "ocppd_callerrors",
            "CALLERRORs by direction and code (unknown: not OCPP 1.6's).",
            "direction",
            "code",
        )
        self.handler_seconds = histogram(
            "ocppd_handler_seconds",
            "Seconds from a charger's call read to its answer sent (handler and commit), "
            "by action.",
            SECONDS,
            "action",
        )
        self.commit_seconds = histogram(
            "ocppd_commit_seconds",
            "Seconds a group commit took (one batch of writes), committed or not.",
            SECONDS,
        )
        self.batch_writes = histogram(
            "ocppd_commit_batch_writes",
            "Writes per group commit (about one per charger message; the frames' log rides "
            "along as one).",
            WRITES,
        )
        self.database_errors = counter(
            "ocppd_database_errors",
            "Group commits that failed, by reason: lost (connection lost; retried on a new "
            "one), unavailable (the batch failed whole), refused (a write refused: the batch "
            "is committed again in halves).",
            "reason",
        )
        self.commands = counter(
            "ocppd_commands",
            "Commands sent to chargers through the API, by action and outcome.",
            "action",
            "outcome",
        )
        self.cross_node_seconds = histogram(
            "ocppd_cross_node_command_seconds",
            "Seconds a command to a charger held by another node took, asked to answered.",
            HOP_SECONDS,
        )
        self.event_stream_subscribers = gauge(
            "ocppd_event_stream_subscribers", "Event streams (/api/v1/events) open on this node."
        )
        self.redis_errors = counter(
            "ocppd_redis_errors", "Redis operations that failed, by operation.", "operation"
        )
        self.tls_refused = counter(
            "ocppd_tls_handshakes_refused",
            "TLS handshakes refused, by OpenSSL's reason (a client certificate expired or of "
            "an untrusted CA, a TLS version or cipher suite not offered).",
            "reason",
        )
        self.frames = Frames()
        self._children: dict[tuple[Any, ...], Any] = {}
        self._flushing: asyncio.Task[None] | None = None

    def rename(self, node: str) -> None:
        """The node's name changed before it served anything (one node alone on port 0 takes
        the port it was given): the series from now on carry the new one."""
        self.node = node
        self._children.clear()

    def _child(self, family: Counter | Gauge | Histogram, *values: str) -> Any:
        """The labelled child of `family` for the node and `values`, made once (on first
        use: a series appears once there is something to count)."""
        key = (family, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(self.node, *values)
        return child

    # Connections

    def tls_handshake_refused(self, reason: str) -> None:
        """A TLS handshake failed (no charger identity is known yet)."""
        self._child(self.tls_refused, reason).inc()

    def connection_opened(self, connected: int) -> None:
        """A charger's connection was accepted; `connected` now."""
        self._child(self.connections_opened).inc()
        self._child(self.chargers_connected).set(connected)

    def connection_closed(self, code: int, connected: int) -> None:
        """A charger's connection ended with `code`; `connected` now."""
        self._child(self.connections_closed, close_code_label(code)).inc()
        self._child(self.chargers_connected).set(connected)

    def meter(self, then: FrameObserver | None = None) -> FrameObserver:
        """The frame observer of a new connection (`FrameMeter.observe`), handing each frame
        on to `then` (as called: an object's bound `__call__` is called faster than it)."""
        return FrameMeter(self.frames, then).observe

    # Storage

    def committed(self, writes: int, seconds: float) -> None:
        """A group commit of `writes` took `seconds` (whether it committed or failed)."""
        self._child(self.commit_seconds).observe(seconds)
        self._child(self.batch_writes).observe(writes)

    def database_error(self, reason: str) -> None:
        self._child(self.database_errors, reason).inc()

    # Commands, the cluster, the event stream

    def command(self, action: str, outcome: str) -> None:
        self._child(self.commands, action, outcome).inc()

    def cross_node_call(self, seconds: float) -> None:
        """A command sent through the node holding the charger took `seconds`."""
        self._child(self.cross_node_seconds).observe(seconds)

    def event_stream_opened(self) -> None:
        self._child(self.event_stream_subscribers).inc()

    def event_stream_closed(self) -> None:
        self._child(self.event_stream_subscribers).dec()

    def redis_error(self, operation: str) -> None:
        """A Redis operation failed (`operation`: a short fixed name, e.g. claim, publish)."""
        self._child(self.redis_errors, operation).inc()

    # Reading

    def flush(self) -> None:
        """What the hot path counted, added to the Prometheus objects."""
        frames = self.frames
        for direction, counts in ((IN, frames.incoming), (OUT, frames.outgoing)):
            for message_type, by_action in counts.items():
                for action, count in by_action.items():
                    if count:
                        type_label = MESSAGE_TYPES[message_type]
                        labels = (direction.value, type_label, action_label(action))
                        self._child(self.messages, *labels).inc(count)
                        by_action[action] = 0
        for (direction, code), count in frames.errors.items():
            if count:
                self._child(self.callerrors, direction.value, code).inc(count)
                frames.errors[direction, code] = 0
        for action, buckets in frames.answers.items():
            buckets.flush_into(self._child(self.handler_seconds, action_label(action)))

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format (`CONTENT_TYPE`): this node's, or in
        multiprocess mode those of every process sharing the directory."""
        self.flush()
        if not MULTIPROCESS_DIR:
            return generate_latest(self.registry)
        everyone = CollectorRegistry()
        collect = multiprocess.MultiProcessCollector
        collect(everyone, MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]
        return generate_latest(everyone)

    def start(self) -> None:
        """In multiprocess mode, flush every `FLUSH_EVERY` seconds: other workers' scrapes
        read this process's counts from its files and cannot ask it to flush."""
        if MULTIPROCESS_DIR and self._flushing is None:
            self._flushing = asyncio.create_task(self._keep_flushing(), name="metrics-flush")

    async def stop(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
            await asyncio.gather(self._flushing, return_exceptions=True)
            self._flushing = None
        self.flush()

    async def _keep_flushing(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                self.flush()
            except Exception:  # a full disk, say: the next flush tries again
                log.exception("metrics: flush failed")
