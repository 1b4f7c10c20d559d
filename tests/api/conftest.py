"""A running `ocppd serve` (uvicorn on a free port, the API as the OCPP app's fallback), API
clients with a token of each role, and charge points played by real WebSocket clients."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from websockets.asyncio.client import ClientConnection, connect

from ocppd.api import tokens
from ocppd.api.app import create_app
from ocppd.api.auth import RoleCache
from ocppd.api.tokens import Role
from ocppd.cli.api_client import Answer, ApiClient
from ocppd.csms import registration
from ocppd.csms.central_system import CentralSystem
from tests.csms.conftest import FixedClock, central_system, clock, engine  # noqa: F401
from tests.servers import serving

__all__ = ["Api", "FakeChargePoint", "central_system", "clock", "engine"]


class Silent:
    """An answer that never comes (the charge point ignores the call)."""


@dataclass
class CallError:
    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


Reply = dict[str, Any] | CallError | Silent | Callable[[dict[str, Any]], Any]


class Client:
    """An API client whose calls run in a thread, so the server in this loop can answer."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def __call__(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None, **query: Any
    ) -> Answer:
        return await asyncio.to_thread(self.api.send, method, path, body, query, raw)


@dataclass
class Api:
    system: CentralSystem
    port: int
    app: Any
    tokens: dict[Role, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, role: Role | None = Role.ADMIN, token: str | None = None) -> Client:
        return Client(ApiClient(self.url, token or (self.tokens[role] if role else None)))

    def ws_url(self, identity: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/{identity}"


@pytest.fixture
async def api(central_system: CentralSystem) -> AsyncIterator[Api]:
    app = api_app(central_system)
    async with serving(central_system, app) as port:
        yield Api(central_system, port, app, await issue_tokens(central_system))


_shared_app: Litestar | None = None


def api_app(system: CentralSystem) -> Litestar:
    """The API app (`create_app`) serving `system`. Built once per test process: Litestar's
    registration of the routes took 0.15 s, most of an API test's set-up. What the app keeps
    of a test is its state, which each test replaces: its own central system, a new cache of
    token roles."""
    global _shared_app
    if _shared_app is None:
        _shared_app = create_app(system)
    _shared_app.state.system = system
    _shared_app.state.roles = RoleCache()
    return _shared_app


async def issue_tokens(system: CentralSystem) -> dict[Role, str]:
    """A token of each role."""
    async with system.engine.begin() as db:
        return {role: (await tokens.create(db, role, role.value)).token for role in Role}


class FakeChargePoint:
    """A charge point on a real WebSocket: boots, then answers every CALL from `replies`
    (by action), and sends its own calls with `ask`."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.replies: dict[str, Reply] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.unique_ids: dict[str, str] = {}
        """The unique id of the last call of each action."""
        self.called = asyncio.Event()
        self._results: asyncio.Queue[Any] = asyncio.Queue()
        self._next_id = 0

    async def ask(self, action: str, payload: dict[str, Any]) -> Any:
        self._next_id += 1
        await self.ws.send(msgspec.json.encode([2, f"cp{self._next_id}", action, payload]).decode())
        frame = await asyncio.wait_for(self._results.get(), 5)
        assert frame[0] == 3, frame
        return frame[2]

    async def send_text(self, text: str) -> Any:
        """Send `text` as it is (hostile frames too); the frame answering it."""
        await self.ws.send(text)
        return await asyncio.wait_for(self._results.get(), 5)

    async def answer(self, action: str, payload: dict[str, Any]) -> None:
        """Answer the last `action` call now (one its reply left `Silent`)."""
        await self.ws.send(msgspec.json.encode([3, self.unique_ids[action], payload]).decode())

    async def serve(self) -> None:
        async for text in self.ws:
            frame = msgspec.json.decode(text)
            if frame[0] != 2:
                await self._results.put(frame)
                continue
            _, unique_id, action, payload = frame
            self.received.append((action, payload))
            self.unique_ids[action] = unique_id
            self.called.set()
            reply = self.replies.get(action, {})
            if callable(reply):
                reply = reply(payload)
            if isinstance(reply, Silent):
                continue
            if isinstance(reply, CallError):
                answer = [4, unique_id, reply.code, reply.description, reply.details]
            else:
                answer = [3, unique_id, reply]
            await self.ws.send(msgspec.json.encode(answer).decode())


@contextlib.asynccontextmanager
async def charge_point(
    api: Api, identity: str = "CP1", headers: dict[str, str] | None = None
) -> AsyncIterator[FakeChargePoint]:
    """A registered, connected and accepted charge point (`headers`: of the upgrade request)."""
    async with api.system.engine.begin() as db:
        if await registration.load(db, identity) is None:
            await registration.register(db, identity)
    async with connect(
        api.ws_url(identity), subprotocols=["ocpp1.6"], open_timeout=5, additional_headers=headers
    ) as ws:
        cp = FakeChargePoint(ws)
        task = asyncio.create_task(cp.serve())
        boot = await cp.ask("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot["status"] == "Accepted"
        try:
            yield cp
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
