"""A central system served by uvicorn on a free port of 127.0.0.1, as `ocppd serve` runs it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from ocppd.csms.central_system import CentralSystem
from ocppd.csms.service import build_app, uvicorn_config


@asynccontextmanager
async def serving(system: CentralSystem, fallback: Any = None) -> AsyncIterator[int]:
    """The port `system` listens on, with `fallback` (the API, the dashboard) beside OCPP."""
    settings = system.settings
    settings.port = 0
    settings.ping_interval = 0
    server = uvicorn.Server(uvicorn_config(build_app(system, fallback), settings))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await task
