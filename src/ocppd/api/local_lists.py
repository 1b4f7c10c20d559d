"""Local authorization lists: per charge point, the version sent and the version acknowledged,
and the list it holds as of that version.

- Every SendLocalList answer is kept (through the command route or `POST .../local-list`):
  Accepted makes its version the acknowledged one and applies it to the kept list (Full
  replaces, Differential upserts entries with an idTagInfo and removes those without);
  Failed and VersionMismatch make the next list Full.
- A GetLocalListVersion answer is kept; a version other than the acknowledged one makes the
  next list Full.
- `POST /charge-points/{id}/local-list` builds SendLocalList from the id-tag store: Full (every
  tag), or Differential against the acknowledged list (changed and new tags, removals); by
  default Differential when an acknowledged list allows it. Its version is one more than any
  version sent, acknowledged or reported. Such POSTs for one charge point run one at a time,
  through every node of a cluster (a lock per charge point in this process, and on PostgreSQL
  an advisory lock per charge point held for the round trip), so two never send the same
  version or send them out of order; one that waited for the lock longer than a round trip
  can take is answered 409. A raw SendLocalList command carries the operator's own version.
- A list beyond the charger's SendLocalListMaxLength or LocalAuthListMaxLength is refused
  with 400 before sending (`ocppd.csms.local_list_limits`).
"""

import asyncio
import weakref
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import get, post
from litestar.params import JSONBody
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.api.auth import needs
from ocppd.api.charge_points import ChargePointId
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.sending import FollowUp, Force, send
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.csms import registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.clock import as_utc
from ocppd.csms.database import LockBusy, advisory_lock
from ocppd.csms.id_tags import tag_key
from ocppd.csms.models import id_tags, local_list_entries, local_lists
from ocppd.csms.stored_text import fitted
from ocppd.csms.transactions import storable
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import AuthorizationData, IdTagInfo
from ocppd.protocol.enums import AuthorizationStatus, UpdateStatus, UpdateType

Entry = tuple[str, datetime | None, str | None]
"""An idTagInfo as kept: status, expiry, parent."""


class LocalList(msgspec.Struct, rename="camel", kw_only=True):
    charge_point_id: str
    sent_version: int | None
    sent_update_type: str | None
    sent_at: datetime | None
    status: str | None
    """The answer to the last SendLocalList."""
    acknowledged_version: int | None
    reported_version: int | None
    """The last GetLocalListVersion answer (0: empty, -1: not supported)."""
    reported_at: datetime | None
    next_update_type: UpdateType
    local_authorization_list: list[AuthorizationData]
    """The list as of the acknowledged version."""


