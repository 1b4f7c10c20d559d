"""A charger's GetCompositeSchedule answer next to a predicted composite: where they differ.

The answer's periods count from scheduleStart (from the schedule's own startSchedule when it
gives one) in whole seconds; a period lasts until the next one, the last until `duration`
(absent: the end of the window). Over the window of the prediction they agree at an instant
when:
- the prediction has no limit there: the charger reports its own maximum, any value agrees;
- or the two limits differ by less than 0.1 (a limit has one decimal, and chargers round
  either way).
Before the first reported period and after the reported duration nothing is compared, nor is
numberPhases. A difference that lasts at most `SLACK` is not a mismatch: the charger counts
whole seconds from when it received a profile, the prediction from when its answer arrived.
"""

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from msgspec import UNSET

from ocppd.protocol.datatypes import ChargingSchedule
from ocppd.protocol.smart_charging.composite import Composite

SLACK = timedelta(seconds=1)
PRECISION = 0.1


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The first instant where the answer and the prediction disagree, with both limits."""

    at: datetime
    predicted: float | None
    reported: float


@dataclass(frozen=True, slots=True)
class Step:
    start: datetime
    end: datetime
    limit: float


def reported_steps(schedule: ChargingSchedule, start: datetime, end: datetime) -> list[Step]:
    """The answer's periods on the timeline, cut to [start, end)."""
    base = start if schedule.start_schedule is UNSET else schedule.start_schedule
    window = max((end - base).total_seconds(), 0.0)

    def at(seconds: int) -> datetime:
        # Bounded by the window, so a hostile startPeriod cannot overflow a datetime.
        return base + timedelta(seconds=min(max(seconds, 0), window))

    last = end if schedule.duration is UNSET else min(at(schedule.duration), end)
    periods = sorted(schedule.charging_schedule_period, key=lambda period: period.start_period)
    steps: list[Step] = []
    for period, following in itertools.zip_longest(periods, periods[1:]):
        left = max(at(period.start_period), start)
        right = last if following is None else min(at(following.start_period), last)
        if left < right:
            steps.append(Step(left, right, period.limit))
    return steps


def _agree(predicted: float | None, reported: float | None) -> bool:
    if predicted is None or reported is None:
        return True
    return abs(predicted - reported) < PRECISION - 1e-9


def compare(
    composite: Composite, schedule: ChargingSchedule, schedule_start: datetime
) -> Mismatch | None:
    """The first lasting disagreement between the answer (`schedule` from `schedule_start`)
    and `composite` over the composite's window, or None when they agree."""
    steps = reported_steps(schedule, schedule_start, composite.end)
    edges = {composite.start, composite.end}
    edges.update(interval.start for interval in composite.intervals)
    edges.update(edge for step in steps for edge in (step.start, step.end))
    bounds = sorted(edge for edge in edges if composite.start <= edge <= composite.end)
    run: Mismatch | None = None
    run_end = composite.start
    for left, right in itertools.pairwise(bounds):
        reported = next((s.limit for s in steps if s.start <= left < s.end), None)
        predicted = composite.at(left).limit
        if _agree(predicted, reported):
            if run is not None and run_end - run.at > SLACK:
                return run
            run = None
            continue
        assert reported is not None
        if run is None or run_end != left:
            run = Mismatch(left, predicted, reported)
        run_end = right
    if run is not None and run_end - run.at > SLACK:
        return run
    return None
