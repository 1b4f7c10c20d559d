"""Figures for the security extension's notifications (issue 19): what a charger's
SecurityEventNotification costs `ocppd serve` next to the core notifications stored the same
way (StatusNotification: a history row; Heartbeat: an upsert), in the same run.

    .venv/bin/python bench/security_events.py            # SQLite and PostgreSQL, 3 rounds
    .venv/bin/python bench/security_events.py --quick    # SQLite, 1 round

`ocppd serve --registration open` runs in a process of its own (on a fresh SQLite file, or a
fresh PostgreSQL database at 127.0.0.1:5432); CHARGERS WebSocket clients in this process boot,
then each sends MESSAGES calls of one action, one outstanding at a time. Figures: messages
per second over all chargers (the median of the rounds), and the server's CPU time per
message. The load generator shares the machine (and it is shared with others): read the
ratios between actions more than the absolute figures.
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
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from processes import cpu_seconds, free_port  # noqa: E402


def heartbeat(n: int) -> dict[str, Any]:
    return {}


def status(n: int) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "status": "Available" if n % 2 else "Preparing",
        "errorCode": "NoError",
        "timestamp": "2026-12-06T23:00:00Z",
    }


def security_event(n: int) -> dict[str, Any]:
    return {
        "type": "InvalidMessages" if n % 2 else "StartupOfTheDevice",
        "timestamp": "2026-12-06T23:00:00Z",
        "techInfo": f"bench {n}",
    }


ACTIONS: dict[str, Callable[[int], dict[str, Any]]] = {
    "Heartbeat": heartbeat,
    "StatusNotification": status,
    "SecurityEventNotification": security_event,
}


async def charger(url: str, identity: str, action: str, messages: int) -> None:
    ocpp = [Subprotocol("ocpp1.6")]
    async with connect(f"{url}/{identity}", subprotocols=ocpp, open_timeout=60) as ws:
        boot = {"chargePointVendor": "bench", "chargePointModel": "bench"}
        await ws.send(msgspec.json.encode([2, "b", "BootNotification", boot]).decode())
        assert msgspec.json.decode(await ws.recv())[2]["status"] == "Accepted"
        payload = ACTIONS[action]
        for n in range(messages):
            await ws.send(msgspec.json.encode([2, str(n), action, payload(n)]).decode())
            answer = msgspec.json.decode(await ws.recv())
            assert answer[0] == 3, answer


async def round_(
    url: str, pid: int, action: str, chargers: int, messages: int
) -> tuple[float, float]:
    prefix = uuid.uuid4().hex[:8]
    cpu = cpu_seconds([pid])
    started = time.perf_counter()
    await asyncio.gather(
        *(charger(url, f"{prefix}-{i}", action, messages) for i in range(chargers))
    )
    elapsed = time.perf_counter() - started
    total = chargers * messages
    return total / elapsed, (cpu_seconds([pid]) - cpu) / total * 1e6


def serve(database: str | None, data_dir: str, port: int) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv" / "bin" / "ocppd"),
        "serve",
        "--registration",
        "open",
        "--data-dir",
        data_dir,
        "--port",
        str(port),
        "--log-format",
        "text",
    ]
    if database:
        command += ["--database", database]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return
    raise SystemExit(f"ocppd serve did not listen on {port}")


def fresh_postgres() -> str:
    name = "bench_secevents_" + uuid.uuid4().hex[:8]
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}"],
        check=True,
    )
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def run(database: str, rounds: int, chargers: int, messages: int) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        url = fresh_postgres() if database == "postgresql" else None
        server = serve(url, data_dir, port)
        try:
            await wait_listening(port)
            ws_url = f"ws://127.0.0.1:{port}/ocpp"
            print(f"\n{database}: {chargers} chargers x {messages} calls, {rounds} rounds")
            print(f"{'action':28} {'msg/s (median)':>15} {'server µs CPU/msg':>18}")
            for action in ACTIONS:
                results = [
                    await round_(ws_url, server.pid, action, chargers, messages)
                    for _ in range(rounds)
                ]
                rate = statistics.median(r[0] for r in results)
                cpu = statistics.median(r[1] for r in results)
                print(f"{action:28} {rate:15,.0f} {cpu:18,.0f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--chargers", type=int, default=100)
    parser.add_argument("--messages", type=int, default=50)
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    databases = ["sqlite"] if args.quick else ["sqlite", "postgresql"]
    print(f"load average {os.getloadavg()[0]:.1f}")
    for database in databases:
        asyncio.run(run(database, rounds, args.chargers, args.messages))


if __name__ == "__main__":
    main()
