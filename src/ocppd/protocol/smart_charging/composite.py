"""The composite schedule: the limit in force on a connector at every instant of a window.

At each instant (notes section 6, Composite):
- connector > 0: the minimum of the prevailing ChargePointMaxProfile (connector 0) and the
  prevailing TxProfile of the connector, or without one in force, its TxDefaultProfile, or
  without one in force, the TxDefaultProfile of connector 0. Within a purpose and connector the
  highest stack level in force prevails (equal levels: the one installed last); a profile not
  in force (not yet valid, expired, before its schedule starts, after its duration) gives way.
- connector 0: the prevailing ChargePointMaxProfile alone (the station's own limit; the sum of
  the connectors' draws is left to site load management).
- No profile in force: unconstrained (limit None).
- Every TxProfile installed on the connector counts (a connector has one transaction, and its
  TxProfiles go when it ends: `profiles.end_transaction`); their transactionId is not compared.
- Local limits (the hardware's maximum, a cable) are not part of it: the caller applies them,
  or passes the hardware maximum to `to_charging_schedule` for unconstrained intervals.
- Boundaries are exact instants (datetime arithmetic, microseconds), not whole seconds.

Units: A is per phase, W is the total. A period runs on min(its numberPhases (absent: 3), the
phases the connector is wired for) phases: a numberPhases that is too high is used as given,
without rescaling. Limits in different units or phase counts combine per phase: the result
runs on the fewest phases any limit in force allows, at the lowest current per phase any of
them allows (a W limit giving W / (voltage x phases)); in W that is current x voltage x phases.
So the composite never exceeds an A limit in force (per phase, or as power on its phases) nor a
W limit in force (in total).

`to_charging_schedule` reports a composite as GetCompositeSchedule does: periods relative to
the window's start in whole seconds (each boundary rounded up, so a period holds the limit in
force at each whole second), limits rounded down to one decimal (never above the real limit),
unconstrained intervals at the caller's hardware limit, numberPhases only when not 3,
equal neighbours merged, startSchedule omitted.
"""

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ocppd.protocol.datatypes import ChargingSchedule, ChargingSchedulePeriod
from ocppd.protocol.enums import (
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    GetCompositeScheduleStatus,
)
from ocppd.protocol.messages import GetCompositeScheduleResponse
from ocppd.protocol.smart_charging.profiles import InstalledProfile
from ocppd.protocol.smart_charging.schedules import Segment, segments

Purpose = ChargingProfilePurposeType
DEFAULT_PHASES = 3
SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Electrical:
    """How limits convert between A (per phase) and W (total)."""

    voltage: float = 230.0
    phases: int = 3
    """The phases the connector is wired for."""


@dataclass(frozen=True, slots=True)
class Interval:
    """[start, end) at one limit, in the composite's unit; None = unconstrained."""

    start: datetime
    end: datetime
    limit: float | None
    number_phases: int | None


@dataclass(frozen=True, slots=True)
class Composite:
    connector_id: int
    start: datetime
    end: datetime
    unit: ChargingRateUnitType
    intervals: tuple[Interval, ...]
    """Contiguous, covering [start, end) exactly; neighbours differ."""

    def at(self, instant: datetime) -> Interval:
        """The interval in force at `instant` (start <= instant < end)."""
        for interval in self.intervals:
            if interval.start <= instant < interval.end:
                return interval
        raise ValueError(f"{instant} is outside [{self.start}, {self.end})")


def _tiers(
    installed: Iterable[InstalledProfile], connector_id: int, with_station_max: bool
) -> list[list[InstalledProfile]]:
    """The profiles that bound the connector, each tier in order of precedence."""

    def rank(item: InstalledProfile) -> int | None:
        purpose, on = item.profile.charging_profile_purpose, item.connector_id
        if purpose == Purpose.TX_PROFILE and on == connector_id != 0:
            return 0
        if purpose == Purpose.TX_DEFAULT_PROFILE and on == connector_id != 0:
            return 1
        if purpose == Purpose.TX_DEFAULT_PROFILE and on == 0 != connector_id:
            return 2
        return None

    station: list[tuple[int, int, InstalledProfile]] = []
    tx: list[tuple[int, int, int, InstalledProfile]] = []
    for index, item in enumerate(installed):
        purpose = item.profile.charging_profile_purpose
        if purpose == Purpose.CHARGE_POINT_MAX_PROFILE and item.connector_id == 0:
            if with_station_max:
                station.append((-item.profile.stack_level, -index, item))
            continue
        group = rank(item)
        if group is not None:
            tx.append((group, -item.profile.stack_level, -index, item))
    station.sort(key=lambda entry: entry[:2])
    tx.sort(key=lambda entry: entry[:3])
    tiers = [[entry[-1] for entry in station], [entry[-1] for entry in tx]]
    return [tier for tier in tiers if tier]


def _combine(
    found: list[Segment], unit: ChargingRateUnitType, electrical: Electrical
) -> tuple[float | None, int | None]:
    if not found:
        return None, None
    phases = min(
        min(DEFAULT_PHASES if seg.number_phases is None else seg.number_phases, electrical.phases)
        for seg in found
    )
    phases = max(phases, 1)
    per_phase = electrical.voltage * phases
    if unit == ChargingRateUnitType.A:
        amps = [s.limit if s.unit == ChargingRateUnitType.A else s.limit / per_phase for s in found]
        return min(amps), phases
    watts = [s.limit * per_phase if s.unit == ChargingRateUnitType.A else s.limit for s in found]
    return min(watts), phases


