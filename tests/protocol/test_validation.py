"""PayloadCodec: schema-exact decoding, and the OCPP-J error code each failure maps to."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from ocppd.protocol import messages as m
from ocppd.protocol.actions import CORE
from ocppd.protocol.datatypes import IdTagInfo
from ocppd.protocol.enums import AuthorizationStatus, Measurand, UnitOfMeasure
from ocppd.protocol.errors import ErrorCode, PayloadError
from ocppd.protocol.validation import PayloadCodec, codec_for

TS = "2024-05-01T12:00:00Z"
VALID_BOOT = b'{"chargePointVendor":"V","chargePointModel":"M"}'


def _error(codec: PayloadCodec[Any], data: bytes | str) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        codec.decode(data)
    return info.value


def _json(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _meter_values(meter_value: Any) -> bytes:
    return _json({"connectorId": 1, "transactionId": 7, "meterValue": meter_value})


def _set_profile(limit: Any) -> bytes:
    return _json(
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 3,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 16},
                        {"startPeriod": 600, "limit": limit},
                    ],
                },
            },
        }
    )


# Valid payloads


def test_codec_for_is_shared_and_matches_the_registry() -> None:
    assert codec_for(m.BootNotificationRequest) is codec_for(m.BootNotificationRequest)
    assert CORE["BootNotification"].request_codec is codec_for(m.BootNotificationRequest)
    assert CORE["BootNotification"].response_codec.type is m.BootNotificationResponse


def test_valid_payload_decodes_into_its_type() -> None:
    boot = CORE["BootNotification"].request_codec.decode(
        b'{"chargePointVendor":"Growatt","chargePointModel":"THOR","firmwareVersion":"1.2"}'
    )
    assert boot == m.BootNotificationRequest(
        charge_point_vendor="Growatt", charge_point_model="THOR", firmware_version="1.2"
    )
    assert boot.iccid is msgspec.UNSET


def test_text_input_is_accepted() -> None:
    assert codec_for(m.HeartbeatRequest).decode("{}") == m.HeartbeatRequest()


def test_enum_fields_decode_to_members() -> None:
    payload = CORE["MeterValues"].request_codec.decode(
        _meter_values(
            [
                {
                    "timestamp": TS,
                    "sampledValue": [{"value": "1.5", "measurand": "Power.Active.Import"}],
                }
            ]
        )
    )
    sampled = payload.meter_value[0].sampled_value[0]
    assert sampled.measurand is Measurand.POWER_ACTIVE_IMPORT
    assert payload.meter_value[0].timestamp == datetime(2024, 5, 1, 12, tzinfo=UTC)


# Missing required fields: ProtocolError, with the path to the missing field


def test_missing_required_field_is_protocol_error_with_path() -> None:
    error = _error(CORE["BootNotification"].request_codec, b'{"chargePointVendor":"V"}')
    assert error.code is ErrorCode.PROTOCOL_ERROR
    assert error.path == "$.chargePointModel"
    assert error.reason == "Object missing required field `chargePointModel`"


def test_missing_nested_required_field_names_the_full_path() -> None:
    error = _error(CORE["Authorize"].response_codec, b'{"idTagInfo":{"parentIdTag":"P"}}')
    assert error.code is ErrorCode.PROTOCOL_ERROR
    assert error.path == "$.idTagInfo.status"


def test_missing_field_inside_a_list_item_names_the_index() -> None:
    error = _error(
        CORE["MeterValues"].request_codec,
        _meter_values([{"timestamp": TS, "sampledValue": [{"value": "1"}, {"unit": "Wh"}]}]),
    )
    assert error.code is ErrorCode.PROTOCOL_ERROR
    assert error.path == "$.meterValue[0].sampledValue[1].value"


# Unknown properties: FormationViolation


def test_unknown_property_is_formation_violation_with_path() -> None:
    error = _error(
        CORE["BootNotification"].request_codec,
        b'{"chargePointVendor":"V","chargePointModel":"M","colour":"red"}',
    )
    assert error.code is ErrorCode.FORMATION_VIOLATION
    assert error.path == "$.colour"


def test_unknown_nested_property_is_formation_violation_with_path() -> None:
    error = _error(
        CORE["StartTransaction"].response_codec,
        b'{"transactionId":1,"idTagInfo":{"status":"Accepted","extra":true}}',
    )
    assert error.code is ErrorCode.FORMATION_VIOLATION
    assert error.path == "$.idTagInfo.extra"


def test_empty_payload_type_refuses_any_property() -> None:
    error = _error(CORE["Heartbeat"].request_codec, b'{"x":1}')
    assert error.code is ErrorCode.FORMATION_VIOLATION
    assert error.path == "$.x"


# Wrong types and lengths: TypeConstraintViolation


@pytest.mark.parametrize(
    ("action", "payload", "path"),
    [
        (
            "BootNotification",
            {"chargePointVendor": 1, "chargePointModel": "M"},
            "$.chargePointVendor",
        ),
        ("Heartbeat", {"currentTime": 5}, "$.currentTime"),
        ("RemoteStopTransaction", {"transactionId": "12"}, "$.transactionId"),
        ("RemoteStopTransaction", {"transactionId": 1.5}, "$.transactionId"),
        ("RemoteStopTransaction", {"transactionId": True}, "$.transactionId"),
        ("GetConfiguration", {"key": "HeartbeatInterval"}, "$.key"),
        ("GetConfiguration", {"key": ["A", 2]}, "$.key[1]"),
    ],
)
def test_wrong_type_is_type_constraint_violation(action: str, payload: Any, path: str) -> None:
    spec = CORE[action]
    codec = spec.response_codec if action == "Heartbeat" else spec.request_codec
    error = _error(codec, _json(payload))
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.path == path


def test_null_is_refused_even_for_an_optional_field() -> None:
    error = _error(
        CORE["BootNotification"].request_codec,
        b'{"chargePointVendor":"V","chargePointModel":"M","iccid":null}',
    )
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.path == "$.iccid"


def test_too_long_string_is_type_constraint_violation() -> None:
    codec = CORE["BootNotification"].request_codec
    codec.decode(_json({"chargePointVendor": "V" * 20, "chargePointModel": "M"}))
    error = _error(codec, _json({"chargePointVendor": "V" * 21, "chargePointModel": "M"}))
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.path == "$.chargePointVendor"
    assert "length <= 20" in error.reason


def test_too_long_nested_id_tag_is_type_constraint_violation() -> None:
    error = _error(
        CORE["SendLocalList"].request_codec,
        _json(
            {
                "listVersion": 2,
                "updateType": "Full",
                "localAuthorizationList": [{"idTag": "A"}, {"idTag": "B" * 21}],
            }
        ),
    )
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.path == "$.localAuthorizationList[1].idTag"


# Invalid enum values: PropertyConstraintViolation


def test_invalid_enum_is_property_constraint_violation() -> None:
    error = _error(CORE["Reset"].request_codec, b'{"type":"Medium"}')
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert error.path == "$.type"


def test_enum_values_are_case_sensitive() -> None:
    error = _error(CORE["Reset"].request_codec, b'{"type":"hard"}')
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


def test_invalid_nested_enum_names_the_path() -> None:
    error = _error(
        CORE["MeterValues"].request_codec,
        _meter_values(
            [{"timestamp": TS, "sampledValue": [{"value": "1", "measurand": "Request.Energy"}]}]
        ),
    )
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert error.path == "$.meterValue[0].sampledValue[0].measurand"


# Cardinality: OccurenceConstraintViolation (one "r")


def test_empty_meter_value_list_is_occurence_violation() -> None:
    error = _error(CORE["MeterValues"].request_codec, _meter_values([]))
    assert error.code is ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
    assert error.code.value == "OccurenceConstraintViolation"
    assert error.path == "$.meterValue"


def test_empty_sampled_value_list_is_occurence_violation_with_exact_path() -> None:
    error = _error(
        CORE["MeterValues"].request_codec,
        _meter_values(
            [
                {"timestamp": TS, "sampledValue": [{"value": "1"}]},
                {"timestamp": TS, "sampledValue": []},
            ]
        ),
    )
    assert error.code is ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
    assert error.path == "$.meterValue[1].sampledValue"


def test_empty_sampled_value_is_allowed_in_stop_transaction_data() -> None:
    # The minItems on sampledValue is MeterValues' own; StopTransaction has none.
    stop = CORE["StopTransaction"].request_codec.decode(
        _json(
            {
                "meterStop": 10,
                "timestamp": TS,
                "transactionId": 1,
                "transactionData": [{"timestamp": TS, "sampledValue": []}],
            }
        )
    )
    assert stop.transaction_data[0].sampled_value == []


# Not an object, not JSON: FormationViolation at $


@pytest.mark.parametrize("data", [b"[]", b'"x"', b"1", b"null", b'[2,"1","Heartbeat",{}]'])
def test_payload_that_is_not_an_object_is_formation_violation(data: bytes) -> None:
    error = _error(CORE["Heartbeat"].request_codec, data)
    assert error.code is ErrorCode.FORMATION_VIOLATION
    assert error.path == "$"


@pytest.mark.parametrize(
    "data",
    [
        b"{",
        b"",
        b"{'chargePointVendor':1}",
        b'{"chargePointVendor":"V",}',
        b"\xff",
        VALID_BOOT + b"}",
    ],
)
def test_invalid_json_is_formation_violation(data: bytes) -> None:
    error = _error(CORE["BootNotification"].request_codec, data)
    assert error.code is ErrorCode.FORMATION_VIOLATION
    assert error.path == "$"
    assert error.reason.startswith("Invalid JSON")


# Timestamps: RFC 3339 exactly


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.123Z", datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)),
        ("2024-05-01T12:00:00.5Z", datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        (
            "2024-05-01T14:00:00+02:00",
            datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))),
        ),
        (
            "2024-05-01T06:30:00.25-05:30",
            datetime(
                2024, 5, 1, 6, 30, 0, 250000, tzinfo=timezone(-timedelta(hours=5, minutes=30))
            ),
        ),
        ("2024-05-01T12:00:00+00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_rfc3339_timestamps_are_accepted(text: str, expected: datetime) -> None:
    response = CORE["Heartbeat"].response_codec.decode(_json({"currentTime": text}))
    assert response.current_time == expected
    assert response.current_time.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T12:00:00",  # no zone
        "2024-05-01T12:00:00+02",  # hour-only offset
        "2024-05-01T12:00Z",  # no seconds
        "2024-13-01T12:00:00Z",  # month 13
        "2024-05-01",  # a date
        "",
    ],
)
def test_non_rfc3339_timestamps_are_type_constraint_violations(text: str) -> None:
    error = _error(CORE["Heartbeat"].response_codec, _json({"currentTime": text}))
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.path == "$.currentTime"


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01t12:00:00Z",  # lower-case t: RFC 3339 section 5.6 allows it
        "2024-05-01T12:00:00z",  # lower-case z: likewise
        "2024-05-01 12:00:00Z",  # a space for T: RFC 3339 section 5.6 allows it
        "2024-05-01T12:00:00+0200",  # ISO 8601 basic offset: ajv-formats takes it too
    ],
)
def test_timestamp_forms_taken_beyond_the_oracle(text: str) -> None:
    """Deliberate: see the module docstring of ocppd.protocol.validation."""
    response = CORE["Heartbeat"].response_codec.decode(_json({"currentTime": text}))
    assert response.current_time.year == 2024
    assert response.current_time.utcoffset() is not None


def test_sent_timestamps_are_canonical() -> None:
    from ocppd.protocol.messages import HeartbeatResponse

    loose = CORE["Heartbeat"].response_codec.decode(b'{"currentTime":"2024-05-01t12:00:00z"}')
    encoded = CORE["Heartbeat"].response_codec.encode(
        HeartbeatResponse(current_time=loose.current_time)
    )
    assert encoded == b'{"currentTime":"2024-05-01T12:00:00Z"}'


def test_escaped_upper_case_t_is_a_valid_timestamp() -> None:
    response = CORE["Heartbeat"].response_codec.decode(
        b'{"currentTime":"2024-05-01\\u005412:00:00Z"}'
    )
    assert response.current_time == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_bad_timestamp_deep_in_a_list_names_its_path() -> None:
    error = _error(
        CORE["MeterValues"].request_codec,
        _meter_values(
            [
                {"timestamp": TS, "sampledValue": [{"value": "1"}]},
                {"timestamp": "2024-05-01T12:00:00", "sampledValue": [{"value": "2"}]},
            ]
        ),
    )
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.path == "$.meterValue[1].timestamp"


def test_bad_nested_optional_timestamp_names_its_path() -> None:
    error = _error(
        CORE["Authorize"].response_codec,
        b'{"idTagInfo":{"status":"Accepted","expiryDate":"2024-05-01T12:00:00+02"}}',
    )
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.path == "$.idTagInfo.expiryDate"


def test_timestamp_like_text_in_a_string_field_is_not_checked() -> None:
    data = CORE["DataTransfer"].request_codec.decode(
        b'{"vendorId":"V","data":"2024-05-01 12:00:00+0200"}'
    )
    assert data.data == "2024-05-01 12:00:00+0200"


# Valid RFC 3339 without a UTC time in years 1 to 9999: PropertyConstraintViolation

NO_UTC = ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"]


def _status(timestamp: str) -> bytes:
    return _json(
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": timestamp}
    )


@pytest.mark.parametrize("text", NO_UTC)
def test_a_timestamp_without_a_utc_time_is_a_value_out_of_range(text: str) -> None:
    error = _error(CORE["StatusNotification"].request_codec, _status(text))
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert error.description == "no UTC time within years 1 to 9999 at $.timestamp"
    assert error.details == {"path": "$.timestamp", "reason": "no UTC time within years 1 to 9999"}


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("0001-01-01T00:00:00-23:59", datetime(1, 1, 1, 23, 59, tzinfo=UTC)),
        ("0001-01-01T01:00:00+01:00", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("9999-12-31T23:59:59+23:59", datetime(9999, 12, 31, 0, 0, 59, tzinfo=UTC)),
        ("9999-12-31T22:59:59-01:00", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_timestamps_at_the_ends_of_utc_time_are_accepted(text: str, utc: datetime) -> None:
    status = CORE["StatusNotification"].request_codec.decode(_status(text))
    assert status.timestamp.astimezone(UTC) == utc


def test_a_timestamp_without_a_utc_time_deep_in_a_list_names_its_path() -> None:
    error = _error(
        CORE["MeterValues"].request_codec,
        _meter_values(
            [
                {"timestamp": TS, "sampledValue": [{"value": "1"}]},
                {"timestamp": NO_UTC[0], "sampledValue": [{"value": "2"}]},
            ]
        ),
    )
    assert (error.code, error.path) == (
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        "$.meterValue[1].timestamp",
    )


def test_a_response_with_a_timestamp_without_a_utc_time_is_refused() -> None:
    """Either role gets it: here a charger decoding the central system's answer."""
    error = _error(
        CORE["Authorize"].response_codec,
        _json({"idTagInfo": {"status": "Accepted", "expiryDate": NO_UTC[2]}}),
    )
    assert (error.code, error.path) == (
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        "$.idTagInfo.expiryDate",
    )


