"""Load generator: N picows client connections, each with one OCPP CALL outstanding at a time.

Connects, starts sending at --go, counts replies and round-trip times received between --start
and --end (Unix times), stops at --end, writes a JSON summary and raw latencies (float64, s).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import time

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

CALL = b'[2,"123","Heartbeat",{}]'
EXPECTED = b'[3,"123",{"currentTime":"2026-01-01T00:00:00Z"}]'


class Stats:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self.count = 0
        self.bad = 0
        self.latencies = array.array("d")


class Client(WSListener):  # type: ignore[misc]  # picows is not in this venv
    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.transport: WSTransport | None = None
        self.sent_at = 0.0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def kick(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter()
        self.transport.send(WSMsgType.TEXT, CALL)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return
        now = time.perf_counter()
        st = self.stats
        if now >= st.end:
            return  # stop: no further CALL from this connection
        if now >= st.start:
            st.count += 1
            st.latencies.append(now - self.sent_at)
            if st.count % 1024 == 0 and frame.get_payload_as_bytes() != EXPECTED:
                st.bad += 1
        self.sent_at = now
        transport.send(WSMsgType.TEXT, CALL)


async def run(args: argparse.Namespace) -> tuple[dict[str, object], array.array[float]]:
    offset = time.time() - time.perf_counter()  # Unix time -> perf_counter time
    stats = Stats(args.start - offset, args.end - offset)
    t0 = time.time()
    sem = asyncio.Semaphore(64)  # bounded connect burst, stays under the listen backlog
    headers = {"Sec-WebSocket-Protocol": "ocpp1.6"}

    async def connect(i: int) -> Client | None:
        async with sem:
            try:
                url = f"{args.url}/CP{args.id_base + i}"
                _, client = await asyncio.wait_for(
                    ws_connect(lambda: Client(stats), url, extra_headers=headers), 10
                )
                connected: Client = client
                return connected
            except Exception:  # counted as a failed connection
                return None

    results = await asyncio.gather(*(connect(i) for i in range(args.conns)))
    clients = [c for c in results if c is not None]
    connect_s = time.time() - t0
    await asyncio.sleep(max(0.0, args.go - time.time()))
    for c in clients:
        c.kick()
    await asyncio.sleep(max(0.0, args.end - time.time()) + 0.2)
    for c in clients:
        if c.transport is not None:
            c.transport.disconnect(graceful=False)
    summary = {
        "connected": len(clients),
        "connect_s": round(connect_s, 2),
        "connected_late": t0 + connect_s > args.go,
        "count": stats.count,
        "bad": stats.bad,
    }
    return summary, stats.latencies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="e.g. ws://127.0.0.1:9000/ocpp")
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--id-base", type=int, default=0)
    ap.add_argument("--go", type=float, required=True, help="Unix time to start sending")
    ap.add_argument("--start", type=float, required=True, help="Unix time, window start")
    ap.add_argument("--end", type=float, required=True, help="Unix time, window end")
    ap.add_argument("--out", required=True, help="path prefix for results")
    args = ap.parse_args()
    assert args.url.startswith(("ws://127.", "ws://localhost")), "loopback targets only"
    assert args.end - time.time() < 120, "run too long"
    summary, latencies = uvloop.run(run(args))
    with open(args.out + ".lat", "wb") as f:
        latencies.tofile(f)
    with open(args.out + ".json", "w") as f:
        json.dump(summary, f)


if __name__ == "__main__":
    main()
