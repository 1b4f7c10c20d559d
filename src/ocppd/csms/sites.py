"""Sites: groups of charge points that share a grid connection, its limit, and its storage.

A site has a limit in A per phase or in W, a minimum per car and a maximum per car (both in
the site's unit; by default 6 A and 32 A, converted with the site's voltage and phases for a W
site), and optionally a daily schedule: periods `{start: "HH:MM", limit}` in the site's time
zone, each from its start until the next period's start, the last until midnight; before the
first period the site's `limit` applies. A charge point belongs to at most one site.

Units: in A, the limit is per phase and a car's per-phase current counts in full whatever its
number of phases (we do not know which phase a 1-phase car is on, so it may load any one of
them fully). In W, a car counts for the power it takes (A x voltage x its phases).
"""

import json
import math
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.clock import as_utc
from ocppd.csms.models import site_members, sites

MAX_LIMIT = 10_000_000.0
"""A sanity bound on any limit (10 MW, or 10 MA): beyond it, a typo."""
MAX_PERIODS = 96
DEFAULT_MIN_A = 6.0
"""IEC 61851: below 6 A a car does not charge at all."""
DEFAULT_MAX_A = 32.0
SITE_ID_LENGTH = 64

Amount = Annotated[float, msgspec.Meta(ge=0, le=MAX_LIMIT)]
HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class Unit(StrEnum):
    A = "A"
    """Amperes per phase."""
    W = "W"


