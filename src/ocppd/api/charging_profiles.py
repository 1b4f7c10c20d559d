"""Charging profiles: what each charge point holds (csms/charging_profiles.py records it from
every answer), and the composite schedule ocppd predicts from them, as JSON and as an SVG plot.

- `GET /charge-points/{id}/charging-profiles[?connectorId=&purpose=]`: in installation order
  (among equal stack levels the later prevails). `connectorId` is the connector a profile is
  set on (0: the station, or every connector for a TxDefaultProfile).
- `GET /charge-points/{id}/connectors/{connectorId}/composite-schedule[.svg]`: the limit in
  force from `start` (default now) for `duration` seconds (default a day, at most 31 days) in
  `chargingRateUnit` (default A), with the configured voltage and phases. `limit` null =
  nothing limits (the charger's own maximum applies). The charger's own answers to
  GetCompositeSchedule, compared with this prediction, are under `.../checks`.
- `GET /charge-points/{id}/connectors/{connectorId}/composite-schedule/checks`: the charger's
  Accepted GetCompositeSchedule answers (whoever sent the command) next to the prediction at
  the time, latest first; `matches` false names the first instant they disagree and both
  limits (csms/composite_checks.py).
"""

from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter

from ocppd.api.charge_points import ChargePointId
from ocppd.api.operator_input import DATE_TIMES, utc
from ocppd.api.pages import IdCursor, Limit, newest_first, next_cursor
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.schedule_plot import plot
from ocppd.api.system import System
from ocppd.csms import registration
from ocppd.csms.clock import as_utc
from ocppd.csms.models import MAX_CONNECTOR_ID, composite_checks
from ocppd.protocol.datatypes import ChargingProfile, ChargingSchedule
from ocppd.protocol.enums import ChargingProfilePurposeType, ChargingRateUnitType
from ocppd.protocol.smart_charging import Composite

MAX_DURATION = 31 * 24 * 3600
SVG = "image/svg+xml"


class HeldProfile(msgspec.Struct, rename="camel", kw_only=True):
    connector_id: int
    """The connector it is set on; a RemoteStartTransaction's profile: its transaction's (0
    while pending and the request named none)."""
    transaction_id: int | None
    """A TxProfile's transaction (it ends with it)."""
    pending: bool
    """A RemoteStartTransaction's profile whose transaction has not started yet."""
    installed_at: datetime
    charging_profile: ChargingProfile
    """As it was sent."""


class HeldProfiles(msgspec.Struct, rename="camel", kw_only=True):
    charge_point_id: str
    items: list[HeldProfile]


class Interval(msgspec.Struct, rename="camel", kw_only=True):
    start: datetime
    end: datetime
    limit: float | None
    """None: nothing limits."""
    number_phases: int | None


class CompositeSchedule(msgspec.Struct, rename="camel", kw_only=True):
    charge_point_id: str
    connector_id: int
    start: datetime
    end: datetime
    charging_rate_unit: ChargingRateUnitType
    voltage: float
    phases: int
    """The conversion between A (per phase) and W (total)."""
    intervals: list[Interval]


class Mismatch(msgspec.Struct, rename="camel", kw_only=True):
    at: datetime
    """The first instant the answer and the prediction disagree."""
    predicted_limit: float | None
    reported_limit: float


class CompositeCheck(msgspec.Struct, rename="camel", kw_only=True):
    id: int
    charge_point_id: str
    connector_id: int
    checked_at: datetime
    schedule_start: datetime
    duration: int
    """Seconds compared (at most 31 days of the window asked for)."""
    charging_rate_unit: str
    matches: bool
    mismatch: Mismatch | None
    reported: ChargingSchedule
    """The charger's chargingSchedule."""
    predicted: list[Interval]


class CompositeCheckPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[CompositeCheck]
    next_cursor: str | None


ConnectorQuery = Annotated[
    int | None,
    # Litestar leaves a bound of 0 out of an optional parameter's schema: said again.
    QueryParameter(name="connectorId", ge=0, le=MAX_CONNECTOR_ID, schema_extra={"minimum": 0}),
]
ConnectorPath = Annotated[int, PathParameter(name="connectorId", ge=0, le=MAX_CONNECTOR_ID)]
Duration = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_DURATION, description="Seconds from `start` (at most 31 days)."),
]
Unit = Annotated[ChargingRateUnitType, QueryParameter(name="chargingRateUnit")]
Start = Annotated[
    datetime | None,
    QueryParameter(description="RFC 3339 with a zone; default now."),
]


@get(
    "/charge-points/{chargePointId:str}/charging-profiles",
    tags=["smart charging"],
    responses=documented(404),
)
async def list_charging_profiles(
    system: System,
    charge_point_id: ChargePointId,
    connector_id: ConnectorQuery = None,
    purpose: Annotated[ChargingProfilePurposeType | None, QueryParameter()] = None,
) -> HeldProfiles:
    """The profiles the charge point holds, as its answers said, in installation order."""
    await _known(system, charge_point_id)
    items = [
        HeldProfile(
            connector_id=item.installed.connector_id,
            transaction_id=item.installed.transaction_id,
            pending=item.pending,
            installed_at=item.installed.received_at,
            charging_profile=item.installed.profile,
        )
        for item in await system.charging_profiles.stored(charge_point_id)
        if connector_id in (None, item.installed.connector_id)
        and purpose in (None, item.installed.profile.charging_profile_purpose)
    ]
    return HeldProfiles(charge_point_id=charge_point_id, items=items)


