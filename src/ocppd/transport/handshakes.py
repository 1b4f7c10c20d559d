"""Connections still being opened: a deadline each, and a cap on how many at once.

A connection is *pending* from the moment it is accepted until its request headers are in
(plain HTTP) or its WebSocket handshake is answered (101, or a refusal), including the
admission of the charge point, and on a TLS listener its TLS handshake before all that.
Without a bound, a client that sends nothing, half a request or a byte now and then held its
socket and file descriptor forever, and a thousand of them locked everyone out (issue 17 §3).

- `timeout`: a pending connection is closed (aborted: its socket freed at once, TLS or not)
  when its deadline passes, however many bytes it keeps trickling in; one deadline for the
  whole opening, TLS handshake included;
- `limit`: when that many are pending, the oldest is closed to make room for the newest. A
  real charger's handshake takes milliseconds, so it gets through while an attacker's slow
  ones are turned over; refusing newcomers instead would lock chargers out for as long as the
  attacker holds its sockets. It is at most half the process's limit of open files: under a
  hard limit of 1,024, 1,000 pending connections and the process's own two dozen files left
  no descriptor to accept a charger with, until they timed out.

`ocppd serve` gives uvicorn `GuardedHttpToolsProtocol` (`http=`) and an `OcppConfig` that
carries the `HandshakeGuard`; `CompactWebSocketProtocol` ends the pending time once the
handshake is answered. asyncio's own TLS listeners show the protocol a connection only once
its TLS handshake is done, bounded by their 60 s and counted nowhere; so ocppd's TLS
listeners (`--port` with `--tls-cert`: `OcppConfig.tls`; `--tls-port`: `tls.listen`) are
plain TCP listeners whose connections start as a `TlsHandshake`: pending from the accept, the
TLS handshake done over the accepted transport (`loop.start_tls`), then the connection's own
protocol given the TLS transport with what is left of the deadline.
"""

import asyncio
import functools
import logging
import resource
import ssl
from collections.abc import Callable
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("ocppd.transport.handshakes")

HANDSHAKE_TIMEOUT = 10.0
MAX_PENDING_HANDSHAKES = 1000


