"""The answers of a station to every command of the central system (section 3, CS -> CP).

Each handler decides and changes the station's state at once, answers, and leaves what
follows (StatusNotifications, a triggered message, a StopTransaction) to run after the
answer: `station.spawn` starts it in a task of its own, which first runs once the handler
has returned and the session has written the answer.
"""

import contextlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from msgspec import UNSET

from ocppd.chargepoint import files
from ocppd.chargepoint.connectors import Connector, Reservation
from ocppd.protocol import messages as m
from ocppd.protocol.enums import (
    AvailabilityStatus,
    AvailabilityType,
    CancelReservationStatus,
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearCacheStatus,
    DataTransferStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    GetCompositeScheduleStatus,
    MessageTrigger,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ReservationStatus,
    ResetStatus,
    TriggerMessageStatus,
    UnlockStatus,
)
from ocppd.protocol.errors import (
    OccurenceConstraintViolation,
    OCPPError,
    PropertyConstraintViolation,
)
from ocppd.rpc.session import CallTimeout, Handler, SessionClosed

if TYPE_CHECKING:
    from ocppd.chargepoint.station import Station

log = logging.getLogger("ocppd.chargepoint")

ECHO_MESSAGE = "Echo"
"""The one DataTransfer message the simulator knows, for its own vendorId: echoes `data`."""
FILE_TRANSFER_SECONDS = 10


