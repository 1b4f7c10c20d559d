"""Run every candidate server against the load generator, one after the other, and print a table.

Server pinned to CPU 0, load generator processes pinned to CPU 1 (2-core machine). Targets
127.0.0.1 only; every run is bounded (connect + warm-up + window, then everything is stopped).

    python bench/transport/run.py                      # all candidates, 100 and 1000 connections
    python bench/transport/run.py --only picows --conns 1000 --window 10
"""

import argparse
import array
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from processes import cpu_seconds, free_port, rss_mib, tree

HERE = Path(__file__).resolve().parent

CANDIDATES: dict[str, list[str]] = {
    "websockets": ["srv_websockets.py"],
    "websockets+uvloop": ["srv_websockets.py", "--uvloop"],
    "aiohttp+uvloop": ["srv_aiohttp.py"],
    "picows+uvloop": ["srv_picows.py"],
    "uvicorn+ws-sansio": ["srv_asgi.py", "--ws", "websockets-sansio"],
    "uvicorn+websockets": ["srv_asgi.py", "--ws", "websockets"],
    "uvicorn+wsproto": ["srv_asgi.py", "--ws", "wsproto"],
    "granian-asgi": ["srv_asgi.py", "--server", "granian"],
}


def core_times() -> list[tuple[int, int]]:
    """(busy, total) jiffies for cpu0 and cpu1: includes softirq time charged to no process."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(("cpu0 ", "cpu1 ")):
            v = [int(x) for x in line.split()[1:9]]
            idle = v[3] + v[4]  # idle + iowait
            out.append((sum(v) - idle, sum(v)))
    return out


def busy(before: list[tuple[int, int]], after: list[tuple[int, int]]) -> list[float]:
    return [
        100 * (b1 - b0) / max(1, t1 - t0) for (b0, t0), (b1, t1) in zip(before, after, strict=True)
    ]


def wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def run_one(name: str, conns: int, args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    port = free_port()
    cmd = ["taskset", "-c", "0", sys.executable, *CANDIDATES[name], "--port", str(port)]
    server = subprocess.Popen(cmd, cwd=HERE)
    gens: list[subprocess.Popen[bytes]] = []
    try:
        wait_listening(port)
        time.sleep(0.5)
        spids = tree(server.pid)
        rss_idle = rss_mib(spids)
        now = time.time()
        go = now + args.connect_time
        start = go + args.warmup
        end = start + args.window
        per = conns // args.gen_procs
        for g in range(args.gen_procs):
            n = per if g < args.gen_procs - 1 else conns - per * (args.gen_procs - 1)
            gcmd = ["taskset", "-c", "1", sys.executable, "loadgen.py"]
            gcmd += ["--url", f"ws://127.0.0.1:{port}/ocpp", "--conns", str(n)]
            gcmd += ["--id-base", str(g * per), "--out", str(tmp / f"{name}-{conns}-{g}")]
            gcmd += ["--go", str(go), "--start", str(start), "--end", str(end)]
            gens.append(subprocess.Popen(gcmd, cwd=HERE))
        time.sleep(max(0.0, start - time.time()))
        spids, gpids = tree(server.pid), [p for g in gens for p in tree(g.pid)]
        s0, g0, t0, c0 = cpu_seconds(spids), cpu_seconds(gpids), time.time(), core_times()
        time.sleep(max(0.0, end - time.time()))
        s1, g1, t1, c1 = cpu_seconds(spids), cpu_seconds(gpids), time.time(), core_times()
        rss_loaded = rss_mib(tree(server.pid))
        for gen in gens:
            gen.wait(30)
    finally:
        for gen in gens:
            if gen.poll() is None:
                stop(gen)
        stop(server)
    count, connected, bad, lat = 0, 0, 0, array.array("d")
    for g in range(args.gen_procs):
        prefix = tmp / f"{name}-{conns}-{g}"
        summary = json.loads(Path(f"{prefix}.json").read_text())
        count += summary["count"]
        connected += summary["connected"]
        bad += summary["bad"]
        if summary["connected_late"]:
            print(
                f"warning: {name} {conns}: connecting took {summary['connect_s']} s",
                file=sys.stderr,
            )
        lat.frombytes(Path(f"{prefix}.lat").read_bytes())
    q = statistics.quantiles(lat, n=100) if len(lat) > 100 else [float("nan")] * 99
    return {
        "server": name,
        "conns": connected,
        "msg_s": count / args.window,
        "p50_ms": q[49] * 1e3,
        "p99_ms": q[98] * 1e3,
        "srv_cpu": (s1 - s0) / (t1 - t0) * 100,
        "us_msg": (s1 - s0) / max(1, count) * 1e6,
        "gen_cpu": (g1 - g0) / (t1 - t0) * 100,
        "core0": busy(c0, c1)[0],
        "core1": busy(c0, c1)[1],
        "rss_idle": rss_idle,
        "rss_mib": rss_loaded,
        "bad": bad,
    }


COLUMNS = [
    ("server", "{server}"),
    ("conns", "{conns}"),
    ("msg/s", "{msg_s:,.0f}"),
    ("p50 ms", "{p50_ms:.2f}"),
    ("p99 ms", "{p99_ms:.2f}"),
    ("server CPU", "{srv_cpu:.0f}%"),
    ("server CPU µs/msg", "{us_msg:.1f}"),
    ("gen CPU", "{gen_cpu:.0f}%"),
    ("core0 / core1 busy", "{core0:.0f}% / {core1:.0f}%"),
    ("RSS idle MiB", "{rss_idle:.0f}"),
    ("RSS loaded MiB", "{rss_mib:.0f}"),
]
ROW = "| " + " | ".join(fmt for _, fmt in COLUMNS) + " |"
HEAD = "| " + " | ".join(name for name, _ in COLUMNS) + " |\n|---" + "|--:" * 10 + "|"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=list(CANDIDATES), choices=list(CANDIDATES))
    ap.add_argument("--conns", nargs="*", type=int, default=[100, 1000])
    ap.add_argument("--gen-procs", type=int, default=2)
    ap.add_argument("--connect-time", type=float, default=4.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    assert args.window <= 60 and max(args.conns) <= 5000, "keep runs bounded"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for conns in args.conns:
            for name in args.only:
                row = run_one(name, conns, args, Path(tmp))
                rows.append(row)
                print(ROW.format(**row), file=sys.stderr, flush=True)
    print(HEAD)
    for row in rows:
        print(ROW.format(**row))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