def _within_file_limit(limit: int) -> int:
    """`limit`, or half the soft limit of open files when that is lower (logged)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or limit <= soft // 2:
        return limit
    bounded = max(1, soft // 2)
    text = "at most %d connections pending, not %d: half the open files limit (%d)"
    log.warning(text, bounded, limit, soft)
    return bounded


class HandshakeGuard:
    """The pending connections of one server, oldest first, each with its deadline timer."""

    def __init__(
        self, timeout: float = HANDSHAKE_TIMEOUT, limit: int = MAX_PENDING_HANDSHAKES
    ) -> None:
        self.timeout = timeout
        self.limit = _within_file_limit(limit)
        self._pending: dict[asyncio.Transport, asyncio.TimerHandle] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def opening(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        """`transport` starts (or, for the next request on it, starts again) to open."""
        if transport in self._pending:
            return
        while len(self._pending) >= self.limit:
            oldest = next(iter(self._pending))
            self._close(oldest, "evicted: %d connections pending", self.limit)
        self._pending[transport] = loop.call_later(self.timeout, self._expire, transport)

    def opened(self, transport: asyncio.Transport) -> None:
        """`transport` is open (or closed): no deadline any more."""
        timer = self._pending.pop(transport, None)
        if timer is not None:
            timer.cancel()

    def handed_over(
        self,
        transport: asyncio.Transport,
        successor: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """`transport`'s opening goes on as `successor` (the TLS transport over it, once the
        TLS handshake is done), against the same deadline."""
        timer = self._pending.pop(transport, None)
        if timer is not None:
            timer.cancel()
            self._pending[successor] = loop.call_at(timer.when(), self._expire, successor)

    def _expire(self, transport: asyncio.Transport) -> None:
        self._close(transport, "not opened within %.1f s", self.timeout)

    def _close(self, transport: asyncio.Transport, why: str, *args: Any) -> None:
        self.opened(transport)
        peer = transport.get_extra_info("peername")
        log.debug("%s: closed, " + why, peer, *args)
        # Aborted, not closed: nothing a connection that never opened could be owed is worth
        # its socket, and a TLS close waits up to 30 s for a close_notify such a client
        # never sends, holding the socket past the deadline and beyond the cap.
        transport.abort()


ProtocolFactory = Callable[[], asyncio.Protocol]

_handshaking: set["asyncio.Task[None]"] = set()
"""The TLS handshakes under way (the loop keeps only weak references to tasks)."""


class TlsHandshake(asyncio.Protocol):
    """A connection accepted on a TLS listener, until its TLS handshake is done: pending under
    the guard from the accept (counted under its cap, closed at its deadline like any opening
    connection), then handed to the protocol `make` makes, over TLS."""

    def __init__(self, make: ProtocolFactory, context: ssl.SSLContext, guard: HandshakeGuard):
        self._make = make
        self._context = context
        self._guard = guard
        self._early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is none by inheritance
        # Nothing is read before `start_tls` takes the transport: asyncio honours this,
        # uvloop starts reading once this returns all the same (see `data_received`).
        transport.pause_reading()
        self._raw = transport
        loop = asyncio.get_running_loop()
        self._guard.opening(transport, loop)
        task = loop.create_task(self._handshake(transport, loop))
        _handshaking.add(task)
        task.add_done_callback(_handshaking.discard)

    def data_received(self, data: bytes) -> None:
        # uvloop: the first bytes (the ClientHello), read before `start_tls` took over. They
        # are kept for the TLS protocol (`_hand_early_bytes`), and nothing more read till then.
        self._early.append(data)
        self._raw.pause_reading()

    async def _handshake(self, raw: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        early = _Handover()
        tls = None
        try:
            tls = await self._tls(raw, early, loop)
        finally:
            if tls is None:  # or cancelled, at shutdown
                self._guard.opened(raw)
                raw.close()
        if tls is not None:
            self._guard.handed_over(raw, tls, loop)
            early.hand_over(tls, self._make())

    async def _tls(
        self, raw: asyncio.Transport, early: "_Handover", loop: asyncio.AbstractEventLoop
    ) -> asyncio.Transport | None:
        """The TLS transport over `raw` once the handshake is done; None when it was closed
        before: evicted, its deadline passed, the peer left, or the handshake was refused
        (counted by `ServerContext`)."""
        if raw.is_closing():  # evicted before this task ran
            return None
        starting = loop.create_task(
            loop.start_tls(
                raw,
                early,
                self._context,
                server_side=True,
                # The guard's deadline (which closes it too), not asyncio's 60 s.
                ssl_handshake_timeout=self._guard.timeout,
            )
        )
        # Runs right after start_tls has put its TLS protocol on `raw`, before that protocol
        # reads anything (start_tls resumes reading in a later callback).
        loop.call_soon(self._hand_early_bytes, raw)
        try:
            tls = await starting
        except OSError:  # ssl.SSLError, ConnectionError, TimeoutError
            return None
        # asyncio's start_tls returns None when the connection was lost during the handshake.
        return tls if tls is not None and not tls.is_closing() else None

    def _hand_early_bytes(self, raw: asyncio.Transport) -> None:
        """The bytes read before start_tls took `raw`, to its TLS protocol (a buffered
        protocol, as the transport hands it what it reads)."""
        if not self._early or raw.is_closing() or raw.get_protocol() is self:
            return
        # asyncio's and uvloop's TLS protocols are both buffered (uvloop's not by inheritance).
        protocol = cast(asyncio.BufferedProtocol, raw.get_protocol())
        for data in self._early:
            while data:
                buffer = memoryview(protocol.get_buffer(len(data)))
                size = min(len(buffer), len(data))
                buffer[:size] = data[:size]
                protocol.buffer_updated(size)
                data = data[size:]
        self._early.clear()


class _Handover(asyncio.Protocol):
    """The TLS transport's protocol from the end of its handshake until the connection's own
    protocol takes it (a moment later, once `start_tls` has returned): what arrives in between,
    a request in the same packets as the client's Finished, is kept for that protocol."""

    def __init__(self) -> None:
        self._received: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        self._received.append(data)

    def hand_over(self, transport: asyncio.Transport, protocol: asyncio.Protocol) -> None:
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        for data in self._received:
            protocol.data_received(data)


def over_tls(
    make: Callable[..., asyncio.Protocol], context: ssl.SSLContext, guard: HandshakeGuard
) -> Callable[..., asyncio.Protocol]:
    """A protocol factory for a TLS listener: `make(**arguments)`'s protocols, each behind
    its `TlsHandshake`."""

    def accepted(**arguments: Any) -> asyncio.Protocol:
        return TlsHandshake(functools.partial(make, **arguments), context, guard)

    return accepted


class OcppConfig(uvicorn.Config):
    """uvicorn's configuration with the guard of the server it configures, and the TLS of
    its port (`tls`), done under that guard (`TlsHandshake`), not by uvicorn (its `ssl`)."""

    def __init__(
        self,
        *args: Any,
        handshakes: HandshakeGuard,
        tls: ssl.SSLContext | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.handshakes = handshakes
        self.tls = tls

    def load(self) -> None:
        super().load()
        if self.tls is not None:
            self.http_protocol_class = over_tls(  # type: ignore[assignment]
                self.http_protocol_class, self.tls, self.handshakes
            )


def guard_of(config: uvicorn.Config) -> HandshakeGuard | None:
    return config.handshakes if isinstance(config, OcppConfig) else None


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools), pending under the guard until a request's headers
    are in; an upgrade stays pending, for the WebSocket protocol to end."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_pending()

    def connection_lost(self, exc: Exception | None) -> None:
        guard = guard_of(self.config)
        if guard is not None:
            guard.opened(self.transport)
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_pending()  # the next request of a kept-alive connection

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        guard = guard_of(self.config)
        if guard is not None and not (self.parser.should_upgrade() and self._should_upgrade()):
            guard.opened(self.transport)

    def _start_pending(self) -> None:
        guard = guard_of(self.config)
        if guard is not None and not self.transport.is_closing():
            guard.opening(self.transport, self.loop)
