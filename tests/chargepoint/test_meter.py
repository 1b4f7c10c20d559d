"""The meter books energy at the power drawn, never past a cut-off."""

from datetime import UTC, datetime, timedelta

import pytest

from ocppd.chargepoint.meter import Meter

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_energy_rises_at_the_power_drawn() -> None:
    meter = Meter()
    meter.set_power(T0, 11_000, 11_000)
    meter.advance(T0 + timedelta(minutes=30))
    assert meter.register_wh == pytest.approx(5_500)


def test_nothing_is_booked_past_the_cut_off_however_late_it_is_read() -> None:
    meter = Meter(register_wh=1_000)
    meter.set_power(T0, 22_000, 22_000)
    meter.cut_off_wh = 1_500
    meter.advance(T0 + timedelta(seconds=60))  # 366.7 Wh: below the cut-off
    assert meter.register_wh == pytest.approx(1_000 + 22_000 / 60)
    meter.advance(T0 + timedelta(hours=2))  # a timer that woke far too late
    assert meter.register_wh == 1_500
    assert meter.energy_wh == 1_500


def test_without_a_cut_off_energy_is_not_bounded() -> None:
    meter = Meter()
    meter.set_power(T0, 22_000, 22_000)
    meter.advance(T0 + timedelta(hours=2))
    assert meter.register_wh == pytest.approx(44_000)
