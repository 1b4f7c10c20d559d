"""Every enumeration of the OCPP 1.6 JSON schemas, with the OCA's names.

Members are `StrEnum`s: they compare equal to their wire strings, and a value that a
tolerance rule let through (see `leniency`) can stand in a field as a plain `str`.
"""

from enum import StrEnum


class Action(StrEnum):
    """The 28 actions of OCPP 1.6."""

    AUTHORIZE = "Authorize"
    BOOT_NOTIFICATION = "BootNotification"
    CANCEL_RESERVATION = "CancelReservation"
    CHANGE_AVAILABILITY = "ChangeAvailability"
    CHANGE_CONFIGURATION = "ChangeConfiguration"
    CLEAR_CACHE = "ClearCache"
    CLEAR_CHARGING_PROFILE = "ClearChargingProfile"
    DATA_TRANSFER = "DataTransfer"
    DIAGNOSTICS_STATUS_NOTIFICATION = "DiagnosticsStatusNotification"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    GET_COMPOSITE_SCHEDULE = "GetCompositeSchedule"
    GET_CONFIGURATION = "GetConfiguration"
    GET_DIAGNOSTICS = "GetDiagnostics"
    GET_LOCAL_LIST_VERSION = "GetLocalListVersion"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    REMOTE_START_TRANSACTION = "RemoteStartTransaction"
    REMOTE_STOP_TRANSACTION = "RemoteStopTransaction"
    RESERVE_NOW = "ReserveNow"
    RESET = "Reset"
    SEND_LOCAL_LIST = "SendLocalList"
    SET_CHARGING_PROFILE = "SetChargingProfile"
    START_TRANSACTION = "StartTransaction"
    STATUS_NOTIFICATION = "StatusNotification"
    STOP_TRANSACTION = "StopTransaction"
    TRIGGER_MESSAGE = "TriggerMessage"
    UNLOCK_CONNECTOR = "UnlockConnector"
    UPDATE_FIRMWARE = "UpdateFirmware"


class SecurityAction(StrEnum):
    """The 11 actions of the "Improved security for OCPP 1.6-J" extension."""

    CERTIFICATE_SIGNED = "CertificateSigned"
    DELETE_CERTIFICATE = "DeleteCertificate"
    EXTENDED_TRIGGER_MESSAGE = "ExtendedTriggerMessage"
    GET_INSTALLED_CERTIFICATE_IDS = "GetInstalledCertificateIds"
    GET_LOG = "GetLog"
    INSTALL_CERTIFICATE = "InstallCertificate"
    LOG_STATUS_NOTIFICATION = "LogStatusNotification"
    SECURITY_EVENT_NOTIFICATION = "SecurityEventNotification"
    SIGN_CERTIFICATE = "SignCertificate"
    SIGNED_FIRMWARE_STATUS_NOTIFICATION = "SignedFirmwareStatusNotification"
    SIGNED_UPDATE_FIRMWARE = "SignedUpdateFirmware"


class AuthorizationStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class RegistrationStatus(StrEnum):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class CancelReservationStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class AvailabilityType(StrEnum):
    INOPERATIVE = "Inoperative"
    OPERATIVE = "Operative"


class AvailabilityStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    SCHEDULED = "Scheduled"


class ConfigurationStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


class ClearCacheStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class ChargingProfilePurposeType(StrEnum):
    CHARGE_POINT_MAX_PROFILE = "ChargePointMaxProfile"
    TX_DEFAULT_PROFILE = "TxDefaultProfile"
    TX_PROFILE = "TxProfile"


