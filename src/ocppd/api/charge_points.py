"""Charge points: registration (admin) and what the central system knows of each one.

Its security settings: `securityProfile` (0-3, the lowest profile a connection of it may use)
and `securityExtension` (whether it is sent the security extension's commands). A PUT without
them keeps the stored ones (a new charge point: 0 and false): a lower profile is an operator's
explicit decision, never the side effect of a script that predates the field. Lowering it is
allowed and recorded as a security event (`SecurityProfileLowered`, source central_system).
`fileTransport` (http or ftp) is how its diagnostics, logs and firmware travel unless a job
says otherwise (issue 20); a PUT without it keeps the stored one (new: http).

A charge point's view joins its registration, its last BootNotification, its last
heartbeat, the status of each connector, and whether it is connected right now, to which node
of the cluster (from Redis when not to the node answering: 503 while Redis is unreachable).
"""

from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
import sqlalchemy as sa
from litestar import Response, delete, get, patch, put
from litestar.params import FromQuery, JSONBody, PathParameter
from msgspec import UNSET, UnsetType
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.api.auth import needs
from ocppd.api.pages import Cursor, Limit, next_cursor
from ocppd.api.problems import Problem, ProblemException, created, documented
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.csms import registration, security_settings
from ocppd.csms.central_system import MAX_IDENTITY_LENGTH
from ocppd.csms.clock import as_utc
from ocppd.csms.cluster import ClusterUnavailable, Holder
from ocppd.csms.jobs import Transport
from ocppd.csms.models import charge_points, connectors, security_upgrades
from ocppd.protocol.enums import RegistrationStatus
from ocppd.protocol.leniency import Rule

T = TypeVar("T")

SecurityProfile = Annotated[int, msgspec.Meta(ge=0, le=3)]
"""OCPP security profile: 0 none, 1 Basic auth, 2 TLS and Basic auth, 3 TLS with a client
certificate. (No description in the Meta: wrapped in metadata, its bound of 0 would not reach
the OpenAPI document.)"""

ChargePointId = Annotated[
    str, PathParameter(name="chargePointId", min_length=1, max_length=MAX_IDENTITY_LENGTH)
]


class Connector(msgspec.Struct, rename="camel", kw_only=True):
    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    timestamp: datetime


class Boot(msgspec.Struct, rename="camel", kw_only=True):
    """What the last BootNotification said."""

    charge_point_vendor: str | None
    charge_point_model: str | None
    charge_point_serial_number: str | None
    charge_box_serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    timestamp: datetime


class ChargePoint(msgspec.Struct, rename="camel", kw_only=True):
    charge_point_id: str
    registration_status: RegistrationStatus
    basic_auth: bool
    """Whether it must present an AuthorizationKey (HTTP Basic)."""
    tolerate: list[Rule]
    security_profile: SecurityProfile
    """The lowest OCPP security profile (0-3) a connection of it may use."""
    security_extension: bool
    """Whether it is sent the OCPP 1.6 security extension's commands."""
    file_transport: Transport
    """How its jobs' files travel unless a job says: http, or ftp (ocppd's FTP server)."""
    connected: bool
    connected_at: datetime | None
    node: str | None = None
    """The node of the cluster that holds its connection (`GET /api/v1/cluster`); null when
    it is not connected."""
    boot: Boot | None
    last_heartbeat: datetime | None
    connectors: list[Connector]
    created_at: datetime


class ChargePointPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[ChargePoint]
    next_cursor: str | None


