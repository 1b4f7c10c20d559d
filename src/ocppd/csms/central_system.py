"""The central system: admits charge points, runs a session per connection, stores all.

It knows nothing of WebSockets: the transport asks `admit` before upgrading, then hands each
accepted connection to `open_session` and its frames to the session.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms import (
    authorization_key,
    charging_profiles,
    composite_checks,
    jobs,
    registration,
    reservations,
)
from ocppd.csms.authorization_key import NAMING_AUTHORIZATION_KEY
from ocppd.csms.charge_point import ANSWERED_IN_READER, ChargePointHandler, DataTransferHandler
from ocppd.csms.clock import Clock, utc_now
from ocppd.csms.commit_deadline import DatabaseUnavailable
from ocppd.csms.database import create_engine, upgrade
from ocppd.csms.events import EventBus
from ocppd.csms.files import FileStore
from ocppd.csms.group_commit import GroupCommit
from ocppd.csms.housekeeping import repeat
from ocppd.csms.id_tags import Authorizations
from ocppd.csms.local_list_limits import LocalListLimits
from ocppd.csms.message_log import MessageLog
from ocppd.csms.readiness import Readiness
from ocppd.csms.settings import Settings
from ocppd.csms.site_controller import SiteController
from ocppd.csms.stored_text import NUL
from ocppd.csms.system_services import Check, Recorder
from ocppd.csms.transactions import Transactions
from ocppd.protocol.actions import Registry, Role
from ocppd.protocol.fields import Payload
from ocppd.protocol.leniency import Leniency
from ocppd.rpc.connection import Options
from ocppd.rpc.session import Send, Session
from ocppd.transport.server import Close, Refusal

log = logging.getLogger("ocppd.csms")

MAX_IDENTITY_LENGTH = 255


@dataclass(slots=True)
class Connection:
    identity: str
    session: Session
    handler: ChargePointHandler
    close: Close
    connected_at: datetime
    leniency: Leniency = field(default_factory=Leniency)

    async def receive(self, data: str) -> None:
        await self.session.receive(data)


class NotConnected(LookupError):
    """No charge point with that identity is connected."""


class CentralSystem:
    def __init__(
        self, settings: Settings, clock: Clock = utc_now, engine: AsyncEngine | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock
        timeout = settings.database_timeout
        if engine is None:
            engine = create_engine(settings.database_url(), timeout=timeout)
        self.engine = engine
        self.writer = GroupCommit(self.engine, timeout=timeout)
        self.readiness = Readiness(self.engine)
        self.admissions = registration.Admissions(settings)
        self.authorizations = Authorizations()
        self.transactions = Transactions(settings)
        self.registry = Registry(settings.extensions)
        self.data_transfer: dict[str, DataTransferHandler] = {}
        self.connections: dict[str, Connection] = {}
        self.message_log = MessageLog(
            self.writer, clock, settings.message_log_budget, connected=self.connections
        )
        self.events = EventBus()
        self.checks: dict[str, list[Check]] = {}
        self.recorders: dict[str, list[Recorder]] = {}
        self.charging_profiles = charging_profiles.ChargingProfiles(self)
        self.composite_checks = composite_checks.CompositeChecks(self, self.charging_profiles)
        self.local_list_limits = LocalListLimits(self)
        self.checks.setdefault("ReserveNow", []).append(reservations.check_storable)
        self.sites = SiteController(self)
        self._background: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await upgrade(self.engine)
        self.writer.start()
        retention = timedelta(days=self.settings.message_retention_days)
        self._background.append(asyncio.create_task(self.message_log.keep_pruning(retention)))
        self._background.append(asyncio.create_task(self._keep_deleting_old_files()))
        await self.sites.start()

    async def delete_old_files(self) -> int:
        """Diagnostics files older than their retention, deleted; how many."""
        retention = timedelta(days=self.settings.diagnostics_retention_days)
        store = FileStore(self.settings.data_dir)
        return await jobs.delete_old_files(self.engine, store, self.clock(), retention)

    async def _keep_deleting_old_files(self) -> None:
        await repeat(
            "deleting old diagnostics files",
            self.delete_old_files,
            "diagnostics: %d files past their retention deleted",
        )

    async def stop(self) -> None:
        """Close every connection (1001, going away), then flush what is queued."""
        await self.sites.stop()
        await asyncio.gather(
            *(
                c.close(1001, "central system shutting down")
                for c in list(self.connections.values())
            ),
            return_exceptions=True,
        )
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.writer.stop()
        await self.engine.dispose()
        self.events.close()

    # Admission, before the WebSocket upgrade

    async def admit(
        self, identity: str, password: str | None
    ) -> registration.ChargePointRecord | Refusal:
        if not identity:
            return Refusal(404, "no charge point identity in the path")
        if len(identity) > MAX_IDENTITY_LENGTH:
            return Refusal(404, f"identity longer than {MAX_IDENTITY_LENGTH} characters")
        if "/" in identity:
            # Percent-encoded in the OCPP URL; no API path could name it (`%2F` is decoded
            # before routing), so it is refused rather than registered unreachable.
            return Refusal(404, "an identity containing '/' is not accepted")
        if NUL in identity:
            # Percent-encoded as %00. PostgreSQL would store it as another identity (U+FFFD for
            # the NUL, `stored_text`), so it is refused on every database.
            return Refusal(404, "an identity containing NUL is not accepted")
        record: registration.ChargePointRecord | None
        try:
            record = await self.writer.merge(self.admissions, identity)
        except DatabaseUnavailable:
            # The charger tries again later, as after any failed connection attempt.
            return Refusal(503, "the database is unavailable")
        if record is None:
            return Refusal(404, f"unknown charge point {identity!r}")
        if self.settings.basic_auth or record.auth_key_hash:
            if password is None:
                return Refusal(401, "HTTP Basic authentication required")
            if record.auth_key_hash is None or not registration.key_matches(
                password, record.auth_key_hash
            ):
                return Refusal(401, "wrong AuthorizationKey")
        return record

    # Connections

    async def open_session(
        self, record: registration.ChargePointRecord, send: Send, close: Close
    ) -> Connection:
        """The session for a newly accepted connection; an older one of the same identity is
        closed (its close cannot tear down the new one: see `closed`)."""
        previous = self.connections.get(record.id)
        handler = ChargePointHandler(self, record)
        leniency = Leniency(record.leniency_rules)
        session = Session(
            Role.CENTRAL_SYSTEM,
            send,
            handlers=handler.handlers(),
            registry=self.registry,
            options=Options(leniency=leniency),
            response_timeout=self.settings.response_timeout,
            name=record.id,
            observer=self.message_log.observer(record.id),
            answered_in_reader=ANSWERED_IN_READER,
        )
        connection = Connection(record.id, session, handler, close, self.clock(), leniency)
        self.connections[record.id] = connection
        self.events.publish("Connected", record.id, connection.connected_at)
        if previous is not None:
            log.info("%s: a new connection replaces the old one", record.id)
            await previous.session.close()
            await previous.close(1000, "replaced by a new connection")
        return connection

    async def open(
        self, admitted: registration.ChargePointRecord, send: Send, close: Close
    ) -> Connection:
        return await self.open_session(admitted, send, close)

    async def closed(self, connection: Connection, code: int) -> None:
        """The socket is gone. Only the current connection of an identity is forgotten, so a
        replaced connection closing late cannot tear down its successor."""
        log.info("%s: disconnected (%d)", connection.identity, code)
        if self.connections.get(connection.identity) is connection:
            del self.connections[connection.identity]
            self.events.publish("Disconnected", connection.identity, self.clock(), code=code)
        await connection.session.close()

    async def call(
        self, identity: str, request: Payload, timeout: float | None = None, force: bool = False
    ) -> Any:
        """Send a request to a connected charge point and return its response, once its boot
        status allows it (`registration.refusal`: raises CommandRefused; `force` sends to a
        Rejected one), the action's checks passed and its recorders stored the answer."""
        connection = self.connections.get(identity)
        if connection is None:
            raise NotConnected(identity)
        action = type(request).__name__.removesuffix("Request")
        refused = registration.refusal(identity, connection.handler.registration, action, force)
        if refused is not None:
            raise refused
        for check in self.checks.get(action, ()):
            await check(identity, request)
        sent_at = self.clock()
        try:
            response = await connection.session.call(request, timeout)
        except Exception as error:
            self.events.publish(
                "CommandFailed", identity, self.clock(), action=action, error=str(error)
            )
            raise
        if self.events.active:
            shown = msgspec.to_builtins(response)
            if action in NAMING_AUTHORIZATION_KEY:
                authorization_key.hide(shown)
            self.events.publish(
                "CommandResult", identity, self.clock(), action=action, response=shown
            )
        for record in self.recorders.get(action, ()):
            await record(identity, request, response, sent_at)
        return response
