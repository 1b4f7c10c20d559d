"""A site's limit in force: the daily schedule in the site's time zone, and when it changes."""

from datetime import UTC, datetime

import pytest

from ocppd.csms.sites import Period, SiteConfig, Unit, check, floor_tenth, limit_at, next_change

EVENING = SiteConfig(
    limit=100,
    timezone="Europe/Paris",
    schedule=[Period("07:00", 60), Period("18:00", 40), Period("22:30", 80)],
)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2026-11-25T05:59:00", 100),  # 06:59 in Paris: before the first period
        ("2026-11-25T06:00:00", 60),
        ("2026-11-25T16:59:59", 60),
        ("2026-11-25T17:00:00", 40),
        ("2026-11-25T21:30:00", 80),
        ("2026-11-25T22:59:00", 80),  # 23:59 local
        ("2026-11-25T23:00:00", 100),  # local midnight: the day starts again
    ],
)
def test_the_period_in_force_in_local_time(utc: str, expected: float) -> None:
    assert limit_at(EVENING, datetime.fromisoformat(utc).replace(tzinfo=UTC)) == expected


def test_the_next_change_is_the_next_period_or_midnight() -> None:
    at = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)  # 18:30 local
    assert next_change(EVENING, at) == datetime(2026, 11, 25, 21, 30, tzinfo=UTC)
    late = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 23:00 local
    assert next_change(EVENING, late) == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
    assert next_change(SiteConfig(limit=10), at) is None


def test_defaults_per_unit_and_checks() -> None:
    amps = SiteConfig(limit=100)
    assert (amps.minimum(), amps.maximum()) == (6, 32)
    watts = SiteConfig(limit=50_000, unit=Unit.W)
    assert (watts.minimum(), watts.maximum()) == (6 * 690, 32 * 690)
    assert check(EVENING) is None
    assert check(SiteConfig(limit=1, timezone="Nowhere/Else")) == "unknown time zone 'Nowhere/Else'"
    twice = SiteConfig(limit=1, schedule=[Period("07:00", 1), Period("07:00", 2)])
    assert check(twice) == "the schedule's periods must start at increasing times"


def test_limits_are_sent_rounded_down() -> None:
    assert [floor_tenth(x) for x in (6.66, 6.6, 0.05, 31.99)] == [6.6, 6.6, 0.0, 31.9]
