"""Uploads to the central system (issue 20): a 50 MB diagnostics file over loopback, FTP
(`--ftp-port`) beside HTTP (`/files/diagnostics/<token>/`), in one run.

    .venv/bin/python bench/ftp.py                       # 50 MB, 5 rounds
    .venv/bin/python bench/ftp.py --megabytes 20 --rounds 3

`ocppd serve` as operators run it (SQLite, a data directory of its own) in a process of its
own, with `--ftp-port`; Debian's curl as the charger (`curl -T FILE LOCATION`, the same client
for both), one upload at a time, alternating FTP and HTTP each round so that the machine's load
weighs on both alike. Each upload is a diagnostics job of its own (a location is single use),
opened in the database before the server starts. Per transport: MB/s (the file's size over
curl's total time, connection and login included) and the server's CPU seconds per upload
(the figure that holds on a loaded machine); every stored file's SHA-256 checked against the
original.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from processes import cpu_seconds  # noqa: E402

TRANSPORTS = ("ftp", "http")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def open_jobs(data_dir: Path, rounds: int) -> dict[str, list[tuple[int, str]]]:
    """`rounds` diagnostics jobs per transport, in a new database: (job id, token)."""
    from ocppd.csms import jobs
    from ocppd.csms.database import create_engine, upgrade
    from ocppd.csms.settings import Settings

    engine = create_engine(Settings(data_dir=data_dir).database_url())
    await upgrade(engine)
    opened: dict[str, list[tuple[int, str]]] = {t: [] for t in TRANSPORTS}
    async with engine.begin() as db:
        for i in range(rounds):
            for transport in TRANSPORTS:
                # One charge point per job: opening a job supersedes the same charger's.
                opened[transport].append(
                    await jobs.open_job(
                        db,
                        f"BENCH-{transport}-{i}",
                        jobs.DIAGNOSTICS,
                        datetime.now(UTC),
                        {},
                        transport=transport,
                    )
                )
    await engine.dispose()
    return opened


def serve(data_dir: Path, port: int, ftp_port: int, size: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "ocppd", "serve", "--data-dir", str(data_dir),
        "--port", str(port), "--ftp-port", str(ftp_port), "--max-file-size", str(size),
        "--registration", "open",
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert server.stdout is not None
    line = server.stdout.readline().decode()
    if "OCPP 1.6J" not in line:
        server.kill()
        raise SystemExit(f"ocppd serve did not start: {line!r}")
    return server


def upload(path: Path, location: str) -> float:
    """curl's total seconds for one upload (it fails loudly)."""
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-T", str(path), "-w", "%{time_total}", location],
        capture_output=True,
        check=True,
        text=True,
    )
    return float(done.stdout.strip())


def location(transport: str, token: str, port: int, ftp_port: int) -> str:
    if transport == "ftp":
        return f"ftp://{token}@127.0.0.1:{ftp_port}/"
    return f"http://127.0.0.1:{port}/files/diagnostics/{token}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    size = arguments.megabytes * 1_000_000
    with tempfile.TemporaryDirectory(prefix="ocppd-bench-ftp-") as folder:
        work = Path(folder)
        data_dir = work / "data"
        original = work / "diagnostics.bin"
        original.write_bytes(os.urandom(size))
        digest = hashlib.sha256(original.read_bytes()).hexdigest()
        opened = asyncio.run(open_jobs(data_dir, arguments.rounds))
        port, ftp_port = free_port(), free_port()
        server = serve(data_dir, port, ftp_port, size)
        seconds: dict[str, list[float]] = {t: [] for t in TRANSPORTS}
        cpu: dict[str, list[float]] = {t: [] for t in TRANSPORTS}
        try:
            for i in range(arguments.rounds):
                order = TRANSPORTS if i % 2 == 0 else TRANSPORTS[::-1]
                for transport in order:
                    job_id, token = opened[transport][i]
                    before = cpu_seconds([server.pid])
                    seconds[transport].append(
                        upload(original, location(transport, token, port, ftp_port))
                    )
                    cpu[transport].append(cpu_seconds([server.pid]) - before)
                    stored = data_dir / "files" / "diagnostics" / str(job_id)
                    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest, transport
                    stored.unlink()
        finally:
            server.terminate()
            server.wait(timeout=60)
    report(arguments, seconds, cpu, size)


def report(
    arguments: argparse.Namespace,
    seconds: dict[str, list[float]],
    cpu: dict[str, list[float]],
    size: int,
) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{arguments.megabytes} MB upload over loopback to ocppd serve, curl -T, "
        f"{arguments.rounds} round(s) alternating; load average {load}"
    )
    print(f"{'transport':<10}{'best MB/s':>12}{'median MB/s':>14}{'server CPU s/upload':>22}")
    for transport in TRANSPORTS:
        rates = [size / 1e6 / s for s in seconds[transport]]
        print(
            f"{transport:<10}{max(rates):>12.1f}{statistics.median(rates):>14.1f}"
            f"{statistics.median(cpu[transport]):>22.3f}"
        )
    print(
        f"every stored file's SHA-256 matched; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


if __name__ == "__main__":
    main()