async def _predicted(
    system: System,
    charge_point_id: ChargePointId,
    connector_id: ConnectorPath,
    duration: Duration = 86400,
    charging_rate_unit: Unit = ChargingRateUnitType.A,
    start: Start = None,
) -> Composite:
    """The composite of the query, for both of its forms."""
    await _known(system, charge_point_id)
    if start is not None and start.tzinfo is None:
        raise ProblemException(
            Problem(status=400, error="start: needs a zone", field="start", reason="no zone")
        )
    begin = system.clock() if start is None else utc("start", start)
    try:
        end = begin + timedelta(seconds=duration)
    except OverflowError:
        raise ProblemException(
            Problem(status=400, error="start: too late", field="start", reason="out of range")
        ) from None
    return await system.charging_profiles.composite(
        charge_point_id, connector_id, begin, end, charging_rate_unit
    )


PREDICTED = {"composite": Provide(_predicted)}
Predicted = NamedDependency[Composite]


@get(
    "/charge-points/{chargePointId:str}/connectors/{connectorId:int}/composite-schedule",
    tags=["smart charging"],
    dependencies=PREDICTED,
    opt={DATE_TIMES: ("start",)},
    responses=documented(404),
)
async def get_composite_schedule(
    system: System,
    charge_point_id: ChargePointId,
    connector_id: ConnectorPath,
    composite: Predicted,
) -> CompositeSchedule:
    """The limit ocppd predicts on the connector from the profiles the charge point holds."""
    return CompositeSchedule(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        start=composite.start,
        end=composite.end,
        charging_rate_unit=composite.unit,
        voltage=system.charging_profiles.electrical.voltage,
        phases=system.charging_profiles.electrical.phases,
        intervals=[
            Interval(start=i.start, end=i.end, limit=i.limit, number_phases=i.number_phases)
            for i in composite.intervals
        ],
    )


@get(
    "/charge-points/{chargePointId:str}/connectors/{connectorId:int}/composite-schedule.svg",
    tags=["smart charging"],
    media_type=SVG,
    dependencies=PREDICTED,
    opt={DATE_TIMES: ("start",)},
    responses=documented(404),
)
async def plot_composite_schedule(
    charge_point_id: ChargePointId, connector_id: ConnectorPath, composite: Predicted
) -> Response[str]:
    """The predicted composite as an SVG plot of the limit against time."""
    title = f"{charge_point_id}, connector {connector_id}: predicted limit"
    return Response(plot(composite, title), media_type=SVG)


@get(
    "/charge-points/{chargePointId:str}/connectors/{connectorId:int}/composite-schedule/checks",
    tags=["smart charging"],
    responses=documented(404),
)
async def list_composite_checks(
    system: System,
    charge_point_id: ChargePointId,
    connector_id: ConnectorPath,
    limit: Limit = 100,
    cursor: IdCursor = None,
) -> CompositeCheckPage:
    """The charger's GetCompositeSchedule answers compared with ocppd's prediction, latest
    first."""
    await _known(system, charge_point_id)
    c = composite_checks.c
    query = newest_first(composite_checks, c.id, limit, cursor).where(
        c.charge_point_id == charge_point_id, c.connector_id == connector_id
    )
    async with system.engine.connect() as db:
        rows = (await db.execute(query)).all()
    return CompositeCheckPage(
        items=[_check(row) for row in rows[:limit]],
        next_cursor=next_cursor([str(row.id) for row in rows], limit),
    )


def _check(row: Any) -> CompositeCheck:
    mismatch = None
    if not row.matches:
        mismatch = Mismatch(
            at=as_utc(row.mismatch_at),
            predicted_limit=row.predicted_limit,
            reported_limit=row.reported_limit,
        )
    return CompositeCheck(
        id=row.id,
        charge_point_id=row.charge_point_id,
        connector_id=row.connector_id,
        checked_at=as_utc(row.checked_at),
        schedule_start=as_utc(row.schedule_start),
        duration=row.duration,
        charging_rate_unit=row.unit,
        matches=row.matches,
        mismatch=mismatch,
        reported=msgspec.json.decode(row.reported, type=ChargingSchedule),
        predicted=msgspec.json.decode(row.predicted, type=list[Interval]),
    )


async def _known(system: System, charge_point_id: str) -> None:
    async with system.engine.connect() as db:
        if await registration.load(db, charge_point_id) is None:
            raise ProblemException(
                Problem(status=404, error=f"unknown charge point {charge_point_id!r}")
            )


ROUTES = [
    list_charging_profiles,
    get_composite_schedule,
    plot_composite_schedule,
    list_composite_checks,
]
