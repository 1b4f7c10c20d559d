"""Chargers for `bench/cluster.py`'s failover: N charge points booted on one node, each of
which, when that node goes away, connects at once to one of the others and boots there.

Each answers every CALL of the central system with `{"status": "Accepted"}` (right for the
commands the bench sends). Driven over stdin/stdout, one JSON object per line:
  stdout {"ready": ...}  once every charger is booted on --port (or the deadline passed)
  stdout {"back": i, "port": p, "lost": t, "booted": t, "attempts": n}  charger i booted
                         again on port p (Unix times: when its first connection ended, when
                         it was booted; n connections it took, a refused or failed boot too)
  stdout {"done": ...}   once every charger is back, or the deadline passed
  stdin  {"stop": true}  close everything and exit
Everything is bounded: each phase has a deadline, and the process exits by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from typing import Any

import msgspec
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

BOOT = {"chargePointVendor": "Bench", "chargePointModel": "Failover"}


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Charger:
    def __init__(self, index: int, args: argparse.Namespace) -> None:
        self.index = index
        self.identity = f"{args.prefix}{index:06d}"
        self.args = args
        self.ws: ClientConnection | None = None
        self.uid = 0
        self.port = args.port
        self.lost_at = 0.0
        self.attempts = 0
        """Connections opened (and booted on) so far."""

    async def open(self, port: int, deadline: float) -> bool:
        """Connected to `port` and booted; retried, as a charger would, until `deadline`."""
        delay = 0.5
        while time.time() < deadline:
            self.attempts += 1
            try:
                self.ws = await connect(
                    f"ws://127.0.0.1:{port}/ocpp/{self.identity}",
                    subprotocols=[Subprotocol("ocpp1.6")],
                    open_timeout=max(0.1, min(30.0, deadline - time.time())),
                    ping_interval=None,
                )
                if await self.boot(max(0.1, deadline - time.time())):
                    self.port = port
                    return True
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed):
                pass
            if self.ws is not None:
                self.ws.transport.abort()
                self.ws = None
            await asyncio.sleep(random.uniform(0.5, 1.0) * delay)
            delay = min(delay * 2, 4.0)
        return False

    async def boot(self, timeout: float) -> bool:
        assert self.ws is not None
        self.uid += 1
        uid = f"b{self.uid}"
        await self.ws.send(msgspec.json.encode([2, uid, "BootNotification", BOOT]).decode())
        async with asyncio.timeout(timeout):
            while True:
                frame = msgspec.json.decode(await self.ws.recv())
                if frame[0] in (3, 4) and frame[1] == uid:  # a CALLERROR: boot again
                    return bool(frame[0] == 3 and frame[2].get("status") == "Accepted")
                await self.answer(frame)

    async def answer(self, frame: Any) -> None:
        if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2 and self.ws is not None:
            reply = [3, frame[1], {"status": "Accepted"}]
            await self.ws.send(msgspec.json.encode(reply).decode())

    async def serve(self) -> None:
        """Answers the central system until the connection ends."""
        assert self.ws is not None
        try:
            async for text in self.ws:
                await self.answer(msgspec.json.decode(text))
        except (ConnectionClosed, msgspec.DecodeError):
            pass
        self.lost_at = time.time()


async def run(args: argparse.Namespace) -> None:
    others = [int(p) for p in args.failover_ports.split(",")]
    chargers = [Charger(i, args) for i in range(args.conns)]
    deadline = time.time() + args.connect_deadline
    limit = asyncio.Semaphore(64)
    started = time.time()

    async def first(charger: Charger) -> bool:
        async with limit:
            return await charger.open(args.port, deadline)

    opened = await asyncio.gather(*(first(c) for c in chargers))
    emit({"ready": True, "connected": sum(opened), "connect_s": round(time.time() - started, 2)})
    back = 0
    everyone_back = asyncio.Event()

    async def live(charger: Charger) -> None:
        nonlocal back
        await charger.serve()
        charger.attempts = 0
        # The node went away: to another one (spread by index), at once.
        port = others[charger.index % len(others)]
        if await charger.open(port, charger.lost_at + args.failover_deadline):
            back += 1
            emit(
                {
                    "back": charger.index,
                    "port": port,
                    "lost": charger.lost_at,
                    "booted": time.time(),
                    "attempts": charger.attempts,
                }
            )
            if back == sum(opened):
                everyone_back.set()
            await charger.serve()

    tasks = [asyncio.create_task(live(c)) for c, ok in zip(chargers, opened, strict=True) if ok]
    stop = asyncio.create_task(asyncio.to_thread(sys.stdin.readline))
    waiting = asyncio.create_task(everyone_back.wait())
    await asyncio.wait([stop, waiting], timeout=args.max_seconds, return_when="FIRST_COMPLETED")
    emit({"done": True, "back": back})
    if not stop.done():
        await asyncio.wait([stop], timeout=args.max_seconds)
    for task in tasks:
        task.cancel()
    for charger in chargers:
        if charger.ws is not None:
            charger.ws.transport.abort()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="the node they boot on first")
    ap.add_argument("--failover-ports", required=True, help="the others, comma-separated")
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--prefix", default="FO")
    ap.add_argument("--connect-deadline", type=float, default=120.0)
    ap.add_argument("--failover-deadline", type=float, default=120.0)
    ap.add_argument("--max-seconds", type=float, default=600.0, help="then exit regardless")
    args = ap.parse_args()
    assert args.conns <= 20_000 and args.max_seconds <= 1200, "keep runs bounded"
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
