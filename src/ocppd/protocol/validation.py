"""Decoding and validating payloads against their types, with schema-exact errors.

msgspec decodes and validates in one pass; this module turns its errors into the OCPP-J
error code the behaviour notes assign, with the JSON path of the field and the reason, and
closes the one gap between msgspec and RFC 3339 (msgspec also takes `t`, `z`, a space and
`+hhmm`, which `format: date-time` refuses).
"""

import re
from typing import Any, Generic, TypeVar

import msgspec
import msgspec.inspect as mi

from ocppd.protocol.errors import ErrorCode, PayloadError

T = TypeVar("T")

_decode_json = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

# A payload whose bytes match this may hold a timestamp that msgspec accepts and RFC 3339
# does not; only then are timestamps checked one by one. `\u` escapes can hide anything.
_LOOSE_TIMESTAMP = re.compile(
    rb'\d\d:\d\d:\d\d(?:\.\d+)?(?:z|[+-]\d{4})"|\d{4}-\d\d-\d\d[t ]\d\d:|\\u'
)
_RFC3339 = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)

# msgspec's messages, in order of precedence, and the error code each one means.
_MESSAGE_CODES: list[tuple[re.Pattern[str], ErrorCode]] = [
    (re.compile(r"^Object missing required field `"), ErrorCode.PROTOCOL_ERROR),
    (re.compile(r"^Object contains unknown field `"), ErrorCode.FORMATION_VIOLATION),
    (re.compile(r"^Expected `array` of length"), ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
    (re.compile(r"^Invalid enum value"), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (re.compile(r"^Expected a number with at most"), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (
        re.compile(r"^Expected `|^Invalid RFC3339|^Number out of range"),
        ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    ),
]
_AT = re.compile(r" - at `([^`]*)`$")
_FIELD_NAME = re.compile(r"field `([^`]*)`")


def error_from_msgspec(exc: msgspec.MsgspecError) -> PayloadError:
    """The PayloadError for a msgspec decode or validation error."""
    message = str(exc)
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return PayloadError(ErrorCode.FORMATION_VIOLATION, f"Invalid JSON: {message}", "$")
    path, reason = _split_path(message)
    code = next(
        (code for pattern, code in _MESSAGE_CODES if pattern.search(reason)),
        ErrorCode.FORMATION_VIOLATION,
    )
    if code is ErrorCode.TYPE_CONSTRAINT_VIOLATION and path == "$":
        code = ErrorCode.FORMATION_VIOLATION  # the payload itself is not an object
    if code in (ErrorCode.PROTOCOL_ERROR, ErrorCode.FORMATION_VIOLATION):
        field = _FIELD_NAME.search(reason)
        if field is not None:
            path = f"{path}.{field.group(1)}"
    return PayloadError(code, reason, path)


def _split_path(message: str) -> tuple[str, str]:
    """("$.a.b", reason) from "reason - at `.b` - at `$.a`" (msgspec appends outer paths)."""
    parts: list[str] = []
    while (match := _AT.search(message)) is not None:
        parts.append(match.group(1))
        message = message[: match.start()]
    path = "".join(parts) if parts else "$"
    if not path.startswith("$"):
        path = "$" + path
    return path, message


class PayloadCodec(Generic[T]):
    """Decodes bytes into one payload type and encodes it back, validating both ways."""

    def __init__(self, payload_type: type[T]) -> None:
        self.type = payload_type
        self._decoder = msgspec.json.Decoder(payload_type)
        self._timestamp_paths = _timestamp_paths(mi.type_info(payload_type))

    def decode(self, data: bytes | str) -> T:
        """The payload, or PayloadError naming the field and the reason."""
        try:
            payload = self._decoder.decode(data)
        except msgspec.MsgspecError as exc:
            raise error_from_msgspec(exc) from None
        if self._timestamp_paths and _LOOSE_TIMESTAMP.search(_as_bytes(data)):
            self._check_timestamps(data)
        return payload

    def encode(self, payload: T) -> bytes:
        """The JSON of a payload that is valid; PayloadError (never a send) otherwise."""
        data = _encode(payload)
        self.decode(data)
        return data

    def convert(self, value: Any) -> T:
        """A payload from plain Python data (a dict with camelCase keys), validated."""
        return self.decode(_encode(value))

    def _check_timestamps(self, data: bytes | str) -> None:
        document = _decode_json.decode(data)
        for path, text in _walk(document, self._timestamp_paths, "$"):
            if _RFC3339.fullmatch(text) is None:
                raise PayloadError(
                    ErrorCode.TYPE_CONSTRAINT_VIOLATION, "Invalid RFC3339 encoded datetime", path
                )


_codecs: dict[type[Any], PayloadCodec[Any]] = {}


def codec_for(payload_type: type[T]) -> PayloadCodec[T]:
    """The shared codec of a payload type (built once)."""
    codec = _codecs.get(payload_type)
    if codec is None:
        codec = _codecs[payload_type] = PayloadCodec(payload_type)
    return codec


def _encode(value: Any) -> bytes:
    """JSON of any value; PayloadError for one that JSON cannot hold (e.g. an `object()`)."""
    try:
        return _encoder.encode(value)
    except (TypeError, msgspec.EncodeError) as exc:
        raise PayloadError(
            ErrorCode.TYPE_CONSTRAINT_VIOLATION, f"Cannot be encoded: {exc}", "$"
        ) from None


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


# A timestamp path is a tuple of keys, "[]" standing for every item of a list.
_Path = tuple[str, ...]


def _timestamp_paths(info: mi.Type, prefix: _Path = ()) -> list[_Path]:
    if isinstance(info, mi.DateTimeType):
        return [prefix]
    if isinstance(info, mi.StructType):
        return [
            path
            for field in info.fields
            for path in _timestamp_paths(field.type, (*prefix, field.encode_name))
        ]
    if isinstance(info, mi.ListType):
        return _timestamp_paths(info.item_type, (*prefix, "[]"))
    if isinstance(info, mi.UnionType):
        return [path for member in info.types for path in _timestamp_paths(member, prefix)]
    return []


def _walk(document: Any, paths: list[_Path], where: str) -> list[tuple[str, str]]:
    """(JSON path, string) for every value found at the given paths in a decoded document."""
    found: list[tuple[str, str]] = []
    for path in paths:
        _collect(document, path, where, found)
    return found


def _collect(node: Any, path: _Path, where: str, found: list[tuple[str, str]]) -> None:
    if not path:
        if isinstance(node, str):
            found.append((where, node))
        return
    head, rest = path[0], path[1:]
    if head == "[]":
        if isinstance(node, list):
            for index, item in enumerate(node):
                _collect(item, rest, f"{where}[{index}]", found)
    elif isinstance(node, dict) and head in node:
        _collect(node[head], rest, f"{where}.{head}", found)
