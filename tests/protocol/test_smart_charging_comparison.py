"""A GetCompositeSchedule answer against a prediction: tables, and the property that a
composite agrees with its own GetCompositeSchedule form (Hypothesis)."""

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from msgspec import UNSET

from ocppd.protocol.datatypes import ChargingSchedule, ChargingSchedulePeriod
from ocppd.protocol.smart_charging import (
    Composite,
    InstalledProfile,
    compose,
    to_charging_schedule,
)
from ocppd.protocol.smart_charging.comparison import Mismatch, compare
from tests.protocol.smart_charging_cases import DEFAULT, T0, A, W, at, on, profile
from tests.protocol.test_smart_charging_properties import profile_lists, units, windows

# Predicted on connector 1: 16 A for 10 minutes, then 8 A until 12:00, then unconstrained.
PREDICTED = compose(
    [on(1, profile(DEFAULT, [(0, 16), (600, 8)], start=T0, duration=2 * 3600))],
    1,
    T0,
    at(3),
    A,
)


def answer(
    *periods: tuple[int, float],
    duration: int | None = 3 * 3600,
    start_schedule: datetime | None = None,
    unit: str = A,
) -> ChargingSchedule:
    return ChargingSchedule(
        charging_rate_unit=unit,  # type: ignore[arg-type]
        charging_schedule_period=[
            ChargingSchedulePeriod(start_period=s, limit=limit) for s, limit in periods
        ],
        duration=UNSET if duration is None else duration,
        start_schedule=UNSET if start_schedule is None else start_schedule,
    )


@pytest.mark.parametrize(
    ("reported", "mismatch"),
    [
        (answer((0, 16), (600, 8), (7200, 32)), None),  # unconstrained: the hardware maximum
        (answer((0, 16), (601, 8)), None),  # a second late: not a mismatch
        (answer((0, 16), (602, 8)), Mismatch(at(minutes=10), 8, 16)),
        (answer((0, 16), (600, 9), (1200, 8)), Mismatch(at(minutes=10), 8, 9)),
        (answer((0, 16), (600, 8), duration=900), None),  # nothing after its duration
        (answer((60, 16), (600, 8)), None),  # nothing before its first period
        (answer((0, 6)), Mismatch(T0, 16, 6)),
        # Periods count from the answer's startSchedule when it gives one.
        (answer((0, 8), start_schedule=at(minutes=10)), None),
        (answer((0, 16), (2**62, 8)), Mismatch(at(minutes=10), 8, 16)),  # no overflow
        (answer((0, 16), (600, 8), duration=-5), None),
    ],
)
def test_an_answer_against_the_prediction(
    reported: ChargingSchedule, mismatch: Mismatch | None
) -> None:
    assert compare(PREDICTED, reported, T0) == mismatch


@pytest.mark.parametrize(("reported", "agrees"), [(6.6, True), (6.7, True), (6.5, False)])
def test_limits_agree_within_the_precision_of_a_limit(reported: float, agrees: bool) -> None:
    # 4600 W on 3 x 230 V: 6.67 A, which a charger reports as 6.6 or 6.7.
    watts = [on(1, profile(DEFAULT, [(0, 4600)], unit=W, start=T0))]
    predicted = compose(watts, 1, T0, at(1), A)
    assert (compare(predicted, answer((0, reported)), T0) is None) == agrees


def test_a_short_difference_inside_a_long_one_is_reported_from_its_start() -> None:
    reported = answer((0, 16), (300, 12), (300 + 1, 13), (900, 8))
    assert compare(PREDICTED, reported, T0) == Mismatch(at(minutes=5), 16, 12)


@given(profile_lists, windows, units)
def test_a_composite_agrees_with_its_get_composite_schedule_form(
    installed: list[InstalledProfile], window: tuple[datetime, datetime], unit: str
) -> None:
    start, end = window
    composite: Composite = compose(installed, 1, start, end, unit)  # type: ignore[arg-type]
    form = to_charging_schedule(composite, unconstrained=32.0 if unit == A else 22000.0)
    assert compare(composite, form, start) is None


@given(profile_lists, windows)
def test_a_limit_off_by_more_than_its_precision_is_reported(
    installed: list[InstalledProfile], window: tuple[datetime, datetime]
) -> None:
    start, end = window
    composite = compose(installed, 1, start, end, W)
    form = to_charging_schedule(composite, unconstrained=22000.0)
    first = form.charging_schedule_period[0]
    predicted = composite.at(start).limit
    lasting = composite.intervals[0].end - start > timedelta(seconds=2)
    shifted = ChargingSchedule(
        charging_rate_unit=W,
        duration=form.duration,
        charging_schedule_period=[
            ChargingSchedulePeriod(start_period=0, limit=first.limit + 1),
            *form.charging_schedule_period[1:],
        ],
    )
    found = compare(composite, shifted, start)
    if predicted is not None and lasting:
        assert found == Mismatch(start, predicted, first.limit + 1)
