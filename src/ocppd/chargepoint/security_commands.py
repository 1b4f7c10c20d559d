"""A station's answers to the 7 commands of the security extension (white paper sections 3-5).

- ExtendedTriggerMessage: the four messages TriggerMessage also sends (answered as it
  does), LogStatusNotification and SignedFirmwareStatusNotification (the current status;
  Idle when nothing runs, or after Installed, L01.FR.28), SignChargePointCertificate (a new
  key and CSR: `security.sign_certificate`).
- CertificateSigned: the chain checked (`certificates.check_chain`) and installed;
  InvalidChargePointCertificate when refused.
- InstallCertificate / GetInstalledCertificateIds / DeleteCertificate: the roots of
  `CertificateStore`. InstallCertificate refuses what is not a CA certificate valid now, and
  a full store (CertificateStoreMaxLength); DeleteCertificate refuses (Failed) the charge
  point certificate (M04.FR.05) and the CentralSystemRootCertificate that issued the
  certificate of the current TLS connection (M04.FR.06).
- GetLog: one file uploaded as GetDiagnostics uploads (`files.upload`), LogStatusNotification
  Uploading, then Uploaded or UploadFailure, each with the requestId; a new GetLog cancels
  one still running (AcceptedCanceled); a location the station cannot reach is Rejected.
  SecurityLog: the security log; DiagnosticsLog: the diagnostics file.
- SignedUpdateFirmware: the signing certificate checked before answering (InvalidCertificate
  and InvalidFirmwareSigningCertificate), then Downloading, Downloaded, the signature
  checked (InvalidSignature and InvalidFirmwareSignature, or SignatureVerified),
  InstallScheduled until installDateTime, Installing once no transaction runs,
  InstallRebooting, and Installed after the reboot's accepted boot, with FirmwareUpdated.
  A new request cancels one still running (AcceptedCanceled).
"""

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from ocppd.chargepoint import certificates, files
from ocppd.chargepoint.commands import (
    FILE_TRANSFER_SECONDS,
    diagnostics_file,
    failed,
    firmware_version,
)
from ocppd.chargepoint.security import CENTRAL_SYSTEM_ROOT, MANUFACTURER_ROOT
from ocppd.protocol import messages as m
from ocppd.protocol import security as s
from ocppd.protocol.enums import (
    CertificateSignedStatus,
    CertificateStatus,
    DeleteCertificateStatus,
    ExtendedMessageTrigger,
    FirmwareStatusEnhanced,
    GetInstalledCertificateStatus,
    LogStatus,
    LogType,
    MessageTrigger,
    TriggerMessageStatus,
    UpdateFirmwareStatus,
    UploadLogStatus,
)
from ocppd.protocol.errors import ActionNotSupported, OCPPError
from ocppd.rpc.session import CallTimeout, Handler, SessionClosed

if TYPE_CHECKING:
    from ocppd.chargepoint.commands import Commands
    from ocppd.chargepoint.station import Station

log = logging.getLogger("ocppd.chargepoint")

_CORE_TRIGGERS = {
    ExtendedMessageTrigger.BOOT_NOTIFICATION: MessageTrigger.BOOT_NOTIFICATION,
    ExtendedMessageTrigger.HEARTBEAT: MessageTrigger.HEARTBEAT,
    ExtendedMessageTrigger.METER_VALUES: MessageTrigger.METER_VALUES,
    ExtendedMessageTrigger.STATUS_NOTIFICATION: MessageTrigger.STATUS_NOTIFICATION,
}


