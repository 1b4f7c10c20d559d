"""Load generator for `bench/server.py`: simulated OCPP 1.6J charge points, one process.

A minimal WebSocket client on a uvloop `asyncio.Protocol` (no dependency beyond what ocppd
installs): HTTP upgrade with `Sec-WebSocket-Protocol: ocpp1.6`, client frames masked with a
zero key (legal, and XOR with zero costs nothing), server frames parsed in place, pings
answered. Every reply is decoded and checked: a CALLRESULT with the unique id of the call
outstanding counts as answered, a CALLERROR (or anything else) as an error.

Driven by `bench/server.py` over stdin/stdout, one JSON object per line:
  stdout {"ready": ...}  after every connection is open and booted
  stdin  {"start": t0, "end": t1, ...}  Unix times of the measured window (mode dependent)
  stdout {"done": ...}   the summary; latencies (float64 seconds) go to --out.
Everything is bounded: each phase has a deadline, and the process exits by itself.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import gc
import json
import os
import random
import sys
import time
from typing import Any

import msgspec
import uvloop

encode = msgspec.json.encode
decode = msgspec.json.decode

# Mode "load": every connection loops through this cycle, one CALL outstanding at a time.
CYCLE = [
    "Heartbeat",
    "StatusNotification:Preparing",
    "StartTransaction",
    "StatusNotification:Charging",
    "MeterValues",
    "MeterValues",
    "MeterValues",
    "MeterValues",
    "MeterValues",
    "MeterValues",
    "StopTransaction",
    "StatusNotification:Available",
]

# Calls whose latencies are kept, by index (the `.actions` file beside the latencies).
ACTIONS = (
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "StartTransaction",
    "MeterValues",
    "StopTransaction",
)

_stamp_at = 0
_stamp = ""


def now_stamp() -> str:
    """RFC 3339 UTC with milliseconds, refreshed every 10 ms."""
    global _stamp_at, _stamp
    t = time.time()
    tick = int(t * 100)
    if tick != _stamp_at:
        _stamp_at = tick
        _stamp = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
        )
    return _stamp


def past_stamp(seconds_ago: float, t: float | None = None) -> str:
    t = (time.time() if t is None else t) - seconds_ago
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def sampled_values(energy: int) -> list[dict[str, str]]:
    return [
        {
            "value": str(energy),
            "context": "Sample.Periodic",
            "format": "Raw",
            "measurand": "Energy.Active.Import.Register",
            "location": "Outlet",
            "unit": "Wh",
        },
        {
            "value": "11040.0",
            "context": "Sample.Periodic",
            "measurand": "Power.Active.Import",
            "location": "Outlet",
            "unit": "W",
        },
        {
            "value": "16.02",
            "context": "Sample.Periodic",
            "measurand": "Current.Import",
            "phase": "L1",
            "location": "Outlet",
            "unit": "A",
        },
        {
            "value": "229.8",
            "context": "Sample.Periodic",
            "measurand": "Voltage",
            "phase": "L1-N",
            "location": "Outlet",
            "unit": "V",
        },
    ]


class Stats:
    def __init__(self) -> None:
        self.start = float("inf")  # perf_counter window
        self.end = float("inf")
        self.answered = 0  # CALLRESULTs in the window
        self.answered_total = 0
        self.errors = 0  # CALLERRORs or bad replies, whole run
        self.error_samples: list[str] = []
        self.latencies = array.array("d")
        self.actions = array.array("B")  # index in ACTIONS of each latency's call
        self.sent = array.array("d")  # wall-clock time each latency's call was sent
        self.sent_total = 0
        self.closed = 0
        self.by_action: dict[str, int] = {}

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text[:300])


class ChargePoint(asyncio.Protocol):
    def __init__(self, gen: Generator, index: int) -> None:
        self.gen = gen
        self.stats = gen.stats
        self.index = index
        self.identity = f"{gen.args.prefix}{index:06d}"
        self.tag = f"TAG{index:06d}"
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.opened: asyncio.Future[bool] = gen.loop.create_future()
        self.reply: asyncio.Future[Any] | None = None  # awaited replies (boot, storm)
        self.uid = 0
        self.pending_uid = ""
        self.pending_action = ""
        self.sent_at = 0.0
        self.running = False  # load mode loop
        self.cycle = gen.cycle
        self.position = random.randrange(len(self.cycle))
        self.transaction_id: int | None = None
        self.energy = random.randrange(1_000_000, 50_000_000)
        self.lost = False

    # WebSocket plumbing

    def itself(self) -> ChargePoint:
        """The protocol factory that gives this charge point."""
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        assert self.transport is not None
        key = base64.b64encode(os.urandom(16)).decode()
        args = self.gen.args
        self.transport.write(
            (
                f"GET /ocpp/{self.identity} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{args.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.stats.closed += 1
        if not self.opened.done():
            self.opened.set_result(False)
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            ok = head.startswith(b"HTTP/1.1 101") and b"ocpp1.6" in head
            self.upgraded = ok
            if not self.opened.done():
                self.opened.set_result(ok)
            if not ok:
                assert self.transport is not None
                self.transport.close()
                return
        while len(buf) >= 2:
            opcode = buf[0] & 0x0F
            length = buf[1] & 0x7F
            start = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length = int.from_bytes(buf[2:4], "big")
                start = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length = int.from_bytes(buf[2:10], "big")
                start = 10
            if len(buf) < start + length:
                return
            payload = bytes(buf[start : start + length])
            del buf[: start + length]
            if opcode == 1:
                self.on_text(payload)
            elif opcode == 9:
                self.send_frame(0xA, payload)  # pong
            elif opcode == 8:
                assert self.transport is not None
                self.send_frame(0x8, payload[:2])
                self.transport.close()
                return

    def send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        assert self.transport is not None
        self.transport.write(head + b"\x00\x00\x00\x00" + payload)  # zero mask key

    # OCPP

    def call(self, action: str, payload: dict[str, Any]) -> None:
        self.uid += 1
        uid = str(self.uid)
        self.pending_uid = uid
        self.pending_action = action
        self.stats.sent_total += 1
        self.sent_at = time.perf_counter()
        self.send_frame(1, encode([2, uid, action, payload]))

    def on_text(self, payload: bytes) -> None:
        now = time.perf_counter()
        st = self.stats
        try:
            message = decode(payload)
            ok = (
                type(message) is list
                and len(message) == 3
                and message[0] == 3
                and message[1] == self.pending_uid
                and type(message[2]) is dict
            )
        except msgspec.DecodeError:
            message, ok = None, False
        if not ok:
            st.error(f"{self.identity} {self.pending_action}: {payload.decode(errors='replace')}")
        else:
            st.answered_total += 1
            if st.start <= now < st.end:
                st.answered += 1
                st.latencies.append(now - self.sent_at)
                st.actions.append(ACTIONS.index(self.pending_action))
                st.sent.append(self.sent_at + self.gen.offset)
                st.by_action[self.pending_action] = st.by_action.get(self.pending_action, 0) + 1
            if self.pending_action == "StartTransaction":
                self.transaction_id = message[2].get("transactionId")
        self.pending_uid = ""
        if self.reply is not None:
            reply, self.reply = self.reply, None
            if not reply.done():
                reply.set_result(message[2] if ok else None)
            return
        if self.running:
            if now >= st.end:
                self.running = False
                return
            self.next_call()

    async def request(self, action: str, payload: dict[str, Any], timeout: float) -> Any:
        self.reply = self.gen.loop.create_future()
        self.call(action, payload)
        return await asyncio.wait_for(self.reply, timeout)

    def boot_payload(self) -> dict[str, Any]:
        return {
            "chargePointVendor": "Alfen BV",
            "chargePointModel": "NG920-61101",
            "chargePointSerialNumber": f"ACE{self.index:07d}",
            "chargeBoxSerialNumber": f"ACE{self.index:07d}",
            "firmwareVersion": "6.1.0-4159",
            "iccid": "8931080019073312345",
            "imsi": "204080150123456",
            "meterType": "Eastron SDM630",
            "meterSerialNumber": f"E{self.index:09d}",
        }

    def next_call(self) -> None:
        step = self.cycle[self.position]
        self.position = (self.position + 1) % len(self.cycle)
        if step == "Heartbeat":
            self.call("Heartbeat", {})
        elif step.startswith("StatusNotification"):
            status = step.split(":", 1)[1]
            self.call(
                "StatusNotification",
                {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": status,
                    "timestamp": now_stamp(),
                },
            )
        elif step == "StartTransaction":
            self.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": self.tag,
                    "meterStart": self.energy,
                    "timestamp": now_stamp(),
                },
            )
        elif step == "MeterValues":
            self.energy += 183
            payload: dict[str, Any] = {
                "connectorId": 1,
                "meterValue": [
                    {"timestamp": now_stamp(), "sampledValue": sampled_values(self.energy)}
                ],
            }
            if self.transaction_id is not None:
                payload["transactionId"] = self.transaction_id
            self.call("MeterValues", payload)
        elif self.transaction_id is None:  # a Stop without a Start: not this time
            self.call(
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Finishing"},
            )
        else:
            self.call("StopTransaction", self.stop_payload(now_stamp()))
            self.transaction_id = None

    def stop_payload(self, stamp: str) -> dict[str, Any]:
        assert self.transaction_id is not None
        return {
            "transactionId": self.transaction_id,
            "idTag": self.tag,
            "meterStop": self.energy,
            "timestamp": stamp,
            "reason": "EVDisconnected",
            "transactionData": [
                {
                    "timestamp": stamp,
                    "sampledValue": [
                        {
                            "value": str(self.energy),
                            "context": "Transaction.End",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                        }
                    ],
                }
            ],
        }

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.loop = asyncio.get_running_loop()
        self.stats = Stats()
        self.offset = time.time() - time.perf_counter()  # perf_counter -> wall clock
        self.points: list[ChargePoint] = []
        self.failed_connects = 0
        self.connect_attempts = 0
        self.cycle = args.cycle.split(",") if args.cycle else CYCLE

    async def open_one(self, index: int, deadline: float) -> ChargePoint | None:
        """Connect and boot; retried (like a charger would) until the deadline."""
        delay = 0.5
        while time.time() < deadline:
            self.connect_attempts += 1
            cp = ChargePoint(self, index)
            try:
                await asyncio.wait_for(
                    self.loop.create_connection(cp.itself, "127.0.0.1", self.args.port),
                    max(0.1, min(30.0, deadline - time.time())),
                )
                if await asyncio.wait_for(cp.opened, max(0.1, deadline - time.time())):
                    left = max(0.1, deadline - time.time())
                    if await cp.request("BootNotification", cp.boot_payload(), left) is not None:
                        return cp
            except (OSError, TimeoutError, ConnectionError):
                pass
            cp.close()
            self.failed_connects += 1
            await asyncio.sleep(random.uniform(0.5, 1.0) * delay)
            delay = min(delay * 2, 4.0)
        return None

    async def open_all(self, limit: int | None) -> float:
        args = self.args
        t0 = time.time()
        deadline = t0 + args.connect_deadline
        sem = asyncio.Semaphore(limit) if limit else None

        async def one(i: int) -> ChargePoint | None:
            if sem is None:
                return await self.open_one(i, deadline)
            async with sem:
                return await self.open_one(i, deadline)

        results = await asyncio.gather(*(one(args.id_base + i) for i in range(args.conns)))
        self.points = [cp for cp in results if cp is not None]
        return time.time() - t0


def write_latencies(path: str, st: Stats) -> None:
    """Three files side by side: latencies, the action of each (index in ACTIONS), send times."""
    for suffix, values in (("", st.latencies), (".actions", st.actions), (".sent", st.sent)):
        with open(path + suffix, "wb") as f:
            values.tofile(f)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def read_command(timeout: float) -> dict[str, Any]:
    line = await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), timeout)
    if not line:
        raise SystemExit("controller went away")
    command: dict[str, Any] = json.loads(line)
    return command


async def run(args: argparse.Namespace) -> None:
    gen = Generator(args)
    st = gen.stats
    offset = gen.offset
    if args.mode == "storm":
        # Connect everything at once: no limit, no readiness handshake before.
        emit({"ready": True})
        command = await read_command(120)
        await asyncio.sleep(max(0.0, command["go"] - time.time()))
        t0 = time.time()
        done_at = await storm(gen)
        emit(
            {
                "done": True,
                "points": len(gen.points),
                "storm_completed": len(done_at),
                "storm_last": max(done_at) if done_at else None,
                "storm_first_go": t0,
                "errors": st.errors,
                "error_samples": st.error_samples,
                "connect_attempts": gen.connect_attempts,
                "failed_connects": gen.failed_connects,
                "answered_total": st.answered_total,
            }
        )
        for cp in gen.points:
            cp.close()
        return

    connect_s = await gen.open_all(args.connect_limit)
    emit(
        {
            "ready": True,
            "connected": len(gen.points),
            "connect_s": round(connect_s, 2),
            "failed_connects": gen.failed_connects,
            "errors": st.errors,
            "error_samples": st.error_samples,
        }
    )
    command = await read_command(600)
    st.start = command["start"] - offset
    st.end = command["end"] - offset
    pauses = Pauses()
    watcher = asyncio.create_task(pauses.watch_loop(command["end"]))
    if args.mode == "load":
        await asyncio.sleep(max(0.0, command["go"] - time.time()))
        for cp in gen.points:
            cp.running = True
            cp.next_call()
        await asyncio.sleep(max(0.0, command["end"] - time.time()) + 0.5)
    elif args.mode == "paced":
        await paced(gen, command)
    elif args.mode == "idle":
        # Stay connected (answering pings) until told to stop.
        await read_command(600)
    watcher.cancel()
    open_at_end = sum(1 for cp in gen.points if not cp.lost)
    for cp in gen.points:
        cp.running = False
        cp.close()
    await asyncio.to_thread(write_latencies, args.out, st)
    emit(
        {
            "done": True,
            "connected": len(gen.points),
            "open_at_end": open_at_end,
            "answered": st.answered,
            "answered_total": st.answered_total,
            "sent_total": st.sent_total,
            "errors": st.errors,
            "error_samples": st.error_samples,
            "by_action": st.by_action,
            **pauses.report(),
        }
    )


class Pauses:
    """This process's own pauses (garbage collections, loop lag), which a latency it measures
    would include: the instrument's share of a tail."""

    def __init__(self) -> None:
        self.gc_started = 0.0
        self.gc_max = 0.0
        self.gc_total = 0.0
        self.lag_max = 0.0
        gc.callbacks.append(self.on_gc)

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.gc_started = time.perf_counter()
        else:
            pause = time.perf_counter() - self.gc_started
            self.gc_max = max(self.gc_max, pause)
            self.gc_total += pause

    async def watch_loop(self, end: float) -> None:
        while time.time() < end:
            asked = time.perf_counter()
            await asyncio.sleep(0.005)
            self.lag_max = max(self.lag_max, time.perf_counter() - asked - 0.005)

    def report(self) -> dict[str, float]:
        return {
            "gc_ms_max": round(self.gc_max * 1e3, 2),
            "gc_ms_total": round(self.gc_total * 1e3, 1),
            "loop_lag_ms_max": round(self.lag_max * 1e3, 2),
        }


