"""Charging profiles (behaviour notes section 6): kept, stacked, and turned into a limit.

`limit_w` is what the station applies to the simulated power at an instant: the minimum of
the prevailing ChargePointMaxProfile and the prevailing TxProfile (or, without one, the
TxDefaultProfile, connector-specific before connector 0). `composite` reports the same
limits over a window, for GetCompositeSchedule.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from msgspec import UNSET

from ocppd.chargepoint.configuration import Configuration
from ocppd.protocol.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ocppd.protocol.enums import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearChargingProfileStatus,
    RecurrencyKindType,
)

Purpose = ChargingProfilePurposeType
DEFAULT_PHASES = 3
_UNITS = {"Current": ChargingRateUnitType.A, "Power": ChargingRateUnitType.W}
_RECURRENCE = {
    RecurrencyKindType.DAILY: timedelta(days=1),
    RecurrencyKindType.WEEKLY: timedelta(days=7),
}


@dataclass
class Installed:
    connector_id: int
    profile: ChargingProfile
    received_at: datetime
    transaction_id: int | None = None
    """The transaction a TxProfile belongs to; it is deleted when that one ends."""


class ChargingProfiles:
    def __init__(self, configuration: Configuration, voltage: float = 230.0) -> None:
        self.configuration = configuration
        self.voltage = voltage
        self.installed: list[Installed] = []

    # SetChargingProfile / ClearChargingProfile

    def install(
        self,
        connector_id: int,
        profile: ChargingProfile,
        now: datetime,
        transaction_id: int | None = None,
    ) -> ChargingProfileStatus:
        """Store `profile` if the charger can apply it; `transaction_id` is the transaction
        running on the connector, required for a TxProfile."""
        if not self._acceptable(connector_id, profile, transaction_id):
            return ChargingProfileStatus.REJECTED
        kept = [old for old in self.installed if not _replaced_by(old, connector_id, profile)]
        if len(kept) >= self.configuration.get_int("MaxChargingProfilesInstalled"):
            return ChargingProfileStatus.REJECTED
        tx = transaction_id if profile.charging_profile_purpose == Purpose.TX_PROFILE else None
        self.installed = [*kept, Installed(connector_id, profile, now, tx)]
        return ChargingProfileStatus.ACCEPTED

    def _acceptable(
        self, connector_id: int, profile: ChargingProfile, transaction_id: int | None
    ) -> bool:
        schedule = profile.charging_schedule
        allowed = self.configuration.get_list("ChargingScheduleAllowedChargingRateUnit")
        purpose = profile.charging_profile_purpose
        if purpose == Purpose.CHARGE_POINT_MAX_PROFILE and connector_id != 0:
            return False
        if purpose == Purpose.TX_PROFILE:
            if connector_id == 0 or transaction_id is None:
                return False  # a TxProfile needs a running transaction on its connector
            if profile.transaction_id not in (UNSET, transaction_id):
                return False
        return (
            profile.stack_level <= self.configuration.get_int("ChargeProfileMaxStackLevel")
            and len(schedule.charging_schedule_period)
            <= self.configuration.get_int("ChargingScheduleMaxPeriods")
            and schedule.charging_rate_unit in {_UNITS[unit] for unit in allowed}
            and profile.charging_schedule.charging_schedule_period[0].start_period == 0
        )

    def clear(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
    ) -> ClearChargingProfileStatus:
        """By id only, when given; else every profile matching all the given fields."""

        def matches(item: Installed) -> bool:
            if profile_id is not None:
                return item.profile.charging_profile_id == profile_id
            return (
                connector_id in (None, item.connector_id)
                and purpose in (None, item.profile.charging_profile_purpose)
                and stack_level in (None, item.profile.stack_level)
            )

        kept = [item for item in self.installed if not matches(item)]
        if len(kept) == len(self.installed):
            return ClearChargingProfileStatus.UNKNOWN
        self.installed = kept
        return ClearChargingProfileStatus.ACCEPTED

    def transaction_ended(self, connector_id: int) -> None:
        """A TxProfile lives as long as its transaction."""
        self.installed = [
            item
            for item in self.installed
            if not (
                item.profile.charging_profile_purpose == Purpose.TX_PROFILE
                and item.connector_id == connector_id
            )
        ]

    # Limits

    def limit_w(
        self, connector_id: int, at: datetime, tx_start: datetime | None, sharing: int = 1
    ) -> float | None:
        """The limit on connector `connector_id` at `at`, in watts; None = unconstrained.

        The ChargePointMaxProfile covers the whole station: it is shared evenly by the
        `sharing` connectors that charge.
        """
        station = self._prevailing(Purpose.CHARGE_POINT_MAX_PROFILE, {0}, at, tx_start)
        if connector_id == 0:
            return station  # the station as a whole: only its own maximum
        if station is not None:
            station /= max(sharing, 1)
        # Without a transaction (tx_start None) the Tx limits are those a transaction
        # starting now would get; Relative profiles then have no start and do not apply.
        tx = self._prevailing(Purpose.TX_PROFILE, {connector_id}, at, tx_start)
        if tx is None:
            tx = self._prevailing(Purpose.TX_DEFAULT_PROFILE, {connector_id}, at, tx_start)
        if tx is None:
            tx = self._prevailing(Purpose.TX_DEFAULT_PROFILE, {0}, at, tx_start)
        limits = [limit for limit in (station, tx) if limit is not None]
        return min(limits) if limits else None

    def _prevailing(
        self, purpose: Purpose, connectors: set[int], at: datetime, tx_start: datetime | None
    ) -> float | None:
        """The limit of the highest stack level among the profiles active at `at`."""
        candidates = [
            item
            for item in self.installed
            if item.profile.charging_profile_purpose == purpose and item.connector_id in connectors
        ]
        for item in sorted(candidates, key=lambda i: -i.profile.stack_level):
            limit = self._limit_of(item, at, tx_start)
            if limit is not None:
                return limit
        return None

    def _limit_of(self, item: Installed, at: datetime, tx_start: datetime | None) -> float | None:
        profile = item.profile
        if profile.valid_from is not UNSET and at < profile.valid_from:
            return None
        if profile.valid_to is not UNSET and at >= profile.valid_to:
            return None
        start = _schedule_start(item, at, tx_start)
        if start is None or at < start:
            return None
        schedule = profile.charging_schedule
        offset = (at - start).total_seconds()
        if schedule.duration is not UNSET and offset >= schedule.duration:
            return None  # the schedule is over: a lower stack level applies again
        period = [p for p in schedule.charging_schedule_period if p.start_period <= offset][-1]
        return self._to_watts(schedule.charging_rate_unit, period)

    def _to_watts(self, unit: ChargingRateUnitType, period: ChargingSchedulePeriod) -> float:
        if unit == ChargingRateUnitType.W:
            return period.limit
        phases = DEFAULT_PHASES if period.number_phases is UNSET else period.number_phases
        return period.limit * self.voltage * phases  # A is per phase

    def composite(
        self,
        connector_id: int,
        start: datetime,
        duration: int,
        unit: ChargingRateUnitType,
        tx_start: datetime | None,
        unconstrained_w: float,
    ) -> ChargingSchedule:
        """The limits from `start` for `duration` seconds, one period per change."""
        periods: list[ChargingSchedulePeriod] = []
        for offset in self._changes(start, duration, tx_start):
            at = start + timedelta(seconds=offset)
            limit = self.limit_w(connector_id, at, tx_start)
            watts = unconstrained_w if limit is None else limit
            value = watts if unit == ChargingRateUnitType.W else watts / (self.voltage * 3)
            value = math.floor(value * 10) / 10  # one decimal, rounded down: never above
            if not periods or periods[-1].limit != value:
                periods.append(ChargingSchedulePeriod(start_period=offset, limit=value))
        return ChargingSchedule(
            charging_rate_unit=unit, charging_schedule_period=periods, duration=duration
        )

    def _changes(self, start: datetime, duration: int, tx_start: datetime | None) -> list[int]:
        """Offsets from `start` where some profile's limit may change, within the window."""
        offsets = {0}
        end = start + timedelta(seconds=duration)
        for item in self.installed:
            profile, schedule = item.profile, item.profile.charging_schedule
            edges = [t for t in (profile.valid_from, profile.valid_to) if t is not UNSET]
            for origin in _schedule_starts(item, start, end, tx_start):
                edges += [
                    origin + timedelta(seconds=p.start_period)
                    for p in schedule.charging_schedule_period
                ]
                if schedule.duration is not UNSET:
                    edges.append(origin + timedelta(seconds=schedule.duration))
            offsets |= {
                math.ceil((edge - start).total_seconds()) for edge in edges if start < edge < end
            }
        return sorted(offsets)


