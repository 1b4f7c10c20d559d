"""Figures for several nodes (issue 18): `ocppd serve` nodes of one cluster, on one
PostgreSQL database and one Redis (docs/decisions/0005-cluster.md).

    .venv/bin/python bench/cluster.py --quick          # smoke run, 1-2 min
    .venv/bin/python bench/cluster.py --save           # full run, <= 15 min, and its results
    .venv/bin/python bench/cluster.py --only commands events --at HEAD

`--at REV` runs ocppd as committed (a `git archive` of src/ on PYTHONPATH), so edits in
progress in the working tree do not end up in the figures. `--save` also writes the output to
bench/results/cluster-<rev>[-quick].txt (or `--save FILE`).

Each phase starts a cluster of its own: a redis-server of the bench's own on a free port of
loopback (never the machine's shared Redis), a fresh PostgreSQL database (created, migrated,
an admin token; dropped at the end), and nodes `ocppd serve --redis-url ... --database ...
--node-name X --registration open`. Everything started is stopped at the end of its phase,
every wait has a deadline, and the whole run is bounded by `--budget` seconds.

Phases:
  commands    a charger on node A; ClearCache through A's API (same node) and through B's
              (the request travels to A over Redis), taking turns: p50/p99 of each and what
              the hop adds (target: p99 added < 5 ms on loopback); Redis commands per command.
  events      the same charger sends StatusNotifications one at a time; how long until each
              arrives on A's /api/v1/events stream and on B's (the hop between nodes).
              "not available" when B's stream does not show A's events (not landed).
  throughput  bench/server.py's load (`server_loadgen.py`: one CALL outstanding per
              connection, the realistic cycle) against 1 node without Redis, 1 node of a
              cluster, 2 nodes, and 2 nodes with an event listener on each; messages per
              second, CPU of each part, Redis commands per charger message (target: none on
              the hot path) from INFO commandstats deltas (a window without load subtracted).
  failover    N chargers booted on node A of three; `kill -9` of A; each reconnects at once to
              B or C and is sent a command through the other one of them: until all are back,
              until all are commandable; when A's lease is gone from Redis.
  storm       10,000 chargers over 2 nodes (half on each) connected and booted, then closed,
              then all reconnecting at once, each to the other node: Boot and a queued Start
              and Stop each; the database is checked afterwards (as bench/server.py's storm).

2 cores: the nodes, the load generators, PostgreSQL and Redis share them (and whatever else
runs on the machine: the load average and other CPU are shown). Only the throughput phase
pins processes (as bench/server.py: a node on CPU 0, generators on CPU 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis
import redis.asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from processes import cpu_seconds, free_port, tree
from server import (
    PG_ADMIN,
    PG_URL,
    Generators,
    busy_pct,
    core_busy,
    fmt,
    pg_cpu_seconds,
    stop,
    storm_check,
    wait_listening,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PHASES = ["commands", "events", "throughput", "failover", "storm"]
HOP_TARGET_MS = 5.0
REDIS_SAMPLE = 100
"""Commands sent through each path alone to count what each asks of Redis."""


# Figures (pure: tests/bench/test_cluster.py)


@dataclass(frozen=True)
class Spread:
    """Percentiles of latencies, in milliseconds."""

    n: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Spread:
        """Of latencies in seconds; NaN where there are too few to tell (p99 needs 100)."""
        nan = float("nan")
        if not seconds:
            return cls(0, nan, nan, nan)
        ordered = sorted(seconds)
        return cls(
            len(ordered),
            percentile(ordered, 50) * 1e3,
            percentile(ordered, 99) * 1e3 if len(ordered) >= 100 else nan,
            ordered[-1] * 1e3,
        )


def percentile(ordered: Sequence[float], p: float) -> float:
    """The p-th percentile of sorted values, interpolated between the nearest two."""
    assert 1 <= p <= 99 and ordered
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(p) - 1]


def command_deltas(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Calls of each Redis command between two `INFO commandstats` (as redis-py parses them:
    `cmdstat_get: {"calls": 3, ...}`), the bench's own INFO calls left out; only those called."""
    out = {}
    for key, stats in after.items():
        name = key.removeprefix("cmdstat_")
        if name == "info" or not isinstance(stats, dict):
            continue
        earlier = before.get(key, {})
        calls = int(stats.get("calls", 0)) - int(earlier.get("calls", 0))
        if calls:
            out[name] = calls
    return dict(sorted(out.items(), key=lambda item: -item[1]))


def sse_events(lines: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """(event, decoded data) of each server-sent event in `lines` (comments and keep-alives
    skipped; an event ends at its blank line)."""
    event = ""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event or "message", msgspec.json.decode("\n".join(data))
            event, data = "", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def per_message(calls: dict[str, int], messages: int, idle: dict[str, int], ratio: float) -> float:
    """Redis commands per charger message: the calls of a loaded window less what the same
    cluster does without load (lease renewals) over as long (`ratio` = loaded / idle seconds)."""
    extra = sum(calls.values()) - sum(idle.values()) * ratio
    return max(0.0, extra) / max(1, messages)


def ms(value: float, spec: str = ".1f") -> str:
    return fmt(value, spec)


# Processes


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f})"


class RedisServer:
    """A redis-server of the bench's own: loopback, a free port, nothing on disk."""

    def __init__(self, tmp: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise SystemExit("redis-server is not installed (.ci/run installs it)")
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(tmp)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if self._answers():
                break
            stop(self.proc)
        else:
            raise RuntimeError("redis-server did not start")
        self.client = redis.Redis(port=self.port, socket_timeout=10)

    def _answers(self) -> bool:
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(redis.RedisError):
                return bool(client.ping())
            time.sleep(0.05)
        return False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def commandstats(self) -> dict[str, Any]:
        return dict(self.client.info("commandstats"))

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_seconds([self.proc.pid])

    def stop(self) -> None:
        self.client.close()
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)


