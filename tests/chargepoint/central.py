"""A minimal central system written with the mobilityhouse `ocpp` package (a test-only peer).

It is deliberately not ocppd: the simulator must work against any central system. It records
every call it receives, in arrival order, so that tests can check what a station sent.
"""

import asyncio
import base64
import contextlib
import itertools
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from ocpp.exceptions import InternalError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ocppd.chargepoint import Clock, Station

BLOCKED_TAG = "BLOCKED"
NO_UTC_TAG = "NO-UTC"
"""Accepted until 9999-12-31T23:59:59-23:59: valid RFC 3339, but no UTC time in years 1 to
9999 (no datetime holds one)."""


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class CallLog:
    """The calls one identity sent, in arrival order, across all its connections."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._arrived = asyncio.Condition()

    async def record(self, action: str, payload: dict[str, Any]) -> None:
        async with self._arrived:
            self.received.append((action, payload))
            self._arrived.notify_all()

    def calls(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == action]

    async def wait_for(
        self,
        action: str,
        count: int = 1,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = 5,
    ) -> list[dict[str, Any]]:
        """The first `count` received `action` calls matching `where`, once they arrived."""

        def matching() -> list[dict[str, Any]]:
            return [payload for payload in self.calls(action) if where(payload)]

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(matching()) >= count)
        return matching()[:count]


class RecordingChargePoint(ChargePoint):
    """The central system's view of one connected station: answers its calls, records them."""

    def __init__(self, identity: str, connection: ServerConnection, central: "CentralSystem"):
        super().__init__(identity, connection, response_timeout=5)
        self.central = central
        self.log = central.logs.setdefault(identity, CallLog())
        self.calls = self.log.calls
        self.wait_for = self.log.wait_for
        self._record = self.log.record

    @on(Action.boot_notification)
    async def on_boot(self, **payload: Any) -> call_result.BootNotification:
        await self._record("BootNotification", payload)
        status = self.central.boot_statuses.pop(0) if self.central.boot_statuses else "Accepted"
        return call_result.BootNotification(
            current_time=now(), interval=self.central.interval, status=RegistrationStatus(status)
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **payload: Any) -> call_result.Heartbeat:
        await self._record("Heartbeat", payload)
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    async def on_status(self, **payload: Any) -> call_result.StatusNotification:
        await self._record("StatusNotification", payload)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **payload: Any) -> call_result.Authorize:
        await self._record("Authorize", {"id_tag": id_tag, **payload})
        return call_result.Authorize(id_tag_info=_tag_info(id_tag))

    @on(Action.start_transaction)
    async def on_start(self, id_tag: str, **payload: Any) -> call_result.StartTransaction:
        await self._record("StartTransaction", {"id_tag": id_tag, **payload})
        return call_result.StartTransaction(
            transaction_id=next(self.central.transaction_ids), id_tag_info=_tag_info(id_tag)
        )

    @on(Action.stop_transaction)
    async def on_stop(self, **payload: Any) -> call_result.StopTransaction:
        await self._record("StopTransaction", payload)
        if self.central.failing_stops > 0:
            self.central.failing_stops -= 1
            raise InternalError(description="database unavailable")
        return call_result.StopTransaction()

    @on(Action.meter_values)
    async def on_meter_values(self, **payload: Any) -> call_result.MeterValues:
        await self._record("MeterValues", payload)
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, **payload: Any) -> call_result.DataTransfer:
        await self._record("DataTransfer", payload)
        return call_result.DataTransfer(status="Accepted")

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics(self, **payload: Any) -> call_result.DiagnosticsStatusNotification:
        await self._record("DiagnosticsStatusNotification", payload)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware(self, **payload: Any) -> call_result.FirmwareStatusNotification:
        await self._record("FirmwareStatusNotification", payload)
        return call_result.FirmwareStatusNotification()

    # The security extension's calls of a charger

    @on(Action.security_event_notification)
    async def on_security_event(self, **payload: Any) -> call_result.SecurityEventNotification:
        await self._record("SecurityEventNotification", payload)
        return call_result.SecurityEventNotification()

    @on(Action.log_status_notification)
    async def on_log_status(self, **payload: Any) -> call_result.LogStatusNotification:
        await self._record("LogStatusNotification", payload)
        return call_result.LogStatusNotification()

    @on(Action.signed_firmware_status_notification)
    async def on_signed_firmware(
        self, **payload: Any
    ) -> call_result.SignedFirmwareStatusNotification:
        await self._record("SignedFirmwareStatusNotification", payload)
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.sign_certificate)
    async def on_sign_certificate(self, **payload: Any) -> call_result.SignCertificate:
        await self._record("SignCertificate", payload)
        return call_result.SignCertificate(status="Accepted")

    @after(Action.sign_certificate)
    async def after_sign_certificate(self, csr: str) -> None:
        """With a `signer`, the chain goes back at once, as ocppd's CA does on auto-sign."""
        if self.central.signer is not None:
            chain = self.central.signer(csr)
            answer = await self.call(call.CertificateSigned(certificate_chain=chain))
            await self._record("CertificateSigned answer", {"status": answer.status})