def _replaced_by(old: Installed, connector_id: int, new: ChargingProfile) -> bool:
    """The same id, or the same stack level and purpose on the same connector, replaces."""
    if old.profile.charging_profile_id == new.charging_profile_id:
        return True
    return (
        old.connector_id == connector_id
        and old.profile.stack_level == new.stack_level
        and old.profile.charging_profile_purpose == new.charging_profile_purpose
    )


def _schedule_start(item: Installed, at: datetime, tx_start: datetime | None) -> datetime | None:
    """When the schedule in force at `at` began (the latest recurrence for Recurring)."""
    profile = item.profile
    declared = profile.charging_schedule.start_schedule
    if profile.charging_profile_kind == ChargingProfileKindType.RELATIVE:
        return tx_start
    origin = item.received_at if declared is UNSET else declared
    if profile.charging_profile_kind == ChargingProfileKindType.ABSOLUTE:
        return origin
    period = _recurrence(profile)
    return origin + period * math.floor((at - origin) / period)


def _schedule_starts(
    item: Installed, start: datetime, end: datetime, tx_start: datetime | None
) -> list[datetime]:
    """Every start of the schedule that matters in [start, end)."""
    first = _schedule_start(item, start, tx_start)
    if first is None:
        return []
    if item.profile.charging_profile_kind != ChargingProfileKindType.RECURRING:
        return [first]
    period = _recurrence(item.profile)
    starts = [first]
    while starts[-1] + period < end:
        starts.append(starts[-1] + period)
    return starts


def _recurrence(profile: ChargingProfile) -> timedelta:
    kind = profile.recurrency_kind
    return _RECURRENCE[RecurrencyKindType.DAILY if kind is UNSET else kind]
