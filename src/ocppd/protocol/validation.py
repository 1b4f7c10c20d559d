"""Decoding and validating payloads against their types, with schema-exact errors.

msgspec decodes and validates in one pass; this module turns its errors into the OCPP-J
error code the behaviour notes assign, with the JSON path of the field and the reason.

Timestamps are parsed by msgspec, which also takes a lower-case `t` or `z`, a space for `T`
and a `+hhmm` offset. RFC 3339 allows the first two (section 5.6), ajv-formats (the strict
peer ocpp-rpc) takes all four; only the rfc3339-validator that jsonschema uses refuses them.
Checking for them costs a regex pass over every payload (9 of 10.7 us for a MeterValues), so
ocppd takes them: see the deviations in tests/protocol/test_schema_differential.py. What
ocppd sends is always canonical RFC 3339 (`...T...Z` or `+hh:mm`). A valid RFC 3339 timestamp
whose UTC time is outside years 1 to 9999 is refused as a value out of range
(PropertyConstraintViolation, `fields.check_utc_time`).
"""

from typing import Any, Generic, TypeVar

import msgspec

from ocppd.protocol.errors import ErrorCode, PayloadError
from ocppd.protocol.fields import NO_UTC_TIME

T = TypeVar("T")

_encoder = msgspec.json.Encoder()

# The start of msgspec's messages, in order of precedence, and the error code each one means.
# (Plain string tests: errors are answered often, and a regex per message costs microseconds.)
_MESSAGE_CODES: tuple[tuple[str, ErrorCode], ...] = (
    ("Object missing required field `", ErrorCode.PROTOCOL_ERROR),
    ("Object contains unknown field `", ErrorCode.FORMATION_VIOLATION),
    ("Expected `array` of length", ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
    ("Invalid enum value", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    ("Expected a number with at most", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (NO_UTC_TIME, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    ("Expected `", ErrorCode.TYPE_CONSTRAINT_VIOLATION),
    ("Invalid RFC3339", ErrorCode.TYPE_CONSTRAINT_VIOLATION),
    ("Number out of range", ErrorCode.TYPE_CONSTRAINT_VIOLATION),
)
_AT = " - at `"


def error_from_msgspec(exc: msgspec.MsgspecError) -> PayloadError:
    """The PayloadError for a msgspec decode or validation error."""
    message = str(exc)
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return PayloadError(ErrorCode.FORMATION_VIOLATION, f"Invalid JSON: {message}", "$")
    path, reason = _split_path(message)
    code = next(
        (code for prefix, code in _MESSAGE_CODES if reason.startswith(prefix)),
        ErrorCode.FORMATION_VIOLATION,
    )
    if code is ErrorCode.TYPE_CONSTRAINT_VIOLATION and path == "$":
        code = ErrorCode.FORMATION_VIOLATION  # the payload itself is not an object
    if reason.endswith("`") and reason.startswith(("Object missing", "Object contains")):
        # "... field `name`": the name runs to the last backtick, whatever it contains.
        path = f"{path}.{reason[reason.index('`') + 1 : -1]}"
    return PayloadError(code, reason, path)


def _split_path(message: str) -> tuple[str, str]:
    """("$.a.b", reason) from "reason - at `.b` - at `$.a`" (msgspec appends outer paths)."""
    parts: list[str] = []
    while message.endswith("`"):
        at = message.rfind(_AT)
        if at < 0:
            break
        parts.append(message[at + len(_AT) : -1])
        message = message[:at]
    path = "".join(parts) if parts else "$"
    if not path.startswith("$"):
        path = "$" + path
    return path, message


class PayloadCodec(Generic[T]):
    """Decodes bytes into one payload type and encodes it back, validating both ways."""

    def __init__(self, payload_type: type[T]) -> None:
        self.type = payload_type
        self._decoder = msgspec.json.Decoder(payload_type)

    def decode(self, data: bytes | str) -> T:
        """The payload, or PayloadError naming the field and the reason."""
        try:
            return self._decoder.decode(data)
        except msgspec.MsgspecError as exc:
            raise error_from_msgspec(exc) from None
        except UnicodeDecodeError as exc:  # JSON text is UTF-8 (RFC 8259 section 8.1)
            raise PayloadError(
                ErrorCode.FORMATION_VIOLATION, f"Invalid UTF-8: {exc}", "$"
            ) from None
        except RecursionError:  # msgspec's nesting bound (see ocppd.protocol.frames)
            raise PayloadError(
                ErrorCode.FORMATION_VIOLATION, "Nests arrays or objects too deeply", "$"
            ) from None

    def encode(self, payload: T) -> bytes:
        """The JSON of a payload that is valid; PayloadError (never a send) otherwise."""
        data = _encode(payload)
        self.decode(data)
        return data

    def convert(self, value: Any) -> T:
        """A payload from plain Python data (a dict with camelCase keys), validated."""
        return self.decode(_encode(value))


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
