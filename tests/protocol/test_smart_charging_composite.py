"""The composite schedule: worked examples from the behaviour notes, section 6."""

from datetime import timedelta

import pytest
from msgspec import UNSET

from ocppd.protocol.datatypes import ChargingSchedulePeriod
from ocppd.protocol.enums import GetCompositeScheduleStatus
from ocppd.protocol.smart_charging import (
    Composite,
    Electrical,
    InstalledProfile,
    compose,
    composite_response,
    composite_schedule,
    install,
    limit_at,
    segments,
    to_charging_schedule,
)
from tests.protocol.smart_charging_cases import (
    DAILY,
    DEFAULT,
    MAX,
    RECURRING,
    RELATIVE,
    T0,
    TX,
    WEEKLY,
    A,
    W,
    at,
    on,
    profile,
)

HOUR = 3600

Shape = list[tuple[float, float | None, int | None]]


def shape(composite: Composite) -> Shape:
    """(hours from T0, limit, phases) of each interval."""
    return [
        (
            (i.start - T0) / timedelta(hours=1),
            None if i.limit is None else round(i.limit, 6),
            i.number_phases,
        )
        for i in composite.intervals
    ]


def window(
    installed: list[InstalledProfile],
    connector_id: int = 1,
    hours: float = 2,
    unit: str = "A",
    **kwargs: object,
) -> Shape:
    composite = composite_schedule(
        installed, connector_id, T0, int(hours * HOUR), A if unit == "A" else W, **kwargs
    )  # type: ignore[arg-type]
    return shape(composite)


def test_no_profiles_is_unconstrained() -> None:
    assert window([]) == [(0, None, None)]


def test_a_connector_specific_default_overrides_connector_0() -> None:
    installed = [on(0, profile(DEFAULT, [(0, 16)], level=3)), on(1, profile(DEFAULT, [(0, 10)]))]
    assert window(installed, 1) == [(0, 10, 3)]
    assert window(installed, 2) == [(0, 16, 3)]


def test_a_tx_profile_overrides_the_default_whatever_its_level() -> None:
    installed = [on(1, profile(DEFAULT, [(0, 6)], level=5)), on(1, profile(TX, [(0, 20)]))]
    assert window(installed) == [(0, 20, 3)]


def test_a_tx_profile_is_capped_by_the_charge_point_max() -> None:
    station = on(0, profile(MAX, [(0, 20), (int(1.5 * HOUR), 8)], start=T0))
    tx = on(1, profile(TX, [(0, 32)]))
    assert window([station, tx]) == [(0, 20, 3), (1.5, 8, 3)]
    below = on(1, profile(TX, [(0, 16)]))
    assert window([station, below]) == [(0, 16, 3), (1.5, 8, 3)]


def test_connector_0_is_the_charge_point_max_alone() -> None:
    installed = [on(0, profile(MAX, [(0, 20)])), on(0, profile(DEFAULT, [(0, 6)]))]
    assert window(installed, 0) == [(0, 20, 3)]
    assert window(installed, 1) == [(0, 6, 3)]


def test_a_daily_recurring_profile_across_midnight() -> None:
    night = profile(
        DEFAULT,
        [(0, 8), (2 * HOUR, 6)],
        kind=RECURRING,
        recurrency=DAILY,
        start=at(-36),  # 22:00 two days before T0 (10:00)
        duration=8 * HOUR,  # 22:00 .. 06:00
    )
    installed = [on(0, night)]
    evening = composite_schedule(installed, 1, at(10), 12 * HOUR, A)  # from 20:00
    assert shape(evening) == [(10, None, None), (12, 8, 3), (14, 6, 3), (20, None, None)]
    small_hours = composite_schedule(installed, 1, at(15), 2 * HOUR, A)  # 01:00 .. 03:00
    assert shape(small_hours) == [(15, 6, 3)]


def test_a_weekly_recurring_profile() -> None:
    weekly = profile(
        DEFAULT, [(0, 10)], kind=RECURRING, recurrency=WEEKLY, start=at(-7 * 24 + 24), duration=HOUR
    )
    composite = composite_schedule([on(0, weekly)], 1, T0, 9 * 24 * HOUR, A)
    assert shape(composite) == [
        (0, None, None),
        (24, 10, 3),
        (25, None, None),
        (192, 10, 3),
        (193, None, None),
    ]