def test_a_payload_built_without_a_utc_time_is_refused_when_built() -> None:
    """msgspec runs the check in `__post_init__`, so Python refuses such a payload as it is
    built (a ValueError), and it can never be encoded and sent."""
    year_zero = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValueError, match="no UTC time within years 1 to 9999"):
        m.ReserveNowRequest(connector_id=1, expiry_date=year_zero, id_tag="T", reservation_id=1)
    ok = datetime(1, 1, 1, tzinfo=timezone(-timedelta(hours=1)))
    reserve = m.ReserveNowRequest(connector_id=1, expiry_date=ok, id_tag="T", reservation_id=1)
    assert (
        codec_for(m.ReserveNowRequest)
        .encode(reserve)
        .startswith(b'{"connectorId":1,"expiryDate":"0001-01-01T00:00:00-01:00"')
    )


# multipleOf 0.1, read as "one decimal"


@pytest.mark.parametrize("limit", [6.3, 0.7, 16, 32.0, 0.1])
def test_limit_with_one_decimal_is_accepted(limit: float) -> None:
    request = CORE["SetChargingProfile"].request_codec.decode(_set_profile(limit))
    periods = request.cs_charging_profiles.charging_schedule.charging_schedule_period
    assert periods[1].limit == limit


@pytest.mark.parametrize("limit", [6.35, 0.05, 10.01])
def test_limit_with_two_decimals_is_property_constraint_violation(limit: float) -> None:
    error = _error(CORE["SetChargingProfile"].request_codec, _set_profile(limit))
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert error.path == "$.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[1].limit"


