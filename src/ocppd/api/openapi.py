"""What the OpenAPI document says beyond Litestar's defaults, so that it says what the server
does (schemathesis checks both directions in `tests/api/test_contract.py`):

- `ClosedStructs`: a body struct that refuses unknown fields (`forbid_unknown_fields`, every
  OCPP payload and the API's own request bodies) is `additionalProperties: false`; bounds
  of 0 (`Meta(ge=0)`) are kept, Litestar left them out.
- `served_document`: the document as served (and shown by the docs page), with integer bounds
  exact (Litestar writes them as floats: 2**63 - 1 became 9.223372036854776e+18, above the
  largest id the database holds) and every string parameter without NUL (`operator_input`
  refuses it: PostgreSQL's text cannot hold one), a body with a default optional, a
  command's location a `format: uri` (as OCPP's schema says), a file's Last-Modified an
  HTTP-date, a HEAD operation's answers without a body (Litestar gives them its GET's), and
  every change's 503 when its audit entry cannot be written (`api/audit_log.py`).
- `answer_allow_of_whole_routes`: OPTIONS answers every method of its path. Litestar's OPTIONS
  handler lists the methods of the route it was made with, which for a path whose handlers
  were registered one by one was its first handler's alone (`Allow: GET, OPTIONS` beside PUT).
"""

from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import Schema
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from ocppd.csms.models import MAX_STORED_INTEGER

NUL_FREE = "^[^\\u0000]*$"


class ClosedStructs(StructSchemaPlugin):
    """Litestar's schema of a msgspec struct, closed where the struct is, with the bounds of 0
    Litestar leaves out (it skips a falsy bound: `Meta(ge=0)` documented no minimum)."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        config = getattr(field_definition.type_, "__struct_config__", None)
        if isinstance(config, msgspec.structs.StructConfig) and config.forbid_unknown_fields:
            schema.additional_properties = False
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType):
            for field in info.fields:
                prop = (schema.properties or {}).get(field.encode_name)
                if isinstance(prop, Schema):
                    _zero_bounds(field.type, prop)
        return schema


def _zero_bounds(kind: msgspec.inspect.Type, schema: Schema) -> None:
    members = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
    for member in members:
        if isinstance(member, msgspec.inspect.IntType | msgspec.inspect.FloatType):
            if member.ge == 0 and schema.minimum is None:
                schema.minimum = 0
            if member.gt == 0 and schema.exclusive_minimum is None:
                schema.exclusive_minimum = 0
            if member.le == 0 and schema.maximum is None:
                schema.maximum = 0
            if member.lt == 0 and schema.exclusive_maximum is None:
                schema.exclusive_maximum = 0


def answer_allow_of_whole_routes(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for cell in getattr(handler.fn, "__closure__", None) or ():
                if isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents = route


def served_document(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The OpenAPI document of the app, built once (Litestar builds it in half a second)."""
    app = request.app
    built = app.openapi_schema
    cached = app.state.get("openapi_document")
    if cached is None or cached[0] is not built:
        document = built.to_schema()
        _exact_integer_bounds(document)
        _optional_bodies(app, document)
        for name in ("GetDiagnosticsRequest", "UpdateFirmwareRequest"):
            document["components"]["schemas"][name]["properties"]["location"]["format"] = "uri"
        for item in document.get("paths", {}).values():
            for operation in item.values():
                for parameter in operation.get("parameters", []):
                    _without_nul(parameter["schema"])
                for response in operation.get("responses", {}).values():
                    _http_dates(response.get("headers", {}))
            if "head" in item:
                _without_bodies(item["head"])
        _audit_unavailable(document)
        cached = app.state["openapi_document"] = (built, document)
    return cached[1]


AUDIT_UNAVAILABLE = "not done: its audit entry cannot be written (the database failed)"
CHANGES = ("post", "put", "patch", "delete")


def _audit_unavailable(document: dict[str, Any]) -> None:
    """A change under /api/v1 is refused 503 when its audit entry cannot be written."""
    for path, item in document.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method in CHANGES:
            responses = item.get(method, {}).get("responses")
            if responses is None:
                continue
            if "503" in responses:
                responses["503"]["description"] += "; or " + AUDIT_UNAVAILABLE
            else:
                refused = responses.get("400") or next(iter(responses.values()))
                responses["503"] = {**refused, "description": AUDIT_UNAVAILABLE.capitalize()}


def _without_bodies(head: dict[str, Any]) -> None:
    """A HEAD answer has the status and headers of its GET, never a body."""
    for response in head.get("responses", {}).values():
        response.pop("content", None)


def _optional_bodies(app: Litestar, document: dict[str, Any]) -> None:
    """A body with a default (`data: ... = None`) may be left out: Litestar documents every
    body as required."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None or not data.has_default:
                continue
            for method in handler.http_methods:
                operation = document["paths"].get(route.path_format, {}).get(method.lower(), {})
                if "requestBody" in operation:
                    operation["requestBody"]["required"] = False


def _exact_integer_bounds(value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _exact_integer_bounds(item)
        return
    if not isinstance(value, dict):
        return
    if value.get("type") == "integer":
        for bound in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
            number = value.get(bound)
            if isinstance(number, float) and number.is_integer():
                # A float this large is a rounded 2**63 - 1 (nothing declares more).
                exact = int(number)
                value[bound] = max(-MAX_STORED_INTEGER, min(MAX_STORED_INTEGER, exact))
    for item in value.values():
        _exact_integer_bounds(item)


def _http_dates(headers: dict[str, Any]) -> None:
    """Litestar documents a file's Last-Modified as an RFC 3339 date-time: it is an HTTP-date."""
    header = headers.get("last-modified")
    if header is not None:
        header["schema"] = {"type": "string"}
        header["description"] = "An HTTP-date (RFC 9110): Sun, 06 Nov 1994 08:49:37 GMT"


def _without_nul(schema: dict[str, Any]) -> None:
    if "pattern" in schema:
        return  # Litestar puts the pattern of an optional parameter beside its `oneOf`
    for branch in schema.get("oneOf", [schema]):
        if branch.get("type") == "string" and "pattern" not in branch and "enum" not in branch:
            branch["pattern"] = NUL_FREE
