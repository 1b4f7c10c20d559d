"""What finding a batch's StartTransactions among the stored ones costs as chargers' histories grow.

    .venv/bin/python bench/start_lookup.py [--history 10 100 1000] [--rounds 50]

A start that a charger sends again (its answer was lost) must get the same transaction id, so
every batch of starts reads the stored starts with the same identity (charge point,
connector, meterStart, timestamp). Two shapes of that read, on SQLite (in its thread, as the
group commit runs it) and on PostgreSQL's driver, each against 200 chargers with `--history`
stopped transactions each, for a batch of 50 starts from 50 chargers (half of them repeats):

- per column (ocppd before this bench): one list per column, `= ANY` each on PostgreSQL and
  an IN each on SQLite. It matches any combination of the values, so PostgreSQL reads every
  transaction of the 50 chargers and filters them, and SQLite looks up every combination.
- per row (`transactions._STORED_STARTS` now): the identities as rows, joined with `unnest`
  on PostgreSQL and looked up one by one on SQLite: an index lookup each.

Both must find the same 25 repeats. Figures: wall ms per read (median of `--rounds`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ocppd.csms import models, transactions
from ocppd.csms.batch_database import Database, DriverDatabase, Query
from ocppd.csms.bulk_writes import driver_connection
from ocppd.csms.database import create_engine, upgrade
from ocppd.csms.sqlite_batches import commit_in_thread

ADMIN = ["-h", "127.0.0.1", "-U", "postgres"]
URL = "postgresql://postgres@127.0.0.1:5432/"
CHARGERS = 200
BATCH = 50
T0 = datetime(2026, 1, 1, tzinfo=UTC)
COLUMNS = ("charge_point_id", "connector_id", "meter_start", "started_at")

PER_COLUMN = Query(
    alchemy=sa.select(
        *(models.transactions.c[name] for name in ("id", "start_status", *COLUMNS, "id_tag"))
    ).where(
        *(
            models.transactions.c[name].in_(sa.bindparam(f"b_{name}", expanding=True))
            for name in COLUMNS
        )
    ),
    names=tuple(f"b_{name}" for name in COLUMNS),
    postgresql="SELECT id, start_status, charge_point_id, connector_id, meter_start, "
    "started_at, id_tag FROM transactions WHERE charge_point_id = ANY($1::varchar[]) "
    "AND connector_id = ANY($2::integer[]) AND meter_start = ANY($3::bigint[]) "
    "AND started_at = ANY($4::timestamptz[])",
)


def history_rows(history: int) -> list[dict[str, Any]]:
    return [
        {
            "charge_point_id": f"CP{c:04d}",
            "connector_id": 1,
            "id_tag": f"TAG{c:04d}",
            "start_status": "Accepted",
            "meter_start": meter_start(c, n),
            "started_at": started_at(c, n),
            "meter_stop": meter_start(c, n) + 500,
            "stopped_at": started_at(c, n) + timedelta(seconds=30),
            "received_at": T0,
        }
        for c in range(CHARGERS)
        for n in range(history)
    ]


def meter_start(charger: int, n: int) -> int:
    return charger * 10_000_000 + n * 1000


def started_at(charger: int, n: int) -> datetime:
    return T0 + timedelta(minutes=n, seconds=charger)


def wanted(history: int) -> list[tuple[Any, ...]]:
    """50 chargers' starts: every other one a repeat of its last stored start."""
    return [
        (f"CP{c:04d}", 1, meter_start(c, history - 1 + c % 2), started_at(c, history - 1 + c % 2))
        for c in range(BATCH)
    ]


def arguments(query: Query, identities: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    if query.per_row:
        return (identities,)
    return tuple(list({identity[n] for identity in identities}) for n in range(len(COLUMNS)))


def repeats(rows: Any, identities: list[tuple[Any, ...]]) -> list[Any]:
    """The rows with a wanted identity (the per-column read returns more)."""
    wanted = set(identities)
    return [row for row in rows if (row[2], row[3], row[4], row[5].astimezone(UTC)) in wanted]


def in_thread(engine: Any, query: Query, args: Any, identities: list[Any]) -> Any:
    """The read on SQLite, in its thread as the group commit runs it."""

    async def fetch(db: Database) -> Any:
        return await db.fetch(query, *args)

    async def read() -> Any:
        return repeats(await commit_in_thread(engine, fetch), identities)

    return read


def on_driver(db: DriverDatabase, query: Query, args: Any, identities: list[Any]) -> Any:
    async def read() -> Any:
        return repeats(await db.fetch(query, *args), identities)

    return read


async def timed(read: Any, rounds: int) -> tuple[float, int]:
    found = len(await read())
    walls = []
    for _ in range(rounds):
        start = time.perf_counter()
        await read()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls) * 1000, found


async def measure(engine: Any, name: str, history: int, rounds: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(sa.delete(models.transactions))
        await connection.execute(models.transactions.insert(), history_rows(history))
    if name == "postgresql":  # as autovacuum would have by then (ocppd never analyzes SQLite)
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("ANALYZE transactions")
    identities = wanted(history)
    figures = []
    for query in (PER_COLUMN, transactions._STORED_STARTS):
        args = arguments(query, identities)
        if name == "sqlite":
            figures.append(await timed(in_thread(engine, query, args, identities), rounds))
            continue
        async with driver_connection(engine) as driver:
            figures.append(
                await timed(on_driver(DriverDatabase(driver), query, args, identities), rounds)
            )
    (old_ms, old_found), (new_ms, new_found) = figures
    print(
        f"| {name} | {history:,} | {CHARGERS * history:,} | {old_ms:.2f} | {new_ms:.2f} "
        f"| {old_ms / new_ms:.1f}x | {old_found} / {new_found} |",
        flush=True,
    )


async def run(histories: list[int], rounds: int, database: str) -> None:
    print("| database | history per charger | transactions | per column ms | per row ms "
          "| per row faster | repeats found (per column / per row) |")  # fmt: skip
    print("|---|--:|--:|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = create_engine(f"sqlite:///{Path(tmp) / 'ocppd.db'}")
        await upgrade(sqlite)
        for history in histories:
            await measure(sqlite, "sqlite", history, rounds)
        await sqlite.dispose()
    pg = create_engine(URL + database)
    await upgrade(pg)
    for history in histories:
        await measure(pg, "postgresql", history, rounds)
    await pg.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    assert all(1 <= h <= 5000 for h in args.history) and 1 <= args.rounds <= 10_000
    database = f"ocppd_bench_starts_{os.getpid()}"
    subprocess.run(["createdb", *ADMIN, database], check=True)
    try:
        print(f"# bench/start_lookup.py ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
        asyncio.run(run(args.history, args.rounds, database))
    finally:
        subprocess.run(["dropdb", *ADMIN, database], check=True)


if __name__ == "__main__":
    main()
