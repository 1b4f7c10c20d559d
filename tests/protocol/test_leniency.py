"""Leniency: strict by default; each rule repairs exactly its quirk, and says so."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from ocppd.protocol import messages as m
from ocppd.protocol.actions import CORE
from ocppd.protocol.enums import ChargePointStatus, Measurand, UnitOfMeasure
from ocppd.protocol.errors import ErrorCode, PayloadError
from ocppd.protocol.leniency import Leniency, Repair, Rule
from ocppd.protocol.validation import PayloadCodec

TS = "2024-05-01T12:00:00Z"
BOOT = CORE["BootNotification"].request_codec
METER = CORE["MeterValues"].request_codec
STATUS = CORE["StatusNotification"].request_codec
START = CORE["StartTransaction"].request_codec
STOP = CORE["StopTransaction"].request_codec
CONFIG = CORE["GetConfiguration"].response_codec
PROFILE = CORE["SetChargingProfile"].request_codec


def _json(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _strict_error(codec: PayloadCodec[Any], data: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        codec.decode(data)
    return info.value


def _lenient_error(leniency: Leniency, codec: PayloadCodec[Any], data: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        leniency.decode(codec, data)
    return info.value


def _meter_values(*sampled: dict[str, Any], timestamp: str = TS) -> bytes:
    return _json(
        {
            "connectorId": 1,
            "transactionId": 7,
            "meterValue": [{"timestamp": timestamp, "sampledValue": list(sampled)}],
        }
    )


# Realistic frames from the field (behaviour notes, section 8)

GROWATT_START = _json(  # evcc#10399: local time, no zone
    {"connectorId": 1, "idTag": "04A2B3C4", "meterStart": 0, "timestamp": "2023-10-19T15:28:07"}
)
SCHNEIDER_BOOT = _json(  # mobilityhouse#122: a 26-character serial (max 25)
    {
        "chargePointVendor": "Schneider Electric",
        "chargePointModel": "EVlink Pro AC",
        "chargePointSerialNumber": "3N2134567890123456789012AB",
        "firmwareVersion": "3.4.0.12",
    }
)
VESTEL_METER = _meter_values()  # lbbrhzn#466: sampledValue: []
MOBILITYHOUSE_54 = _meter_values(  # a measurand outside the enum
    {"value": "12000", "measurand": "Request.Energy", "unit": "Wh"},
    {"value": "3500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
)
OPENEVSE_METER = _meter_values({"value": 12.5, "measurand": "Current.Import", "unit": "A"})


def test_the_quirky_frames_are_refused_by_the_strict_codec() -> None:
    assert _strict_error(START, GROWATT_START).code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _strict_error(BOOT, SCHNEIDER_BOOT).code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _strict_error(METER, VESTEL_METER).code is ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
    assert _strict_error(METER, MOBILITYHOUSE_54).code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert _strict_error(METER, OPENEVSE_METER).code is ErrorCode.TYPE_CONSTRAINT_VIOLATION


# No rules: strict


@pytest.mark.parametrize(
    ("codec", "data"),
    [
        (START, GROWATT_START),
        (BOOT, SCHNEIDER_BOOT),
        (METER, VESTEL_METER),
        (METER, MOBILITYHOUSE_54),
        (METER, OPENEVSE_METER),
        (BOOT, b"{"),
    ],
)
def test_leniency_without_rules_is_strict(codec: PayloadCodec[Any], data: bytes) -> None:
    strict = _strict_error(codec, data)
    leniency = Leniency()
    error = _lenient_error(leniency, codec, data)
    assert (error.code, error.path, error.reason) == (strict.code, strict.path, strict.reason)
    assert leniency.counts == {}


def test_valid_payload_needs_no_repair() -> None:
    leniency = Leniency(set(Rule))
    payload, repairs = leniency.decode(BOOT, b'{"chargePointVendor":"V","chargePointModel":"M"}')
    assert payload == m.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
    assert repairs == []
    assert leniency.counts == {}


def test_rules_can_be_given_by_name() -> None:
    leniency = Leniency(("overlong_strings",))  # type: ignore[arg-type]
    assert leniency.rules == frozenset({Rule.OVERLONG_STRINGS})
    with pytest.raises(ValueError):
        Leniency(("no_such_rule",))  # type: ignore[arg-type]


# Each rule on its own: (rule, codec, frame, path of the repair)

CASES: list[tuple[Rule, PayloadCodec[Any], bytes, str]] = [
    (Rule.TIMESTAMPS_WITHOUT_ZONE, START, GROWATT_START, "$.timestamp"),
    (Rule.OVERLONG_STRINGS, BOOT, SCHNEIDER_BOOT, "$.chargePointSerialNumber"),
    (Rule.EMPTY_LISTS, METER, VESTEL_METER, "$.meterValue[0].sampledValue"),
    (
        Rule.UNKNOWN_ENUM_VALUES,
        METER,
        MOBILITYHOUSE_54,
        "$.meterValue[0].sampledValue[0].measurand",
    ),
    (Rule.NUMBERS_AS_STRINGS, METER, OPENEVSE_METER, "$.meterValue[0].sampledValue[0].value"),
    (
        Rule.EXTRA_PROPERTIES,
        BOOT,
        b'{"chargePointVendor":"V","chargePointModel":"M","wifiSsid":"x"}',
        "$.wifiSsid",
    ),
    (
        Rule.NULLS_AS_ABSENT,
        BOOT,
        b'{"chargePointVendor":"V","chargePointModel":"M","iccid":null}',
        "$.iccid",
    ),
]


@pytest.mark.parametrize(("rule", "codec", "data", "path"), CASES, ids=[c[0].value for c in CASES])
def test_each_rule_repairs_its_quirk_and_reports_it(
    rule: Rule, codec: PayloadCodec[Any], data: bytes, path: str
) -> None:
    leniency = Leniency({rule})
    payload, repairs = leniency.decode(codec, data)
    assert isinstance(payload, codec.type)
    assert len(repairs) == 1
    assert isinstance(repairs[0], Repair)
    assert (repairs[0].rule, repairs[0].path) == (rule, path)
    assert repairs[0].detail
    assert leniency.counts == {rule: 1}


@pytest.mark.parametrize(("rule", "codec", "data", "path"), CASES, ids=[c[0].value for c in CASES])
def test_the_other_rules_do_not_repair_that_quirk(
    rule: Rule, codec: PayloadCodec[Any], data: bytes, path: str
) -> None:
    strict = _strict_error(codec, data)
    leniency = Leniency(set(Rule) - {rule})
    error = _lenient_error(leniency, codec, data)
    assert (error.code, error.path) == (strict.code, path)
    assert leniency.counts == {}


def test_counts_accumulate_across_payloads() -> None:
    leniency = Leniency({Rule.OVERLONG_STRINGS, Rule.TIMESTAMPS_WITHOUT_ZONE})
    leniency.decode(BOOT, SCHNEIDER_BOOT)
    leniency.decode(BOOT, SCHNEIDER_BOOT)
    leniency.decode(START, GROWATT_START)
    leniency.decode(BOOT, b'{"chargePointVendor":"V","chargePointModel":"M"}')
    assert leniency.counts == {Rule.OVERLONG_STRINGS: 2, Rule.TIMESTAMPS_WITHOUT_ZONE: 1}


def test_a_failed_repair_is_not_counted() -> None:
    leniency = Leniency({Rule.OVERLONG_STRINGS})
    data = _json({"chargePointVendor": "V" * 30})  # too long, and the model is missing
    assert _lenient_error(leniency, BOOT, data).code is ErrorCode.PROTOCOL_ERROR
    assert leniency.counts == {}


# Values are kept as the charger sent them


def test_overlong_serial_is_kept_whole() -> None:
    boot, _ = Leniency({Rule.OVERLONG_STRINGS}).decode(BOOT, SCHNEIDER_BOOT)
    assert boot.charge_point_serial_number == "3N2134567890123456789012AB"
    assert len(boot.charge_point_serial_number) == 26
    assert boot.charge_point_vendor == "Schneider Electric"
    assert boot.firmware_version == "3.4.0.12"


def test_several_overlong_strings_are_all_kept_whole() -> None:
    data = _json(
        {
            "chargePointVendor": "United Chargers Inc.",
            "chargePointModel": "Grizzl-E Smart 40A WiFi",  # 23 > 20 (lbbrhzn#899)
            "chargeBoxSerialNumber": "B" * 26,
            "meterSerialNumber": "M" * 30,
        }
    )
    boot, repairs = Leniency({Rule.OVERLONG_STRINGS}).decode(BOOT, data)
    assert boot.charge_point_model == "Grizzl-E Smart 40A WiFi"
    assert boot.charge_box_serial_number == "B" * 26
    assert boot.meter_serial_number == "M" * 30
    assert [r.path for r in repairs] == [
        "$.chargePointModel",
        "$.chargeBoxSerialNumber",
        "$.meterSerialNumber",
    ]


def test_unknown_error_code_is_kept_as_the_string_sent() -> None:
    data = b'{"connectorId":1,"errorCode":"Error","status":"Faulted","vendorErrorCode":"E12"}'
    status, repairs = Leniency({Rule.UNKNOWN_ENUM_VALUES}).decode(STATUS, data)
    assert status.error_code == "Error"
    assert type(status.error_code) is str
    assert status.status is ChargePointStatus.FAULTED
    assert repairs == [
        Repair(Rule.UNKNOWN_ENUM_VALUES, "$.errorCode", "Invalid enum value 'Error': 'Error'")
    ]


def test_unknown_measurand_is_kept_and_its_neighbour_is_a_member() -> None:
    meter, _ = Leniency({Rule.UNKNOWN_ENUM_VALUES}).decode(METER, MOBILITYHOUSE_54)
    first, second = meter.meter_value[0].sampled_value
    assert first.measurand == "Request.Energy"
    assert type(first.measurand) is str
    assert first.unit is UnitOfMeasure.WH
    assert second.measurand is Measurand.ENERGY_ACTIVE_IMPORT_REGISTER


def test_hertz_in_stop_transaction_is_kept_by_unknown_enum_values() -> None:
    data = _json(
        {
            "meterStop": 10,
            "timestamp": TS,
            "transactionId": 1,
            "transactionData": [
                {"timestamp": TS, "sampledValue": [{"value": "50", "unit": "Hertz"}]}
            ],
        }
    )
    stop, repairs = Leniency({Rule.UNKNOWN_ENUM_VALUES}).decode(STOP, data)
    assert stop.transaction_data[0].sampled_value[0].unit == "Hertz"
    assert repairs[0].path == "$.transactionData[0].sampledValue[0].unit"


def test_empty_sampled_value_is_kept_as_an_empty_list() -> None:
    meter, _ = Leniency({Rule.EMPTY_LISTS}).decode(METER, VESTEL_METER)
    assert meter.meter_value[0].sampled_value == []
    assert meter.meter_value[0].timestamp == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert meter.transaction_id == 7


def test_empty_sampled_value_in_a_later_meter_value() -> None:
    data = _json(
        {
            "connectorId": 2,
            "meterValue": [
                {"timestamp": TS, "sampledValue": [{"value": "1"}]},
                {"timestamp": TS, "sampledValue": []},
            ],
        }
    )
    meter, repairs = Leniency({Rule.EMPTY_LISTS}).decode(METER, data)
    assert [len(mv.sampled_value) for mv in meter.meter_value] == [1, 0]
    assert meter.meter_value[0].sampled_value[0].value == "1"
    assert [r.path for r in repairs] == ["$.meterValue[1].sampledValue"]


def test_empty_meter_value_list_is_kept_empty() -> None:
    # Fixed: the placeholder MeterValue's own empty sampledValue was restored after the
    # list itself, into a list that was already empty again (IndexError).
    data = b'{"connectorId":1,"meterValue":[]}'
    meter, repairs = Leniency({Rule.EMPTY_LISTS}).decode(METER, data)
    assert meter.meter_value == []
    assert meter.connector_id == 1
    assert [r.path for r in repairs] == ["$.meterValue", "$.meterValue[0].sampledValue"]


# Timestamps


@pytest.mark.parametrize(
    ("text", "expected", "repaired"),
    [
        ("2023-10-19T15:28:07", datetime(2023, 10, 19, 15, 28, 7, tzinfo=UTC), True),
        ("2023-10-19T15:28:07.250", datetime(2023, 10, 19, 15, 28, 7, 250000, tzinfo=UTC), True),
        ("2023-10-19 15:28:07", datetime(2023, 10, 19, 15, 28, 7, tzinfo=UTC), True),
        (
            "2023-10-19T15:28:07+02",
            datetime(2023, 10, 19, 15, 28, 7, tzinfo=timezone(timedelta(hours=2))),
            True,
        ),
        # Taken strictly (see ocppd.protocol.validation): no repair needed.
        ("2023-10-19t15:28:07z", datetime(2023, 10, 19, 15, 28, 7, tzinfo=UTC), False),
        (
            "2023-10-19T15:28:07+0200",
            datetime(2023, 10, 19, 15, 28, 7, tzinfo=timezone(timedelta(hours=2))),
            False,
        ),
        (
            "2023-10-19T15:28:07-0530",
            datetime(2023, 10, 19, 15, 28, 7, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
            False,
        ),
    ],
)
def test_loose_timestamps_are_normalised(text: str, expected: datetime, repaired: bool) -> None:
    data = _json(
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": text}
    )
    status, repairs = Leniency({Rule.TIMESTAMPS_WITHOUT_ZONE}).decode(STATUS, data)
    assert status.timestamp == expected
    assert status.timestamp.utcoffset() == expected.utcoffset()
    expected_repairs = [(Rule.TIMESTAMPS_WITHOUT_ZONE, "$.timestamp")] if repaired else []
    assert [(r.rule, r.path) for r in repairs] == expected_repairs


def test_growatt_start_transaction_is_taken_as_utc() -> None:
    start, _ = Leniency({Rule.TIMESTAMPS_WITHOUT_ZONE}).decode(START, GROWATT_START)
    assert start.timestamp == datetime(2023, 10, 19, 15, 28, 7, tzinfo=UTC)
    assert start.timestamp.tzinfo is not None
    assert start.timestamp.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "2023-13-19T15:28:07", "2023-10-19T25:00:00"])
def test_a_timestamp_that_is_no_timestamp_still_fails(text: str) -> None:
    data = _json(
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": text}
    )
    error = _lenient_error(Leniency({Rule.TIMESTAMPS_WITHOUT_ZONE}), STATUS, data)
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.path == "$.timestamp"


def test_compact_offset_at_the_end_of_time_is_normalised_not_crashed() -> None:
    # Fixed: the check converted to UTC and leaked an OverflowError.
    data = _json({"currentTime": "9999-12-31T23:59:59+0100"})
    response, _ = Leniency({Rule.TIMESTAMPS_WITHOUT_ZONE}).decode(
        CORE["Heartbeat"].response_codec, data
    )
    assert response.current_time == datetime(
        9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=1))
    )


@pytest.mark.parametrize(
    ("text", "strict_too"),
    [
        ("9999-12-31T23:59:59-0100", True),  # 10000-01-01T00:59:59Z
        ("9999-12-31T23:59:59-01:00", True),
        ("0001-01-01T00:00:00+01:00", True),  # 0000-12-31T23:00:00Z
        ("0001-01-01t00:00:00+0001", True),
        ("9999-12-31 23:59:59-01", False),  # a form the rule repairs, then out of range
    ],
)
def test_a_timestamp_without_a_utc_time_is_no_quirk(text: str, strict_too: bool) -> None:
    """Valid RFC 3339 (or repaired into it) but outside years 1 to 9999 in UTC: no rule
    repairs it, and the error names the field (not "too many repairs")."""
    data = _json(
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": text}
    )
    for leniency in (Leniency(), Leniency(set(Rule))) if strict_too else (Leniency(set(Rule)),):
        error = _lenient_error(leniency, STATUS, data)
        assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, (leniency.rules, error)
        assert error.path == "$.timestamp"
        assert error.reason == "no UTC time within years 1 to 9999"


# Numbers


def test_number_for_a_sampled_value_becomes_its_text() -> None:
    meter, _ = Leniency({Rule.NUMBERS_AS_STRINGS}).decode(METER, OPENEVSE_METER)
    assert meter.meter_value[0].sampled_value[0].value == "12.5"


def test_integer_config_value_becomes_text() -> None:
    data = b'{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":300}]}'
    response, repairs = Leniency({Rule.NUMBERS_AS_STRINGS}).decode(CONFIG, data)
    assert response.configuration_key[0].value == "300"
    assert repairs[0].path == "$.configurationKey[0].value"


@pytest.mark.parametrize(("sent", "expected"), [('"1"', 1), ("1.0", 1), ('" 2 "', 2), ('"3.0"', 3)])
def test_connector_id_is_coerced_to_an_integer(sent: str, expected: int) -> None:
    data = b'{"connectorId":%s,"errorCode":"NoError","status":"Available"}' % sent.encode()
    status, repairs = Leniency({Rule.NUMBERS_AS_STRINGS}).decode(STATUS, data)
    assert status.connector_id == expected
    assert type(status.connector_id) is int
    assert repairs[0].path == "$.connectorId"


def test_integral_float_for_an_integer_becomes_an_integer() -> None:
    data = _json({"connectorId": 1, "idTag": "A", "meterStart": 5.0, "timestamp": TS})
    start, _ = Leniency({Rule.NUMBERS_AS_STRINGS}).decode(START, data)
    assert start.meter_start == 5
    assert type(start.meter_start) is int


@pytest.mark.parametrize("sent", ["5.5", '"5.5"', '"five"', '""', "true"])
def test_non_integral_or_non_numeric_values_stay_refused(sent: str) -> None:
    data = b'{"connectorId":%s,"errorCode":"NoError","status":"Available"}' % sent.encode()
    error = _lenient_error(Leniency({Rule.NUMBERS_AS_STRINGS}), STATUS, data)
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.path == "$.connectorId"


def _profile(limit: Any) -> bytes:
    return _json(
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
                },
            },
        }
    )


def test_numeric_string_for_a_float_becomes_a_float() -> None:
    request, _ = Leniency({Rule.NUMBERS_AS_STRINGS}).decode(PROFILE, _profile("6.3"))
    period = request.cs_charging_profiles.charging_schedule.charging_schedule_period[0]
    assert period.limit == 6.3


def test_coerced_float_is_still_checked_for_one_decimal() -> None:
    error = _lenient_error(Leniency({Rule.NUMBERS_AS_STRINGS}), PROFILE, _profile("6.35"))
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


@pytest.mark.parametrize("sent", ["NaN", "inf", "-Infinity"])
def test_non_finite_numeric_strings_are_not_coerced(sent: str) -> None:
    # Fixed: float("NaN") was accepted, then encoded as null ("got `null`").
    error = _lenient_error(Leniency(set(Rule)), PROFILE, _profile(sent))
    assert error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert error.reason == "Expected `float`, got `str`"


# Nulls and empty strings


def test_nulls_for_optional_fields_are_dropped() -> None:
    data = _json(
        {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": "Charging",
            "info": None,
            "timestamp": None,
            "vendorId": None,
        }
    )
    status, repairs = Leniency({Rule.NULLS_AS_ABSENT}).decode(STATUS, data)
    assert status.info is msgspec.UNSET
    assert status.timestamp is msgspec.UNSET
    assert status.vendor_id is msgspec.UNSET
    assert [r.path for r in repairs] == ["$.info", "$.timestamp", "$.vendorId"]


def test_empty_string_for_an_optional_non_string_field_is_dropped() -> None:
    data = _json(
        {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": TS, "reservationId": ""}
    )
    start, _ = Leniency({Rule.NULLS_AS_ABSENT}).decode(START, data)
    assert start.reservation_id is msgspec.UNSET


def test_reservation_id_zero_is_kept() -> None:
    data = _json(
        {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": TS, "reservationId": 0}
    )
    start, repairs = Leniency(set(Rule)).decode(START, data)
    assert start.reservation_id == 0
    assert repairs == []


def test_null_for_a_required_field_still_fails_as_sent() -> None:
    # Fixed: the null was dropped, and the error became "missing required field".
    data = b'{"chargePointVendor":null,"chargePointModel":"M"}'
    error = _lenient_error(Leniency({Rule.NULLS_AS_ABSENT}), BOOT, data)
    strict = _strict_error(BOOT, data)
    assert (error.code, error.path) == (ErrorCode.TYPE_CONSTRAINT_VIOLATION, "$.chargePointVendor")
    assert error.reason == strict.reason


def test_empty_string_for_a_required_integer_still_fails() -> None:
    data = b'{"connectorId":"","errorCode":"NoError","status":"Available"}'
    error = _lenient_error(Leniency(set(Rule)), STATUS, data)
    assert (error.code, error.path) == (ErrorCode.TYPE_CONSTRAINT_VIOLATION, "$.connectorId")


# Several quirks at once


def test_several_quirks_in_one_meter_values() -> None:
    data = _json(
        {
            "connectorId": "1",
            "transactionId": 42.0,
            "meterValue": [
                {
                    "timestamp": "2023-10-19T15:28:07",
                    "sampledValue": [
                        {"value": 12.5, "measurand": "Request.Energy", "unit": None, "foo": 1},
                        {"value": "230", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
                    ],
                },
                {"timestamp": "2023-10-19T15:29:07+02", "sampledValue": []},
            ],
        }
    )
    leniency = Leniency(set(Rule))
    meter, repairs = leniency.decode(METER, data)
    assert meter.connector_id == 1
    assert meter.transaction_id == 42
    first, second = meter.meter_value
    assert first.timestamp == datetime(2023, 10, 19, 15, 28, 7, tzinfo=UTC)
    assert first.sampled_value[0].value == "12.5"
    assert first.sampled_value[0].measurand == "Request.Energy"
    assert first.sampled_value[0].unit is msgspec.UNSET
    assert first.sampled_value[1].unit is UnitOfMeasure.V
    assert second.timestamp == datetime(
        2023, 10, 19, 15, 29, 7, tzinfo=timezone(timedelta(hours=2))
    )
    assert second.sampled_value == []
    assert {(r.rule, r.path) for r in repairs} == {
        (Rule.NUMBERS_AS_STRINGS, "$.connectorId"),
        (Rule.NUMBERS_AS_STRINGS, "$.transactionId"),
        (Rule.TIMESTAMPS_WITHOUT_ZONE, "$.meterValue[0].timestamp"),
        (Rule.NUMBERS_AS_STRINGS, "$.meterValue[0].sampledValue[0].value"),
        (Rule.UNKNOWN_ENUM_VALUES, "$.meterValue[0].sampledValue[0].measurand"),
        (Rule.NULLS_AS_ABSENT, "$.meterValue[0].sampledValue[0].unit"),
        (Rule.EXTRA_PROPERTIES, "$.meterValue[0].sampledValue[0].foo"),
        (Rule.TIMESTAMPS_WITHOUT_ZONE, "$.meterValue[1].timestamp"),
        (Rule.EMPTY_LISTS, "$.meterValue[1].sampledValue"),
    }
    assert len(repairs) == 9
    assert leniency.counts == {
        Rule.NUMBERS_AS_STRINGS: 3,
        Rule.TIMESTAMPS_WITHOUT_ZONE: 2,
        Rule.UNKNOWN_ENUM_VALUES: 1,
        Rule.NULLS_AS_ABSENT: 1,
        Rule.EXTRA_PROPERTIES: 1,
        Rule.EMPTY_LISTS: 1,
    }


def test_one_missing_rule_makes_the_combination_fail() -> None:
    data = _meter_values(
        {"value": 12.5, "measurand": "Request.Energy"}, timestamp="2023-10-19T15:28:07"
    )
    leniency = Leniency({Rule.NUMBERS_AS_STRINGS, Rule.TIMESTAMPS_WITHOUT_ZONE})
    error = _lenient_error(leniency, METER, data)
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert error.path == "$.meterValue[0].sampledValue[0].measurand"
    assert leniency.counts == {}


# Hopeless payloads


@pytest.mark.parametrize(
    ("codec", "data", "code", "path"),
    [
        (BOOT, b"{", ErrorCode.FORMATION_VIOLATION, "$"),
        (BOOT, b"[]", ErrorCode.FORMATION_VIOLATION, "$"),
        (BOOT, b'{"chargePointVendor":"V"}', ErrorCode.PROTOCOL_ERROR, "$.chargePointModel"),
        (
            STATUS,
            b'{"connectorId":1,"errorCode":"NoError","status":{}}',
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
            "$.status",
        ),
        (
            CORE["Reset"].request_codec,
            b'{"type":["Hard"]}',
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
            "$.type",
        ),
    ],
)
def test_hopeless_payload_fails_with_the_original_kind_of_error(
    codec: PayloadCodec[Any], data: bytes, code: ErrorCode, path: str
) -> None:
    strict = _strict_error(codec, data)
    leniency = Leniency(set(Rule))
    error = _lenient_error(leniency, codec, data)
    assert (strict.code, strict.path) == (code, path)
    assert (error.code, error.path) == (code, path)
    assert leniency.counts == {}
