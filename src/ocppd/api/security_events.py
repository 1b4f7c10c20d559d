"""Security events (viewer role), newest first, filterable, a page at a time; and the root
certificates a charge point reported installed.

- `GET /security-events`: every charger's, with `chargePointId` (the events the central
  system recorded itself may name an identity that is not registered), `type` (compared
  without case: a CiString), `critical`, `source` (charger or central_system), and
  `since`/`until` on the event's timestamp (at or after / before).
- `GET /charge-points/{id}/security-events`: one registered charge point's (404 otherwise).
- `GET /charge-points/{id}/installed-certificates`: the hash data of the root certificates of
  its last GetInstalledCertificateIds answer per certificate type (`csms/installed_certificates`).
"""

from datetime import datetime
from typing import Annotated, Literal

import msgspec
import sqlalchemy as sa
from litestar import get
from litestar.params import QueryParameter

from ocppd.api.charge_points import ChargePointId
from ocppd.api.operator_input import DATE_TIMES, utc
from ocppd.api.pages import IdCursor, Limit, newest_first, next_cursor
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.system import System
from ocppd.csms import installed_certificates, registration
from ocppd.csms.clock import as_utc
from ocppd.csms.models import security_events


class SecurityEvent(msgspec.Struct, rename="camel", kw_only=True):
    id: int
    charge_point_id: str
    type: str
    tech_info: str | None
    critical: bool
    """On the white paper's list of critical security events."""
    source: str
    """charger (its SecurityEventNotification) or central_system (what ocppd saw itself)."""
    timestamp: datetime
    """When it happened: the charger's time, or ocppd's for its own."""
    received_at: datetime


class SecurityEventPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[SecurityEvent]
    next_cursor: str | None


TypeFilter = Annotated[
    str | None, QueryParameter(name="type", description="The event type, without case.")
]
Critical = Annotated[
    bool | None, QueryParameter(description="Only critical (true) or other (false) events.")
]
Source = Annotated[
    Literal["charger", "central_system"] | None,
    QueryParameter(description="Who recorded it: the charger, or the central system itself."),
]
Since = Annotated[
    datetime | None, QueryParameter(description="Only events at or after this (timestamp).")
]
Until = Annotated[datetime | None, QueryParameter(description="Only events before this.")]


@get(
    "/security-events",
    tags=["security events"],
    opt={DATE_TIMES: ("since", "until")},
    responses=documented(),
)
async def list_security_events(
    system: System,
    limit: Limit = 100,
    cursor: IdCursor = None,
    charge_point_id: Annotated[str | None, QueryParameter(name="chargePointId")] = None,
    event_type: TypeFilter = None,
    critical: Critical = None,
    source: Source = None,
    since: Since = None,
    until: Until = None,
) -> SecurityEventPage:
    """Every charge point's security events, newest first."""
    return await _page(
        system, limit, cursor, charge_point_id, event_type, critical, source, since, until
    )


@get(
    "/charge-points/{chargePointId:str}/security-events",
    tags=["security events"],
    opt={DATE_TIMES: ("since", "until")},
    responses=documented(404),
)
async def list_charge_point_security_events(
    system: System,
    charge_point_id: ChargePointId,
    limit: Limit = 100,
    cursor: IdCursor = None,
    event_type: TypeFilter = None,
    critical: Critical = None,
    source: Source = None,
    since: Since = None,
    until: Until = None,
) -> SecurityEventPage:
    """A charge point's security events, newest first."""
    await _known(system, charge_point_id)
    return await _page(
        system, limit, cursor, charge_point_id, event_type, critical, source, since, until
    )


async def _page(
    system: System,
    limit: int,
    cursor: str | None,
    charge_point_id: str | None,
    event_type: str | None,
    critical: bool | None,
    source: str | None,
    since: datetime | None,
    until: datetime | None,
) -> SecurityEventPage:
    e = security_events.c
    query = newest_first(security_events, e.id, limit, cursor)
    if charge_point_id is not None:
        query = query.where(e.charge_point_id == charge_point_id)
    if event_type is not None:
        query = query.where(sa.func.lower(e.type) == event_type.lower())
    if critical is not None:
        query = query.where(e.critical.is_(critical))
    if source is not None:
        query = query.where(e.source == source)
    if since is not None:
        query = query.where(e.timestamp >= utc("since", since))
    if until is not None:
        query = query.where(e.timestamp < utc("until", until))
    async with system.engine.connect() as db:
        rows = (await db.execute(query)).all()
    return SecurityEventPage(
        items=[
            SecurityEvent(
                id=row.id,
                charge_point_id=row.charge_point_id,
                type=row.type,
                tech_info=row.tech_info,
                critical=row.critical,
                source=row.source,
                timestamp=as_utc(row.timestamp),
                received_at=as_utc(row.received_at),
            )
            for row in rows[:limit]
        ],
        next_cursor=next_cursor([str(row.id) for row in rows], limit),
    )


class InstalledCertificate(msgspec.Struct, rename="camel", kw_only=True):
    certificate_type: str
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    reported_at: datetime


@get(
    "/charge-points/{chargePointId:str}/installed-certificates",
    tags=["security events"],
    responses=documented(404),
)
async def list_installed_certificates(
    system: System, charge_point_id: ChargePointId
) -> list[InstalledCertificate]:
    """The root certificates of the charge point's last GetInstalledCertificateIds answer of
    each type (none until one was sent and accepted)."""
    await _known(system, charge_point_id)
    found = await installed_certificates.of(system.engine, charge_point_id)
    return [InstalledCertificate(**row) for row in found]


async def _known(system: System, charge_point_id: str) -> None:
    async with system.engine.connect() as db:
        if await registration.load(db, charge_point_id) is None:
            raise ProblemException(
                Problem(status=404, error=f"unknown charge point {charge_point_id!r}")
            )


ROUTES = [
    list_security_events,
    list_charge_point_security_events,
    list_installed_certificates,
]