def test_min_charging_rate_with_two_decimals_is_refused() -> None:
    error = _error(
        CORE["GetCompositeSchedule"].response_codec,
        _json(
            {
                "status": "Accepted",
                "chargingSchedule": {
                    "chargingRateUnit": "W",
                    "minChargingRate": 1.25,
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 100}],
                },
            }
        ),
    )
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert error.path == "$.chargingSchedule.minChargingRate"


# Hertz: MeterValues yes, StopTransaction no


def test_stop_transaction_refuses_hertz_in_transaction_data() -> None:
    error = _error(
        CORE["StopTransaction"].request_codec,
        _json(
            {
                "meterStop": 10,
                "timestamp": TS,
                "transactionId": 1,
                "transactionData": [
                    {
                        "timestamp": TS,
                        "sampledValue": [
                            {"value": "230", "unit": "V"},
                            {"value": "50", "measurand": "Frequency", "unit": "Hertz"},
                        ],
                    }
                ],
            }
        ),
    )
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert error.path == "$.transactionData[0].sampledValue[1].unit"


def test_meter_values_accepts_hertz() -> None:
    payload = CORE["MeterValues"].request_codec.decode(
        _meter_values(
            [
                {
                    "timestamp": TS,
                    "sampledValue": [{"value": "50", "measurand": "Frequency", "unit": "Hertz"}],
                }
            ]
        )
    )
    assert payload.meter_value[0].sampled_value[0].unit is UnitOfMeasure.HERTZ