class SecurityCommands:
    def __init__(self, station: "Station", commands: "Commands") -> None:
        self.station = station
        self.commands = commands
        self.security = station.security
        self.log_status = UploadLogStatus.IDLE
        self.log_request_id: int | None = None
        self.firmware_status: FirmwareStatusEnhanced | None = None
        """The last SignedFirmwareStatusNotification's status (None: none sent)."""
        self.firmware_request_id: int | None = None
        self._upload: asyncio.Task[None] | None = None
        self._update: asyncio.Task[None] | None = None

    def handlers(self) -> dict[str, Handler]:
        return {
            "CertificateSigned": self.certificate_signed,
            "DeleteCertificate": self.delete_certificate,
            "ExtendedTriggerMessage": self.extended_trigger_message,
            "GetInstalledCertificateIds": self.get_installed_certificate_ids,
            "GetLog": self.get_log,
            "InstallCertificate": self.install_certificate,
            "SignedUpdateFirmware": self.signed_update_firmware,
        }

    # Triggers

    def extended_trigger_message(
        self, request: s.ExtendedTriggerMessageRequest
    ) -> s.ExtendedTriggerMessageResponse:
        station = self.station
        trigger = request.requested_message
        core = _CORE_TRIGGERS.get(trigger)
        if core is not None:
            answer = self.commands.trigger_message(
                m.TriggerMessageRequest(requested_message=core, connector_id=request.connector_id)
            )
            return s.ExtendedTriggerMessageResponse(status=answer.status)
        if request.connector_id is not UNSET and request.connector_id not in station.connectors:
            return s.ExtendedTriggerMessageResponse(status=TriggerMessageStatus.REJECTED)
        if trigger == ExtendedMessageTrigger.LOG_STATUS_NOTIFICATION:
            station.spawn(_quietly(self._log_status(self.log_status)))
        elif trigger == ExtendedMessageTrigger.FIRMWARE_STATUS_NOTIFICATION:
            station.spawn(_quietly(self._triggered_firmware_status()))
        else:  # SignChargePointCertificate
            station.spawn(self.security.sign_certificate())
        return s.ExtendedTriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED)

    async def _triggered_firmware_status(self) -> None:
        last = self.firmware_status
        if last is None or last == FirmwareStatusEnhanced.INSTALLED:
            request = s.SignedFirmwareStatusNotificationRequest(status=FirmwareStatusEnhanced.IDLE)
            await self.station.call(request)
        else:
            await self._firmware(last, remember=False)

    # Certificates

    def certificate_signed(
        self, request: s.CertificateSignedRequest
    ) -> s.CertificateSignedResponse:
        reason = self.security.certificate_signed(request.certificate_chain)
        if reason is not None:
            log.info("%s: CertificateSigned refused: %s", self.station.identity, reason)
            return s.CertificateSignedResponse(status=CertificateSignedStatus.REJECTED)
        return s.CertificateSignedResponse(status=CertificateSignedStatus.ACCEPTED)

    def install_certificate(
        self, request: s.InstallCertificateRequest
    ) -> s.InstallCertificateResponse:
        store = self.security.store
        try:
            offered = certificates.load_chain(request.certificate)
        except ValueError:
            return s.InstallCertificateResponse(status=CertificateStatus.REJECTED)
        certificate = offered[0]
        refused = len(offered) > 1 or certificates.check_root(certificate, self.station.clock.now())
        already = certificate in store.installed(request.certificate_type)
        most = self.station.configuration.get_int("CertificateStoreMaxLength")
        if refused or (not already and store.count() >= most):
            return s.InstallCertificateResponse(status=CertificateStatus.REJECTED)
        store.install(request.certificate_type, certificate)
        self.security.events.record(
            "ReconfigurationOfSecurityParameters",
            f"{request.certificate_type} {certificate.serial_number:X} installed",
        )
        self.security.changed()
        return s.InstallCertificateResponse(status=CertificateStatus.ACCEPTED)

    def get_installed_certificate_ids(
        self, request: s.GetInstalledCertificateIdsRequest
    ) -> s.GetInstalledCertificateIdsResponse:
        installed = self.security.store.installed(request.certificate_type)
        if not installed:
            return s.GetInstalledCertificateIdsResponse(
                status=GetInstalledCertificateStatus.NOT_FOUND
            )
        return s.GetInstalledCertificateIdsResponse(
            status=GetInstalledCertificateStatus.ACCEPTED,
            certificate_hash_data=[certificates.hash_data(c) for c in installed],
        )

    def delete_certificate(
        self, request: s.DeleteCertificateRequest
    ) -> s.DeleteCertificateResponse:
        security, wanted = self.security, request.certificate_hash_data
        if self._is_own_certificate(wanted):
            return s.DeleteCertificateResponse(status=DeleteCertificateStatus.FAILED)
        found = security.store.find(wanted)
        if found is None:
            return s.DeleteCertificateResponse(status=DeleteCertificateStatus.NOT_FOUND)
        use, index = found
        root = security.store.installed(use)[index]
        server = security.server_certificate
        in_use = (
            use == CENTRAL_SYSTEM_ROOT
            and server is not None
            and self.station.client is not None
            and (server == root or certificates.issued_by(server, root))
        )
        if in_use:
            return s.DeleteCertificateResponse(status=DeleteCertificateStatus.FAILED)
        security.store.remove(use, index)
        security.events.record(
            "ReconfigurationOfSecurityParameters", f"{use} {root.serial_number:X} deleted"
        )
        security.changed()
        return s.DeleteCertificateResponse(status=DeleteCertificateStatus.ACCEPTED)

    def _is_own_certificate(self, wanted: Any) -> bool:
        """Whether `wanted` names the charge point certificate (issued by the next in its
        chain, or by an installed root)."""
        store = self.security.store
        if store.chain is None:
            return False
        chain = certificates.load_chain(store.chain)
        issuers = chain[1:2] + store.installed(CENTRAL_SYSTEM_ROOT)
        for issuer in issuers:
            if certificates.issued_by(chain[0], issuer):
                named = certificates.hash_data(chain[0], wanted.hash_algorithm, issuer)
                return s.same_certificate(named, wanted)
        return False

    # Logs

    def get_log(self, request: s.GetLogRequest) -> s.GetLogResponse:
        station = self.station
        try:
            files.check_location(request.log.remote_location, station.file_transfer)
        except ActionNotSupported:
            return s.GetLogResponse(status=LogStatus.REJECTED)
        canceled = self._upload is not None and not self._upload.done()
        if self._upload is not None:
            self._upload.cancel()
        kind = "security" if request.log_type == LogType.SECURITY_LOG else "diagnostics"
        stamp = station.clock.now().strftime("%Y%m%dT%H%M%SZ")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in station.identity)
        file_name = f"{kind}-log-{safe}-{stamp}.log"[:255]
        self._upload = station.spawn(self._upload_log(request, file_name))
        status = LogStatus.ACCEPTED_CANCELED if canceled else LogStatus.ACCEPTED
        return s.GetLogResponse(status=status, filename=file_name)

    async def _upload_log(self, request: s.GetLogRequest, file_name: str) -> None:
        station = self.station
        self.log_request_id = request.request_id
        await self._log_status(UploadLogStatus.UPLOADING)
        data = self._log_file(request)

        location = request.log.remote_location
        status = await files.with_retries(
            lambda: files.upload(location, file_name, data, station.file_transfer),
            request.retries,
            request.retry_interval,
            station.clock.sleep,
            failed(station, "upload failed", "log upload"),
        )
        await self._log_status(
            UploadLogStatus.UPLOADED if status is not None else UploadLogStatus.UPLOAD_FAILURE
        )
        self.log_status, self.log_request_id = UploadLogStatus.IDLE, None

    async def _log_status(self, status: UploadLogStatus) -> None:
        self.log_status = status
        request_id = UNSET if self.log_request_id is None else self.log_request_id
        request = s.LogStatusNotificationRequest(status=status, request_id=request_id)
        await self.station.try_call(request)

    def _log_file(self, request: s.GetLogRequest) -> bytes:
        window = request.log
        if request.log_type == LogType.DIAGNOSTICS_LOG:
            asked = m.GetDiagnosticsRequest(
                location=window.remote_location,
                start_time=window.oldest_timestamp,
                stop_time=window.latest_timestamp,
            )
            return diagnostics_file(self.station, asked)
        oldest = None if window.oldest_timestamp is UNSET else window.oldest_timestamp
        latest = None if window.latest_timestamp is UNSET else window.latest_timestamp
        lines = [
            f"{e.timestamp.isoformat()} {e.type}"
            + (" (critical)" if e.critical else "")
            + (f": {e.tech_info}" if e.tech_info else "")
            for e in self.security.events.log
            if (oldest is None or e.timestamp >= oldest)
            and (latest is None or e.timestamp <= latest)
        ]
        header = [f"security log of {self.station.identity}", f"events: {len(lines)}", ""]
        return "\n".join(header + lines + [""]).encode()

    # Signed firmware

    def signed_update_firmware(
        self, request: s.SignedUpdateFirmwareRequest
    ) -> s.SignedUpdateFirmwareResponse:
        station, firmware = self.station, request.firmware
        try:
            files.check_location(firmware.location, station.file_transfer)
        except ActionNotSupported:
            return s.SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.REJECTED)
        roots = self.security.store.installed(MANUFACTURER_ROOT)
        reason = certificates.check_signing_certificate(
            firmware.signing_certificate, roots, station.clock.now()
        )
        if reason is not None:
            self.security.events.record("InvalidFirmwareSigningCertificate", reason)
            return s.SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.INVALID_CERTIFICATE)
        canceled = self._update is not None and not self._update.done()
        if self._update is not None:
            self._update.cancel()
            self.commands.installing(False)
        self._update = station.spawn(self._signed_update(request))
        accepted = UpdateFirmwareStatus.ACCEPTED
        status = UpdateFirmwareStatus.ACCEPTED_CANCELED if canceled else accepted
        return s.SignedUpdateFirmwareResponse(status=status)

    async def _signed_update(self, request: s.SignedUpdateFirmwareRequest) -> None:
        station, firmware = self.station, request.firmware
        self.firmware_request_id = request.request_id
        await station.clock.sleep(_seconds_until(firmware.retrieve_date_time, station))
        image = await self._download(request)
        if image is None:
            return
        reason = certificates.verify_signature(
            image, firmware.signature, firmware.signing_certificate
        )
        if reason is not None:
            self.security.events.record("InvalidFirmwareSignature", reason)
            await self._firmware(FirmwareStatusEnhanced.INVALID_SIGNATURE)
            return
        await self._firmware(FirmwareStatusEnhanced.SIGNATURE_VERIFIED)
        if firmware.install_date_time is not UNSET:
            wait = _seconds_until(firmware.install_date_time, station)
            if wait > 0:
                await self._firmware(FirmwareStatusEnhanced.INSTALL_SCHEDULED)
                await station.clock.sleep(wait)
        await self._install(request, image)

    async def _download(self, request: s.SignedUpdateFirmwareRequest) -> bytes | None:
        station = self.station
        await self._firmware(FirmwareStatusEnhanced.DOWNLOADING)
        image = await files.with_retries(
            lambda: files.download(request.firmware.location, station.file_transfer),
            request.retries,
            request.retry_interval,
            station.clock.sleep,
            failed(station, "download failed", "signed firmware download"),
        )
        downloaded = image is not None
        await self._firmware(
            FirmwareStatusEnhanced.DOWNLOADED
            if downloaded
            else FirmwareStatusEnhanced.DOWNLOAD_FAILED
        )
        return image

    async def _install(self, request: s.SignedUpdateFirmwareRequest, image: bytes) -> None:
        """Once no transaction runs (idle connectors Unavailable meanwhile, L01.FR.07)."""
        station = self.station
        self.commands.installing(True)
        while station.transactions_running:
            await station.clock.sleep(60)
        await self._firmware(FirmwareStatusEnhanced.INSTALLING)
        await station.clock.sleep(FILE_TRANSFER_SECONDS)
        await self._firmware(FirmwareStatusEnhanced.INSTALL_REBOOTING)
        station.firmware_image = image
        station.firmware_version = firmware_version(request.firmware.location)
        self.firmware_status = FirmwareStatusEnhanced.INSTALLED
        self.security.events.record("FirmwareUpdated", station.firmware_version)
        station.dirty()
        installed = s.SignedFirmwareStatusNotificationRequest(
            status=FirmwareStatusEnhanced.INSTALLED, request_id=request.request_id
        )
        station.after_boot(installed)
        station.request_reboot()

    async def _firmware(self, status: FirmwareStatusEnhanced, remember: bool = True) -> None:
        if remember:
            self.firmware_status = status
        request_id = UNSET if self.firmware_request_id is None else self.firmware_request_id
        request = s.SignedFirmwareStatusNotificationRequest(status=status, request_id=request_id)
        await self.station.try_call(request)


def _seconds_until(when: datetime, station: "Station") -> float:
    return (when - station.clock.now()).total_seconds()


async def _quietly(awaitable: Any) -> None:
    with contextlib.suppress(CallTimeout, OCPPError, SessionClosed):
        await awaitable