class LocalListRequest(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    update_type: UpdateType | None = None
    """Full or Differential; absent: Differential when an acknowledged list allows it."""


class LocalListSent(msgspec.Struct, rename="camel", kw_only=True):
    status: UpdateStatus
    list_version: int
    update_type: UpdateType
    local_authorization_list: list[AuthorizationData]


# Keeping the state


async def _state(db: AsyncConnection, charge_point_id: str) -> Any:
    return (
        await db.execute(
            sa.select(local_lists).where(local_lists.c.charge_point_id == charge_point_id)
        )
    ).first()


async def _set(db: AsyncConnection, charge_point_id: str, **values: Any) -> None:
    updated = await db.execute(
        local_lists.update()
        .where(local_lists.c.charge_point_id == charge_point_id)
        .values(**values)
    )
    if updated.rowcount == 0:
        await db.execute(
            local_lists.insert().values(
                charge_point_id=charge_point_id, **{"needs_full": False, **values}
            )
        )


async def _held(db: AsyncConnection, charge_point_id: str) -> dict[str, tuple[str, Entry]]:
    """The kept list: folded idTag -> (idTag, entry)."""
    e = local_list_entries.c
    rows = await db.execute(
        sa.select(local_list_entries).where(e.charge_point_id == charge_point_id)
    )
    return {
        tag_key(row.id_tag): (row.id_tag, (row.status, as_utc(row.expiry_date), row.parent_id_tag))
        for row in rows
    }


def _entry(info: IdTagInfo) -> Entry:
    expiry = None if info.expiry_date is UNSET else as_utc(info.expiry_date)
    parent = None if info.parent_id_tag is UNSET else info.parent_id_tag
    return str(info.status), expiry, parent


def _info(entry: Entry) -> IdTagInfo:
    status, expiry, parent = entry
    info = IdTagInfo(status=AuthorizationStatus(status))
    if expiry is not None:
        info.expiry_date = expiry
    if parent:
        info.parent_id_tag = parent
    return info


# Follow-ups of the commands


async def sent(
    system: CentralSystem,
    charge_point_id: str,
    request: m.SendLocalListRequest,
    response: m.SendLocalListResponse,
) -> None:
    now = system.clock()
    status = response.status
    version = storable(request.list_version)
    entries = [] if request.local_authorization_list is UNSET else request.local_authorization_list

    async def store(db: AsyncConnection) -> None:
        values: dict[str, Any] = {
            "sent_version": version,
            "sent_update_type": str(request.update_type),
            "sent_at": now,
            "status": str(status),
        }
        if status == UpdateStatus.ACCEPTED:
            values.update(acknowledged_version=version, needs_full=False)
            await _apply(db, charge_point_id, request.update_type, entries)
        elif status in (UpdateStatus.FAILED, UpdateStatus.VERSION_MISMATCH):
            values["needs_full"] = True
        await _set(db, charge_point_id, **fitted(local_lists, values))

    await system.writer.commit([], store)


async def _apply(
    db: AsyncConnection, charge_point_id: str, kind: str, entries: list[AuthorizationData]
) -> None:
    e = local_list_entries.c
    mine = local_list_entries.delete().where(e.charge_point_id == charge_point_id)
    if kind == UpdateType.FULL:
        await db.execute(mine)
    else:
        keys = [tag_key(entry.id_tag) for entry in entries]
        if keys:
            # Typed as the column, so the keys bind as it does (a charger's idTag may hold a
            # NUL: on PostgreSQL it is stored, and so looked up, as U+FFFD; `stored_text`).
            folded = sa.func.lower(e.id_tag, type_=e.id_tag.type)
            await db.execute(mine.where(folded.in_(keys)))
    rows: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.id_tag_info is UNSET:
            rows.pop(tag_key(entry.id_tag), None)
            continue
        status, expiry, parent = _entry(entry.id_tag_info)
        rows[tag_key(entry.id_tag)] = {
            "charge_point_id": charge_point_id,
            "id_tag": entry.id_tag,
            "status": status,
            "expiry_date": expiry,
            "parent_id_tag": parent,
        }
    if rows:
        await db.execute(local_list_entries.insert(), list(rows.values()))


async def version_got(
    system: CentralSystem,
    charge_point_id: str,
    _: m.GetLocalListVersionRequest,
    response: m.GetLocalListVersionResponse,
) -> None:
    now = system.clock()
    reported = storable(response.list_version)

    async def store(db: AsyncConnection) -> None:
        state = await _state(db, charge_point_id)
        acknowledged = None if state is None else state.acknowledged_version
        values: dict[str, Any] = {"reported_version": reported, "reported_at": now}
        if reported != acknowledged and not (acknowledged is None and reported in (0, -1)):
            values["needs_full"] = True
        await _set(db, charge_point_id, **values)

    await system.writer.commit([], store)


FOLLOW_UPS: dict[str, FollowUp] = {"SendLocalList": sent, "GetLocalListVersion": version_got}


# Routes


@get(
    "/charge-points/{chargePointId:str}/local-list",
    tags=["local lists"],
    responses=documented(404),
)
async def get_local_list(system: System, charge_point_id: ChargePointId) -> LocalList:
    async with system.engine.connect() as db:
        await _known(db, charge_point_id)
        state = await _state(db, charge_point_id)
        held = await _held(db, charge_point_id)
    return LocalList(
        charge_point_id=charge_point_id,
        sent_version=None if state is None else state.sent_version,
        sent_update_type=None if state is None else state.sent_update_type,
        sent_at=None if state is None else as_utc(state.sent_at),
        status=None if state is None else state.status,
        acknowledged_version=None if state is None else state.acknowledged_version,
        reported_version=None if state is None else state.reported_version,
        reported_at=None if state is None else as_utc(state.reported_at),
        next_update_type=_next_type(state),
        local_authorization_list=[
            AuthorizationData(id_tag=tag, id_tag_info=_info(entry))
            for tag, entry in sorted(held.values())
        ],
    )


@post(
    "/charge-points/{chargePointId:str}/local-list",
    status_code=200,
    opt=needs(Role.OPERATOR),
    tags=["local lists"],
    responses=documented(404, 409, 502, 503, 504),
)
async def send_local_list(
    system: System,
    charge_point_id: ChargePointId,
    data: JSONBody[LocalListRequest | None] = None,
    force: Force = False,
) -> LocalListSent:
    """Send the id-tag store as the charge point's local list: Full, or Differential against
    the list it acknowledged last. 409 also when a Differential is asked without one, or when
    another list for this charge point was being sent for longer than a round trip takes."""
    try:
        async with (
            _lock(charge_point_id),
            advisory_lock(system.engine, f"local-list:{charge_point_id}", _lock_wait(system)),
        ):
            return await _build_and_send(system, charge_point_id, data, force)
    except LockBusy:
        raise ProblemException(
            Problem(
                status=409,
                error=f"another local list is being sent to {charge_point_id!r}: try again",
            )
        ) from None


def _lock_wait(system: CentralSystem) -> float:
    """As long as another POST may hold the lock: its reads, its round trip (through another
    node: and that node's reply margin), its answer stored."""
    settings = system.settings
    return settings.response_timeout + 3 * settings.database_timeout + 5


_locks: "weakref.WeakValueDictionary[str, asyncio.Lock]" = weakref.WeakValueDictionary()


def _lock(charge_point_id: str) -> asyncio.Lock:
    """The charge point's lock, kept while someone holds or waits for it."""
    lock = _locks.get(charge_point_id)
    if lock is None:
        lock = _locks[charge_point_id] = asyncio.Lock()
    return lock


async def _build_and_send(
    system: System, charge_point_id: str, data: LocalListRequest | None, force: bool
) -> LocalListSent:
    wanted = None if data is None else data.update_type
    async with system.engine.connect() as db:
        await _known(db, charge_point_id)
        state = await _state(db, charge_point_id)
        held = await _held(db, charge_point_id)
        store = {
            tag_key(row.id_tag): (
                row.id_tag,
                (row.status, as_utc(row.expiry_date), row.parent_id_tag or None),
            )
            for row in await db.execute(sa.select(id_tags))
        }
    kind = wanted or _next_type(state)
    if kind == UpdateType.DIFFERENTIAL and _next_type(state) == UpdateType.FULL:
        raise ProblemException(
            Problem(
                status=409,
                error="no acknowledged list to differ from (or the last one failed): send Full",
            )
        )
    if kind == UpdateType.FULL:
        entries = [
            AuthorizationData(id_tag=tag, id_tag_info=_info(entry))
            for tag, entry in sorted(store.values())
        ]
    else:
        entries = [
            AuthorizationData(id_tag=tag, id_tag_info=_info(entry))
            for key, (tag, entry) in sorted(store.items())
            if key not in held or held[key][1] != entry
        ] + [
            AuthorizationData(id_tag=tag)
            for key, (tag, _) in sorted(held.items())
            if key not in store
        ]
    versions = (
        [0]
        if state is None
        else [
            v
            for v in (state.sent_version, state.acknowledged_version, state.reported_version)
            if v is not None
        ]
        + [0]
    )
    request = m.SendLocalListRequest(
        list_version=max(versions) + 1,
        update_type=kind,
        local_authorization_list=entries,
    )
    response = await send(system, charge_point_id, request, None, force)
    await sent(system, charge_point_id, request, response)
    return LocalListSent(
        status=response.status,
        list_version=request.list_version,
        update_type=kind,
        local_authorization_list=entries,
    )


ROUTES = [get_local_list, send_local_list]


def _next_type(state: Any) -> UpdateType:
    if state is None or state.acknowledged_version is None or state.needs_full:
        return UpdateType.FULL
    return UpdateType.DIFFERENTIAL


async def _known(db: AsyncConnection, charge_point_id: str) -> None:
    if await registration.load(db, charge_point_id) is None:
        raise ProblemException(
            Problem(status=404, error=f"unknown charge point {charge_point_id!r}")
        )
