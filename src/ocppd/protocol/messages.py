"""The 56 payloads of the 28 OCPP 1.6 actions: `<Action>Request` and `<Action>Response`.

Field names are snake_case in Python and camelCase on the wire. Each type is exactly its
official JSON schema (`shared/ocpp16/schemas/<Action>.json` and `<Action>Response.json`).
"""

from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from ocppd.protocol.datatypes import (
    AuthorizationData,
    ChargingProfile,
    ChargingSchedule,
    IdTagInfo,
    KeyValue,
    MeterValue,
)
from ocppd.protocol.enums import (
    AvailabilityStatus,
    AvailabilityType,
    CancelReservationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearCacheStatus,
    ClearChargingProfileStatus,
    ConfigurationStatus,
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
    ResetType,
    TriggerMessageStatus,
    UnitOfMeasure,
    UnlockStatus,
    UpdateStatus,
    UpdateType,
)
from ocppd.protocol.fields import (
    CiString20,
    CiString25,
    CiString50,
    CiString255,
    CiString500,
    DateTime,
    IdToken,
    Payload,
    Uri,
    check_min_items,
    check_utc_time,
)

# Sent by the charge point


class AuthorizeRequest(Payload):
    id_tag: IdToken


class AuthorizeResponse(Payload):
    id_tag_info: IdTagInfo


class BootNotificationRequest(Payload):
    charge_point_vendor: CiString20
    charge_point_model: CiString20
    charge_point_serial_number: CiString25 | UnsetType = UNSET
    charge_box_serial_number: CiString25 | UnsetType = UNSET
    firmware_version: CiString50 | UnsetType = UNSET
    iccid: CiString20 | UnsetType = UNSET
    imsi: CiString20 | UnsetType = UNSET
    meter_type: CiString25 | UnsetType = UNSET
    meter_serial_number: CiString25 | UnsetType = UNSET


class BootNotificationResponse(Payload):
    status: RegistrationStatus
    current_time: DateTime
    interval: int

    def __post_init__(self) -> None:
        check_utc_time(self.current_time, "currentTime")


class DiagnosticsStatusNotificationRequest(Payload):
    status: DiagnosticsStatus


class DiagnosticsStatusNotificationResponse(Payload):
    pass


class FirmwareStatusNotificationRequest(Payload):
    status: FirmwareStatus


class FirmwareStatusNotificationResponse(Payload):
    pass


class HeartbeatRequest(Payload):
    pass


class HeartbeatResponse(Payload):
    current_time: DateTime

    def __post_init__(self) -> None:
        check_utc_time(self.current_time, "currentTime")


class MeterValuesRequest(Payload):
    """The schema here adds `minItems: 1` to both lists (not in the OCA's file)."""

    connector_id: int
    meter_value: Annotated[list[MeterValue], msgspec.Meta(min_length=1)]
    transaction_id: int | UnsetType = UNSET

    def __post_init__(self) -> None:
        for index, meter_value in enumerate(self.meter_value):
            check_min_items(meter_value.sampled_value, 1, f".meterValue[{index}].sampledValue")


class MeterValuesResponse(Payload):
    pass


class StartTransactionRequest(Payload):
    connector_id: int
    id_tag: IdToken
    meter_start: int
    timestamp: DateTime
    reservation_id: int | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.timestamp, "timestamp")


class StartTransactionResponse(Payload):
    id_tag_info: IdTagInfo
    transaction_id: int


class StatusNotificationRequest(Payload):
    connector_id: int
    error_code: ChargePointErrorCode
    status: ChargePointStatus
    info: CiString50 | UnsetType = UNSET
    timestamp: DateTime | UnsetType = UNSET
    vendor_id: CiString255 | UnsetType = UNSET
    vendor_error_code: CiString50 | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.timestamp, "timestamp")


class StatusNotificationResponse(Payload):
    pass


class StopTransactionRequest(Payload):
    """The schema's `unit` enum here lacks "Hertz", which MeterValues has."""

    meter_stop: int
    timestamp: DateTime
    transaction_id: int
    id_tag: IdToken | UnsetType = UNSET
    reason: Reason | UnsetType = UNSET
    transaction_data: list[MeterValue] | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.timestamp, "timestamp")
        if self.transaction_data is UNSET:
            return
        for i, meter_value in enumerate(self.transaction_data):
            for j, sampled in enumerate(meter_value.sampled_value):
                if sampled.unit == UnitOfMeasure.HERTZ:
                    raise ValueError(
                        "Invalid enum value 'Hertz' - at "
                        f"`.transactionData[{i}].sampledValue[{j}].unit`"
                    )


