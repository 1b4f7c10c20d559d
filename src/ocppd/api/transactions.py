"""Transactions, newest first, filterable; one transaction with its meter values and energy.

Energy is meterStop - meterStart once stopped; while a transaction runs, it is the latest
Energy.Active.Import.Register reading (Wh or kWh, no phase) minus meterStart.
"""

from datetime import datetime
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from litestar import get
from litestar.params import FromQuery, PathParameter, QueryParameter

from ocppd.api.operator_input import DATE_TIMES, utc
from ocppd.api.pages import IdCursor, Limit, newest_first, next_cursor
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.system import System
from ocppd.csms.clock import as_utc
from ocppd.csms.id_tags import tag_key
from ocppd.csms.models import MAX_STORED_INTEGER, meter_values, transactions

ENERGY = "Energy.Active.Import.Register"


class Transaction(msgspec.Struct, rename="camel", kw_only=True):
    transaction_id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    start_status: str
    """The idTagInfo status StartTransaction was answered with."""
    meter_start: int | None
    started_at: datetime
    reservation_id: int | None
    active: bool
    meter_stop: int | None
    stopped_at: datetime | None
    reason: str | None
    """The charger's stop reason (Local when it gave none), or "reconciled": the charger
    forgot the transaction and ocppd closed it on `stopEvidence`, with meterStop and energy
    unknown (a late StopTransaction of the charger's replaces that close)."""
    stop_evidence: str | None
    """What showed a reconciled transaction over, and when; null for a stop the charger sent."""
    stop_id_tag: str | None
    energy_wh: int | None


class SampledValue(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    value: str
    context: str
    format: str
    measurand: str
    location: str
    unit: str
    phase: str | None = None


class MeterValue(msgspec.Struct, rename="camel", kw_only=True):
    timestamp: datetime
    sampled_value: list[SampledValue]


class TransactionDetail(Transaction, kw_only=True):
    meter_values: list[MeterValue]


class TransactionPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Transaction]
    next_cursor: str | None


@get(
    "/transactions",
    tags=["transactions"],
    opt={DATE_TIMES: ("since", "until")},
    responses=documented(),
)
async def list_transactions(
    system: System,
    limit: Limit = 100,
    cursor: IdCursor = None,
    charge_point_id: Annotated[str | None, QueryParameter(name="chargePointId")] = None,
    id_tag: Annotated[str | None, QueryParameter(name="idTag")] = None,
    active: FromQuery[bool | None] = None,
    since: Annotated[
        datetime | None, QueryParameter(description="Only transactions running at or after this.")
    ] = None,
    until: Annotated[
        datetime | None, QueryParameter(description="Only transactions started before this.")
    ] = None,
) -> TransactionPage:
    """Newest first."""
    t = transactions.c
    query = newest_first(transactions, t.id, limit, cursor)
    if charge_point_id is not None:
        query = query.where(t.charge_point_id == charge_point_id)
    if id_tag is not None:
        query = query.where(sa.func.lower(t.id_tag) == tag_key(id_tag))
    if active is not None:
        query = query.where(t.stopped_at.is_(None) if active else t.stopped_at.is_not(None))
    if since is not None:
        query = query.where(sa.or_(t.stopped_at.is_(None), t.stopped_at >= utc("since", since)))
    if until is not None:
        query = query.where(t.started_at < utc("until", until))
    async with system.engine.connect() as db:
        rows = (await db.execute(query)).all()
        energy = await _running_energy(db, [r for r in rows[:limit] if r.stopped_at is None])
    return TransactionPage(
        items=[_transaction(row, energy.get(row.id)) for row in rows[:limit]],
        next_cursor=next_cursor([str(row.id) for row in rows], limit),
    )


TransactionId = Annotated[int, PathParameter(name="transactionId", ge=1, le=MAX_STORED_INTEGER)]


