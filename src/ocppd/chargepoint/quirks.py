"""Quirk personas: a station that behaves like the non-conforming chargers of the field
(behaviour notes, section 8), so that a central system can be tested against them.

The station itself stays correct; its frames are bent on their way out, after the session
has validated them (`QuirkRewriter`, the transport's `outgoing` hook). Each quirk names the
tolerance rule of ocppd's central system that lets it through, where there is one:

- `timestamps_without_zone`: `2023-10-19T15:28:07`, UTC without its zone (Growatt).
  Rule: timestamps_without_zone.
- `numbers_as_strings`: a sampled `value` as a JSON number (OpenEVSE). Rule:
  numbers_as_strings.
- `overlong_strings`: a 26-character serial, a 22-character model (Schneider, Grizzl-E).
  Rule: overlong_strings.
- `error_code_error`: errorCode `Error` when Faulted. Rule: unknown_enum_values.
- `duplicate_start`: every StartTransaction twice, the second with a new uniqueId. No
  rule: the central system answers the same transactionId.
- `minus_one_after_offline_start`: transactionId -1 in the messages of a transaction
  started offline, even once it has an id (Hager). No rule: stops are always answered.
"""

import re
import uuid
from enum import StrEnum
from typing import Any

import msgspec

from ocppd.protocol.leniency import Rule


class Quirk(StrEnum):
    TIMESTAMPS_WITHOUT_ZONE = "timestamps_without_zone"
    NUMBERS_AS_STRINGS = "numbers_as_strings"
    OVERLONG_STRINGS = "overlong_strings"
    ERROR_CODE_ERROR = "error_code_error"
    DUPLICATE_START = "duplicate_start"
    MINUS_ONE_AFTER_OFFLINE_START = "minus_one_after_offline_start"


RULES: dict[Quirk, Rule | None] = {
    Quirk.TIMESTAMPS_WITHOUT_ZONE: Rule.TIMESTAMPS_WITHOUT_ZONE,
    Quirk.NUMBERS_AS_STRINGS: Rule.NUMBERS_AS_STRINGS,
    Quirk.OVERLONG_STRINGS: Rule.OVERLONG_STRINGS,
    Quirk.ERROR_CODE_ERROR: Rule.UNKNOWN_ENUM_VALUES,
    Quirk.DUPLICATE_START: None,
    Quirk.MINUS_ONE_AFTER_OFFLINE_START: None,
}
"""The tolerance rule of ocppd's central system that accepts each quirk."""

SERIAL_LENGTH = 26
MODEL_LENGTH = 22
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
_FRAME_QUIRKS = frozenset(RULES) - {Quirk.MINUS_ONE_AFTER_OFFLINE_START}

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class QuirkRewriter:
    """The frames a quirky station sends instead of the frame it means."""

    def __init__(self, quirks: frozenset[Quirk]) -> None:
        self.quirks = quirks & _FRAME_QUIRKS

    def __call__(self, frame: bytes) -> list[bytes]:
        if not self.quirks:
            return [frame]
        message = _decode(frame)
        if not (isinstance(message, list) and len(message) == 4 and message[0] == 2):
            return [frame]  # only the station's own calls are bent
        action, payload = message[2], message[3]
        self._bend(action, payload)
        frames = [_encode(message)]
        if Quirk.DUPLICATE_START in self.quirks and action == "StartTransaction":
            frames.append(_encode([2, str(uuid.uuid4()), action, payload]))
        return frames

    def _bend(self, action: str, payload: dict[str, Any]) -> None:
        quirks = self.quirks
        if Quirk.TIMESTAMPS_WITHOUT_ZONE in quirks:
            _walk(payload, _zoneless)
        if Quirk.NUMBERS_AS_STRINGS in quirks:
            for reading in (*payload.get("meterValue", ()), *payload.get("transactionData", ())):
                for sampled in reading.get("sampledValue", ()):
                    sampled["value"] = _number(sampled["value"])
        if Quirk.OVERLONG_STRINGS in quirks and action == "BootNotification":
            serial = payload.get("chargePointSerialNumber") or "SN"
            payload["chargePointSerialNumber"] = (serial + "-" + "0" * SERIAL_LENGTH)[
                :SERIAL_LENGTH
            ]
            payload["chargePointModel"] = payload["chargePointModel"].ljust(MODEL_LENGTH, "X")
        if (
            Quirk.ERROR_CODE_ERROR in quirks
            and action == "StatusNotification"
            and payload.get("status") == "Faulted"
        ):
            payload["errorCode"] = "Error"


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _walk(item, change)
        return value
    if isinstance(value, list):
        return [_walk(item, change) for item in value]
    return change(value)


def _zoneless(value: Any) -> Any:
    if isinstance(value, str):
        match = _TIMESTAMP.match(value)
        if match:
            return match.group(1)
    return value


def _number(value: Any) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() else number


def parse_quirks(names: str) -> frozenset[Quirk]:
    """`a,b` -> the quirks; `all` = every one. ValueError for an unknown name."""
    if names.strip() == "all":
        return frozenset(Quirk)
    try:
        return frozenset(Quirk(name.strip()) for name in names.split(",") if name.strip())
    except ValueError:
        known = ", ".join(quirk.value for quirk in Quirk)
        raise ValueError(f"Unknown quirk in {names!r}: {known}, or all") from None
