"""The OpenAPI document and the interactive docs, served without a token."""

import asyncio
import json
import urllib.request

from litestar.routes import HTTPRoute

from ocppd.api.app import PREFIX
from ocppd.api.commands import ACTIONS
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
