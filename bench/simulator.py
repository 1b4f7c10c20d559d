# ruff: noqa: E501 - the table of figures in the docstring is wider than a line
"""Figures for the simulator (issue 5): how many stations and messages per second one
process of `ocppd simulate` drives.

    .venv/bin/python bench/simulator.py            # full run, a few minutes
    .venv/bin/python bench/simulator.py --quick    # smoke run, well under a minute

The central system is ocppd's own, `ocppd serve --registration open` (SQLite in a temporary
directory), on 127.0.0.1 in a process of its own pinned to CPU 0; the stations run in this
process, pinned to CPU 1, on uvloop when it is installed (as `ocppd simulate` could).

Phases (each with a deadline; everything started is stopped at the end):
  connect   N stations (`Station` objects, the `idle` scenario) started in batches: the time
            until every one is Accepted (boots per second), this process's memory per
            station, and its CPU time per boot.
  paced     M stations on the `load` scenario (every connector charging, MeterValues with
            4 measurands every 10 simulated seconds) at a clock speed that offers a set rate:
            messages answered per second, latency percentiles, both processes' CPU.
  flat-out  the same stations with a much faster clock: whichever process reaches 100 % of
            its CPU first (or the server's disk) is the limit. If it is the server, the
            simulator is the faster one, as a load generator must be.
  ceiling   the same again against a bare server (this file with `--bare-server PORT`: a
            websockets server that answers every call with a fixed result, storing nothing,
            also pinned to CPU 0): what the simulator itself drives at most.

The memory per station is this process's RSS over its RSS before any station, divided by
the stations of the phase (Python keeps freed memory, so later phases are flattered less
than they seem: the 10,000 row is the one to read).

Measured 2026-11-25 on the 2-CPU development machine (full run, about 4 minutes):

| phase | stations | accepted | seconds | rate | sim CPU % | server CPU % | sim RSS MB | p50 ms | p99 ms |
|---|---|---|---|---|---|---|---|---|---|
| connect | 1,000 | 1,000 | 6.1 | 165 boots/s, 65 KB/station | 17 | 65 | 97 | - | - |
| connect | 5,000 | 5,000 | 31.4 | 159 boots/s, 65 KB/station | 25 | 75 | 351 | - | - |
| connect | 10,000 | 10,000 | 69.8 | 143 boots/s, 65 KB/station | 27 | 70 | 666 | - | - |
| paced | 1,000 | 1,000 | 15.0 | 1,234 msg/s answered (1,272 sent) | 17 | 79 | 686 | 621.6 | 1727.7 |
| flat-out | 1,000 | 1,000 | 15.1 | 1,344 msg/s answered (1,371 sent) | 37 | 70 | 375 | 1391.9 | 2475.0 |
| ceiling | 1,000 | 1,000 | 15.2 | 4,480 msg/s answered (4,561 sent) | 83 | 22 | 346 | 449.5 | 1271.5 |

One process holds 10,000 booted stations (about 65 KB each) at a quarter of a CPU; boots
are paced by the central system (a boot is a handshake, a BootNotification and three
StatusNotifications, each stored). Against `ocppd serve` on SQLite the server is the limit
(about 1,300 messages a second, latency growing while the simulator idles at a third of its
CPU); against the bare server one simulator process answers about 4,500 messages a second:
more than three times what it measures, as a load generator should.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocppd.chargepoint import ChargerModel, Clock, Station
from ocppd.chargepoint.scenarios import idle, load
from ocppd.transport.client import ClientOptions

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 10
"""The `load` scenario's MeterValueSampleInterval, in simulated seconds."""


@dataclass(frozen=True)
class Plan:
    connect: list[int]
    batch: int
    connect_deadline: float
    paced_stations: int
    paced_rate: float
    """MeterValues per second offered in the paced phase (StatusNotifications, starts,
    stops and heartbeats come on top)."""
    window: float
    flat_out_speed: float


FULL = Plan(
    connect=[1_000, 5_000, 10_000],
    batch=500,
    connect_deadline=180,
    paced_stations=1_000,
    paced_rate=1_000,
    window=15,
    flat_out_speed=2_000,
)
QUICK = Plan(
    connect=[200],
    batch=100,
    connect_deadline=30,
    paced_stations=100,
    paced_rate=200,
    window=4,
    flat_out_speed=1_000,
)


@dataclass
class Row:
    phase: str
    stations: int
    accepted: int
    seconds: float
    rate: str
    sim_cpu: float
    server_cpu: float
    rss_mb: float
    p50: float | None = None
    p99: float | None = None


# Processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pinned(cpu: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > cpu:
        return ["taskset", "-c", str(cpu)]
    return []


