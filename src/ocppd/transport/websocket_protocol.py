"""uvicorn's sans-I/O WebSocket protocol, made small for connections that stay open for days.

`ocppd serve` gives `CompactWebSocketProtocol` to uvicorn as its `ws` protocol class. It is
uvicorn's `WebSocketsSansIOProtocol` (the handshake, the `websocket.http.response` denial,
pings and the keepalive timeout, the closing handshake, the frame-size limit, TLS: all its
code) with only what an idle connection holds changed (decision 0002, "Applied (4)"):

- the attributes live in slots: uvicorn sets 37 of them, more than CPython's shared-key
  instance dictionary takes (30), so each connection had a dictionary of its own (1.5 KiB);
- received messages wait in an `Inbox` (a list made only while messages wait, a future only
  while the application waits, which `receive` awaits directly) instead of an
  `asyncio.Queue` (four deques of 624 bytes);
- whether the transport takes more writes is a `WriteGate` (a flag, futures only while the
  transport is paused) instead of an `asyncio.Event` (one more deque);
- the handshake's request and response, with their headers, are dropped once it is done, and
  the last frame's payload once uvicorn has taken it.

Over TLS the connection's `TlsFacts` (version, cipher, verified client certificate) go in the
scope as `scope["extensions"]["ocppd.tls"]`, for admission (transport/tls.py).

Once the handshake is answered (101 or a refusal) the connection is no longer pending under
the server's `HandshakeGuard` (its deadline and cap, see handshakes.py).

And two of uvicorn's log lines that a hostile client could repeat at will (issue 17 §9):

- a refused handshake (`websocket.http.response`) counts as a completed handshake, so uvicorn
  does not log ERROR "ASGI callable returned without completing handshake" for each; its own
  INFO line for the refusal is filtered out (`DenialLogFilter`): the application logs the
  refusal, with its reason, within the charger's log budget;
- a text frame that is not UTF-8 is logged as one WARNING line without a traceback (uvicorn:
  ERROR with one), within the path's log budget, and closes the connection with 1007 as
  uvicorn does.

What it relies on in uvicorn (pinned in uv.lock) is checked by
tests/transport/test_websocket_protocol.py, which fails when uvicorn changes it.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame
from websockets.http11 import Request

from ocppd.rpc.log_budget import offences
from ocppd.transport.handshakes import guard_of
from ocppd.transport.tls import TLS_EXTENSION, tls_facts

log = logging.getLogger("ocppd.transport.websocket")

# Every attribute uvicorn's protocol sets (in __init__, handle_connect, connection_made).
UVICORN_ATTRIBUTES = (
    "config",
    "app",
    "loop",
    "logger",
    "root_path",
    "asgi_version",
    "app_state",
    "connections",
    "tasks",
    "default_headers",
    "transport",
    "server",
    "client",
    "scheme",
    "queue",
    "handshake_initiated",
    "handshake_complete",
    "close_sent",
    "disconnected",
    "close_timer",
    "close_timeout",
    "initial_response",
    "conn",
    "read_paused",
    "writable",
    "ping_interval",
    "ping_timeout",
    "ping_timer",
    "pong_timer",
    "pending_ping_payload",
    "ping_sent_at",
    "last_ping_rtt",
    "frames",
    "curr_msg_data_type",
    "request",
    "response",
    "scope",
)


class Inbox:
    """The messages received and not yet taken by the application, in order: what uvicorn
    uses of `asyncio.Queue` (`put_nowait`, `empty`) and what `receive` needs, without deques.
    It holds at most what one read of the socket brought: uvicorn pauses reading after each
    message until the application has taken them all."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else 0

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, message: Any) -> None:
        if self._items is None:
            self._items = [message]
        else:
            self._items.append(message)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def arrival(self) -> "asyncio.Future[None]":
        """Done when a message is put (awaited directly: no coroutine while idle)."""
        self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter

    def pop(self) -> Any:
        """The oldest message (the inbox must not be empty)."""
        items = self._items
        assert items is not None
        message = items.pop(0)
        if not items:
            self._items = None
        return message


