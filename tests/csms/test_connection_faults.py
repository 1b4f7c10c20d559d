"""A defect of ours while a connection is handled: that charger is closed with 1011 (internal
error), the close is recorded with 1011, and the other connections carry on."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.exceptions import ConnectionClosed

from ocppd.csms.central_system import CentralSystem, Connection
from ocppd.csms.events import Event, Subscription
from ocppd.csms.settings import Settings
from tests.csms.conftest import FixedClock, RunningServer
from tests.csms.test_server import BOOT, ask, open_socket, register
from tests.servers import serving

FAULT = '[2,"f","Heartbeat",{"fault":"inject"}]'


class InjectedFault(Exception):
    """Raised past the session, as a defect in ocppd's own code would be."""


class FaultyPeer:
    """The central system's connection, failing on the frame `FAULT`."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def receive(self, data: str) -> None:
        if data == FAULT:
            raise InjectedFault("injected by the test")
        await self.connection.receive(data)


class FaultySystem(CentralSystem):
    async def open(self, admitted: Any, send: Any, close: Any) -> Any:
        return FaultyPeer(await super().open(admitted, send, close))

    async def closed(self, connection: Any, code: int) -> None:
        await super().closed(connection.connection, code)


@pytest.fixture
async def server(engine: AsyncEngine, clock: FixedClock) -> AsyncIterator[RunningServer]:
    system = FaultySystem(Settings(), clock=clock, engine=engine)
    await system.start()
    try:
        async with serving(system) as port:
            yield RunningServer(system, port)
    finally:
        await system.stop()


async def next_of(events: Subscription, kind: str) -> Event:
    while True:
        event = await asyncio.wait_for(events.next(), 5)
        assert event is not None
        if event.type == kind:
            return event


async def test_an_unexpected_exception_closes_that_connection_with_1011(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    await register(server.system, "BAD")
    await register(server.system, "GOOD")
    events = server.system.events.subscribe()
    async with open_socket(server, "BAD") as bad, open_socket(server, "GOOD") as good:
        await ask(bad, BOOT)
        await ask(good, BOOT)
        with caplog.at_level(logging.INFO):
            await bad.send(FAULT)
            with pytest.raises(ConnectionClosed) as caught:
                await asyncio.wait_for(bad.recv(), 5)
            disconnected = await next_of(events, "Disconnected")
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1011
        assert (disconnected.charge_point_id, disconnected.data) == ("BAD", {"code": 1011})
        assert "BAD" not in server.system.connections
        assert (await ask(good, '[2,"h","Heartbeat",{}]'))[:2] == [3, "h"]
        assert server.system.connections["GOOD"].session.closed is False
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    assert "BAD" in errors[0].getMessage() and "1011" in errors[0].getMessage()
    assert errors[0].exc_info is not None and errors[0].exc_info[0] is InjectedFault
    assert "BAD: disconnected (1011)" in caplog.text


async def test_the_charger_reconnects_after_a_fault(server: RunningServer) -> None:
    await register(server.system, "CP1")
    async with open_socket(server, "CP1") as ws:
        await ws.send(FAULT)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    async with open_socket(server, "CP1") as ws:
        assert (await ask(ws, BOOT))[0] == 3
        assert server.system.connections["CP1"].session.closed is False
