"""Meter values as rows: one per sampled value, with the spec's defaults filled in."""

import math
from typing import Any

import sqlalchemy as sa
from msgspec import UNSET

from ocppd.csms.clock import as_utc
from ocppd.csms.models import meter_values
from ocppd.protocol.datatypes import MeterValue

# An unqualified sampled value is Energy.Active.Import.Register in Wh, periodic, raw, outlet.
DEFAULTS = {
    "measurand": "Energy.Active.Import.Register",
    "unit": "Wh",
    "context": "Sample.Periodic",
    "format": "Raw",
    "location": "Outlet",
}


def meter_value_rows(
    charge_point_id: str,
    connector_id: int,
    transaction_id: int | None,
    values: list[MeterValue],
) -> list[tuple[sa.Table, dict[str, Any]]]:
    rows = []
    for meter_value in values:
        timestamp = as_utc(meter_value.timestamp)
        for sampled in meter_value.sampled_value:
            row: dict[str, Any] = {
                "charge_point_id": charge_point_id,
                "connector_id": connector_id,
                "transaction_id": transaction_id,
                "timestamp": timestamp,
                "value": sampled.value,
                "phase": None if sampled.phase is UNSET else str(sampled.phase),
            }
            for name, default in DEFAULTS.items():
                given = getattr(sampled, name)
                row[name] = default if given is UNSET else str(given)
            rows.append((meter_values, row))
    return rows


def measured_draw(values: list[MeterValue]) -> dict[str, Any]:
    """What the outlet draws per the latest meter value that says so, for event subscribers
    (site load sharing): `currentA` (the highest phase's Current.Import), `powerW`
    (Power.Active.Import) and `phases` (how many phases report a current); only what was sent."""
    for meter_value in reversed(values):
        currents: list[float] = []
        draw: dict[str, Any] = {}
        for sampled in meter_value.sampled_value:
            if sampled.location not in (UNSET, "Outlet") or sampled.measurand is UNSET:
                continue
            number = _number(sampled.value)
            if number is None:
                continue
            if sampled.measurand == "Current.Import" and sampled.unit in (UNSET, "A"):
                currents.append(number)
            elif sampled.measurand == "Power.Active.Import":
                draw["powerW"] = number * 1000 if sampled.unit == "kW" else number
        if currents:
            draw["currentA"] = max(currents)
            draw["phases"] = sum(1 for current in currents if current > 0) or len(currents)
        if draw:
            return draw
    return {}


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
