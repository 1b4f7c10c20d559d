"""`GET /healthz` and `GET /readyz`: for load balancers and process supervisors, without a
token (outside /api/v1 and its guard), cheap, never cached. Both answer HEAD too (load
balancers and `curl -I` probe with it): the same status and headers, no body.

- `/healthz`: the process is alive and its event loop answers (200, always, touching
  nothing else).
- `/readyz`: it can serve: the database answers within a few seconds and its migrations are
  at this ocppd's head (200), else 503 with the reason (`csms.readiness`).
"""

from typing import Any, Literal

import msgspec
from litestar import HttpMethod, Request, Response, route
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import Method

from ocppd.api.system import System

TAGS = ["operations"]
NO_STORE = CacheControlHeader(no_store=True)
METHODS = [HttpMethod.GET, HttpMethod.HEAD]


def _operation_id(handler: HTTPRouteHandler, method: Method, _: Any) -> str:
    """GET keeps the id it had before HEAD was added (`HealthzHealthz`); HEAD's says HEAD."""
    name = handler.handler_name.title() * 2
    return name if method == HttpMethod.GET else f"Head{name}"


class Alive(msgspec.Struct):
    status: Literal["alive"]


class Ready(msgspec.Struct):
    status: Literal["ready"]


class NotReady(msgspec.Struct):
    status: Literal["unavailable"]
    reason: str
    """The database unreachable, too slow to answer, or its migrations not at head."""


class Unready(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unavailable(_: Request[Any, Any, Any], exc: Unready) -> Response[NotReady]:
    return Response(
        NotReady(status="unavailable", reason=exc.reason),
        status_code=503,
        headers={"Cache-Control": NO_STORE.to_header()},
    )


@route(
    "/healthz",
    http_method=METHODS,
    operation_id=_operation_id,
    tags=TAGS,
    summary="Alive",
    description="The process answers. Needs no token.",
    cache_control=NO_STORE,
)
async def healthz() -> Alive:
    return Alive(status="alive")


@route(
    "/readyz",
    http_method=METHODS,
    operation_id=_operation_id,
    tags=TAGS,
    summary="Ready",
    description="The database answers within a few seconds and its migrations are at this "
    "ocppd's head; else 503 with the reason. Needs no token.",
    cache_control=NO_STORE,
    responses={503: ResponseSpec(NotReady, description="Not ready, and why")},
    exception_handlers={Unready: _unavailable},
)
async def readyz(system: System) -> Ready:
    problem = await system.readiness.problem()
    if problem is not None:
        raise Unready(problem)
    return Ready(status="ready")


ROUTES = [healthz, readyz]
