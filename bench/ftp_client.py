"""Figures for the simulator's FTP client (issue 20): how fast a station moves a 50 MB file
over loopback, against curl (Debian's, libcurl's FTP) on the same server.

    .venv/bin/python bench/ftp_client.py            # 50 MB, 3 rounds
    .venv/bin/python bench/ftp_client.py --quick    # 5 MB, 1 round

The server is aioftp's, in a process of its own (this file with `--serve DIR`), on a
temporary directory. Each round uploads (`ftp_client.upload`: STOR in blocks of
`BLOCK_BYTES`, and aioftp's default 8 KiB for comparison; `curl -T`) and downloads
(`ftp_client.download`; `curl -o /dev/null`) the same bytes. Figures are MB/s (10^6 bytes),
the best and the median of the rounds; the machine's load average is printed with them
(the development machine is shared: read the ratios more than the absolute figures).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aioftp

from ocppd.chargepoint import ftp_client

USER, PASSWORD = "bench", "bench"


async def serve(root: str) -> None:
    user = aioftp.User(USER, PASSWORD, base_path=Path(root), home_path="/")
    server = aioftp.Server([user], block_size=64 * 1024)
    await server.start("127.0.0.1", 0)
    print(server.address[1], flush=True)
    await server.serve_forever()


def start_server(root: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", root], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"ftp://{USER}:{PASSWORD}@127.0.0.1:{port}"


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def curl(*arguments: str) -> None:
    process = await asyncio.create_subprocess_exec("curl", "--silent", "--show-error", *arguments)
    if await process.wait() != 0:
        raise RuntimeError(f"curl {' '.join(arguments)} failed")


async def with_block(size: int, action: Callable[[], Awaitable[object]]) -> object:
    kept = ftp_client.BLOCK_BYTES
    ftp_client.BLOCK_BYTES = size
    try:
        return await action()
    finally:
        ftp_client.BLOCK_BYTES = kept


async def rounds(url: str, source: Path, data: bytes, count: int) -> dict[str, list[float]]:
    size = len(data)

    async def ours_up() -> None:
        await ftp_client.upload(f"{url}/", "ours.bin", data, timeout=60)

    async def ours_down() -> None:
        got = await ftp_client.download(f"{url}/ours.bin", timeout=60, max_bytes=size)
        assert len(got) == size

    cases: dict[str, Callable[[], Awaitable[object]]] = {
        "upload, ftp_client (64 KiB blocks)": ours_up,
        "upload, ftp_client (8 KiB blocks)": lambda: with_block(8 * 1024, ours_up),
        "upload, ftp_client (1 MiB blocks)": lambda: with_block(1024 * 1024, ours_up),
        "upload, curl -T": lambda: curl("-T", str(source), f"{url}/curl.bin"),
        "download, ftp_client (64 KiB blocks)": ours_down,
        "download, ftp_client (8 KiB blocks)": lambda: with_block(8 * 1024, ours_down),
        "download, ftp_client (1 MiB blocks)": lambda: with_block(1024 * 1024, ours_down),
        "download, curl": lambda: curl("-o", os.devnull, f"{url}/curl.bin"),
    }
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(count):
        for name, action in cases.items():
            seconds[name].append(await timed(action))
    return seconds


async def main(megabytes: int, count: int) -> None:
    data = os.urandom(megabytes * 1_000_000)
    with tempfile.TemporaryDirectory() as served, tempfile.TemporaryDirectory() as local:
        source = Path(local) / "file.bin"
        source.write_bytes(data)
        server, url = start_server(served)
        try:
            seconds = await rounds(url, source, data, count)
        finally:
            server.terminate()
            server.wait()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"{megabytes} MB over loopback, {count} round(s); load average {load}")
    print(f"{'case':<40} {'best MB/s':>10} {'median MB/s':>12}")
    for name, times in seconds.items():
        rates = [megabytes / t for t in times]
        print(f"{name:<40} {max(rates):>10.1f} {statistics.median(rates):>12.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
    elif args.quick:
        asyncio.run(main(5, 1))
    else:
        asyncio.run(main(50, 3))