class ChargingProfileKindType(StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class RecurrencyKindType(StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class ChargingRateUnitType(StrEnum):
    A = "A"
    W = "W"


class ClearChargingProfileStatus(StrEnum):
    ACCEPTED = "Accepted"
    UNKNOWN = "Unknown"


class DataTransferStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    UNKNOWN_MESSAGE_ID = "UnknownMessageId"
    UNKNOWN_VENDOR_ID = "UnknownVendorId"


class DiagnosticsStatus(StrEnum):
    IDLE = "Idle"
    UPLOADED = "Uploaded"
    UPLOAD_FAILED = "UploadFailed"
    UPLOADING = "Uploading"


class FirmwareStatus(StrEnum):
    DOWNLOADED = "Downloaded"
    DOWNLOAD_FAILED = "DownloadFailed"
    DOWNLOADING = "Downloading"
    IDLE = "Idle"
    INSTALLATION_FAILED = "InstallationFailed"
    INSTALLING = "Installing"
    INSTALLED = "Installed"


class GetCompositeScheduleStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class ReadingContext(StrEnum):
    INTERRUPTION_BEGIN = "Interruption.Begin"
    INTERRUPTION_END = "Interruption.End"
    SAMPLE_CLOCK = "Sample.Clock"
    SAMPLE_PERIODIC = "Sample.Periodic"
    TRANSACTION_BEGIN = "Transaction.Begin"
    TRANSACTION_END = "Transaction.End"
    TRIGGER = "Trigger"
    OTHER = "Other"


class ValueFormat(StrEnum):
    RAW = "Raw"
    SIGNED_DATA = "SignedData"


class Measurand(StrEnum):
    ENERGY_ACTIVE_EXPORT_REGISTER = "Energy.Active.Export.Register"
    ENERGY_ACTIVE_IMPORT_REGISTER = "Energy.Active.Import.Register"
    ENERGY_REACTIVE_EXPORT_REGISTER = "Energy.Reactive.Export.Register"
    ENERGY_REACTIVE_IMPORT_REGISTER = "Energy.Reactive.Import.Register"
    ENERGY_ACTIVE_EXPORT_INTERVAL = "Energy.Active.Export.Interval"
    ENERGY_ACTIVE_IMPORT_INTERVAL = "Energy.Active.Import.Interval"
    ENERGY_REACTIVE_EXPORT_INTERVAL = "Energy.Reactive.Export.Interval"
    ENERGY_REACTIVE_IMPORT_INTERVAL = "Energy.Reactive.Import.Interval"
    POWER_ACTIVE_EXPORT = "Power.Active.Export"
    POWER_ACTIVE_IMPORT = "Power.Active.Import"
    POWER_OFFERED = "Power.Offered"
    POWER_REACTIVE_EXPORT = "Power.Reactive.Export"
    POWER_REACTIVE_IMPORT = "Power.Reactive.Import"
    POWER_FACTOR = "Power.Factor"
    CURRENT_IMPORT = "Current.Import"
    CURRENT_EXPORT = "Current.Export"
    CURRENT_OFFERED = "Current.Offered"
    VOLTAGE = "Voltage"
    FREQUENCY = "Frequency"
    TEMPERATURE = "Temperature"
    SOC = "SoC"
    RPM = "RPM"


class Phase(StrEnum):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    N = "N"
    L1_N = "L1-N"
    L2_N = "L2-N"
    L3_N = "L3-N"
    L1_L2 = "L1-L2"
    L2_L3 = "L2-L3"
    L3_L1 = "L3-L1"


class Location(StrEnum):
    CABLE = "Cable"
    EV = "EV"
    INLET = "Inlet"
    OUTLET = "Outlet"
    BODY = "Body"


class UnitOfMeasure(StrEnum):
    """Units of a sampled value. `HERTZ` is valid in MeterValues only (see `messages`)."""

    WH = "Wh"
    KWH = "kWh"
    VARH = "varh"
    KVARH = "kvarh"
    W = "W"
    KW = "kW"
    VA = "VA"
    KVA = "kVA"
    VAR = "var"
    KVAR = "kvar"
    A = "A"
    V = "V"
    K = "K"
    CELCIUS = "Celcius"
    CELSIUS = "Celsius"
    FAHRENHEIT = "Fahrenheit"
    PERCENT = "Percent"
    HERTZ = "Hertz"


class RemoteStartStopStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class ReservationStatus(StrEnum):
    ACCEPTED = "Accepted"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"
    REJECTED = "Rejected"
    UNAVAILABLE = "Unavailable"


class ResetType(StrEnum):
    HARD = "Hard"
    SOFT = "Soft"


class ResetStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class UpdateType(StrEnum):
    DIFFERENTIAL = "Differential"
    FULL = "Full"


class UpdateStatus(StrEnum):
    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_SUPPORTED = "NotSupported"
    VERSION_MISMATCH = "VersionMismatch"


class ChargingProfileStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"


class ChargePointErrorCode(StrEnum):
    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure"
    EV_COMMUNICATION_ERROR = "EVCommunicationError"
    GROUND_FAILURE = "GroundFailure"
    HIGH_TEMPERATURE = "HighTemperature"
    INTERNAL_ERROR = "InternalError"
    LOCAL_LIST_CONFLICT = "LocalListConflict"
    NO_ERROR = "NoError"
    OTHER_ERROR = "OtherError"
    OVER_CURRENT_FAILURE = "OverCurrentFailure"
    POWER_METER_FAILURE = "PowerMeterFailure"
    POWER_SWITCH_FAILURE = "PowerSwitchFailure"
    READER_FAILURE = "ReaderFailure"
    RESET_FAILURE = "ResetFailure"
    UNDER_VOLTAGE = "UnderVoltage"
    OVER_VOLTAGE = "OverVoltage"
    WEAK_SIGNAL = "WeakSignal"


class ChargePointStatus(StrEnum):
    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class Reason(StrEnum):
    EMERGENCY_STOP = "EmergencyStop"
    EV_DISCONNECTED = "EVDisconnected"
    HARD_RESET = "HardReset"
    LOCAL = "Local"
    OTHER = "Other"
    POWER_LOSS = "PowerLoss"
    REBOOT = "Reboot"
    REMOTE = "Remote"
    SOFT_RESET = "SoftReset"
    UNLOCK_COMMAND = "UnlockCommand"
    DE_AUTHORIZED = "DeAuthorized"


class MessageTrigger(StrEnum):
    BOOT_NOTIFICATION = "BootNotification"
    DIAGNOSTICS_STATUS_NOTIFICATION = "DiagnosticsStatusNotification"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    STATUS_NOTIFICATION = "StatusNotification"


class TriggerMessageStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_IMPLEMENTED = "NotImplemented"


class UnlockStatus(StrEnum):
    UNLOCKED = "Unlocked"
    UNLOCK_FAILED = "UnlockFailed"
    NOT_SUPPORTED = "NotSupported"


# Security extension


class HashAlgorithm(StrEnum):
    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


class CertificateSignedStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class DeleteCertificateStatus(StrEnum):
    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_FOUND = "NotFound"


class ExtendedMessageTrigger(StrEnum):
    BOOT_NOTIFICATION = "BootNotification"
    LOG_STATUS_NOTIFICATION = "LogStatusNotification"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    SIGN_CHARGE_POINT_CERTIFICATE = "SignChargePointCertificate"
    STATUS_NOTIFICATION = "StatusNotification"


class CertificateUse(StrEnum):
    CENTRAL_SYSTEM_ROOT_CERTIFICATE = "CentralSystemRootCertificate"
    MANUFACTURER_ROOT_CERTIFICATE = "ManufacturerRootCertificate"


class GetInstalledCertificateStatus(StrEnum):
    ACCEPTED = "Accepted"
    NOT_FOUND = "NotFound"


class LogType(StrEnum):
    DIAGNOSTICS_LOG = "DiagnosticsLog"
    SECURITY_LOG = "SecurityLog"


class LogStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    ACCEPTED_CANCELED = "AcceptedCanceled"


class CertificateStatus(StrEnum):
    ACCEPTED = "Accepted"
    FAILED = "Failed"
    REJECTED = "Rejected"


class UploadLogStatus(StrEnum):
    BAD_MESSAGE = "BadMessage"
    IDLE = "Idle"
    NOT_SUPPORTED_OPERATION = "NotSupportedOperation"
    PERMISSION_DENIED = "PermissionDenied"
    UPLOADED = "Uploaded"
    UPLOAD_FAILURE = "UploadFailure"
    UPLOADING = "Uploading"


class GenericStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class FirmwareStatusEnhanced(StrEnum):
    DOWNLOADED = "Downloaded"
    DOWNLOAD_FAILED = "DownloadFailed"
    DOWNLOADING = "Downloading"
    DOWNLOAD_SCHEDULED = "DownloadScheduled"
    DOWNLOAD_PAUSED = "DownloadPaused"
    IDLE = "Idle"
    INSTALLATION_FAILED = "InstallationFailed"
    INSTALLING = "Installing"
    INSTALLED = "Installed"
    INSTALL_REBOOTING = "InstallRebooting"
    INSTALL_SCHEDULED = "InstallScheduled"
    INSTALL_VERIFICATION_FAILED = "InstallVerificationFailed"
    INVALID_SIGNATURE = "InvalidSignature"
    SIGNATURE_VERIFIED = "SignatureVerified"


class UpdateFirmwareStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    ACCEPTED_CANCELED = "AcceptedCanceled"
    INVALID_CERTIFICATE = "InvalidCertificate"
    REVOKED_CERTIFICATE = "RevokedCertificate"
