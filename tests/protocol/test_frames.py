import msgspec
import pytest

from ocppd.protocol.errors import ErrorCode
from ocppd.protocol.frames import (
    Call,
    CallError,
    CallResult,
    FrameError,
    encode_call,
    encode_error,
    encode_result,
    parse_frame,
)


def test_call_is_parsed_with_raw_payload() -> None:
    frame = parse_frame(b'[2,"19223201","BootNotification",{"chargePointVendor":"V"}]')
    assert isinstance(frame, Call)
    assert frame.unique_id == "19223201"
    assert frame.action == "BootNotification"
    assert bytes(frame.payload) == b'{"chargePointVendor":"V"}'


def test_text_frames_are_accepted() -> None:
    frame = parse_frame('[2,"1","Heartbeat",{}]')
    assert isinstance(frame, Call)


def test_call_result_standard_form() -> None:
    frame = parse_frame(b'[3,"1",{"currentTime":"2026-01-01T00:00:00Z"}]')
    assert isinstance(frame, CallResult)
    assert frame.action is None
    assert msgspec.json.decode(frame.payload) == {"currentTime": "2026-01-01T00:00:00Z"}


def test_call_result_seed_form_with_action() -> None:
    frame = parse_frame(b'[3,"1","Heartbeat",{"currentTime":"2026-01-01T00:00:00Z"}]')
    assert isinstance(frame, CallResult)
    assert frame.action == "Heartbeat"
    assert msgspec.json.decode(frame.payload) == {"currentTime": "2026-01-01T00:00:00Z"}


def test_call_error() -> None:
    frame = parse_frame(b'[4,"7","NotSupported","nope",{"a":1}]')
    assert frame == CallError("7", "NotSupported", "nope", {"a": 1})


def test_call_error_without_details_is_tolerated() -> None:
    frame = parse_frame(b'[4,"7","GenericError","x"]')
    assert frame == CallError("7", "GenericError", "x", {})


@pytest.mark.parametrize(
    ("data", "unique_id", "message_type", "answerable", "words"),
    [
        (b"not json", None, None, False, "not valid JSON"),
        (b'{"a": 1}', None, None, False, "must be a JSON array"),
        (b"[]", None, None, False, "empty array"),
        (b'["2","1","Heartbeat",{}]', "1", None, True, "Message type must be an integer"),
        (b'[9,"1","Heartbeat",{}]', None, 9, False, "Unknown message type 9"),
        (b'[2,5,"Heartbeat",{}]', None, 2, False, "Unique id must be a string"),
        (b'[2,"1","Heartbeat"]', "1", 2, True, "CALL must have 4 elements"),
        (b'[2,"1","Heartbeat",{},1]', "1", 2, True, "CALL must have 4 elements"),
        (b'[2,"1",7,{}]', "1", 2, True, "action must be a string"),
        (b'[3,"1"]', "1", 3, False, "CALLRESULT must be"),
        (b'[3,"1",{},{}]', "1", 3, False, "CALLRESULT with 4 elements"),
        (b'[4,"1","X","y",[]]', "1", 4, False, "CALLERROR must be"),
    ],
)
def test_irregular_frames_say_what_is_wrong(
    data: bytes, unique_id: str | None, message_type: int | None, answerable: bool, words: str
) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(data)
    error = caught.value
    assert words in error.description
    assert error.unique_id == unique_id
    assert error.message_type == message_type
    assert error.answerable is answerable
    assert error.code is ErrorCode.FORMATION_VIOLATION


def test_unique_id_over_36_characters_is_refused_but_answerable() -> None:
    long_id = "x" * 37
    with pytest.raises(FrameError) as caught:
        parse_frame(f'[2,"{long_id}","Heartbeat",{{}}]')
    assert caught.value.unique_id == long_id
    assert caught.value.answerable
    assert "36" in caught.value.description


def test_unique_id_of_36_characters_is_fine() -> None:
    frame = parse_frame(f'[2,"{"x" * 36}","Heartbeat",{{}}]')
    assert isinstance(frame, Call)


def test_encoders_write_standard_frames() -> None:
    assert encode_call("1", "Heartbeat", b"{}") == b'[2,"1","Heartbeat",{}]'
    assert encode_result("1", b'{"x":1}') == b'[3,"1",{"x":1}]'
    assert encode_result("1", b"{}", "Heartbeat") == b'[3,"1","Heartbeat",{}]'
    assert encode_error("1", ErrorCode.NOT_SUPPORTED) == b'[4,"1","NotSupported","",{}]'
    assert encode_error('a"b', ErrorCode.GENERIC_ERROR, "d", {"k": [1]}) == (
        rb'[4,"a\"b","GenericError","d",{"k":[1]}]'
    )


def test_round_trip_of_encoded_frames() -> None:
    frame = parse_frame(encode_call('id"with quote', "Heartbeat", b"{}"))
    assert isinstance(frame, Call)
    assert frame.unique_id == 'id"with quote'


def test_bytes_that_are_not_utf8_are_a_frame_error() -> None:
    # Inside the payload they are found when the payload is decoded (FormationViolation).
    with pytest.raises(FrameError) as caught:
        parse_frame(b'[2,"1","Auth\xffrize",{}]')
    assert "not valid JSON" in caught.value.description
