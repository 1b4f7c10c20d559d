"""Tolerance rules for the quirks of real chargers (behaviour notes, section 8).

Strict is the default: a `Leniency` with no rules decodes exactly as the schemas say. Each
rule is switched on by name, per charge point. When a strict decode fails, the enabled rules
repair the offending value one at a time, guided by the error's path, and the payload is
decoded again. Every repair is returned, so that what a rule let through is counted and
logged, never silent. Repairs happen only after a strict failure: valid traffic pays nothing.

Values that no schema-valid placeholder can hold exactly (an over-long string, an unknown
enum value, an empty list) are decoded through a placeholder and put back afterwards, so that
what the charger sent is what gets stored.
"""

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
import msgspec.inspect as mi

from ocppd.protocol.errors import ErrorCode, PayloadError
from ocppd.protocol.validation import PayloadCodec


class Rule(StrEnum):
    NUMBERS_AS_STRINGS = "numbers_as_strings"
    """A number sent for a string (sampled `value`, config values), or a numeric string
    (or an integral float such as 5.0) sent for a number: coerced."""
    TIMESTAMPS_WITHOUT_ZONE = "timestamps_without_zone"
    """`2023-10-19T15:28:07` (taken as UTC), short or compact offsets (`+02`, `+0200`),
    a space or lower-case separator: normalised."""
    OVERLONG_STRINGS = "overlong_strings"
    """A string over its maxLength (26-character serials): kept whole."""
    UNKNOWN_ENUM_VALUES = "unknown_enum_values"
    """A value outside an enumeration (errorCode "Error", measurand "Request.Energy"): kept
    as the plain string the charger sent."""
    EXTRA_PROPERTIES = "extra_properties"
    """A property the schema does not know: dropped."""
    NULLS_AS_ABSENT = "nulls_as_absent"
    """`null` for an optional field, or "" for an optional non-string field: absent."""
    EMPTY_LISTS = "empty_lists"
    """`sampledValue: []` and other lists under their minItems: kept empty."""


@dataclass(frozen=True, slots=True)
class Repair:
    rule: Rule
    path: str
    detail: str


MAX_REPAIRS = 64

_decode_any = msgspec.json.Decoder()
_encode = msgspec.json.Encoder().encode
_PATH_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_LENGTH = re.compile(r"length <= (\d+)")
_EXPECTED = re.compile(r"^Expected `(\w+)`(?: \| `\w+`)*, got `(\w+)`")
_LOOSE_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)\s*"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})?)?"
)


NO_RULES: frozenset[Rule] = frozenset()
"""Shared by every charge point without rules (an empty frozenset is 216 bytes, per connection)."""


class Leniency:
    """The tolerance rules of one charge point, and what they have let through."""

    def __init__(self, rules: frozenset[Rule] | set[Rule] | tuple[Rule, ...] = ()) -> None:
        self.rules = frozenset(Rule(rule) for rule in rules) or NO_RULES
        self.counts: Counter[Rule] = Counter()

    def decode(self, codec: PayloadCodec[Any], data: bytes | str) -> tuple[Any, list[Repair]]:
        """The payload and the repairs it needed (none when it was valid)."""
        try:
            return codec.decode(data), []
        except PayloadError:
            if not self.rules:
                raise
        return self._repair(codec, data)

    def _repair(self, codec: PayloadCodec[Any], data: bytes | str) -> tuple[Any, list[Repair]]:
        try:
            document = _decode_any.decode(data)
        except (msgspec.DecodeError, RecursionError):
            return codec.decode(data), []  # not JSON: no rule helps; raises
        repairs: list[Repair] = []
        restores: list[tuple[list[str | int], Any]] = []
        root = mi.type_info(codec.type)
        for _ in range(MAX_REPAIRS):
            try:
                payload = codec.decode(_encode(document))
            except PayloadError as error:
                if not self._apply(error, document, root, repairs, restores):
                    raise
                continue
            # Innermost first: a later restore can lie inside an earlier placeholder
            # (`meterValue: []` gets a placeholder whose own `sampledValue` is repaired).
            for tokens, original in reversed(restores):
                _set_attribute(payload, tokens, original)
            self.counts.update(repair.rule for repair in repairs)
            return payload, repairs
        raise PayloadError(ErrorCode.FORMATION_VIOLATION, "Too many repairs needed", "$")

    def _apply(
        self,
        error: PayloadError,
        document: Any,
        root: mi.Type,
        repairs: list[Repair],
        restores: list[tuple[list[str | int], Any]],
    ) -> bool:
        tokens = _tokens(error.path)
        if not tokens:
            return False
        parent = _locate(document, tokens[:-1])
        key = tokens[-1]
        if parent is None or not _has(parent, key):
            return False
        value = parent[key]
        outcome = self._choose(error, value, _type_at(root, tokens), _is_required(root, tokens))
        if outcome is None:
            return False
        rule, action, replacement, restore = outcome
        if action == "drop":
            del parent[key]
        else:
            parent[key] = replacement
        if restore:
            restores.append((tokens, value))
        repairs.append(Repair(rule, error.path, f"{error.reason}: {value!r}"[:200]))
        return True

    def _choose(
        self, error: PayloadError, value: Any, expected: mi.Type | None, required: bool
    ) -> tuple[Rule, str, Any, bool] | None:
        """(rule, "drop" or "set", new value, restore the original afterwards) or None."""
        enabled = self.rules
        reason = error.reason
        if error.code is ErrorCode.FORMATION_VIOLATION and reason.startswith("Object contains"):
            return (
                (Rule.EXTRA_PROPERTIES, "drop", None, False)
                if (Rule.EXTRA_PROPERTIES in enabled)
                else None
            )
        if (
            Rule.NULLS_AS_ABSENT in enabled
            and not required
            and (value is None or (value == "" and not isinstance(expected, mi.StrType)))
        ):
            return Rule.NULLS_AS_ABSENT, "drop", None, False
        if Rule.NUMBERS_AS_STRINGS in enabled and (number := _coerce_number(reason, value)):
            return Rule.NUMBERS_AS_STRINGS, "set", number[0], False
        if (
            Rule.TIMESTAMPS_WITHOUT_ZONE in enabled
            and error.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION  # not a valid one out of range
            and isinstance(value, str)
            and isinstance(expected, mi.DateTimeType)
            and (timestamp := _normalise_timestamp(value)) is not None
        ):
            return Rule.TIMESTAMPS_WITHOUT_ZONE, "set", timestamp, False
        if Rule.OVERLONG_STRINGS in enabled and isinstance(value, str):
            limit = _LENGTH.search(reason)
            if limit is not None and reason.startswith("Expected `str`"):
                return Rule.OVERLONG_STRINGS, "set", value[: int(limit.group(1))], True
        if (
            Rule.UNKNOWN_ENUM_VALUES in enabled
            and reason.startswith("Invalid enum value")
            and isinstance(expected, mi.EnumType)
        ):
            return Rule.UNKNOWN_ENUM_VALUES, "set", next(iter(expected.cls)).value, True
        if (
            Rule.EMPTY_LISTS in enabled
            and value == []
            and isinstance(expected, mi.ListType)
            and error.code is ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
        ):
            return Rule.EMPTY_LISTS, "set", [_placeholder(expected.item_type)], True
        return None


