"""What the API takes from operators, checked at its edge: no request reaches the database with
a value the database cannot hold, and nothing is stored as something other than what was
sent. A value out of bounds is a 400 naming it (`field`: the parameter, the field of a body,
`$.`-prefixed in an OCPP payload as the protocol's own errors are) and why (`reason`); never a
500.

- Text is UTF-8 without NUL (U+0000): path segments, query parameters (names and values), and
  the strings and keys of JSON bodies. PostgreSQL's text cannot hold a NUL (`stored_text`
  would keep U+FFFD: another identity, another tag, found by a lookup of either), and a
  percent-escape that is no UTF-8 (`%ff`) would be read as U+FFFD. `check_request` (the API
  router's before-request hook: after the token's role, before any parameter is read) checks
  them all. The bodies of the command routes (`OCPP_PAYLOAD`) are OCPP payloads: NUL is valid
  JSON there, goes to the charge point as written, and what ocppd keeps of it is kept as a
  charger's own strings are.
- Dates have a UTC time within years 1 to 9999 (Python's range; a valid RFC 3339 date near
  either end may lack one, `9999-12-31T23:59:59-23:59`): `utc` where a route takes one. In a
  command's payload the protocol's codec refuses such a date itself, as it does from a
  charger (`fields.check_utc_time`: the same `field` and `reason`, `code`
  PropertyConstraintViolation), before anything is sent.
- A date in a query (`DATE_TIMES`, the route option naming them) is an RFC 3339 date-time
  with its zone, as the document says (`format: date-time`): Litestar alone would read
  `start=0.5` as half a second after 1970.
- A command's `location` (GetDiagnostics, UpdateFirmware) is an absolute URI, as OCPP's
  schema says (`format: uri`): the charger would refuse anything else.
- A JSON body of the API's own has the types the document gives (`_check_types`): a number
  is no date, a string no number.
- Lengths and numbers are bounded where they are declared, by what their column holds
  (`max_length`, `le`): an id too long or a number beyond BIGINT is a 400 too. A filter value
  longer than any stored value is no error: it matches nothing.
"""

import re
import types
import typing
from datetime import datetime
from typing import Any, overload
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Request

from ocppd.api.problems import Problem, ProblemException
from ocppd.csms.clock import as_utc
from ocppd.protocol.fields import NO_UTC_TIME

NUL = "\x00"
HAS_NUL = "contains NUL (U+0000)"
NOT_UTF8 = "not UTF-8"
TOO_DEEP = "nested too deeply"
NO_UTC = NO_UTC_TIME

NOT_RFC3339 = "not an RFC 3339 date-time with a zone (2026-11-25T12:00:00Z)"
RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
NOT_A_URI = "not an absolute URI (scheme:...)"
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
"""An absolute URI of RFC 3986's characters: what OCPP's `format: uri` (a location) holds."""
DATE_TIMES = "date_time_query"
"""The route option naming the query parameters that are date-times."""

OCPP_PAYLOAD = "ocpp_payload"
"""The route option of routes whose JSON body is an OCPP payload (NUL allowed)."""


def invalid(field: str | None, reason: str) -> ProblemException:
    error = reason if field is None else f"{field}: {reason}"
    return ProblemException(Problem(status=400, error=error, field=field, reason=reason))


async def check_request(request: Request[Any, Any, Any]) -> None:
    """The before-request hook of the API's routes."""
    _check_path(request)
    _check_query(request.scope.get("query_string", b""))
    _check_dates(request)
    if "data" in request.route_handler.parsed_fn_signature.parameters:
        await _check_body(request)


def _check_path(request: Request[Any, Any, Any]) -> None:
    params = request.path_params
    for name, value in params.items():
        if isinstance(value, str) and NUL in value:
            raise invalid(name, HAS_NUL)
    raw: bytes = request.scope.get("raw_path") or b""
    if b"%" not in raw and raw.isascii():
        return
    for segment in raw.split(b"/"):
        decoded = unquote_to_bytes(segment)
        try:
            decoded.decode()
        except UnicodeDecodeError:
            # The server read it with U+FFFD for the bytes: that is the parameter's value.
            read = decoded.decode(errors="replace")
            field = next((n for n, v in params.items() if v == read), None)
            raise invalid(field, NOT_UTF8) from None


