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


@pytest.mark.parametrize("length", [37, 100_000])
def test_unique_id_over_36_characters_is_refused_echoing_a_bounded_prefix(length: int) -> None:
    long_id = "".join(str(n % 10) for n in range(length))
    with pytest.raises(FrameError) as caught:
        parse_frame(f'[2,"{long_id}","Heartbeat",{{}}]')
    assert caught.value.unique_id == long_id[:36]
    assert caught.value.answerable
    assert caught.value.code is ErrorCode.FORMATION_VIOLATION
    assert "1 to 36 characters" in caught.value.description


def test_an_empty_unique_id_is_refused() -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(b'[2,"","Heartbeat",{}]')
    assert caught.value.unique_id == ""
    assert caught.value.answerable
    assert caught.value.code is ErrorCode.FORMATION_VIOLATION
    with pytest.raises(FrameError) as result:
        parse_frame(b'[3,"",{}]')
    assert not result.value.answerable


DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    "data",
    [
        '[2,"d","DataTransfer",{"vendorId":"v","data":' + DEEP + "}]",
        '[2,"d","DataTransfer",{"vendorId":"v","data":' + "[" * 100_000 + "]" * 100_000 + "}]",
        '[2,"d","DataTransfer",{"vendorId":"v","data":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}]",
    ],
)
def test_deep_nesting_is_a_frame_error_with_the_id(data: str) -> None:
    for given in (data, data.encode()):
        with pytest.raises(FrameError) as caught:
            parse_frame(given)
        assert caught.value.unique_id == "d"
        assert caught.value.answerable
        assert caught.value.code is ErrorCode.FORMATION_VIOLATION
        assert "too deeply" in caught.value.description


def test_deep_nesting_in_a_result_is_not_answered() -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame('[3,"r",' + DEEP + "]")
    assert not caught.value.answerable


def test_nesting_that_ocpp_uses_is_parsed() -> None:
    frame = parse_frame('[4,"e","GenericError","",{"a":' + "[" * 50 + "]" * 50 + "}]")
    assert isinstance(frame, CallError)


@pytest.mark.parametrize(
    "payload", ['{"data":"\\ud800"}', '{"data":"a\\udfffb"}', '{"k\\udbff":1}']
)
def test_a_lone_surrogate_escape_is_a_frame_error_with_the_id(payload: str) -> None:
    for given in (f'[2,"s","DataTransfer",{payload}]', f'[2, "s" ,"X",{payload}]'.encode()):
        with pytest.raises(FrameError) as caught:
            parse_frame(given)
        assert caught.value.unique_id == "s"
        assert caught.value.answerable
        assert "surrogate" in caught.value.description


def test_a_surrogate_pair_is_a_character() -> None:
    frame = parse_frame('[2,"s","DataTransfer",{"vendorId":"\\ud83d\\ude00"}]')
    assert isinstance(frame, Call)


def test_an_id_that_cannot_be_read_is_not_answered() -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame('[2,"\\ud800","Heartbeat",{"x":"\\ud800"}]')
    assert caught.value.unique_id is None
    assert not caught.value.answerable


def test_a_frame_cut_short_is_answered_when_its_id_was_read() -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame('[2, "a\\"b", "Heartbeat", {')
    assert caught.value.unique_id == 'a"b'
    assert caught.value.answerable
    assert "not valid JSON" in caught.value.description


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
