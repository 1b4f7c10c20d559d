"""The HTTP API's cost, measured against a real `ocppd serve` process (SQLite, one process).

One client thread sends requests one after another on a kept-alive connection; a WebSocket
charge point in this process answers the commands. Reported: latency p50/p99, requests per
second, and the server's CPU time per request (from /proc). Run: python bench/api.py [N]
"""

import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

BOOT = '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


def ocppd(*args: str) -> str:
    command = [sys.executable, "-m", "ocppd", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    port: int, token: str, pid: int, method: str, path: str, body: str | None, n: int
) -> dict[str, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies = []
    for i in range(n + 50):  # the first 50 warm up
        if i == 50:
            cpu, started = cpu_seconds(pid), time.perf_counter()
        t = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, (response.status, path)
        if i >= 50:
            latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu
    latencies.sort()
    return {
        "request": f"{method} {path}",
        "req/s": round(n / elapsed),
        "p50 ms": round(statistics.median(latencies) * 1000, 2),
        "p99 ms": round(latencies[int(n * 0.99) - 1] * 1000, 2),
        "server CPU us/req": round(cpu / n * 1e6),
    }


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = ["--data-dir", tmp]
        token = ocppd("token", "create", "--role", "operator", "--create", *data)
        ocppd("charge-point", "add", "CP1", *data)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "ocppd", "serve", "--port", str(port), *data],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            rows = asyncio.run(drive(port, token, server.pid, n))
        finally:
            server.terminate()
            server.wait(20)
    print(f"{n} sequential requests each, one kept-alive connection, SQLite")
    print("| request | req/s | p50 ms | p99 ms | server CPU us/req |")
    print("|---|--:|--:|--:|--:|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")


async def drive(port: int, token: str, pid: int, n: int) -> list[dict[str, object]]:
    url = f"ws://127.0.0.1:{port}/ocpp/CP1"
    async with connect(url, subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send(BOOT)
        await ws.recv()

        async def answer() -> None:
            async for text in ws:
                frame = json.loads(text)
                await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))

        answering = asyncio.create_task(answer())
        rows = []
        for method, path, body in [
            ("GET", "/api/v1/charge-points/CP1", None),
            ("GET", "/api/v1/messages?limit=20", None),
            ("POST", "/api/v1/charge-points/CP1/commands/Reset", '{"type":"Soft"}'),
        ]:
            rows.append(await asyncio.to_thread(measure, port, token, pid, method, path, body, n))
        answering.cancel()
        return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