@contextlib.contextmanager
def central_system(data_dir: Path) -> Iterator[tuple[str, int]]:
    """`ocppd serve --registration open` on a free port: (its OCPP URL, its pid)."""
    port = free_port()
    command = [
        *pinned(0),
        sys.executable,
        "-m",
        "ocppd",
        "serve",
        "--registration",
        "open",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--ping-interval",
        "0",
        "--heartbeat-interval",
        "300",
    ]
    with started(command, port, data_dir / "serve.log") as pid:
        yield f"ws://127.0.0.1:{port}/ocpp", pid


@contextlib.contextmanager
def started(command: list[str], port: int, log_path: Path) -> Iterator[int]:
    """Run `command` until the block ends, once it listens on `port`: its pid."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not start: see {log_path}")
            time.sleep(0.1)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one when None)."""
    path = f"/proc/{pid or 'self'}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


BARE_REPLIES: dict[str, dict[str, Any]] = {
    "BootNotification": {"status": "Accepted", "currentTime": "", "interval": 300},
    "Heartbeat": {"currentTime": ""},
    "StartTransaction": {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
    "StopTransaction": {"idTagInfo": {"status": "Accepted"}},
    "Authorize": {"idTagInfo": {"status": "Accepted"}},
}


def bare_server(port: int) -> None:
    """A central system that stores nothing: a fixed answer to every call."""
    import msgspec
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.typing import Subprotocol

    now = "2026-01-01T00:00:00Z"

    async def handle(connection: ServerConnection) -> None:
        async for text in connection:
            message = msgspec.json.decode(text)
            if message[0] == 2:
                payload = dict(BARE_REPLIES.get(message[2], {}))
                if "currentTime" in payload:
                    payload["currentTime"] = now
                await connection.send(msgspec.json.encode([3, message[1], payload]).decode())

    async def run() -> None:
        async with serve(
            handle, "127.0.0.1", port, subprotocols=[Subprotocol("ocpp1.6")], ping_interval=None
        ) as server:
            await server.serve_forever()

    asyncio.run(run())


@contextlib.contextmanager
def bare_central_system(data_dir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [*pinned(0), sys.executable, __file__, "--bare-server", str(port)]
    with started(command, port, data_dir / "bare.log") as pid:
        yield f"ws://127.0.0.1:{port}/ocpp", pid


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Usage:
    """CPU of both processes over a phase, as a percentage of one CPU."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.started = time.monotonic()
        self.sim = cpu_seconds()
        self.server = cpu_seconds(server_pid)

    def percent(self) -> tuple[float, float]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        sim = (cpu_seconds() - self.sim) / elapsed * 100
        server = (cpu_seconds(self.server_pid) - self.server) / elapsed * 100
        return round(sim), round(server)


# Phases


Scenario = Callable[[Station], Coroutine[Any, Any, None]]


class Fleet:
    """Stations and their scenario tasks, started in batches, stopped together."""

    def __init__(self, url: str, prefix: str, count: int, speed: float) -> None:
        options = ClientOptions(open_timeout=60, response_timeout=60)
        self.stations = [
            Station(
                url,
                f"{prefix}{n:05d}",
                model=ChargerModel(connectors=2),
                clock=Clock(speed=speed),
                client_options=options,
            )
            for n in range(1, count + 1)
        ]
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, stations: list[Station], scenario: Scenario) -> None:
        for station in stations:
            station.start()
            self.tasks.append(asyncio.create_task(scenario(station)))

    def accepted(self) -> int:
        return sum(1 for s in self.stations if s.online)

    def sent(self) -> int:
        return sum(sum(s.stats.sent.values()) for s in self.stations)

    def answered(self) -> int:
        return sum(len(v) for s in self.stations for v in s.stats.latencies.values())

    def latencies(self) -> list[float]:
        return [x for s in self.stations for values in s.stats.latencies.values() for x in values]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(s.stop() for s in self.stations), return_exceptions=True), 60
            )


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000, 1)


BASELINE_RSS_MB = 0.0


async def connect_phase(url: str, server_pid: int, count: int, plan: Plan) -> Row:
    before = BASELINE_RSS_MB
    usage = Usage(server_pid)
    fleet = Fleet(url, f"C{count}-", count, speed=1)
    started = time.monotonic()
    deadline = started + plan.connect_deadline
    try:
        for first in range(0, count, plan.batch):
            fleet.start(fleet.stations[first : first + plan.batch], idle)
            # The next batch once most of this one is in: a ramp, not a thundering herd.
            while fleet.accepted() < min(count, first + plan.batch) * 0.9:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
        while fleet.accepted() < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        seconds = time.monotonic() - started
        accepted = fleet.accepted()
        # Hold them a moment: connected stations cost memory and heartbeats, not CPU.
        await asyncio.sleep(1)
        sim, server = usage.percent()
        per_station_kb = (rss_mb() - before) * 1024 / max(count, 1)
        return Row(
            "connect",
            count,
            accepted,
            round(seconds, 1),
            f"{accepted / seconds:,.0f} boots/s, {per_station_kb:,.0f} KB/station",
            sim,
            server,
            round(rss_mb()),
        )
    finally:
        await fleet.stop()


async def message_phase(
    phase: str, url: str, server_pid: int, stations: int, speed: float, plan: Plan
) -> Row:
    fleet = Fleet(url, f"{phase[0].upper()}-", stations, speed=speed)
    try:
        fleet.start(fleet.stations, load)
        deadline = time.monotonic() + plan.connect_deadline
        while fleet.accepted() < stations and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)  # the sessions begin
        answered, sent = fleet.answered(), fleet.sent()
        before = {
            (s.identity, action): len(v)
            for s in fleet.stations
            for action, v in s.stats.latencies.items()
        }
        usage = Usage(server_pid)
        started = time.monotonic()
        await asyncio.sleep(plan.window)
        seconds = time.monotonic() - started
        sim, server = usage.percent()
        answered, sent = fleet.answered() - answered, fleet.sent() - sent
        window = [
            x
            for s in fleet.stations
            for action, v in s.stats.latencies.items()
            for x in v[before.get((s.identity, action), 0) :]
        ]
        return Row(
            phase,
            stations,
            fleet.accepted(),
            round(seconds, 1),
            f"{answered / seconds:,.0f} msg/s answered ({sent / seconds:,.0f} sent)",
            sim,
            server,
            round(rss_mb()),
            percentile(window, 0.5),
            percentile(window, 0.99),
        )
    finally:
        await fleet.stop()


def paced_speed(stations: int, rate: float) -> float:
    """The clock speed at which `stations` of 2 connectors on `load` offer `rate` msg/s:
    each connector sends one MeterValues per SAMPLE_SECONDS simulated seconds."""
    per_real_second_at_speed_1 = stations * 2 / SAMPLE_SECONDS
    return rate / per_real_second_at_speed_1


async def bench(plan: Plan) -> list[Row]:
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="ocppd-bench-sim-") as tmp,
        central_system(Path(tmp)) as (url, pid),
    ):
        for count in plan.connect:
            rows.append(await connect_phase(url, pid, count, plan))
            print_row(rows[-1])
        speed = paced_speed(plan.paced_stations, plan.paced_rate)
        rows.append(await message_phase("paced", url, pid, plan.paced_stations, speed, plan))
        print_row(rows[-1])
        flat_out = plan.flat_out_speed
        rows.append(await message_phase("flat-out", url, pid, plan.paced_stations, flat_out, plan))
        print_row(rows[-1])
    with (
        tempfile.TemporaryDirectory(prefix="ocppd-bench-sim-") as tmp,
        bare_central_system(Path(tmp)) as (url, pid),
    ):
        flat_out = plan.flat_out_speed
        rows.append(await message_phase("ceiling", url, pid, plan.paced_stations, flat_out, plan))
        print_row(rows[-1])
    return rows


HEADER = (
    "| phase | stations | accepted | seconds | rate | sim CPU % | server CPU % "
    "| sim RSS MB | p50 ms | p99 ms |"
)


def print_row(row: Row) -> None:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value}"

    print(
        f"| {row.phase} | {row.stations:,} | {row.accepted:,} | {row.seconds} | {row.rate} "
        f"| {row.sim_cpu:.0f} | {row.server_cpu:.0f} | {row.rss_mb:.0f} | {ms(row.p50)} "
        f"| {ms(row.p99)} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, well under a minute")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(args.bare_server)
        return
    global BASELINE_RSS_MB
    BASELINE_RSS_MB = rss_mb()
    plan = QUICK if args.quick else FULL
    logging.basicConfig(level=logging.ERROR)
    # A call failed by a closing session while its task is being cancelled leaves a future
    # whose SessionClosed nobody reads; asyncio logs each at exit (a fix for rpc/session.py).
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        loop_name = "uvloop"
    except ImportError:
        runner = asyncio.Runner()
        loop_name = "asyncio"
    print(f"simulator: one process on {loop_name}, CPU 1; server: ocppd serve (SQLite), CPU 0")
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|")
    with runner:
        runner.run(bench(plan))


if __name__ == "__main__":
    main()