# The error itself


def test_error_description_and_details_name_field_and_reason() -> None:
    error = _error(CORE["Reset"].request_codec, b'{"type":"Medium"}')
    assert error.reason == "Invalid enum value 'Medium'"
    assert error.description == "Invalid enum value 'Medium' at $.type"
    assert error.details == {"path": "$.type", "reason": "Invalid enum value 'Medium'"}
    assert str(error) == error.description


def test_error_at_the_root_does_not_repeat_the_path() -> None:
    error = _error(CORE["Heartbeat"].request_codec, b"[]")
    assert error.description == error.reason
    assert " at " not in error.description
    assert error.details["path"] == "$"


# encode: valid objects only, never bytes for an invalid one


def test_encode_returns_the_json_of_a_valid_object() -> None:
    codec = CORE["StartTransaction"].response_codec
    data = codec.encode(
        m.StartTransactionResponse(
            id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED), transaction_id=42
        )
    )
    assert data == b'{"idTagInfo":{"status":"Accepted"},"transactionId":42}'


@pytest.mark.parametrize(
    ("payload", "code", "path"),
    [
        (
            m.HeartbeatResponse(current_time=datetime(2024, 5, 1, 12)),  # naive
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
            "$.currentTime",
        ),
        (
            m.BootNotificationRequest(charge_point_vendor="V" * 21, charge_point_model="M"),
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
            "$.chargePointVendor",
        ),
        (
            m.ResetRequest(type="Medium"),  # type: ignore[arg-type]
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
            "$.type",
        ),
        (
            m.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M", iccid=None),  # type: ignore[arg-type]
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
            "$.iccid",
        ),
        (
            m.MeterValuesRequest(connector_id=1, meter_value=[]),
            ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
            "$.meterValue",
        ),
    ],
)
def test_encode_refuses_an_invalid_object(payload: Any, code: ErrorCode, path: str) -> None:
    codec = codec_for(type(payload))
    result: bytes | None = None
    with pytest.raises(PayloadError) as info:
        result = codec.encode(payload)
    assert result is None
    assert info.value.code is code
    assert info.value.path == path


