"""Sites: groups of charge points sharing a limit (admin), and their live allocation.

A site's configuration is `ocppd.csms.sites.SiteConfig` (limit in A per phase or W, minimum
and maximum per car, voltage, phases, time zone, daily schedule); `GET .../allocation` shows
the limit in force and each active transaction's share, draw and state, from the controller
(`ocppd.csms.site_controller`). PATCH takes any fields of the configuration; the result is
checked as a whole, as a PUT is. A charge point belongs to at most one site: adding it to
another is 409 until it is removed from the first.
"""

from typing import Annotated, Any

import msgspec
from litestar import Response, delete, get, patch, put
from litestar.params import JSONBody, PathParameter
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.api.auth import needs
from ocppd.api.charge_points import ChargePointId
from ocppd.api.pages import Cursor, Limit, next_cursor
from ocppd.api.problems import Problem, ProblemException, created, documented
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.csms import registration, sites
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.cluster import ClusterUnavailable
from ocppd.csms.site_controller import Allocation
from ocppd.csms.sites import SITE_ID_LENGTH, Site, SiteConfig

SiteId = Annotated[
    str,
    PathParameter(
        name="siteId", min_length=1, max_length=SITE_ID_LENGTH, pattern=r"^[A-Za-z0-9._~-]+$"
    ),
]
TAGS = ["sites"]


class SitePage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Site]
    next_cursor: str | None


@get("/sites", tags=TAGS, responses=documented())
async def list_sites(system: System, limit: Limit = 100, cursor: Cursor = None) -> SitePage:
    """Sites by id, with their charge points."""
    async with system.engine.connect() as db:
        found = await sites.load_all(db, cursor, limit + 1)
    return SitePage(items=found[:limit], next_cursor=next_cursor([s.site_id for s in found], limit))


@get("/sites/{siteId:str}", tags=TAGS, responses=documented(404))
async def get_site(system: System, site_id: SiteId) -> Site:
    async with system.engine.connect() as db:
        return await _site(db, site_id)


@put(
    "/sites/{siteId:str}",
    tags=TAGS,
    opt=needs(Role.ADMIN),
    responses={**created(Site), **documented(503)},
)
async def put_site(system: System, site_id: SiteId, data: JSONBody[SiteConfig]) -> Response[Site]:
    """Create a site or replace its configuration (201 when new); its charge points stay."""
    _check(data)
    async with system.engine.begin() as db:
        created = await sites.save(db, site_id, data, system.clock())
        site = await _site(db, site_id)
    await _reload(system, site_id)
    return Response(site, status_code=201 if created else 200)


SiteChange = msgspec.defstruct(
    "SiteChange",
    [
        (field.name, field.type | msgspec.UnsetType, msgspec.UNSET)
        for field in msgspec.structs.fields(SiteConfig)
    ],
    rename="camel",
    kw_only=True,
    forbid_unknown_fields=True,
)
"""A PATCH: any fields of SiteConfig (absent: unchanged)."""


async def _patch_site(system: System, site_id: SiteId, data: Any) -> Site:
    async with system.engine.begin() as db:
        current = await _site(db, site_id)
        merged = {**msgspec.to_builtins(current.config), **msgspec.to_builtins(data)}
        try:
            config = msgspec.convert(merged, SiteConfig)
        except msgspec.ValidationError as error:
            raise _bad(str(error)) from None
        _check(config)
        await sites.save(db, site_id, config, system.clock())
        site = await _site(db, site_id)
    await _reload(system, site_id)
    return site


# The body's type is made at run time (`SiteChange`); Litestar reads it from the annotations.
_body: Any = JSONBody
_patch_site.__annotations__["data"] = _body[SiteChange]
patch_site = patch(
    "/sites/{siteId:str}",
    tags=TAGS,
    opt=needs(Role.ADMIN),
    responses=documented(404, 503),
    description="Change any fields of a site's SiteConfig (absent: unchanged).",
)(_patch_site)


@delete("/sites/{siteId:str}", tags=TAGS, opt=needs(Role.ADMIN), responses=documented(404, 503))
async def delete_site(system: System, site_id: SiteId) -> None:
    """Delete a site: its charge points leave it (their site profiles are cleared)."""
    async with system.engine.begin() as db:
        if not await sites.delete(db, site_id):
            raise _unknown_site(site_id)
    await _reload(system, site_id)


@put(
    "/sites/{siteId:str}/charge-points/{chargePointId:str}",
    tags=TAGS,
    opt=needs(Role.ADMIN),
    responses=documented(404, 409, 503),
)
async def put_member(system: System, site_id: SiteId, charge_point_id: ChargePointId) -> Site:
    """Add a registered charge point to the site (nothing changes if it is already in it)."""
    async with system.engine.begin() as db:
        await _site(db, site_id)
        if await registration.load(db, charge_point_id) is None:
            raise ProblemException(
                Problem(status=404, error=f"unknown charge point {charge_point_id!r}")
            )
        other = await sites.site_of(db, charge_point_id)
        if other is not None and other != site_id:
            raise ProblemException(
                Problem(
                    status=409,
                    error=f"charge point {charge_point_id!r} belongs to site {other!r}",
                )
            )
        if other is None:
            await sites.add_member(db, site_id, charge_point_id, system.clock())
        site = await _site(db, site_id)
    await _reload(system, site_id)
    return site


@delete(
    "/sites/{siteId:str}/charge-points/{chargePointId:str}",
    tags=TAGS,
    opt=needs(Role.ADMIN),
    responses=documented(404, 503),
)
async def delete_member(system: System, site_id: SiteId, charge_point_id: ChargePointId) -> None:
    """Remove a charge point from the site: the site's profiles on it are cleared."""
    async with system.engine.begin() as db:
        if not await sites.remove_member(db, site_id, charge_point_id):
            raise ProblemException(
                Problem(
                    status=404,
                    error=f"charge point {charge_point_id!r} is not in site {site_id!r}",
                )
            )
    await _reload(system, site_id)


@get("/sites/{siteId:str}/allocation", tags=TAGS, responses=documented(404, 503))
async def get_allocation(system: System, site_id: SiteId) -> Allocation:
    """The limit in force and how it is shared right now, as the node driving the sites has
    it (503 while a cluster elects one, or while it cannot be asked)."""
    try:
        allocation = await system.sites.live_allocation(site_id)
    except ClusterUnavailable as error:
        raise ProblemException(Problem(status=503, error=str(error))) from None
    if allocation is None:
        raise _unknown_site(site_id)
    return allocation


async def _reload(system: CentralSystem, site_id: str) -> None:
    """The change (stored) applied by the node driving the sites; 503 when it cannot be told
    (in a cluster: Redis unreachable): the change must be sent again."""
    try:
        await system.sites.reload(site_id)
    except ClusterUnavailable as error:
        raise ProblemException(
            Problem(
                status=503,
                error=f"stored, but the node driving the sites was not told ({error}): "
                "send the change again",
            )
        ) from None


ROUTES = [
    list_sites,
    get_site,
    put_site,
    patch_site,
    delete_site,
    put_member,
    delete_member,
    get_allocation,
]


async def _site(db: AsyncConnection, site_id: str) -> Site:
    site = await sites.load(db, site_id)
    if site is None:
        raise _unknown_site(site_id)
    return site


def _check(config: SiteConfig) -> None:
    reason = sites.check(config)
    if reason is not None:
        raise _bad(reason)


def _bad(reason: str) -> ProblemException:
    return ProblemException(Problem(status=400, error=reason))


def _unknown_site(site_id: str) -> ProblemException:
    return ProblemException(Problem(status=404, error=f"unknown site {site_id!r}"))
