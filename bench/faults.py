"""Faults under load (issue 17): what chargers were told, what the database holds afterwards,
and how long the server took to recover.

    .venv/bin/python bench/faults.py              # every scenario, ~4 min
    .venv/bin/python bench/faults.py --only kill-sqlite --chargers 20

Chargers (`tests/durability.py`) run transactions against a real `ocppd serve` (Start, 3
MeterValues, Stop with transactionData), one call outstanding each, and send again every call
that got no CALLRESULT (a dropped connection, a CALLERROR, their own 15 s timeout). Scenarios:

  kill-sqlite, kill-pg  `kill -9` of the server 3 times, restarted at once
  terminate-pg          every PostgreSQL connection of the server killed (pg_terminate_backend,
                        only the backends of this bench's own database), 3 times
  blackhole-pg          PostgreSQL unreachable for 40 s: the server reaches it through a proxy
                        of this process that stops forwarding (nothing refused, nothing answered)

Each scenario then stops the chargers (their transaction under way is finished), stops the
server, and checks the database: acknowledged items (starts, stops, sampled values), lost (an
acknowledged item missing), duplicated (stored more than once), unexpected rows. Recovery: from
the fault's end (the kill, the termination, the network's return) to the first CALLRESULT after
it. Only 127.0.0.1; the shared PostgreSQL is never stopped or blocked (a database of the bench's
own, the proxy is the bench's).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from tests.cli.test_serve import Served
from tests.databases import POSTGRES_URL, administer
from tests.durability import Charger, Ledger, stored
from tests.tcp_proxy import TcpProxy

from ocppd.csms.database import create_engine

CALLS_BETWEEN_FAULTS = 300
OUTAGE = 40.0
WAIT = 180.0


@dataclass
class Outcome:
    name: str
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    retransmissions: int = 0
    internal_errors: int = 0
    charger_timeouts: int = 0
    recoveries: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Run:
    """A server, its chargers and their ledger."""

    def __init__(self, tmp: Path, arguments: list[str], chargers: int) -> None:
        self.tmp = tmp
        self.arguments = arguments
        self.ledger = Ledger()
        self.stop = asyncio.Event()
        self.server: Served | None = None
        self.chargers = [Charger(f"F{n}", self._url(f"F{n}"), self.ledger) for n in range(chargers)]
        self.tasks: list[asyncio.Task[None]] = []

    def _url(self, identity: str) -> Callable[[], str]:
        return lambda: f"ws://127.0.0.1:{self.server.port if self.server else 1}/ocpp/{identity}"

    async def start_server(self) -> None:
        self.server = await asyncio.to_thread(Served, self.tmp, *self.arguments)

    async def kill_server(self) -> None:
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)

    def start_chargers(self) -> None:
        self.tasks = [asyncio.create_task(c.run(self.stop)) for c in self.chargers]

    async def answered(self, more: int) -> None:
        target = self.ledger.acknowledged + more
        async with asyncio.timeout(WAIT):
            while self.ledger.acknowledged < target:
                for task in self.tasks:
                    if task.done():
                        task.result()
                await asyncio.sleep(0.05)

    async def finish(self, url: str, outcome: Outcome) -> Outcome:
        self.stop.set()
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*self.tasks)
        if self.server is not None:
            self.server.process.terminate()
            await asyncio.to_thread(self.server.process.wait, 30)
        engine = create_engine(url)
        try:
            result = await stored(engine, self.ledger)
        finally:
            await engine.dispose()
        ledger = self.ledger
        outcome.acknowledged = result.acknowledged
        outcome.lost = len(result.lost)
        outcome.duplicated = len(result.duplicated)
        outcome.unexpected = len(result.unexpected)
        outcome.retransmissions = ledger.retransmissions
        outcome.internal_errors = ledger.internal_errors
        outcome.charger_timeouts = ledger.charger_timeouts
        outcome.notes += result.lost[:3] + result.duplicated[:3] + result.unexpected[:3]
        return outcome


async def fresh_database() -> tuple[str, str]:
    name = f"ocppd_faults_{secrets.token_hex(4)}"
    await administer(f'CREATE DATABASE "{name}"')
    return name, POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


async def repeated(
    name: str, kind: str, chargers: int, fault: Callable[[Run, str], Awaitable[float]]
) -> Outcome:
    """Three faults of one kind under load; `fault` returns when it ended."""
    outcome = Outcome(name)
    with tempfile.TemporaryDirectory(prefix="ocppd-faults-") as directory:
        tmp = Path(directory)
        database, url = ("", f"sqlite:///{tmp / 'data' / 'ocppd.db'}")
        if kind == "postgresql":
            database, url = await fresh_database()
        run = Run(tmp, ["--database", url] if database else [], chargers)
        try:
            await run.start_server()
            run.start_chargers()
            for _ in range(3):
                await run.answered(CALLS_BETWEEN_FAULTS)
                ended = await fault(run, database)
                await run.answered(1)
                recovery = run.ledger.first_answer_after(ended)
                outcome.recoveries.append(recovery if recovery is not None else float("nan"))
            await run.answered(CALLS_BETWEEN_FAULTS)
            return await run.finish(url, outcome)
        finally:
            await run.kill_server()
            if database:
                await administer(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def kill_9(run: Run, _: str) -> float:
    await run.kill_server()
    ended = time.monotonic()
    await run.start_server()
    return ended


async def terminate_connections(_: Run, database: str) -> float:
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
    return time.monotonic()


async def black_hole(chargers: int) -> Outcome:
    outcome = Outcome("blackhole-pg")
    database, url = await fresh_database()
    target = urlsplit(POSTGRES_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    port = await proxy.start()
    proxied = url.replace(target.netloc.split("@")[-1], f"127.0.0.1:{port}")
    with tempfile.TemporaryDirectory(prefix="ocppd-faults-") as directory:
        run = Run(Path(directory), ["--database", proxied], chargers)
        try:
            await run.start_server()
            run.start_chargers()
            await run.answered(CALLS_BETWEEN_FAULTS)
            proxy.black_hole()
            began = time.monotonic()
            await asyncio.sleep(OUTAGE)
            proxy.resume()
            ended = time.monotonic()
            first_error = run.ledger.first_answer_after(began, kind=4)
            outcome.notes.append(
                f"first InternalError {first_error:.1f} s after the outage began"
                if first_error is not None
                else "no InternalError during the outage"
            )
            during = [at for at, kind in run.ledger.answers if began <= at < ended]
            outcome.notes.append(
                f"{sum(1 for at, kind in run.ledger.answers if began <= at < ended and kind == 4)}"
                f" InternalErrors and {len(during)} answers in all during the outage"
            )
            await run.answered(1)
            recovery = run.ledger.first_answer_after(ended)
            outcome.recoveries.append(recovery if recovery is not None else float("nan"))
            await run.answered(CALLS_BETWEEN_FAULTS)
            return await run.finish(url, outcome)
        finally:
            proxy.resume()
            await run.kill_server()
            await proxy.close()
            await administer(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def report(outcome: Outcome) -> str:
    recoveries = ", ".join(f"{r:.2f}" for r in outcome.recoveries)
    lines = [
        f"{outcome.name}: acknowledged {outcome.acknowledged}, lost {outcome.lost}, "
        f"duplicated {outcome.duplicated}, unexpected {outcome.unexpected}; "
        f"recovered in {recoveries} s; retransmissions {outcome.retransmissions}, "
        f"InternalError answers {outcome.internal_errors}, "
        f"charger timeouts (15 s) {outcome.charger_timeouts}"
    ]
    lines += [f"  {note}" for note in outcome.notes]
    return "\n".join(lines)


SCENARIOS = ["kill-sqlite", "kill-pg", "terminate-pg", "blackhole-pg"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, default=SCENARIOS)
    options = parser.parse_args()
    print(f"{options.chargers} chargers, one call outstanding each; --database-timeout 10 s")
    for name in options.only:
        started = time.monotonic()
        if name == "kill-sqlite":
            outcome = await repeated(name, "sqlite", options.chargers, kill_9)
        elif name == "kill-pg":
            outcome = await repeated(name, "postgresql", options.chargers, kill_9)
        elif name == "terminate-pg":
            outcome = await repeated(name, "postgresql", options.chargers, terminate_connections)
        else:
            outcome = await black_hole(options.chargers)
        print(report(outcome), f"({time.monotonic() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
