"""`ocppd serve` as a user runs it: a real process, real sockets, signals, TLS."""

import asyncio
import json
import os
import queue
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import msgspec
import pytest
from click.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ocppd.cli.serve import settings_options, to_settings
from ocppd.csms.settings import Settings
from tests.raw_websocket import upgrade_request

pytestmark = pytest.mark.slow

BOOT = '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


OPEN = ("--registration", "open")
LISTENING = re.compile(r"^ocppd: OCPP 1\.6J on wss?://127\.0\.0\.1:(\d+)/")


class Served:
    """`ocppd serve` in a process of its own, on port 0: it binds a port the system chooses
    and prints it once listening (a port chosen before the start could be taken meanwhile by
    another test's server, under pytest-xdist). Its output is read as it comes."""

    start_deadline = 20.0
    """Seconds it may take to print that it listens."""

    def __init__(
        self,
        tmp_path: Path | None,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        open_files: int | None = None,
        command: list[str] | None = None,
        hard_open_files: int | None = None,
    ) -> None:
        """`tmp_path`: the data dir is its `data`; None: the default data dir (of `env`).
        `open_files`: the soft limit of open files it starts with (`hard_open_files`: and the
        hard one). `command`: run as given instead (`args` ignored), e.g. a systemd unit's
        ExecStart."""
        data = [] if tmp_path is None else ["--data-dir", str(tmp_path / "data")]
        self.process = subprocess.Popen(
            command or [sys.executable, "-m", "ocppd", "serve", "--port", "0", *data, *OPEN, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
            preexec_fn=(
                None if open_files is None else lambda: _limit_files(open_files, hard_open_files)
            ),
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = self._listening(deadline=time.monotonic() + self.start_deadline)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _listening(self, deadline: float) -> int:
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise AssertionError("ocppd serve did not start listening") from None
            if line is None:
                raise AssertionError(f"ocppd serve exited: {self.output()}")
            if found := LISTENING.match(line):
                return int(found[1])

    def printed(self) -> str:
        """What it has printed so far."""
        return "".join(self._output)

    def output(self) -> str:
        """Everything it printed, once it has exited."""
        self.process.wait()
        self._reader.join()
        return "".join(self._output)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def _limit_files(soft: int, hard: int | None = None) -> None:
    if hard is None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Starts `ocppd serve` with extra arguments; killed at the end if still running."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        started.append(Served(tmp_path, *args))
        return started[-1]

    yield start
    for served in started:
        served.stop()


async def test_sigterm_closes_charge_points_with_1001(serve: Callable[..., Served]) -> None:
    served = serve()
    async with connect(f"ws://127.0.0.1:{served.port}/ocpp/CP1", subprotocols=["ocpp1.6"]) as ws:
        await ws.send(BOOT)
        assert msgspec.json.decode(await ws.recv())[0] == 3
        served.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(ws.recv(), 10)
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 1001
    assert served.process.wait(timeout=15) == 0
    assert "closed 1 charge point connections with 1001" in served.output()


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


async def test_tls_security_profile_2(tmp_path: Path, serve: Callable[..., Served]) -> None:
    cert, key = make_certificate(tmp_path)
    served = serve("--tls-cert", str(cert), "--tls-key", str(key))
    context = ssl.create_default_context(cafile=str(cert))
    url = f"wss://127.0.0.1:{served.port}/ocpp/CP1"
    async with connect(url, subprotocols=["ocpp1.6"], ssl=context) as ws:
        await ws.send(BOOT)
        assert msgspec.json.decode(await ws.recv())[0] == 3
    untrusting = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(url, subprotocols=["ocpp1.6"], ssl=untrusting):
            pass


async def test_dead_peer_is_dropped_by_pings(serve: Callable[..., Served]) -> None:
    served = serve("--ping-interval", "0.3")
    mute = socket.create_connection(("127.0.0.1", served.port))
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
    tmp_path: Path, serve: Callable[..., Served]
) -> None:
    served = serve()
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
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(
        f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    await writer.drain()
    assert b"200" in await asyncio.wait_for(reader.readline(), 10)
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=10) == 0
    writer.close()


def settings_shown(shown: Callable[[Settings], str]) -> click.Command:
    """A command with `serve`'s options that prints `shown` of the settings they make."""

    @click.command()
    @settings_options
    def show(**values: object) -> None:
        click.echo(shown(to_settings(values)))

    return show


def test_voltage_and_phases_convert_charging_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    show = settings_shown(lambda settings: f"{settings.voltage} {settings.phases}")
    runner = CliRunner()
    assert runner.invoke(show, []).output == "230.0 3\n"
    monkeypatch.setenv("OCPPD_VOLTAGE", "120")
    assert runner.invoke(show, ["--phases", "1"]).output == "120.0 1\n"
    refused = runner.invoke(show, ["--phases", "4"])
    assert refused.exit_code == 2 and "--phases" in refused.output


def test_retention_days_beyond_the_calendar_are_refused(tmp_path: Path) -> None:
    """A retention whose cutoff no date can hold (or no C int) is an option error, from the
    command line or the TOML file, not a failed start or a pruning run failing every hour."""
    show = settings_shown(
        lambda settings: f"{settings.message_retention_days} {settings.diagnostics_retention_days}"
    )
    runner = CliRunner()
    assert runner.invoke(show, []).output == "30 90\n"
    assert runner.invoke(show, ["--diagnostics-retention-days", "36500"]).output == "30 36500\n"
    for option in ("--message-retention-days", "--diagnostics-retention-days"):
        refused = runner.invoke(show, [option, "10000000000"])
        assert refused.exit_code == 2 and option in refused.output, refused.output
    config = tmp_path / "ocppd.toml"
    config.write_text("[serve]\ndiagnostics_retention_days = 1000000\n")
    from_file = runner.invoke(show, ["--config", str(config)])
    assert from_file.exit_code == 2 and "--diagnostics-retention-days" in from_file.output


def test_toml_keys_are_spelled_as_the_flags_or_with_underscores(tmp_path: Path) -> None:
    show = settings_shown(
        lambda s: f"{s.data_dir} {s.message_retention_days} {s.basic_auth} {s.log_format}"
    )
    config = tmp_path / "ocppd.toml"
    config.write_text(
        '[serve]\ndata-dir = "/srv/ocppd"\nmessage_retention_days = 7\nbasic-auth = true\n'
        'log-format = "json"\n'
    )
    shown = CliRunner().invoke(show, ["--config", str(config)])
    assert shown.output == "/srv/ocppd 7 True json\n", shown.output
    overridden = CliRunner().invoke(show, ["--config", str(config), "--data-dir", "/x"])
    assert overridden.output.startswith("/x 7 "), overridden.output
    for text, error in [
        ('data-dir = "/a"\ndata_dir = "/b"\n', "'data-dir' is given twice"),
        ('data-directory = "/a"\n', "unknown setting 'data-directory' (settings: "),
        ("extensions = []\n", "unknown setting 'extensions'"),  # not a flag of serve
        ("config = 'other.toml'\n", "unknown setting 'config'"),
        ("serve = 1\n", "[serve] is not a table"),
    ]:
        config.write_text(text)
        refused = CliRunner().invoke(show, ["--config", str(config)])
        assert refused.exit_code == 2 and error in refused.output, (text, refused.output)
        assert "Invalid value for '--config'" in refused.output


RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_json_logs_carry_utc_rfc3339_times(tmp_path: Path) -> None:
    """In a zone far from UTC, from a TOML file that spells its keys as the flags."""
    config = tmp_path / "ocppd.toml"
    config.write_text(f'[serve]\ndata-dir = "{tmp_path / "toml-data"}"\nlog-format = "json"\n')
    before = datetime.now(UTC).replace(microsecond=0)
    served = Served(None, "--config", str(config), env={**os.environ, "TZ": "Asia/Tokyo"})
    served.process.send_signal(signal.SIGTERM)
    output = served.output()
    after = datetime.now(UTC)
    assert f"database sqlite:///{tmp_path / 'toml-data' / 'ocppd.db'}" in output
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(e["message"].startswith("closed 0 charge point") for e in entries), output
    for entry in entries:
        assert RFC3339_UTC.match(entry["time"]), entry
        assert before <= datetime.fromisoformat(entry["time"]) <= after, entry


async def test_serve_raises_its_file_limit_and_closes_connections_that_never_open(
    tmp_path: Path,
) -> None:
    """Issue 17 §3: a soft limit of 1,024 let 1,100 half-open connections lock chargers out.
    The timeout comes from the environment, the cap from TOML, as every serve option."""
    config = tmp_path / "ocppd.toml"
    config.write_text("[serve]\nmax-pending-handshakes = 2\n")
    env = {**os.environ, "OCPPD_HANDSHAKE_TIMEOUT": "0.5"}
    served = Served(tmp_path, "--config", str(config), env=env, open_files=256)
    try:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        expected = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        assert resource.prlimit(served.process.pid, resource.RLIMIT_NOFILE) == (expected, hard)
        held = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(3)]
        for raw in held:
            raw.settimeout(20)
        assert held[0].recv(1) == b""  # evicted by the third: the cap is 2
        started = time.monotonic()
        assert held[2].recv(1) == b""  # at its deadline
        assert time.monotonic() - started < 20
        for raw in held:
            raw.close()
        async with connect(
            f"ws://127.0.0.1:{served.port}/ocpp/CP1", subprotocols=["ocpp1.6"]
        ) as ws:
            await ws.send(BOOT)
            assert msgspec.json.decode(await ws.recv())[0] == 3
    finally:
        served.stop()


