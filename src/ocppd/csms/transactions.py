"""Transactions: starts (with duplicate detection), stops (never refused), energy, and the
closing of transactions a charger forgot (`reconciliation`).

Starts and stops are one `Merged` kind of the group commit (`Transactions`): a batch's starts
and stops cost a fixed number of round trips whatever the number of messages: one read of
everything they need (the transactions the stops close, every tag, the stored starts with the
same identity, the running transactions of the starts' tags, the open transactions of the
starts' connectors, new ids where the database has a sequence), and their writes, which go
with the batch's rows (one statement on PostgreSQL's driver, with no transaction:
`batch_database.DriverDatabase`). In group scope the tags sharing a parent, and their running
transactions, are two reads more. Within a batch the stops are applied first, then the starts
in arrival order, each seeing the stops and the starts before it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from msgspec import UNSET

from ocppd.csms import bulk_writes, reconciliation, reservations
from ocppd.csms.batch_database import Database, Query, Read, RowsQuery
from ocppd.csms.clock import as_utc
from ocppd.csms.group_commit import Rows
from ocppd.csms.id_tags import (
    StoredTag,
    info_of,
    storable_keys,
    stored_tags,
    tag_key,
    tags_read,
)
from ocppd.csms.meter_values import meter_value_rows
from ocppd.csms.models import MAX_STORED_INTEGER, id_tags, transactions, unmatched_stops
from ocppd.csms.settings import ConcurrencyScope, Settings
from ocppd.csms.stored_text import column_lengths, fitted, without_nul
from ocppd.protocol.datatypes import IdTagInfo
from ocppd.protocol.enums import AuthorizationStatus
from ocppd.protocol.messages import StartTransactionRequest, StopTransactionRequest


def storable(number: int) -> int | None:
    """`number` if a BIGINT column holds it, else None (stored as unknown, never refused)."""
    return number if -MAX_STORED_INTEGER <= number <= MAX_STORED_INTEGER else None


Identity = tuple[str, int, int, datetime, str]


@dataclass(frozen=True)
class Start:
    charge_point_id: str
    request: StartTransactionRequest
    received_at: datetime
    reconciled: list[reconciliation.Reconciled] = field(default_factory=list, compare=False)
    """Out: the forgotten transactions of its connector that it closed (filled by the batch
    that stores it, anew at each try)."""

    def place(self) -> tuple[str, int] | None:
        """Its charge point and connector, where an older open transaction was forgotten
        (`reconciliation`); None on connector 0, which holds no transaction."""
        connector_id = self.request.connector_id
        return (self.charge_point_id, connector_id) if connector_id > 0 else None

    def identity(self) -> Identity | None:
        """What a retransmission has in common with the start it repeats; None (never a
        duplicate) when the meter reading cannot be stored."""
        request = self.request
        if storable(request.meter_start) is None:
            return None
        return (
            self.charge_point_id,
            request.connector_id,
            request.meter_start,
            as_utc(request.timestamp),
            _stored_tag(request.id_tag),
        )


@dataclass(frozen=True)
class Stop:
    charge_point_id: str
    request: StopTransactionRequest
    received_at: datetime


def _stored_tag(id_tag: str) -> str:
    """An idTag as stored, to compare a request's with a stored row's: PostgreSQL keeps a NUL
    as U+FFFD (`stored_text`), so both sides are compared that way, on every database; a tag
    longer than its column (tolerated over-long) is stored cut to it (`fitted`)."""
    return without_nul(tag_key(id_tag[:_TAG_LENGTH]))


_TAG_LENGTH = column_lengths(transactions)["id_tag"]


Started = tuple[int, IdTagInfo]


class Transactions:
    """StartTransactions and StopTransactions of a batch, in a fixed number of round trips
    whatever their number: every read at once (the stops' transactions, every tag, the starts'
    stored twins, running tags and new ids), then the writes with the batch's.

    Stops are applied first, then starts in arrival order, each start seeing the stops of the
    batch and the starts before it: a tag stopped and started in one batch is not running, a
    tag started twice is. The running transactions are read before the stops' closes are
    written and those are left out here, so no read comes after a write of the batch (on
    PostgreSQL's driver that would cost a transaction, `DriverDatabase`).

    A stop is never refused: it closes its charge point's transaction (energy from the two
    readings); an unknown id is recorded as an unmatched stop; transactionData becomes meter
    values of the transaction (or of connector 0 and no transaction when unmatched); it is
    answered with its tag's idTagInfo when it has one. A retransmitted start returns the id it
    got and creates nothing (MicroOcpp#237); an Accepted tag already in a running transaction
    (or, in group scope, any tag of its group) is answered ConcurrentTx; a reservation it
    carries is Used. A new start closes the transactions its connector still had open, as
    `reconciliation` says (they do not make its tag ConcurrentTx)."""

    order = 1
    on_driver = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def apply(self, db: Database, items: list[Start | Stop]) -> tuple[list[Any], Rows]:
        stops = [item for item in items if isinstance(item, Stop)]
        starts = [item for item in items if isinstance(item, Start)]
        for start in starts:
            start.reconciled.clear()  # of an earlier try of this batch, rolled back
        group_scope = self.settings.concurrent_tx is ConcurrencyScope.GROUP
        requested = [item.request.id_tag for item in starts]
        stop_tags = [i.request.id_tag for i in stops if i.request.id_tag is not UNSET]
        named = _named(stops)
        identities = {identity for item in starts if (identity := item.identity()) is not None}
        places = {place for item in starts if (place := item.place()) is not None}
        # Outside group scope the running tags of every start's tag are read with the rest,
        # though only an Accepted one's count; ids for every start, though a retransmitted
        # one uses none (a gap in the sequence).
        ids_read = db.ids_read(transactions, len(starts)) if starts else None
        running_read = _running_read(storable_keys(requested), named, places)
        open_rows, tag_rows, stored_rows, running_rows, placed_rows, id_rows = await db.fetch_each(
            [
                _open_read(named),
                tags_read(requested + stop_tags),
                _stored_read(identities),
                None if group_scope else running_read,
                _placed_read(places),
                ids_read,
            ]
        )
        found = _Found(
            stored_tags(tag_rows),
            stored_rows,
            running_rows,
            placed_rows,
            None if ids_read is None else [int(transaction_id) for (transaction_id,) in id_rows],
        )
        stopped = _Stopped(stops, open_rows, found.tags)
        started, reconciled = await self._starts(db, starts, found, stopped.closing)
        await db.write_rows(_CLOSE, [*stopped.closes.values(), *reconciled])
        stop_answers, start_answers = iter(stopped.answers), iter(started)
        answers: list[IdTagInfo | Started | None] = [
            next(stop_answers) if isinstance(item, Stop) else next(start_answers) for item in items
        ]
        return answers, stopped.rows

    async def _starts(
        self, db: Database, items: list[Start], found: "_Found", closing: set[int]
    ) -> tuple[list[Started], list[dict[str, Any]]]:
        """Each start's answer, and the closes of the transactions the new ones reconcile."""
        if not items:
            return [], []
        identities = {identity for item in items if (identity := item.identity()) is not None}
        tags = found.tags
        infos = [info_of(tags.get(tag_key(i.request.id_tag)), i.received_at) for i in items]
        stored = _stored_from(found.stored_rows, identities)
        forgotten = _forgotten(found.placed_rows, closing)
        ending = _ending(items, stored, forgotten)
        groups = await self._groups(db, items, infos, tags)
        if self.settings.concurrent_tx is ConcurrencyScope.GROUP:
            places = {place for item in items if (place := item.place()) is not None}
            running = await _running(db, set().union(*groups), closing | ending, places)
        else:
            running = _running_from(found.running_rows, closing | ending)
        answers: dict[int, Started] = {}
        inserting: dict[Identity, int] = {}
        repeats: dict[int, int] = {}
        new: list[int] = []
        for index, item in enumerate(items):
            identity = item.identity()
            info = infos[index]
            if identity is not None and identity in stored:
                transaction_id, answered = stored[identity]
                info.status = AuthorizationStatus(answered)
                answers[index] = (transaction_id, info)
            elif identity is not None and identity in inserting:
                repeats[index] = inserting[identity]
            else:
                if info.status is AuthorizationStatus.ACCEPTED and groups[index] & running:
                    info.status = AuthorizationStatus.CONCURRENT_TX
                running.add(tag_key(item.request.id_tag))
                if identity is not None:
                    inserting[identity] = index
                new.append(index)
        ids = await _insert(db, [_start_row(items[i], infos[i].status) for i in new], found.ids)
        for index, transaction_id in zip(new, ids, strict=True):
            answers[index] = (transaction_id, infos[index])
        for index, first in repeats.items():
            infos[index].status = answers[first][1].status
            answers[index] = (answers[first][0], infos[index])
        await reservations.mark_used_by(db, [_use(items[i], answers[i][0]) for i in new])
        closes = _reconcile([(items[i], answers[i][0]) for i in new], forgotten)
        return [answers[index] for index in range(len(items))], closes

    async def _groups(
        self,
        db: Database,
        items: list[Start],
        infos: list[IdTagInfo],
        tags: dict[str, StoredTag],
    ) -> list[set[str]]:
        """Per start, the tag keys whose running transactions make it ConcurrentTx (none
        unless Accepted): the tag, and in group scope every tag with the same parentIdTag."""
        keys = [tag_key(item.request.id_tag) for item in items]
        accepted = [info.status is AuthorizationStatus.ACCEPTED for info in infos]
        parents = [tags[key].parent_id_tag if key in tags else None for key in keys]
        members: dict[str, set[str]] = {}
        group_scope = self.settings.concurrent_tx is ConcurrencyScope.GROUP
        wanted = {tag_key(p) for p, ok in zip(parents, accepted, strict=True) if p and ok}
        if group_scope and wanted:
            for member, parent in await db.fetch(_GROUP_MEMBERS, list(wanted)):
                members.setdefault(parent, set()).add(member)
        return [
            (
                set()
                if not ok
                else {key, *members.get(tag_key(parent), ())}
                if group_scope and parent
                else {key}
            )
            for key, ok, parent in zip(keys, accepted, parents, strict=True)
        ]


def _stored_read(wanted: set[Identity]) -> Read | None:
    """The read of stored starts that may have one of the `wanted` identities."""
    if not wanted:
        return None
    return Read(_STORED_STARTS, (list({w[: len(_IDENTITY_COLUMNS)] for w in wanted}),))


def _stored_from(
    rows: Sequence[Sequence[Any]], wanted: set[Identity]
) -> dict[Identity, tuple[int, str]]:
    """(id, answered status) of the stored starts (`_stored_read`'s rows) with a `wanted`
    identity."""
    found: dict[Identity, tuple[int, str]] = {}
    for row in rows:
        transaction_id, status, charge_point_id, connector_id, meter_start, started_at, tag = row
        identity = (
            charge_point_id,
            connector_id,
            meter_start,
            as_utc(started_at),
            _stored_tag(tag),
        )
        if identity in wanted:
            found.setdefault(identity, (int(transaction_id), str(status)))
    return found


# The queries of a batch are built once, with expanding IN parameters: building them per
# batch cost more than running them (bench/group_commit.py).
_IDENTITY_COLUMNS = ("charge_point_id", "connector_id", "meter_start", "started_at")
_STORED_STARTS = Query(
    alchemy=sa.select(
        *(transactions.c[name] for name in ("id", "start_status", *_IDENTITY_COLUMNS, "id_tag"))
    ).where(*(transactions.c[name] == sa.bindparam(f"b_{name}") for name in _IDENTITY_COLUMNS)),
    names=tuple(f"b_{name}" for name in _IDENTITY_COLUMNS),
    postgresql="SELECT t.id, t.start_status, t.charge_point_id, t.connector_id, t.meter_start, "
    "t.started_at, t.id_tag FROM unnest($1::varchar[], $2::integer[], $3::bigint[], "
    "$4::timestamptz[]) AS wanted(charge_point_id, connector_id, meter_start, started_at) "
    "JOIN transactions AS t USING (charge_point_id, connector_id, meter_start, started_at)",
    per_row=True,
)
_RUNNING_TAG = sa.func.lower(transactions.c.id_tag)
# A row per tag with a running transaction that the batch's stops do not name (id NULL), and
# one per running transaction they name (which they may close) or that is open on the
# charge point of a start (which it may reconcile: a charger and a connector of the starts',
# each matched alone, so a few more come back on their own): a tag's transactions never
# stopped do not each come back.
_NAMED = sa.case(
    (
        sa.or_(
            transactions.c.id.in_(sa.bindparam("named", expanding=True)),
            sa.and_(
                transactions.c.charge_point_id.in_(sa.bindparam("chargers", expanding=True)),
                transactions.c.connector_id.in_(sa.bindparam("connectors", expanding=True)),
            ),
        ),
        transactions.c.id,
    )
)
_RUNNING = Query(
    alchemy=sa.select(_RUNNING_TAG, _NAMED)
    .where(
        _RUNNING_TAG.in_(sa.bindparam("keys", expanding=True)),
        transactions.c.stopped_at.is_(None),
    )
    .distinct(),
    names=("keys", "named", "chargers", "connectors"),
    postgresql="SELECT DISTINCT lower(id_tag), CASE WHEN id = ANY($2::bigint[]) "
    "OR (charge_point_id = ANY($3::varchar[]) AND connector_id = ANY($4::integer[])) THEN id "
    "END FROM transactions WHERE lower(id_tag) = ANY($1::text[]) AND stopped_at IS NULL",
)
_PARENT = sa.func.lower(id_tags.c.parent_id_tag)
_GROUP_MEMBERS = Query(
    alchemy=sa.select(id_tags.c.id_tag_key, _PARENT).where(
        _PARENT.in_(sa.bindparam("parents", expanding=True))
    ),
    names=("parents",),
    postgresql="SELECT id_tag_key, lower(parent_id_tag) FROM id_tags "
    "WHERE lower(parent_id_tag) = ANY($1::text[])",
)


async def _running(
    db: Database, keys: set[str], closing: set[int], places: set[tuple[str, int]]
) -> set[str]:
    """Which of the tag keys are in a transaction not stopped yet, nor `closing`."""
    read = _running_read(keys, closing, places)
    if read is None:
        return set()
    return _running_from(await db.fetch(read.query, *read.arguments), closing)


def _running_from(rows: Sequence[Sequence[Any]], closing: set[int]) -> set[str]:
    """The tag keys of `_running_read`'s rows, but for the transactions `closing`."""
    return {key for key, named in rows if named is None or named not in closing}


def _running_read(keys: set[str], named: set[int], places: set[tuple[str, int]]) -> Read | None:
    """The read of the running transactions of the tag `keys`, telling apart those whose ids
    are `named` (by the batch's stops) and those on the starts' `places` (which they may
    reconcile)."""
    if not keys:
        return None
    chargers = list({charger for charger, _ in places})
    connectors = list({connector for _, connector in places})
    return Read(_RUNNING, (list(keys), list(named), chargers, connectors))


def _placed_read(places: set[tuple[str, int]]) -> Read | None:
    """The read of the open transactions on the starts' connectors (`Start.place`)."""
    return Read(_OPEN_ON_CONNECTORS, (list(places),)) if places else None


_PLACE_COLUMNS = ("charge_point_id", "connector_id")
_OPEN_ON_CONNECTORS = Query(
    alchemy=sa.select(
        *(transactions.c[name] for name in ("id", *_PLACE_COLUMNS, "started_at"))
    ).where(
        *(transactions.c[name] == sa.bindparam(f"b_{name}") for name in _PLACE_COLUMNS),
        transactions.c.stopped_at.is_(None),
    ),
    names=tuple(f"b_{name}" for name in _PLACE_COLUMNS),
    postgresql="SELECT t.id, t.charge_point_id, t.connector_id, t.started_at "
    "FROM unnest($1::varchar[], $2::integer[]) AS wanted(charge_point_id, connector_id) "
    "JOIN transactions AS t USING (charge_point_id, connector_id) WHERE t.stopped_at IS NULL",
    per_row=True,
)

Forgotten = dict[tuple[str, int], list[tuple[int, datetime]]]
"""Open transactions (id, started at) by charge point and connector."""


def _forgotten(rows: Sequence[Sequence[Any]], closing: set[int]) -> Forgotten:
    """`_placed_read`'s rows by place, but for the transactions the batch's stops close."""
    found: Forgotten = {}
    for transaction_id, charge_point_id, connector_id, started_at in rows:
        if transaction_id not in closing:
            found.setdefault((charge_point_id, connector_id), []).append(
                (int(transaction_id), as_utc(started_at))
            )
    return found


def _ending(
    items: list[Start], stored: dict[Identity, tuple[int, str]], forgotten: Forgotten
) -> set[int]:
    """The ids of the transactions that the batch's new starts (no stored twin) reconcile."""
    return {
        transaction_id
        for item in items
        if (identity := item.identity()) is None or identity not in stored
        if (place := item.place()) is not None
        for transaction_id, _ in forgotten.get(place, ())
    }


def _reconcile(new: list[tuple[Start, int]], forgotten: Forgotten) -> list[dict[str, Any]]:
    """The closes of the transactions forgotten where the `new` starts (with their ids) are,
    each by the first start on its connector; each start keeps what it closed."""
    closes = []
    for item, transaction_id in new:
        place = item.place()
        request = item.request
        for old, started_at in forgotten.pop(place, ()) if place is not None else ():
            evidence = reconciliation.by_start(
                transaction_id, request.connector_id, request.timestamp, item.received_at
            )
            reconciled, values = reconciliation.closed(
                old, request.connector_id, started_at, request.timestamp, evidence
            )
            item.reconciled.append(reconciled)
            closes.append(values)
    return closes


def _start_row(item: Start, status: AuthorizationStatus) -> dict[str, Any]:
    request = item.request
    reservation = None if request.reservation_id is UNSET else storable(request.reservation_id)
    return fitted(
        transactions,
        {
            "charge_point_id": item.charge_point_id,
            "connector_id": request.connector_id,
            "id_tag": request.id_tag,
            "start_status": status.value,
            "meter_start": storable(request.meter_start),
            "started_at": as_utc(request.timestamp),
            "reservation_id": reservation,
            "received_at": item.received_at,
        },
    )


_ROW_KEY = ("charge_point_id", "connector_id", "id_tag", "meter_start", "started_at")


async def _insert(db: Database, rows: list[dict[str, Any]], drawn: list[int] | None) -> list[int]:
    """The ids of the new rows, in the order of `rows`: the first of those `drawn` from the
    sequence where the database has one (PostgreSQL: the INSERT then waits for the batch's
    one statement), else from one INSERT ... RETURNING.

    Rows are matched to returned ids by their values, not by the order RETURNING gives
    (SQLite does not promise one, and SQLAlchemy's `sort_by_parameter_order` runs one INSERT
    per row there); two new rows alike in every matched value are alike, either id fits
    either."""
    if not rows:
        return []
    if drawn is not None:
        used = drawn[: len(rows)]
        await db.write_rows(
            _INSERT_DRAWN, [{**r, "id": i} for r, i in zip(rows, used, strict=True)]
        )
        return used
    ids: dict[tuple[Any, ...], list[int]] = {}
    for transaction_id, *key, started_at in await db.write_rows(_INSERT_RETURNING, rows):
        ids.setdefault(_row_key([*key, as_utc(started_at)]), []).append(int(transaction_id))
    return [ids[_row_key([row[name] for name in _ROW_KEY])].pop() for row in rows]


_TAG = _ROW_KEY.index("id_tag")


def _row_key(values: list[Any]) -> tuple[Any, ...]:
    """The values of `_ROW_KEY`, the idTag as stored: RETURNING gives PostgreSQL's U+FFFD for
    a NUL the row was sent with."""
    values[_TAG] = without_nul(values[_TAG])
    return tuple(values)


_INSERT_RETURNING = RowsQuery(
    alchemy=transactions.insert().returning(
        transactions.c.id, *(transactions.c[name] for name in _ROW_KEY)
    ),
    postgresql=bulk_writes.json_insert(transactions) + f" RETURNING id, {', '.join(_ROW_KEY)}",
    returning=True,
)


_INSERT_DRAWN = RowsQuery(
    alchemy=transactions.insert(),
    postgresql=bulk_writes.json_insert(transactions, keyed=True),
)


def _use(item: Start, transaction_id: int) -> reservations.Use | None:
    reservation = item.request.reservation_id
    if reservation is UNSET:
        return None
    return reservations.Use(item.charge_point_id, reservation, transaction_id, item.received_at)


class OpenTransaction(NamedTuple):
    id: int
    charge_point_id: str
    connector_id: int
    meter_start: int | None


def _named(stops: list[Stop]) -> set[int]:
    """The transaction ids the stops name that a stored transaction can have (> 0, BIGINT)."""
    ids = {stop.request.transaction_id for stop in stops}
    return {i for i in ids if 0 < i <= MAX_STORED_INTEGER}


def _open_read(named: set[int]) -> Read | None:
    """The read of the transactions `named` by the stops."""
    return Read(_OPEN_TRANSACTIONS, (list(named),)) if named else None


@dataclass(frozen=True)
class _Found:
    """What the one read of a batch's starts and stops found for the starts."""

    tags: dict[str, StoredTag]
    stored_rows: Sequence[Sequence[Any]]
    running_rows: Sequence[Sequence[Any]]
    placed_rows: Sequence[Sequence[Any]]
    ids: list[int] | None
    """Drawn for the starts; None where their INSERT returns them."""


class _Stopped:
    """What a batch's stops do, from the transactions they name (`_open_read`'s rows) and
    their tags: the closes by transaction id (of two stops of one, the last counts), the rows
    of the unmatched stops and of transactionData, and each stop's answer."""

    def __init__(
        self, items: list[Stop], open_rows: Sequence[Sequence[Any]], tags: dict[str, StoredTag]
    ) -> None:
        found = {row[0]: OpenTransaction(*row) for row in open_rows}
        self.closes: dict[int, dict[str, Any]] = {}
        self.rows: Rows = []
        for item in items:
            request = item.request
            match = found.get(request.transaction_id)
            if match is not None and match.charge_point_id != item.charge_point_id:
                match = None
            if match is None:
                self.rows.append((unmatched_stops, _unmatched_row(item)))
            else:
                self.closes[match.id] = _close_values(item, match.meter_start)
            if request.transaction_data is not UNSET and request.transaction_data:
                self.rows += meter_value_rows(
                    item.charge_point_id,
                    0 if match is None else match.connector_id,
                    None if match is None else request.transaction_id,
                    request.transaction_data,
                )
        self.answers = [
            None
            if item.request.id_tag is UNSET
            else info_of(tags.get(tag_key(item.request.id_tag)), item.received_at)
            for item in items
        ]

    @property
    def closing(self) -> set[int]:
        return set(self.closes)


_OPEN_TRANSACTIONS = Query(
    alchemy=sa.select(
        transactions.c.id,
        transactions.c.charge_point_id,
        transactions.c.connector_id,
        transactions.c.meter_start,
    ).where(transactions.c.id.in_(sa.bindparam("ids", expanding=True))),
    names=("ids",),
    postgresql="SELECT id, charge_point_id, connector_id, meter_start FROM transactions "
    "WHERE id = ANY($1::bigint[])",
)

_CLOSED = ("meter_stop", "stopped_at", "stop_reason", "stop_id_tag", "energy_wh", "stop_evidence")
_CLOSE = RowsQuery(
    alchemy=transactions.update()
    .where(transactions.c.id == sa.bindparam("b_id"))
    .values({name: sa.bindparam(f"b_{name}") for name in _CLOSED}),
    prefix="b_",
    postgresql="UPDATE transactions AS t SET "
    + ", ".join(f"{name} = c.{name}" for name in _CLOSED)
    + " FROM json_populate_recordset(NULL::transactions, ${0}::json) AS c WHERE t.id = c.id",
)


def _close_values(item: Stop, meter_start: int | None) -> dict[str, Any]:
    request = item.request
    meter_stop = storable(request.meter_stop)
    return fitted(
        transactions,
        {
            "id": request.transaction_id,
            "meter_stop": meter_stop,
            "stopped_at": as_utc(request.timestamp),
            "stop_reason": _reason(request),
            "stop_id_tag": None if request.id_tag is UNSET else request.id_tag,
            "energy_wh": energy(meter_start, meter_stop),
            "stop_evidence": None,  # a stop of a reconciled transaction replaces its close
        },
    )


def _unmatched_row(item: Stop) -> dict[str, Any]:
    request = item.request
    return fitted(
        unmatched_stops,
        {
            "charge_point_id": item.charge_point_id,
            "transaction_id": max(
                -MAX_STORED_INTEGER, min(request.transaction_id, MAX_STORED_INTEGER)
            ),
            "id_tag": None if request.id_tag is UNSET else request.id_tag,
            "meter_stop": storable(request.meter_stop),
            "stopped_at": as_utc(request.timestamp),
            "stop_reason": _reason(request),
            "received_at": item.received_at,
        },
    )


def _reason(request: StopTransactionRequest) -> str:
    return "Local" if request.reason is UNSET else str(request.reason)


# Energy only for readings within +-2**61 Wh (a real meter is below 2**40): anything beyond
# is a broken meter, and the difference stays within a BIGINT.
_ENERGY_BOUND = 2**61


def energy(meter_start: int | None, meter_stop: int | None) -> int | None:
    """max(0, meter_stop - meter_start) in Wh; None when either reading is unknown or absurd."""
    if meter_start is None or meter_stop is None:
        return None
    if abs(meter_start) > _ENERGY_BOUND or abs(meter_stop) > _ENERGY_BOUND:
        return None
    return max(0, meter_stop - meter_start)
