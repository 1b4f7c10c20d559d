"""Connections that never finish opening (issue 17 §3): silent ones, half a request, a byte
now and then, on the plain port and on both TLS listeners (their TLS handshake included).
Each is closed at its deadline, at most `max_pending_handshakes` are held, and a real charger
gets in meanwhile. Over real sockets, against the central system as `ocppd serve` runs it."""

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import connect

from ocppd.csms.central_system import CentralSystem
from tests.certificates import TestCa
from tests.csms.conftest import RunningServer
from tests.csms.test_server import BOOT, ask, open_socket, register
from tests.servers import serving, serving_tls

PARTIAL = b"GET /ocpp/CP1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"


@contextlib.asynccontextmanager
async def server_with(system: CentralSystem, **settings: Any) -> AsyncIterator[RunningServer]:
    for name, value in settings.items():
        setattr(system.settings, name, value)
    async with serving(system) as port:
        yield RunningServer(system, port)


def half_open(port: int, sent: bytes = b"") -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", port))
    if sent:
        raw.sendall(sent)
    raw.setblocking(False)
    return raw


async def closed_by_server(raw: socket.socket, timeout: float = 20.0) -> None:
    """Returns when the server has closed `raw` (whatever it sent first is skipped)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(raw, 4096), timeout)
        except ConnectionResetError:
            return
        if not chunk:
            return


def still_open(raw: socket.socket) -> bool:
    """Right now, without waiting: nothing to read and no end of stream."""
    try:
        return bool(raw.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False


async def test_a_charger_gets_in_while_half_open_connections_are_held(
    central_system: CentralSystem,
) -> None:
    """With 150 connections opened and never finished and a cap of 50, the oldest 100 are
    closed; the charger's handshake closes one more and succeeds. The deadline (60 s) plays
    no part."""
    await register(central_system, "CP1")
    async with server_with(
        central_system, handshake_timeout=60.0, max_pending_handshakes=50
    ) as server:
        held = [half_open(server.port, PARTIAL if n % 2 else b"") for n in range(150)]
        try:
            await asyncio.gather(*(closed_by_server(raw) for raw in held[:100]))
            assert all(still_open(raw) for raw in held[100:])
            async with open_socket(server, "CP1") as ws:
                assert (await ask(ws, BOOT))[:2] == [3, "b1"]
                assert (await ask(ws, '[2,"h","Heartbeat",{}]'))[:2] == [3, "h"]
            assert sum(still_open(raw) for raw in held[100:]) == 49
        finally:
            for raw in held:
                raw.close()


async def trickle(raw: socket.socket, sent: list[int]) -> None:
    """A header that never ends, a byte every 0.05 s, until the server closes (at most 60 s)."""
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(raw, PARTIAL + b"X-Pad: ")
    with contextlib.suppress(OSError):
        for _ in range(1200):
            await loop.sock_sendall(raw, b"a")
            sent[0] += 1
            await asyncio.sleep(0.05)


async def test_a_trickler_is_cut_at_the_deadline_though_it_keeps_sending(
    central_system: CentralSystem,
) -> None:
    await register(central_system, "CP1")
    await register(central_system, "CP2")
    loop = asyncio.get_running_loop()
    async with server_with(central_system, handshake_timeout=1.0) as server:
        async with open_socket(server, "CP1") as booted:
            await ask(booted, BOOT)
            started = loop.time()
            silent, partial = half_open(server.port), half_open(server.port, PARTIAL)
            trickler, sent = half_open(server.port), [0]
            sending = asyncio.create_task(trickle(trickler, sent))
            try:
                await closed_by_server(trickler)
                cut_at, bytes_sent = loop.time(), sent[0]
                assert not sending.done()  # it was still sending when it was cut
                await closed_by_server(silent)
                await closed_by_server(partial)
            finally:
                sending.cancel()
                for raw in (silent, partial, trickler):
                    raw.close()
            assert cut_at - started >= 1.0 and bytes_sent >= 3
            # Only opening is timed: the booted charger (connected before) is still served.
            assert (await ask(booted, '[2,"h","Heartbeat",{}]'))[:2] == [3, "h"]
        async with open_socket(server, "CP2") as ws:
            assert (await ask(ws, BOOT))[:2] == [3, "b1"]


@pytest.mark.parametrize("request_bytes", [b"GET / HTTP/1.1\r\nHost: x\r\n", b""])
async def test_plain_http_requests_are_timed_too(
    central_system: CentralSystem, request_bytes: bytes
) -> None:
    async with server_with(central_system, handshake_timeout=0.5) as server:
        raw = half_open(server.port, request_bytes)
        try:
            await closed_by_server(raw)
        finally:
            raw.close()


# TLS listeners: the TLS handshake is part of the opening (the guard counts a connection from
# its accept, not from the end of its TLS handshake as asyncio's own TLS listeners would).

TLS_RECORD_START = b"\x16\x03\x01\x02\x00\x01"
"""The first bytes of a ClientHello: a handshake record that never comes whole."""


@dataclass
class TlsServer:
    port: int
    client: ssl.SSLContext
    """Trusts the server's certificate, as a charger on profile 2 would."""

    def connect(self, identity: str) -> Any:
        return connect(
            f"wss://127.0.0.1:{self.port}/ocpp/{identity}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            ssl=self.client,
            open_timeout=30,
        )