async def test_connections_that_never_open_leave_files_to_accept_a_charger_with(
    tmp_path: Path,
) -> None:
    """Issue 17 §3 under a hard limit the process cannot raise: with the default cap (1,000)
    above the file limit (1,024), the half-open connections and the process's own files took
    every descriptor and a charger's connection was not accepted until they timed out. The
    cap is at most half the file limit; here 64 of 128."""
    served = Served(tmp_path, open_files=128, hard_open_files=128)
    held: list[socket.socket] = []
    try:
        assert "at most 64 connections pending, not 1000" in served.printed()
        for _ in range(150):  # beyond the file limit: the oldest are evicted, never accept
            held.append(socket.create_connection(("127.0.0.1", served.port)))
        async with connect(
            f"ws://127.0.0.1:{served.port}/ocpp/CP1", subprotocols=["ocpp1.6"], open_timeout=5
        ) as ws:
            await ws.send(BOOT)
            assert msgspec.json.decode(await ws.recv())[0] == 3
    finally:
        for raw in held:
            raw.close()
        served.stop()


def test_serve_warns_of_the_database_an_older_ocppd_left_in_data(tmp_path: Path) -> None:
    """Before the data directory was one place per user, ocppd kept ./data/ocppd.db: an
    upgraded operator starting from that directory is told where their database is."""
    started_in = tmp_path / "site"
    (started_in / "data").mkdir(parents=True)
    (started_in / "data" / "ocppd.db").write_bytes(b"")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    served = Served(None, env=env, cwd=started_in)
    served.stop()
    output = served.output()
    assert f"warning: {started_in / 'data' / 'ocppd.db'} exists" in output
    assert f"--data-dir {started_in / 'data'}" in output
    quiet = Served(None, "--data-dir", str(started_in / "data"), env=env, cwd=started_in)
    quiet.stop()
    assert "warning" not in quiet.output()
