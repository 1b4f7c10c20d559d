"""The central system's side of OCPP-J: an ASGI application for `<prefix>/<identity>`.

Served by uvicorn (decision 0001) on the same port as the HTTP API: WebSocket requests under
the OCPP path prefix come here, everything else goes to `fallback` (the API and dashboard).
Before the upgrade it reads the identity from the last path segment (percent-decoded as
UTF-8: an identity whose escapes are not UTF-8 is refused, 404, so that no two spellings name
one charge point), HTTP Basic credentials and the connection's TLS facts (`tls.TlsFacts`), and
lets the `Endpoint` admit or refuse (401, 403, 404) the charge point. Refusals are logged at
INFO within the charger's log budget.
"""

import base64
import binascii
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

from ocppd.protocol.errors import shortened
from ocppd.rpc.log_budget import offences
from ocppd.transport.tls import TLS_EXTENSION, TlsFacts

log = logging.getLogger("ocppd.transport.server")

SUBPROTOCOL = "ocpp1.6"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
SendMessage = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, SendMessage], Awaitable[None]]
SendText = Callable[[bytes], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


@dataclass(frozen=True)
class Refusal:
    """Why a connection is refused before the upgrade: an HTTP status and a reason."""

    status: int
    reason: str


class Peer(Protocol):
    """What the endpoint hands back for an accepted connection."""

    async def receive(self, data: str) -> None: ...


class Endpoint(Protocol):
    async def admit(self, identity: str, password: str | None, tls: TlsFacts | None) -> Any:
        """What to open for the connection (`open`), or a `Refusal`. `tls`: the connection's
        TLS (None: plain TCP), its client certificate verified by OpenSSL when it has one."""

    async def open(self, admitted: Any, send: SendText, close: Close) -> Peer: ...

    async def closed(self, peer: Any, code: int) -> None: ...


class OcppApp:
    def __init__(
        self, endpoint: Endpoint, path_prefix: str = "/ocpp", fallback: ASGIApp | None = None
    ) -> None:
        self.endpoint = endpoint
        self.prefix = path_prefix.rstrip("/") + "/"
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: SendMessage) -> None:
        if scope["type"] == "websocket" and scope["path"].startswith(self.prefix):
            # Admission returns before the connection runs: an idle connection's task holds
            # one coroutine frame less (decision 0002, idle memory).
            accepted = await self._accept(scope, receive, send)
            if accepted is not None:
                await self._run(*accepted, receive, send)
        elif self.fallback is not None:
            await self.fallback(scope, receive, send)
        elif scope["type"] == "http":
            await _http_response(send, 404, "not found")
        elif scope["type"] == "websocket":
            await receive()
            await _deny(send, 404, "not an OCPP endpoint")
        elif scope["type"] == "lifespan":
            await lifespan(receive, send)

    async def _accept(
        self, scope: Scope, receive: Receive, send: SendMessage
    ) -> tuple[str, Any] | None:
        """The identity and what the endpoint admitted, once accepted; None if refused."""
        if (await receive())["type"] != "websocket.connect":
            return None
        identity = _identity(scope, self.prefix)
        if identity is None:
            refusal = Refusal(
                404, "charge point identity must be UTF-8 once percent-decoded (%XX escapes)"
            )
            await _refuse(send, scope["path"], refusal)
            return None
        user, password = _basic_credentials(scope)
        if user is not None and user != identity:
            refusal = Refusal(401, "Basic auth user must be the charge point identity")
            await _refuse(send, identity, refusal)
            return None
        # Taken out of the scope, which lives as long as the connection.
        tls = scope.get("extensions", {}).pop(TLS_EXTENSION, None)
        admitted = await self.endpoint.admit(identity, password, tls)
        if isinstance(admitted, Refusal):
            await _refuse(send, identity, admitted)
            return None
        if SUBPROTOCOL not in scope.get("subprotocols", []):
            # OCPP-J: complete the handshake without the header, then close at once.
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1002, "reason": "ocpp1.6 required"})
            log.info("%s offered no ocpp1.6 subprotocol: closed", identity)
            return None
        await send({"type": "websocket.accept", "subprotocol": SUBPROTOCOL})
        # Everything needed from the request's headers has been read; the scope lives as long
        # as the connection (days), its header list need not (1 KiB per connection).
        scope["headers"] = ()
        return identity, admitted

    async def _run(self, identity: str, admitted: Any, receive: Receive, send: SendMessage) -> None:
        socket = _Socket(send)
        peer = await self.endpoint.open(admitted, socket.send_text, socket.close)
        code: int | None = None
        try:
            while code is None:
                # Each message is handled in a call of its own, so that none is kept while
                # the connection waits for the next one.
                try:
                    code = await _deliver(await receive(), identity, peer, socket)
                except OSError:
                    # An answer found the connection closed (the session answers some calls
                    # as it reads them): ASGI servers raise OSError from such a send, and
                    # the disconnect, with its code, comes from the next receive.
                    log.debug("%s: answer not sent: disconnected", identity)
        except Exception:
            # A defect of ours, not the charger's: logged here, once, and not re-raised (the
            # ASGI server would log it again and record nothing of the close).
            log.exception("%s: connection failed; closing it with 1011", identity)
            code = await socket.fail()
        finally:
            await self.endpoint.closed(peer, socket.ended(code))