def test_encode_refuses_a_payload_of_another_type() -> None:
    with pytest.raises(PayloadError) as info:
        CORE["BootNotification"].request_codec.encode(m.HeartbeatRequest())
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def test_encode_refuses_a_value_json_cannot_hold_with_payload_error() -> None:
    # Fixed: msgspec's TypeError used to escape encode() instead of a PayloadError.
    with pytest.raises(PayloadError) as info:
        CORE["DataTransfer"].request_codec.encode(
            m.DataTransferRequest(vendor_id="V", data=object())  # type: ignore[arg-type]
        )
    assert info.value.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert info.value.path == "$"


def test_encoded_bytes_decode_back_to_an_equal_object() -> None:
    request = m.RemoteStartTransactionRequest(id_tag="ABC", connector_id=2)
    codec = codec_for(m.RemoteStartTransactionRequest)
    assert codec.decode(codec.encode(request)) == request


# convert: from plain Python data with camelCase keys


def test_convert_from_a_camel_case_dict() -> None:
    request = CORE["StartTransaction"].request_codec.convert(
        {
            "connectorId": 1,
            "idTag": "04A2B3C4",
            "meterStart": 1200,
            "timestamp": datetime(2024, 5, 1, 12, tzinfo=UTC),
            "reservationId": 0,
        }
    )
    assert request == m.StartTransactionRequest(
        connector_id=1,
        id_tag="04A2B3C4",
        meter_start=1200,
        timestamp=datetime(2024, 5, 1, 12, tzinfo=UTC),
        reservation_id=0,
    )


def test_convert_refuses_snake_case_keys() -> None:
    with pytest.raises(PayloadError) as info:
        CORE["Authorize"].request_codec.convert({"id_tag": "A"})
    assert info.value.code is ErrorCode.FORMATION_VIOLATION
    assert info.value.path == "$.id_tag"


def test_convert_validates_like_decode() -> None:
    with pytest.raises(PayloadError) as info:
        CORE["Heartbeat"].response_codec.convert({"currentTime": datetime(2024, 5, 1)})
    assert info.value.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    with pytest.raises(PayloadError) as info:
        CORE["Authorize"].request_codec.convert({"idTag": object()})
    assert info.value.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION


def test_nesting_beyond_the_parser_bound_is_formation_violation() -> None:
    codec: PayloadCodec[dict[str, Any]] = PayloadCodec(dict[str, Any])
    with pytest.raises(PayloadError) as caught:
        codec.decode('{"a":' + "[" * 5000 + "]" * 5000 + "}")
    assert caught.value.code is ErrorCode.FORMATION_VIOLATION
    assert "too deeply" in caught.value.description
