"""Figures for the central system (issue 3): `ocppd serve` under simulated charge points.

    .venv/bin/python bench/server.py --at HEAD  # full run, ~8 min, prints Markdown tables
    .venv/bin/python bench/server.py --quick    # smoke run, about a minute
    # the cost of each action alone, and variants measured before changing src/:
    .venv/bin/python bench/server.py --skip paced storm --conns 1000 \
        --servers ocppd-pg ocppd-pg+uvloop ocppd-pg+gc --per-action bare ocppd-pg

`--at REV` runs ocppd as committed (a `git archive` of src/ on PYTHONPATH), so edits in
progress in the working tree do not end up in the figures.

Servers, each one process pinned to CPU 0 (`taskset -c 0`):
  ocppd-sqlite  `ocppd serve --registration open --data-dir <tmp>`
  ocppd-pg      `ocppd serve --registration open --database postgresql://.../<fresh db>`
  peer          `bench/server_peer.py`: mobilityhouse `ocpp` + websockets, stores nothing
  bare          `bench/server_bare.py`: ocppd's WebSocket stack, parse + fixed reply (ceiling)
  bare+uvicorn  the same on uvicorn's own WebSocket protocol instead of ocppd's
Load generators (`bench/server_loadgen.py`) run in separate processes pinned to CPU 1. The
PostgreSQL server is not pinned (it is not ours): its backends for the bench database are
measured and shown separately.

Scenarios:
  load    N connections (100, 1000), one CALL outstanding each, a realistic cycle (Heartbeat,
          StatusNotification, StartTransaction, MeterValues x6 with 4 sampled values,
          StopTransaction with transactionData); BootNotification once at connect.
  paced   1000 connections, each sending one message a second. Also shown: p99 by action,
          which actions the slowest 1 % are and whether they were sent together (a stall) or
          spread out, and the load generators' own longest collection and loop lag (the
          instrument's share of a tail). `--keep-latencies DIR` keeps every call's send time,
          action and latency.
  idle    10,000 connections, booted and then idle: server RSS per connection.
  storm   the same 10,000 chargers reconnecting at once, each booting and delivering a queued
          StartTransaction and StopTransaction; the database is checked afterwards.

Targets only 127.0.0.1; every phase has a deadline and every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import json
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from processes import TICK, cpu_seconds, free_port, rss_mib, tree
from server_loadgen import ACTIONS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PG_ADMIN = ["-h", "127.0.0.1", "-U", "postgres"]
PG_URL = "postgresql://postgres@127.0.0.1:5432/"


# /proc


def pg_cpu_seconds() -> float:
    """CPU of the whole PostgreSQL server: the postmaster, its live children, and (through the
    postmaster's cutime/cstime) the backends that already exited (pool overflow churn)."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if "(postgres)" in text:
                stats[int(entry)] = text.rsplit(")", 1)[1].split()
    total = 0
    for fields in stats.values():
        total += int(fields[11]) + int(fields[12])
        if int(fields[1]) not in stats:  # the postmaster: add its reaped children
            total += int(fields[13]) + int(fields[14])
    return total / TICK


def core_busy() -> list[tuple[int, int]]:
    """(busy, total) ticks of each core; busy counts time stolen by the hypervisor."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(("cpu0 ", "cpu1 ")):
            v = [int(x) for x in line.split()[1:9]]
            out.append((sum(v) - v[3] - v[4], sum(v)))
    return out


def stolen_ticks() -> int:
    """Ticks of both cores the hypervisor gave to another machine (steal)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu "):
            return int(line.split()[8])
    return 0


def busy_pct(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> str:
    return " / ".join(
        f"{100 * (b1 - b0) / max(1, t1 - t0):.0f}%" for (b0, t0), (b1, t1) in zip(a, b, strict=True)
    )


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}")


def stop(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# Servers


@dataclass
class Server:
    kind: str  # ocppd-sqlite | ocppd-pg | peer | bare
    tmp: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    dbname: str = ""
    data_dir: Path | None = None
    src: Path | None = None  # ocppd sources to run (default: the installed working tree)

    @property
    def ocppd(self) -> bool:
        return self.kind.startswith("ocppd")

    @property
    def base(self) -> str:
        """ocppd-pg+uvloop -> ocppd-pg"""
        return self.kind.split("+")[0]

    def start(self) -> None:
        py = sys.executable
        if self.kind == "peer":
            cmd = [py, str(HERE / "server_peer.py"), "--port", str(self.port)]
        elif self.base == "bare":
            cmd = [py, str(HERE / "server_bare.py"), "--port", str(self.port)]
            if self.kind == "bare+uvicorn":  # uvicorn's own WebSocket protocol, for comparison
                cmd.append("--uvicorn-ws")
        else:
            # Variants, to measure a change before making it in src/:
            #   +uvloop  `ocppd serve` calls asyncio.run(), so it runs on the stdlib loop
            #            whatever uvicorn's `loop` says; this installs uvloop's policy first.
            #   +gc      gc.set_threshold(50_000, 50, 1000) after ocppd's (50_000, 20, 100):
            #            fewer collections of a big heap. (Until 2026-12-02 ocppd's own setting,
            #            applied once `serve` had started, replaced this one: earlier `+gc`
            #            figures measured ocppd's defaults.)
            #   +inflightN  up to N group commits in flight (PostgreSQL only), e.g. +inflight2.
            #   +gcoff   no automatic garbage collection (is a latency tail the collector's?)
            cmd = [py, "-m", "ocppd"]
            variants = self.kind.split("+")[1:]
            if variants:
                boot = []
                if "uvloop" in variants:
                    boot.append("import uvloop; uvloop.install()")
                if "gc" in variants:
                    # After ocppd's own settings, which `serve` applies once started.
                    boot.append(
                        "import gc, ocppd.csms.service as s; settle = s.settle_garbage_collector; "
                        "s.settle_garbage_collector = lambda: "
                        "(settle(), gc.set_threshold(50_000, 50, 1000))"
                    )
                if "gcoff" in variants:
                    boot.append("import gc; gc.disable()")
                for variant in variants:
                    if variant.startswith("inflight"):
                        commits = int(variant.removeprefix("inflight"))
                        boot.append(f"import ocppd.csms.group_commit as g; g.IN_FLIGHT = {commits}")
                boot.append("from ocppd.cli import main; main()")
                cmd = [py, "-c", "; ".join(boot)]
            cmd += ["serve", "--registration", "open"]
            cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
            if self.base == "ocppd-pg":
                self.dbname = f"ocppd_bench_{os.getpid()}_{self.port}"
                subprocess.run(["createdb", *PG_ADMIN, self.dbname], check=True)
                cmd += ["--database", PG_URL + self.dbname]
            else:
                self.data_dir = Path(tempfile.mkdtemp(prefix="sqlite-", dir=self.tmp))
                cmd += ["--data-dir", str(self.data_dir)]
        log = (self.tmp / f"{self.kind}-{self.port}.log").open("wb")
        env = dict(os.environ)
        if self.src is not None:
            env["PYTHONPATH"] = str(self.src)
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", *cmd], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        wait_listening(self.port, self.proc)
        time.sleep(0.5)

    def pids(self) -> list[int]:
        assert self.proc is not None
        return tree(self.proc.pid)

    def db_cpu(self) -> float:
        return pg_cpu_seconds() if self.dbname else 0.0

    def commits(self) -> int:
        """Transactions committed in the bench database so far (PostgreSQL only)."""
        if not self.dbname:
            return 0
        rows = self.sql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{self.dbname}'")
        return int(rows[0][0])

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        if self.dbname:
            out = subprocess.run(
                ["psql", *PG_ADMIN, "-d", self.dbname, "-tA", "-F", "\t", "-c", query],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            return [tuple(line.split("\t")) for line in out.splitlines() if line]
        assert self.data_dir is not None
        with sqlite3.connect(self.data_dir / "ocppd.db", timeout=30) as db:
            return [tuple(str(v) for v in row) for row in db.execute(query).fetchall()]

    def add_id_tags(self, count: int) -> None:
        """Accepted id tags TAG000000.. (the chargers' tags), written straight into the table."""
        if self.dbname:
            self.sql(
                "INSERT INTO id_tags (id_tag, id_tag_key, status) SELECT "
                "'TAG' || lpad(i::text, 6, '0'), 'tag' || lpad(i::text, 6, '0'), 'Accepted' "
                f"FROM generate_series(0, {count - 1}) AS i"
            )
        elif self.data_dir is not None:
            with sqlite3.connect(self.data_dir / "ocppd.db", timeout=30) as db:
                db.executemany(
                    "INSERT INTO id_tags (id_tag, id_tag_key, status) VALUES (?, ?, 'Accepted')",
                    [(f"TAG{i:06d}", f"tag{i:06d}") for i in range(count)],
                )

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        if self.dbname:
            subprocess.run(["dropdb", *PG_ADMIN, "--force", self.dbname], check=False)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_errors(self) -> int:
        text = (self.tmp / f"{self.kind}-{self.port}.log").read_text(errors="replace")
        return sum(1 for line in text.splitlines() if " ERROR " in line or "Traceback" in line)


# Load generators


class Target(Protocol):
    """What load generators need of a server: where it listens, a name for their files."""

    kind: str
    tmp: Path
    port: int


class Generators:
    def __init__(
        self,
        server: Target,
        conns: int,
        procs: int,
        mode: str,
        *,
        cpus: str | None = "1",
        first: int = 0,
        **extra: Any,
    ) -> None:
        """`procs` processes of `server_loadgen.py` for chargers `first`.. `first + conns - 1`,
        pinned to `cpus` (`taskset -c`; None: not pinned)."""
        self.outs = []
        self.keep: Path | None = None  # copy the latencies there when stopped
        self.procs: list[subprocess.Popen[str]] = []
        per = -(-conns // procs)
        for g in range(procs):
            n = min(per, conns - g * per)
            if n <= 0:
                break
            out = server.tmp / f"lat-{server.kind}-{server.port}-{mode}-{g}.bin"
            self.outs.append(out)
            cmd = ["taskset", "-c", cpus] if cpus else []
            cmd += [sys.executable, str(HERE / "server_loadgen.py")]
            cmd += ["--port", str(server.port), "--conns", str(n)]
            cmd += ["--id-base", str(first + g * per)]
            cmd += ["--mode", mode, "--out", str(out)]
            for key, value in extra.items():
                cmd += [f"--{key.replace('_', '-')}", str(value)]
            self.procs.append(
                subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            )

    def pids(self) -> list[int]:
        return [p for proc in self.procs for p in tree(proc.pid)]

    def read_all(self, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        out = []
        for proc in self.procs:
            assert proc.stdout is not None
            os.set_blocking(proc.stdout.fileno(), True)
            line = ""
            while not line and time.monotonic() < deadline:
                line = _readline(proc, deadline - time.monotonic())
                if proc.poll() is not None and not line:
                    break
            if not line:
                raise RuntimeError("a load generator did not report in time")
            out.append(json.loads(line))
        return out

    def send(self, command: dict[str, Any]) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(command) + "\n")
            proc.stdin.flush()

    def latencies(self) -> array.array[float]:
        return self._read("", "d")

    def calls(self) -> list[tuple[float, float, str]]:
        """(sent at, latency, action) of every call answered in the window."""
        lat, actions, sent = self.latencies(), self._read(".actions", "B"), self._read(".sent", "d")
        return [(s, x, ACTIONS[a]) for s, x, a in zip(sent, lat, actions, strict=True)]

    def _read(self, suffix: str, typecode: str) -> array.array[Any]:
        values = array.array(typecode)
        for out in self.outs:
            path = out.with_name(out.name + suffix)
            if path.exists():
                values.frombytes(path.read_bytes())
        return values

    def stop(self) -> None:
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)
            for out in self.outs:
                for suffix in ("", ".actions", ".sent"):
                    path = out.with_name(out.name + suffix)
                    if path.exists():
                        shutil.copy(path, self.keep)
        for proc in self.procs:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            stop(proc, 5)


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    import select

    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, timeout))
    return proc.stdout.readline() if ready else ""


def tail(calls: list[tuple[float, float, str]]) -> dict[str, Any]:
    """Where a paced run's slowest 1 % come from: p99 by action, and how many of them were
    sent in the worst tenth of a second (a stall) rather than spread over the window."""
    by_action: dict[str, array.array[float]] = {}
    for _, latency, action in calls:
        by_action.setdefault(action, array.array("d")).append(latency)
    p99 = {a: quantiles(lat)[1] for a, lat in by_action.items() if len(lat) >= 100}
    if len(calls) < 100:
        return {"p99_by_action": p99}
    cut = sorted(latency for _, latency, _ in calls)[len(calls) * 99 // 100]
    slow = [sent for sent, latency, _ in calls if latency >= cut]
    buckets: dict[int, int] = {}
    for sent in slow:
        buckets[int(sent * 10)] = buckets.get(int(sent * 10), 0) + 1
    return {
        "p99_by_action": p99,
        "slow": len(slow),
        "slow_share": {a: sum(1 for _, x, b in calls if b == a and x >= cut) for a in by_action},
        "slow_tenths": len(buckets),
        "slow_in_worst_tenth": max(buckets.values()),
    }


def quantiles(lat: array.array[float]) -> tuple[float, float, float]:
    if len(lat) < 100:
        return float("nan"), float("nan"), float("nan")
    q = statistics.quantiles(lat, n=1000)
    return q[499] * 1e3, q[989] * 1e3, max(lat) * 1e3


# Scenarios


def run_load(
    kind: str,
    conns: int,
    args: argparse.Namespace,
    tmp: Path,
    mode: str = "load",
    cycle: str = "",
) -> dict[str, Any]:
    server = Server(kind, tmp, src=args.src)
    gens: Generators | None = None
    try:
        server.start()
        if server.ocppd:
            server.add_id_tags(conns)
        rss_idle = rss_mib(server.pids())
        extra: dict[str, Any] = {"cycle": cycle} if cycle else {}
        gens = Generators(server, conns, args.gen_procs, mode, **extra)
        if args.keep_latencies:
            gens.keep = Path(args.keep_latencies) / f"{kind}-{conns}-{mode}"
        ready = gens.read_all(args.connect_deadline + 30)
        connected = sum(r["connected"] for r in ready)
        window = args.paced_window if mode == "paced" else args.window
        go = time.time() + 0.3
        start = go + args.warmup
        end = start + window
        gens.send({"go": go, "start": start, "end": end})
        time.sleep(max(0.0, start - time.time()))
        spids, gpids = server.pids(), gens.pids()
        x0 = server.commits()
        stolen0 = stolen_ticks()
        s0, g0, d0, c0, t0 = (
            cpu_seconds(spids),
            cpu_seconds(gpids),
            server.db_cpu(),
            core_busy(),
            time.time(),
        )
        time.sleep(max(0.0, end - time.time()))
        stolen1 = stolen_ticks()
        s1, g1, d1, c1, t1 = (
            cpu_seconds(spids),
            cpu_seconds(gpids),
            server.db_cpu(),
            core_busy(),
            time.time(),
        )
        rss_loaded = rss_mib(server.pids())
        x1 = server.commits()
        done = gens.read_all(window + 60)
        lat = gens.latencies()
        row: dict[str, Any] = {
            "server": kind,
            "cycle": cycle,
            "mode": mode,
            "conns": connected,
            "connect_s": max(r["connect_s"] for r in ready),
            "answered": sum(d["answered"] for d in done),
            "answered_total": sum(d["answered_total"] for d in done),
            "errors": sum(d["errors"] for d in done),
            "error_samples": [s for d in done for s in d["error_samples"]][:3],
            "by_action": _merge([d["by_action"] for d in done]),
            "window": t1 - t0,
            "srv_cpu": (s1 - s0) / (t1 - t0) * 100,
            "gen_cpu": (g1 - g0) / (t1 - t0) * 100,
            "db_cpu": (d1 - d0) / (t1 - t0) * 100,
            "srv_s": s1 - s0,
            "gen_s": g1 - g0,
            "cores": busy_pct(c0, c1),
            # % of one core: the machine's 2 cores lost this much to other virtual machines
            "stolen": (stolen1 - stolen0) / TICK / (t1 - t0) * 100,
            "other_cpu": _other(c0, c1, (s1 - s0) + (g1 - g0) + (d1 - d0), t1 - t0),
            "rss_idle": rss_idle,
            "rss": rss_loaded,
        }
        row["msg_s"] = row["answered"] / window
        row["commits_s"] = (x1 - x0) / (t1 - t0) if server.dbname else float("nan")
        row["p50"], row["p99"], row["max"] = quantiles(lat)
        if mode == "paced":
            row["tail"] = tail(gens.calls())
            row["tail"]["generator"] = {
                key: max(d[key] for d in done)
                for key in ("gc_ms_max", "gc_ms_total", "loop_lag_ms_max")
            }
        row["us_msg"] = row["srv_s"] / max(1, row["answered"]) * 1e6
        row["gen_us_msg"] = row["gen_s"] / max(1, row["answered"]) * 1e6
        if server.ocppd:
            time.sleep(1.0)  # frames out are logged in the next commit
            row.update(stored_counts(server, row["answered_total"]))
            row["server_log_errors"] = server.log_errors()
        return row
    finally:
        if gens is not None:
            gens.stop()
        server.stop()


def median_run(rows: list[dict[str, Any]], key: str = "msg_s") -> dict[str, Any]:
    """The run with the median `key` (throughput; p99 for paced runs), and every run's
    figure (`runs_<key>`)."""
    ordered = sorted(rows, key=lambda row: row[key])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median[f"runs_{key}"] = [row[key] for row in rows]
    median["runs_stolen"] = [row["stolen"] for row in rows]
    return median


def _other(
    c0: list[tuple[int, int]], c1: list[tuple[int, int]], ours: float, seconds: float
) -> float:
    """Busy CPU (both cores, % of one core) not used by server, generators or PostgreSQL:
    kernel loopback work charged to no process, anything else running on the machine, and
    time the hypervisor gave to other virtual machines (steal, also shown on its own)."""
    busy = sum(b1 - b0 for (b0, _), (b1, _) in zip(c0, c1, strict=True)) / TICK
    return (busy - ours) / seconds * 100


def _merge(dicts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def stored_counts(server: Server, answered: int) -> dict[str, Any]:
    frames = int(server.sql("SELECT count(*) FROM messages")[0][0])
    meter = int(server.sql("SELECT count(*) FROM meter_values")[0][0])
    return {"frames_stored": frames, "frames_expected": 2 * answered, "meter_rows": meter}


def run_idle_storm(kind: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """10,000 idle connections (RSS per connection), then all of them reconnecting at once."""
    n = args.idle_conns
    server = Server(kind, tmp, src=args.src)
    gens: Generators | None = None
    row: dict[str, Any] = {"server": kind, "conns": n}
    try:
        server.start()
        server.add_id_tags(n)
        time.sleep(1.0)
        rss0 = rss_mib(server.pids())
        gens = Generators(
            server, n, args.idle_procs, "idle", connect_deadline=args.connect_deadline
        )
        ready = gens.read_all(args.connect_deadline + 30)
        row["idle_connected"] = sum(r["connected"] for r in ready)
        row["idle_connect_s"] = max(r["connect_s"] for r in ready)
        row["idle_failed_connects"] = sum(r["failed_connects"] for r in ready)
        gens.send({"go": 0, "start": 0, "end": 0})
        time.sleep(args.idle_settle)
        rss1 = rss_mib(server.pids())
        s0 = cpu_seconds(server.pids())
        time.sleep(2.0)
        row["idle_cpu"] = (cpu_seconds(server.pids()) - s0) / 2.0 * 100
        row["rss_before"], row["rss_idle"] = rss0, rss1
        row["kib_per_conn"] = (rss1 - rss0) * 1024 / max(1, row["idle_connected"])
        gens.send({"stop": True})
        done = gens.read_all(60)
        row["idle_open_at_end"] = sum(d["open_at_end"] for d in done)
        row["idle_errors"] = sum(d["errors"] for d in done)
        gens.stop()
        time.sleep(2.0)  # the server sees the disconnects

        # The storm: every charger at once (no connect limit), Boot + queued Start/Stop.
        gens = Generators(
            server,
            n,
            args.idle_procs,
            "storm",
            connect_deadline=args.storm_deadline,
            connect_limit=0,
        )
        gens.read_all(30)
        go = time.time() + 1.0
        s0, d0 = cpu_seconds(server.pids()), server.db_cpu()
        gens.send({"go": go})
        done = gens.read_all(args.storm_deadline + 60)
        s1, d1 = cpu_seconds(server.pids()), server.db_cpu()
        row["storm_wall_s"] = time.time() - go
        completed = sum(d["storm_completed"] for d in done)
        lasts = [d["storm_last"] for d in done if d["storm_last"]]
        row["storm_completed"] = completed
        row["storm_s"] = (max(lasts) - go) if lasts else float("nan")
        row["storm_errors"] = sum(d["errors"] for d in done)
        row["storm_error_samples"] = [s for d in done for s in d["error_samples"]][:3]
        row["storm_connect_attempts"] = sum(d["connect_attempts"] for d in done)
        row["storm_failed_connects"] = sum(d["failed_connects"] for d in done)
        row["storm_srv_cpu_s"] = s1 - s0
        row["storm_db_cpu_s"] = d1 - d0
        row["storm_rss"] = rss_mib(server.pids())
        time.sleep(2.0)  # frames out are logged in the next commit
        if server.ocppd:
            row.update(storm_check(server, n))
            row["server_log_errors"] = server.log_errors()
        else:  # nothing stored: only what the chargers saw
            row.update(dict.fromkeys(NOT_STORED, 0), server_log_errors=0, stored=False)
        return row
    finally:
        if gens is not None:
            gens.stop()
        server.stop()


NOT_STORED = [
    "db_transactions_closed",
    "db_transactions",
    "db_stop_meter_rows",
    "db_booted",
    "db_frames",
    "db_frames_expected",
    "db_unmatched_stops",
]


class Queryable(Protocol):
    def sql(self, query: str) -> list[tuple[Any, ...]]: ...


def storm_check(server: Queryable, n: int) -> dict[str, Any]:
    """What the database holds after the storm (the idle phase booted each charger once)."""
    q = server.sql
    return {
        "db_transactions_closed": int(
            q(
                "SELECT count(*) FROM transactions WHERE stopped_at IS NOT NULL "
                "AND energy_wh = 5230 AND start_status = 'Accepted'"
            )[0][0]
        ),
        "db_transactions": int(q("SELECT count(*) FROM transactions")[0][0]),
        "db_stop_meter_rows": int(
            q("SELECT count(*) FROM meter_values WHERE context = 'Transaction.End'")[0][0]
        ),
        "db_booted": int(q("SELECT count(*) FROM charge_points WHERE booted_at IS NOT NULL")[0][0]),
        "db_frames": int(q("SELECT count(*) FROM messages")[0][0]),
        "db_frames_expected": n * 8,  # (2 boots + start + stop) x (in + out)
        "db_unmatched_stops": int(q("SELECT count(*) FROM unmatched_stops")[0][0]),
    }


# Output


def fmt(v: Any, spec: str = ",.0f") -> str:
    if isinstance(v, float) and v != v:
        return "n/a"
    return format(v, spec)


def load_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| server | conns | msg/s | p50 ms | p99 ms | errors | server CPU | server µs/msg "
        "| gen CPU (2 procs) | PG CPU | other CPU | cores 0 / 1 busy | RSS MiB idle→loaded "
        "| frames stored / exchanged | meter rows |\n|---" + "|--:" * 14 + "|"
    )
    lines = [head]
    for r in rows:
        stored = (
            f"{r['frames_stored']:,} / {r['frames_expected']:,}" if "frames_stored" in r else "-"
        )
        lines.append(
            f"| {r['server']} | {r['conns']:,} | {fmt(r['msg_s'])} | {fmt(r['p50'], '.1f')} "
            f"| {fmt(r['p99'], '.1f')} | {r['errors']} | {r['srv_cpu']:.0f}% "
            f"| {r['us_msg']:.0f} | {r['gen_cpu']:.0f}% ({r['gen_us_msg']:.0f} µs/msg) "
            f"| {r['db_cpu']:.0f}% | {r['other_cpu']:.0f}% | {r['cores']} "
            f"| {r['rss_idle']:.0f}→{r['rss']:.0f} "
            f"| {stored} | {r.get('meter_rows', '-')} |"
        )
    return "\n".join(lines)


def paced_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| server | conns | msg/s | p50 ms | p99 ms | max ms | errors | server CPU "
        "| server µs/msg | PG CPU | PG commits/s | frames stored / exchanged |\n|---"
        + "|--:" * 11
        + "|"
    ]
    for r in rows:
        stored = "-"  # servers that store nothing (bare, peer)
        if "frames_stored" in r:
            stored = f"{r['frames_stored']:,} / {r['frames_expected']:,}"
        lines.append(
            f"| {r['server']} | {r['conns']:,} | {fmt(r['msg_s'])} | {fmt(r['p50'], '.1f')} "
            f"| {fmt(r['p99'], '.1f')} | {fmt(r['max'], '.1f')} | {r['errors']} "
            f"| {r['srv_cpu']:.0f}% | {r['us_msg']:.0f} | {r['db_cpu']:.0f}% "
            f"| {fmt(r['commits_s'])} | {stored} |"
        )
    return "\n".join(lines)


def tail_line(r: dict[str, Any]) -> str:
    t = r["tail"]
    p99 = ", ".join(f"{a} {fmt(x, '.1f')}" for a, x in t["p99_by_action"].items())
    line = f"- {r['server']}: p99 ms by action: {p99}"
    if "slow" in t:
        share = ", ".join(f"{a} {n}" for a, n in t["slow_share"].items() if n)
        line += (
            f"; the slowest 1 % ({t['slow']}) by action: {share}; sent in "
            f"{t['slow_tenths']} different tenths of a second, at most {t['slow_in_worst_tenth']} "
            "in one"
        )
    g = t["generator"]
    line += f"; stolen by the hypervisor {r['stolen']:.0f} % of a core"
    return line + (
        f"; load generators' own pauses: longest collection {g['gc_ms_max']} ms "
        f"({g['gc_ms_total']} ms in all), loop lag up to {g['loop_lag_ms_max']} ms"
    )


PER_ACTION = {
    "Heartbeat": "Heartbeat",
    "StatusNotification": "StatusNotification:Charging",
    "MeterValues (4 values)": "MeterValues",
    "Start+StopTransaction": "StartTransaction,StopTransaction",
}


def per_action_table(rows: list[dict[str, Any]]) -> str:
    kinds = list(dict.fromkeys(r["server"] for r in rows))
    lines = [
        "| action | "
        + " | ".join(f"{k} msg/s | {k} µs/msg" for k in kinds)
        + " |\n|---"
        + "|--:" * (2 * len(kinds))
        + "|"
    ]
    for label, cycle in PER_ACTION.items():
        cells = []
        for k in kinds:
            r = next((r for r in rows if r["server"] == k and r["cycle"] == cycle), None)
            cells += ["-", "-"] if r is None else [fmt(r["msg_s"]), f"{r['us_msg']:.0f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def storm_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| server | idle conns | RSS MiB before→idle | KiB per conn | idle CPU "
        "| storm: drained | storm s | errors | connect retries | server CPU s "
        "| PG CPU s | transactions closed / total | Stop meter rows | frames stored / expected "
        "|\n|---" + "|--:" * 13 + "|"
    ]
    for r in rows:
        lines.append(
            f"| {r['server']} | {r['idle_connected']:,} | {r['rss_before']:.0f}→"
            f"{r['rss_idle']:.0f} | {r['kib_per_conn']:.1f} | {r['idle_cpu']:.0f}% "
            f"| {r['storm_completed']:,} / {r['conns']:,} | {fmt(r['storm_s'], '.1f')} "
            f"| {r['storm_errors']} | {r['storm_failed_connects']:,} "
            f"| {r['storm_srv_cpu_s']:.1f} | {r['storm_db_cpu_s']:.1f} "
            + (
                f"| {r['db_transactions_closed']:,} / {r['db_transactions']:,} "
                f"| {r['db_stop_meter_rows']:,} "
                f"| {r['db_frames']:,} / {r['db_frames_expected']:,} |"
                if r.get("stored", True)
                else "| (stores nothing) | - | - |"
            )
        )
    return "\n".join(lines)


def verdicts(load: list[dict[str, Any]], paced: list[dict[str, Any]], storm: list[Any]) -> str:
    out = []

    def find(kind: str, conns: int) -> dict[str, Any] | None:
        for r in load:
            if r["server"] == kind and r["conns"] >= conns * 0.99:
                return r
        return None

    pg, peer, bare = find("ocppd-pg", 1000), find("peer", 1000), find("bare", 1000)
    if pg and peer:
        ratio = pg["msg_s"] / max(1.0, peer["msg_s"])
        out.append(
            f"- ocppd-pg / peer at 1,000 conns: {ratio:.1f}x (target >= 10x): "
            f"{'MET' if ratio >= 10 else 'NOT MET'}"
        )
    if pg and bare:
        ratio = pg["msg_s"] / max(1.0, bare["msg_s"])
        out.append(
            f"- ocppd-pg / bare ceiling at 1,000 conns: {ratio:.2f} (target >= 0.5): "
            f"{'MET' if ratio >= 0.5 else 'NOT MET'}"
        )
    for r in paced:
        out.append(
            f"- paced p99, {r['server']}, {r['conns']:,} conns x 1 msg/s: {fmt(r['p99'], '.1f')} ms"
            f" (target < 20 ms): {'MET' if r['p99'] < 20 else 'NOT MET'}"
        )
    for r in storm:
        if not r["server"].startswith("ocppd"):
            continue  # a reference, not a target
        ok = r["kib_per_conn"] < 20
        out.append(
            f"- idle, {r['server']}: {r['kib_per_conn']:.1f} KiB per connection "
            f"(target < 20): {'MET' if ok else 'NOT MET'}"
        )
        drained = (
            r["storm_completed"] == r["conns"]
            and (r["db_transactions_closed"] == r["conns"] or not r.get("stored", True))
            and r["storm_errors"] == 0
        )
        out.append(
            f"- storm, {r['server']}: {r['storm_completed']:,}/{r['conns']:,} chargers done in "
            f"{fmt(r['storm_s'], '.1f')} s, {r['db_transactions_closed']:,} closed transactions "
            f"in the database: {'DRAINED' if drained else 'NOT DRAINED'}"
        )
    errors = sum(r["errors"] for r in load + paced)
    out.append(f"- CALLERRORs or bad replies in load and paced runs: {errors}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short smoke run")
    ap.add_argument("--servers", nargs="*", default=["ocppd-sqlite", "ocppd-pg", "peer", "bare"])
    ap.add_argument("--conns", nargs="*", type=int, default=[100, 1000])
    ap.add_argument("--skip", nargs="*", default=[], choices=["load", "paced", "storm"])
    ap.add_argument("--paced-servers", nargs="*", default=["ocppd-sqlite", "ocppd-pg"])
    ap.add_argument("--storm-servers", nargs="*", default=["ocppd-pg", "ocppd-sqlite"])
    ap.add_argument(
        "--per-action",
        nargs="*",
        default=[],
        metavar="SERVER",
        help="also load these servers with one action at a time (cost per action)",
    )
    ap.add_argument("--mix", default="", help="load cycle, e.g. MeterValues (default: CYCLE)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="load and paced runs per server (taking turns); the median run is shown",
    )
    ap.add_argument("--gen-procs", type=int, default=2)
    ap.add_argument("--idle-procs", type=int, default=4)
    ap.add_argument("--idle-conns", type=int, default=10_000)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--paced-window", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--idle-settle", type=float, default=5.0)
    ap.add_argument("--connect-deadline", type=float, default=120.0)
    ap.add_argument("--storm-deadline", type=float, default=180.0)
    ap.add_argument(
        "--at",
        metavar="REV",
        help="run ocppd as committed at REV (git archive of src/), not the working tree",
    )
    ap.add_argument("--json", help="also write every row to this file")
    ap.add_argument(
        "--keep-latencies",
        metavar="DIR",
        help="keep the load generators' latency files (`.actions`, `.sent` beside) in DIR",
    )
    args = ap.parse_args()
    if args.quick:
        args.window, args.paced_window, args.warmup, args.idle_settle = 2.0, 3.0, 1.0, 1.0
        args.conns = [c for c in args.conns if c <= 100] or [100]
        args.idle_conns = min(args.idle_conns, 500)
        args.storm_servers = args.storm_servers[:1]
        args.connect_deadline, args.storm_deadline = 20.0, 30.0
    assert args.window <= 60 and args.paced_window <= 120 and args.idle_conns <= 16_000
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the children
    paced_conns = 100 if args.quick else 1000
    started = time.time()
    load_rows: list[dict[str, Any]] = []
    paced_rows: list[dict[str, Any]] = []
    storm_rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ocppd-bench-") as tmpdir:
        tmp = Path(tmpdir)
        args.src = None
        revision = "working tree"
        if args.at:
            commit = subprocess.run(
                ["git", "rev-parse", "--short", args.at],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            archive = subprocess.run(
                ["git", "archive", commit, "src"], cwd=ROOT, check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
            args.src = tmp / "src"
            revision = f"commit {commit}"
        if "load" not in args.skip:
            runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
            # Servers take turns, round after round: a slow minute of a shared machine then
            # falls on every server, not on one (runs of one server vary by 10-15 %).
            for _ in range(args.repeat):
                for conns in args.conns:
                    for kind in args.servers:
                        row = run_load(kind, conns, args, tmp, cycle=args.mix)
                        runs.setdefault((kind, conns), []).append(row)
                        print(load_table([row]).splitlines()[-1], file=sys.stderr, flush=True)
            load_rows = [median_run(rows) for rows in runs.values()]
        per_action: list[dict[str, Any]] = []
        if args.per_action:
            for kind in args.per_action:
                for cycle in PER_ACTION.values():
                    row = run_load(kind, max(args.conns), args, tmp, cycle=cycle)
                    per_action.append(row)
                    print(load_table([row]).splitlines()[-1], cycle, file=sys.stderr, flush=True)
        if "paced" not in args.skip:
            paced_runs: dict[str, list[dict[str, Any]]] = {}
            for _ in range(args.repeat):
                for kind in args.paced_servers:
                    row = run_load(kind, paced_conns, args, tmp, mode="paced")
                    paced_runs.setdefault(kind, []).append(row)
                    print(paced_table([row]).splitlines()[-1], file=sys.stderr, flush=True)
            paced_rows = [median_run(rows, key="p99") for rows in paced_runs.values()]
        if "storm" not in args.skip:
            for kind in args.storm_servers:
                row = run_idle_storm(kind, args, tmp)
                storm_rows.append(row)
                print(storm_table([row]).splitlines()[-1], file=sys.stderr, flush=True)
    print(
        f"# bench/server.py {'--quick ' if args.quick else ''}"
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
        f"{time.time() - started:.0f} s, ocppd from the {revision})\n"
    )
    print(
        f"Server pinned to CPU 0; {args.gen_procs} load generator processes pinned to CPU 1; "
        f"PostgreSQL unpinned. Window {args.window:.0f} s after {args.warmup:.0f} s warm-up.\n"
    )
    if load_rows:
        print("## Load: one CALL outstanding per connection\n")
        print(load_table(load_rows) + "\n")
        for r in load_rows:
            extra = ""
            if r.get("server_log_errors"):
                extra = f", server log errors {r['server_log_errors']}"
            if r.get("commits_s", float("nan")) == r.get("commits_s"):
                extra += (
                    f", PostgreSQL commits/s {r['commits_s']:,.0f} "
                    f"({r['answered'] / max(1.0, r['commits_s'] * r['window']):.0f} messages each)"
                )
            extra += f", stolen by the hypervisor {r['stolen']:.0f} % of a core"
            if len(r["runs_msg_s"]) > 1:
                shown = ", ".join(f"{x:,.0f}" for x in r["runs_msg_s"])
                extra += f", msg/s of each run {shown} (the median run is shown)"
            print(
                f"- {r['server']} {r['conns']}: connect+boot {r['connect_s']} s, "
                f"mix {r['by_action']}{extra}"
                + (f", error samples {r['error_samples']}" if r["errors"] else "")
            )
        print()
    if per_action:
        print(f"## Cost per action alone ({max(args.conns):,} connections)\n")
        print(per_action_table(per_action) + "\n")
    if paced_rows:
        print(
            f"## Paced: {paced_conns:,} connections x 1 message a second "
            f"({args.paced_window:.0f} s window)\n"
        )
        print(paced_table(paced_rows) + "\n")
        for r in paced_rows:
            print(tail_line(r))
            if len(r["runs_p99"]) > 1:
                shown = ", ".join(
                    f"{x:.1f} ({stolen:.0f} %)"
                    for x, stolen in zip(r["runs_p99"], r["runs_stolen"], strict=True)
                )
                print(
                    f"- {r['server']}: p99 ms of each run (stolen by the hypervisor, % of a "
                    f"core) {shown}; the median run is shown"
                )
        print()
    if storm_rows:
        print(
            f"## Idle ({args.idle_conns:,} connections, {args.idle_procs} generator processes) "
            "and reconnect storm\n"
        )
        print(storm_table(storm_rows) + "\n")
        for r in storm_rows:
            print(
                f"- {r['server']}: idle connect {r['idle_connect_s']} s "
                f"({r['idle_failed_connects']} failed attempts), still open at end "
                f"{r['idle_open_at_end']:,}; storm connect attempts "
                f"{r['storm_connect_attempts']:,}, unmatched stops {r['db_unmatched_stops']}, "
                f"booted {r['db_booted']:,}, server log errors {r['server_log_errors']}"
                + (f", error samples {r['storm_error_samples']}" if r["storm_errors"] else "")
            )
        print()
    print("## Targets\n")
    print(verdicts(load_rows, paced_rows, storm_rows))
    if args.json:
        Path(args.json).write_text(json.dumps(load_rows + paced_rows + storm_rows, indent=1))


if __name__ == "__main__":
    main()