async def paced(gen: Generator, command: dict[str, Any]) -> None:
    """Each connection sends one message a second (the cycle), at its own phase in the second."""
    loop = gen.loop
    go, end = command["go"], command["end"]

    def tick(cp: ChargePoint) -> None:
        if time.time() >= end or cp.lost:
            return
        if not cp.pending_uid:  # the previous one is answered (else: skip a beat)
            cp.next_call()
        loop.call_later(1.0, tick, cp)

    for cp in gen.points:
        loop.call_at(loop.time() + max(0.0, go - time.time()) + random.random(), tick, cp)
    await asyncio.sleep(max(0.0, end - time.time()) + 1.5)


async def storm(gen: Generator) -> list[float]:
    """Every charger at once: connect, boot, deliver a queued Start and Stop, then stay."""
    args = gen.args
    deadline = time.time() + args.connect_deadline
    done_at: list[float] = []

    async def one(i: int) -> None:
        cp = await gen.open_one(i, deadline)
        if cp is None:
            return
        gen.points.append(cp)
        try:
            left = max(0.1, deadline - time.time())
            started = await cp.request(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": cp.tag,
                    "meterStart": cp.energy,
                    "timestamp": past_stamp(900),
                },
                left,
            )
            if started is None:
                return
            cp.energy += 5230
            left = max(0.1, deadline - time.time())
            if await cp.request("StopTransaction", cp.stop_payload(past_stamp(300)), left) is None:
                return
            done_at.append(time.time())
        except (TimeoutError, ConnectionError):
            gen.stats.error(f"{cp.identity}: no answer before the deadline")

    await asyncio.gather(*(one(args.id_base + i) for i in range(args.conns)))
    return done_at


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--id-base", type=int, default=0)
    ap.add_argument("--prefix", default="CP")
    ap.add_argument("--mode", choices=["load", "paced", "idle", "storm"], default="load")
    ap.add_argument("--connect-limit", type=int, default=64, help="connects in flight (0 = all)")
    ap.add_argument("--connect-deadline", type=float, default=90.0)
    ap.add_argument("--out", default=os.devnull)
    ap.add_argument("--cycle", default="", help="comma-separated steps instead of CYCLE")
    args = ap.parse_args()
    assert args.conns <= 20_000 and args.connect_deadline <= 300, "keep runs bounded"
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
