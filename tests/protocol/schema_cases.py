"""The official OCPP 1.6 JSON schemas as test data: loading, walking, generating, mutating.

Used by `test_schema_differential.py`. Nothing here knows about ocppd: it only reads the schema
files and builds JSON documents from them.

The files are those the `ocpp` package ships (`ocpp/v16/schemas/`, the same 78 files as
`shared/ocpp16/schemas`): a dependency `make test` installs, so a plain clone has them.
`$OCPPD_SCHEMA_DIR` points elsewhere. A directory without the 78 files fails the tests that use
it; it never skips them. The oracle and the deliberate deviations live in the test itself.
"""

import importlib.util
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema


def _packaged_schemas() -> Path:
    spec = importlib.util.find_spec("ocpp")
    assert spec is not None and spec.origin is not None, "the locked `ocpp` package is missing"
    return Path(spec.origin).parent / "v16" / "schemas"


SCHEMA_DIR = Path(os.environ.get("OCPPD_SCHEMA_DIR") or _packaged_schemas())
SCHEMA_FILE_COUNT = 78

Schema = dict[str, Any]
Token = str | int
"""One step of a path into a document: a property name or an array index."""


def schema_files() -> list[str]:
    files = sorted(path.name for path in SCHEMA_DIR.glob("*.json"))
    if len(files) != SCHEMA_FILE_COUNT:
        raise FileNotFoundError(
            f"{SCHEMA_DIR} holds {len(files)} schema files, not the {SCHEMA_FILE_COUNT} of OCPP 1.6"
        )
    return files


@cache
def _load_text(file: str) -> str:
    return (SCHEMA_DIR / file).read_text(encoding="utf-8")


def load_schema(file: str) -> Schema:
    """The schema file exactly as published (a fresh copy)."""
    schema: Schema = json.loads(_load_text(file))
    return schema


@cache
def _resolved(file: str) -> str:
    root = load_schema(file)

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                ref = node["$ref"]
                assert ref.startswith("#/definitions/"), ref
                return inline(root["definitions"][ref.removeprefix("#/definitions/")])
            return {
                key: inline(value)
                for key, value in node.items()
                if key not in ("definitions", "$id", "$schema", "id")
            }
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return json.dumps(inline(root))


def resolved_schema(file: str) -> Schema:
    """The schema with every local `$ref` inlined, without ids and definitions (a fresh copy)."""
    schema: Schema = json.loads(_resolved(file))
    return schema


def is_draft6(file: str) -> bool:
    return "draft-06" in load_schema(file)["$schema"]


def json_path(path: tuple[Token, ...]) -> str:
    """`$.meterValue[0].timestamp`, as ocppd's PayloadError.path spells it."""
    return "$" + "".join(f"[{token}]" if isinstance(token, int) else f".{token}" for token in path)


# Walking a document along its schema


@dataclass(frozen=True)
class Site:
    """One value in a document, with the (resolved) schema that describes it."""

    path: tuple[Token, ...]
    schema: Schema
    value: Any
    required: bool
    """Required by its parent object (False for array items and for the root)."""

    @property
    def type(self) -> str | None:
        kind = self.schema.get("type")
        return kind if isinstance(kind, str) else None

    @property
    def name(self) -> str | None:
        """The property name, or for an array item the name of its array."""
        for token in reversed(self.path):
            if isinstance(token, str):
                return token
        return None


def walk(schema: Schema, doc: Any) -> list[Site]:
    sites: list[Site] = []
    _walk(schema, doc, (), False, sites)
    return sites


