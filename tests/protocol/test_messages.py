"""Message types: snake_case in Python, camelCase on the wire, UNSET omitted, RFC 3339 'Z'."""

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from ocppd.protocol import messages as m
from ocppd.protocol import security as s
from ocppd.protocol.actions import CORE, SECURITY
from ocppd.protocol.datatypes import (
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
    IdTagInfo,
    KeyValue,
    MeterValue,
    SampledValue,
)
from ocppd.protocol.enums import (
    AuthorizationStatus,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    Measurand,
    ReadingContext,
    RecurrencyKindType,
    RegistrationStatus,
    UnitOfMeasure,
)
from ocppd.protocol.errors import ErrorCode, PayloadError
from ocppd.protocol.validation import codec_for

NOON = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _encode(payload: Any) -> bytes:
    return codec_for(type(payload)).encode(payload)


def test_boot_notification_request_uses_camel_case_on_the_wire() -> None:
    boot = m.BootNotificationRequest(
        charge_point_vendor="VendorX",
        charge_point_model="ModelY",
        charge_point_serial_number="SN-1",
        firmware_version="1.0.3",
        meter_serial_number="M-9",
    )
    assert boot.charge_point_vendor == "VendorX"
    assert _encode(boot) == (
        b'{"chargePointVendor":"VendorX","chargePointModel":"ModelY",'
        b'"chargePointSerialNumber":"SN-1","firmwareVersion":"1.0.3","meterSerialNumber":"M-9"}'
    )


def test_unset_fields_are_omitted() -> None:
    boot = m.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
    assert boot.iccid is msgspec.UNSET
    assert _encode(boot) == b'{"chargePointVendor":"V","chargePointModel":"M"}'


def test_empty_payloads_encode_as_an_empty_object() -> None:
    assert _encode(m.HeartbeatRequest()) == b"{}"
    assert _encode(m.ClearCacheRequest()) == b"{}"
    assert _encode(m.StatusNotificationResponse()) == b"{}"


def test_boot_notification_response_encodes_time_with_z() -> None:
    response = m.BootNotificationResponse(
        status=RegistrationStatus.ACCEPTED, current_time=NOON, interval=300
    )
    assert _encode(response) == (
        b'{"status":"Accepted","currentTime":"2024-05-01T12:00:00Z","interval":300}'
    )


def test_fractional_seconds_are_kept_and_end_in_z() -> None:
    response = m.HeartbeatResponse(current_time=datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC))
    assert _encode(response) == b'{"currentTime":"2024-05-01T12:00:00.250000Z"}'


def test_naive_datetime_is_refused_when_encoding() -> None:
    with pytest.raises(PayloadError) as info:
        _encode(m.HeartbeatResponse(current_time=datetime(2024, 5, 1, 12)))
    assert info.value.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert info.value.path == "$.currentTime"


def test_set_charging_profile_with_nested_profile() -> None:
    request = m.SetChargingProfileRequest(
        connector_id=1,
        cs_charging_profiles=ChargingProfile(
            charging_profile_id=100,
            stack_level=2,
            charging_profile_purpose=ChargingProfilePurposeType.TX_DEFAULT_PROFILE,
            charging_profile_kind=ChargingProfileKindType.RECURRING,
            recurrency_kind=RecurrencyKindType.DAILY,
            valid_from=NOON,
            charging_schedule=ChargingSchedule(
                charging_rate_unit=ChargingRateUnitType.W,
                duration=86400,
                start_schedule=datetime(2024, 5, 1, tzinfo=UTC),
                min_charging_rate=1380.0,
                charging_schedule_period=[
                    ChargingSchedulePeriod(start_period=0, limit=11000.0, number_phases=3),
                    ChargingSchedulePeriod(start_period=28800, limit=6.3),
                ],
            ),
        ),
    )
    assert _encode(request) == (
        b'{"connectorId":1,"csChargingProfiles":{"chargingProfileId":100,"stackLevel":2,'
        b'"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Recurring",'
        b'"chargingSchedule":{"chargingRateUnit":"W","chargingSchedulePeriod":['
        b'{"startPeriod":0,"limit":11000.0,"numberPhases":3},{"startPeriod":28800,"limit":6.3}],'
        b'"duration":86400,"startSchedule":"2024-05-01T00:00:00Z","minChargingRate":1380.0},'
        b'"recurrencyKind":"Daily","validFrom":"2024-05-01T12:00:00Z"}}'
    )
    assert codec_for(m.SetChargingProfileRequest).decode(_encode(request)) == request