class Registration(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """PUT: the whole registration. An absent authorizationKey means no Basic auth."""

    registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED
    authorization_key: str | None = None
    tolerate: list[Rule] = msgspec.field(default_factory=list)
    security_profile: SecurityProfile | UnsetType = UNSET
    """Absent: the stored one (0 for a new charge point)."""
    security_extension: bool | UnsetType = UNSET
    """Absent: the stored one (false for a new charge point)."""
    file_transport: Transport | UnsetType = UNSET
    """Absent: the stored one (http for a new charge point)."""


class RegistrationChange(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """PATCH: only the fields given change; `authorizationKey: null` removes the key."""

    registration_status: RegistrationStatus | UnsetType = UNSET
    authorization_key: str | UnsetType | None = UNSET
    tolerate: list[Rule] | UnsetType = UNSET
    security_profile: SecurityProfile | UnsetType = UNSET
    security_extension: bool | UnsetType = UNSET
    file_transport: Transport | UnsetType = UNSET


@get("/charge-points", tags=["charge points"], responses=documented(503))
async def list_charge_points(
    system: System,
    limit: Limit = 100,
    cursor: Cursor = None,
    connected: FromQuery[bool | None] = None,
) -> ChargePointPage:
    """Charge points by identity, with connection state, boot details and connectors."""
    # Connections live in memory (and in Redis), not in the database: the filter is applied
    # here rather than as an IN list of every connected identity (tens of thousands of bound
    # parameters).
    async with system.engine.connect() as db:
        if connected:
            everywhere = await _cluster(system.connected())
            wanted = [i for i in everywhere if cursor is None or i > cursor]
            rows = await _rows(db, cursor, limit + 1, charge_points.c.id.in_(wanted[: limit + 1]))
        else:
            rows = []
            after = cursor
            while len(rows) <= limit:
                batch = await _rows(db, after, limit + 1)
                if not batch:
                    break
                if connected is None:
                    rows += batch
                else:
                    held = await _holders(system, [r.id for r in batch])
                    rows += [r for r in batch if r.id not in held]
                after = batch[-1].id
            rows = rows[: limit + 1]
        items = await _views(db, system, rows[:limit])
    return ChargePointPage(items=items, next_cursor=next_cursor([r.id for r in rows], limit))


async def _rows(
    db: AsyncConnection, after: str | None, limit: int, *where: sa.ColumnElement[bool]
) -> list[Any]:
    query = sa.select(charge_points).where(*where).order_by(charge_points.c.id).limit(limit)
    if after is not None:
        query = query.where(charge_points.c.id > after)
    return list((await db.execute(query)).all())


@get("/charge-points/{chargePointId:str}", tags=["charge points"], responses=documented(404, 503))
async def get_charge_point(system: System, charge_point_id: ChargePointId) -> ChargePoint:
    async with system.engine.connect() as db:
        return await _view(db, system, charge_point_id)


@put(
    "/charge-points/{chargePointId:str}",
    tags=["charge points"],
    opt=needs(Role.ADMIN),
    responses={**created(ChargePoint), **documented(503)},
)
async def put_charge_point(
    system: System, charge_point_id: ChargePointId, data: JSONBody[Registration]
) -> Response[ChargePoint]:
    """Register a charge point, or replace its registration (201 when new)."""
    async with system.engine.begin() as db:
        before = await security_settings.load(db, charge_point_id)
        await registration.register(
            db,
            charge_point_id,
            data.registration_status,
            data.authorization_key,
            frozenset(data.tolerate),
            None if data.file_transport is UNSET else data.file_transport,
        )
        lowered = await security_settings.store(
            db,
            charge_point_id,
            before,
            None if data.security_profile is UNSET else data.security_profile,
            None if data.security_extension is UNSET else data.security_extension,
            system.clock(),
        )
        view = await _view(db, system, charge_point_id)
    security_settings.publish(system.events, lowered)
    await _update_live(system, charge_point_id, data.registration_status)
    return Response(view, status_code=200 if before is not None else 201)


@patch(
    "/charge-points/{chargePointId:str}",
    tags=["charge points"],
    opt=needs(Role.ADMIN),
    responses=documented(404, 503),
)
async def patch_charge_point(
    system: System, charge_point_id: ChargePointId, data: JSONBody[RegistrationChange]
) -> ChargePoint:
    values: dict[str, Any] = {}
    if data.registration_status is not UNSET:
        values["registration_status"] = data.registration_status.value
    if data.authorization_key is not UNSET:
        key = data.authorization_key
        values["auth_key_hash"] = registration.hash_key(key) if key else None
    if data.tolerate is not UNSET:
        values["leniency_rules"] = ",".join(sorted(set(data.tolerate)))
    if data.file_transport is not UNSET:
        values["file_transport"] = data.file_transport
    async with system.engine.begin() as db:
        before = await security_settings.load(db, charge_point_id)
        if before is None:
            raise _unknown(charge_point_id)
        if values:
            await db.execute(
                charge_points.update().where(charge_points.c.id == charge_point_id).values(values)
            )
        lowered = await security_settings.store(
            db,
            charge_point_id,
            before,
            None if data.security_profile is UNSET else data.security_profile,
            None if data.security_extension is UNSET else data.security_extension,
            system.clock(),
        )
        view = await _view(db, system, charge_point_id)
    security_settings.publish(system.events, lowered)
    if data.registration_status is not UNSET:
        await _update_live(system, charge_point_id, data.registration_status)
    return view


@delete(
    "/charge-points/{chargePointId:str}",
    tags=["charge points"],
    opt=needs(Role.ADMIN),
    responses=documented(404, 503),
)
async def delete_charge_point(system: System, charge_point_id: ChargePointId) -> None:
    """Forget a charge point (its transactions and message log stay); a connected one is
    disconnected, whichever node holds it (503, nothing deleted, while that cannot be
    known)."""
    async with system.engine.connect() as db:
        if await registration.load(db, charge_point_id) is None:
            raise _unknown(charge_point_id)
    # Disconnect first, so that what it sends meanwhile cannot recreate its connector rows.
    await _cluster(system.disconnect(charge_point_id, 1008, "charge point deleted"))
    async with system.engine.begin() as db:
        await db.execute(connectors.delete().where(connectors.c.charge_point_id == charge_point_id))
        await db.execute(
            security_upgrades.delete().where(security_upgrades.c.charge_point_id == charge_point_id)
        )
        await db.execute(charge_points.delete().where(charge_points.c.id == charge_point_id))


def _unknown(charge_point_id: str) -> ProblemException:
    return ProblemException(Problem(status=404, error=f"unknown charge point {charge_point_id!r}"))


async def _update_live(system: System, charge_point_id: str, status: RegistrationStatus) -> None:
    # A connected charge point's next BootNotification is answered with the new status, on
    # whichever node holds it. The change is stored already when that node cannot be told.
    try:
        await system.registration_changed(charge_point_id, status)
    except ClusterUnavailable as error:
        raise ProblemException(
            Problem(
                status=503,
                error=f"stored, but the node holding {charge_point_id!r} was not told "
                f"(its next boot is answered with the old status until it reconnects): {error}",
            )
        ) from None


async def _cluster(awaitable: Awaitable[T]) -> T:
    """What needs the cluster; 503 with the reason while Redis is unreachable."""
    try:
        return await awaitable
    except ClusterUnavailable as error:
        raise ProblemException(Problem(status=503, error=str(error))) from None


async def _holders(system: System, ids: list[str]) -> dict[str, Holder]:
    return await _cluster(system.holders(ids))


async def _view(db: AsyncConnection, system: System, charge_point_id: str) -> ChargePoint:
    row = (
        await db.execute(sa.select(charge_points).where(charge_points.c.id == charge_point_id))
    ).first()
    if row is None:
        raise _unknown(charge_point_id)
    return (await _views(db, system, [row]))[0]


async def _views(db: AsyncConnection, system: System, rows: Sequence[Any]) -> list[ChargePoint]:
    ids = [row.id for row in rows]
    by_charge_point: dict[str, list[Connector]] = {i: [] for i in ids}
    if ids:
        found = await db.execute(
            sa.select(connectors)
            .where(connectors.c.charge_point_id.in_(ids))
            .order_by(connectors.c.charge_point_id, connectors.c.connector_id)
        )
        for c in found:
            by_charge_point[c.charge_point_id].append(
                Connector(
                    connector_id=c.connector_id,
                    status=c.status,
                    error_code=c.error_code,
                    info=c.info,
                    vendor_id=c.vendor_id,
                    vendor_error_code=c.vendor_error_code,
                    timestamp=as_utc(c.status_at),
                )
            )
    held = await _holders(system, ids)
    return [_charge_point(row, held.get(row.id), by_charge_point[row.id]) for row in rows]


def _charge_point(row: Any, live: Holder | None, connector_list: list[Connector]) -> ChargePoint:
    boot = None
    if row.booted_at is not None:
        boot = Boot(
            charge_point_vendor=row.vendor,
            charge_point_model=row.model,
            charge_point_serial_number=row.charge_point_serial_number,
            charge_box_serial_number=row.charge_box_serial_number,
            firmware_version=row.firmware_version,
            iccid=row.iccid,
            imsi=row.imsi,
            meter_type=row.meter_type,
            meter_serial_number=row.meter_serial_number,
            timestamp=as_utc(row.booted_at),
        )
    return ChargePoint(
        charge_point_id=row.id,
        registration_status=RegistrationStatus(row.registration_status),
        basic_auth=row.auth_key_hash is not None,
        tolerate=sorted(registration.parse_rules(row.leniency_rules)),
        security_profile=row.security_profile,
        security_extension=row.security_extension,
        file_transport=row.file_transport,
        connected=live is not None,
        connected_at=None if live is None else live.connected_at,
        node=None if live is None else live.node,
        boot=boot,
        last_heartbeat=as_utc(row.last_heartbeat_at),
        connectors=connector_list,
        created_at=as_utc(row.created_at),
    )
