"""The nested types of OCPP 1.6: objects that appear inside message payloads."""

from msgspec import UNSET, UnsetType

from ocppd.protocol.enums import (
    AuthorizationStatus,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    HashAlgorithm,
    Location,
    Measurand,
    Phase,
    ReadingContext,
    RecurrencyKindType,
    UnitOfMeasure,
    ValueFormat,
)
from ocppd.protocol.fields import (
    CiString50,
    CiString500,
    DateTime,
    IdToken,
    Payload,
    String40,
    String128,
    String512,
    String800,
    String5500,
    check_one_decimal,
    check_utc_time,
)


class IdTagInfo(Payload):
    status: AuthorizationStatus
    expiry_date: DateTime | UnsetType = UNSET
    parent_id_tag: IdToken | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.expiry_date, "expiryDate")


class AuthorizationData(Payload):
    """One entry of a local authorization list; no idTagInfo means "remove" in a Differential."""

    id_tag: IdToken
    id_tag_info: IdTagInfo | UnsetType = UNSET


class SampledValue(Payload):
    """One measurement. Absent qualifiers mean Energy.Active.Import.Register, Wh, Outlet, Raw."""

    value: str
    context: ReadingContext | UnsetType = UNSET
    format: ValueFormat | UnsetType = UNSET
    measurand: Measurand | UnsetType = UNSET
    phase: Phase | UnsetType = UNSET
    location: Location | UnsetType = UNSET
    unit: UnitOfMeasure | UnsetType = UNSET


class MeterValue(Payload):
    timestamp: DateTime
    sampled_value: list[SampledValue]

    def __post_init__(self) -> None:
        check_utc_time(self.timestamp, "timestamp")


class ChargingSchedulePeriod(Payload):
    start_period: int
    limit: float
    number_phases: int | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_one_decimal(self.limit, "limit")


class ChargingSchedule(Payload):
    charging_rate_unit: ChargingRateUnitType
    charging_schedule_period: list[ChargingSchedulePeriod]
    duration: int | UnsetType = UNSET
    start_schedule: DateTime | UnsetType = UNSET
    min_charging_rate: float | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.start_schedule, "startSchedule")
        if self.min_charging_rate is not UNSET:
            check_one_decimal(self.min_charging_rate, "minChargingRate")


class ChargingProfile(Payload):
    charging_profile_id: int
    stack_level: int
    charging_profile_purpose: ChargingProfilePurposeType
    charging_profile_kind: ChargingProfileKindType
    charging_schedule: ChargingSchedule
    transaction_id: int | UnsetType = UNSET
    recurrency_kind: RecurrencyKindType | UnsetType = UNSET
    valid_from: DateTime | UnsetType = UNSET
    valid_to: DateTime | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.valid_from, "validFrom")
        check_utc_time(self.valid_to, "validTo")


class KeyValue(Payload):
    """One configuration key in a GetConfiguration response."""

    key: CiString50
    readonly: bool
    value: CiString500 | UnsetType = UNSET


# Security extension


class CertificateHashData(Payload):
    hash_algorithm: HashAlgorithm
    issuer_name_hash: String128
    issuer_key_hash: String128
    serial_number: String40


class LogParameters(Payload):
    remote_location: String512
    oldest_timestamp: DateTime | UnsetType = UNSET
    latest_timestamp: DateTime | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.oldest_timestamp, "oldestTimestamp")
        check_utc_time(self.latest_timestamp, "latestTimestamp")


class Firmware(Payload):
    location: String512
    retrieve_date_time: DateTime
    signing_certificate: String5500
    signature: String800
    install_date_time: DateTime | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.retrieve_date_time, "retrieveDateTime")
        check_utc_time(self.install_date_time, "installDateTime")
