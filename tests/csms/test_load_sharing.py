"""The pure allocation of a site's limit: tables of known cases, then the invariants."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocppd.csms.load_sharing import Demand, allocate, available_to_share, settle, water_level

MARGIN = 2.0
EPSILON = 1e-6


def hungry(key: int, minimum: float = 6, maximum: float = 32) -> Demand:
    return Demand(key, minimum, maximum)


@pytest.mark.parametrize(
    ("limit", "demands", "expected"),
    [
        # Equal shares.
        (100, [hungry(1), hungry(2), hungry(3), hungry(4)], {1: 25, 2: 25, 3: 25, 4: 25}),
        # Room for everyone at their maximum.
        (100, [hungry(1), hungry(2)], {1: 32, 2: 32}),
        # A car drawing 4 A under a 25 A limit keeps 4 + margin, the rest goes to the others.
        (
            100,
            [Demand(1, 6, 32, draw=4, current=25), hungry(2), hungry(3), hungry(4)],
            {1: 6, 2: 31.333333, 3: 31.333333, 4: 31.333333},
        ),
        # A car drawing 10 A of its 25 A keeps 12 A.
        (
            60,
            [Demand(1, 6, 32, draw=10, current=25), hungry(2), hungry(3)],
            {1: 12, 2: 24, 3: 24},
        ),
        # A car drawing close to its limit is hungry: it may get more.
        (60, [Demand(1, 6, 32, draw=19.5, current=20), hungry(2)], {1: 30, 2: 30}),
        # Not enough for every minimum: the latest arrivals are paused, in arrival order.
        (
            20,
            [hungry(1), hungry(2), hungry(3), hungry(4)],
            {1: 6.666667, 2: 6.666667, 3: 6.666667, 4: 0},
        ),
        (11, [hungry(1), hungry(2)], {1: 11, 2: 0}),
        # Once one waits, every later one waits too (even one that would fit).
        (16, [hungry(1, 6), hungry(2, 6), hungry(3, 6), hungry(4, 3, 3)], {1: 8, 2: 8, 3: 0, 4: 0}),
        # A charger that refused its profile is counted at its maximum; the others share the rest.
        (100, [Demand(1, 6, 32, fixed=True), hungry(2), hungry(3)], {1: 32, 2: 32, 3: 32}),
        # ... and when it takes more than the limit, everyone else waits.
        (30, [Demand(1, 6, 32, fixed=True), hungry(2)], {1: 32, 2: 0}),
        # A car whose maximum is below the minimum needs only its maximum.
        (10, [hungry(1, 6, 4), hungry(2)], {1: 4, 2: 6}),
        # A zero limit pauses everyone.
        (0, [hungry(1), hungry(2)], {1: 0, 2: 0}),
        # No transactions.
        (100, [], {}),
    ],
)
def test_known_allocations(limit: float, demands: list[Demand], expected: dict[int, float]) -> None:
    shares = allocate(limit, demands, MARGIN)
    assert shares.keys() == expected.keys()
    for key, value in expected.items():
        assert shares[key] == pytest.approx(value, abs=1e-5), key


def test_water_level_walks_the_breakpoints() -> None:
    assert water_level(30, [6, 6, 6], [32, 32, 32]) == pytest.approx(10)
    assert water_level(30, [6, 6, 6], [5 + 1, 32, 32]) == pytest.approx(12)
    assert water_level(100, [6], [32]) == math.inf


def test_settle_keeps_small_changes_and_sends_large_ones() -> None:
    demands = [Demand(1, 6, 32, current=10), Demand(2, 6, 32, current=10), Demand(3, 6, 32)]
    # 1 moves by 0.5 (kept), 2 by 3 (sent), 3 has no limit yet (sent).
    assert settle({1: 10.5, 2: 13, 3: 8}, demands, 40, step=1) == {1: 10, 2: 13, 3: 8}


def test_settle_sends_a_small_decrease_when_the_sum_needs_it() -> None:
    demands = [Demand(1, 6, 32, current=10.5), Demand(2, 6, 32, current=10.4)]
    # Both decreases are small, but keeping both would give 20.9 > 20.5: the larger is sent.
    assert settle({1: 10, 2: 10}, demands, 20.5, step=1) == {1: 10, 2: 10.4}


def test_settle_never_keeps_a_paused_car_running_or_a_car_below_its_minimum() -> None:
    demands = [Demand(1, 6, 32, current=0.5), Demand(2, 6, 32, current=5.5)]
    assert settle({1: 0, 2: 6}, demands, 100, step=1) == {1: 0, 2: 6}


# Invariants

amps = st.floats(min_value=0, max_value=80, allow_nan=False)


@st.composite
def demands(draw: st.DrawFn) -> list[Demand]:
    count = draw(st.integers(0, 30))
    minimum = draw(st.sampled_from([0, 6, 8, 10]))
    result = []
    for key in range(count):
        maximum = draw(st.sampled_from([4, 10, 16, 32, 63]))
        result.append(
            Demand(
                key,
                minimum,
                maximum,
                draw=draw(st.none() | st.floats(0, maximum)),
                current=draw(st.none() | st.floats(0, maximum)),
                fixed=draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans()),
            )
        )
    return result


@settings(max_examples=300)
@given(amps.map(lambda x: x * 5), demands())
def test_shares_respect_the_limit_the_minimum_and_the_maximum(
    limit: float, given_demands: list[Demand]
) -> None:
    shares = allocate(limit, given_demands, MARGIN)
    assert shares.keys() == {d.key for d in given_demands}
    flexible = [d for d in given_demands if not d.fixed]
    assert (
        sum(shares[d.key] for d in flexible) <= available_to_share(limit, given_demands) + EPSILON
    )
    paused = False
    for demand in given_demands:
        share = shares[demand.key]
        if demand.fixed:
            assert share == demand.maximum
            continue
        assert 0 <= share <= demand.maximum + EPSILON
        if share < demand.floor - EPSILON:
            assert share == 0  # not admitted: paused, never a trickle below the minimum
            paused = True
        else:
            assert not paused or demand.floor == 0, "a later arrival charges while an earlier waits"


@settings(max_examples=300)
@given(amps.map(lambda x: x * 5), amps.map(lambda x: x * 5), demands())
def test_a_higher_limit_never_takes_anything_away(
    low: float, high: float, given_demands: list[Demand]
) -> None:
    low, high = sorted((low, high))
    before = allocate(low, given_demands, MARGIN)
    after = allocate(high, given_demands, MARGIN)
    admitted_before = {k for k, v in before.items() if v > 0}
    admitted_after = {k for k, v in after.items() if v > 0}
    assert admitted_before <= admitted_after | {d.key for d in given_demands if d.floor == 0}
    assert sum(after.values()) >= sum(before.values()) - EPSILON
    if admitted_before == admitted_after:
        for key, share in before.items():
            assert after[key] >= share - EPSILON


@settings(max_examples=300)
@given(amps.map(lambda x: x * 5), demands(), st.sampled_from([0.5, 1, 3]))
def test_settled_limits_stay_under_the_limit(
    limit: float, given_demands: list[Demand], step: float
) -> None:
    targets = allocate(limit, given_demands, MARGIN)
    available = available_to_share(limit, given_demands)
    settled = settle(targets, given_demands, available, step)
    flexible = [d for d in given_demands if not d.fixed]
    assert sum(settled[d.key] for d in flexible) <= available + EPSILON
    for demand in given_demands:
        value, target = settled[demand.key], targets[demand.key]
        assert value == target or (
            value == demand.current and abs(value - target) < step and value >= demand.floor
        )


@settings(max_examples=200)
@given(
    amps.map(lambda x: x * 5),
    st.lists(st.sampled_from([3.0, 5.0, 7.4, 11.0, 16.0, 32.0]), max_size=25),
)
def test_repeated_rebalances_settle_and_stop_sending(limit: float, wants: list[float]) -> None:
    """Cars that take at most what they want, under what they were given: after a few
    rounds of measuring and rebalancing, nothing more is sent (no flapping)."""
    applied: dict[int, float | None] = dict.fromkeys(range(len(wants)))
    history = []
    for _ in range(6):
        demands = [
            Demand(
                key,
                6,
                32,
                draw=None if applied[key] is None else min(want, applied[key] or 0.0),
                current=applied[key],
            )
            for key, want in enumerate(wants)
        ]
        targets = allocate(limit, demands, MARGIN)
        applied = dict(settle(targets, demands, limit, step=1))
        history.append(applied)
    assert history[-1] == history[-2] == history[-3]
