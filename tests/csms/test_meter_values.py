"""What a MeterValues says the outlet draws (the event data site load sharing reads)."""

from typing import Any

import msgspec
import pytest

from ocppd.csms.meter_values import measured_draw
from ocppd.protocol.datatypes import MeterValue


def values(*samples: list[dict[str, Any]]) -> list[MeterValue]:
    return msgspec.convert(
        [{"timestamp": "2026-11-25T12:00:00Z", "sampledValue": s} for s in samples],
        list[MeterValue],
    )


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([[{"value": "120"}]], {}),  # only the energy register
        (
            [[{"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"}]],
            {"powerW": 7400.0},
        ),
        (
            [
                [
                    {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                    {"value": "0.0", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
                    {"value": "0.0", "measurand": "Current.Import", "unit": "A", "phase": "L3"},
                    {"value": "3680", "measurand": "Power.Active.Import", "unit": "W"},
                ]
            ],
            {"currentA": 16.0, "phases": 1, "powerW": 3680.0},
        ),
        # The latest meter value that says something wins; the EV side and junk are ignored.
        (
            [
                [{"value": "10", "measurand": "Current.Import"}],
                [
                    {"value": "9", "measurand": "Current.Import", "location": "EV"},
                    {"value": "NaN", "measurand": "Power.Active.Import"},
                    {"value": "-5", "measurand": "Power.Active.Import"},
                    {"value": "lots", "measurand": "Current.Import"},
                ],
            ],
            {"currentA": 10.0, "phases": 1},
        ),
    ],
)
def test_the_draw_of_a_meter_value(samples: list[Any], expected: dict[str, Any]) -> None:
    assert measured_draw(values(*samples)) == expected
