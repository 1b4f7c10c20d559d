"""How long the composite schedule takes: a charger with 10 profiles, over a week (issue 6).

The profiles are what a busy site installs: two ChargePointMaxProfiles (a daily peak-hour
cap over a weekly base), TxDefaultProfiles on connector 0 (daily night tariff, a weekly
weekend one, an absolute one with a validity window) and on connector 1 (two levels, the
higher with a duration), and TxProfiles (a Relative one from the transaction start, a
higher Absolute one with a duration, and one not yet valid). Every limit, unit, kind and
recurrence of the notes appears; A and W are mixed, some periods on 1 phase.

Timed: `compose` over 7 days for connector 1 (the composite as intervals), and the same
plus `to_charging_schedule` (what a GetCompositeSchedule answer needs), timeit-style with
gc off; the median and the best of the repeats, in µs per call.

    .venv/bin/python bench/smart_charging.py           # full run
    .venv/bin/python bench/smart_charging.py --quick   # smoke run, few repeats
"""

import argparse
import gc
import platform
import statistics
import sys
import timeit
from datetime import UTC, datetime, timedelta

from msgspec import UNSET

from ocppd.protocol.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ocppd.protocol.enums import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    RecurrencyKindType,
)
from ocppd.protocol.smart_charging import (
    InstalledProfile,
    compose,
    to_charging_schedule,
)

NOW = datetime(2026, 11, 25, 10, 0, 7, tzinfo=UTC)
WEEK = timedelta(days=7)
H = 3600
MAX = ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE
DEFAULT = ChargingProfilePurposeType.TX_DEFAULT_PROFILE
TX = ChargingProfilePurposeType.TX_PROFILE
A, W = ChargingRateUnitType.A, ChargingRateUnitType.W
ABSOLUTE = ChargingProfileKindType.ABSOLUTE
RECURRING = ChargingProfileKindType.RECURRING
RELATIVE = ChargingProfileKindType.RELATIVE
DAILY, WEEKLY = RecurrencyKindType.DAILY, RecurrencyKindType.WEEKLY


def installed(
    profile_id: int,
    connector_id: int,
    purpose: ChargingProfilePurposeType,
    level: int,
    kind: ChargingProfileKindType,
    unit: ChargingRateUnitType,
    periods: list[tuple[int, float, int | None]],
    *,
    start: datetime | None = None,
    duration: int | None = None,
    recurrency: RecurrencyKindType | None = None,
    valid: tuple[datetime, datetime] | None = None,
) -> InstalledProfile:
    schedule = ChargingSchedule(
        charging_rate_unit=unit,
        charging_schedule_period=[
            ChargingSchedulePeriod(
                start_period=offset,
                limit=limit,
                number_phases=UNSET if phases is None else phases,
            )
            for offset, limit, phases in periods
        ],
        start_schedule=UNSET if start is None else start,
        duration=UNSET if duration is None else duration,
    )
    profile = ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=level,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        charging_schedule=schedule,
        recurrency_kind=UNSET if recurrency is None else recurrency,
        valid_from=UNSET if valid is None else valid[0],
        valid_to=UNSET if valid is None else valid[1],
    )
    return InstalledProfile(connector_id, profile, NOW - timedelta(days=3))


MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
PROFILES = [
    installed(1, 0, MAX, 0, RECURRING, W, [(0, 44_000, None)], start=MONDAY, recurrency=WEEKLY),
    installed(
        2, 0, MAX, 1, RECURRING, A,
        [(0, 32, None), (7 * H, 20, None), (9 * H, 32, None), (17 * H, 16, None),
         (20 * H, 32, None)],
        start=MONDAY, recurrency=DAILY,
    ),
    installed(
        3, 0, DEFAULT, 0, RECURRING, A,
        [(0, 10, None), (2 * H, 16, None), (6 * H, 10, None)],
        start=MONDAY + timedelta(hours=22), recurrency=DAILY, duration=9 * H,
    ),
    installed(
        4, 0, DEFAULT, 1, RECURRING, W,
        [(0, 11_000, None), (12 * H, 7_400, 1), (24 * H, 11_000, None)],
        start=MONDAY + timedelta(days=5), recurrency=WEEKLY, duration=48 * H,
    ),
    installed(
        5, 0, DEFAULT, 2, ABSOLUTE, A, [(0, 6, None), (H, 8, None)],
        start=NOW + timedelta(days=2), valid=(NOW + timedelta(days=2), NOW + timedelta(days=3)),
    ),
    installed(6, 1, DEFAULT, 0, ABSOLUTE, A, [(0, 16, None)], start=NOW - timedelta(days=3)),
    installed(
        7, 1, DEFAULT, 1, ABSOLUTE, A, [(0, 12, None), (1800, 14, 1)],
        start=NOW + timedelta(hours=30), duration=4 * H,
    ),
    installed(
        8, 1, TX, 0, RELATIVE, A,
        [(0, 6, None), (900, 10, None), (H, 16, None), (3 * H, 13, 1), (5 * H, 8, None)],
        duration=8 * H,
    ),
    installed(
        9, 1, TX, 1, ABSOLUTE, W, [(0, 7_000, None), (600, 9_200, None)],
        start=NOW + timedelta(hours=6), duration=2 * H,
    ),
    installed(
        10, 1, TX, 2, ABSOLUTE, A, [(0, 5, None)],
        start=NOW, valid=(NOW + timedelta(days=4), NOW + timedelta(days=4, hours=1)),
    ),
]  # fmt: skip
TX_START = NOW - timedelta(minutes=20)


def composite() -> object:
    return compose(PROFILES, 1, NOW, NOW + WEEK, A, tx_start=TX_START)


def reported() -> object:
    return to_charging_schedule(composite(), 32)  # type: ignore[arg-type]


def measure(function: object, number: int, repeat: int) -> tuple[float, float]:
    timer = timeit.Timer(function)  # type: ignore[arg-type]
    gc.collect()
    times = [t / number * 1e6 for t in timer.repeat(repeat=repeat, number=number)]
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    arguments = parser.parse_args()
    number, repeat = (20, 3) if arguments.quick else (200, 15)
    result = compose(PROFILES, 1, NOW, NOW + WEEK, A, tx_start=TX_START)
    schedule = to_charging_schedule(result, 32)
    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    print(
        f"10 profiles, connector 1, 7 days: {len(result.intervals)} intervals, "
        f"{len(schedule.charging_schedule_period)} periods reported"
    )
    print("µs per call, median (best) of the repeats")
    for name, function in (
        ("compose (intervals)", composite),
        ("compose + to_charging_schedule", reported),
    ):
        median, best = measure(function, number, repeat)
        print(f"{name:34} {median:10.1f} ({best:.1f})")


if __name__ == "__main__":
    main()
