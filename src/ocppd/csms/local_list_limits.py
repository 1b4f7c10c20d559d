"""What a charger's configuration allows of a local authorization list, checked before a
SendLocalList leaves: a check on `CentralSystem.call`, so the command route,
`POST /charge-points/{id}/local-list` and every other caller are covered.

- `SendLocalListMaxLength`: entries in one SendLocalList.
- `LocalAuthListMaxLength`: entries the charger holds once it applied the list (Full: the
  list's tags with an idTagInfo; Differential: the acknowledged list, updated).

The limits are the values the charger's GetConfiguration answers reported (keys compared
case-insensitively). A limit never reported is not enforced: the charger itself answers
Failed, and the next list is Full.
"""

import sqlalchemy as sa
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.id_tags import tag_key
from ocppd.csms.models import configuration, local_list_entries
from ocppd.csms.system_services import SystemServices
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import AuthorizationData
from ocppd.protocol.enums import UpdateType

SEND_MAX = "sendlocallistmaxlength"
HELD_MAX = "localauthlistmaxlength"


class LocalListTooLong(ValueError):
    """A SendLocalList the charger's limits refuse: not sent."""


class LocalListLimits:
    def __init__(self, system: SystemServices) -> None:
        self.system = system
        system.checks.setdefault("SendLocalList", []).append(self.check)

    async def check(self, charge_point_id: str, request: m.SendLocalListRequest) -> None:
        entries = (
            [] if request.local_authorization_list is UNSET else request.local_authorization_list
        )
        async with self.system.engine.connect() as db:
            limits = await _limits(db, charge_point_id)
            most = limits.get(SEND_MAX)
            if most is not None and len(entries) > most:
                raise LocalListTooLong(
                    f"{len(entries)} entries in one SendLocalList; the charger's "
                    f"SendLocalListMaxLength is {most}"
                )
            most = limits.get(HELD_MAX)
            if most is None:
                return
            held = await _held_after(db, charge_point_id, request.update_type, entries)
        if held > most:
            raise LocalListTooLong(
                f"the charger would hold {held} entries; its LocalAuthListMaxLength is {most}"
            )


async def _limits(db: AsyncConnection, charge_point_id: str) -> dict[str, int]:
    c = configuration.c
    rows = await db.execute(
        sa.select(c.key, c.value).where(
            c.charge_point_id == charge_point_id,
            c.known.is_(True),
            sa.func.lower(c.key).in_([SEND_MAX, HELD_MAX]),
        )
    )
    return {
        row.key.lower(): int(row.value)
        for row in rows
        if row.value is not None and row.value.strip().isdigit()
    }


async def _held_after(
    db: AsyncConnection, charge_point_id: str, kind: str, entries: list[AuthorizationData]
) -> int:
    tags: set[str] = set()
    if kind != UpdateType.FULL:
        e = local_list_entries.c
        rows = await db.execute(sa.select(e.id_tag).where(e.charge_point_id == charge_point_id))
        tags = {tag_key(row.id_tag) for row in rows}
    for entry in entries:
        if entry.id_tag_info is UNSET:
            tags.discard(tag_key(entry.id_tag))
        else:
            tags.add(tag_key(entry.id_tag))
    return len(tags)