async def _deliver(message: Message, identity: str, peer: Peer, socket: "_Socket") -> int | None:
    """Hand a received message to the peer; the close code when the connection ends."""
    if message["type"] == "websocket.disconnect":
        code: int = message.get("code", 1005)
        if code == 1009:
            line = "%s: frame over the size limit; connection closed"
            offences.log(log, logging.WARNING, identity, line, identity)
        return code
    text = message.get("text")
    if text is None:
        line = "%s: binary frame refused (OCPP-J is text)"
        offences.log(log, logging.WARNING, identity, line, identity)
        await socket.close(1003, "OCPP-J frames are text")
        return 1003
    await peer.receive(text)
    return None


class _Socket:
    """An accepted WebSocket as the endpoint uses it: text out, one close, nothing after
    (a class with slots: smaller than closures, per idle connection). `close_code` is the
    code of the close it sent, 0 once it ended otherwise."""

    __slots__ = ("_send", "close_code")

    def __init__(self, send: SendMessage) -> None:
        self._send = send
        self.close_code: int | None = None

    async def send_text(self, data: bytes) -> None:
        if self.close_code is None:
            await self._send({"type": "websocket.send", "text": data.decode()})

    async def close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = code
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def fail(self) -> int:
        """Close with 1011 (internal error) if still open; the code the socket was closed with."""
        with contextlib.suppress(OSError):  # the charger went first: nothing to close
            await self.close(1011, "internal error")
        return self.close_code or 1011

    def ended(self, received: int | None) -> int:
        """The close code of the connection, received or sent; nothing more is sent."""
        code = received if received is not None else self.close_code or 1000
        self.close_code = 0
        return code


# A `%` that does not start an escape of two hex digits (RFC 3986, 2.1).
_MALFORMED_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def _identity(scope: Scope, prefix: str) -> str | None:
    """The percent-decoded last segment; None when its bytes are not UTF-8 (`%ff` would
    otherwise become U+FFFD, the same charge point as `%fe` and `%EF%BF%BD`), or when a `%`
    starts no escape (`%` itself would otherwise be the same charge point as `%25`)."""
    raw = scope.get("raw_path") or scope["path"].encode()
    rest = raw[len(prefix.encode()) :]
    if b"/" in rest:
        return ""  # `<prefix>/<identity>`: exactly one segment
    if _MALFORMED_ESCAPE.search(rest):
        return None
    try:
        return unquote_to_bytes(rest).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _basic_credentials(scope: Scope) -> tuple[str | None, str | None]:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:6].lower() == b"basic ":
            try:
                decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            user, _, password = decoded.partition(":")
            return user, password
    return None, None


async def _refuse(send: SendMessage, who: str, refusal: Refusal) -> None:
    # An identity refused for its length can be a request line long (8 KiB): its line in the
    # log, and its key in the log budget (up to 10,000 of them), hold a bounded prefix.
    who = shortened(who)
    status, reason = refusal.status, refusal.reason
    offences.log(log, logging.INFO, who, "refused %r: %d %s", who, status, reason)
    await _deny(send, status, reason)


async def _deny(send: SendMessage, status: int, reason: str) -> None:
    """An HTTP answer instead of the WebSocket upgrade (the ASGI websocket.http.response)."""
    await _plain_text(send, "websocket.http.response", status, reason)


async def _http_response(send: SendMessage, status: int, text: str) -> None:
    await _plain_text(send, "http.response", status, text)


async def _plain_text(send: SendMessage, kind: str, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": f"{kind}.start", "status": status, "headers": headers})
    await send({"type": f"{kind}.body", "body": body})


async def lifespan(receive: Receive, send: SendMessage) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
