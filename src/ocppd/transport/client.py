"""The charge point's side of OCPP-J: a WebSocket to the central system with a session over it.

`connect` opens `<url>/<percent-encoded identity>` offering the `ocpp1.6` subprotocol, with
Basic auth and TLS when given, and runs a charge-point `Session` over the socket until it
closes. Reconnecting (with backoff) is the station's job, not the transport's: a
`ChargePointClient` is one connection, start to end.
"""

import asyncio
import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any
from urllib.parse import quote, urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from ocppd.protocol.actions import Registry, Role
from ocppd.rpc.connection import Options, UniqueIds
from ocppd.rpc.session import FrameObserver, Handler, Session, SessionClosed

log = logging.getLogger("ocppd.transport.client")

SUBPROTOCOL = "ocpp1.6"


class SubprotocolRefused(InvalidHandshake):
    """The central system completed the handshake without agreeing to `ocpp1.6`."""


CONNECT_ERRORS = (OSError, InvalidHandshake, TimeoutError)
"""What `connect` raises when no connection could be opened (a station retries on these)."""


@dataclass(frozen=True)
class ClientOptions:
    """How a charge point connects. The defaults are a plain `ws://` charger (profile 0)."""

    password: str | None = None
    """Basic auth password (security profiles 1 and 2); the user name is the identity."""
    ssl: SSLContext | None = None
    """TLS for `wss://` URLs (profiles 2 and 3); None uses the system defaults for wss."""
    max_message_size: int = 4 * 1024 * 1024
    """Larger incoming messages close the connection (1009); a full local list fits."""
    ping_interval: float | None = None
    """Seconds between WebSocket pings (`WebSocketPingInterval`); None or 0 = never."""
    open_timeout: float = 10.0
    response_timeout: float = 30.0
    """How long a call waits for its answer (the `MessageTimeout` of the errata)."""
    outgoing: Callable[[bytes], list[bytes]] | None = None
    """Turns each frame the session sends into the frames written (a quirk persona bends
    them, after the session has validated them); None = as they are."""


def station_url(url: str, identity: str) -> str:
    """`<url>/<identity>` with the identity percent-encoded (`RDAM 123` -> `RDAM%20123`)."""
    return f"{url.rstrip('/')}/{quote(identity, safe='')}"


def basic_auth(identity: str, password: str) -> str:
    """The Authorization header value: Basic with `identity:password`."""
    token = base64.b64encode(f"{identity}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class ChargePointClient:
    """One open connection to the central system and the session that runs over it."""

    def __init__(self, websocket: ClientConnection, session: Session) -> None:
        self.websocket = websocket
        self.session = session
        self.muted = False
        """While set, received frames are dropped unanswered: after a Rejected boot the
        charge point "sends nothing and answers nothing" until the interval expires."""
        self._reader = asyncio.create_task(self._read(), name=f"read {session.name}")

    async def _read(self) -> None:
        try:
            async for message in self.websocket:
                if isinstance(message, bytes):
                    # OCPP-J is text only; a binary frame is nobody's message.
                    log.warning("%s: binary frame dropped", self.session.name)
                elif self.muted:
                    log.info("%s: muted, dropped %.200s", self.session.name, message)
                else:
                    await self.session.receive(message)
        except ConnectionClosed:
            pass  # async iteration ends quietly only on a clean close
        except Exception:
            # A bug above the transport must not leave a socket nobody reads.
            log.exception("%s: reading failed", self.session.name)
            await self.websocket.close(1011, "internal error")
        finally:
            await self.session.close(SessionClosed(f"{self.session.name}: connection closed"))

    async def wait_closed(self) -> None:
        """Return when the connection has closed, from either side."""
        await asyncio.shield(self._reader)

    @property
    def open(self) -> bool:
        return not self._reader.done()

    @property
    def peer_certificate(self) -> bytes | None:
        """The central system's certificate (DER) on a TLS connection, else None."""
        tls = self.websocket.transport.get_extra_info("ssl_object")
        return None if tls is None else tls.getpeercert(binary_form=True)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the WebSocket cleanly; the calls still waiting fail with SessionClosed."""
        await self.websocket.close(code, reason)
        await asyncio.gather(self._reader, return_exceptions=True)

    async def __aenter__(self) -> "ChargePointClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


async def connect(
    url: str,
    identity: str,
    *,
    options: ClientOptions | None = None,
    handlers: Mapping[str, Handler] | None = None,
    registry: Registry | None = None,
    rpc_options: Options | None = None,
    ids: UniqueIds | None = None,
    observer: FrameObserver | None = None,
) -> ChargePointClient:
    """Connect as charge point `identity` to the central system at `url`.

    Raises OSError, TimeoutError or InvalidHandshake (InvalidStatus for a 401 or 404,
    SubprotocolRefused) when no OCPP connection could be opened. `ids` should be the
    station's own, so unique ids stay unique across its reconnects.
    """
    options = options if options is not None else ClientOptions()
    headers = {}
    if options.password is not None:
        headers["Authorization"] = basic_auth(identity, options.password)
    tls: dict[str, Any] = {}
    if options.ssl is not None and urlsplit(url).scheme == "wss":
        # websockets refuses a context with ws:// (a ValueError, not a failed connection),
        # and a station may hold one for other things: FTPS, a later wss:// URL.
        tls["ssl"] = options.ssl
    websocket = await ws_connect(
        station_url(url, identity),
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        additional_headers=headers,
        max_size=options.max_message_size,
        ping_interval=options.ping_interval or None,
        open_timeout=options.open_timeout,
        **tls,
    )
    if websocket.subprotocol != SUBPROTOCOL:
        # A CS that agrees to none completes the handshake without the header, then closes.
        await websocket.close(1002, "ocpp1.6 required")
        raise SubprotocolRefused(f"{url} did not agree to {SUBPROTOCOL}")

    rewrite = options.outgoing

    async def send(data: bytes) -> None:
        # Frames are UTF-8 JSON: text, not binary.
        if rewrite is None:
            await websocket.send(data, text=True)
            return
        for frame in rewrite(data):
            await websocket.send(frame, text=True)

    session = Session(
        Role.CHARGE_POINT,
        send,
        handlers=handlers,
        registry=registry,
        options=rpc_options,
        response_timeout=options.response_timeout,
        name=identity,
        ids=ids,
        observer=observer,
    )
    return ChargePointClient(websocket, session)