def _check_query(raw: bytes) -> None:
    if b"%" not in raw and raw.isascii():
        return  # a NUL or a byte beyond ASCII comes percent-encoded
    for pair in raw.split(b"&"):
        key, _, value = pair.partition(b"=")
        name = _unquoted(key).decode(errors="replace")
        for part in (key, value):
            try:
                text = _unquoted(part).decode()
            except UnicodeDecodeError:
                raise invalid(name, NOT_UTF8) from None
            if NUL in text:
                raise invalid(name, HAS_NUL)


def _check_dates(request: Request[Any, Any, Any]) -> None:
    for name in request.route_handler.opt.get(DATE_TIMES, ()):
        for value in request.query_params.getall(name, []):
            # "null" is the document's null (`oneOf`: a date-time or null): no date.
            if value != "null" and not RFC3339.fullmatch(value):
                raise invalid(name, NOT_RFC3339)


def _unquoted(part: bytes) -> bytes:
    return unquote_to_bytes(part.replace(b"+", b" "))


async def _check_body(request: Request[Any, Any, Any]) -> None:
    body = await request.body()  # kept by the request: the route reads it again from there
    try:
        body.decode()
    except UnicodeDecodeError:
        raise invalid(None, NOT_UTF8) from None
    if request.route_handler.opt.get(OCPP_PAYLOAD):
        return  # the protocol's codec decodes it, strictly
    # In JSON a NUL is always escaped; without the escape there is none to look for.
    if b"\\u0000" in body:
        try:
            where = _nul_at(msgspec.json.decode(body), "")
        except msgspec.DecodeError:
            return  # not JSON: the route's own decoding says so
        except RecursionError:  # msgspec's own guard, or `_nul_at`'s
            raise invalid(None, TOO_DEEP) from None
        if where is not None:
            raise invalid(where, HAS_NUL)
    _check_types(request, body)


def _check_types(request: Request[Any, Any, Any], body: bytes) -> None:
    """A body of the API's own (a struct) decoded strictly, as the document types it: Litestar
    alone converts leniently (`"expiryDate": 0` read as 1970, `"retries": "5"` as 5)."""
    data = request.route_handler.parsed_fn_signature.parameters["data"]
    if not _is_struct(data.annotation):
        return
    try:
        msgspec.convert(_INTEGRAL_FLOATS.decode(body), data.annotation, strict=True)
    except msgspec.ValidationError as error:  # before DecodeError, its base class
        message, _, where = str(error).rpartition(" - at `$.")
        if not message:
            raise invalid(None, str(error)) from None
        raise invalid(where.removesuffix("`"), message) from None
    except msgspec.DecodeError:
        return  # not JSON: the route's own decoding says so
    except RecursionError:  # msgspec's own guard against a body nested thousands deep
        raise invalid(None, TOO_DEEP) from None


def _is_struct(annotation: Any) -> bool:
    """A struct of the API's own, or an optional one (`Struct | None`: a body that may be
    left out, such as GetDiagnostics' options)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_struct(member) for member in typing.get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def _integral_float(text: str) -> float | int:
    """JSON's 320.0 is an integer (JSON Schema says so too), which msgspec's strict mode would
    refuse where an int is expected."""
    number = float(text)
    return int(number) if number.is_integer() else number


_INTEGRAL_FLOATS = msgspec.json.Decoder(float_hook=_integral_float)
"""A body's document with its integral floats as ints, read without recursion of ours."""


def _nul_at(value: Any, path: str) -> str | None:
    """Where the first string or key holding a NUL is (`schedule[0].start`), or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            at = f"{path}.{key}" if path else key
            if NUL in key:
                return at
            items.append((at, item))
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    for at, item in items:
        found = _nul_at(item, at)
        if found is not None:
            return found
    return None


@overload
def utc(field: str, value: datetime) -> datetime: ...


@overload
def utc(field: str, value: None) -> None: ...


def utc(field: str, value: datetime | None) -> datetime | None:
    """`value` in UTC (a date without a zone is taken as UTC), or a 400 naming `field`."""
    try:
        return as_utc(value)
    except OverflowError:
        raise invalid(field, NO_UTC) from None
