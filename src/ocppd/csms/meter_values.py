"""Meter values as rows: one per sampled value, with the spec's defaults filled in."""

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
