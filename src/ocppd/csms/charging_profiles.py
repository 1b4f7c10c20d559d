"""Charging profiles: what each charge point holds, kept from its answers to what the central
system sends, and checked before sending (behaviour notes section 6).

They are recorded where every command passes, `CentralSystem.call` (a recorder per action),
so profiles are stored whoever sends them: the API's commands, site load management.

- SetChargingProfile, Accepted: stored for the charge point and connector; what it replaces
  on the charger (the same chargingProfileId, or the same stackLevel and purpose on that
  connector: `protocol.smart_charging.replaces`) is removed. Other answers change nothing.
- ClearChargingProfile, Accepted or Unknown: the stored profiles its filter names are removed
  (`clear_matches`: by id, connector, purpose, stack level). Unknown says the charger holds
  none of them, so any still stored was stale.
- RemoteStartTransaction with a chargingProfile, Accepted: stored as the TxProfile of the
  transaction it starts.

A TxProfile lives as long as its transaction. That is derived when reading, not done on
TransactionStopped (the event bus ends a subscriber that falls behind): a TxProfile is in
force while its transaction is stored and not stopped. Its transaction is its
transactionId, else the one running on its connector when the answer came; when none ran (a
RemoteStartTransaction), the first transaction started on that connector (any connector when
the request named none), for its idTag, within `PENDING_START` of sending. Until then it is
pending (listed, not in the composite); when none started by then, it is gone. Rows of
profiles that are gone are deleted by the next write for the charge point.

Checks before sending (`ProfileRefused`, the API's 400): a profile's structure
(`check_structure`); a TxProfile needs the transaction ocppd knows running on its connector
(`check_transaction`); a RemoteStartTransaction's profile is a TxProfile without
transactionId; numbers the database cannot hold; the charger's SmartCharging configuration
(`check_capabilities`) as its GetConfiguration and ChangeConfiguration answers said. A key
never read, or unreadable, means no check of that limit: send GetConfiguration for the keys
to have them checked.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.clock import as_utc
from ocppd.csms.models import (
    MAX_CONNECTOR_ID,
    MAX_STORED_INTEGER,
    charging_profiles,
    configuration,
    transactions,
)
from ocppd.csms.system_services import SystemServices
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import ChargingProfile
from ocppd.protocol.enums import (
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearChargingProfileStatus,
    RemoteStartStopStatus,
)
from ocppd.protocol.smart_charging import (
    Capabilities,
    Composite,
    Electrical,
    InstalledProfile,
    check_capabilities,
    check_profile,
    check_structure,
    clear_matches,
    compose,
    replaces,
)

PENDING_START = timedelta(minutes=10)
"""How long a RemoteStartTransaction's profile waits for its transaction to start."""
CAPABILITY_KEYS = (
    "chargeprofilemaxstacklevel",
    "chargingscheduleallowedchargingrateunit",
    "chargingschedulemaxperiods",
    "maxchargingprofilesinstalled",
)
TX_PROFILE = ChargingProfilePurposeType.TX_PROFILE
_decode_profile = msgspec.json.Decoder(ChargingProfile).decode


class ProfileRefused(ValueError):
    """The charge point would refuse this profile (the reason); nothing was sent."""


@dataclass(frozen=True, slots=True)
class StoredProfile:
    row_id: int
    """Installation order: equal stack levels prevail by it."""
    installed: InstalledProfile
    """Its connector, and for a TxProfile its transaction, as resolved when read."""
    pending: bool
    """A RemoteStartTransaction's profile whose transaction has not started yet."""


