"""Security events: what a charger reports (SecurityEventNotification) and what the central
system itself saw of a charger, stored and published.

- Two sources, in the `source` column: `charger` (its SecurityEventNotification, with the time
  it gave) and `central_system` (recorded by ocppd's own parts, e.g. a refused TLS connection,
  with the time ocppd saw it). Both are stored through the group commit; a charger's
  notification is answered only once its event is committed (it queues critical events until
  they are acknowledged: an answer means stored).
- `critical` follows the white paper's list of security events ("Improved security for
  OCPP 1.6-J", the events marked critical, which a charger pushes at once and queues while
  offline). The type is a CiString50, so it is compared without case. A type that is not on
  the list (a vendor's own, a 2.x name) is stored as sent and is not critical.
- Each stored event is published as `SecurityEvent` (chargePointId, type, techInfo,
  critical, source, timestamp) on the event bus.

The API for ocppd's own parts: `SecurityEvents.observed(charge_point_id, type, tech_info)`
(the central system holds one as `security_events`), or `observed(system, ...)` for a part
that only has the `SystemServices`. The charger need not be registered (a refused connection
may name any identity); the strings are cut to their columns.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ocppd.csms.clock import as_utc
from ocppd.csms.models import security_events
from ocppd.csms.stored_text import fitted
from ocppd.csms.system_services import SystemServices
from ocppd.protocol.security import CRITICAL_SECURITY_EVENTS, SECURITY_EVENTS

CRITICAL_TYPES = frozenset(name.casefold() for name in CRITICAL_SECURITY_EVENTS)
"""The white paper's critical security events (casefolded: a type is a CiString50)."""

KNOWN_TYPES = frozenset(name.casefold() for name in SECURITY_EVENTS)
"""Every security event the white paper lists (casefolded); others are a vendor's own."""

EVENT = "SecurityEvent"
"""The type of the event published on the bus."""


class Source(StrEnum):
    CHARGER = "charger"
    CENTRAL_SYSTEM = "central_system"


def is_critical(event_type: str) -> bool:
    return event_type.casefold() in CRITICAL_TYPES


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    charge_point_id: str
    type: str
    tech_info: str | None
    timestamp: datetime
    source: Source

    @property
    def critical(self) -> bool:
        return is_critical(self.type)

    def row(self, received_at: datetime) -> dict[str, Any]:
        return fitted(
            security_events,
            {
                "charge_point_id": self.charge_point_id,
                "type": self.type,
                "tech_info": self.tech_info,
                "critical": self.critical,
                "source": str(self.source),
                "timestamp": as_utc(self.timestamp),
                "received_at": received_at,
            },
        )


async def record(system: SystemServices, event: SecurityEvent) -> None:
    """Store `event` (returns once committed) and publish it."""
    now = system.clock()
    row = event.row(now)
    await system.writer.commit([(security_events, row)])
    system.events.publish(
        EVENT,
        row["charge_point_id"],
        now,
        type=row["type"],
        techInfo=row["tech_info"],
        critical=row["critical"],
        source=row["source"],
        timestamp=row["timestamp"],
    )


async def observed(
    system: SystemServices, charge_point_id: str, event_type: str, tech_info: str | None = None
) -> None:
    """Record what the central system itself saw of a charger (source `central_system`, now)."""
    event = SecurityEvent(
        charge_point_id, event_type, tech_info, system.clock(), Source.CENTRAL_SYSTEM
    )
    await record(system, event)


async def prune(system: SystemServices, retention: timedelta) -> int:
    """Delete the events received more than `retention` ago; how many went. The table's only
    bound: a charger may send SecurityEventNotification in a loop (each is stored, as the
    white paper asks), so its rows last the retention, not forever."""
    cutoff = system.clock() - retention
    async with system.engine.begin() as db:
        result = await db.execute(
            security_events.delete().where(security_events.c.received_at < cutoff)
        )
    return int(result.rowcount or 0)


class SecurityEvents:
    """The central system's security events, for its parts: `observed` records one of its own."""

    def __init__(self, system: SystemServices) -> None:
        self.system = system

    async def observed(
        self, charge_point_id: str, event_type: str, tech_info: str | None = None
    ) -> None:
        """Store and publish a security event the central system saw itself (source
        `central_system`, timestamp now), e.g. a connection refused for its profile: type
        one of the white paper's names where one fits (`InvalidChargePointCertificate`,
        `InvalidTLSVersion`, `FailedToAuthenticateAtCentralSystem`...), `tech_info` what
        happened. Returns once committed; raises `DatabaseUnavailable` as any write."""
        await observed(self.system, charge_point_id, event_type, tech_info)

    async def from_charger(
        self, charge_point_id: str, event_type: str, timestamp: datetime, tech_info: str | None
    ) -> None:
        """A charger's SecurityEventNotification (source `charger`, its own timestamp)."""
        event = SecurityEvent(charge_point_id, event_type, tech_info, timestamp, Source.CHARGER)
        await record(self.system, event)
