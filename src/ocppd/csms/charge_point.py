"""How the central system answers one connected charge point: a handler per action.

Every handler stores what it acknowledges through the group commit and answers only once it
is committed. Before an accepted (or pending) BootNotification, a charge point gets
SecurityError for anything but BootNotification (errata); pending ones may send what the
central system triggers.
"""

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms import jobs, reconciliation, reservations, security_events
from ocppd.csms import transactions as tx
from ocppd.csms.bulk_writes import Upsert
from ocppd.csms.certificate_requests import CertificateRequests
from ocppd.csms.clock import as_utc
from ocppd.csms.id_tags import Authorizations, Lookup
from ocppd.csms.meter_values import measured_draw, meter_value_rows
from ocppd.csms.models import (
    MAX_CONNECTOR_ID,
    MAX_STORED_INTEGER,
    charge_points,
    connectors,
    status_history,
)
from ocppd.csms.registration import ChargePointRecord
from ocppd.csms.stored_text import fitted
from ocppd.csms.system_services import SystemServices
from ocppd.protocol import messages as m
from ocppd.protocol import security as s
from ocppd.protocol.enums import (
    DataTransferStatus,
    RegistrationStatus,
)
from ocppd.protocol.errors import PropertyConstraintViolation, SecurityError
from ocppd.rpc.session import BoundHandlers

BOOT_RETRY_INTERVAL = 60
"""Seconds a Pending or Rejected charge point waits before its next BootNotification."""

# The handler method of each action a charge point sends: one table for the class, bound per
# connection (decision 0002: building closures per connection cost the connect path).
HANDLERS = {
    "Authorize": "authorize",
    "BootNotification": "boot_notification",
    "DataTransfer": "data_transfer",
    "DiagnosticsStatusNotification": "diagnostics_status",
    "FirmwareStatusNotification": "firmware_status",
    "Heartbeat": "heartbeat",
    "MeterValues": "meter_values",
    "SecurityEventNotification": "security_event",
    "LogStatusNotification": "log_status",
    "SignedFirmwareStatusNotification": "signed_firmware_status",
    "StartTransaction": "start_transaction",
    "StatusNotification": "status_notification",
    "StopTransaction": "stop_transaction",
    "SignCertificate": "sign_certificate",
}
# Handlers that store, answer and wait for nothing from the charge point: answered as each
# frame is read, with no task of their own (`Session`). A DataTransfer goes to the
# operator's vendor handler, which may do anything, a call to this charge point included.
ANSWERED_IN_READER = frozenset(HANDLERS) - {"DataTransfer"}

DataTransferHandler = Callable[[str, m.DataTransferRequest], Awaitable[m.DataTransferResponse]]


class HandlerServices(SystemServices, Protocol):
    """Besides the shared services: the merged kinds a handler's writes go through, and the
    vendors' DataTransfer handlers."""

    @property
    def authorizations(self) -> Authorizations: ...
    @property
    def transactions(self) -> tx.Transactions: ...
    @property
    def data_transfer(self) -> dict[str, DataTransferHandler]: ...
    @property
    def certificate_requests(self) -> CertificateRequests: ...


Request = TypeVar("Request")
Response = TypeVar("Response")


def after_boot(
    handler: Callable[["ChargePointHandler", Request], Awaitable[Response]],
) -> Callable[["ChargePointHandler", Request], Awaitable[Response]]:
    """SecurityError for a charge point whose boot was not (yet) accepted or pending."""

    @functools.wraps(handler)
    async def gated(self: "ChargePointHandler", request: Request) -> Response:
        if self.registration not in (RegistrationStatus.ACCEPTED, RegistrationStatus.PENDING):
            action = type(request).__name__.removesuffix("Request")
            raise SecurityError(
                f"{action} before an accepted BootNotification"
                if self.registration is None
                else f"{action} from a charge point whose boot was rejected"
            )
        return await handler(self, request)

    return gated