class Commands:
    def __init__(self, station: "Station") -> None:
        self.station = station

    def handlers(self, extra: dict[str, Handler] | None = None) -> dict[str, Handler]:
        """A handler per action (and those of `extra`: the security extension's),
        counting what the central system sends."""
        table: dict[str, Handler] = {
            "CancelReservation": self.cancel_reservation,
            "ChangeAvailability": self.change_availability,
            "ChangeConfiguration": self.change_configuration,
            "ClearCache": self.clear_cache,
            "ClearChargingProfile": self.clear_charging_profile,
            "DataTransfer": self.data_transfer,
            "GetCompositeSchedule": self.get_composite_schedule,
            "GetConfiguration": self.get_configuration,
            "GetDiagnostics": self.get_diagnostics,
            "GetLocalListVersion": self.get_local_list_version,
            "RemoteStartTransaction": self.remote_start_transaction,
            "RemoteStopTransaction": self.remote_stop_transaction,
            "ReserveNow": self.reserve_now,
            "Reset": self.reset,
            "SendLocalList": self.send_local_list,
            "SetChargingProfile": self.set_charging_profile,
            "TriggerMessage": self.trigger_message,
            "UnlockConnector": self.unlock_connector,
            "UpdateFirmware": self.update_firmware,
            **(extra or {}),
        }
        return {action: self._counted(action, handler) for action, handler in table.items()}

    def _counted(self, action: str, handler: Handler) -> Handler:
        """`handler`, counting the calls and the failures (answered with a CALLERROR)."""
        stats = self.station.stats

        def handle(request: Any) -> Any:
            stats.received[action] += 1
            try:
                response = handler(request)
            except Exception as exc:
                stats.failed[_failure(action, exc)] += 1
                raise
            return _awaited(action, response) if inspect.isawaitable(response) else response

        async def _awaited(action: str, response: Awaitable[Any]) -> Any:
            try:
                return await response
            except Exception as exc:
                stats.failed[_failure(action, exc)] += 1
                raise

        return handle

    def _connector(self, connector_id: int) -> Connector | None:
        return self.station.connectors.get(connector_id)

    def _report_later(self) -> None:
        self.station.spawn(self.station.report())

    # Transactions

    def remote_start_transaction(
        self, request: m.RemoteStartTransactionRequest
    ) -> m.RemoteStartTransactionResponse:
        station = self.station
        if request.connector_id is UNSET:
            # No connector named: the first one free for the tag (a charger may also refuse).
            free = [c for c in station.connectors.values() if self._startable(c, request.id_tag)]
            connector = free[0] if free else None
        else:
            connector = self._connector(request.connector_id)
        profile = None if request.charging_profile is UNSET else request.charging_profile
        refused = (
            connector is None
            or not self._startable(connector, request.id_tag)
            or (
                profile is not None
                and profile.charging_profile_purpose != ChargingProfilePurposeType.TX_PROFILE
            )
        )
        if refused or connector is None:
            return m.RemoteStartTransactionResponse(status=RemoteStartStopStatus.REJECTED)
        station.remote_start(connector, request.id_tag, profile)
        return m.RemoteStartTransactionResponse(status=RemoteStartStopStatus.ACCEPTED)

    def _startable(self, connector: Connector, id_tag: str) -> bool:
        return (
            connector.available_for
            and connector.waiting_tag is None
            and (connector.reservation is None or connector.reservation.admits(id_tag))
        )

    def remote_stop_transaction(
        self, request: m.RemoteStopTransactionRequest
    ) -> m.RemoteStopTransactionResponse:
        connector = self.station.transaction(request.transaction_id)
        if connector is None:
            return m.RemoteStopTransactionResponse(status=RemoteStartStopStatus.REJECTED)
        self.station.end_transaction(connector, Reason.REMOTE)
        self._report_later()
        return m.RemoteStopTransactionResponse(status=RemoteStartStopStatus.ACCEPTED)

    def unlock_connector(self, request: m.UnlockConnectorRequest) -> m.UnlockConnectorResponse:
        connector = self._connector(request.connector_id)
        if connector is None:
            return m.UnlockConnectorResponse(status=UnlockStatus.NOT_SUPPORTED)
        if connector.transaction is not None:
            self.station.end_transaction(connector, Reason.UNLOCK_COMMAND)
            self._report_later()
        return m.UnlockConnectorResponse(status=UnlockStatus.UNLOCKED)

    # Availability and reset

    def change_availability(
        self, request: m.ChangeAvailabilityRequest
    ) -> m.ChangeAvailabilityResponse:
        station = self.station
        operative = request.type == AvailabilityType.OPERATIVE
        if request.connector_id == 0:
            targets = list(station.connectors.values())
            station.station.operative = operative
            station.changed(station.station)
        else:
            connector = self._connector(request.connector_id)
            if connector is None:
                return m.ChangeAvailabilityResponse(status=AvailabilityStatus.REJECTED)
            targets = [connector]
        scheduled = False
        for connector in targets:
            # Inoperative waits for a running transaction to end (derive() applies it then).
            scheduled |= not operative and connector.transaction is not None
            connector.operative = operative
            connector.finishing = connector.finishing and operative
            station.changed(connector)
        self._report_later()
        station.dirty()  # Unavailable persists across reboots
        status = AvailabilityStatus.SCHEDULED if scheduled else AvailabilityStatus.ACCEPTED
        return m.ChangeAvailabilityResponse(status=status)

    def reset(self, request: m.ResetRequest) -> m.ResetResponse:
        self.station.reset(request.type)
        return m.ResetResponse(status=ResetStatus.ACCEPTED)

    # Configuration

    def change_configuration(
        self, request: m.ChangeConfigurationRequest
    ) -> m.ChangeConfigurationResponse:
        station = self.station
        status = station.security.change_configuration(request.key, request.value)
        if status is None:
            status = station.configuration.change(request.key, request.value)
        station.dirty()
        return m.ChangeConfigurationResponse(status=status)

    def get_configuration(self, request: m.GetConfigurationRequest) -> m.GetConfigurationResponse:
        keys = [] if request.key is UNSET else request.key
        most = self.station.configuration.get_int("GetConfigurationMaxKeys")
        if len(keys) > most:
            raise OccurenceConstraintViolation(f"At most {most} keys per GetConfiguration")
        known, unknown = self.station.configuration.get(keys)
        return m.GetConfigurationResponse(
            configuration_key=known, unknown_key=unknown if unknown else UNSET
        )

    # Authorization

    def clear_cache(self, _: m.ClearCacheRequest) -> m.ClearCacheResponse:
        self.station.authorizations.clear_cache()
        self.station.dirty()
        return m.ClearCacheResponse(status=ClearCacheStatus.ACCEPTED)

    def get_local_list_version(
        self, _: m.GetLocalListVersionRequest
    ) -> m.GetLocalListVersionResponse:
        version = self.station.authorizations.local_list.version
        return m.GetLocalListVersionResponse(list_version=version)

    def send_local_list(self, request: m.SendLocalListRequest) -> m.SendLocalListResponse:
        station = self.station
        status = station.authorizations.local_list.update(request, station.configuration)
        station.dirty()
        return m.SendLocalListResponse(status=status)

    # Reservations

    def reserve_now(self, request: m.ReserveNowRequest) -> m.ReserveNowResponse:
        station = self.station
        if request.connector_id == 0:
            supported = station.configuration.get_bool("ReserveConnectorZeroSupported")
            free = any(c.available_for for c in station.connectors.values())
            if not supported:
                return m.ReserveNowResponse(status=ReservationStatus.REJECTED)
            if not free:
                return m.ReserveNowResponse(status=ReservationStatus.OCCUPIED)
        else:
            connector = self._connector(request.connector_id)
            if connector is None:
                return m.ReserveNowResponse(status=ReservationStatus.REJECTED)
            status = self._reservable(connector, request.reservation_id)
            if status is not ReservationStatus.ACCEPTED:
                return m.ReserveNowResponse(status=status)
        parent = None if request.parent_id_tag is UNSET else request.parent_id_tag
        reservation = Reservation(
            request.reservation_id,
            request.connector_id,
            request.id_tag,
            request.expiry_date,
            parent,
        )
        station.reserve(reservation)
        self._report_later()
        return m.ReserveNowResponse(status=ReservationStatus.ACCEPTED)

    def _reservable(self, connector: Connector, reservation_id: int) -> ReservationStatus:
        if connector.fault is not None:
            return ReservationStatus.FAULTED
        if not connector.operative:
            return ReservationStatus.UNAVAILABLE
        held = connector.reservation
        busy = connector.transaction is not None or connector.plugged or connector.waiting_tag
        if busy or (held is not None and held.reservation_id != reservation_id):
            return ReservationStatus.OCCUPIED
        return ReservationStatus.ACCEPTED

    def cancel_reservation(
        self, request: m.CancelReservationRequest
    ) -> m.CancelReservationResponse:
        if not self.station.cancel_reservation(request.reservation_id):
            return m.CancelReservationResponse(status=CancelReservationStatus.REJECTED)
        self._report_later()
        return m.CancelReservationResponse(status=CancelReservationStatus.ACCEPTED)

    # Smart charging

    def set_charging_profile(
        self, request: m.SetChargingProfileRequest
    ) -> m.SetChargingProfileResponse:
        station = self.station
        connector_id = request.connector_id
        if connector_id != 0 and connector_id not in station.connectors:
            raise PropertyConstraintViolation(f"No connector {connector_id}")
        running = station.connectors[connector_id].transaction if connector_id else None
        tx_id = running.transaction_id if running is not None else None
        status = station.profiles.install(
            connector_id, request.cs_charging_profiles, station.clock.now(), tx_id
        )
        if status is ChargingProfileStatus.ACCEPTED:
            self._apply_limits()
            station.dirty()
        return m.SetChargingProfileResponse(status=status)

    def clear_charging_profile(
        self, request: m.ClearChargingProfileRequest
    ) -> m.ClearChargingProfileResponse:
        status = self.station.profiles.clear(request)
        self._apply_limits()
        self.station.dirty()
        return m.ClearChargingProfileResponse(status=status)

    def _apply_limits(self) -> None:
        """A new limit applies at once to the charging connectors."""
        for connector in self.station.connectors.values():
            if connector.transaction is not None:
                self.station.apply_power(connector)
                self.station.changed(connector)
        self._report_later()

    def get_composite_schedule(
        self, request: m.GetCompositeScheduleRequest
    ) -> m.GetCompositeScheduleResponse:
        station = self.station
        connector_id = request.connector_id
        now = station.clock.now()
        unknown = connector_id != 0 and connector_id not in station.connectors
        if unknown or not _window_fits(now, request.duration):
            # 1.6 §5.7: a schedule the charger cannot report is Rejected: on no connector,
            # or over a window of no length (duration 0 or below) or past year 9999.
            return m.GetCompositeScheduleResponse(status=GetCompositeScheduleStatus.REJECTED)
        unit = (
            ChargingRateUnitType.A
            if request.charging_rate_unit is UNSET
            else request.charging_rate_unit
        )
        running = station.connectors[connector_id].transaction if connector_id else None
        hardware = station.model.max_power_w * (1 if connector_id else len(station.connectors))
        return station.profiles.composite(
            connector_id,
            now,
            request.duration,
            unit,
            running.started_at if running is not None else None,
            hardware,
        )

    # Messages on demand

    def trigger_message(self, request: m.TriggerMessageRequest) -> m.TriggerMessageResponse:
        station = self.station
        connector_id = None if request.connector_id is UNSET else request.connector_id
        if connector_id not in (None, 0) and connector_id not in station.connectors:
            return m.TriggerMessageResponse(status=TriggerMessageStatus.REJECTED)
        send = {
            MessageTrigger.HEARTBEAT: lambda: station.call(m.HeartbeatRequest()),
            MessageTrigger.STATUS_NOTIFICATION: lambda: station.send_status(connector_id),
            MessageTrigger.METER_VALUES: lambda: station.send_meter_values(connector_id or None),
            MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION: lambda: station.call(
                m.DiagnosticsStatusNotificationRequest(status=station.diagnostics_status)
            ),
            MessageTrigger.FIRMWARE_STATUS_NOTIFICATION: lambda: station.call(
                m.FirmwareStatusNotificationRequest(status=station.firmware_status)
            ),
            MessageTrigger.BOOT_NOTIFICATION: station.send_boot,
        }[request.requested_message]
        if request.requested_message == MessageTrigger.BOOT_NOTIFICATION and (
            station.registration == RegistrationStatus.ACCEPTED
        ):
            # After an Accepted boot the CS shall not trigger one; a charger may refuse.
            return m.TriggerMessageResponse(status=TriggerMessageStatus.REJECTED)
        station.spawn(_quietly(send()))
        return m.TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED)

    def data_transfer(self, request: m.DataTransferRequest) -> m.DataTransferResponse:
        if request.vendor_id != self.station.model.vendor:
            return m.DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)
        if request.message_id != ECHO_MESSAGE:
            return m.DataTransferResponse(status=DataTransferStatus.UNKNOWN_MESSAGE_ID)
        return m.DataTransferResponse(status=DataTransferStatus.ACCEPTED, data=request.data)

    # Files

    def get_diagnostics(self, request: m.GetDiagnosticsRequest) -> m.GetDiagnosticsResponse:
        files.check_location(request.location, self.station.file_transfer)  # else NotSupported
        station = self.station
        stamp = station.clock.now().strftime("%Y%m%dT%H%M%SZ")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in station.identity)
        file_name = f"diagnostics-{safe}-{stamp}.log"[:255]
        station.spawn(self._upload(request, file_name))
        return m.GetDiagnosticsResponse(file_name=file_name)

    async def _upload(self, request: m.GetDiagnosticsRequest, file_name: str) -> None:
        """Uploading, the file sent to the location (retried `retries` times), then
        Uploaded or UploadFailed."""
        station = self.station
        await self._diagnostics_status(DiagnosticsStatus.UPLOADING)
        data = diagnostics_file(station, request)

        status = await files.with_retries(
            lambda: files.upload(request.location, file_name, data, station.file_transfer),
            request.retries,
            request.retry_interval,
            station.clock.sleep,
            failed(station, "upload failed", "diagnostics upload"),
        )
        uploaded = status is not None
        final = DiagnosticsStatus.UPLOADED if uploaded else DiagnosticsStatus.UPLOAD_FAILED
        await self._diagnostics_status(final)
        station.diagnostics_status = DiagnosticsStatus.IDLE

    async def _diagnostics_status(self, status: DiagnosticsStatus) -> None:
        self.station.diagnostics_status = status
        await self.station.try_call(m.DiagnosticsStatusNotificationRequest(status=status))

    def update_firmware(self, request: m.UpdateFirmwareRequest) -> m.UpdateFirmwareResponse:
        files.check_location(request.location, self.station.file_transfer)  # else NotSupported
        self.station.spawn(self._update(request))
        return m.UpdateFirmwareResponse()

    async def _update(self, request: m.UpdateFirmwareRequest) -> None:
        """Download at retrieveDate (retried `retries` times), install once no transaction
        runs, reboot, report Installed after the boot. The new firmware's version is the
        file's name without its extension (`ocppd-2.0.bin` -> `ocppd-2.0`)."""
        station = self.station
        wait = (request.retrieve_date - station.clock.now()).total_seconds()
        await station.clock.sleep(wait)
        await self._firmware_status(FirmwareStatus.DOWNLOADING)
        image = await files.with_retries(
            lambda: files.download(request.location, station.file_transfer),
            request.retries,
            request.retry_interval,
            station.clock.sleep,
            failed(station, "download failed", "firmware download"),
        )
        if image is None:
            await self._firmware_status(FirmwareStatus.DOWNLOAD_FAILED)
            station.firmware_status = FirmwareStatus.IDLE
            return
        await self._firmware_status(FirmwareStatus.DOWNLOADED)
        station.firmware_image = image
        # It cannot charge while installing: idle connectors go Unavailable at once, the
        # others when their session ends (section 3, UpdateFirmware).
        self.installing(True)
        while station.transactions_running:
            await station.clock.sleep(timedelta(minutes=1).total_seconds())
        await self._firmware_status(FirmwareStatus.INSTALLING)
        await station.clock.sleep(FILE_TRANSFER_SECONDS)
        if not image:
            await self._firmware_status(FirmwareStatus.INSTALLATION_FAILED)
            station.firmware_status = FirmwareStatus.IDLE
            self.installing(False)
            return
        station.firmware_version = firmware_version(request.location)
        station.dirty()
        station.firmware_status = FirmwareStatus.INSTALLED
        station.after_boot(m.FirmwareStatusNotificationRequest(status=FirmwareStatus.INSTALLED))
        station.request_reboot()

    def installing(self, installing: bool) -> None:
        for connector in self.station.connectors.values():
            connector.installing = installing
            self.station.changed(connector)
        self._report_later()

    async def _firmware_status(self, status: FirmwareStatus) -> None:
        self.station.firmware_status = status
        await self.station.try_call(m.FirmwareStatusNotificationRequest(status=status))