class Database:
    """A fresh PostgreSQL database: a copy of `template` (migrated, with an admin token of the
    API), or that template itself, migrated here, when None."""

    def __init__(self, env: dict[str, str], template: Database | None = None) -> None:
        self.name = f"ocppd_cluster_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.url = PG_URL + self.name
        self.token = ""
        try:
            self._create(env, template)
        except BaseException:  # the budget's alarm too: nothing left behind
            self.drop()
            raise

    def _create(self, env: dict[str, str], template: Database | None) -> None:
        copy = ["-T", template.name] if template else []
        subprocess.run(["createdb", *PG_ADMIN, *copy, self.name], check=True, timeout=60)
        if template is not None:
            self.token = template.token
            return
        ocppd = [sys.executable, "-m", "ocppd"]

        def run(*command: str) -> str:
            return subprocess.run(
                [*ocppd, *command, "--database", self.url],
                env=env,
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout

        run("db", "upgrade", "--create")
        self.token = run("token", "create", "--role", "admin", "--name", "bench").split()[-1]

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        out = subprocess.run(
            ["psql", *PG_ADMIN, "-d", self.name, "-tA", "-F", "\t", "-c", query],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def add_id_tags(self, count: int) -> None:
        """Accepted id tags TAG000000.. (the load generators' chargers' tags)."""
        self.sql(
            "INSERT INTO id_tags (id_tag, id_tag_key, status) SELECT "
            "'TAG' || lpad(i::text, 6, '0'), 'tag' || lpad(i::text, 6, '0'), 'Accepted' "
            f"FROM generate_series(0, {count - 1}) AS i"
        )

    def drop(self) -> None:
        subprocess.run(["dropdb", *PG_ADMIN, "--force", self.name], check=False, timeout=60)


@dataclass
class Node:
    """One `ocppd serve` (also what `Generators` needs: kind, tmp, port)."""

    name: str
    tmp: Path
    cpus: str | None
    kind: str = "ocppd"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.tmp / f"node-{self.name}-{self.port}.log"

    def start(
        self, database: Database, redis_url: str | None, env: dict[str, str], prelude: str = ""
    ) -> None:
        """`prelude`: Python run before `ocppd serve` (a change measured before making it)."""
        cmd = ["taskset", "-c", self.cpus] if self.cpus else []
        if prelude:
            cmd += [sys.executable, "-c", f"{prelude}; from ocppd.cli import main; main()"]
        else:
            cmd += [sys.executable, "-m", "ocppd"]
        cmd += ["serve", "--registration", "open"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--database", database.url]
        if redis_url:
            cmd += ["--redis-url", redis_url, "--node-name", self.name]
        self.kind = f"ocppd-{self.name}"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def wait(self) -> None:
        assert self.proc is not None
        wait_listening(self.port, self.proc)

    def pids(self) -> list[int]:
        return [] if self.proc is None or self.proc.poll() is not None else tree(self.proc.pid)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def log_errors(self) -> int:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return sum(1 for line in text.splitlines() if " ERROR " in line or "Traceback" in line)


class Cluster:
    """Redis (unless `redis` is False: nodes alone on the database), a fresh database, and
    nodes named `names`, each pinned to `cpus[name]` if given; all stopped by `close`."""

    def __init__(
        self,
        tmp: Path,
        src: Path | None,
        names: Sequence[str],
        template: Database,
        redis: bool = True,
        cpus: dict[str, str] | None = None,
        prelude: str = "",
    ) -> None:
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        if src is not None:
            self.env["PYTHONPATH"] = str(src)
        self.redis: RedisServer | None = None
        self.database: Database | None = None
        self.nodes: list[Node] = []
        try:
            if redis:
                self.redis = RedisServer(tmp)
            self.database = Database(self.env, template)
            for name in names:
                self.nodes.append(Node(name, tmp, (cpus or {}).get(name)))
            for node in self.nodes:
                redis_url = self.redis.url if self.redis else None
                node.start(self.database, redis_url, self.env, prelude)
            for node in self.nodes:
                node.wait()
        except BaseException:
            self.close()
            raise

    @property
    def db(self) -> Database:
        assert self.database is not None
        return self.database

    @property
    def token(self) -> str:
        return self.db.token

    def node_pids(self) -> list[int]:
        return [p for node in self.nodes for p in node.pids()]

    def commandstats(self) -> dict[str, Any]:
        return self.redis.commandstats() if self.redis else {}

    def log_errors(self) -> int:
        return sum(node.log_errors() for node in self.nodes)

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.database is not None:
            self.database.drop()


@contextlib.contextmanager
def cluster(args: argparse.Namespace, names: Sequence[str], **kwargs: Any) -> Iterator[Cluster]:
    started = Cluster(args.tmp, args.src, names, args.template, prelude=args.prelude, **kwargs)
    try:
        yield started
    finally:
        started.close()
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for node in started.nodes:
                if node.log.exists():
                    shutil.copy(node.log, args.logs)


def api(node: Node, token: str, timeout: float = 60.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=node.url + "/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
    )


# A charger in this process (commands, events)


class Probe:
    """One charge point on a real WebSocket: answers every call with Accepted, and sends its
    own calls with `ask`."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.uid = 0
        self.waiting: dict[str, asyncio.Future[Any]] = {}
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, node: Node, identity: str) -> Probe:
        ws = await connect(
            f"ws://127.0.0.1:{node.port}/ocpp/{identity}",
            subprotocols=[Subprotocol("ocpp1.6")],
            open_timeout=60,
            ping_interval=None,
        )
        probe = cls(ws)
        await probe.ask("BootNotification", {"chargePointVendor": "B", "chargePointModel": "P"})
        return probe

    async def ask(self, action: str, payload: dict[str, Any], timeout: float = 60.0) -> Any:
        self.uid += 1
        uid = str(self.uid)
        future = self.waiting[uid] = asyncio.get_running_loop().create_future()
        await self.ws.send(msgspec.json.encode([2, uid, action, payload]).decode())
        return await asyncio.wait_for(future, timeout)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in self.ws:
                frame = msgspec.json.decode(text)
                if frame[0] == 2:
                    await self.ws.send(
                        msgspec.json.encode([3, frame[1], {"status": "Accepted"}]).decode()
                    )
                elif (future := self.waiting.pop(frame[1], None)) and not future.done():
                    if frame[0] == 3:
                        future.set_result(frame[2])
                    else:
                        future.set_exception(RuntimeError(f"answered {frame}"))

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)


async def command(client: httpx.AsyncClient, identity: str) -> httpx.Response:
    return await client.post(f"/charge-points/{identity}/commands/ClearCache", json={})


# Phase: commands


async def run_commands(args: argparse.Namespace) -> dict[str, Any]:
    """Same-node and cross-node command round trips, taking turns (a slow moment of the
    machine falls on both)."""
    with cluster(args, ["A", "B"]) as c:
        a, b = c.nodes
        probe = await Probe.connect(a, "CMD1")
        via = {"same node (A)": api(a, c.token), "cross-node (B -> A)": api(b, c.token)}
        latencies: dict[str, list[float]] = {name: [] for name in via}
        failed: dict[str, int] = dict.fromkeys(via, 0)
        try:
            for client in via.values():  # warm-up: connections, caches, the first publish
                for _ in range(20):
                    (await command(client, "CMD1")).raise_for_status()
            for _ in range(args.commands):
                for name, client in via.items():
                    started = time.perf_counter()
                    answer = await command(client, "CMD1")
                    elapsed = time.perf_counter() - started
                    if answer.status_code == 200 and answer.json() == {"status": "Accepted"}:
                        latencies[name].append(elapsed)
                    else:
                        failed[name] += 1
            # What each path asks of Redis: a run of each alone (lease renewals included).
            calls = {}
            for name, client in via.items():
                before = c.commandstats()
                for _ in range(REDIS_SAMPLE):
                    await command(client, "CMD1")
                deltas = command_deltas(before, c.commandstats())
                calls[name] = {k: v / REDIS_SAMPLE for k, v in deltas.items()}
        finally:
            for client in via.values():
                await client.aclose()
            await probe.close()
        spreads = {name: Spread.of(values) for name, values in latencies.items()}
        return {
            "spreads": spreads,
            "failed": failed,
            "redis_per_command": calls,
            "log_errors": c.log_errors(),
            "load": load(),
        }


def commands_report(r: dict[str, Any]) -> str:
    lines = ["| path | requests | p50 ms | p99 ms | max ms | failed |", "|---|--:|--:|--:|--:|--:|"]
    for name, s in r["spreads"].items():
        lines.append(
            f"| {name} | {s.n:,} | {ms(s.p50)} | {ms(s.p99)} | {ms(s.max)} | {r['failed'][name]} |"
        )
    same, cross = r["spreads"].values()
    added50, added99 = cross.p50 - same.p50, cross.p99 - same.p99
    verdict = "MET" if added99 < HOP_TARGET_MS else "NOT MET"
    if added99 != added99:
        verdict = "too few requests to tell"
    per = "; ".join(
        f"{path}: " + (", ".join(f"{k} {v:.2f}" for k, v in calls.items()) or "none")
        for path, calls in r["redis_per_command"].items()
    )
    lines += [
        "",
        f"- the hop adds {ms(added50, '.2f')} ms at p50, {ms(added99, '.2f')} ms at p99 "
        f"(target < {HOP_TARGET_MS:g} ms at p99): {verdict}",
        f"- Redis commands per command ({REDIS_SAMPLE} of each path alone; the lease renewals "
        f"meanwhile included): {per}",
        f"- HTTP through httpx with keep-alive from this process; ClearCache answered at once by "
        f"a charger in this process; {r['load']} at the end; node log errors {r['log_errors']}",
    ]
    return "\n".join(lines)


# Phase: events


class Stream:
    """A node's /api/v1/events for one charge point, read in this process: each event's
    arrival time (perf_counter) goes to `arrived`."""

    def __init__(self, node: Node, token: str, identity: str) -> None:
        self.client = api(node, token, timeout=600)
        self.identity = identity
        self.arrived: asyncio.Queue[tuple[float, str, Any]] = asyncio.Queue()
        self.subscribed = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        params = {"chargePointId": self.identity}
        async with self.client.stream("GET", "/events", params=params) as response:
            response.raise_for_status()
            async for event, data in _stream_events(response.aiter_lines(), self.subscribed):
                await self.arrived.put((time.perf_counter(), event, data))

    async def next(self, kind: str, timeout: float, stamp: str = "") -> float | None:
        """When the next event of `kind` (with that `timestamp`, if given) arrived; None when
        none came in time."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                at, event, data = await asyncio.wait_for(self.arrived.get(), left)
            except TimeoutError:
                return None
            if event == kind and (not stamp or data.get("timestamp") == stamp):
                return at
        return None

    def drain(self) -> None:
        while not self.arrived.empty():
            self.arrived.get_nowait()

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.client.aclose()


async def _stream_events(
    lines: AsyncIterator[str], subscribed: asyncio.Event
) -> AsyncIterator[tuple[str, Any]]:
    pending: list[str] = []
    async for line in lines:
        if line.startswith(":"):
            subscribed.set()  # the stream's first line: the subscription is in place
        pending.append(line)
        if not line:
            for event in sse_events(pending):
                yield event
            pending = []


async def run_events(args: argparse.Namespace) -> dict[str, Any]:
    with cluster(args, ["A", "B"]) as c:
        a, b = c.nodes
        probe = await Probe.connect(a, "EV1")
        streams = {
            "A (same node)": Stream(a, c.token, "EV1"),
            "B (cross-node)": Stream(b, c.token, "EV1"),
        }
        latencies: dict[str, list[float]] = {name: [] for name in streams}
        missing = dict.fromkeys(streams, 0)
        base = time.time() - 86_400  # a timestamp per StatusNotification, to match events
        sent = 0

        async def notify() -> tuple[float, str]:
            """When a StatusNotification was sent, and its (distinct) timestamp."""
            nonlocal sent
            sent += 1
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + sent))
            started = time.perf_counter()
            payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available",
                       "timestamp": stamp}  # fmt: skip
            await probe.ask("StatusNotification", payload)
            return started, stamp

        try:
            for stream in streams.values():
                await asyncio.wait_for(stream.subscribed.wait(), 30)
            # Does B's stream show A's events at all (landed)? A few tries, a while each.
            available = False
            for _ in range(3):
                await notify()
                if await streams["B (cross-node)"].next("StatusNotification", 3.0):
                    available = True
                    break
            for stream in streams.values():
                stream.drain()
            rounds = args.events if available else min(args.events, 50)
            measured = streams if available else {"A (same node)": streams["A (same node)"]}
            for _ in range(rounds):
                started, stamp = await notify()
                for name, stream in measured.items():
                    arrived = await stream.next("StatusNotification", 10.0, stamp)
                    if arrived is None:
                        missing[name] += 1
                    else:
                        latencies[name].append(arrived - started)
        finally:
            for stream in streams.values():
                await stream.close()
            await probe.close()
        return {
            "available": available,
            "spreads": {name: Spread.of(v) for name, v in latencies.items() if v},
            "missing": {name: missing[name] for name in measured},
            "log_errors": c.log_errors(),
            "load": load(),
        }