def _walk(
    schema: Schema, value: Any, path: tuple[Token, ...], required: bool, out: list[Site]
) -> None:
    out.append(Site(path, schema, value, required))
    if isinstance(value, dict) and schema.get("type") == "object":
        properties = schema.get("properties", {})
        needed = set(schema.get("required", ()))
        for key, item in value.items():
            if key in properties:
                _walk(properties[key], item, (*path, key), key in needed, out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _walk(schema["items"], item, (*path, index), False, out)


def schema_nodes(schema: Schema) -> Iterator[Schema]:
    """Every subschema that describes a value (objects, their properties, array items)."""
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from schema_nodes(sub)
    if isinstance(schema.get("items"), dict):
        yield from schema_nodes(schema["items"])


# Serialising: our own, so that a value Python cannot hold (1e400) can be written


class Raw(str):
    """JSON text put into a document as it is (e.g. `1e400`, which no float holds)."""


def dumps(doc: Any, *, ensure_ascii: bool = False) -> bytes:
    return _dumps(doc, ensure_ascii).encode("utf-8", "surrogatepass")


def _dumps(value: Any, ensure_ascii: bool) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        items = (
            f"{json.dumps(key, ensure_ascii=ensure_ascii)}:{_dumps(item, ensure_ascii)}"
            for key, item in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dumps(item, ensure_ascii) for item in value) + "]"
    return json.dumps(value, ensure_ascii=ensure_ascii, allow_nan=False)


# Editing a document at a path (always on a deep copy)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def replaced(doc: Any, path: tuple[Token, ...], value: Any) -> Any:
    if not path:
        return value
    result = _copy(doc)
    parent = result
    for token in path[:-1]:
        parent = parent[token]
    parent[path[-1]] = value
    return result


def deleted(doc: Any, path: tuple[Token, ...]) -> Any:
    result = _copy(doc)
    parent = result
    for token in path[:-1]:
        parent = parent[token]
    del parent[path[-1]]
    return result


# Valid documents


def _two_digits(value: int) -> str:
    return f"{value:02d}"


@st.composite
def date_times(draw: st.DrawFn) -> str:
    """RFC 3339 date-times as the official checker accepts them, in all their variety:
    any date from 0001 to 9999, no fraction or a fraction of 1 to 12 digits, `Z` or an
    offset from -23:59 to +23:59 (including -00:00). The canonical form only: lower case,
    a space for `T` and `+hhmm` come from the mutations."""
    date = draw(st.dates())
    time = ":".join(
        _two_digits(draw(st.integers(0, limit))) for limit in (23, 59, 59)
    )  # no leap second: the official checker refuses :60
    fraction = draw(st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,12}", fullmatch=True)))
    offset = draw(
        st.one_of(
            st.just("Z"),
            st.builds(
                "{}{}:{}".format,
                st.sampled_from("+-"),
                st.integers(0, 23).map(_two_digits),
                st.integers(0, 59).map(_two_digits),
            ),
        )
    )
    return f"{date.isoformat()}T{time}{fraction}{offset}"


_DATE_TIME_FORMAT = "ocppd-test-date-time"


def _generation_schema(file: str) -> Schema:
    """The resolved schema, with `date-time` generated by `date_times()`, `uri` as any text
    (neither side checks `uri`: a listed deviation) and at most 3 items per array (long lists
    make generation slow and add nothing: every item is checked alike)."""
    schema = resolved_schema(file)
    for node in schema_nodes(schema):
        if node.get("type") == "array":
            node["maxItems"] = 3
        if node.get("format") == "date-time":
            node["format"] = _DATE_TIME_FORMAT
        elif node.get("format") == "uri":
            del node["format"]
    return schema


@cache
def valid_documents(file: str) -> st.SearchStrategy[Any]:
    """Documents the official schema accepts, from hypothesis-jsonschema."""
    return from_schema(_generation_schema(file), custom_formats={_DATE_TIME_FORMAT: date_times()})


def sample_value(schema: Schema, *, full: bool) -> Any:
    """A valid value: with every optional property and two items per array when `full`
    (strings at their maxLength), else with the required properties only."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][-1 if full else 0]
    if kind == "object":
        properties = schema.get("properties", {})
        needed = schema.get("required", ())
        return {
            key: sample_value(sub, full=full)
            for key, sub in properties.items()
            if full or key in needed
        }
    if kind == "array":
        count = 2 if full else max(1, schema.get("minItems", 0))
        return [sample_value(schema["items"], full=full) for _ in range(count)]
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2024-02-29T23:59:59.123456789-09:30" if full else "2026-01-01T00:00:00Z"
        if "maxLength" in schema:
            return "\u00e9" * schema["maxLength"] if full else "a"
        return "text \u2603 \U0001f600" if full else ""
    if kind == "integer":
        return 2**63 if full else 0
    if kind == "number":
        return 12.5 if full else 0
    if kind == "boolean":
        return full
    raise AssertionError(f"no sample for {schema}")


# Mutations of a valid document


@dataclass(frozen=True)
class Mutation:
    category: str
    path: tuple[Token, ...]
    """The mutated value (for a removed or added property: that property)."""
    data: bytes
    code: str | None
    """The ErrorCode (value) ocppd must answer when the oracle refuses; None: must be valid."""
    must_refuse: bool
    """The official schema refuses it for sure (a check of the mutation itself)."""


# The error code per category, as the behaviour notes assign them.
CATEGORY_CODES: dict[str, str | None] = {
    "drop_required": "ProtocolError",
    "drop_optional": None,
    "extra_property": "FormationViolation",
    "wrong_type": "TypeConstraintViolation",
    "null": "TypeConstraintViolation",
    "float_for_integer": "TypeConstraintViolation",
    "integral_float": "TypeConstraintViolation",
    "big_integer": None,
    "too_long": "TypeConstraintViolation",
    "max_length": None,
    "bad_enum": "PropertyConstraintViolation",
    "other_enum_value": "PropertyConstraintViolation",
    "bad_date_time": "TypeConstraintViolation",
    "date_time_variant": "TypeConstraintViolation",
    "good_date_time": None,
    "no_utc_date_time": "PropertyConstraintViolation",
    "empty_array": "OccurenceConstraintViolation",
    "empty_array_allowed": None,
    "decimal": "PropertyConstraintViolation",
    "out_of_range": "TypeConstraintViolation",
    "root_type": "FormationViolation",
    "malformed_json": "FormationViolation",
}

_JSON_TYPES: dict[str, Any] = {
    "string": "7",
    "integer": 7,
    "number": 7.5,
    "boolean": True,
    "array": [],
    "object": {},
}


def _wrong_types(kind: str | None) -> list[Any]:
    compatible = {kind, "integer"} if kind == "number" else {kind}
    # 1.5 for an integer has a category of its own
    skip = compatible | ({"number"} if kind == "integer" else set())
    return [value for name, value in _JSON_TYPES.items() if name not in skip]


@cache
def _all_enums() -> list[tuple[str, frozenset[str]]]:
    found: set[tuple[str, frozenset[str]]] = set()
    for file in schema_files():
        schema = resolved_schema(file)
        stack: list[tuple[str, Schema]] = [("", schema)]
        while stack:
            name, node = stack.pop()
            if "enum" in node:
                found.add((name, frozenset(node["enum"])))
            for key, sub in node.get("properties", {}).items():
                stack.append((key, sub))
            if isinstance(node.get("items"), dict):
                stack.append((name, node["items"]))
    return sorted(found, key=lambda item: (item[0], sorted(item[1])))


def other_enum_values(name: str | None, values: list[str], *, exhaustive: bool) -> list[str]:
    """Values of the other schemas' enumerations that overlap this one, but not in it: the
    values a type shared between messages would let through (Hertz in StopTransaction's
    unit, SignChargePointCertificate in TriggerMessage...). Only same-named fields unless
    `exhaustive`."""
    own = frozenset(values)
    related: set[str] = set()
    for other_name, other in _all_enums():
        if other & own and (exhaustive or other_name == name):
            related |= other - own
    return sorted(related)


# Forms the official checker refuses.
BAD_DATE_TIMES = [
    "2026-01-01T00:00:00",  # no zone
    "2026-01-01 00:00:00Z",  # space separator (ocppd takes it: a listed deviation)
    "2026-01-01T00:00:00+0200",  # offset without colon (idem)
    "2026-01-01T00:00:00+02",  # offset without minutes
    "2026-01-01T00:00:00.5+02",
    "2026-01-01T00:00:00 Z",
    "2026-01-01T00:00Z",  # no seconds
    "2026-01-01",
    "00:00:00Z",
    "2026-02-29T00:00:00Z",  # not a leap year
    "2026-04-31T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-01T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "0000-01-01T00:00:00Z",  # year 0
    "2026-01-01T24:00:00Z",
    "2026-01-01T23:60:00Z",
    "2026-12-31T23:59:60Z",  # leap second: the official checker refuses it
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00+05:60",
    "2026-01-01T00:00:00.Z",
    "2026-01-01T00:00:00,5Z",
    "2026-01-01T00:00:00ZZ",
    "2026-01-01T00:00:00+00:00:00",
    "+2026-01-01T00:00:00Z",
    "20260101T000000Z",
    "2026-1-01T00:00:00Z",
    "2026-01-01T00:00:00Z ",
    " 2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00\u00a0Z",
    "\uff12\uff10\uff12\uff16-01-01T00:00:00Z",  # full-width digits
    "2026-01-01T00:00:00.\u0661Z",  # an Arabic-Indic digit
    "2026-01-01T00:00:00\r\n",
    "now",
    "",
]

GOOD_DATE_TIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59+23:59",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T01:00:00+01:00",
    "0001-01-01T00:59:59.9999996+01:00",  # rounded to the microsecond: 01:00:00+01:00
    "2024-02-29T12:00:00.000000001-00:00",
    "2026-06-30T12:00:00.1234565+05:45",
    "2026-01-01T00:00:00.99999999999999999999Z",
    "2026-01-01T00:00:00+00:00",
]

NO_UTC_DATE_TIMES = [
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:59:59.999999+01:00",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:00:00-01:00",
]
"""Valid RFC 3339 whose UTC time is outside years 1 to 9999 (ocppd refuses them: a listed
deviation)."""

# Derived from a valid value: the forms some checkers take and others refuse (lower case,
# a space for `T`, `+hhmm`, a trailing newline) and forms none takes.
_EDIT_CHARS = ["t", "z", "T", "Z", " ", "0", "9", ":", "-", "+", ".", "\n", ""]


def date_time_variants(value: str, *, exhaustive: bool) -> list[str]:
    variants = {
        value.lower(),
        value + "\n",
        value.replace("T", "t"),
        value.replace("T", " "),
        value.replace("T", " ").lower(),
        value.replace("Z", "z"),
        re.sub(r"(?:Z|[+-]\d\d:\d\d)$", "", value),
        re.sub(r"([+-]\d\d):(\d\d)$", r"\1\2", value).replace("Z", "+0000"),
        re.sub(r"([+-]\d\d):(\d\d)$", r"\1", value).replace("Z", "+00"),
    }
    if exhaustive:
        for index in range(len(value) + 1):
            for char in _EDIT_CHARS:
                variants.add(value[:index] + char + value[index + 1 :])
                variants.add(value[:index] + char + value[index:])
    variants.discard(value)
    return sorted(variants)


def mutations(doc: Any, schema: Schema, *, exhaustive: bool = False) -> list[Mutation]:
    """Single mutations of a valid document, at every site of every depth."""
    out: list[Mutation] = []
    first_date_time = True

    def add(
        category: str, path: tuple[Token, ...], new_doc: Any, *, must_refuse: bool = True
    ) -> None:
        code = CATEGORY_CODES[category]
        out.append(Mutation(category, path, dumps(new_doc), code, must_refuse and bool(code)))

    for site in walk(schema, doc):
        path, kind, value = site.path, site.type, site.value
        if not path:
            for wrong in ([], "{}", 1, None, True):
                add("root_type", path, wrong)
            data = dumps(doc)
            for broken in (data[:-1], data + b"}", data + b" x", b"", data.replace(b"{", b"{,", 1)):
                out.append(Mutation("malformed_json", (), broken, "FormationViolation", True))
        else:
            for wrong in _wrong_types(kind):
                add("wrong_type", path, replaced(doc, path, wrong))
            add("null", path, replaced(doc, path, None))
        if kind == "object" and isinstance(value, dict):
            properties = site.schema.get("properties", {})
            for key in site.schema.get("required", ()):
                if key in value:
                    add("drop_required", (*path, key), deleted(doc, (*path, key)))
            for key in value:
                if key not in site.schema.get("required", ()):
                    add("drop_optional", (*path, key), deleted(doc, (*path, key)))
            extras = ["extraProperty"]
            for key in properties:
                snake = re.sub(r"([A-Z])", r"_\1", key).lower()
                if snake != key:
                    extras += [snake, key[0].upper() + key[1:]]
                    break
            if exhaustive:
                extras += [key.lower() for key in properties if key.lower() != key]
                extras += ["", "a.b", "[0]", "with space", "\u00e9\U0001f600"]
            for extra in extras:
                if extra not in value and extra not in properties:
                    add("extra_property", (*path, extra), replaced(doc, path, {**value, extra: 1}))
        elif kind == "array" and isinstance(value, list):
            category = "empty_array" if site.schema.get("minItems", 0) else "empty_array_allowed"
            add(category, path, replaced(doc, path, []))
        elif kind == "integer":
            add("float_for_integer", path, replaced(doc, path, 1.5))
            add("float_for_integer", path, replaced(doc, path, -0.5))
            for integral in (1.0, Raw("1e2"), Raw("-0.0"), Raw("1E0")):
                add("integral_float", path, replaced(doc, path, integral), must_refuse=False)
            add("out_of_range", path, replaced(doc, path, Raw("1e400")))
            for big in (2**31, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**400)):
                add("big_integer", path, replaced(doc, path, big))
        elif kind == "number":
            for number in (6.35, 0.05, 1e-7):
                add("decimal", path, replaced(doc, path, number))
            for number in (6.3, 0.7, 19999.600000000002, 5, 1e20, 1e300, Raw("12.0")):
                add("decimal", path, replaced(doc, path, number), must_refuse=False)
            for number in (Raw("1e400"), Raw("-1e400"), 10**400):
                add("out_of_range", path, replaced(doc, path, number), must_refuse=False)
        elif kind == "string" and "enum" in site.schema:
            values: list[str] = site.schema["enum"]
            bad = {value + "X", value.lower(), value.upper(), "", " " + value}
            for wrong in sorted(bad - set(values)):
                add("bad_enum", path, replaced(doc, path, wrong))
            for other in other_enum_values(site.name, values, exhaustive=exhaustive):
                add("other_enum_value", path, replaced(doc, path, other))
        elif kind == "string" and site.schema.get("format") == "date-time":
            for wrong in BAD_DATE_TIMES:
                add("bad_date_time", path, replaced(doc, path, wrong))
            for good in GOOD_DATE_TIMES if exhaustive else GOOD_DATE_TIMES[:3]:
                add("good_date_time", path, replaced(doc, path, good))
            for no_utc in NO_UTC_DATE_TIMES if exhaustive else NO_UTC_DATE_TIMES[:1]:
                add("no_utc_date_time", path, replaced(doc, path, no_utc), must_refuse=False)
            # every one-character edit, at the first timestamp of the document only
            edits = date_time_variants(value, exhaustive=exhaustive and first_date_time)
            first_date_time = False
            for variant in edits:
                add("date_time_variant", path, replaced(doc, path, variant), must_refuse=False)
        elif kind == "string" and "maxLength" in site.schema:
            limit = site.schema["maxLength"]
            for char in ("x", "\u00e9", "\U0001f600"):
                add("too_long", path, replaced(doc, path, char * (limit + 1)))
                add("max_length", path, replaced(doc, path, char * limit))
    return out
