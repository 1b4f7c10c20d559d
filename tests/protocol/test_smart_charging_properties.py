"""Invariants of the composite schedule, on generated profiles (Hypothesis)."""

import itertools
import math
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from ocppd.protocol.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ocppd.protocol.enums import ChargingProfileKindType, ChargingProfilePurposeType
from ocppd.protocol.smart_charging import (
    Composite,
    Electrical,
    InstalledProfile,
    compose,
    end_transaction,
    to_charging_schedule,
)
from tests.protocol.smart_charging_cases import (
    DEFAULT,
    MAX,
    RECURRING,
    RELATIVE,
    T0,
    TX,
    A,
    W,
    on,
    profile,
)

HOUR = 3600
ELECTRICAL = Electrical()

offsets = st.integers(min_value=-10 * 24 * HOUR, max_value=10 * 24 * HOUR)
instants = offsets.map(lambda s: T0 + timedelta(seconds=s))
limits = st.integers(min_value=0, max_value=2000).map(lambda n: n / 10)


@st.composite
def installed_profiles(draw: st.DrawFn, connector_id: int | None = None) -> InstalledProfile:
    purpose = draw(st.sampled_from([MAX, DEFAULT, TX]))
    if purpose == MAX:
        connector = 0
    elif purpose == TX:
        connector = 1 if connector_id is None else connector_id
    else:
        connector = draw(st.sampled_from([0, 1, 2])) if connector_id is None else connector_id
    kind = draw(st.sampled_from(list(ChargingProfileKindType)))
    unit = draw(st.sampled_from([A, W]))
    values = st.integers(0, 50_000).map(float) if unit == W else limits
    starts = sorted(draw(st.sets(st.integers(1, 3 * 24 * HOUR), max_size=4)))
    periods = [
        ChargingSchedulePeriod(start_period=start, limit=draw(values))
        if draw(st.booleans())
        else ChargingSchedulePeriod(
            start_period=start,
            limit=draw(values),
            number_phases=draw(st.integers(1, 3)),
        )
        for start in [0, *starts]
    ]
    valid_from = draw(st.none() | instants)
    valid_to = draw(st.none() | instants)
    start = None if kind == RELATIVE else draw(st.none() | instants)
    return InstalledProfile(
        connector,
        ChargingProfile(
            charging_profile_id=draw(st.integers(1, 1000)),
            stack_level=draw(st.integers(0, 3)),
            charging_profile_purpose=purpose,
            charging_profile_kind=kind,
            recurrency_kind=draw(st.sampled_from(["Daily", "Weekly"]))
            if kind == RECURRING
            else UNSET,
            valid_from=UNSET if valid_from is None else valid_from,
            valid_to=UNSET if valid_to is None else valid_to,
            charging_schedule=ChargingSchedule(
                charging_rate_unit=unit,
                charging_schedule_period=periods,
                start_schedule=UNSET if start is None else start,
                duration=draw(st.none() | st.integers(1, 8 * 24 * HOUR)) or UNSET,
            ),
        ),
        draw(instants),
    )


profile_lists = st.lists(installed_profiles(), max_size=8)
windows = st.tuples(instants, st.integers(1, 9 * 24 * HOUR)).map(
    lambda w: (w[0], w[0] + timedelta(seconds=w[1]))
)
tx_starts = st.none() | instants
units = st.sampled_from([A, W])
electricals = st.sampled_from([Electrical(), Electrical(phases=1), Electrical(voltage=110)])


def boundaries(*composites: Composite) -> list[datetime]:
    return sorted({i.start for c in composites for i in c.intervals})


def watts(limit: float | None, phases: int | None, unit: str, electrical: Electrical) -> float:
    if limit is None:
        return math.inf
    if unit == W:
        return limit
    assert phases is not None
    return limit * electrical.voltage * phases


@given(profile_lists, windows, tx_starts, units, electricals, st.sampled_from([0, 1, 2]))
def test_intervals_are_contiguous_and_cover_the_window(
    installed: list[InstalledProfile],
    window: tuple[datetime, datetime],
    tx_start: datetime | None,
    unit: str,
    electrical: Electrical,
    connector_id: int,
) -> None:
    start, end = window
    composite = compose(
        installed, connector_id, start, end, unit, tx_start=tx_start, electrical=electrical
    )  # type: ignore[arg-type]
    intervals = composite.intervals
    assert intervals[0].start == start
    assert intervals[-1].end == end
    for before, after in itertools.pairwise(intervals):
        assert before.end == after.start
        assert (before.limit, before.number_phases) != (after.limit, after.number_phases)
    for interval in intervals:
        assert interval.start < interval.end
        assert (interval.limit is None) == (interval.number_phases is None)
        assert interval.number_phases is None or 1 <= interval.number_phases <= electrical.phases


