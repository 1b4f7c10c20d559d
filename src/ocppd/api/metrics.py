"""`GET /metrics`: the node's metrics in the Prometheus text format (`csms.metrics`).

Behind a bearer token of any role (viewer or above), on the main port: one port to open and
secure, the same tokens as the API (a scrape_config with `authorization: credentials`, see the
README). Outside /api/v1 and its OpenAPI document: it is Prometheus's format, not the API's.
"""

from litestar import Response, get
from litestar.datastructures import CacheControlHeader

from ocppd.api.auth import authorized, needs
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.csms.metrics import CONTENT_TYPE


@get(
    "/metrics",
    guards=[authorized],
    opt=needs(Role.VIEWER),
    include_in_schema=False,
    cache_control=CacheControlHeader(no_store=True),
)
async def metrics(system: System) -> Response[bytes]:
    return Response(system.metrics.exposition(), media_type=CONTENT_TYPE)


ROUTES = [metrics]