class ChargingProfiles:
    """The store, its checks and recorders, registered on a central system."""

    def __init__(self, system: SystemServices) -> None:
        self.system = system
        self.electrical = Electrical(system.settings.voltage, system.settings.phases)
        for action, check in (
            ("SetChargingProfile", self.check_set),
            ("RemoteStartTransaction", self.check_remote_start),
        ):
            system.checks.setdefault(action, []).append(check)
        for action, recorder in (
            ("SetChargingProfile", self.set),
            ("ClearChargingProfile", self.cleared),
            ("RemoteStartTransaction", self.remote_started),
        ):
            system.recorders.setdefault(action, []).append(recorder)

    async def stored(self, charge_point_id: str) -> list[StoredProfile]:
        """The profiles the charge point holds now, in installation order."""
        async with self.system.engine.connect() as db:
            return (await _resolve(db, charge_point_id, self.system.clock()))[0]

    async def composite(
        self,
        charge_point_id: str,
        connector_id: int,
        start: datetime,
        end: datetime,
        unit: ChargingRateUnitType,
    ) -> Composite:
        """The composite ocppd predicts for the connector over [start, end) from what the
        charge point holds now (Relative profiles count from the running transaction's
        start)."""
        async with self.system.engine.connect() as db:
            live, _ = await _resolve(db, charge_point_id, self.system.clock())
            running = await running_transaction(db, charge_point_id, connector_id)
        return compose(
            [item.installed for item in live if not item.pending],
            connector_id,
            start,
            end,
            unit,
            tx_start=None if running is None else running[1],
            electrical=self.electrical,
        )

    # Checks before sending

    async def check_set(self, charge_point_id: str, request: m.SetChargingProfileRequest) -> None:
        connector, profile = request.connector_id, request.cs_charging_profiles
        _check_storable(connector, profile)
        async with self.system.engine.connect() as db:
            capabilities = await capabilities_of(db, charge_point_id)
            live, _ = await _resolve(db, charge_point_id, self.system.clock())
            running = await running_transaction(db, charge_point_id, connector)
        installed = [item.installed for item in live]
        reason = check_profile(
            capabilities, connector, profile, installed, None if running is None else running[0]
        )
        if reason is not None:
            raise ProfileRefused(reason)

    async def check_remote_start(
        self, charge_point_id: str, request: m.RemoteStartTransactionRequest
    ) -> None:
        profile = request.charging_profile
        if profile is UNSET:
            return
        if profile.charging_profile_purpose != TX_PROFILE:
            raise ProfileRefused("a RemoteStartTransaction's chargingProfile is a TxProfile")
        if profile.transaction_id is not UNSET:
            raise ProfileRefused(
                "a RemoteStartTransaction's chargingProfile has no transactionId "
                "(its transaction does not exist yet)"
            )
        connector = 0 if request.connector_id is UNSET else request.connector_id
        _check_storable(connector, profile)
        async with self.system.engine.connect() as db:
            capabilities = await capabilities_of(db, charge_point_id)
            live, _ = await _resolve(db, charge_point_id, self.system.clock())
        # Without connectorId the charger picks one (> 0): the structure is that of connector 1.
        reason = check_structure(connector or 1, profile) or check_capabilities(
            capabilities, connector, profile, [item.installed for item in live]
        )
        if reason is not None:
            raise ProfileRefused(reason)

    # Recorders of the answers

    async def set(
        self,
        charge_point_id: str,
        request: m.SetChargingProfileRequest,
        response: m.SetChargingProfileResponse,
        sent_at: datetime,
    ) -> None:
        if response.status != ChargingProfileStatus.ACCEPTED:
            return
        connector, profile = request.connector_id, request.cs_charging_profiles
        now = self.system.clock()

        async def store(db: AsyncConnection) -> None:
            transaction = None
            if profile.charging_profile_purpose == TX_PROFILE:
                if profile.transaction_id is not UNSET:
                    transaction = profile.transaction_id
                else:
                    running = await running_transaction(db, charge_point_id, connector)
                    transaction = None if running is None else running[0]
            row = _row(charge_point_id, connector, profile, now, transaction, None)
            await _rewrite(
                db, charge_point_id, now, lambda old: replaces(connector, profile, old), row
            )

        await self.system.writer.commit([], store)

    async def cleared(
        self,
        charge_point_id: str,
        request: m.ClearChargingProfileRequest,
        response: m.ClearChargingProfileResponse,
        sent_at: datetime,
    ) -> None:
        if response.status not in (
            ClearChargingProfileStatus.ACCEPTED,
            ClearChargingProfileStatus.UNKNOWN,
        ):
            return
        now = self.system.clock()

        async def store(db: AsyncConnection) -> None:
            await _rewrite(db, charge_point_id, now, lambda old: clear_matches(request, old), None)

        await self.system.writer.commit([], store)

    async def remote_started(
        self,
        charge_point_id: str,
        request: m.RemoteStartTransactionRequest,
        response: m.RemoteStartTransactionResponse,
        sent_at: datetime,
    ) -> None:
        profile = request.charging_profile
        if profile is UNSET or response.status != RemoteStartStopStatus.ACCEPTED:
            return
        connector = 0 if request.connector_id is UNSET else request.connector_id
        # From the moment it was sent: the StartTransaction may be stored before this.
        row = _row(charge_point_id, connector, profile, sent_at, None, request.id_tag)

        async def store(db: AsyncConnection) -> None:
            await _rewrite(
                db, charge_point_id, sent_at, lambda old: replaces(connector, profile, old), row
            )

        await self.system.writer.commit([], store)


def _check_storable(connector_id: int, profile: ChargingProfile) -> None:
    if not 0 <= connector_id <= MAX_CONNECTOR_ID:
        raise ProfileRefused(f"no connector {connector_id}")
    numbers = {
        "chargingProfileId": profile.charging_profile_id,
        "stackLevel": profile.stack_level,
        "transactionId": None if profile.transaction_id is UNSET else profile.transaction_id,
    }
    for name, number in numbers.items():
        if number is not None and abs(number) > MAX_STORED_INTEGER:
            raise ProfileRefused(f"{name} {number} is beyond what ocppd stores (64 bits)")


async def capabilities_of(db: AsyncConnection, charge_point_id: str) -> Capabilities:
    """The SmartCharging keys as the charge point reported them (absent: not checked)."""
    c = configuration.c
    rows = await db.execute(
        sa.select(c.key, c.value).where(
            c.charge_point_id == charge_point_id,
            c.known.is_(True),
            sa.func.lower(c.key).in_(CAPABILITY_KEYS),
        )
    )
    return Capabilities.from_configuration({row.key: row.value for row in rows})


