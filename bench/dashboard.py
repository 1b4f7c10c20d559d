"""The dashboard's cost per fragment, next to the API calls it is made from, against a real
`ocppd serve` process (SQLite, one process).

Set up over the wire: N charge points connect, boot and report two connectors; one of them
runs a transaction with M MeterValues (energy + power, a day at one a minute by default).
Then one client thread GETs each fragment (and its underlying API call) R times on a
kept-alive connection. Reported: latency p50/p99 and the server's CPU time per request (from
/proc). A fragment costs its API reads (in process, no HTTP) plus rendering the HTML.

Run: python bench/dashboard.py [N charge points] [M meter values] [R requests]
"""

import asyncio
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from websockets.asyncio.client import ClientConnection, connect

from processes import cpu_seconds, free_port, wait_listening


def ocppd(*args: str) -> str:
    command = [sys.executable, "-m", "ocppd", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def measure(port: int, token: str, pid: int, path: str, n: int) -> dict[str, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    latencies = []
    size = 0
    for i in range(n + 5):  # the first 5 warm up
        if i == 5:
            cpu = cpu_seconds([pid])
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        size = len(response.read())
        assert response.status == 200, (response.status, path)
        if i >= 5:
            latencies.append(time.perf_counter() - started)
    cpu = cpu_seconds([pid]) - cpu
    latencies.sort()
    return {
        "GET": path,
        "KiB": round(size / 1024),
        "p50 ms": round(statistics.median(latencies) * 1000, 1),
        "p99 ms": round(latencies[max(int(n * 0.99) - 1, 0)] * 1000, 1),
        "server CPU ms/req": round(cpu / n * 1000, 1),
    }


async def call(ws: ClientConnection, unique_id: str, action: str, payload: object) -> object:
    await ws.send(json.dumps([2, unique_id, action, payload]))
    while True:
        frame = json.loads(await ws.recv())
        if frame[0] == 3 and frame[1] == unique_id:
            return frame[2]


async def charge_point(port: int, identity: str) -> ClientConnection:
    url = f"ws://127.0.0.1:{port}/ocpp/{identity}"
    ws = await connect(url, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    await call(ws, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    for connector, status in ((1, "Available"), (2, "Charging")):
        status_notification = {"connectorId": connector, "errorCode": "NoError", "status": status}
        await call(ws, f"s{connector}", "StatusNotification", status_notification)
    return ws


async def fleet(port: int, count: int, readings: int) -> list[ClientConnection]:
    sockets = []
    for start in range(0, count, 100):
        sockets += await asyncio.gather(
            *(charge_point(port, f"CP{i:05}") for i in range(start, min(start + 100, count)))
        )
    ws = sockets[0]
    began = datetime(2026, 11, 25, tzinfo=UTC)
    started = await call(
        ws,
        "t",
        "StartTransaction",
        {"connectorId": 2, "idTag": "TAG1", "meterStart": 0, "timestamp": began.isoformat()},
    )
    transaction = started["transactionId"]  # type: ignore[index]
    for minute in range(readings):
        at = (began + timedelta(minutes=minute)).isoformat()
        sampled = [
            {"value": str(minute * 122), "measurand": "Energy.Active.Import.Register"},
            {"value": "7320", "measurand": "Power.Active.Import", "unit": "W"},
        ]
        meter = {"timestamp": at, "sampledValue": sampled}
        await call(
            ws,
            f"m{minute}",
            "MeterValues",
            {"connectorId": 2, "transactionId": transaction, "meterValue": [meter]},
        )
    return sockets


def main(count: int, readings: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = ["--data-dir", tmp]
        token = ocppd("token", "create", "--role", "viewer", "--create", *data)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ocppd",
                "serve",
                "--port",
                str(port),
                "--registration",
                "open",
                *data,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_listening(port)
            rows = asyncio.run(drive(port, token, server.pid, count, readings, repeats))
        finally:
            server.terminate()
            server.wait(20)
    print(
        f"{count} charge points (2 connectors each), one transaction with {readings} "
        f"MeterValues; {repeats} sequential GETs each, one kept-alive connection, SQLite"
    )
    print("| GET | KiB | p50 ms | p99 ms | server CPU ms/req |")
    print("|---|--:|--:|--:|--:|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")


async def drive(
    port: int, token: str, pid: int, count: int, readings: int, repeats: int
) -> list[dict[str, object]]:
    sockets = await fleet(port, count, readings)
    await asyncio.sleep(1)  # the message log's group commit
    try:
        rows = []
        for path in [
            "/api/v1/charge-points?limit=1000",
            "/fragments/overview",
            "/fragments/charge-points/CP00000",
            "/fragments/charge-points/CP00000/messages",
            "/api/v1/transactions/1",
            "/fragments/transactions/1",
            "/fragments/transactions",
        ]:
            rows.append(await asyncio.to_thread(measure, port, token, pid, path, repeats))
        return rows
    finally:
        for ws in sockets:
            await ws.close()


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:4]]
    defaults = [1000, 1440, 30]
    main(*(arguments + defaults[len(arguments) :]))
