"""`CompactWebSocketProtocol` under uvicorn, over real sockets: what it must keep of uvicorn's
protocol, what an idle connection no longer holds, and what it relies on in uvicorn."""

import ast
import asyncio
import dataclasses
import hashlib
import inspect
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import msgspec
import pytest
import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame

from ocppd.transport.server import Close, OcppApp, Refusal, SendText
from ocppd.transport.websocket_protocol import (
    UVICORN_ATTRIBUTES,
    CompactWebSocketProtocol,
    Inbox,
    WriteGate,
)
from tests.raw_websocket import ServerFrames, masked_text_frame, open_upgraded
from tests.servers import running

BOOT = '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'

# Endpoint and server


class Peer:
    def __init__(self, endpoint: "Endpoint", send: SendText, close: Close) -> None:
        self.endpoint = endpoint
        self.send = send
        self.close = close
        self.received: list[str] = []

    async def receive(self, data: str) -> None:
        self.received.append(data)
        if self.endpoint.hold is not None:
            await self.endpoint.hold.wait()
        elif data.startswith("close "):
            await self.close(1000, data.removeprefix("close "))
        else:
            await self.send(data.encode())


class Endpoint:
    """Admits every identity (unless told to refuse); its peers echo what they receive, or,
    while `hold` is set, keep the application busy until it is."""

    def __init__(self) -> None:
        self.refusal: Refusal | None = None
        self.hold: asyncio.Event | None = None
        self.peers: list[Peer] = []
        self.close_codes: asyncio.Queue[int] = asyncio.Queue()

    async def admit(self, identity: str, password: str | None, tls: Any = None) -> Any:
        return self.refusal or identity

    async def open(self, admitted: Any, send: SendText, close: Close) -> Peer:
        self.peers.append(Peer(self, send, close))
        return self.peers[-1]

    async def closed(self, peer: Any, code: int) -> None:
        self.close_codes.put_nowait(code)


