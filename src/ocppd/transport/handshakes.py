"""Connections still being opened: a deadline each, and a cap on how many at once.

A connection is *pending* from the moment it is accepted until its request headers are in
(plain HTTP) or its WebSocket handshake is answered (101, or a refusal), including the
admission of the charge point. Without a bound, a client that sends nothing, half a request or
a byte now and then held its socket and file descriptor forever, and a thousand of them locked
everyone out (issue 17 §3).

- `timeout`: a pending connection is closed when its deadline passes, however many bytes it
  keeps trickling in;
- `limit`: when that many are pending, the oldest is closed to make room for the newest. A
  real charger's handshake takes milliseconds, so it gets through while an attacker's slow
  ones are turned over; refusing newcomers instead would lock chargers out for as long as the
  attacker holds its sockets.

`ocppd serve` gives uvicorn `GuardedHttpToolsProtocol` (`http=`) and an `OcppConfig` that
carries the `HandshakeGuard`; `CompactWebSocketProtocol` ends the pending time once the
handshake is answered. A TLS handshake comes before (the protocol sees the connection once it
is done): on `--tls-port` it is bounded by the same timeout (`tls.listen`), on `--port` with
TLS by asyncio's own 60 s (uvicorn makes that listener).
"""

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("ocppd.transport.handshakes")

HANDSHAKE_TIMEOUT = 10.0
MAX_PENDING_HANDSHAKES = 1000


class HandshakeGuard:
    """The pending connections of one server, oldest first, each with its deadline timer."""

    def __init__(
        self, timeout: float = HANDSHAKE_TIMEOUT, limit: int = MAX_PENDING_HANDSHAKES
    ) -> None:
        self.timeout = timeout
        self.limit = limit
        self._pending: dict[asyncio.BaseTransport, asyncio.TimerHandle] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def opening(self, transport: asyncio.BaseTransport, loop: asyncio.AbstractEventLoop) -> None:
        """`transport` starts (or, for the next request on it, starts again) to open."""
        if transport in self._pending:
            return
        while len(self._pending) >= self.limit:
            oldest = next(iter(self._pending))
            self._close(oldest, "evicted: %d connections pending", self.limit)
        self._pending[transport] = loop.call_later(self.timeout, self._expire, transport)

    def opened(self, transport: asyncio.BaseTransport) -> None:
        """`transport` is open (or closed): no deadline any more."""
        timer = self._pending.pop(transport, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        self._close(transport, "not opened within %.1f s", self.timeout)

    def _close(self, transport: asyncio.BaseTransport, why: str, *args: Any) -> None:
        self.opened(transport)
        peer = transport.get_extra_info("peername")
        log.debug("%s: closed, " + why, peer, *args)
        transport.close()


class OcppConfig(uvicorn.Config):
    """uvicorn's configuration with the guard of the server it configures."""

    def __init__(self, *args: Any, handshakes: HandshakeGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handshakes = handshakes


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