class StopTransactionResponse(Payload):
    id_tag_info: IdTagInfo | UnsetType = UNSET


# Sent by either side


class DataTransferRequest(Payload):
    vendor_id: CiString255
    message_id: CiString50 | UnsetType = UNSET
    data: str | UnsetType = UNSET


class DataTransferResponse(Payload):
    status: DataTransferStatus
    data: str | UnsetType = UNSET


# Sent by the central system


class CancelReservationRequest(Payload):
    reservation_id: int


class CancelReservationResponse(Payload):
    status: CancelReservationStatus


class ChangeAvailabilityRequest(Payload):
    connector_id: int
    type: AvailabilityType


class ChangeAvailabilityResponse(Payload):
    status: AvailabilityStatus


class ChangeConfigurationRequest(Payload):
    key: CiString50
    value: CiString500


class ChangeConfigurationResponse(Payload):
    status: ConfigurationStatus


class ClearCacheRequest(Payload):
    pass


class ClearCacheResponse(Payload):
    status: ClearCacheStatus


class ClearChargingProfileRequest(Payload):
    id: int | UnsetType = UNSET
    connector_id: int | UnsetType = UNSET
    charging_profile_purpose: ChargingProfilePurposeType | UnsetType = UNSET
    stack_level: int | UnsetType = UNSET


class ClearChargingProfileResponse(Payload):
    status: ClearChargingProfileStatus


class GetCompositeScheduleRequest(Payload):
    connector_id: int
    duration: int
    charging_rate_unit: ChargingRateUnitType | UnsetType = UNSET


class GetCompositeScheduleResponse(Payload):
    status: GetCompositeScheduleStatus
    connector_id: int | UnsetType = UNSET
    schedule_start: DateTime | UnsetType = UNSET
    charging_schedule: ChargingSchedule | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.schedule_start, "scheduleStart")


class GetConfigurationRequest(Payload):
    key: list[CiString50] | UnsetType = UNSET


class GetConfigurationResponse(Payload):
    configuration_key: list[KeyValue] | UnsetType = UNSET
    unknown_key: list[CiString50] | UnsetType = UNSET


class GetDiagnosticsRequest(Payload):
    location: Uri
    retries: int | UnsetType = UNSET
    retry_interval: int | UnsetType = UNSET
    start_time: DateTime | UnsetType = UNSET
    stop_time: DateTime | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.start_time, "startTime")
        check_utc_time(self.stop_time, "stopTime")


class GetDiagnosticsResponse(Payload):
    file_name: CiString255 | UnsetType = UNSET


class GetLocalListVersionRequest(Payload):
    pass


class GetLocalListVersionResponse(Payload):
    list_version: int


class RemoteStartTransactionRequest(Payload):
    id_tag: IdToken
    connector_id: int | UnsetType = UNSET
    charging_profile: ChargingProfile | UnsetType = UNSET


class RemoteStartTransactionResponse(Payload):
    status: RemoteStartStopStatus


class RemoteStopTransactionRequest(Payload):
    transaction_id: int


class RemoteStopTransactionResponse(Payload):
    status: RemoteStartStopStatus


class ReserveNowRequest(Payload):
    connector_id: int
    expiry_date: DateTime
    id_tag: IdToken
    reservation_id: int
    parent_id_tag: IdToken | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.expiry_date, "expiryDate")


class ReserveNowResponse(Payload):
    status: ReservationStatus


class ResetRequest(Payload):
    type: ResetType


class ResetResponse(Payload):
    status: ResetStatus


class SendLocalListRequest(Payload):
    list_version: int
    update_type: UpdateType
    local_authorization_list: list[AuthorizationData] | UnsetType = UNSET


class SendLocalListResponse(Payload):
    status: UpdateStatus


class SetChargingProfileRequest(Payload):
    connector_id: int
    cs_charging_profiles: ChargingProfile


class SetChargingProfileResponse(Payload):
    status: ChargingProfileStatus


class TriggerMessageRequest(Payload):
    requested_message: MessageTrigger
    connector_id: int | UnsetType = UNSET


class TriggerMessageResponse(Payload):
    status: TriggerMessageStatus


class UnlockConnectorRequest(Payload):
    connector_id: int


class UnlockConnectorResponse(Payload):
    status: UnlockStatus


class UpdateFirmwareRequest(Payload):
    location: Uri
    retrieve_date: DateTime
    retries: int | UnsetType = UNSET
    retry_interval: int | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_utc_time(self.retrieve_date, "retrieveDate")


class UpdateFirmwareResponse(Payload):
    pass
