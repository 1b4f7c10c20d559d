"""A profile's periods on an absolute timeline: where it is in force, and with which limit.

A profile is *in force* at t when it is valid (validFrom <= t < validTo; an absent validFrom
counts from receipt, an absent validTo never ends) and one of its schedule's periods covers t.
Outside, it gives way to a lower stack level (or to the next purpose in line).

Where a schedule starts:
- Absolute: startSchedule (absent: on receipt). Before it, the profile is not in force.
- Recurring: every 24 h (Daily) or 7 d (Weekly) at startSchedule's time (absent: the time of
  receipt), before startSchedule as well as after it: startSchedule only anchors the time
  of day and weekday; validFrom bounds the recurrences. An absent recurrencyKind is Daily.
  A duration beyond the recurrence is cut to it; no duration = until the next recurrence.
- Relative: the start of the transaction; without a transaction (a prediction for an idle
  connector) the start of the window, i.e. a transaction starting now.

Within a schedule, a period lasts until the next startPeriod; periods at or beyond `duration`
are ignored; the last lasts until `duration` ends, or indefinitely. A schedule whose first
period starts after 0 is not in force before it.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from msgspec import UNSET

from ocppd.protocol.enums import ChargingProfileKindType, ChargingRateUnitType, RecurrencyKindType
from ocppd.protocol.smart_charging.profiles import InstalledProfile

FOREVER = datetime.max.replace(tzinfo=UTC)
"""The end of a period that lasts indefinitely."""

RECURRENCE = {
    RecurrencyKindType.DAILY: timedelta(days=1),
    RecurrencyKindType.WEEKLY: timedelta(days=7),
}


@dataclass(frozen=True, slots=True)
class Segment:
    """One period of a profile in force over [start, end), as the profile declares it."""

    start: datetime
    end: datetime
    unit: ChargingRateUnitType
    limit: float
    number_phases: int | None
    """As declared; None = absent (3 phases)."""


def occurrences(
    item: InstalledProfile, start: datetime, end: datetime, relative_start: datetime
) -> Iterator[tuple[datetime, timedelta | None]]:
    """(schedule start, length or None = unbounded) of each run of the schedule that may
    matter in [start, end); a Relative schedule starts at `relative_start`."""
    profile = item.profile
    schedule = profile.charging_schedule
    duration = None if schedule.duration is UNSET else timedelta(seconds=schedule.duration)
    kind = profile.charging_profile_kind
    if kind == ChargingProfileKindType.RELATIVE:
        yield relative_start, duration
        return
    origin = item.received_at if schedule.start_schedule is UNSET else schedule.start_schedule
    if kind != ChargingProfileKindType.RECURRING:
        yield origin, duration
        return
    recurrency = profile.recurrency_kind
    every = RECURRENCE[RecurrencyKindType.DAILY if recurrency is UNSET else recurrency]
    length = every if duration is None else min(duration, every)
    run = origin + every * ((start - origin) // every)
    while run < end:
        yield run, length
        run += every


def validity(item: InstalledProfile) -> tuple[datetime, datetime]:
    profile = item.profile
    valid_from = item.received_at if profile.valid_from is UNSET else profile.valid_from
    valid_to = FOREVER if profile.valid_to is UNSET else profile.valid_to
    return valid_from, valid_to


def segments(
    item: InstalledProfile, start: datetime, end: datetime, tx_start: datetime | None
) -> list[Segment]:
    """Where `item` is in force within [start, end), in time order, without overlaps."""
    valid_from, valid_to = validity(item)
    low, high = max(start, valid_from), min(end, valid_to)
    if low >= high:
        return []
    schedule = item.profile.charging_schedule
    unit = schedule.charging_rate_unit
    periods = sorted(schedule.charging_schedule_period, key=lambda period: period.start_period)
    found: list[Segment] = []
    relative_start = start if tx_start is None else tx_start
    for run, length in occurrences(item, low, high, relative_start):
        run_end = FOREVER if length is None else run + length
        for index, period in enumerate(periods):
            offset = timedelta(seconds=period.start_period)
            if length is not None and offset >= length:
                break
            following = periods[index + 1] if index + 1 < len(periods) else None
            period_end = run_end
            if following is not None:
                period_end = min(run_end, run + timedelta(seconds=following.start_period))
            seg_start, seg_end = max(run + offset, low), min(period_end, high)
            if seg_start < seg_end:
                phases = None if period.number_phases is UNSET else period.number_phases
                found.append(Segment(seg_start, seg_end, unit, period.limit, phases))
    return found
