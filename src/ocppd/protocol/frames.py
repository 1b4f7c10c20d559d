"""OCPP-J frames: CALL `[2, id, action, payload]`, CALLRESULT `[3, id, payload]` and
CALLERROR `[4, id, code, description, details]`.

Frames are parsed in one msgspec pass; the payload stays raw JSON (`msgspec.Raw`) until the
action is known and its typed codec decodes it. Anything that is not a frame raises
`FrameError`, which carries the unique id when one could be read, so that it can be answered.

Nesting is bounded by msgspec's parser itself: it counts every array and object it enters
against the interpreter's recursion limit (1,000 frames, less the caller's stack) and raises
`RecursionError` beyond it, which is a `FrameError` here. OCPP 1.6 payloads nest at most 5
deep, so the bound costs nothing on the way of a valid frame. A frame that is not JSON (too
deep, a lone surrogate escape such as `"\\ud800"`, cut short) is still answered when its head
`[2, "<id>"` can be read.
"""

import json
import re
from enum import IntEnum
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from ocppd.protocol.errors import ErrorCode, OCPPError

MAX_UNIQUE_ID_LENGTH = 36
"""OCPP-J 4.1.4: a unique id is at most 36 characters; a longer one is refused and only this
many of its first characters are echoed in the CALLERROR."""

UniqueId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_UNIQUE_ID_LENGTH)]
EMPTY_PAYLOAD = msgspec.Raw(b"{}")


class MessageType(IntEnum):
    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4


class Call(msgspec.Struct, array_like=True, tag=2, frozen=True, forbid_unknown_fields=True):
    unique_id: UniqueId
    action: str
    payload: msgspec.Raw


class CallResult(msgspec.Struct, frozen=True):
    """A result. `action` is set when the peer used the seed document's 4-element form."""

    unique_id: UniqueId
    payload: msgspec.Raw
    action: str | None = None


class CallError(msgspec.Struct, array_like=True, tag=4, frozen=True, forbid_unknown_fields=True):
    unique_id: UniqueId
    error_code: str
    error_description: str = ""
    error_details: dict[str, Any] = {}


Frame = Call | CallResult | CallError


class _PlainResult(msgspec.Struct, array_like=True, tag=3):
    unique_id: str
    payload: msgspec.Raw


class _ResultWithAction(msgspec.Struct, array_like=True, tag=3):
    """`[3, id, action, payload]`, the seed document's form, sent where configured."""

    unique_id: str
    action: str
    payload: msgspec.Raw


class _ResultFrame(msgspec.Struct, array_like=True, tag=3, forbid_unknown_fields=True):
    """What a received `[3, ...]` may be: `[3, id, payload]` or `[3, id, action, payload]`."""

    unique_id: UniqueId
    second: msgspec.Raw
    third: msgspec.Raw | UnsetType = UNSET


_frame_decoder = msgspec.json.Decoder(Call | _ResultFrame | CallError)
_action_decoder = msgspec.json.Decoder(str)
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class FrameError(OCPPError):
    """Received text that is not a valid OCPP-J frame.

    `unique_id` is the id when one could be read; `message_type` the type number when it
    could be read. `answerable` says whether a CALLERROR should go back: only for what
    looks like a CALL with a readable id (a bad result or error is only logged, and an
    unknown message type is ignored, OCPP-J 4.1.3).
    """

    def __init__(
        self,
        description: str,
        *,
        code: ErrorCode = ErrorCode.FORMATION_VIOLATION,
        unique_id: str | None = None,
        message_type: int | None = None,
    ) -> None:
        super().__init__(description, code=code)
        self.unique_id = unique_id
        self.message_type = message_type

    @property
    def answerable(self) -> bool:
        return self.unique_id is not None and self.message_type in (MessageType.CALL, None)


def parse_frame(data: bytes | str) -> Frame:
    """The frame in `data`, or FrameError saying what is wrong with it."""
    try:
        frame: Call | _ResultFrame | CallError = _frame_decoder.decode(data)
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        return _parse_irregular(data)
    if isinstance(frame, _ResultFrame):
        return _result(frame)
    return frame


def _result(frame: _ResultFrame) -> CallResult:
    if frame.third is UNSET:
        return CallResult(frame.unique_id, frame.second)
    try:
        action = _action_decoder.decode(frame.second)
    except msgspec.MsgspecError:
        raise FrameError(
            "CALLRESULT with 4 elements must be [3, uniqueId, action, payload]",
            unique_id=frame.unique_id,
            message_type=MessageType.CALLRESULT,
        ) from None
    return CallResult(frame.unique_id, frame.third, action)


