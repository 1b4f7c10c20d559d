"""A charge point's security settings (its OCPP security profile, 0-3, and whether it takes
the security extension's commands): stored, changed by operators, and what they let the
central system send it.

The central system never lowers a profile by itself (the admission raises it when a charger
connects on a higher one). An operator may lower it, through the API or `charge-point add`:
an explicit decision, recorded as a security event (`SecurityProfileLowered`, source
`central_system`, not critical: a type outside the white paper's list) in the same
transaction as the change.

What the settings allow is checked in `CentralSystem.call` (as the boot status is), so it
holds for calls from every edge (API, CLI, dashboard, another node of a cluster, the upgrade
path): the 7 commands of the security extension go only to a charger whose
`security_extension` is true, and ChangeConfiguration of `SecurityProfile` never to a lower
value than the stored profile (the white paper: a profile is only raised; the charger would
refuse anyway, but a charger that does not would be downgraded). Both are `CommandRefused`
(the API's 409) with the reason, and never lifted by `force`. The stored values are read at
each such call: operators change them on any node, and the admission raises them.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.events import EventBus
from ocppd.csms.models import charge_points, security_events
from ocppd.csms.registration import CommandRefused
from ocppd.csms.security_events import EVENT, SecurityEvent, Source
from ocppd.csms.system_services import SystemServices

LOWERED = "SecurityProfileLowered"
"""The type of the security event recorded when an operator lowers a profile."""

SECURITY_COMMANDS = frozenset(
    {
        "CertificateSigned",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetInstalledCertificateIds",
        "GetLog",
        "InstallCertificate",
        "SignedUpdateFirmware",
    }
)
"""What the central system sends of the security extension: only with `security_extension`."""

PROFILE_KEY = "securityprofile"
"""The configuration key, compared case-insensitively (CiString50)."""


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    profile: int
    extension: bool


@dataclass(frozen=True, slots=True)
class Lowered:
    """A profile an operator lowered (for the event published once committed)."""

    charge_point_id: str
    previous: int
    profile: int
    tech_info: str
    at: datetime


async def load(db: AsyncConnection, charge_point_id: str) -> SecuritySettings | None:
    """The stored settings; None for an unknown charge point."""
    row = (
        await db.execute(
            sa.select(charge_points.c.security_profile, charge_points.c.security_extension).where(
                charge_points.c.id == charge_point_id
            )
        )
    ).first()
    return None if row is None else SecuritySettings(row[0], bool(row[1]))


async def store(
    db: AsyncConnection,
    charge_point_id: str,
    before: SecuritySettings | None,
    profile: int | None,
    extension: bool | None,
    now: datetime,
) -> Lowered | None:
    """Store what is given (None: unchanged) for a registered charge point whose settings
    were `before` (None: it was new, 0 and false); a lowered profile is recorded. Returns
    it, for `publish` once the transaction has committed."""
    values: dict[str, Any] = {}
    if profile is not None:
        values["security_profile"] = profile
    if extension is not None:
        values["security_extension"] = extension
    if not values:
        return None
    await db.execute(
        charge_points.update().where(charge_points.c.id == charge_point_id).values(values)
    )
    if before is None or profile is None or profile >= before.profile:
        return None
    lowered = Lowered(
        charge_point_id,
        before.profile,
        profile,
        f"security profile lowered by an operator from {before.profile} to {profile}",
        now,
    )
    event = SecurityEvent(charge_point_id, LOWERED, lowered.tech_info, now, Source.CENTRAL_SYSTEM)
    await db.execute(security_events.insert().values(event.row(now)))
    return lowered


def publish(events: EventBus, lowered: Lowered | None) -> None:
    """The recorded downgrade, as the `SecurityEvent` every security event is published as."""
    if lowered is None:
        return
    events.publish(
        EVENT,
        lowered.charge_point_id,
        lowered.at,
        type=LOWERED,
        techInfo=lowered.tech_info,
        critical=False,
        source=str(Source.CENTRAL_SYSTEM),
        timestamp=lowered.at,
        previous=lowered.previous,
        profile=lowered.profile,
    )


class SecurityGate:
    """The checks on `CentralSystem.call` that the security settings impose."""

    def __init__(self, system: SystemServices) -> None:
        self.system = system
        for action in SECURITY_COMMANDS:
            system.checks.setdefault(action, []).append(self.check_extension)
        system.checks.setdefault("ChangeConfiguration", []).append(self.check_profile_change)

    async def _settings(self, charge_point_id: str) -> SecuritySettings:
        async with self.system.engine.connect() as db:
            found = await load(db, charge_point_id)
        # A connected charger is registered; deleted meanwhile, it is gated as a new one.
        return found or SecuritySettings(0, False)

    async def check_extension(self, charge_point_id: str, request: Any) -> None:
        if not (await self._settings(charge_point_id)).extension:
            action = type(request).__name__.removesuffix("Request")
            raise CommandRefused(
                f"{action} is a command of the OCPP 1.6 security extension, and "
                f"{charge_point_id!r} does not have it enabled (securityExtension is false)"
            )

    async def check_profile_change(self, charge_point_id: str, request: Any) -> None:
        if request.key.lower() != PROFILE_KEY:
            return
        wanted = profile_value(request.value)
        if wanted is None:
            raise CommandRefused(
                f"SecurityProfile {request.value!r} is not a security profile (0 to 3)"
            )
        stored = (await self._settings(charge_point_id)).profile
        if wanted < stored:
            raise CommandRefused(
                f"downgrade: SecurityProfile {wanted} is lower than {charge_point_id!r}'s "
                f"security profile {stored} (a profile is only raised over OCPP; an operator "
                "lowers the stored one through the charge point's settings)"
            )


def profile_value(value: str) -> int | None:
    """A ChangeConfiguration value as a profile: digits only (no sign, space or decimal that
    a charger might read otherwise), 0 to 3."""
    if len(value) != 1 or value not in "0123":
        return None
    return int(value)