def _tag_info(id_tag: str) -> IdTagInfo:
    """Accepted, except BLOCKED; the tags GROUP-* share the parentIdTag GROUP; NO-UTC expires
    at a date without a UTC time."""
    blocked = id_tag == BLOCKED_TAG
    return IdTagInfo(
        status=AuthorizationStatus.blocked if blocked else AuthorizationStatus.accepted,
        parent_id_tag="GROUP" if id_tag.startswith("GROUP-") else None,
        expiry_date="9999-12-31T23:59:59-23:59" if id_tag == NO_UTC_TAG else None,
    )


class CentralSystem:
    """Serves on 127.0.0.1 on a free port; `url` is the endpoint stations connect to."""

    def __init__(
        self,
        *,
        interval: int = 60,
        boot_statuses: list[str] | None = None,
        password: str | None = None,
        subprotocols: list[str] | None = None,
        tls: ssl.SSLContext | None = None,
        signer: Callable[[str], str] | None = None,
    ) -> None:
        self.tls = tls
        self.signer = signer
        """Turns a SignCertificate's CSR into the chain sent back in CertificateSigned."""
        self.client_subjects: list[str | None] = []
        """The CN of each connection's client certificate (None: none presented)."""
        self.authorizations: list[str | None] = []
        """Each connection's Authorization header."""
        self.interval = interval
        self.boot_statuses = list(boot_statuses or [])
        """Answers to the next BootNotifications, then Accepted."""
        self.password = password
        self.subprotocols = ["ocpp1.6"] if subprotocols is None else subprotocols
        self.stations: dict[str, RecordingChargePoint] = {}
        """The latest connection of each identity."""
        self.logs: dict[str, CallLog] = {}
        self.transaction_ids = itertools.count(100)
        self.failing_stops = 0
        """How many StopTransactions to answer with a CALLERROR before accepting."""
        self.connections = 0
        self.paths: list[str] = []
        self._joined = asyncio.Condition()
        self._server: Server | None = None
        self.url = ""

    async def __aenter__(self) -> "CentralSystem":
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            0,
            subprotocols=self.subprotocols or None,
            process_request=self._check_auth,
            ssl=self.tls,
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"{'wss' if self.tls else 'ws'}://127.0.0.1:{port}/ocpp"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _check_auth(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.password is None or connection.transport.get_extra_info("peercert"):
            return None  # none asked, or profile 3: the client certificate is the credential
        identity = unquote(request.path.rsplit("/", 1)[-1])
        expected = base64.b64encode(f"{identity}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers = Headers({**response.headers, "WWW-Authenticate": "Basic"})
            return response
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        path = connection.request.path if connection.request else ""
        identity = unquote(path.rsplit("/", 1)[-1])
        station = RecordingChargePoint(identity, connection, self)
        peer = connection.transport.get_extra_info("peercert")
        subject = dict(item[0] for item in peer["subject"]) if peer else None
        headers = connection.request.headers if connection.request else Headers()
        async with self._joined:
            self.client_subjects.append(subject.get("commonName") if subject else None)
            self.authorizations.append(headers.get("Authorization"))
            self.paths.append(path)
            self.stations[identity] = station
            self.connections += 1
            self._joined.notify_all()
        with contextlib.suppress(ConnectionClosed):
            await station.start()

    async def station(self, identity: str, timeout: float = 5) -> RecordingChargePoint:
        """The station `identity` once it has connected."""
        async with asyncio.timeout(timeout), self._joined:
            await self._joined.wait_for(lambda: identity in self.stations)
        return self.stations[identity]

    async def wait_connections(self, count: int, timeout: float = 5) -> None:
        async with asyncio.timeout(timeout), self._joined:
            await self._joined.wait_for(lambda: self.connections >= count)


FAST = 1000.0
"""Simulated seconds per real second: a 10 s interval lasts 10 ms."""


@asynccontextmanager
async def running(
    identity: str = "CP1", *, central: dict[str, Any] | None = None, **station: Any
) -> AsyncIterator[tuple[CentralSystem, Station]]:
    """A central system, and a station on it (not started) with a fast clock."""
    station.setdefault("clock", Clock(speed=FAST))
    async with CentralSystem(**(central or {})) as cs, Station(cs.url, identity, **station) as cp:
        yield cs, cp
