"""What one message costs the central system by batch size, without the network.

    .venv/bin/python bench/group_commit.py                      # SQLite and PostgreSQL
    .venv/bin/python bench/group_commit.py --batches 1 8 64 --rounds 200 --db pg

Under a paced load (1,000 chargers x 1 message a second) a commit carries a few messages;
under full load it carries hundreds. This feeds the realistic cycle of `bench/server.py`
(`server_loadgen.CYCLE`) as text frames into real sessions of a `CentralSystem` (parse,
validate, handler, group commit, message log, answer), `B` chargers at a time, each round
waiting for all `B` answers, and reports the process CPU time per message and per commit.
The WebSocket transport is left out: its cost per message is the bare server's in
`bench/server.py`. The figures to compare are CPU µs/msg at the smallest and largest batch:
the difference is what every commit costs whatever it carries.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
import uvloop
from sqlalchemy.ext.asyncio import create_async_engine

from ocppd.csms.central_system import CentralSystem, Connection
from ocppd.csms.database import async_url, create_engine
from ocppd.csms.service import settle_garbage_collector
from ocppd.csms.settings import RegistrationPolicy, Settings
from server_loadgen import CYCLE, now_stamp, sampled_values

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class Charger:
    """One simulated charge point speaking through a real session, with no socket."""

    def __init__(self, index: int) -> None:
        self.id = f"CP{index:06d}"
        self.tag = f"TAG{index:06d}"
        self.position = index % len(CYCLE)
        self.energy = 1000
        self.transaction_id: int | None = None
        self.answer: asyncio.Future[bytes] | None = None
        self.connection: Connection | None = None
        self.unique = 0

    async def send(self, data: bytes) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(data)

    async def close(self, code: int, reason: str) -> None:
        pass

    def frame(self, action: str, payload: dict[str, Any]) -> str:
        self.unique += 1
        self.action = action
        return msgspec.json.encode([2, str(self.unique), action, payload]).decode()

    def next_frame(self) -> str:
        step = CYCLE[self.position]
        self.position = (self.position + 1) % len(CYCLE)
        if step == "Heartbeat":
            return self.frame("Heartbeat", {})
        if step.startswith("StatusNotification"):
            status = step.split(":", 1)[1]
            payload = {"connectorId": 1, "errorCode": "NoError", "status": status}
            return self.frame("StatusNotification", {**payload, "timestamp": now_stamp()})
        if step == "StartTransaction":
            payload = {"connectorId": 1, "idTag": self.tag, "meterStart": self.energy}
            return self.frame("StartTransaction", {**payload, "timestamp": now_stamp()})
        if step == "MeterValues":
            self.energy += 183
            value = {"timestamp": now_stamp(), "sampledValue": sampled_values(self.energy)}
            meter: dict[str, Any] = {"connectorId": 1, "meterValue": [value]}
            if self.transaction_id is not None:
                meter["transactionId"] = self.transaction_id
            return self.frame("MeterValues", meter)
        if self.transaction_id is None:
            return self.frame("Heartbeat", {})
        stop = {
            "transactionId": self.transaction_id,
            "idTag": self.tag,
            "meterStop": self.energy,
            "timestamp": now_stamp(),
            "reason": "EVDisconnected",
        }
        self.transaction_id = None
        return self.frame("StopTransaction", stop)

    async def exchange(self, text: str) -> None:
        assert self.connection is not None
        self.answer = asyncio.get_running_loop().create_future()
        await self.connection.receive(text)
        reply = msgspec.json.decode(await self.answer)
        if reply[0] != 3:
            raise RuntimeError(f"{self.id}: {reply}")
        if self.action == "StartTransaction":
            self.transaction_id = reply[2]["transactionId"]


async def run(db: str, batches: list[int], rounds: int, tmp: Path) -> list[dict[str, Any]]:
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_async_engine(async_url(POSTGRES))
    if db == "pg":
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'create schema "{schema}"'))
        engine = create_engine(POSTGRES, search_path=schema)
    else:
        engine = create_engine(f"sqlite:///{tmp / 'ocppd.db'}")
    settings = Settings(registration=RegistrationPolicy.OPEN, data_dir=tmp)
    system = CentralSystem(settings, engine=engine)
    rows = []
    try:
        await system.start()
        chargers = [Charger(i) for i in range(max(batches))]
        async with engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO id_tags (id_tag, id_tag_key, status) VALUES (:t, :k, 'Accepted')"
                ),
                [{"t": c.tag, "k": c.tag.lower()} for c in chargers],
            )
        for charger in chargers:
            record = await system.admit(charger.id, None)
            charger.connection = await system.open(record, charger.send, charger.close)  # type: ignore[arg-type]
            boot = {"chargePointVendor": "bench", "chargePointModel": "micro"}
            await charger.exchange(charger.frame("BootNotification", boot))
        settle_garbage_collector()  # as `ocppd serve` does once started
        for size in batches:
            group = chargers[:size]
            warm = max(3, rounds // 10)
            for _ in range(warm):
                await asyncio.gather(*(c.exchange(c.next_frame()) for c in group))
            gc.collect()
            batches_before = system.writer.batches
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(rounds):
                await asyncio.gather(*(c.exchange(c.next_frame()) for c in group))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            messages = rounds * size
            commits = system.writer.batches - batches_before
            rows.append(
                {
                    "db": db,
                    "batch": size,
                    "messages": messages,
                    "commits": commits,
                    "us_msg": cpu / messages * 1e6,
                    "us_commit": cpu / max(1, commits) * 1e6,
                    "msgs_commit": messages / max(1, commits),
                    "wall_ms_round": wall / rounds * 1e3,
                }
            )
            print(rows[-1], file=sys.stderr, flush=True)
    finally:
        await system.stop()
        if db == "pg":
            async with admin.begin() as connection:
                await connection.execute(sa.text(f'drop schema "{schema}" cascade'))
        await admin.dispose()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", nargs="*", default=["sqlite", "pg"], choices=["sqlite", "pg"])
    ap.add_argument("--batches", nargs="*", type=int, default=[1, 4, 16, 64, 256])
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args()
    rows = []
    for db in args.db:
        with tempfile.TemporaryDirectory() as tmp:
            rows += uvloop.run(run(db, args.batches, args.rounds, Path(tmp)))
    print(f"# bench/group_commit.py ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(
        "| database | chargers per round | messages per commit | CPU µs/msg | CPU µs/commit "
        "| ms per round |"
    )
    print("|---|--:|--:|--:|--:|--:|")
    for r in rows:
        print(
            f"| {r['db']} | {r['batch']} | {r['msgs_commit']:.1f} | {r['us_msg']:.0f} "
            f"| {r['us_commit']:.0f} | {r['wall_ms_round']:.2f} |"
        )


if __name__ == "__main__":
    main()
