"""The API application: Litestar under /api/v1, OpenAPI at /api/v1/openapi.json and
Swagger UI at /api/v1/docs (decision 0003).

It is the `fallback` of the OCPP ASGI app, so it shares the port, the process and the
`CentralSystem` (its database and its live connections) with the OCPP endpoint.
"""

from typing import Any, cast

from litestar import Litestar, MediaType, Request, Router, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from ocppd import __version__
from ocppd.api import (
    audit_log,
    certificate_authority,
    charge_points,
    charging_profiles,
    cluster,
    commands,
    configuration,
    diagnostics,
    events,
    exports,
    firmware,
    health,
    id_tags,
    local_lists,
    logs,
    me,
    messages,
    metrics,
    problems,
    reservations,
    security_events,
    security_upgrades,
    sites,
    tokens,
    transactions,
    transfers,
)
from ocppd.api.auth import RoleCache, authorized
from ocppd.api.docs_page import SwaggerPage
from ocppd.api.openapi import ClosedStructs, answer_allow_of_whole_routes, served_document
from ocppd.api.operator_input import check_request
from ocppd.api.system import PROVIDE
from ocppd.csms.central_system import CentralSystem
from ocppd.transport.server import ASGIApp

PREFIX = "/api/v1"
DOCS = PREFIX + "/docs"


async def before_request(request: Request[Any, Any, Any]) -> None:
    """Every API route: the operator's input checked, then a change's audit entry written."""
    await check_request(request)
    await audit_log.attempted(request)


@get(PREFIX + "/openapi.json", include_in_schema=False, media_type=MediaType.JSON)
async def openapi_document(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return served_document(request)


def create_app(system: CentralSystem) -> Litestar:
    api = Router(
        PREFIX,
        route_handlers=[
            charge_points.list_charge_points,
            charge_points.get_charge_point,
            charge_points.put_charge_point,
            charge_points.patch_charge_point,
            charge_points.delete_charge_point,
            id_tags.list_id_tags,
            id_tags.get_id_tag,
            id_tags.put_id_tag,
            id_tags.delete_id_tag,
            transactions.list_transactions,
            transactions.get_transaction,
            *exports.ROUTES,
            messages.list_messages,
            *reservations.ROUTES,
            *configuration.ROUTES,
            *local_lists.ROUTES,
            *diagnostics.ROUTES,
            *logs.ROUTES,
            *firmware.ROUTES,
            *charging_profiles.ROUTES,
            *events.ROUTES,
            *security_events.ROUTES,
            *tokens.ROUTES,
            *me.ROUTES,
            *commands.ROUTES,
            *sites.ROUTES,
            *cluster.ROUTES,
            *certificate_authority.ROUTES,
            *security_upgrades.ROUTES,
            *audit_log.ROUTES,
        ],
        guards=[authorized],
        before_request=before_request,
        security=[{"bearer": []}],
    )
    app = Litestar(
        route_handlers=[api, openapi_document, transfers.ROUTER, *health.ROUTES, *metrics.ROUTES],
        plugins=[ClosedStructs()],
        dependencies=PROVIDE,
        state=State({"system": system, "roles": RoleCache()}),
        exception_handlers=problems.HANDLERS,
        before_send=[audit_log.before_send],
        openapi_config=OpenAPIConfig(
            title="ocppd",
            version=__version__,
            description="Operate OCPP 1.6J charge points: registration, id tags, "
            "transactions, the message log, and every command a central system sends.",
            # The docs' controller answers every GET under its path (HTML 404s included), so it
            # lives under /docs and `openapi_document` serves /openapi.json: other API paths
            # keep their JSON 404s.
            path=DOCS,
            render_plugins=[SwaggerPage(DOCS)],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
        ),
        # ocppd configures logging itself; Litestar's default would reconfigure the root logger.
        logging_config=None,
        debug=False,
    )
    answer_allow_of_whole_routes(app)
    return app


def fallback(system: CentralSystem) -> ASGIApp:
    """The API as the OCPP app's fallback (`Service(make_fallback=...)`)."""
    # Litestar types its ASGI scope as TypedDicts; the transport takes plain mappings.
    return cast(ASGIApp, create_app(system))
