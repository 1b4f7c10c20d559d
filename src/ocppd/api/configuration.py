"""A charge point's configuration, kept in step with what it answers.

- GetConfiguration: the known keys (readonly, value) and the unknown ones are stored; an
  answer to a request without keys is the whole configuration and replaces what was kept.
- ChangeConfiguration: Accepted stores the value; RebootRequired stores it as applying after
  the next reboot (`rebootRequired`); NotSupported marks the key unknown; Rejected changes
  nothing.
- AuthorizationKey is write-only: its value is never kept. An Accepted change makes the new
  key the one the charge point must present (its salted hash replaces the old one), so its
  reconnect with the new key is admitted and the old key is refused (security white paper).

Keys are kept as the charger spells them.
"""

from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import get
from msgspec import UNSET

from ocppd.api.charge_points import ChargePointId
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.sending import FollowUp
from ocppd.api.system import System
from ocppd.csms import registration
from ocppd.csms.authorization_key import AUTHORIZATION_KEY
from ocppd.csms.bulk_writes import Upsert
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.clock import as_utc
from ocppd.csms.models import charge_points, configuration
from ocppd.csms.stored_text import fitted
from ocppd.protocol import messages as m
from ocppd.protocol.enums import ConfigurationStatus


class ConfigurationKey(msgspec.Struct, rename="camel", kw_only=True):
    key: str
    readonly: bool | None
    value: str | None
    """Absent when the charger reported none, and always for AuthorizationKey."""
    reboot_required: bool
    """Changed with RebootRequired: `value` applies after the next reboot."""
    updated_at: datetime


class Configuration(msgspec.Struct, rename="camel", kw_only=True):
    charge_point_id: str
    configuration_key: list[ConfigurationKey]
    unknown_key: list[str]


def _writable(key: str, value: str | None) -> str | None:
    return None if key.lower() == AUTHORIZATION_KEY else value


def _row(
    charge_point_id: str,
    key: str,
    at: datetime,
    *,
    known: bool,
    readonly: bool | None = None,
    value: str | None = None,
    reboot_required: bool = False,
) -> dict[str, Any]:
    return fitted(
        configuration,
        {
            "charge_point_id": charge_point_id,
            "key": key,
            "known": known,
            "readonly": readonly,
            "value": _writable(key, value),
            "reboot_required": reboot_required,
            "updated_at": at,
        },
    )


# Follow-ups of the commands


async def got(
    system: CentralSystem,
    charge_point_id: str,
    request: m.GetConfigurationRequest,
    response: m.GetConfigurationResponse,
) -> None:
    now = system.clock()
    rows: dict[str, dict[str, Any]] = {}
    for item in [] if response.configuration_key is UNSET else response.configuration_key:
        value = None if item.value is UNSET else item.value
        row = _row(charge_point_id, item.key, now, known=True, readonly=item.readonly, value=value)
        rows[row["key"]] = row  # as stored: a key over its column's length is cut
    for key in [] if response.unknown_key is UNSET else response.unknown_key:
        row = _row(charge_point_id, key, now, known=False)
        rows.setdefault(row["key"], row)
    if request.key is UNSET or not request.key:
        # The whole configuration: what it no longer reports is gone.
        async def replace(db: Any) -> None:
            await db.execute(
                configuration.delete().where(configuration.c.charge_point_id == charge_point_id)
            )
            if rows:
                await db.execute(configuration.insert(), list(rows.values()))

        await system.writer.commit([], replace)
        return
    upserts = [Upsert(configuration, ("charge_point_id", "key"), row) for row in rows.values()]
    await system.writer.commit([], upserts=upserts)


async def changed(
    system: CentralSystem,
    charge_point_id: str,
    request: m.ChangeConfigurationRequest,
    response: m.ChangeConfigurationResponse,
) -> None:
    now = system.clock()
    status = response.status
    if status == ConfigurationStatus.REJECTED:
        return
    if status == ConfigurationStatus.NOT_SUPPORTED:
        row = _row(charge_point_id, request.key, now, known=False)
    else:
        row = _row(
            charge_point_id,
            request.key,
            now,
            known=True,
            readonly=False,
            value=request.value,
            reboot_required=status == ConfigurationStatus.REBOOT_REQUIRED,
        )
    upserts = [Upsert(configuration, ("charge_point_id", "key"), row)]
    if request.key.lower() == AUTHORIZATION_KEY and status == ConfigurationStatus.ACCEPTED:
        key_hash = registration.hash_key(request.value)

        async def new_key(db: Any) -> None:
            await db.execute(
                charge_points.update()
                .where(charge_points.c.id == charge_point_id)
                .values(auth_key_hash=key_hash)
            )

        await system.writer.commit([], new_key, upserts)
        return
    await system.writer.commit([], upserts=upserts)


FOLLOW_UPS: dict[str, FollowUp] = {"GetConfiguration": got, "ChangeConfiguration": changed}


# Routes


@get(
    "/charge-points/{chargePointId:str}/configuration",
    tags=["charge points"],
    responses=documented(404),
)
async def get_configuration(system: System, charge_point_id: ChargePointId) -> Configuration:
    """What the charge point's GetConfiguration and ChangeConfiguration answers said (empty
    until it has answered one)."""
    c = configuration.c
    async with system.engine.connect() as db:
        if await registration.load(db, charge_point_id) is None:
            raise ProblemException(
                Problem(status=404, error=f"unknown charge point {charge_point_id!r}")
            )
        rows = (
            await db.execute(
                sa.select(configuration).where(c.charge_point_id == charge_point_id).order_by(c.key)
            )
        ).all()
    return Configuration(
        charge_point_id=charge_point_id,
        configuration_key=[
            ConfigurationKey(
                key=row.key,
                readonly=row.readonly,
                value=row.value,
                reboot_required=row.reboot_required,
                updated_at=as_utc(row.updated_at),
            )
            for row in rows
            if row.known
        ],
        unknown_key=[row.key for row in rows if not row.known],
    )


ROUTES = [get_configuration]
