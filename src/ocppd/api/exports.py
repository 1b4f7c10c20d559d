"""CSV exports: a transaction's meter values, one sampled value a row, for spreadsheets.

Values come from chargers, so a cell that a spreadsheet would read as a formula (`=`, `+`,
`-`, `@`, tab, CR at the start) is prefixed with `'`, unless it is a plain number (a
negative reading stays a number).
"""

import csv
import io

from litestar import Response, get

from ocppd.api import transactions
from ocppd.api.problems import documented
from ocppd.api.system import System
from ocppd.csms.clock import as_utc

COLUMNS = (
    "transactionId",
    "chargePointId",
    "connectorId",
    "timestamp",
    "measurand",
    "phase",
    "location",
    "unit",
    "context",
    "format",
    "value",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


@get(
    "/transactions/{transactionId:int}/meter-values.csv",
    tags=["transactions"],
    responses=documented(404),
    media_type="text/csv; charset=utf-8",
)
async def meter_values_csv(
    system: System, transaction_id: transactions.TransactionId
) -> Response[str]:
    """The transaction's meter values as CSV (header row, then by timestamp)."""
    async with system.engine.connect() as db:
        row, samples = await transactions.load(db, transaction_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for s in samples:
        at = as_utc(s.timestamp)
        writer.writerow(
            cell(v)
            for v in (
                row.id,
                row.charge_point_id,
                row.connector_id,
                at.isoformat().replace("+00:00", "Z"),
                s.measurand,
                s.phase,
                s.location,
                s.unit,
                s.context,
                s.format,
                s.value,
            )
        )
    name = f"transaction-{row.id}-meter-values.csv"
    return Response(
        out.getvalue(), headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


ROUTES = [meter_values_csv]
