"""What one statement costs the server's CPU: through SQLAlchemy, and on PostgreSQL's driver.

    .venv/bin/python bench/statements.py [--rounds 2000]

A group commit runs a few statements per batch; at 1,000 chargers x 1 message a second a batch
carries only a handful of messages, so what each statement costs the process, not the database,
decides much of the server's CPU per message (decision 0002, "Applied (5)"). Measured on a
fresh migrated database (created and dropped here) on the local PostgreSQL: the process CPU
(and wall time) per round of each way of running a small indexed select and a transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable

from ocppd.csms.database import create_engine, upgrade
from ocppd.csms.id_tags import _LOAD_TAGS

ADMIN = ["-h", "127.0.0.1", "-U", "postgres"]
URL = "postgresql://postgres@127.0.0.1:5432/"


async def measure(label: str, rounds: int, step: Callable[[], Awaitable[object]]) -> None:
    for _ in range(50):  # prepared statements, type introspection, pool warm
        await step()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        await step()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"| {label} | {cpu / rounds * 1e6:.0f} | {wall / rounds * 1e6:.0f} |")


async def run(database: str, rounds: int) -> None:
    engine = create_engine(URL + database)
    await upgrade(engine)
    keys = ["tag000001", "tag000002", "tag000003"]
    sql = _LOAD_TAGS.postgresql
    print("| way | CPU µs | wall µs |\n|---|--:|--:|")
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None

        async def alchemy_select() -> object:
            return (await connection.execute(_LOAD_TAGS.alchemy, {"keys": keys})).all()

        async def alchemy_driver_sql() -> object:
            return (await connection.exec_driver_sql(sql, (keys,))).all()

        async def driver_select() -> object:
            return await driver.fetch(sql, keys)

        await measure("select, SQLAlchemy statement (expanding IN)", rounds, alchemy_select)
        await measure("select, SQLAlchemy exec_driver_sql", rounds, alchemy_driver_sql)
        await measure("select, asyncpg fetch", rounds, driver_select)
        await connection.commit()

    async def alchemy_transaction() -> object:
        async with engine.begin() as connection:
            return await connection.exec_driver_sql("SELECT 1")

    async def driver_transaction() -> object:
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            async with driver.transaction():
                return await driver.fetch("SELECT 1")

    async def checkout() -> object:
        async with engine.connect() as connection:
            return connection

    await measure(
        "engine.begin(): BEGIN, SELECT 1, COMMIT through SQLAlchemy", rounds, alchemy_transaction
    )
    await measure(
        "engine.connect() and the driver's transaction around SELECT 1", rounds, driver_transaction
    )
    await measure("engine.connect() alone (pool checkout and return)", rounds, checkout)
    await engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2000)
    args = ap.parse_args()
    database = f"ocppd_bench_statements_{os.getpid()}"
    subprocess.run(["createdb", *ADMIN, database], check=True)
    try:
        print(f"# bench/statements.py ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
        asyncio.run(run(database, args.rounds))
    finally:
        subprocess.run(["dropdb", *ADMIN, database], check=True)


if __name__ == "__main__":
    main()
