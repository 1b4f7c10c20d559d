"""Builders for smart charging tests: profiles in a line, timestamps around one instant."""

from datetime import UTC, datetime, timedelta

from msgspec import UNSET

from ocppd.protocol.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ocppd.protocol.enums import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    RecurrencyKindType,
)
from ocppd.protocol.smart_charging import InstalledProfile

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RECEIVED = T0 - timedelta(days=30)
A = ChargingRateUnitType.A
W = ChargingRateUnitType.W
MAX = ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE
DEFAULT = ChargingProfilePurposeType.TX_DEFAULT_PROFILE
TX = ChargingProfilePurposeType.TX_PROFILE
ABSOLUTE = ChargingProfileKindType.ABSOLUTE
RECURRING = ChargingProfileKindType.RECURRING
RELATIVE = ChargingProfileKindType.RELATIVE
DAILY = RecurrencyKindType.DAILY
WEEKLY = RecurrencyKindType.WEEKLY

_ids = iter(range(1, 1_000_000))


def at(hours: float = 0, *, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def profile(
    purpose: ChargingProfilePurposeType,
    periods: list[tuple[int, float]] | list[tuple[int, float, int]],
    *,
    level: int = 0,
    unit: ChargingRateUnitType = A,
    kind: ChargingProfileKindType = ABSOLUTE,
    start: datetime | None = None,
    duration: int | None = None,
    recurrency: RecurrencyKindType | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    profile_id: int | None = None,
) -> ChargingProfile:
    """Absolute profiles start at RECEIVED unless told otherwise."""
    if start is None and kind != RELATIVE:
        start = RECEIVED
    return ChargingProfile(
        charging_profile_id=next(_ids) if profile_id is None else profile_id,
        stack_level=level,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        recurrency_kind=UNSET if recurrency is None else recurrency,
        valid_from=UNSET if valid_from is None else valid_from,
        valid_to=UNSET if valid_to is None else valid_to,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=unit,
            start_schedule=UNSET if start is None else start,
            duration=UNSET if duration is None else duration,
            charging_schedule_period=[
                ChargingSchedulePeriod(start_period=p[0], limit=p[1])
                if len(p) == 2
                else ChargingSchedulePeriod(start_period=p[0], limit=p[1], number_phases=p[2])
                for p in periods
            ],
        ),
    )


def on(
    connector_id: int, item: ChargingProfile, received_at: datetime = RECEIVED
) -> InstalledProfile:
    return InstalledProfile(connector_id, item, received_at)