@dataclasses.dataclass
class Served:
    server: uvicorn.Server
    endpoint: Endpoint

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def url(self, identity: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/{identity}"

    def protocol(self) -> CompactWebSocketProtocol:
        [protocol] = websocket_protocols(self.server)
        assert type(protocol) is CompactWebSocketProtocol
        return protocol

    async def peer(self) -> Peer:
        for _ in range(500):
            if self.endpoint.peers:
                return self.endpoint.peers[-1]
            await asyncio.sleep(0.01)
        raise AssertionError("no connection was opened")


def websocket_protocols(server: uvicorn.Server) -> list[Any]:
    return [c for c in server.server_state.connections if isinstance(c, WebSocketsSansIOProtocol)]


@asynccontextmanager
async def serving(**options: Any) -> AsyncIterator[Served]:
    """OcppApp on uvicorn with the protocol class, set up as `ocppd serve` sets it up."""
    settings: dict[str, Any] = {"ws_max_size": 1 << 20, "ws_ping_interval": None}
    endpoint = Endpoint()
    config = uvicorn.Config(
        OcppApp(endpoint),
        host="127.0.0.1",
        port=0,
        ws=CompactWebSocketProtocol,
        http="httptools",
        ws_per_message_deflate=False,
        lifespan="off",
        log_config=None,
        timeout_graceful_shutdown=5,  # a failed test may leave a connection that cannot flush
        **{**settings, **options},
    )
    async with running(config) as server:
        try:
            yield Served(server, endpoint)
        finally:
            if endpoint.hold is not None:
                endpoint.hold.set()  # uvicorn waits for the application to return


async def wait_until(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


# What it keeps of uvicorn's protocol


async def test_accepts_ocpp16_and_keeps_nothing_of_the_handshake() -> None:
    async with serving() as served:
        auth = {"Authorization": "Basic Q1AxOnNlY3JldA=="}
        async with connect(
            served.url("CP1"), subprotocols=["ocpp1.6"], additional_headers=auth
        ) as ws:
            assert ws.subprotocol == "ocpp1.6"
            await ws.send("hello")
            assert await ws.recv() == "hello"
            protocol = served.protocol()
            assert protocol.__dict__ == {}, "uvicorn set attributes outside the slots"
            assert protocol.request is None and protocol.response is None
            assert protocol.scope["headers"] == ()
            assert isinstance(protocol.queue, Inbox) and isinstance(protocol.writable, WriteGate)
            await ws.send("again")
            assert await ws.recv() == "again"


async def test_refused_before_the_upgrade_with_the_endpoints_status() -> None:
    async with serving() as served:
        for status, reason in [(401, "wrong AuthorizationKey"), (404, "unknown charge point")]:
            served.endpoint.refusal = Refusal(status, reason)
            with pytest.raises(InvalidStatus) as refused:
                async with connect(served.url("CP1"), subprotocols=["ocpp1.6"]):
                    pass
            assert refused.value.response.status_code == status
            assert refused.value.response.body == reason.encode()
        assert served.endpoint.peers == []


async def test_close_codes_in_both_directions() -> None:
    async with serving() as served:
        async with connect(served.url("CP1"), subprotocols=["ocpp1.6"]) as ws:
            await ws.send("hi")
            await ws.recv()
            await ws.close(4001, "going")
        assert await asyncio.wait_for(served.endpoint.close_codes.get(), 5) == 4001
        async with connect(served.url("CP2"), subprotocols=["ocpp1.6"]) as ws:
            await ws.send("close replaced")
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1000, "replaced")


async def test_a_frame_over_the_size_limit_closes_with_1009() -> None:
    async with serving(ws_max_size=1024) as served:
        async with connect(served.url("CP1"), subprotocols=["ocpp1.6"]) as ws:
            await ws.send("x" * 1024)
            assert await ws.recv() == "x" * 1024
            await ws.send("x" * 1025)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        assert await asyncio.wait_for(served.endpoint.close_codes.get(), 5) == 1009


async def test_pings_drop_a_dead_peer_and_keep_a_live_one() -> None:
    async with (
        serving(ws_ping_interval=0.2, ws_ping_timeout=0.2) as served,
        connect(served.url("LIVE"), subprotocols=["ocpp1.6"]) as live,
    ):
        with closing(await open_upgraded(served.port, "/ocpp/MUTE")) as mute:
            frames = ServerFrames(mute)
            opcodes = []
            started = time.monotonic()
            while (frame := await frames.next()) is not None:  # never answers a ping
                opcodes.append(frame[0])
                if frame[0] == 0x8:
                    assert int.from_bytes(frame[1][:2], "big") == 1011
        assert opcodes[0] == 0x9 and opcodes[-1] == 0x8  # pinged, then closed
        # By the pings (0.4 s), not by anything slower; generous for a loaded machine.
        assert time.monotonic() - started < 10
        await live.send("still here")
        assert await live.recv() == "still here"


async def test_a_flooding_client_is_read_no_faster_than_the_application_takes() -> None:
    frames = [masked_text_frame(f"{i:06} " + "x" * 1000) for i in range(30_000)]
    flood = b"".join(frames)  # 30 MB
    async with serving() as served:
        served.endpoint.hold = asyncio.Event()  # the application takes nothing
        with closing(await open_upgraded(served.port, "/ocpp/FLOOD")) as raw:
            sent = await send_until_blocked(raw, flood)
            protocol = served.protocol()
            assert sent < len(flood) // 2, "the server kept reading what it could not handle"
            assert protocol.read_paused
            waiting = len(protocol.queue)
            assert 1 <= waiting < 1024  # < 1 MiB held
            served.endpoint.hold.set()
            await asyncio.get_running_loop().sock_sendall(raw, flood[sent:])
            peer = await served.peer()
            await wait_until(lambda: len(peer.received) == len(frames), 30)
        assert [int(text[:6]) for text in peer.received] == list(range(len(frames)))


async def send_until_blocked(raw: socket.socket, data: bytes, patience: float = 0.5) -> int:
    """Bytes of `data` written before the socket took nothing more for `patience` seconds."""
    sent = 0
    idle_since = time.monotonic()
    while sent < len(data) and time.monotonic() - idle_since < patience:
        try:
            sent += raw.send(data[sent : sent + 65536])
            idle_since = time.monotonic()
        except BlockingIOError:
            await asyncio.sleep(0.01)
    return sent


async def test_writes_wait_while_the_client_does_not_read() -> None:
    # 19 MiB: more than the two kernels' socket buffers and the transport's hold.
    messages = [f"{i:04}" + "x" * 65532 for i in range(300)]
    async with serving() as served:
        with closing(await open_upgraded(served.port, "/ocpp/SLOW")) as raw:
            peer = await served.peer()

            async def send_all() -> None:
                for message in messages:
                    await peer.send(message.encode())

            sending = asyncio.create_task(send_all())
            await asyncio.sleep(0.5)
            assert not sending.done(), "19 MiB written to a client that reads nothing"
            assert not served.protocol().writable.is_set()
            frames = ServerFrames(raw)
            for message in messages:
                assert await frames.next() == (0x1, message.encode())
            await asyncio.wait_for(sending, 5)


async def test_ocppd_serve_runs_on_this_protocol(tmp_path: Path) -> None:
    from ocppd.csms.service import Service
    from ocppd.csms.settings import RegistrationPolicy, Settings

    settings = Settings(port=0, data_dir=tmp_path, registration=RegistrationPolicy.OPEN)
    service = Service(settings)
    running = asyncio.create_task(service.run())
    await wait_until(lambda: service.server.started or running.done(), 20)
    try:
        url = f"ws://127.0.0.1:{service.port}/ocpp/CP1"
        async with connect(url, subprotocols=["ocpp1.6"]) as ws:
            await ws.send(BOOT)
            assert msgspec.json.decode(await ws.recv())[:2] == [3, "b"]
            [protocol] = websocket_protocols(service.server)
            assert type(protocol) is CompactWebSocketProtocol
    finally:
        service.server.should_exit = True
        await asyncio.wait_for(running, 20)


# Its containers


async def test_the_inbox_wakes_the_waiting_application_and_keeps_order() -> None:
    inbox = Inbox()
    arrival = inbox.arrival()
    assert not arrival.done() and inbox.empty()
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    assert arrival.done() and len(inbox) == 2
    assert [inbox.pop(), inbox.pop()] == ["a", "b"]
    assert inbox.empty() and len(inbox) == 0


async def test_the_write_gate_releases_every_waiter() -> None:
    gate = WriteGate()
    assert await gate.wait()
    gate.clear()
    waiters = [asyncio.create_task(gate.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters) and not gate.is_set()
    gate.set()
    assert await asyncio.gather(*waiters) == [True, True, True]


# What it relies on in uvicorn (0.54.0, locked) and websockets


def _base_tree() -> ast.AST:
    return ast.parse(inspect.getsource(WebSocketsSansIOProtocol))


def _self_attribute(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr if node.value.id == "self" else None
    return None


def test_every_attribute_uvicorn_sets_has_a_slot() -> None:
    """Else it lands in an instance dictionary again (1.5 KiB per connection)."""
    assigned = set()
    for node in ast.walk(_base_tree()):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        assigned |= {name for t in targets if (name := _self_attribute(t)) is not None}
    assert assigned == set(UVICORN_ATTRIBUTES)


@pytest.mark.parametrize(("attribute", "replacement"), [("queue", Inbox), ("writable", WriteGate)])
def test_what_uvicorn_uses_of_the_queue_and_the_event_is_there(
    attribute: str, replacement: type
) -> None:
    """In the methods of uvicorn's protocol that run (those not overridden)."""
    kept = [
        method
        for method in ast.walk(_base_tree())
        if isinstance(method, ast.FunctionDef) and method.name not in vars(CompactWebSocketProtocol)
    ]
    used = {
        node.attr
        for method in kept
        for node in ast.walk(method)
        if isinstance(node, ast.Attribute) and _self_attribute(node.value) == attribute
    }
    assert used, f"uvicorn no longer uses self.{attribute}"
    assert all(callable(getattr(replacement, name, None)) for name in used), used


# The source of every uvicorn method the class overrides, and of `receive` (which resumes
# reading), as reviewed. A change fails here: review websocket_protocol.py, then update.
REVIEWED = {
    "__init__": "631dcd744eab",
    "handle_connect": "fc648c2161ff",
    "handle_text": "6ae523180cf0",
    "handle_bytes": "2b22b21bf8fe",
    "handle_cont": "d96fe1479da6",
    "send": "d4919ed760ce",
    "receive": "1dc0e7153900",
}


@pytest.mark.parametrize("method", sorted(REVIEWED))
def test_the_uvicorn_methods_it_builds_on_are_as_reviewed(method: str) -> None:
    source = inspect.getsource(getattr(WebSocketsSansIOProtocol, method))
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    assert digest == REVIEWED[method], (
        f"uvicorn changed WebSocketsSansIOProtocol.{method}: review "
        "src/ocppd/transport/websocket_protocol.py against it, then update REVIEWED"
    )


def test_websockets_lets_the_handshake_and_the_last_frame_go() -> None:
    assert not Frame.__dataclass_params__.frozen  # type: ignore[attr-defined]
    headers = Headers(Host="x")
    headers.clear()
    assert list(headers.raw_items()) == []
