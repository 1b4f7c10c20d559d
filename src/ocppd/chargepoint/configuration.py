"""The standard configuration keys of OCPP 1.6 (behaviour notes section 4) and their rules.

Values are kept as they travel on the wire, as strings ("60", "true"); typed readers parse
them. ChangeConfiguration answers as a charger does: an unknown key NotSupported, a
read-only key or a bad value Rejected, a key that only applies after a reboot RebootRequired.
Key names compare case-insensitively (they are CiString50).
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from msgspec import UNSET

from ocppd.protocol.datatypes import KeyValue
from ocppd.protocol.enums import ConfigurationStatus, Measurand


class Kind(Enum):
    BOOL = "bool"
    INT = "int"
    CSL = "csl"
    """A comma-separated list; its items may be restricted to `choices`."""
    STRING = "string"
    """Free text matching `pattern` when there is one."""


@dataclass(frozen=True)
class KeySpec:
    name: str
    kind: Kind
    readonly: bool = False
    reboot_required: bool = False
    """Accepted values apply after a reboot (answered RebootRequired)."""
    choices: frozenset[str] | None = None
    pattern: str | None = None
    """A regular expression every CSL item must match."""
    max_items_key: str | None = None
    """The `<Key>MaxLength` key that caps how many items a CSL holds."""
    writeonly: bool = False
    """Never read back (the AuthorizationKey): GetConfiguration shows it without a value."""


# What the simulated meter can measure: a CSL naming anything else is Rejected.
MEASURANDS = frozenset(
    {
        Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
        Measurand.ENERGY_ACTIVE_IMPORT_INTERVAL,
        Measurand.POWER_ACTIVE_IMPORT,
        Measurand.POWER_OFFERED,
        Measurand.CURRENT_IMPORT,
        Measurand.CURRENT_OFFERED,
        Measurand.VOLTAGE,
        Measurand.SOC,
    }
)
PROFILES = frozenset(
    {
        "Core",
        "FirmwareManagement",
        "LocalAuthListManagement",
        "Reservation",
        "SmartCharging",
        "RemoteTrigger",
    }
)
_PHASE_ROTATION = r"\d+\.(RST|RTS|SRT|STR|TRS|TSR|NotApplicable|Unknown)"


def _measurands(name: str) -> KeySpec:
    return KeySpec(name, Kind.CSL, choices=MEASURANDS, max_items_key=f"{name}MaxLength")


BOOL, INT, CSL, STRING = Kind.BOOL, Kind.INT, Kind.CSL, Kind.STRING
STANDARD_KEYS = [
    # Core
    KeySpec("AllowOfflineTxForUnknownId", BOOL),
    KeySpec("AuthorizationCacheEnabled", BOOL),
    KeySpec("AuthorizeRemoteTxRequests", BOOL),
    KeySpec("BlinkRepeat", INT),
    KeySpec("ClockAlignedDataInterval", INT),
    KeySpec("ConnectionTimeOut", INT),
    # The wiring of the phases cannot change under a running charger.
    KeySpec(
        "ConnectorPhaseRotation",
        CSL,
        reboot_required=True,
        pattern=_PHASE_ROTATION,
        max_items_key="ConnectorPhaseRotationMaxLength",
    ),
    KeySpec("ConnectorPhaseRotationMaxLength", INT, readonly=True),
    KeySpec("GetConfigurationMaxKeys", INT, readonly=True),
    KeySpec("HeartbeatInterval", INT),
    KeySpec("LightIntensity", INT),
    KeySpec("LocalAuthorizeOffline", BOOL),
    KeySpec("LocalPreAuthorize", BOOL),
    KeySpec("MaxEnergyOnInvalidId", INT),
    KeySpec("MessageTimeout", INT),
    _measurands("MeterValuesAlignedData"),
    KeySpec("MeterValuesAlignedDataMaxLength", INT, readonly=True),
    _measurands("MeterValuesSampledData"),
    KeySpec("MeterValuesSampledDataMaxLength", INT, readonly=True),
    KeySpec("MeterValueSampleInterval", INT),
    KeySpec("MinimumStatusDuration", INT),
    KeySpec("NumberOfConnectors", INT, readonly=True),
    KeySpec("ResetRetries", INT),
    KeySpec("StopTransactionOnEVSideDisconnect", BOOL),
    KeySpec("StopTransactionOnInvalidId", BOOL),
    KeySpec("StopTransactionMaxMeterValues", INT, readonly=True),
    _measurands("StopTxnAlignedData"),
    KeySpec("StopTxnAlignedDataMaxLength", INT, readonly=True),
    _measurands("StopTxnSampledData"),
    KeySpec("StopTxnSampledDataMaxLength", INT, readonly=True),
    KeySpec("SupportedFeatureProfiles", CSL, readonly=True, choices=PROFILES),
    KeySpec("SupportedFeatureProfilesMaxLength", INT, readonly=True),
    KeySpec("TransactionMessageAttempts", INT),
    KeySpec("TransactionMessageRetryInterval", INT),
    KeySpec("UnlockConnectorOnEVSideDisconnect", BOOL),
    # The ping interval is a parameter of the open WebSocket: it applies to the next one.
    KeySpec("WebSocketPingInterval", INT, reboot_required=True),
    # LocalAuthListManagement
    KeySpec("LocalAuthListEnabled", BOOL),
    KeySpec("LocalAuthListMaxLength", INT, readonly=True),
    KeySpec("SendLocalListMaxLength", INT, readonly=True),
    # Reservation
    KeySpec("ReserveConnectorZeroSupported", BOOL, readonly=True),
    # SmartCharging
    KeySpec("ChargeProfileMaxStackLevel", INT, readonly=True),
    KeySpec(
        "ChargingScheduleAllowedChargingRateUnit",
        CSL,
        readonly=True,
        choices=frozenset({"Current", "Power"}),
    ),
    KeySpec("ChargingScheduleMaxPeriods", INT, readonly=True),
    KeySpec("ConnectorSwitch3to1PhaseSupported", BOOL, readonly=True),
    KeySpec("MaxChargingProfilesInstalled", INT, readonly=True),
    # FirmwareManagement
    KeySpec("SupportedFileTransferProtocols", CSL, readonly=True),
    # The security white paper (section 7). SecurityProfile and AuthorizationKey changes
    # go through `security.py` (raise only, prerequisites, reconnection).
    KeySpec("SecurityProfile", INT, pattern=r"[0-3]"),
    # 16 bytes at least, up to 40 hexadecimal digits: kept as the text sent.
    KeySpec("AuthorizationKey", STRING, writeonly=True, pattern=r"[\x21-\x7e]{16,40}"),
    KeySpec("CpoName", STRING, pattern=r".{0,64}"),
    KeySpec("CertificateSignedMaxChainSize", INT, readonly=True),
    KeySpec("CertificateStoreMaxLength", INT, readonly=True),
    KeySpec("AdditionalRootCertificateCheck", BOOL, readonly=True),
]


def default_values(connectors: int) -> dict[str, str]:
    """The factory settings of a simulated charger with `connectors` connectors."""
    return {
        "AllowOfflineTxForUnknownId": "false",
        "AuthorizationCacheEnabled": "true",
        "AuthorizeRemoteTxRequests": "false",
        "BlinkRepeat": "3",
        "ClockAlignedDataInterval": "0",
        "ConnectionTimeOut": "90",
        "ConnectorPhaseRotation": ",".join(f"{n}.RST" for n in range(connectors + 1)),
        "ConnectorPhaseRotationMaxLength": str(connectors + 1),
        "GetConfigurationMaxKeys": "100",
        "HeartbeatInterval": "300",
        "LightIntensity": "50",
        "LocalAuthorizeOffline": "true",
        "LocalPreAuthorize": "false",
        "MaxEnergyOnInvalidId": "0",
        "MessageTimeout": "30",
        "MeterValuesAlignedData": "Energy.Active.Import.Register",
        "MeterValuesAlignedDataMaxLength": "8",
        "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import",
        "MeterValuesSampledDataMaxLength": "8",
        "MeterValueSampleInterval": "60",
        "MinimumStatusDuration": "0",
        "NumberOfConnectors": str(connectors),
        "ResetRetries": "3",
        "StopTransactionOnEVSideDisconnect": "true",
        "StopTransactionOnInvalidId": "true",
        "StopTransactionMaxMeterValues": "20",
        "StopTxnAlignedData": "",
        "StopTxnAlignedDataMaxLength": "8",
        "StopTxnSampledData": "Energy.Active.Import.Register",
        "StopTxnSampledDataMaxLength": "8",
        "SupportedFeatureProfiles": ",".join(sorted(PROFILES)),
        "SupportedFeatureProfilesMaxLength": str(len(PROFILES)),
        "TransactionMessageAttempts": "3",
        "TransactionMessageRetryInterval": "60",
        "UnlockConnectorOnEVSideDisconnect": "true",
        "WebSocketPingInterval": "0",
        "LocalAuthListEnabled": "true",
        "LocalAuthListMaxLength": "1000",
        "SendLocalListMaxLength": "100",
        "ReserveConnectorZeroSupported": "true",
        "ChargeProfileMaxStackLevel": "8",
        "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
        "ChargingScheduleMaxPeriods": "24",
        "ConnectorSwitch3to1PhaseSupported": "false",
        "MaxChargingProfilesInstalled": "16",
        "SupportedFileTransferProtocols": "FTP,HTTP,HTTPS",
        "SecurityProfile": "0",
        "CpoName": "",
        "CertificateSignedMaxChainSize": "10000",
        "CertificateStoreMaxLength": "10",
        "AdditionalRootCertificateCheck": "false",
    }


class Configuration:
    """The configuration of one station: every standard key, with a value."""

    def __init__(self, connectors: int, overrides: dict[str, str] | None = None) -> None:
        self._specs = {spec.name.lower(): spec for spec in STANDARD_KEYS}
        self._values = default_values(connectors)
        self.listeners: list[Callable[[str], None]] = []
        """Called with the key's name after a change that applies at once."""
        for key, value in (overrides or {}).items():
            self.set(key, value)

    # Typed reads

    def get_int(self, key: str) -> int:
        return int(self._values[self._spec(key).name])

    def get_bool(self, key: str) -> bool:
        return self._values[self._spec(key).name] == "true"

    def get_list(self, key: str) -> list[str]:
        value = self._values[self._spec(key).name]
        return [item.strip() for item in value.split(",") if item.strip()]

    def values(self) -> dict[str, str]:
        """Every key's value, as stored (for the state file)."""
        return dict(self._values)

    def readable(self) -> dict[str, str]:
        """The values anyone may read: without the write-only keys (a diagnostics file)."""
        return {k: v for k, v in self._values.items() if not self._spec(k).writeonly}

    def get_text(self, key: str) -> str:
        """A key's value, "" when it has none (AuthorizationKey before it is set)."""
        return self._values.get(self._spec(key).name, "")

    def _spec(self, key: str) -> KeySpec:
        spec = self._specs.get(key.lower())
        if spec is None:
            raise KeyError(key)
        return spec

    # What the central system may do

    def change(self, key: str, value: str) -> ConfigurationStatus:
        """ChangeConfiguration: the answer a charger gives, the value stored when valid."""
        spec = self._specs.get(key.lower())
        if spec is None:
            return ConfigurationStatus.NOT_SUPPORTED
        if spec.readonly:
            return ConfigurationStatus.REJECTED
        canonical = self._canonical(spec, value)
        if canonical is None:
            return ConfigurationStatus.REJECTED
        self._values[spec.name] = canonical
        if spec.reboot_required:
            return ConfigurationStatus.REBOOT_REQUIRED
        for listener in self.listeners:
            listener(spec.name)
        return ConfigurationStatus.ACCEPTED

    def get(self, keys: Iterable[str] = ()) -> tuple[list[KeyValue], list[str]]:
        """GetConfiguration: (the known keys with their values, the unknown keys).

        No keys asked means all keys.
        """
        asked = list(keys)
        if not asked:
            return [self._key_value(spec) for spec in STANDARD_KEYS], []
        known = [self._specs[key.lower()] for key in asked if key.lower() in self._specs]
        unknown = [key for key in asked if key.lower() not in self._specs]
        return [self._key_value(spec) for spec in known], unknown

    def _key_value(self, spec: KeySpec) -> KeyValue:
        value = None if spec.writeonly else self._values.get(spec.name)
        return KeyValue(
            key=spec.name, readonly=spec.readonly, value=UNSET if value is None else value
        )

    def set(self, key: str, value: str) -> None:
        """Set any key, read-only ones included: the factory or the test, not the CS."""
        spec = self._spec(key)
        canonical = self._canonical(spec, value)
        if canonical is None:
            raise ValueError(f"Invalid value {value!r} for {spec.name}")
        self._values[spec.name] = canonical

    def _canonical(self, spec: KeySpec, value: str) -> str | None:
        """The value as stored, or None when it is not valid for `spec`."""
        text = value.strip()
        if spec.kind is Kind.BOOL:
            return text.lower() if text.lower() in ("true", "false") else None
        if spec.kind is Kind.INT:
            if not re.fullmatch(r"\+?\d+", text):
                return None
            number = str(int(text))
            return number if spec.pattern is None or re.fullmatch(spec.pattern, number) else None
        if spec.kind is Kind.STRING:
            return value if spec.pattern is None or re.fullmatch(spec.pattern, value) else None
        items = [item.strip() for item in text.split(",") if item.strip()]
        if spec.choices is not None and not set(items) <= spec.choices:
            return None
        if spec.pattern is not None and not all(re.fullmatch(spec.pattern, i) for i in items):
            return None
        if spec.max_items_key is not None and len(items) > self.get_int(spec.max_items_key):
            return None
        return ",".join(items)