@contextlib.asynccontextmanager
async def tls_server_with(
    system: CentralSystem, listener: str, pki: Path, **settings: Any
) -> AsyncIterator[TlsServer]:
    """`system` with TLS on `listener`: "port" (`--port` with `--tls-cert`) or "tls-port"."""
    ca = TestCa(pki)
    certificate = ca.server("rsa")
    system.settings.tls_cert, system.settings.tls_key = certificate.cert, certificate.key
    client = ssl.create_default_context(cafile=ca.cert)
    for name, value in settings.items():
        setattr(system.settings, name, value)
    if listener == "port":
        async with serving(system) as port:
            yield TlsServer(port, client)
    else:
        async with serving_tls(system) as (_, tls_port, _):
            yield TlsServer(tls_port, client)


async def booted(server: TlsServer, identity: str) -> None:
    async with server.connect(identity) as ws:
        await ws.send(BOOT.decode())
        answer = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))
        assert answer[:2] == [3, "b1"] and answer[2]["status"] == "Accepted"


LISTENERS = pytest.mark.parametrize("listener", ["port", "tls-port"])


@LISTENERS
async def test_a_tls_handshake_never_finished_is_closed_at_the_deadline(
    central_system: CentralSystem, listener: str, tmp_path: Path
) -> None:
    """Silent, or half a ClientHello: closed at `--handshake-timeout` (0.5 s here), not at
    asyncio's 60 s."""
    async with tls_server_with(
        central_system, listener, tmp_path / "pki", handshake_timeout=0.5
    ) as server:
        silent, partial = half_open(server.port), half_open(server.port, TLS_RECORD_START)
        try:
            await closed_by_server(silent)
            await closed_by_server(partial)
        finally:
            silent.close()
            partial.close()


def tls_then_silent(port: int, client: ssl.SSLContext) -> socket.socket:
    """A TCP socket whose TLS handshake is done, then nothing: it never answers the server's
    close_notify (blocking: run it in a thread)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            received = raw.recv(65536)
            assert received, "closed during the TLS handshake"
            incoming.write(received)
    raw.sendall(outgoing.read())
    raw.setblocking(False)
    return raw


@LISTENERS
async def test_the_deadline_goes_on_after_the_tls_handshake(
    central_system: CentralSystem, listener: str, tmp_path: Path
) -> None:
    """A client that completes TLS and sends no request is closed at the deadline of its
    opening, its socket at once: not after the 30 s a TLS close waits for a close_notify
    that such a client never sends."""
    async with tls_server_with(
        central_system, listener, tmp_path / "pki", handshake_timeout=0.5
    ) as server:
        raw = await asyncio.to_thread(tls_then_silent, server.port, server.client)
        try:
            await closed_by_server(raw)
        finally:
            raw.close()


@LISTENERS
async def test_the_oldest_tls_handshakes_make_room_for_a_charger(
    central_system: CentralSystem, listener: str, tmp_path: Path
) -> None:
    """With a cap of 5 and 8 clients silent before their ClientHello, the 3 oldest are
    closed; the charger's connection closes the next oldest and boots over TLS. The deadline
    (60 s) plays no part."""
    await register(central_system, "CP1")
    async with tls_server_with(
        central_system,
        listener,
        tmp_path / "pki",
        handshake_timeout=60.0,
        max_pending_handshakes=5,
    ) as server:
        held = [half_open(server.port, TLS_RECORD_START if n % 2 else b"") for n in range(8)]
        try:
            await asyncio.gather(*(closed_by_server(raw) for raw in held[:3]))
            assert all(still_open(raw) for raw in held[3:])
            await booted(server, "CP1")
            await closed_by_server(held[3])
            assert all(still_open(raw) for raw in held[4:])
        finally:
            for raw in held:
                raw.close()