class ChargePointHandler:
    def __init__(self, system: HandlerServices, record: ChargePointRecord) -> None:
        self.system = system
        self.id = record.id
        self.record = record
        # A plain reconnect needs no new BootNotification: what was answered last time holds.
        self.registration: RegistrationStatus | None = (
            record.registration_status if record.booted_at is not None else None
        )
        self.after_boot = reconciliation.AfterBoot()

    def handlers(self) -> BoundHandlers:
        return BoundHandlers(self, HANDLERS)

    def _now(self) -> datetime:
        return self.system.clock()

    async def _commit(
        self,
        rows: list[tuple[sa.Table, dict[str, Any]]],
        action: Callable[[AsyncConnection], Awaitable[Any]] | None = None,
    ) -> Any:
        return await self.system.writer.commit(rows, action)

    # Boot and liveness

    async def boot_notification(
        self, request: m.BootNotificationRequest
    ) -> m.BootNotificationResponse:
        now = self._now()
        details = {
            "vendor": request.charge_point_vendor,
            "model": request.charge_point_model,
            "booted_at": now,
            "last_heartbeat_at": now,
        }
        for name in (
            "charge_point_serial_number",
            "charge_box_serial_number",
            "firmware_version",
            "iccid",
            "imsi",
            "meter_type",
            "meter_serial_number",
        ):
            value = getattr(request, name)
            details[name] = None if value is UNSET else value

        async def store(connection: AsyncConnection) -> tuple[Any, list[Any]]:
            # The status as the operator set it now: a Pending charge point boots again on the
            # same connection until it is accepted.
            updated = await connection.execute(
                charge_points.update()
                .where(charge_points.c.id == self.id)
                .values(fitted(charge_points, details))
                .returning(charge_points.c.registration_status, reconciliation.ANY_OPEN),
                {"open_of": self.id},
            )
            row = updated.first()
            if row is None:
                return None, []
            status, any_open = row
            return status, await self.after_boot.read(connection, self.id) if any_open else []

        stored, open_transactions = await self._commit([], store)
        self.after_boot.booted(now, open_transactions)
        status = self.record.registration_status if stored is None else RegistrationStatus(stored)
        self.record.registration_status = status
        self.registration = status
        self.system.events.publish("BootNotification", self.id, now, status=str(status))
        self.record.booted_at = now
        interval = (
            self.system.settings.heartbeat_interval
            if status is RegistrationStatus.ACCEPTED
            else BOOT_RETRY_INTERVAL
        )
        return m.BootNotificationResponse(status=status, current_time=now, interval=interval)

    @after_boot
    async def heartbeat(self, _: m.HeartbeatRequest) -> m.HeartbeatResponse:
        now = self._now()
        liveness = Upsert(charge_points, ("id",), {"id": self.id, "last_heartbeat_at": now})
        await self.system.writer.commit([], upserts=[liveness])
        return m.HeartbeatResponse(current_time=now)

    @after_boot
    async def status_notification(
        self, request: m.StatusNotificationRequest
    ) -> m.StatusNotificationResponse:
        check_connector(request.connector_id)
        now = self._now()
        at = now if request.timestamp is UNSET else as_utc(request.timestamp)
        values = {
            "charge_point_id": self.id,
            "connector_id": request.connector_id,
            "status": str(request.status),
            "error_code": str(request.error_code),
            "info": _optional(request.info),
            "vendor_id": _optional(request.vendor_id),
            "vendor_error_code": _optional(request.vendor_error_code),
        }

        current = Upsert(
            connectors, ("charge_point_id", "connector_id"), {**values, "status_at": at}
        )
        history = {**values, "timestamp": at, "received_at": now}
        action: Callable[[AsyncConnection], Awaitable[Any]] | None
        action = end = reservations.ender(self.id, request.connector_id, values["status"], at)
        forgotten = (
            self.after_boot.on_status(request.connector_id, values["status"])
            if self.after_boot.watched
            else []
        )
        if forgotten:
            action = self._reconciler(request.connector_id, forgotten, at, now, end)
        closed = await self.system.writer.commit(
            [(status_history, history)], action, upserts=[current]
        )
        self.system.events.publish(
            "StatusNotification",
            self.id,
            now,
            connectorId=request.connector_id,
            status=values["status"],
            errorCode=values["error_code"],
            timestamp=at,
        )
        if forgotten:
            self._published_reconciled(closed, now)
        return m.StatusNotificationResponse()

    def _reconciler(
        self,
        connector_id: int,
        forgotten: list[reconciliation.Forgotten],
        at: datetime,
        now: datetime,
        end: Callable[[AsyncConnection], Awaitable[None]] | None,
    ) -> Callable[[AsyncConnection], Awaitable[list[reconciliation.Reconciled]]]:
        """The write of a status that shows `forgotten` transactions over (after `end`, what
        else the status ends)."""
        assert self.after_boot.booted_at is not None
        evidence = reconciliation.by_status(connector_id, at, self.after_boot.booted_at, now)

        async def close(connection: AsyncConnection) -> list[reconciliation.Reconciled]:
            if end is not None:
                await end(connection)
            return await reconciliation.close_forgotten(
                connection, forgotten, connector_id, at, evidence
            )

        return close

    def _published_reconciled(self, closed: list[reconciliation.Reconciled], now: datetime) -> None:
        for reconciled in closed:
            self.system.events.publish(
                "TransactionReconciled", self.id, now, **reconciled.event_data()
            )

    # Authorization and transactions

    @after_boot
    async def authorize(self, request: m.AuthorizeRequest) -> m.AuthorizeResponse:
        lookup = Lookup(request.id_tag, self._now())
        info = await self.system.writer.merge(self.system.authorizations, lookup)
        return m.AuthorizeResponse(id_tag_info=info)

    @after_boot
    async def start_transaction(
        self, request: m.StartTransactionRequest
    ) -> m.StartTransactionResponse:
        check_connector(request.connector_id)
        now = self._now()
        start = tx.Start(self.id, request, now)
        transaction_id, info = await self.system.writer.merge(self.system.transactions, start)
        self._published_reconciled(start.reconciled, now)
        self.system.events.publish(
            "TransactionStarted",
            self.id,
            now,
            transactionId=transaction_id,
            connectorId=request.connector_id,
            idTag=request.id_tag,
            status=str(info.status),
        )
        return m.StartTransactionResponse(id_tag_info=info, transaction_id=transaction_id)

    @after_boot
    async def stop_transaction(
        self, request: m.StopTransactionRequest
    ) -> m.StopTransactionResponse:
        now = self._now()
        stop = tx.Stop(self.id, request, now)
        info = await self.system.writer.merge(self.system.transactions, stop)
        self.system.events.publish(
            "TransactionStopped",
            self.id,
            now,
            transactionId=request.transaction_id,
            reason="Local" if request.reason is UNSET else str(request.reason),
        )
        if info is None:
            return m.StopTransactionResponse()
        return m.StopTransactionResponse(id_tag_info=info)

    @after_boot
    async def meter_values(self, request: m.MeterValuesRequest) -> m.MeterValuesResponse:
        check_connector(request.connector_id)
        transaction_id = (
            request.transaction_id
            if request.transaction_id is not UNSET
            and abs(request.transaction_id) <= MAX_STORED_INTEGER
            else None
        )
        rows = meter_value_rows(self.id, request.connector_id, transaction_id, request.meter_value)
        await self._commit(rows)
        if self.system.events.active:
            self.system.events.publish(
                "MeterValues",
                self.id,
                self._now(),
                connectorId=request.connector_id,
                transactionId=transaction_id,
                sampledValues=len(rows),
                **measured_draw(request.meter_value),
            )
        return m.MeterValuesResponse()

    # Vendor extensions and job notifications

    @after_boot
    async def data_transfer(self, request: m.DataTransferRequest) -> m.DataTransferResponse:
        vendor = self.system.data_transfer.get(request.vendor_id)
        if vendor is None:
            return m.DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)
        return await vendor(self.id, request)

    @after_boot
    async def diagnostics_status(
        self, request: m.DiagnosticsStatusNotificationRequest
    ) -> m.DiagnosticsStatusNotificationResponse:
        await self._job(jobs.DIAGNOSTICS, str(request.status))
        return m.DiagnosticsStatusNotificationResponse()

    @after_boot
    async def firmware_status(
        self, request: m.FirmwareStatusNotificationRequest
    ) -> m.FirmwareStatusNotificationResponse:
        await self._job(jobs.FIRMWARE, str(request.status))
        return m.FirmwareStatusNotificationResponse()

    # The security extension (enabled on every connection)

    @after_boot
    async def security_event(
        self, request: s.SecurityEventNotificationRequest
    ) -> s.SecurityEventNotificationResponse:
        event = security_events.SecurityEvent(
            self.id,
            request.type,
            _optional(request.tech_info),
            request.timestamp,
            security_events.Source.CHARGER,
        )
        await security_events.record(self.system, event)
        return s.SecurityEventNotificationResponse()

    @after_boot
    async def log_status(
        self, request: s.LogStatusNotificationRequest
    ) -> s.LogStatusNotificationResponse:
        await self._job(jobs.LOG, str(request.status), _optional(request.request_id))
        return s.LogStatusNotificationResponse()

    @after_boot
    async def signed_firmware_status(
        self, request: s.SignedFirmwareStatusNotificationRequest
    ) -> s.SignedFirmwareStatusNotificationResponse:
        await self._job(jobs.FIRMWARE, str(request.status), _optional(request.request_id))
        return s.SignedFirmwareStatusNotificationResponse()

    @after_boot
    async def sign_certificate(
        self, request: s.SignCertificateRequest
    ) -> s.SignCertificateResponse:
        return await self.system.certificate_requests.received(self.id, request)

    async def _job(self, kind: str, status: str, request_id: int | None = None) -> None:
        now = self._now()

        async def store(connection: AsyncConnection) -> int | None:
            return await jobs.record_status(connection, self.id, kind, status, now, request_id)

        job_id = await self._commit([], store)
        data: dict[str, Any] = {"kind": kind, "jobId": job_id, "status": status}
        if request_id is not None:
            data["requestId"] = request_id
        self.system.events.publish("JobStatus", self.id, now, **data)


def check_connector(connector_id: int) -> None:
    if not 0 <= connector_id <= MAX_CONNECTOR_ID:
        raise PropertyConstraintViolation(
            f"connectorId {connector_id} is not a connector", {"connectorId": connector_id}
        )


def _optional(value: Any) -> Any:
    return None if value is UNSET else value