Latest = Annotated[
    int | None,
    QueryParameter(
        ge=1, le=1000, description="Only the meter values of the latest N timestamps (N <= 1000)."
    ),
]


@get("/transactions/{transactionId:int}", tags=["transactions"], responses=documented(404))
async def get_transaction(
    system: System, transaction_id: TransactionId, latest: Latest = None
) -> TransactionDetail:
    """A transaction with its meter values (all, or the `latest` N timestamps), grouped by
    timestamp as a charger sends them."""
    async with system.engine.connect() as db:
        row, samples = await load(db, transaction_id, latest)
        energy = await _running_energy(db, [row] if row.stopped_at is None else [])
    grouped: dict[datetime, list[SampledValue]] = {}
    for sample in samples:
        grouped.setdefault(as_utc(sample.timestamp), []).append(
            SampledValue(
                value=sample.value,
                context=sample.context,
                format=sample.format,
                measurand=sample.measurand,
                location=sample.location,
                unit=sample.unit,
                phase=sample.phase,
            )
        )
    base = _transaction(row, energy.get(row.id))
    return TransactionDetail(
        **msgspec.structs.asdict(base),
        meter_values=[
            MeterValue(timestamp=at, sampled_value=values) for at, values in grouped.items()
        ],
    )


async def load(db: Any, transaction_id: int, latest: int | None = None) -> tuple[Any, list[Any]]:
    """A transaction's row and its meter value rows (by timestamp; only those of the `latest`
    N timestamps when given), or 404."""
    row = (
        await db.execute(sa.select(transactions).where(transactions.c.id == transaction_id))
    ).first()
    if row is None:
        raise ProblemException(Problem(status=404, error=f"unknown transaction {transaction_id}"))
    m = meter_values.c
    query = sa.select(meter_values).where(m.transaction_id == transaction_id)
    if latest is not None:
        newest = (
            sa.select(m.timestamp)
            .where(m.transaction_id == transaction_id)
            .distinct()
            .order_by(m.timestamp.desc())
            .limit(latest)
        )
        query = query.where(m.timestamp.in_(newest))
    samples = (await db.execute(query.order_by(m.timestamp, m.id))).all()
    return row, list(samples)


async def _running_energy(db: Any, rows: list[Any]) -> dict[int, int]:
    """Wh so far of running transactions: the latest register reading minus meterStart."""
    starts = {row.id: row.meter_start for row in rows if row.meter_start is not None}
    if not starts:
        return {}
    m = meter_values.c
    latest = (
        sa.select(m.transaction_id, m.value, m.unit)
        .where(m.transaction_id.in_(list(starts)), m.measurand == ENERGY, m.phase.is_(None))
        .order_by(m.transaction_id, m.timestamp.desc(), m.id.desc())
    )
    energy: dict[int, int] = {}
    for sample in await db.execute(latest):
        if sample.transaction_id in energy:
            continue
        wh = _wh(sample.value, sample.unit)
        if wh is not None:
            energy[sample.transaction_id] = max(0, wh - starts[sample.transaction_id])
    return energy


def _wh(value: str, unit: str) -> int | None:
    try:
        number = float(value)
    except ValueError:
        return None
    if unit == "kWh":
        number *= 1000
    elif unit != "Wh":
        return None
    return round(number)


def _transaction(row: Any, running_energy: int | None) -> Transaction:
    active = row.stopped_at is None
    return Transaction(
        transaction_id=row.id,
        charge_point_id=row.charge_point_id,
        connector_id=row.connector_id,
        id_tag=row.id_tag,
        start_status=row.start_status,
        meter_start=row.meter_start,
        started_at=as_utc(row.started_at),
        reservation_id=row.reservation_id,
        active=active,
        meter_stop=row.meter_stop,
        stopped_at=as_utc(row.stopped_at),
        reason=row.stop_reason,
        stop_evidence=row.stop_evidence,
        stop_id_tag=row.stop_id_tag,
        energy_wh=running_energy if active else row.energy_wh,
    )