def test_a_recurring_schedule_is_cut_at_the_recurrence() -> None:
    long = profile(
        DEFAULT,
        [(0, 10), (20 * HOUR, 7)],
        kind=RECURRING,
        recurrency=DAILY,
        start=at(-24),
        duration=30 * HOUR,
    )
    assert window([on(0, long)], hours=24) == [(0, 10, 3), (20, 7, 3)]


def test_a_relative_profile_counts_from_the_transaction_start() -> None:
    tx = profile(TX, [(0, 6), (HOUR, 16)], kind=RELATIVE)
    assert window([on(1, tx)], tx_start=at(minutes=-30)) == [(0, 6, 3), (0.5, 16, 3)]
    # without a transaction: as if one started at the window's start
    assert window([on(1, tx)]) == [(0, 6, 3), (1, 16, 3)]


def test_a_higher_level_with_a_duration_falls_back_to_the_lower_one() -> None:
    base = on(1, profile(DEFAULT, [(0, 16)]))
    boost = on(1, profile(DEFAULT, [(0, 6)], level=1, start=T0, duration=HOUR // 2))
    assert window([base, boost]) == [(0, 6, 3), (0.5, 16, 3)]


def test_a_top_level_profile_without_duration_never_falls_back() -> None:
    base = on(1, profile(DEFAULT, [(0, 16)]))
    top = on(1, profile(DEFAULT, [(0, 6), (HOUR, 32)], level=1, start=T0))
    assert window([base, top], hours=48) == [(0, 6, 3), (1, 32, 3)]


def test_a_valid_from_in_the_future() -> None:
    base = on(1, profile(DEFAULT, [(0, 16)]))
    later = on(1, profile(DEFAULT, [(0, 8)], level=1, valid_from=at(1), valid_to=at(1.5)))
    assert window([base, later]) == [(0, 16, 3), (1, 8, 3), (1.5, 16, 3)]


def test_a_replacement_with_a_future_valid_from_gives_default_behaviour_until_then() -> None:
    old = on(1, profile(DEFAULT, [(0, 8)], profile_id=7))
    new = on(1, profile(DEFAULT, [(0, 10)], profile_id=7, valid_from=at(1)))
    assert window(list(install([old], new))) == [(0, None, None), (1, 10, 3)]


def test_an_absolute_schedule_starting_later_gives_way_until_it_starts() -> None:
    base = on(1, profile(DEFAULT, [(0, 16)]))
    later = on(1, profile(DEFAULT, [(0, 8)], level=2, start=at(0.5)))
    assert window([base, later]) == [(0, 16, 3), (0.5, 8, 3)]


def test_validity_counts_from_receipt_without_valid_from() -> None:
    received = on(1, profile(DEFAULT, [(0, 8)]), received_at=at(1))
    assert window([received]) == [(0, None, None), (1, 8, 3)]


def test_periods_beyond_the_duration_are_ignored() -> None:
    item = on(1, profile(DEFAULT, [(0, 8), (HOUR, 4)], start=T0, duration=HOUR // 2))
    assert window([item]) == [(0, 8, 3), (0.5, None, None)]


@pytest.mark.parametrize(
    ("periods", "unit", "electrical", "wanted", "expected"),
    [
        ([(0, 11040)], W, Electrical(), "A", (16, 3)),
        ([(0, 3680, 1)], W, Electrical(), "A", (16, 1)),
        ([(0, 16, 1)], A, Electrical(), "W", (3680, 1)),
        ([(0, 16)], A, Electrical(), "W", (11040, 3)),
        ([(0, 16)], A, Electrical(phases=1), "W", (3680, 1)),  # too many phases: as given
        ([(0, 11040)], W, Electrical(phases=1), "A", (48, 1)),
        ([(0, 16)], A, Electrical(voltage=110), "W", (5280, 3)),
    ],
)
def test_amps_and_watts(
    periods: list[tuple[int, float]],
    unit: str,
    electrical: Electrical,
    wanted: str,
    expected: tuple[float, int],
) -> None:
    item = on(1, profile(TX, periods, unit=unit))  # type: ignore[arg-type]
    assert window([item], unit=wanted, electrical=electrical) == [(0, *expected)]


def test_limits_in_different_units_and_phases_combine_per_phase() -> None:
    station = on(0, profile(MAX, [(0, 10)]))  # 10 A on 3 phases
    tx = on(1, profile(TX, [(0, 16, 1)]))  # 16 A on 1 phase
    assert window([station, tx]) == [(0, 10, 1)]
    assert window([station, tx], unit="W") == [(0, 2300, 1)]
    power = on(0, profile(MAX, [(0, 6900)], unit=W))
    assert window([power, tx]) == [(0, 16, 1)]


def test_limit_at_one_instant() -> None:
    base = on(1, profile(DEFAULT, [(0, 16)]))
    boost = on(1, profile(DEFAULT, [(0, 6)], level=1, start=T0, duration=HOUR))
    station = on(0, profile(MAX, [(0, 10)]))
    assert limit_at([base, boost, station], 1, at(0.5), A).limit == 6
    assert limit_at([base, boost, station], 1, at(2), A).limit == 10
    alone = limit_at([base, boost, station], 1, at(2), W, with_station_max=False)
    assert alone.limit == 16 * 230 * 3


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        compose([], 1, T0, T0, A)


def test_the_schedule_reported_by_get_composite_schedule() -> None:
    start = T0 + timedelta(microseconds=400_000)
    installed = [
        on(1, profile(DEFAULT, [(0, 16)])),
        on(1, profile(TX, [(0, 5060), (HOUR, 1150, 1)], unit=W, start=T0, duration=2 * HOUR)),
    ]
    composite = compose(installed, 1, start, start + timedelta(hours=3), A)
    response = composite_response(composite, unconstrained=32)
    assert response.status == GetCompositeScheduleStatus.ACCEPTED
    assert response.connector_id == 1
    assert response.schedule_start == start
    schedule = response.charging_schedule
    assert schedule is not UNSET
    assert schedule.start_schedule is UNSET
    assert schedule.duration == 3 * HOUR
    assert schedule.charging_rate_unit == A
    assert schedule.charging_schedule_period == [
        ChargingSchedulePeriod(start_period=0, limit=7.3),  # 7.33 A rounded down
        ChargingSchedulePeriod(start_period=HOUR, limit=5, number_phases=1),
        ChargingSchedulePeriod(start_period=2 * HOUR, limit=16),
    ]


def test_unconstrained_intervals_take_the_hardware_limit_and_merge() -> None:
    installed = [on(1, profile(DEFAULT, [(0, 32)], start=T0, duration=HOUR))]
    composite = composite_schedule(installed, 1, T0, 2 * HOUR, A)
    schedule = to_charging_schedule(composite, unconstrained=32)
    assert schedule.charging_schedule_period == [ChargingSchedulePeriod(start_period=0, limit=32)]


def test_a_change_within_a_second_reports_the_limit_in_force_at_the_second() -> None:
    installed = [
        on(1, profile(DEFAULT, [(0, 16)])),
        on(1, profile(DEFAULT, [(0, 6)], level=1, start=T0 + timedelta(milliseconds=200))),
    ]
    composite = composite_schedule(installed, 1, T0, 10, A)
    assert shape(composite)[0][1:] == (16, 3)
    schedule = to_charging_schedule(composite, unconstrained=32)
    assert schedule.charging_schedule_period == [
        ChargingSchedulePeriod(start_period=0, limit=16),
        ChargingSchedulePeriod(start_period=1, limit=6),
    ]


def test_the_segments_of_one_profile() -> None:
    item = on(
        1,
        profile(
            DEFAULT,
            [(0, 8), (HOUR, 6, 1)],
            kind=RECURRING,
            recurrency=DAILY,
            start=at(-24),
            duration=2 * HOUR,
            unit=A,
        ),
    )
    found = segments(item, at(-1), at(25.5), None)
    assert [(s.start, s.end, s.limit, s.number_phases) for s in found] == [
        (at(0), at(1), 8, None),
        (at(1), at(2), 6, 1),
        (at(24), at(25), 8, None),
        (at(25), at(25.5), 6, 1),
    ]
    assert segments(item, at(3), at(20), None) == []


def test_an_instant_outside_the_composite() -> None:
    composite = composite_schedule([], 1, T0, 10, A)
    with pytest.raises(ValueError, match="outside"):
        composite.at(at(seconds=10))
