"""uvicorn on a free port of 127.0.0.1 for tests: a central system as `ocppd serve` runs it, or
any app (`running`), stopped promptly."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from ocppd.csms.central_system import CentralSystem
from ocppd.csms.service import build_app, tls_context, uvicorn_config
from ocppd.transport.tls import ServerContext, listen

STOP_DEADLINE = 30.0


@asynccontextmanager
async def serving(system: CentralSystem, fallback: Any = None) -> AsyncIterator[int]:
    """The port `system` listens on, with `fallback` (the API, the dashboard) beside OCPP."""
    settings = system.settings
    settings.port = 0
    settings.ping_interval = 0
    async with running(uvicorn_config(build_app(system, fallback), settings)) as server:
        yield int(server.servers[0].sockets[0].getsockname()[1])


@asynccontextmanager
async def serving_tls(
    system: CentralSystem, fallback: Any = None
) -> AsyncIterator[tuple[int, int, ServerContext]]:
    """The plain port, the TLS port (`--tls-port`, the settings' certificates and client CAs)
    and the TLS context of `system`, served as `ocppd serve` serves them."""
    settings = system.settings
    settings.port = settings.tls_port = 0
    settings.ping_interval = 0
    context = tls_context(settings, system.metrics)
    assert context is not None, "no tls_cert in the settings"
    config = uvicorn_config(build_app(system, fallback), settings, context)
    async with running(config) as server:
        tls_port = await listen(server, context, settings.host, 0)
        yield int(server.servers[0].sockets[0].getsockname()[1]), tls_port, context


@asynccontextmanager
async def running(config: uvicorn.Config) -> AsyncIterator[uvicorn.Server]:
    """A server for `config`, serving until the block ends, then stopped promptly."""
    server = _PromptServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    try:
        yield server
    finally:
        server.stop()
        await _stopped(server, task)


async def _stopped(server: uvicorn.Server, task: "asyncio.Task[None]") -> None:
    """The server's end, or a failure that says what it still held. Once (session 7) the
    teardown of an API test (`test_sites_are_created_read_changed_and_deleted`, PostgreSQL)
    never ended and kept the whole run waiting with nothing to show; where it waited was not
    found, and it did not come back in the runs after."""
    try:
        await asyncio.wait_for(asyncio.shield(task), STOP_DEADLINE)
    except TimeoutError:
        state = server.server_state
        task.cancel()
        raise AssertionError(
            f"uvicorn did not stop within {STOP_DEADLINE} s: {len(state.connections)} "
            f"connections, {len(state.tasks)} tasks still tracked"
        ) from None


class _PromptServer(uvicorn.Server):
    """uvicorn's server, stopped without the waits every test's teardown spent: its main
    loop ends as soon as `stop` is called (uvicorn's own looks at `should_exit` every 0.1 s),
    and with no connection left it does not give connections 0.1 s to close."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopped = asyncio.Event()

    def stop(self) -> None:
        self.should_exit = True
        self._stopped.set()

    async def main_loop(self) -> None:
        # `on_tick` refreshes the Date header when its counter is a multiple of 10 (a
        # second of uvicorn's ticks) and answers whether to exit.
        counter = 0
        while not await self.on_tick(counter):
            counter += 10
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), 1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if sockets or self.server_state.connections or self.server_state.tasks:
            await super().shutdown(sockets)
            return
        for server in self.servers:
            server.close()
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()
