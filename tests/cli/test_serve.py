"""`ocppd serve` as a user runs it: a real process, real sockets, signals, TLS."""

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.raw_websocket import upgrade_request

pytestmark = pytest.mark.slow

BOOT = '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ocppd",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--registration",
            "open",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"ocppd serve exited: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("ocppd serve did not start listening")


@pytest.fixture
def stop_later() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_sigterm_closes_charge_points_with_1001(
    tmp_path: Path, stop_later: list[subprocess.Popen[str]]
) -> None:
    process, port = start_server(tmp_path)
    stop_later.append(process)
    async with connect(f"ws://127.0.0.1:{port}/ocpp/CP1", subprotocols=["ocpp1.6"]) as ws:
        await ws.send(BOOT)
        assert msgspec.json.decode(await ws.recv())[0] == 3
        process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(ws.recv(), 10)
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 1001
    assert process.wait(timeout=15) == 0
    assert process.stdout is not None
    assert "closed 1 charge point connections with 1001" in process.stdout.read()


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_security_profile_2(
    tmp_path: Path, stop_later: list[subprocess.Popen[str]]
) -> None:
    cert, key = make_certificate(tmp_path)
    process, port = start_server(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    stop_later.append(process)
    context = ssl.create_default_context(cafile=str(cert))
    url = f"wss://127.0.0.1:{port}/ocpp/CP1"
    async with connect(url, subprotocols=["ocpp1.6"], ssl=context) as ws:
        await ws.send(BOOT)
        assert msgspec.json.decode(await ws.recv())[0] == 3
    untrusting = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(url, subprotocols=["ocpp1.6"], ssl=untrusting):
            pass


async def test_dead_peer_is_dropped_by_pings(
    tmp_path: Path, stop_later: list[subprocess.Popen[str]]
) -> None:
    process, port = start_server(tmp_path, "--ping-interval", "0.3")
    stop_later.append(process)
    mute = socket.create_connection(("127.0.0.1", port))
    mute.sendall(upgrade_request("/ocpp/MUTE"))
    # Never answer a ping: the server must give up on this socket by itself.
    mute.settimeout(10)
    received = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        chunk = mute.recv(4096)
        if not chunk:
            break
        received += chunk
    mute.close()
    assert b"101 Switching Protocols" in received
    assert time.monotonic() < deadline, "the server kept a peer that never answered pings"


async def test_sigterm_ends_open_event_streams(
    tmp_path: Path, stop_later: list[subprocess.Popen[str]]
) -> None:
    process, port = start_server(tmp_path)
    stop_later.append(process)
    created = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "ocppd",
            "token",
            "create",
            "--role",
            "viewer",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip().split()[-1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    await writer.drain()
    assert b"200" in await asyncio.wait_for(reader.readline(), 10)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    writer.close()


def test_voltage_and_phases_convert_charging_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    import click
    from click.testing import CliRunner

    from ocppd.cli.serve import settings_options, to_settings

    @click.command()
    @settings_options
    def show(**values: object) -> None:
        settings = to_settings(values)
        click.echo(f"{settings.voltage} {settings.phases}")

    runner = CliRunner()
    assert runner.invoke(show, []).output == "230.0 3\n"
    monkeypatch.setenv("OCPPD_VOLTAGE", "120")
    assert runner.invoke(show, ["--phases", "1"]).output == "120.0 1\n"
    refused = runner.invoke(show, ["--phases", "4"])
    assert refused.exit_code == 2 and "--phases" in refused.output