def test_get_configuration_response() -> None:
    response = m.GetConfigurationResponse(
        configuration_key=[
            KeyValue(key="HeartbeatInterval", readonly=False, value="300"),
            KeyValue(key="NumberOfConnectors", readonly=True, value="2"),
            KeyValue(key="AuthorizationKey", readonly=False),
        ],
        unknown_key=["FooBar"],
    )
    assert _encode(response) == (
        b'{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"},'
        b'{"key":"NumberOfConnectors","readonly":true,"value":"2"},'
        b'{"key":"AuthorizationKey","readonly":false}],"unknownKey":["FooBar"]}'
    )


def test_empty_lists_are_sent_not_omitted() -> None:
    # UNSET is omitted; an empty list is a value (GetConfiguration: "all keys").
    assert _encode(m.GetConfigurationRequest(key=[])) == b'{"key":[]}'
    assert _encode(m.GetConfigurationRequest()) == b"{}"


def test_meter_values_request() -> None:
    request = m.MeterValuesRequest(
        connector_id=2,
        transaction_id=17,
        meter_value=[
            MeterValue(
                timestamp=NOON,
                sampled_value=[
                    SampledValue(
                        value="1234.5",
                        context=ReadingContext.SAMPLE_PERIODIC,
                        measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                        unit=UnitOfMeasure.KWH,
                    )
                ],
            )
        ],
    )
    assert _encode(request) == (
        b'{"connectorId":2,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":'
        b'[{"value":"1234.5","context":"Sample.Periodic",'
        b'"measurand":"Energy.Active.Import.Register","unit":"kWh"}]}],"transactionId":17}'
    )


def test_start_transaction_response_with_nested_id_tag_info() -> None:
    response = m.StartTransactionResponse(
        transaction_id=9,
        id_tag_info=IdTagInfo(
            status=AuthorizationStatus.ACCEPTED, expiry_date=NOON, parent_id_tag="GROUP1"
        ),
    )
    assert response.id_tag_info.parent_id_tag == "GROUP1"
    assert _encode(response) == (
        b'{"idTagInfo":{"status":"Accepted","expiryDate":"2024-05-01T12:00:00Z",'
        b'"parentIdTag":"GROUP1"},"transactionId":9}'
    )


def test_reservation_id_zero_is_sent() -> None:
    request = m.StartTransactionRequest(
        connector_id=1, id_tag="A", meter_start=0, timestamp=NOON, reservation_id=0
    )
    assert b'"reservationId":0' in _encode(request)


def test_security_payload_wire_names() -> None:
    request = s.SecurityEventNotificationRequest(
        type="FirmwareUpdated", timestamp=NOON, tech_info="v2"
    )
    assert _encode(request) == (
        b'{"type":"FirmwareUpdated","timestamp":"2024-05-01T12:00:00Z","techInfo":"v2"}'
    )


def test_decoding_maps_wire_names_to_attributes() -> None:
    request = codec_for(m.RemoteStartTransactionRequest).decode(b'{"idTag":"ABC","connectorId":2}')
    assert (request.id_tag, request.connector_id) == ("ABC", 2)
    assert request.charging_profile is msgspec.UNSET


def test_snake_case_keys_are_not_wire_names() -> None:
    with pytest.raises(PayloadError) as info:
        codec_for(m.RemoteStartTransactionRequest).decode(b'{"id_tag":"ABC"}')
    assert info.value.code is ErrorCode.FORMATION_VIOLATION


# null: refused on the wire, both ways


def test_null_is_refused_when_decoding() -> None:
    with pytest.raises(PayloadError) as info:
        codec_for(m.GetCompositeScheduleResponse).decode(
            b'{"status":"Accepted","connectorId":null}'
        )
    assert info.value.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert info.value.path == "$.connectorId"


def test_null_is_refused_when_encoding() -> None:
    response = m.DataTransferResponse(status="Accepted", data=None)  # type: ignore[arg-type]
    with pytest.raises(PayloadError) as info:
        _encode(response)
    assert info.value.path == "$.data"


# Every type: snake_case attributes, camelCase wire names


def _all_payload_types() -> list[type[msgspec.Struct]]:
    specs = [*CORE.values(), *SECURITY.values()]
    return [t for spec in specs for t in (spec.request, spec.response)]


@pytest.mark.parametrize("payload_type", _all_payload_types(), ids=lambda t: t.__name__)
def test_attributes_are_snake_case_and_wire_names_camel_case(
    payload_type: type[msgspec.Struct],
) -> None:
    names = payload_type.__struct_fields__
    wire = payload_type.__struct_encode_fields__
    for name, wire_name in zip(names, wire, strict=True):
        assert name == name.lower(), name
        head, *rest = name.split("_")
        assert wire_name == head + "".join(part.capitalize() for part in rest)
    assert payload_type.__struct_config__.forbid_unknown_fields
    assert payload_type.__struct_config__.omit_defaults
