"""The field types of the OCPP 1.6 schemas, declared once and used by every message.

A constraint declared here is checked by msgspec while it decodes, in C: CiString lengths,
timestamps with a zone (`format: date-time`), integers that are not floats. The `check_`
functions are the constraints msgspec cannot declare; the types that need them call them from
`__post_init__`, which msgspec runs while it decodes (and Python when a payload is built).
"""

from datetime import MAXYEAR, MINYEAR, UTC, datetime
from typing import Annotated, Any

import msgspec

CiString20 = Annotated[str, msgspec.Meta(max_length=20)]
CiString25 = Annotated[str, msgspec.Meta(max_length=25)]
CiString50 = Annotated[str, msgspec.Meta(max_length=50)]
CiString255 = Annotated[str, msgspec.Meta(max_length=255)]
CiString500 = Annotated[str, msgspec.Meta(max_length=500)]
String40 = Annotated[str, msgspec.Meta(max_length=40)]
String128 = Annotated[str, msgspec.Meta(max_length=128)]
String512 = Annotated[str, msgspec.Meta(max_length=512)]
String800 = Annotated[str, msgspec.Meta(max_length=800)]
String5500 = Annotated[str, msgspec.Meta(max_length=5500)]
String10000 = Annotated[str, msgspec.Meta(max_length=10000)]

IdToken = CiString20
"""An idTag: opaque, compared case-insensitively by the central system."""

DateTime = Annotated[datetime, msgspec.Meta(tz=True)]
"""`format: date-time` (RFC 3339). A timestamp without a zone is refused, and so is one
without a UTC time (`check_utc_time`)."""

NO_UTC_TIME = "no UTC time within years 1 to 9999"

Uri = str
"""`format: uri`. Deliberately not checked: see tests/protocol/test_schema_differential.py."""


def check_one_decimal(value: float, name: str) -> None:
    """`multipleOf: 0.1`, read as the specification means it: at most one decimal.

    A binary float test (`value / 0.1` integral) refuses 6.3 and 0.7; see
    tests/protocol/test_schema_differential.py for the deviation.
    """
    if round(value, 1) != value:
        raise ValueError(f"Expected a number with at most one decimal - at `.{name}`")


def check_utc_time(value: datetime | msgspec.UnsetType, name: str) -> None:
    """A timestamp whose UTC time is within years 1 to 9999, the range of a Python datetime.

    RFC 3339 (and so the schemas' `format: date-time`) allows `0001-01-01T00:00:00+01:00` and
    `9999-12-31T23:59:59-23:59`, and msgspec decodes them, but no datetime holds their UTC
    time: converting, comparing by instant or storing them fails wherever it happens. They are
    refused here, as a value out of range (PropertyConstraintViolation), so that neither role
    ever handles one. Only years 1 and 9999 can be that close to the edge (an offset is under
    a day): other timestamps cost one comparison.
    """
    if isinstance(value, datetime) and value.year in _EDGE_YEARS and value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{NO_UTC_TIME} - at `.{name}`") from None


_EDGE_YEARS = (MINYEAR, MAXYEAR)


def check_min_items(items: list[Any], minimum: int, path: str) -> None:
    """A `minItems` that applies to a shared type in one message only."""
    if len(items) < minimum:
        raise ValueError(f"Expected `array` of length >= {minimum} - at `{path}`")


class Payload(
    msgspec.Struct,
    rename="camel",
    forbid_unknown_fields=True,
    omit_defaults=True,
    kw_only=True,
):
    """Base of every message payload and nested type: camelCase on the wire, no extra keys.

    Optional fields default to `msgspec.UNSET`, so that an absent field and a `null`
    stay different (the schemas refuse `null`).
    """