def _window_fits(start: datetime, duration: int) -> bool:
    """Whether `duration` seconds from `start` is a window a datetime can end."""
    try:
        start + timedelta(seconds=duration)
    except OverflowError:
        return False
    return duration > 0


def _failure(action: str, exc: Exception) -> str:
    """`<Action> <CALLERROR code>`: what the session answers for `exc`."""
    code = exc.code.value if isinstance(exc, OCPPError) else "InternalError"
    return f"{action} {code}"


def firmware_version(location: str) -> str:
    name = PurePosixPath(unquote(urlsplit(location).path)).name
    stem = name.split(".")[0] if name.count(".") == 1 else name.rsplit(".", 1)[0]
    return (stem or "unknown")[:50]


def diagnostics_file(station: "Station", request: m.GetDiagnosticsRequest) -> bytes:
    """What the station uploads: who it is, its configuration, its connectors, its counts."""
    window = ["" if t is UNSET else t.isoformat() for t in (request.start_time, request.stop_time)]
    lines = [
        f"identity: {station.identity}",
        f"vendor: {station.model.vendor}",
        f"model: {station.model.model}",
        f"firmware: {station.firmware_version}",
        f"time: {station.clock.now().isoformat()}",
        f"window: {window[0]} .. {window[1]}",
        f"registration: {station.registration}",
        f"queued transaction messages: {len(station.transaction_messages)}",
        "",
        "[connectors]",
        f"0: {station.station.status}",
        *(f"{n}: {c.status} {c.meter.energy_wh} Wh" for n, c in station.connectors.items()),
        "",
        "[configuration]",
        *(f"{key}={value}" for key, value in sorted(station.configuration.readable().items())),
        "",
        "[counts]",
        json.dumps(station.stats.summary(), sort_keys=True),
        "",
    ]
    return "\n".join(lines).encode()


async def _quietly(awaitable: Any) -> None:
    """A triggered message: its failure is counted by the station, nothing else to do."""
    with contextlib.suppress(CallTimeout, OCPPError, SessionClosed):
        await awaitable


def failed(station: "Station", counter: str, what: str) -> Callable[[files.TransferFailed], None]:
    """What a failed try of a transfer leaves: a count in the station's errors, a log line."""

    def count(exc: files.TransferFailed) -> None:
        station.stats.errors[counter] += 1
        log.info("%s: %s failed: %s", station.identity, what, exc)

    return count