def _same(these: list[Segment], those: list[Segment]) -> bool:
    return len(these) == len(those) and all(a is b for a, b in zip(these, those, strict=True))


def compose(
    installed: Iterable[InstalledProfile],
    connector_id: int,
    start: datetime,
    end: datetime,
    unit: ChargingRateUnitType,
    *,
    tx_start: datetime | None = None,
    electrical: Electrical = Electrical(),
    with_station_max: bool = True,
) -> Composite:
    """The composite over [start, end) (`end` > `start`).

    `tx_start`: the start of the transaction on the connector (Relative profiles count from
    it; None = no transaction, they count from `start`). `with_station_max=False` leaves the
    ChargePointMaxProfile out (a simulator sharing it among connectors applies it itself).
    """
    if end <= start:
        raise ValueError("the window is empty")
    tiers = [
        [segments(item, start, end, tx_start) for item in tier]
        for tier in _tiers(installed, connector_id, with_station_max)
    ]
    edges = {start, end}
    for tier in tiers:
        for found in tier:
            for seg in found:
                edges.add(seg.start)
                edges.add(seg.end)
    bounds = sorted(edges)
    cursors = [[0] * len(tier) for tier in tiers]
    intervals: list[Interval] = []
    previous: list[Segment] = []
    for left, right in itertools.pairwise(bounds):
        prevailing: list[Segment] = []
        for tier, cursor in zip(tiers, cursors, strict=True):
            for number, found in enumerate(tier):
                position = cursor[number]
                while position < len(found) and found[position].end <= left:
                    position += 1
                cursor[number] = position
                if position < len(found) and found[position].start <= left:
                    prevailing.append(found[position])
                    break
        last = intervals[-1] if intervals else None
        if last is not None and _same(prevailing, previous):  # nothing changes
            intervals[-1] = Interval(last.start, right, last.limit, last.number_phases)
            continue
        previous = prevailing
        limit, phases = _combine(prevailing, unit, electrical)
        if last is not None and last.limit == limit and last.number_phases == phases:
            intervals[-1] = Interval(last.start, right, limit, phases)
        else:
            intervals.append(Interval(left, right, limit, phases))
    return Composite(connector_id, start, end, unit, tuple(intervals))


def composite_schedule(
    installed: Iterable[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType,
    *,
    tx_start: datetime | None = None,
    electrical: Electrical = Electrical(),
) -> Composite:
    """GetCompositeSchedule's window: `duration` seconds (> 0) from `start` (now)."""
    return compose(
        installed,
        connector_id,
        start,
        start + timedelta(seconds=duration),
        unit,
        tx_start=tx_start,
        electrical=electrical,
    )


def limit_at(
    installed: Iterable[InstalledProfile],
    connector_id: int,
    at: datetime,
    unit: ChargingRateUnitType,
    *,
    tx_start: datetime | None = None,
    electrical: Electrical = Electrical(),
    with_station_max: bool = True,
) -> Interval:
    """The limit in force at one instant (the interval around it is cut to [at, at + 1 µs))."""
    composite = compose(
        installed,
        connector_id,
        at,
        at + timedelta(microseconds=1),
        unit,
        tx_start=tx_start,
        electrical=electrical,
        with_station_max=with_station_max,
    )
    return composite.intervals[0]


def _seconds_up(delta: timedelta) -> int:
    whole, rest = divmod(delta, SECOND)
    return int(whole) + (1 if rest else 0)


def round_down(limit: float) -> float:
    """At most one decimal, never above `limit` (a float a hair under x.x counts as x.x)."""
    return math.floor(limit * 10 + 1e-6) / 10


def to_charging_schedule(composite: Composite, unconstrained: float) -> ChargingSchedule:
    """The composite as GetCompositeSchedule reports it; `unconstrained` (in the composite's
    unit, e.g. the hardware maximum) stands for intervals without a limit."""
    duration = _seconds_up(composite.end - composite.start)
    periods: list[ChargingSchedulePeriod] = []
    for interval in composite.intervals:
        offset = _seconds_up(interval.start - composite.start)
        if offset >= duration:
            break
        limit = round_down(unconstrained if interval.limit is None else interval.limit)
        phases = interval.number_phases
        period = (
            ChargingSchedulePeriod(start_period=offset, limit=limit)
            if phases is None or phases == DEFAULT_PHASES
            else ChargingSchedulePeriod(start_period=offset, limit=limit, number_phases=phases)
        )
        if periods and periods[-1].start_period == offset:
            periods.pop()  # shorter than a second: the one in force at that second wins
        if periods and (periods[-1].limit, periods[-1].number_phases) == (
            period.limit,
            period.number_phases,
        ):
            continue
        periods.append(period)
    return ChargingSchedule(
        charging_rate_unit=composite.unit, charging_schedule_period=periods, duration=duration
    )


def composite_response(composite: Composite, unconstrained: float) -> GetCompositeScheduleResponse:
    """An Accepted GetCompositeSchedule answer for the composite."""
    return GetCompositeScheduleResponse(
        status=GetCompositeScheduleStatus.ACCEPTED,
        connector_id=composite.connector_id,
        schedule_start=composite.start,
        charging_schedule=to_charging_schedule(composite, unconstrained),
    )
