"""A database that stops answering (a black hole on the network, a lock held by another
writer) gets chargers a CALLERROR InternalError within `--database-timeout`, and the server
recovers by itself when it answers again; every call answered with a CALLRESULT is stored
(issue 17, defect 2). Over real sockets, on real databases."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from ocppd.csms import models
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.database import create_engine
from ocppd.csms.settings import RegistrationPolicy, Settings
from tests.csms.test_server import charge_point_row_locked
from tests.databases import POSTGRES_URL, engine_for
from tests.servers import serving
from tests.tcp_proxy import TcpProxy

TIMEOUT = 1.0
"""Seconds of `--database-timeout` in these tests."""
WITHIN = 15.0
"""Seconds the server may take to answer while the database stays stuck (the bound plus a
busy machine's margin); the database stays stuck longer than that."""

BOOT = '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
START = (
    '[2,"{id}","StartTransaction",'
    '{{"connectorId":1,"idTag":"T1","meterStart":100,"timestamp":"2026-12-06T12:00:00Z"}}]'
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async for created in engine_for(request.param, tmp_path, timeout=TIMEOUT):
        yield created


def settings() -> Settings:
    return Settings(registration=RegistrationPolicy.OPEN, database_timeout=TIMEOUT)


async def answer(ws: ClientConnection, within: float = WITHIN) -> Any:
    return msgspec.json.decode(await asyncio.wait_for(ws.recv(), within))


async def booted(port: int, identity: str) -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{port}/ocpp/{identity}", subprotocols=["ocpp1.6"], open_timeout=10
    )
    await ws.send(BOOT)
    assert (await answer(ws))[0] == 3
    return ws


async def started_until_answered(ws: ClientConnection) -> tuple[int, int]:
    """StartTransaction sent again, as a charger does, until a CALLRESULT: (its transaction
    id, the CALLERRORs before it)."""
    for attempt in range(20):
        await ws.send(START.format(id=f"s{attempt}"))
        reply = await answer(ws)
        if reply[0] == 3:
            return int(reply[2]["transactionId"]), attempt
        assert reply[2] == "InternalError", reply
    raise AssertionError("StartTransaction never succeeded after the database came back")


async def transactions_of(engine: AsyncEngine, identity: str) -> list[int]:
    async with engine.connect() as connection:
        rows = await connection.scalars(
            sa.select(models.transactions.c.id).where(
                models.transactions.c.charge_point_id == identity
            )
        )
        return list(rows)


async def test_a_black_holed_postgresql_answers_internal_error_then_recovers(
    tmp_path: Path,
) -> None:
    """PostgreSQL behind a proxy that stops forwarding (nothing refused, nothing answered).
    Calls that wait for a commit are answered with InternalError while it still holds, the
    connections they used are not reused half-way, and once it forwards again new calls
    succeed and what was acknowledged is stored once."""
    async for engine in engine_for("postgresql", tmp_path):
        async with engine.connect() as connection:
            schema = await connection.scalar(sa.text("SELECT current_schema()"))
        target = urlsplit(POSTGRES_URL)
        proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
        port = await proxy.start()
        url = POSTGRES_URL.replace(target.netloc.split("@")[-1], f"127.0.0.1:{port}")
        proxied = create_engine(url, search_path=schema, timeout=TIMEOUT)
        system = CentralSystem(settings(), engine=proxied)
        await system.start()
        try:
            async with serving(system) as server_port:
                starter = await booted(server_port, "A")
                beater = await booted(server_port, "B")
                proxy.black_hole()
                await starter.send(START.format(id="held"))
                await beater.send('[2,"h1","Heartbeat",{}]')
                # Answered while the proxy still holds: the server gave up by itself.
                for ws, unique_id in ((starter, "held"), (beater, "h1")):
                    reply = await answer(ws)
                    assert reply[:3] == [4, unique_id, "InternalError"], reply
                assert system.writer.queued() == 0
                # A charger connecting meanwhile is refused for now, not left hanging.
                with pytest.raises(InvalidStatus) as refused:
                    await asyncio.wait_for(booted(server_port, "C"), WITHIN)
                assert refused.value.response.status_code == 503
                proxy.resume()
                transaction_id, _ = await started_until_answered(starter)
                await beater.send('[2,"h2","Heartbeat",{}]')
                assert (await answer(beater))[:2] == [3, "h2"]
                await starter.close()
                await beater.close()
            # The held start may have been committed after all (its statement was delivered
            # when the proxy resumed): the retransmission found it. Either way, once.
            assert await transactions_of(engine, "A") == [transaction_id]
        finally:
            proxy.resume()
            await system.stop()
            await proxy.close()


async def test_a_locked_database_answers_internal_error_then_recovers(engine: AsyncEngine) -> None:
    """Another writer holds the lock a Heartbeat's commit needs (SQLite: a write transaction
    of another process's connection; PostgreSQL: the charge point's row): InternalError
    within the bound, and once the lock is released the next call is committed."""
    system = CentralSystem(settings(), engine=engine)
    await system.start()
    try:
        async with serving(system) as port:
            ws = await booted(port, "CP1")
            async with charge_point_row_locked(system, "CP1"):
                await ws.send('[2,"h1","Heartbeat",{}]')
                reply = await answer(ws)
                assert reply[:3] == [4, "h1", "InternalError"], reply
            transaction_id, _ = await started_until_answered(ws)
            await ws.close()
        assert await transactions_of(engine, "CP1") == [transaction_id]
    finally:
        await system.stop()
