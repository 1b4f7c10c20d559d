"""Where the memory of an idle connection goes (issue 3: < 20 KiB each).

    .venv/bin/python bench/server_memory.py --conns 2000          # ocppd serve, SQLite
    .venv/bin/python bench/server_memory.py --conns 2000 --bare   # the bare stack alone

Runs the server in this process (`ocppd serve`'s Service, or `server_bare.py`'s app under the
same uvicorn settings), opens N booted, idle connections from a `server_loadgen.py` process,
and prints the RSS growth per connection and, with tracemalloc on (`--trace`, which itself
costs memory and time), the Python allocations that the connections added, by module and by
line. Allocations outside Python's allocator (uvloop's C structures, kernel buffers) show only
in the RSS figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

import uvicorn

from processes import free_port, rss_mib

HERE = Path(__file__).resolve().parent


def uvicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    """The settings under test (ocppd's defaults unless overridden)."""
    options: dict[str, Any] = {}
    if args.ws_max_queue is not None:
        options["ws_max_queue"] = args.ws_max_queue
    return options


async def serve(args: argparse.Namespace, port: int, tmp: Path) -> tuple[Any, asyncio.Task[None]]:
    if args.bare:
        sys.path.insert(0, str(HERE))
        from server_bare import UVICORN, app

        options = {**UVICORN, **uvicorn_options(args)}
        config = uvicorn.Config(app, host="127.0.0.1", port=port, loop="none", **options)
        server = uvicorn.Server(config)
        return server, asyncio.create_task(server.serve())
    from ocppd.csms.service import Service, settle_garbage_collector
    from ocppd.csms.settings import RegistrationPolicy, Settings

    settings = Settings(
        host="127.0.0.1", port=port, data_dir=tmp, registration=RegistrationPolicy.OPEN
    )
    service = Service(settings)
    for name, value in uvicorn_options(args).items():
        setattr(service.server.config, name, value)
    await service.system.start()
    settle_garbage_collector()
    return service.server, asyncio.create_task(service.server.serve())


async def wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("the server did not listen")


def by_module(stats: list[tracemalloc.StatisticDiff]) -> dict[str, int]:
    groups: dict[str, int] = defaultdict(int)
    for stat in stats:
        name = stat.traceback[0].filename
        for marker in ("site-packages/", "/src/", "/lib/python3."):
            if marker in name:
                name = name.split(marker, 1)[1]
                break
        parts = name.split("/")
        key = "/".join(parts[:2]) if parts[0] in ("ocppd", "asyncio") else parts[0]
        groups[key] += stat.size_diff
    return dict(groups)


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ocppd-memory-") as tmpdir:
        if args.trace:
            tracemalloc.start(args.frames)
        server, task = await serve(args, port, Path(tmpdir))
        await wait_listening(port)
        gc.collect()
        before = tracemalloc.take_snapshot() if args.trace else None
        rss0 = rss_mib([os.getpid()])
        gen = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "server_loadgen.py"),
            "--port",
            str(port),
            "--conns",
            str(args.conns),
            "--mode",
            "idle",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert gen.stdout is not None and gen.stdin is not None
        ready = json.loads(await asyncio.wait_for(gen.stdout.readline(), 300))
        gen.stdin.write(b'{"go": 0, "start": 0, "end": 0}\n')
        await gen.stdin.drain()
        await asyncio.sleep(args.settle)
        gc.collect()
        rss1 = rss_mib([os.getpid()])
        after = tracemalloc.take_snapshot() if args.trace else None
        connected = ready["connected"]
        print(f"# bench/server_memory.py ({'bare stack' if args.bare else 'ocppd serve, SQLite'})")
        print(f"\nuvicorn overrides: {uvicorn_options(args) or 'none'}; tracemalloc: {args.trace}")
        print(f"connections: {connected:,} (booted, idle)")
        print(f"RSS {rss0:.1f} -> {rss1:.1f} MiB: {(rss1 - rss0) * 1024 / connected:.1f} KiB each")
        if before is not None and after is not None:
            stats = after.compare_to(before, "traceback")
            total = sum(s.size_diff for s in stats)
            print(f"Python allocations: {total / connected / 1024:.2f} KiB each\n")
            print("| module | bytes per connection |\n|---|--:|")
            for name, size in sorted(by_module(stats).items(), key=lambda kv: -kv[1])[:12]:
                print(f"| {name} | {size / connected:,.0f} |")
            print("\n| where | bytes per connection | objects per connection |\n|---|--:|--:|")
            for stat in stats[: args.top]:
                frame = stat.traceback[0]
                where = f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"
                print(
                    f"| {where} | {stat.size_diff / connected:,.0f} "
                    f"| {stat.count_diff / connected:.2f} |"
                )
        gen.stdin.write(b'{"stop": true}\n')
        await gen.stdin.drain()
        await asyncio.wait_for(gen.wait(), 60)
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--bare", action="store_true", help="server_bare.py's app, not ocppd")
    ap.add_argument("--trace", action="store_true", help="tracemalloc snapshots")
    ap.add_argument("--frames", type=int, default=1, help="traceback depth of tracemalloc")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--ws-max-queue", type=int, help="uvicorn ws_max_queue")
    args = ap.parse_args()
    assert args.conns <= 16_000
    import uvloop

    started = time.time()
    uvloop.run(run(args))
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
