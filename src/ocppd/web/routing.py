"""One ASGI app for the HTTP side of the port: `/api` and below to the API, and `/files` (the
chargers' file transfers), the probes `/healthz`, `/readyz` and `/metrics`, also served by the
API app; the rest (and lifespan events) to the dashboard, whose own lifespan is trivial, so
the API's lifespan runs.
"""

from ocppd.csms.central_system import CentralSystem
from ocppd.transport.server import ASGIApp, Receive, Scope, SendMessage

API_PREFIX = "/api"
FILES_PREFIX = "/files"


def route(api: ASGIApp, web: ASGIApp) -> ASGIApp:
    """`/api...` to `api`, everything else to `web`; lifespan events to `api`."""

    async def router(scope: Scope, receive: Receive, send: SendMessage) -> None:
        if scope["type"] == "lifespan" or is_api(scope["path"]):
            await api(scope, receive, send)
        else:
            await web(scope, receive, send)

    return router


PROBES = ("/healthz", "/readyz", "/metrics")
"""The API's routes for load balancers, supervisors and Prometheus, at the top
(`api/health.py`, `api/metrics.py`)."""


def is_api(path: str) -> bool:
    return path in PROBES or any(
        path == p or path.startswith(p + "/") for p in (API_PREFIX, FILES_PREFIX)
    )


def fallback(system: CentralSystem) -> ASGIApp:
    """The OCPP app's fallback for `ocppd serve`: the API and the dashboard on one port."""
    from ocppd.api.app import fallback as api_fallback

    return with_dashboard(api_fallback(system))


def with_dashboard(api: ASGIApp) -> ASGIApp:
    """`api` and, beside it, the dashboard that reads from it."""
    from ocppd.web.app import app

    return route(api, app(api))