class Period(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    start: HHMM
    """Local time of day (the site's time zone) from which `limit` applies."""
    limit: Amount


class SiteConfig(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """What an operator sets (PUT: all of it; absent fields take their defaults)."""

    name: Annotated[str, msgspec.Meta(max_length=255)] = ""
    limit: Amount
    unit: Unit = Unit.A
    min_per_car: Amount | None = None
    """None: 6 A (or its power for a W site)."""
    max_per_car: Amount | None = None
    """None: 32 A (or its power for a W site)."""
    voltage: Annotated[float, msgspec.Meta(ge=100, le=1000)] = 230.0
    """Phase-to-neutral voltage, to convert between A and W."""
    phases: Annotated[int, msgspec.Meta(ge=1, le=3)] = 3
    """The phases a car is assumed to use until its meter values say otherwise."""
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "UTC"
    """IANA name; the schedule's periods are in local time."""
    schedule: Annotated[list[Period], msgspec.Meta(max_length=MAX_PERIODS)] = []

    def minimum(self) -> float:
        return self._default(self.min_per_car, DEFAULT_MIN_A)

    def maximum(self) -> float:
        return self._default(self.max_per_car, DEFAULT_MAX_A)

    def _default(self, value: float | None, amps: float) -> float:
        if value is not None:
            return value
        return amps if self.unit is Unit.A else amps * self.voltage * self.phases

    def watts_per_amp(self, phases: int | None = None) -> float:
        return self.voltage * (phases or self.phases)


class Site(msgspec.Struct, rename="camel", kw_only=True):
    site_id: str
    config: SiteConfig
    charge_points: list[str]
    """The identities of its members."""


def check(config: SiteConfig) -> str | None:
    """What msgspec's constraints cannot say; None when the configuration is sound."""
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {config.timezone!r}"
    starts = [period.start for period in config.schedule]
    if starts != sorted(set(starts)):
        return "the schedule's periods must start at increasing times"
    if config.minimum() > config.maximum():
        return f"minPerCar {config.minimum()} exceeds maxPerCar {config.maximum()}"
    return None


# The limit in force


def limit_at(config: SiteConfig, instant: datetime) -> float:
    """The site's limit at `instant`: the schedule's period then, else `limit`."""
    local = instant.astimezone(ZoneInfo(config.timezone)).time()
    limit = config.limit
    for period in config.schedule:
        if _time(period.start) <= local:
            limit = period.limit
    return limit


def next_change(config: SiteConfig, instant: datetime) -> datetime | None:
    """The next instant after `instant` at which the schedule may change the limit."""
    if not config.schedule:
        return None
    zone = ZoneInfo(config.timezone)
    local = instant.astimezone(zone)
    for days in (0, 1):
        day = local.date() + timedelta(days=days)
        for boundary in [time(0, 0), *(_time(p.start) for p in config.schedule)]:
            candidate = datetime.combine(day, boundary, zone)
            if candidate > local:
                return candidate.astimezone(instant.tzinfo)
    return None  # unreachable: midnight tomorrow is always later


def _time(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def floor_tenth(value: float) -> float:
    """Down to one decimal, as a charging limit is sent: never above what was allocated."""
    return math.floor(value * 10) / 10


def nearest_tenth(value: float) -> float:
    """To one decimal, the precision of OCPP's limits: how amounts are shown (a sum of
    limits such as 33.3 * 3 is 99.9, not 99.89999999999998)."""
    return round(value, 1)


# Storage


def _row(site_id: str, config: SiteConfig, now: datetime) -> dict[str, Any]:
    return {
        "id": site_id,
        "name": config.name,
        "limit": config.limit,
        "unit": config.unit.value,
        "min_per_car": config.min_per_car,
        "max_per_car": config.max_per_car,
        "voltage": config.voltage,
        "phases": config.phases,
        "timezone": config.timezone,
        "schedule": json.dumps(msgspec.to_builtins(config.schedule)),
        "updated_at": now,
    }


def _config(row: Any) -> SiteConfig:
    return SiteConfig(
        name=row.name,
        limit=row.limit,
        unit=Unit(row.unit),
        min_per_car=row.min_per_car,
        max_per_car=row.max_per_car,
        voltage=row.voltage,
        phases=row.phases,
        timezone=row.timezone,
        schedule=msgspec.convert(json.loads(row.schedule), list[Period]),
    )


async def load(db: AsyncConnection, site_id: str) -> Site | None:
    row = (await db.execute(sa.select(sites).where(sites.c.id == site_id))).first()
    if row is None:
        return None
    query = sa.select(site_members.c.charge_point_id).where(site_members.c.site_id == site_id)
    members = sorted((await db.execute(query)).scalars())
    return Site(site_id=site_id, config=_config(row), charge_points=members)


async def load_all(
    db: AsyncConnection, after: str | None = None, limit: int | None = None
) -> list[Site]:
    query = sa.select(sites).order_by(sites.c.id)
    if after is not None:
        query = query.where(sites.c.id > after)
    if limit is not None:
        query = query.limit(limit)
    rows = (await db.execute(query)).all()
    members: dict[str, list[str]] = {row.id: [] for row in rows}
    if rows:
        found = await db.execute(
            sa.select(site_members)
            .where(site_members.c.site_id.in_(list(members)))
            .order_by(site_members.c.charge_point_id)
        )
        for member in found:
            members[member.site_id].append(member.charge_point_id)
    return [
        Site(site_id=row.id, config=_config(row), charge_points=members[row.id]) for row in rows
    ]


async def save(db: AsyncConnection, site_id: str, config: SiteConfig, now: datetime) -> bool:
    """Create or replace; True when it is new."""
    values = _row(site_id, config, now)
    updated = await db.execute(sites.update().where(sites.c.id == site_id).values(values))
    if updated.rowcount:
        return False
    await db.execute(sites.insert().values({**values, "created_at": now}))
    return True


async def delete(db: AsyncConnection, site_id: str) -> bool:
    await db.execute(site_members.delete().where(site_members.c.site_id == site_id))
    return bool((await db.execute(sites.delete().where(sites.c.id == site_id))).rowcount)


async def site_of(db: AsyncConnection, charge_point_id: str) -> str | None:
    query = sa.select(site_members.c.site_id).where(
        site_members.c.charge_point_id == charge_point_id
    )
    found: str | None = (await db.execute(query)).scalar()
    return found


async def add_member(
    db: AsyncConnection, site_id: str, charge_point_id: str, now: datetime
) -> None:
    await db.execute(
        site_members.insert().values(
            charge_point_id=charge_point_id, site_id=site_id, added_at=as_utc(now)
        )
    )


async def remove_member(db: AsyncConnection, site_id: str, charge_point_id: str) -> bool:
    removed = await db.execute(
        site_members.delete().where(
            site_members.c.site_id == site_id, site_members.c.charge_point_id == charge_point_id
        )
    )
    return bool(removed.rowcount)