class WriteGate:
    """Whether the transport takes more writes (uvicorn's `writable` Event: `set`, `clear`,
    `wait`), with futures only while it is paused."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> bool:
        while not self._open:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        return True


class CompactWebSocketProtocol(WebSocketsSansIOProtocol):
    __slots__ = UVICORN_ATTRIBUTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = WriteGate()  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        facts = tls_facts(self.transport)
        if facts is not None:
            # For admission (security profiles 2 and 3); the application takes it out.
            self.scope["extensions"][TLS_EXTENSION] = facts  # type: ignore[assignment]
        # The scope has the headers now; websockets' parser keeps the request for the
        # connection's life (a local of its generator), so its headers are emptied.
        event.headers.clear()
        self.request = None  # type: ignore[assignment]
        self._forget_handshake()

    # websockets' parser keeps the last frame received (a local of its generator) until the
    # next one: its payload, up to the size limit, is released once uvicorn has taken it.

    def handle_text(self, event: Frame) -> None:
        super().handle_text(event)
        event.data = b""

    def handle_bytes(self, event: Frame) -> None:
        super().handle_bytes(event)
        event.data = b""

    def handle_cont(self, event: Frame) -> None:
        super().handle_cont(event)
        event.data = b""

    def send_receive_event_to_app(self) -> None:
        """uvicorn's, with a quiet refusal of text that is not UTF-8."""
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return  # past `websocket.close`: read on until the peer's close arrives
        message: dict[str, Any]
        if self.curr_msg_data_type == "text":
            try:
                message = {"type": "websocket.receive", "text": data.decode()}
            except UnicodeDecodeError as exc:
                self._refuse_invalid_utf8(exc)
                return
        else:
            message = {"type": "websocket.receive", "bytes": data}
        self.queue.put_nowait(message)  # type: ignore[arg-type]
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def _refuse_invalid_utf8(self, exc: UnicodeDecodeError) -> None:
        path = self.scope["path"]
        text = "%s: text frame is not UTF-8 (%s at byte %d): closed with 1007"
        offences.log(log, logging.WARNING, path, text, path, exc.reason, exc.start)
        self.conn.send_close(1007)
        self.handle_parser_exception()

    async def receive(self) -> Any:
        """uvicorn's, on the inbox (one coroutine, not two, while the application waits)."""
        inbox: Inbox = self.queue  # type: ignore[assignment]
        while inbox.empty():
            await inbox.arrival()
        message = inbox.pop()
        if self.read_paused and inbox.empty():
            self.read_paused = False
            self.transport.resume_reading()
        return message

    def send(self, message: Any) -> Coroutine[Any, Any, None]:
        if self.handshake_complete:
            return super().send(message)
        return self._send_in_handshake(message)

    async def _send_in_handshake(self, message: Any) -> None:
        try:
            await super().send(message)
        finally:
            if self.initial_response is not None and self.close_sent:
                self.handshake_complete = True  # refused: done, not "returned without"
            self._forget_handshake()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_pending()
        super().connection_lost(exc)

    def _forget_handshake(self) -> None:
        if self.handshake_complete:
            self.response = None  # type: ignore[assignment]
            self._end_pending()

    def _end_pending(self) -> None:
        guard = guard_of(self.config)
        if guard is not None:
            guard.opened(self.transport)


_DENIAL_LINES = frozenset(['%s - "WebSocket %s" %d', "connection rejected (%d %s)"])
"""uvicorn's line for a handshake the application refused, and websockets' (uvicorn's logger)."""


class DenialLogFilter(logging.Filter):
    """Drops uvicorn's and websockets' INFO lines for a refused WebSocket handshake (the
    application logs the refusal with its reason, within the charger's log budget)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg in _DENIAL_LINES and record.levelno <= logging.INFO)


def quiet_denials(logger: logging.Logger | None = None) -> None:
    """Install `DenialLogFilter` on uvicorn's logger (once)."""
    logger = logger or logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DenialLogFilter) for f in logger.filters):
        logger.addFilter(DenialLogFilter())