async def running_transaction(
    db: AsyncConnection, charge_point_id: str, connector_id: int
) -> tuple[int, datetime] | None:
    """(id, start) of the latest transaction not stopped on the connector."""
    t = transactions.c
    if connector_id <= 0:
        return None
    row = (
        await db.execute(
            sa.select(t.id, t.started_at)
            .where(
                t.charge_point_id == charge_point_id,
                t.connector_id == connector_id,
                t.stopped_at.is_(None),
            )
            .order_by(t.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row.id), as_utc(row.started_at))


async def _resolve(
    db: AsyncConnection, charge_point_id: str, now: datetime
) -> tuple[list[StoredProfile], list[int]]:
    """(the profiles held at `now`, the row ids of those gone)."""
    p, t = charging_profiles.c, transactions.c
    rows = (
        await db.execute(
            sa.select(charging_profiles).where(p.charge_point_id == charge_point_id).order_by(p.id)
        )
    ).all()
    bound = {row.transaction_id for row in rows if row.transaction_id is not None}
    running: dict[int, int] = {}
    if bound:
        found = await db.execute(
            sa.select(t.id, t.connector_id).where(
                t.charge_point_id == charge_point_id, t.id.in_(bound), t.stopped_at.is_(None)
            )
        )
        running = {int(row.id): int(row.connector_id) for row in found}
    waiting = [row for row in rows if row.transaction_id is None and row.purpose == TX_PROFILE]
    starts: list[Any] = []
    if waiting:
        since = min(as_utc(row.installed_at) for row in waiting)
        starts = list(
            await db.execute(
                sa.select(t.id, t.connector_id, t.id_tag, t.received_at, t.stopped_at)
                .where(t.charge_point_id == charge_point_id, t.received_at >= since)
                .order_by(t.id)
            )
        )
    live: list[StoredProfile] = []
    gone: list[int] = []
    for row in rows:
        item = _stored(row, running, starts, now)
        if item is None:
            gone.append(int(row.id))
        else:
            live.append(item)
    return live, gone


def _stored(
    row: Any, running: dict[int, int], starts: list[Any], now: datetime
) -> StoredProfile | None:
    """The profile of `row` as held at `now`, or None when it is gone with its transaction."""
    installed_at = as_utc(row.installed_at)
    profile = _decode_profile(row.profile)

    def held(connector: int, transaction: int | None, pending: bool = False) -> StoredProfile:
        item = InstalledProfile(connector, profile, installed_at, transaction)
        return StoredProfile(int(row.id), item, pending)

    if row.purpose != TX_PROFILE:
        return held(row.connector_id, None)
    if row.transaction_id is not None:
        connector = running.get(row.transaction_id)
        return None if connector is None else held(connector, row.transaction_id)
    deadline = installed_at + PENDING_START
    for start in starts:
        if (
            installed_at <= as_utc(start.received_at) < deadline
            and row.connector_id in (0, start.connector_id)
            and (row.id_tag is None or row.id_tag.lower() == start.id_tag.lower())
        ):
            if start.stopped_at is not None:
                return None
            return held(start.connector_id, int(start.id))
    return held(row.connector_id, None, pending=True) if now < deadline else None


async def _rewrite(
    db: AsyncConnection,
    charge_point_id: str,
    now: datetime,
    drops: Callable[[InstalledProfile], bool],
    row: dict[str, Any] | None,
) -> None:
    """Delete the profiles `drops` names and those gone, then insert `row` (installed last)."""
    live, gone = await _resolve(db, charge_point_id, now)
    doomed = gone + [item.row_id for item in live if drops(item.installed)]
    if doomed:
        await db.execute(charging_profiles.delete().where(charging_profiles.c.id.in_(doomed)))
    if row is not None:
        await db.execute(charging_profiles.insert().values(row))


def _row(
    charge_point_id: str,
    connector_id: int,
    profile: ChargingProfile,
    installed_at: datetime,
    transaction_id: int | None,
    id_tag: str | None,
) -> dict[str, Any]:
    schedule, recurrency = profile.charging_schedule, profile.recurrency_kind
    return {
        "charge_point_id": charge_point_id,
        "connector_id": connector_id,
        "charging_profile_id": profile.charging_profile_id,
        "stack_level": profile.stack_level,
        "purpose": str(profile.charging_profile_purpose),
        "kind": str(profile.charging_profile_kind),
        "recurrency_kind": None if recurrency is UNSET else str(recurrency),
        "unit": str(schedule.charging_rate_unit),
        "valid_from": None if profile.valid_from is UNSET else as_utc(profile.valid_from),
        "valid_to": None if profile.valid_to is UNSET else as_utc(profile.valid_to),
        "transaction_id": transaction_id,
        "id_tag": id_tag,
        "profile": msgspec.json.encode(profile).decode(),
        "installed_at": installed_at,
    }