def _coerce_number(reason: str, value: Any) -> tuple[Any] | None:
    """(coerced,) when `value` is a number where a string belongs or the reverse."""
    match = _EXPECTED.match(reason)
    if match is None or isinstance(value, bool):
        return None
    expected = match.group(1)
    if expected == "str" and isinstance(value, int | float):
        return (_encode(value).decode(),)
    if expected in ("int", "float") and isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        if not math.isfinite(number):
            return None  # "NaN" or "inf": JSON has no such number
        if expected == "float":
            return (number,)
        return (int(number),) if number.is_integer() else None
    if expected == "int" and isinstance(value, float) and value.is_integer():
        return (int(value),)
    return None


def _normalise_timestamp(text: str) -> str | None:
    match = _LOOSE_TIMESTAMP.fullmatch(text.strip())
    if match is None:
        return None
    date, time = match.group(1), match.group(2).replace(",", ".")
    if match.group("sign"):
        zone = f"{match.group('sign')}{match.group('hh')}:{match.group('mm') or '00'}"
    else:
        zone = "Z"
    candidate = f"{date}T{time}{zone}"
    try:
        datetime.fromisoformat(candidate.replace("Z", "+00:00"))
    except ValueError:
        return None
    return candidate


def _tokens(path: str) -> list[str | int]:
    if not path.startswith("$"):
        return []
    return [name if name else int(index) for name, index in _PATH_TOKEN.findall(path[1:])]


def _is_required(root: mi.Type, tokens: list[str | int]) -> bool:
    """Whether the path names a field that its object requires (list items are not fields)."""
    parent = _type_at(root, tokens[:-1])
    key = tokens[-1]
    if not isinstance(key, str) or not isinstance(parent, mi.StructType):
        return False
    return any(f.required for f in parent.fields if f.encode_name == key)


def _has(container: Any, key: str | int) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and key < len(container)


def _locate(document: Any, tokens: list[str | int]) -> Any:
    node = document
    for token in tokens:
        if not _has(node, token):
            return None
        node = node[token]
    return node


def _type_at(info: mi.Type, tokens: list[str | int]) -> mi.Type | None:
    node: mi.Type | None = info
    for token in tokens:
        node = _unwrap(node)
        if isinstance(token, int) and isinstance(node, mi.ListType):
            node = node.item_type
        elif isinstance(token, str) and isinstance(node, mi.StructType):
            node = next((f.type for f in node.fields if f.encode_name == token), None)
        else:
            return None
    return _unwrap(node)


def _unwrap(info: mi.Type | None) -> mi.Type | None:
    if isinstance(info, mi.UnionType):
        members = [t for t in info.types if not isinstance(t, mi.NoneType)]
        return members[0] if len(members) == 1 else info
    return info


def _placeholder(info: mi.Type) -> Any:
    """A minimal schema-valid JSON value of a type (for a list that must not be empty)."""
    info = _unwrap(info) or info
    if isinstance(info, mi.StructType):
        return {f.encode_name: _placeholder(f.type) for f in info.fields if f.required}
    if isinstance(info, mi.ListType):
        return [_placeholder(info.item_type)] if info.min_length else []
    if isinstance(info, mi.EnumType):
        return next(iter(info.cls)).value
    if isinstance(info, mi.DateTimeType):
        return "1970-01-01T00:00:00Z"
    if isinstance(info, mi.BoolType):
        return False
    if isinstance(info, mi.IntType | mi.FloatType):
        return 0
    return ""


def _set_attribute(payload: Any, tokens: list[str | int], value: Any) -> None:
    """Put `value` back at a JSON path of a decoded payload (wire names -> attributes)."""
    node = payload
    for token in tokens[:-1]:
        node = node[token] if isinstance(token, int) else getattr(node, _attribute(node, token))
    last = tokens[-1]
    if isinstance(last, int):
        node[last] = value
    else:
        setattr(node, _attribute(node, last), value)


def _attribute(struct: Any, wire_name: str) -> str:
    names: tuple[str, ...] = struct.__struct_fields__
    wire: tuple[str, ...] = struct.__struct_encode_fields__
    return names[wire.index(wire_name)]