@given(profile_lists, windows, tx_starts, units, electricals)
def test_the_composite_never_exceeds_the_charge_point_max(
    installed: list[InstalledProfile],
    window: tuple[datetime, datetime],
    tx_start: datetime | None,
    unit: str,
    electrical: Electrical,
) -> None:
    start, end = window
    args = {"tx_start": tx_start, "electrical": electrical}
    connector = compose(installed, 1, start, end, unit, **args)  # type: ignore[arg-type]
    station = compose(installed, 0, start, end, W, **args)  # type: ignore[arg-type]
    for instant in boundaries(connector, station):
        mine, cap = connector.at(instant), station.at(instant)
        assert watts(mine.limit, mine.number_phases, unit, electrical) <= (
            math.inf if cap.limit is None else cap.limit * (1 + 1e-12)
        )


@given(profile_lists, windows, tx_starts, units)
def test_the_composite_in_watts_and_in_amps_agree(
    installed: list[InstalledProfile],
    window: tuple[datetime, datetime],
    tx_start: datetime | None,
    unit: str,
) -> None:
    start, end = window
    in_a = compose(installed, 1, start, end, A, tx_start=tx_start)
    in_w = compose(installed, 1, start, end, W, tx_start=tx_start)
    for instant in boundaries(in_a, in_w):
        amps, power = in_a.at(instant), in_w.at(instant)
        assert amps.number_phases == power.number_phases
        if amps.limit is None or power.limit is None:
            assert amps.limit is power.limit is None
        else:
            assert math.isclose(
                watts(amps.limit, amps.number_phases, A, ELECTRICAL), power.limit, abs_tol=1e-6
            )


@given(
    st.lists(installed_profiles(connector_id=1), max_size=6),
    st.sampled_from([MAX, DEFAULT, TX]),
    limits,
    st.integers(0, 2),
    st.data(),
    windows,
    tx_starts,
)
def test_a_lower_level_changes_nothing_while_a_higher_one_covers_the_window(
    installed: list[InstalledProfile],
    purpose: ChargingProfilePurposeType,
    limit: float,
    lower_level: int,
    data: st.DataObject,
    window: tuple[datetime, datetime],
    tx_start: datetime | None,
) -> None:
    start, end = window
    connector_id = 0 if purpose == MAX else 1
    cover = on(
        connector_id,
        profile(purpose, [(0, limit)], level=3, start=start - timedelta(days=1)),
        received_at=start - timedelta(days=1),
    )
    lower = data.draw(installed_profiles(connector_id=connector_id))
    lower = InstalledProfile(
        connector_id,
        ChargingProfile(
            **{
                **{f: getattr(lower.profile, f) for f in lower.profile.__struct_fields__},
                "charging_profile_purpose": purpose,
                "stack_level": lower_level,
            }
        ),
        lower.received_at,
    )
    base = [*installed, cover]
    before = compose(base, 1, start, end, A, tx_start=tx_start)
    after = compose([*base, lower], 1, start, end, A, tx_start=tx_start)
    assert before == after


@given(profile_lists, windows, tx_starts)
def test_without_profiles_on_it_a_connector_is_unconstrained(
    installed: list[InstalledProfile],
    window: tuple[datetime, datetime],
    tx_start: datetime | None,
) -> None:
    start, end = window
    elsewhere = [
        item
        for item in installed
        if item.connector_id == 2 or item.profile.charging_profile_purpose == TX
    ]  # TxProfiles are on connector 1
    composite = compose(elsewhere, 3, start, end, A, tx_start=tx_start)
    assert [(i.limit, i.start, i.end) for i in composite.intervals] == [(None, start, end)]


@given(profile_lists, windows, tx_starts, st.data())
def test_removing_the_tx_profiles_gives_the_tx_default_result(
    installed: list[InstalledProfile],
    window: tuple[datetime, datetime],
    tx_start: datetime | None,
    data: st.DataObject,
) -> None:
    start, end = window
    without = [item for item in installed if item.profile.charging_profile_purpose != TX]
    ended = compose(end_transaction(installed, 1), 1, start, end, A, tx_start=tx_start)
    assert ended == compose(without, 1, start, end, A, tx_start=tx_start)
    # and while a TxProfile is in force over the whole window, no TxDefault matters
    cover = on(1, profile(TX, [(0, data.draw(limits))], start=start), received_at=start)
    with_tx = compose([*without, cover], 1, start, end, A, tx_start=tx_start)
    stations = [item for item in without if item.profile.charging_profile_purpose == MAX]
    assert with_tx == compose([*stations, cover], 1, start, end, A, tx_start=tx_start)


