"""The OpenAPI document and the interactive docs, served without a token."""

import asyncio
import json
import urllib.request

from litestar.routes import HTTPRoute

from ocppd.api.app import PREFIX
from ocppd.api.commands import ACTIONS
from ocppd.api.tokens import Role
from ocppd.csms import registration
from ocppd.web.routing import PROBES
from tests.api.conftest import Api


async def fetch(url: str) -> tuple[int, str, bytes]:
    def get() -> tuple[int, str, bytes]:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["content-type"], response.read()

    return await asyncio.to_thread(get)


async def test_openapi_json_documents_every_route(api: Api) -> None:
    status, _, body = await fetch(f"{api.url}{PREFIX}/openapi.json")
    assert status == 200
    document = json.loads(body)
    paths = document["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    routes = {
        (method, route.path.replace(":str}", "}").replace(":int}", "}"))
        for route in api.app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if handler.resolve_include_in_schema()  # not the docs' own pages
        for method in handler.http_methods - {"HEAD", "OPTIONS"}
    }
    assert len(routes) >= 19 + 15
    assert routes <= documented, sorted(routes - documented)
    for spec in ACTIONS:
        operation = paths[f"{PREFIX}/charge-points/{{chargePointId}}/commands/{spec.name}"]["post"]
        body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert "$ref" in body_schema or body_schema.get("type") == "object", spec.name
        assert {"200", "400", "404", "409", "502", "504"} <= set(operation["responses"])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, item in paths.items():
        if path in PROBES:  # no token: for load balancers (tests/api/test_health.py)
            continue
        for method, operation in item.items():
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
            assert operation["security"] == [{"bearer": []}], (method, path)
    problem = paths[f"{PREFIX}/transactions/{{transactionId}}"]["get"]["responses"]["404"]
    assert problem["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")


async def test_schemas_use_the_wire_names(api: Api) -> None:
    _, _, body = await fetch(f"{api.url}{PREFIX}/openapi.json")
    schemas = json.loads(body)["components"]["schemas"]
    assert "csChargingProfiles" in schemas["SetChargingProfileRequest"]["properties"]
    assert "chargePointId" in schemas["ChargePoint"]["properties"]


async def test_interactive_docs_are_served(api: Api) -> None:
    status, content_type, body = await fetch(f"{api.url}{PREFIX}/docs")
    assert status == 200 and content_type.startswith("text/html")
    assert b"swagger" in body.lower()


async def test_unknown_api_paths_are_json_404s(api: Api) -> None:
    client = api.client()
    for path in ["/nope", "/charge-points/a%2Fb", "/charge-points/CP1/commands/Nope"]:
        answer = await client("GET", path)
        assert answer.status == 404 and answer.body["status"] == 404, path


async def test_the_document_declares_what_the_server_enforces(api: Api) -> None:
    _, _, body = await fetch(f"{api.url}{PREFIX}/openapi.json")
    document = json.loads(body)
    schemas, paths = document["components"]["schemas"], document["paths"]
    # Unknown fields are refused (400): the bodies say so.
    for name in [
        "api_id_tags_IdTagInfo",
        "Registration",
        "ResetRequest",
        "SetChargingProfileRequest",
    ]:
        assert schemas[name]["additionalProperties"] is False, name
    # Ids go up to what the database holds, exactly (not a float rounded above it).
    job = paths[f"{PREFIX}/diagnostics/{{jobId}}"]["get"]["parameters"][0]["schema"]
    assert job["maximum"] == 2**63 - 1
    assert '"maximum":9223372036854775807' in body.decode().replace(" ", "")
    cursor = next(
        p for p in paths[f"{PREFIX}/messages"]["get"]["parameters"] if p["name"] == "cursor"
    )
    assert cursor["schema"]["pattern"] == "^-?[0-9]{1,18}$"
    assert "text/event-stream" in paths[f"{PREFIX}/events"]["get"]["responses"]["200"]["content"]
    assert "201" in paths[f"{PREFIX}/id-tags/{{idTag}}"]["put"]["responses"]
    header = paths[f"{PREFIX}/diagnostics/{{jobId}}/file"]["get"]["responses"]["200"]["headers"]
    assert "format" not in header["last-modified"]["schema"]


async def test_options_answer_every_method_of_the_path(api: Api) -> None:
    def options() -> tuple[int, str]:
        request = urllib.request.Request(f"{api.url}{PREFIX}/charge-points/CP1", method="OPTIONS")
        request.add_header("Authorization", f"Bearer {api.tokens[Role.OPERATOR]}")
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["allow"]

    status, allow = await asyncio.to_thread(options)
    assert status == 204
    assert set(allow.split(", ")) == {"DELETE", "GET", "OPTIONS", "PATCH", "PUT"}


async def test_a_date_in_a_query_is_an_rfc_3339_date_time(api: Api) -> None:
    client = api.client()
    async with api.system.engine.begin() as db:
        await registration.register(db, "CP1")
    path = "/charge-points/CP1/connectors/1/composite-schedule"
    for value in ["0.5", "1700000000", "2026-11-25", "2026-11-25T12:00:00"]:
        answer = await client("GET", path, start=value)
        assert answer.status == 400 and answer.body["field"] == "start", value
        answer = await client("GET", "/transactions", since=value)
        assert answer.status == 400 and answer.body["field"] == "since", value
    answer = await client("GET", path, start="2026-11-25T12:00:00+01:00")
    assert answer.status == 200 and answer.body["start"] == "2026-11-25T11:00:00Z"
    assert (await client("GET", "/messages", until="2026-11-25T12:00:00Z")).status == 200