def _parse_irregular(data: bytes | str) -> Frame:
    """Explain precisely why `data` is not a frame (the slow path, errors only)."""
    try:
        value = _any_decoder.decode(data)
    except RecursionError:
        raise FrameError("Frame nests arrays or objects too deeply", **_head(data)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise FrameError(
            f"Frame is not valid JSON: {_json_problem(data, exc)}", **_head(data)
        ) from None
    if not isinstance(value, list):
        raise FrameError(f"Frame must be a JSON array, got {type(value).__name__}")
    if not value:
        raise FrameError("Frame is an empty array")
    message_type = value[0]
    unique_id = value[1] if len(value) > 1 and isinstance(value[1], str) else None
    if type(message_type) is not int:
        raise FrameError(
            f"Message type must be an integer, got {message_type!r}",
            unique_id=_echoed(unique_id),
        )
    if message_type not in (2, 3, 4):
        raise FrameError(f"Unknown message type {message_type}", message_type=message_type)
    if unique_id is None:
        raise FrameError("Unique id must be a string", message_type=message_type)
    if not unique_id or len(unique_id) > MAX_UNIQUE_ID_LENGTH:
        raise FrameError(
            f"Unique id must be 1 to {MAX_UNIQUE_ID_LENGTH} characters, got {len(unique_id)}",
            unique_id=_echoed(unique_id),
            message_type=message_type,
        )
    raise FrameError(
        _shape_problem(message_type, value), unique_id=unique_id, message_type=message_type
    )


def _echoed(unique_id: str | None) -> str | None:
    """What of a received id goes back in a CALLERROR: a bounded prefix."""
    return None if unique_id is None else unique_id[:MAX_UNIQUE_ID_LENGTH]


# `[<type>, "<id>"` at the start of a frame, read when the whole is not JSON.
_HEAD = re.compile(r'\s*\[\s*([0-9]{1,9})\s*,\s*("(?:[^"\\\x00-\x1f]|\\.)*")')


def _text(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def _head(data: bytes | str) -> dict[str, Any]:
    """The message type and (bounded) unique id at the start of `data`, where readable."""
    match = _HEAD.match(_text(data))
    if match is None:
        return {}
    try:
        unique_id = _action_decoder.decode(match[2])
    except msgspec.DecodeError:  # the id itself holds a lone surrogate
        return {"message_type": int(match[1])}
    return {"unique_id": _echoed(unique_id), "message_type": int(match[1])}


def _json_problem(data: bytes | str, exc: Exception) -> str:
    """msgspec's reason, or the lone surrogate escape it calls "Input data was truncated"
    (the standard library's parser takes those, and nothing else that msgspec refuses)."""
    if "truncated" not in str(exc):
        return str(exc)
    try:
        json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return str(exc)
    return "a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff)"


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_SHAPES = {
    2: "[2, uniqueId, action, payload]",
    3: "[3, uniqueId, payload]",
    4: "[4, uniqueId, errorCode, errorDescription, errorDetails]",
}


def _shape_problem(message_type: int, value: list[Any]) -> str:
    expected = _SHAPES[message_type]
    if message_type == MessageType.CALL:
        if len(value) != 4:
            return f"CALL must have 4 elements {expected}, got {len(value)}"
        if not isinstance(value[2], str):
            return "CALL action must be a string"
        return f"CALL payload must be a JSON object, got {type(value[3]).__name__}"
    if message_type == MessageType.CALLRESULT:
        return f"CALLRESULT must be {expected} (or [3, uniqueId, action, payload])"
    return f"CALLERROR must be {expected} with string code and description and object details"


def encode_call(unique_id: str, action: str, payload: bytes) -> bytes:
    """A CALL frame around an already encoded payload."""
    return _encoder.encode(Call(unique_id, action, msgspec.Raw(payload)))


def encode_result(unique_id: str, payload: bytes, action: str | UnsetType = UNSET) -> bytes:
    """A CALLRESULT frame; with `action`, the seed document's 4-element form."""
    if action is UNSET:
        return _encoder.encode(_PlainResult(unique_id, msgspec.Raw(payload)))
    return _encoder.encode(_ResultWithAction(unique_id, action, msgspec.Raw(payload)))


def encode_error(
    unique_id: str, code: ErrorCode, description: str = "", details: dict[str, Any] | None = None
) -> bytes:
    """A CALLERROR frame. Codes are always the 1.6 spellings."""
    return _encoder.encode(CallError(unique_id, code.value, description, details or {}))