def events_report(r: dict[str, Any]) -> str:
    lines = [
        "| stream | events | p50 ms | p99 ms | max ms | missing |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, s in r["spreads"].items():
        lines.append(
            f"| {name} | {s.n:,} | {ms(s.p50)} | {ms(s.p99)} | {ms(s.max)} | {r['missing'][name]} |"
        )
    notes = [
        "",
        "- from the charger's StatusNotification sent (on A) until its event is read from the "
        "stream; the event is published once the message is committed, so both include A's "
        f"commit; {r['load']} at the end; node log errors {r['log_errors']}",
    ]
    if not r["available"]:
        notes.insert(
            1,
            "- cross-node fan-out: not available: B's stream showed none of A's events "
            "(3 tries, 3 s each): events do not travel between nodes at this revision",
        )
    else:
        same, cross = r["spreads"].values()
        notes.insert(
            1,
            f"- the hop adds {ms(cross.p50 - same.p50, '.2f')} ms at p50, "
            f"{ms(cross.p99 - same.p99, '.2f')} ms at p99",
        )
    return "\n".join(lines + notes)


# Phase: throughput (and Redis commands per charger message)


@dataclass
class Setup:
    label: str
    nodes: int
    redis: bool
    pinned: bool
    listener: bool = False


def setups(quick: bool) -> list[Setup]:
    """Quick: a node of a cluster and 2 nodes with listeners (the storm's control runs a node
    without Redis)."""
    if quick:
        return [
            Setup("1 node of a cluster", 1, True, True),
            Setup("2 nodes, an event listener on each", 2, True, False, listener=True),
        ]
    return [
        Setup("1 node, no Redis", 1, False, True),
        Setup("1 node of a cluster", 1, True, True),
        Setup("1 node of a cluster, unpinned", 1, True, False),
        Setup("2 nodes", 2, True, False),
        Setup("2 nodes, an event listener on each", 2, True, False, listener=True),
    ]


class Listener(threading.Thread):
    """A client of a node's /api/v1/events, counting what it reads (as a dashboard would),
    and how often the node ended its stream (a client too slow to keep up), reconnecting."""

    def __init__(self, node: Node, token: str) -> None:
        super().__init__(daemon=True)
        self.url = node.url + "/api/v1/events"
        self.token = token
        self.events = 0
        self.ended = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        while not self.stopped.is_set():
            with (
                contextlib.suppress(httpx.HTTPError),
                httpx.stream("GET", self.url, headers=headers, timeout=None) as response,
            ):
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        self.events += 1
                    if self.stopped.is_set():
                        return
            self.ended += 1
            self.stopped.wait(0.2)


def run_throughput(args: argparse.Namespace, setup: Setup) -> dict[str, Any]:
    names = ["A", "B"][: setup.nodes]
    cpus = {"A": "0"} if setup.pinned else None
    with cluster(args, names, redis=setup.redis, cpus=cpus) as c:
        c.db.add_id_tags(args.conns)
        listeners = [Listener(node, c.token) for node in c.nodes] if setup.listener else []
        for listener in listeners:
            listener.start()
        gens: list[Generators] = []
        try:
            per = args.conns // len(c.nodes)
            procs = max(1, args.gen_procs // len(c.nodes))
            for i, node in enumerate(c.nodes):
                gen_cpus = "1" if setup.pinned else None
                gens.append(Generators(node, per, procs, "load", cpus=gen_cpus, first=i * per))
            ready = [r for g in gens for r in g.read_all(args.connect_deadline + 30)]
            connected = sum(r["connected"] for r in ready)
            time.sleep(1.0)  # after the boots
            # Without load: what the cluster asks of Redis by itself (lease renewals).
            idle0, t_idle = c.commandstats(), time.monotonic()
            time.sleep(args.idle_window)
            idle = command_deltas(idle0, c.commandstats())
            idle_s = time.monotonic() - t_idle
            go = time.time() + 0.3
            start, end = go + args.warmup, go + args.warmup + args.window
            for g in gens:
                g.send({"go": go, "start": start, "end": end})
            time.sleep(max(0.0, start - time.time()))
            gpids = [p for g in gens for p in g.pids()]
            npids = c.node_pids()
            s0, g0, d0 = cpu_seconds(npids), cpu_seconds(gpids), pg_cpu_seconds()
            r0 = c.redis.cpu() if c.redis else 0.0
            c0, t0, stats0 = core_busy(), time.time(), c.commandstats()
            events0 = sum(listener.events for listener in listeners)
            time.sleep(max(0.0, end - time.time()))
            s1, g1, d1 = cpu_seconds(npids), cpu_seconds(gpids), pg_cpu_seconds()
            r1 = c.redis.cpu() if c.redis else 0.0
            c1, t1, stats1 = core_busy(), time.time(), c.commandstats()
            events = sum(listener.events for listener in listeners) - events0
            ended = sum(listener.ended for listener in listeners)
            done = [d for g in gens for d in g.read_all(args.window + 60)]
            lat = [x for g in gens for x in g.latencies()]
        finally:
            for listener in listeners:
                listener.stopped.set()
            for g in gens:
                g.stop()
        seconds = t1 - t0
        answered = sum(d["answered"] for d in done)
        calls = command_deltas(stats0, stats1)
        busy = sum(b1 - b0 for (b0, _), (b1, _) in zip(c0, c1, strict=True)) / os.sysconf(
            "SC_CLK_TCK"
        )
        ours = (s1 - s0) + (g1 - g0) + (d1 - d0) + (r1 - r0)
        return {
            "setup": setup,
            "conns": connected,
            "msg_s": answered / args.window,
            "spread": Spread.of(lat),
            "errors": sum(d["errors"] for d in done),
            "node_cpu": (s1 - s0) / seconds * 100,
            "us_msg": (s1 - s0) / max(1, answered) * 1e6,
            "gen_cpu": (g1 - g0) / seconds * 100,
            "pg_cpu": (d1 - d0) / seconds * 100,
            "redis_cpu": (r1 - r0) / seconds * 100,
            "other_cpu": (busy - ours) / seconds * 100,
            "cores": busy_pct(c0, c1),
            "redis_calls": calls,
            "redis_idle": idle,
            "redis_per_msg": per_message(calls, answered, idle, seconds / idle_s)
            if setup.redis
            else float("nan"),
            "listener_events": events,
            "listener_ended": ended,
            "log_errors": c.log_errors(),
            "load": load(),
        }


def throughput_report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "| setup | conns | msg/s | p50 ms | p99 ms | errors | nodes CPU | node µs/msg | gen CPU "
        "| PG CPU | Redis CPU | other CPU | cores 0 / 1 busy | Redis cmds in window "
        "| Redis cmds / msg |",
        "|---" + "|--:" * 14 + "|",
    ]
    for r in rows:
        s: Spread = r["spread"]
        redis_calls = ", ".join(f"{k} {v:,}" for k, v in r["redis_calls"].items()) or "0"
        lines.append(
            f"| {r['setup'].label} | {r['conns']:,} | {fmt(r['msg_s'])} | {ms(s.p50)} "
            f"| {ms(s.p99)} | {r['errors']} | {r['node_cpu']:.0f}% | {r['us_msg']:.0f} "
            f"| {r['gen_cpu']:.0f}% | {r['pg_cpu']:.0f}% | {r['redis_cpu']:.0f}% "
            f"| {r['other_cpu']:.0f}% | {r['cores']} | {redis_calls} "
            f"| {fmt(r['redis_per_msg'], '.4f')} |"
        )
    notes = [
        "",
        f"- bench/server.py's load: {args.conns:,} connections split over the nodes, one CALL "
        f"outstanding each, the realistic cycle; window {args.window:g} s after "
        f"{args.warmup:g} s warm-up; CPU in % of one core; 'pinned': the node on CPU 0 and "
        "the generators on CPU 1, else nothing pinned",
        "- Redis cmds / msg: the window's commands less those of a window without load "
        f"({args.idle_window:g} s, scaled: lease renewals), per answered message",
    ]
    for r in rows:
        idle = ", ".join(f"{k} {v}" for k, v in r["redis_idle"].items()) or "none"
        extra = (
            f"; the listeners read {r['listener_events']:,} events in the window, their streams "
            f"were ended by the node {r['listener_ended']} times (too slow: they reconnect)"
            if r["setup"].listener
            else ""
        )
        notes.append(
            f"- {r['setup'].label}: Redis without load: {idle}{extra}; node log errors "
            f"{r['log_errors']}; {r['load']} at the end"
        )
    return "\n".join(lines + notes)


# Phase: failover


class Chargers:
    """`cluster_chargers.py` in a process of its own; its lines read in a thread."""

    def __init__(self, port: int, others: list[int], conns: int, args: argparse.Namespace) -> None:
        cmd = [sys.executable, str(HERE / "cluster_chargers.py"), "--port", str(port)]
        cmd += ["--failover-ports", ",".join(map(str, others)), "--conns", str(conns)]
        cmd += ["--connect-deadline", str(args.connect_deadline)]
        cmd += ["--failover-deadline", str(args.failover_deadline)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.loop = asyncio.get_running_loop()
        self.lines: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.loop.call_soon_threadsafe(self.lines.put_nowait, json.loads(line))
        self.loop.call_soon_threadsafe(self.lines.put_nowait, None)

    async def next(self, timeout: float) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.lines.get(), timeout)
        except TimeoutError:
            return None

    def stop(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.write('{"stop": true}\n')
                self.proc.stdin.close()
        stop(self.proc, 10)


async def run_failover(args: argparse.Namespace) -> dict[str, Any]:
    n = args.failover
    with cluster(args, ["A", "B", "C"]) as c:
        a, b, cc = c.nodes
        assert c.redis is not None
        chargers = Chargers(a.port, [b.port, cc.port], n, args)
        clients = {b.port: api(b, c.token, 30), cc.port: api(cc, c.token, 30)}
        other = {b.port: clients[cc.port], cc.port: clients[b.port]}
        row: dict[str, Any] = {"chargers": n}
        try:
            ready = await chargers.next(args.connect_deadline + 30)
            if not ready or not ready.get("ready"):
                raise RuntimeError(f"the failover chargers did not start: {ready}")
            row["booted_on_a"] = ready["connected"]
            row["connect_s"] = ready["connect_s"]
            row["owners_before"] = int(c.redis.client.hlen("ocppd:owners"))
            limit = asyncio.Semaphore(32)
            back: list[float] = []
            commandable: list[float] = []
            lag: list[float] = []
            refused = retries = 0

            async def command_until_answered(identity: str, port: int, booted: float) -> None:
                """Through the node that does not hold it: the request crosses over Redis."""
                nonlocal refused
                deadline = time.monotonic() + args.failover_deadline
                while time.monotonic() < deadline:
                    async with limit:
                        with contextlib.suppress(httpx.HTTPError):
                            answer = await command(other[port], identity)
                            if answer.status_code == 200:
                                commandable.append(time.time() - killed)
                                lag.append(time.time() - booted)
                                return
                    refused += 1
                    await asyncio.sleep(0.05)

            lease = asyncio.create_task(lease_gone(c.redis, "A", args.failover_deadline))
            await asyncio.sleep(0.5)
            parts = {"nodes B and C": [*b.pids(), *cc.pids()], "chargers": tree(chargers.proc.pid),
                     "this process (HTTP)": [os.getpid()]}  # fmt: skip
            cpu0 = {name: cpu_seconds(pids) for name, pids in parts.items()}
            busy0 = core_busy()
            killed = time.time()
            a.kill()
            commanding = []
            while len(back) < row["booted_on_a"]:
                line = await chargers.next(max(0.1, killed + args.failover_deadline - time.time()))
                if line is None or "done" in line:
                    break
                back.append(line["booted"] - killed)
                retries += line["attempts"] - 1
                identity = f"FO{line['back']:06d}"
                commanding.append(
                    asyncio.create_task(
                        command_until_answered(identity, line["port"], line["booted"])
                    )
                )
            if commanding:
                await asyncio.wait(commanding, timeout=args.failover_deadline)
            for task in commanding:
                task.cancel()
            seconds = time.time() - killed
            row["cpu"] = {
                name: (cpu_seconds(pids) - cpu0[name]) / seconds * 100
                for name, pids in parts.items()
            }
            row["cores"] = busy_pct(busy0, core_busy())
            row["back"] = Spread.of(back)
            row["commandable"] = Spread.of(commandable)
            row["lag"] = Spread.of(lag)
            row["refused"] = refused
            row["retries"] = retries
            gone = await lease
            row["lease_gone_s"] = gone - killed if gone else float("nan")
            row["owners_after"] = int(c.redis.client.hlen("ocppd:owners"))
        finally:
            chargers.stop()
            for client in clients.values():
                await client.aclose()
        row["log_errors"] = c.log_errors()
        row["load"] = load()
        return row


async def lease_gone(server: RedisServer, name: str, deadline: float) -> float:
    """When the node's key left Redis (Unix time); 0 when it did not before the deadline."""
    client = redis.asyncio.Redis(port=server.port)
    try:
        end = time.time() + deadline + 30
        while time.time() < end:
            if not await client.exists(f"ocppd:node:{name}"):
                return time.time()
            await asyncio.sleep(0.1)
        return 0.0
    finally:
        await client.aclose()


def failover_report(r: dict[str, Any]) -> str:
    back, commandable = r["back"], r["commandable"]
    n = r["booted_on_a"]
    return "\n".join(
        [
            "| chargers on A | reconnected | all back s | back p50 s | back p99 s "
            "| commandable | all commandable s | commandable p50 s | commandable p99 s "
            "| A's lease gone s |",
            "|--:" * 10 + "|",
            f"| {n:,} | {back.n:,} | {ms(back.max / 1e3, '.2f')} | {ms(back.p50 / 1e3, '.2f')} "
            f"| {ms(back.p99 / 1e3, '.2f')} | {commandable.n:,} "
            f"| {ms(commandable.max / 1e3, '.2f')} | {ms(commandable.p50 / 1e3, '.2f')} "
            f"| {ms(commandable.p99 / 1e3, '.2f')} | {ms(r['lease_gone_s'], '.1f')} |",
            "",
            f"- times from the `kill -9` of A; three nodes, chargers reconnecting at once "
            "(no delay) alternately to B and C, each sent ClearCache through the other of "
            f"the two as soon as it booted (retried every 50 ms while refused: {r['refused']:,} "
            f"refusals; 32 at a time: from its boot to the command's answer p50 "
            f"{ms(r['lag'].p50 / 1e3, '.2f')} s, p99 {ms(r['lag'].p99 / 1e3, '.2f')} s)",
            "- from the kill until the last answer, CPU in % of one core: "
            + ", ".join(f"{name} {cpu:.0f}%" for name, cpu in r["cpu"].items())
            + f"; cores 0 / 1 busy {r['cores']}",
            f"- connections opened again after a failed one or a refused boot (a CALLERROR: the "
            f"database did not commit in time): {r['retries']:,}",
            f"- booted on A in {r['connect_s']} s (64 at a time); owners entries in Redis "
            f"{r['owners_before']:,} before, {r['owners_after']:,} after; node log errors "
            f"{r['log_errors']}; {r['load']} at the end",
        ]
    )


# Phase: storm


def run_storm(args: argparse.Namespace, nodes: int) -> dict[str, Any]:
    """The storm on 2 nodes of a cluster, or (the control, as bench/server.py's storm) on 1
    node without Redis."""
    n = args.storm
    names = ["A", "B"][:nodes]
    with cluster(args, names, redis=nodes > 1) as c:
        c.db.add_id_tags(n)
        row: dict[str, Any] = {"conns": n, "setup": "2 nodes" if nodes > 1 else "1 node, no Redis"}
        gens: list[Generators] = []
        # Chargers i..j of each node, and where they reconnect: to the other node.
        share = -(-n // nodes)
        parts = [(node, i * share, min(share, n - i * share)) for i, node in enumerate(c.nodes)]
        owners: Peak | None = None
        try:
            extra = {"connect_deadline": args.storm_deadline}
            procs = max(1, 4 // nodes)
            gens = [
                Generators(node, count, procs, "idle", cpus=None, first=first, **extra)
                for node, first, count in parts
            ]
            ready = [r for g in gens for r in g.read_all(args.storm_deadline + 30)]
            row["idle_connected"] = sum(r["connected"] for r in ready)
            row["idle_connect_s"] = max(r["connect_s"] for r in ready)
            for g in gens:
                g.send({"go": 0, "start": 0, "end": 0})
            time.sleep(1.0)
            row["owners_idle"] = hlen(c, "ocppd:owners")
            closed = time.monotonic()
            for g in gens:
                g.send({"stop": True})
            for g in gens:
                g.read_all(60)
                g.stop()
            # Until the nodes have handled the closes (idle again, owners entries released).
            row["settle_s"] = settle(c, closed, 120.0)
            row["owners_closed"] = hlen(c, "ocppd:owners")
            # Every charger at once, to the other node than before (the same one if alone).
            extra["connect_limit"] = 0
            gens = [
                Generators(c.nodes[(i + 1) % nodes], count, procs, "storm", cpus=None,
                           first=first, **extra)
                for i, (_, first, count) in enumerate(parts)
            ]  # fmt: skip
            for g in gens:
                g.read_all(30)
            stats0, s0, d0 = c.commandstats(), cpu_seconds(c.node_pids()), pg_cpu_seconds()
            r0 = c.redis.cpu() if c.redis else 0.0
            go = time.time() + 1.0
            owners = Peak(c.redis, "ocppd:owners") if c.redis else None
            for g in gens:
                g.send({"go": go})
            done = [d for g in gens for d in g.read_all(args.storm_deadline + 60)]
            row["owners_peak"] = owners.stop() if owners else 0
            stats1, s1, d1 = c.commandstats(), cpu_seconds(c.node_pids()), pg_cpu_seconds()
            r1 = c.redis.cpu() if c.redis else 0.0
            lasts = [d["storm_last"] for d in done if d["storm_last"]]
            row["completed"] = sum(d["storm_completed"] for d in done)
            row["storm_s"] = (max(lasts) - go) if lasts else float("nan")
            row["errors"] = sum(d["errors"] for d in done)
            row["error_samples"] = [s for d in done for s in d["error_samples"]][:3]
            row["failed_connects"] = sum(d["failed_connects"] for d in done)
            row["node_cpu_s"], row["pg_cpu_s"], row["redis_cpu_s"] = s1 - s0, d1 - d0, r1 - r0
            calls = command_deltas(stats0, stats1)
            row["redis_calls"] = owners.own(calls) if owners else calls
            time.sleep(2.0)  # frames out are logged in the next commit
            row["owners_after"] = hlen(c, "ocppd:owners")
            row.update(storm_check(c.db, n))
        finally:
            if owners is not None:
                owners.stop()
            for g in gens:
                g.stop()
        row["log_errors"] = c.log_errors()
        row["load"] = load()
        return row


def hlen(c: Cluster, key: str) -> int:
    return int(c.redis.client.hlen(key)) if c.redis else 0


def settle(c: Cluster, since: float, deadline: float) -> float:
    """Seconds from `since` until the nodes are idle (under 5 % of a core over half a second)
    and hold no owners entry in Redis; NaN when not within `deadline`."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        cpu = cpu_seconds(c.node_pids())
        time.sleep(0.5)
        if cpu_seconds(c.node_pids()) - cpu < 0.025 and hlen(c, "ocppd:owners") == 0:
            return time.monotonic() - since
    return float("nan")


class Peak(threading.Thread):
    """The largest size a Redis hash reached while watched (polled every 0.1 s)."""

    def __init__(self, server: RedisServer, key: str) -> None:
        super().__init__(daemon=True)
        self.client = redis.Redis(port=server.port, socket_timeout=10)
        self.key = key
        self.peak = 0
        self.polls = 0
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            with contextlib.suppress(redis.RedisError):
                self.polls += 1
                self.peak = max(self.peak, int(self.client.hlen(self.key)))

    def own(self, calls: dict[str, int]) -> dict[str, int]:
        """`calls` less this watcher's own (its HLENs, its connection's HELLO)."""
        left = dict(calls, hlen=calls.get("hlen", 0) - self.polls, hello=calls.get("hello", 0) - 1)
        return {name: n for name, n in left.items() if n > 0}

    def stop(self) -> int:
        if not self.stopped.is_set():
            self.stopped.set()
            self.join(10)
            self.client.close()
        return self.peak


def storm_report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| setup | chargers | idle connected | closes handled s | storm: done | storm s | errors "
        "| connect retries | nodes CPU s | PG CPU s | Redis CPU s | transactions closed / total "
        "| frames stored / expected | owners in Redis (peak) |",
        "|---" + "|--:" * 13 + "|",
    ]
    notes = [
        "",
        "- the chargers are connected and booted (half on each node), closed, and once the "
        "nodes have handled the closes, all reconnect at once, each to the other node (alone: "
        "the same one): Boot, then a queued Start and Stop each; then the database is checked",
    ]
    for r in rows:
        lines.append(
            f"| {r['setup']} | {r['conns']:,} | {r['idle_connected']:,} "
            f"| {ms(r['settle_s'], '.1f')} | {r['completed']:,} "
            f"| {ms(r['storm_s'], '.1f')} | {r['errors']} | {r['failed_connects']:,} "
            f"| {r['node_cpu_s']:.1f} | {r['pg_cpu_s']:.1f} | {r['redis_cpu_s']:.1f} "
            f"| {r['db_transactions_closed']:,} / {r['db_transactions']:,} "
            f"| {r['db_frames']:,} / {r['db_frames_expected']:,} | {r['owners_peak']:,} |"
        )
        drained = (
            r["completed"] == r["conns"]
            and r["db_transactions_closed"] == r["conns"]
            and r["errors"] == 0
        )
        calls = ", ".join(f"{k} {v:,}" for k, v in r["redis_calls"].items()) or "none"
        notes.append(
            f"- {r['setup']}: {'DRAINED' if drained else 'NOT DRAINED'}; idle connect "
            f"{r['idle_connect_s']} s; booted {r['db_booted']:,}, unmatched stops "
            f"{r['db_unmatched_stops']}, node log errors {r['log_errors']}; {r['load']} at the end"
            + (f"; error samples {r['error_samples']}" if r["errors"] else "")
        )
        if r["setup"] != "1 node, no Redis":
            notes.append(
                f"- {r['setup']}: owners entries in Redis {r['owners_idle']:,} while idle, "
                f"{r['owners_closed']:,} once the closes were handled, at most "
                f"{r['owners_peak']:,} during the storm; Redis commands from the go until every "
                "generator reported (the first ones done close theirs meanwhile: releases), "
                f"those inside scripts (evalsha) counted too: {calls} "
                f"({sum(r['redis_calls'].values()) / max(1, r['conns']):.1f} per charger)"
            )
    return "\n".join(lines + notes)


# Main


def checkout(at: str, tmp: Path) -> tuple[Path, str]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", at], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", commit, "src"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    return tmp / "src", commit


def head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


class Overran(Exception):
    pass


def overran(signum: int, frame: Any) -> None:
    raise Overran("the bench overran its --budget: everything started is being stopped")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short smoke run")
    ap.add_argument("--only", nargs="*", choices=PHASES, default=PHASES)
    ap.add_argument("--at", metavar="REV", help="run ocppd as committed at REV")
    ap.add_argument("--save", nargs="?", const="auto", help="also write the output to a file")
    ap.add_argument("--commands", type=int, default=2000, help="requests through each node")
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--conns", type=int, default=1000, help="throughput: connections")
    ap.add_argument("--gen-procs", type=int, default=2)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--idle-window", type=float, default=6.0)
    ap.add_argument("--failover", type=int, default=2000, help="chargers on the killed node")
    ap.add_argument("--failover-deadline", type=float, default=120.0)
    ap.add_argument("--storm", type=int, default=10_000)
    ap.add_argument(
        "--storm-nodes",
        nargs="+",
        type=int,
        choices=[1, 2],
        default=[1, 2],
        help="1: the control (a node without Redis), 2: the cluster",
    )
    ap.add_argument("--storm-deadline", type=float, default=180.0)
    ap.add_argument("--connect-deadline", type=float, default=120.0)
    ap.add_argument(
        "--prelude",
        default="",
        help="Python each node runs first, to measure a change before making it in src/, e.g. "
        "'import ocppd.csms.cluster.redis_cluster as r; r.MAX_CONNECTIONS = 256'",
    )
    ap.add_argument("--logs", type=Path, help="keep the nodes' logs in this directory")
    ap.add_argument("--budget", type=float, default=900.0, help="seconds for the whole run")
    args = ap.parse_args(argv)
    if args.quick:
        args.commands, args.events, args.conns = 200, 100, 100
        args.window, args.warmup, args.idle_window = 3.0, 1.0, 2.0
        args.failover, args.storm = 200, 1000
        args.failover_deadline, args.storm_deadline, args.connect_deadline = 60.0, 60.0, 60.0
        args.budget = min(args.budget, 300.0)
    assert args.storm <= 16_000 and args.failover <= 10_000 and args.window <= 60
    return args


def run_phases(args: argparse.Namespace, out: list[str]) -> None:
    def section(title: str, started: float, text: str) -> None:
        out.append(f"## {title}\n\n{text}\n\n(phase: {time.time() - started:.0f} s)\n")
        print(out[-1], file=sys.stderr, flush=True)

    if "commands" in args.only:
        started = time.time()
        report = commands_report(asyncio.run(run_commands(args)))
        section("Commands: same node vs cross-node", started, report)
    if "events" in args.only:
        started = time.time()
        section("Event fan-out", started, events_report(asyncio.run(run_events(args))))
    if "throughput" in args.only:
        started = time.time()
        rows = []
        for setup in setups(args.quick):
            rows.append(run_throughput(args, setup))
            print(throughput_report(rows[-1:], args).splitlines()[2], file=sys.stderr, flush=True)
        title = "Throughput and Redis commands per charger message"
        section(title, started, throughput_report(rows, args))
    if "failover" in args.only:
        started = time.time()
        report = failover_report(asyncio.run(run_failover(args)))
        section(
            f"Failover: kill -9 of the node holding {args.failover:,} chargers", started, report
        )
    if "storm" in args.only:
        started = time.time()
        report = storm_report([run_storm(args, nodes) for nodes in args.storm_nodes])
        section(f"Reconnect storm: {args.storm:,} chargers over 2 nodes", started, report)


def main() -> None:
    args = parse()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the children
    signal.signal(signal.SIGALRM, overran)
    signal.alarm(int(args.budget))
    started = time.time()
    load_at_start = load()
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ocppd-cluster-bench-") as tmpdir:
        args.tmp = Path(tmpdir)
        args.src, revision = None, f"working tree at {head()}"
        if args.at:
            args.src, commit = checkout(args.at, args.tmp)
            revision = f"commit {commit}"
        env = dict(os.environ, **({"PYTHONPATH": str(args.src)} if args.src else {}))
        args.template = Database(env)  # migrated once, copied for each phase
        try:
            run_phases(args, out)
        except Overran as error:  # what finished is shown; what was running was stopped
            out.append(f"## Not measured\n\n{error}: the phases after those above.\n")
        finally:
            args.template.drop()
    signal.alarm(0)
    title = (
        f"# bench/cluster.py {'--quick ' if args.quick else ''}"
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
        f"{time.time() - started:.0f} s, ocppd from the {revision})\n\n"
        + (f"Each node ran first: `{args.prelude}`\n\n" if args.prelude else "")
        + f"{os.cpu_count()} cores; {load_at_start} at the start, {load()} at the end (other "
        "sessions' tests run on the same machine).\n"
    )
    text = "\n".join([title, *out])
    print(text)
    if args.save:
        tag = revision.split()[-1]
        path = (
            HERE / "results" / f"cluster-{tag}{'-quick' if args.quick else ''}.txt"
            if args.save == "auto"
            else Path(args.save)
        )
        path.write_text(text)
        print(f"(written to {path})", file=sys.stderr)


if __name__ == "__main__":
    main()