@settings(max_examples=50)
@given(profile_lists, windows, tx_starts, units)
def test_the_reported_schedule_holds_the_limit_of_each_whole_second(
    installed: list[InstalledProfile],
    window: tuple[datetime, datetime],
    tx_start: datetime | None,
    unit: str,
) -> None:
    start, end = window
    composite = compose(installed, 1, start, end, unit, tx_start=tx_start)  # type: ignore[arg-type]
    unconstrained = 1e6
    schedule = to_charging_schedule(composite, unconstrained)
    periods = schedule.charging_schedule_period
    assert schedule.duration == math.ceil((end - start).total_seconds())
    assert schedule.start_schedule is UNSET
    assert periods[0].start_period == 0
    for before, after in itertools.pairwise(periods):
        assert before.start_period < after.start_period
        assert (before.limit, before.number_phases) != (after.limit, after.number_phases)
    for period in periods:
        assert period.start_period < schedule.duration
        assert round(period.limit, 1) == period.limit
        interval = composite.at(start + timedelta(seconds=period.start_period))
        real = unconstrained if interval.limit is None else interval.limit
        assert real - 0.1 - 1e-6 <= period.limit <= real + 1e-6  # float noise of A x V
        phases = 3 if period.number_phases is UNSET else period.number_phases
        assert interval.number_phases in (None, phases)


# An oracle: the notes' rules evaluated at one instant, profile by profile, written apart
# from the timeline code.

RECURRENCE_S = {"Daily": 24 * HOUR, "Weekly": 7 * 24 * HOUR}


def limit_of(
    item: InstalledProfile, t: datetime, relative_start: datetime
) -> tuple[str, float, int | None] | None:
    p, schedule = item.profile, item.profile.charging_schedule
    valid_from = item.received_at if p.valid_from is UNSET else p.valid_from
    if t < valid_from or (p.valid_to is not UNSET and t >= p.valid_to):
        return None
    origin = item.received_at if schedule.start_schedule is UNSET else schedule.start_schedule
    length = None if schedule.duration is UNSET else schedule.duration
    if p.charging_profile_kind == RELATIVE:
        origin = relative_start
    elif p.charging_profile_kind == RECURRING:
        every = RECURRENCE_S[str(p.recurrency_kind)]
        runs = math.floor((t - origin).total_seconds() / every)
        origin += timedelta(seconds=every * runs)
        length = every if length is None else min(length, every)
    offset = (t - origin).total_seconds()
    if offset < 0 or (length is not None and offset >= length):
        return None
    started = [q for q in schedule.charging_schedule_period if q.start_period <= offset]
    if not started:
        return None
    period = max(started, key=lambda q: q.start_period)
    phases = None if period.number_phases is UNSET else period.number_phases
    return str(schedule.charging_rate_unit), period.limit, phases


def oracle(
    installed: list[InstalledProfile],
    t: datetime,
    relative_start: datetime,
    unit: str,
    electrical: Electrical,
) -> tuple[float | None, int | None]:
    def prevailing(
        purpose: ChargingProfilePurposeType, connector_id: int
    ) -> tuple[str, float, int | None] | None:
        ranked = sorted(
            (
                (item.profile.stack_level, index, item)
                for index, item in enumerate(installed)
                if item.profile.charging_profile_purpose == purpose
                and item.connector_id == connector_id
            ),
            key=lambda entry: entry[:2],
            reverse=True,
        )
        for _, _, item in ranked:
            found = limit_of(item, t, relative_start)
            if found is not None:
                return found
        return None

    tx = prevailing(TX, 1) or prevailing(DEFAULT, 1) or prevailing(DEFAULT, 0)
    limits = [found for found in (prevailing(MAX, 0), tx) if found is not None]
    if not limits:
        return None, None
    n = min(min(3 if phases is None else phases, electrical.phases) for _, _, phases in limits)
    per_phase = electrical.voltage * n
    amps = min(limit if u == A else limit / per_phase for u, limit, _ in limits)
    power = min(limit * per_phase if u == A else limit for u, limit, _ in limits)
    return (amps if unit == A else power), n


@settings(max_examples=200)
@given(profile_lists, windows, tx_starts, units, electricals, st.lists(offsets, max_size=5))
def test_the_composite_agrees_with_the_rules_at_every_instant(
    installed: list[InstalledProfile],
    window: tuple[datetime, datetime],
    tx_start: datetime | None,
    unit: str,
    electrical: Electrical,
    extra: list[int],
) -> None:
    start, end = window
    composite = compose(installed, 1, start, end, unit, tx_start=tx_start, electrical=electrical)  # type: ignore[arg-type]
    relative_start = start if tx_start is None else tx_start
    probes = {i.start for i in composite.intervals}
    probes |= {i.end - timedelta(microseconds=1) for i in composite.intervals}
    span = (end - start).total_seconds()
    probes |= {start + timedelta(seconds=abs(s) % span) for s in extra}
    for t in sorted(probes):
        interval = composite.at(t)
        limit, phases = oracle(installed, t, relative_start, unit, electrical)
        assert interval.number_phases == phases, t
        if limit is None or interval.limit is None:
            assert interval.limit is limit is None, t
        else:
            assert math.isclose(interval.limit, limit, rel_tol=1e-12, abs_tol=1e-9), t
