"""The 22 payloads of the 11 actions of the OCPP 1.6 security extension (draft-06 schemas)."""

from typing import Annotated, Protocol

import msgspec
from msgspec import UNSET, UnsetType

from ocppd.protocol.datatypes import CertificateHashData, Firmware, LogParameters
from ocppd.protocol.enums import (
    CertificateSignedStatus,
    CertificateStatus,
    CertificateUse,
    DeleteCertificateStatus,
    ExtendedMessageTrigger,
    FirmwareStatusEnhanced,
    GenericStatus,
    GetInstalledCertificateStatus,
    LogStatus,
    LogType,
    TriggerMessageStatus,
    UpdateFirmwareStatus,
    UploadLogStatus,
)
from ocppd.protocol.fields import (
    CiString50,
    CiString255,
    DateTime,
    Payload,
    String5500,
    String10000,
    check_utc_time,
)


class CertificateSignedRequest(Payload):
    certificate_chain: String10000


class CertificateSignedResponse(Payload):
    status: CertificateSignedStatus


class DeleteCertificateRequest(Payload):
    certificate_hash_data: CertificateHashData


class DeleteCertificateResponse(Payload):
    status: DeleteCertificateStatus


class ExtendedTriggerMessageRequest(Payload):
    requested_message: ExtendedMessageTrigger
    connector_id: int | UnsetType = UNSET


class ExtendedTriggerMessageResponse(Payload):
    status: TriggerMessageStatus


class GetInstalledCertificateIdsRequest(Payload):
    certificate_type: CertificateUse


class GetInstalledCertificateIdsResponse(Payload):
    status: GetInstalledCertificateStatus
    certificate_hash_data: (
        Annotated[list[CertificateHashData], msgspec.Meta(min_length=1)] | UnsetType
    ) = UNSET


class GetLogRequest(Payload):
    log: LogParameters
    log_type: LogType
    request_id: int
    retries: int | UnsetType = UNSET
    retry_interval: int | UnsetType = UNSET


class GetLogResponse(Payload):
    status: LogStatus
    filename: CiString255 | UnsetType = UNSET


class InstallCertificateRequest(Payload):
    certificate_type: CertificateUse
    certificate: String5500


class InstallCertificateResponse(Payload):
    status: CertificateStatus


class LogStatusNotificationRequest(Payload):
    status: UploadLogStatus
    request_id: int | UnsetType = UNSET


class LogStatusNotificationResponse(Payload):
    pass


class SecurityEventNotificationRequest(Payload):
    type: CiString50
    timestamp: DateTime
    tech_info: CiString255 | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.timestamp, "timestamp")


class SecurityEventNotificationResponse(Payload):
    pass


class SignCertificateRequest(Payload):
    csr: String5500


class SignCertificateResponse(Payload):
    status: GenericStatus


class SignedFirmwareStatusNotificationRequest(Payload):
    status: FirmwareStatusEnhanced
    request_id: int | UnsetType = UNSET


class SignedFirmwareStatusNotificationResponse(Payload):
    pass


class SignedUpdateFirmwareRequest(Payload):
    request_id: int
    firmware: Firmware
    retries: int | UnsetType = UNSET
    retry_interval: int | UnsetType = UNSET


class SignedUpdateFirmwareResponse(Payload):
    status: UpdateFirmwareStatus


CRITICAL_SECURITY_EVENTS = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
)
"""The white paper's critical security events (section 8): a charger sends them at once and
keeps them while offline; a SecurityEventNotification's `type` is any CiString50."""

SECURITY_EVENTS = CRITICAL_SECURITY_EVENTS | frozenset(
    {
        "FailedToAuthenticateAtCentralSystem",
        "CentralSystemFailedToAuthenticate",
        "ReconfigurationOfSecurityParameters",
        "InvalidMessages",
        "AttemptedReplayAttacks",
        "InvalidFirmwareSignature",
        "InvalidFirmwareSigningCertificate",
        "InvalidCentralSystemCertificate",
        "InvalidChargePointCertificate",
        "InvalidTLSVersion",
        "InvalidTLSCipherSuite",
    }
)
"""Every security event the white paper lists; others are a vendor's own."""


class NamedCertificate(Protocol):
    """What names an installed certificate: CertificateHashData, or a stored row of it."""

    @property
    def hash_algorithm(self) -> str: ...
    @property
    def issuer_name_hash(self) -> str: ...
    @property
    def issuer_key_hash(self) -> str: ...
    @property
    def serial_number(self) -> str: ...


def same_certificate(a: NamedCertificate, b: NamedCertificate) -> bool:
    """Hash data naming the same certificate, on either side: the hashes compared without
    case (CiStrings), the serial numbers as numbers (a leading zero, or the case of a hex
    digit, does not hide a match; one that is no hex number, as text without case)."""
    return (
        str(a.hash_algorithm) == str(b.hash_algorithm)
        and a.issuer_name_hash.lower() == b.issuer_name_hash.lower()
        and a.issuer_key_hash.lower() == b.issuer_key_hash.lower()
        and _serial(a.serial_number) == _serial(b.serial_number)
    )


def _serial(text: str) -> int | str:
    try:
        return int(text, 16)
    except ValueError:
        return text.lower()
