"""Diagnostics, log and firmware jobs: a GetDiagnostics, GetLog, UpdateFirmware or
SignedUpdateFirmware the central system sent, the one-time link of its file, and the charger's
status notifications.

- A job is opened before its command is sent (so an upload racing the answer finds it) with
  status `Requested`, and forgotten if the command fails. Opening one ends an older open job
  of the same charge point and kind as `Superseded`: a charger works on one at a time.
- Every Diagnostics/FirmwareStatusNotification is kept in `job_statuses`, counted for the
  newest open job of its kind, or for none (a raw command, a trigger, a charger on its own).
  It becomes the job's status, except `Idle` (the answer to a trigger says nothing of a job).
  Uploaded/UploadFailed and Installed/InstallationFailed/DownloadFailed end the job.
- The link's token is random (256 bits), kept only as its SHA-256, and expires TOKEN_HOURS
  after the job opens (for firmware, after its retrieveDate). A diagnostics token is single
  use: the first complete upload consumes it. A firmware token serves every download until
  the job ends (a charger retries, resumes, or downloads before and after a reboot).
- GetLog (kind `log`) and SignedUpdateFirmware (kind `firmware`, with its signature) carry a
  requestId, random (1 to 2^31 - 1: a charger's int32), kept with the job. Their
  notifications (LogStatusNotification, SignedFirmwareStatusNotification) are counted for the
  job their requestId names when it is this charger's job of that kind (an ended job gets the
  history row, not the status), for none when it names no such job; without a requestId, for
  the newest open job as above. A
  log job ends at Uploaded, UploadFailure, BadMessage, PermissionDenied or
  NotSupportedOperation; a signed firmware job also at InvalidSignature and
  InstallVerificationFailed. A log upload is single use, like a diagnostics one.
- A job's file travels over HTTP (`transport` "http": the token is in the link's path) or
  FTP ("ftp": the token is `LOGIN:PASSWORD`, both random, given in an `ftp://` location and
  checked by `ftp_server`). The same hash, expiry and single use hold for both; a token works
  only over its own transport.
- An uploaded diagnostics or log file is deleted `diagnostics_retention_days` after it came
  (`delete_old_files`, hourly): disks fill up, and a diagnostics file is read within days. The
  job keeps the file's name, size, hash and when it was deleted.
"""

import asyncio
import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ocppd.csms.files import FileStore, Received
from ocppd.csms.models import job_statuses, jobs
from ocppd.csms.stored_text import fitted
from ocppd.csms.system_services import SystemServices

log = logging.getLogger("ocppd.csms.jobs")

DIAGNOSTICS = "diagnostics"
FIRMWARE = "firmware"
LOG = "log"
KINDS = (DIAGNOSTICS, FIRMWARE, LOG)
UPLOADS = (DIAGNOSTICS, LOG)
"""The kinds whose charger uploads a file (single use link, retention)."""

REQUESTED = "Requested"
SUPERSEDED = "Superseded"
IDLE = "Idle"
FINAL = {
    DIAGNOSTICS: frozenset({"Uploaded", "UploadFailed"}),
    FIRMWARE: frozenset(
        {
            "Installed",
            "InstallationFailed",
            "DownloadFailed",
            "InvalidSignature",
            "InstallVerificationFailed",
        }
    ),
    LOG: frozenset(
        {"Uploaded", "UploadFailure", "BadMessage", "PermissionDenied", "NotSupportedOperation"}
    ),
}

TOKEN_HOURS = 24

MAX_REQUEST_ID = 2**31 - 1


def new_request_id() -> int:
    """A requestId for GetLog or SignedUpdateFirmware: random, so that a charger's
    notification of an old job cannot be taken for a new one's (nor one of another node's)."""
    return 1 + secrets.randbelow(MAX_REQUEST_ID)


HTTP = "http"
FTP = "ftp"
Transport = Literal["http", "ftp"]
"""How a job's file travels; a charge point's `file_transport` is the default."""


def new_token(transport: str) -> str:
    """A link token (256 random bits), or FTP credentials `LOGIN:PASSWORD` (64 + 192 bits:
    the login only has to be unique enough to log in; the password is the secret). Both are
    URL-safe, so they go into a location unquoted."""
    if transport == FTP:
        return f"{secrets.token_hex(8)}:{secrets.token_urlsafe(24)}"
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expiry(start: datetime) -> datetime:
    """TOKEN_HOURS after `start`, or the last instant there is (a firmware job may be asked to
    start on 9999-12-31)."""
    try:
        return start + timedelta(hours=TOKEN_HOURS)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


async def open_job(
    db: AsyncConnection,
    charge_point_id: str,
    kind: str,
    now: datetime,
    request: dict[str, Any],
    usable_from: datetime | None = None,
    transport: str = HTTP,
) -> tuple[int, str]:
    """A new job (its id and link token, or FTP credentials); `request` holds the fields
    asked for."""
    j = jobs.c
    await db.execute(
        jobs.update()
        .where(j.charge_point_id == charge_point_id, j.kind == kind, j.ended_at.is_(None))
        .values(status=SUPERSEDED, ended_at=now, updated_at=now, token_hash=None)
    )
    token = new_token(transport)
    start = max(now, usable_from) if usable_from is not None else now
    values = {
        **request,
        "charge_point_id": charge_point_id,
        "kind": kind,
        "status": REQUESTED,
        "transport": transport,
        "token_hash": token_hash(token),
        "token_expires_at": _expiry(start),
        "created_at": now,
        "updated_at": now,
    }
    job_id = (await db.execute(jobs.insert().values(values).returning(j.id))).scalar_one()
    return int(job_id), token


async def forget(db: AsyncConnection, job_id: int) -> None:
    """A job whose command was never accepted by the charger."""
    await db.execute(jobs.delete().where(jobs.c.id == job_id))


async def record_status(
    db: AsyncConnection,
    charge_point_id: str,
    kind: str,
    status: str,
    now: datetime,
    request_id: int | None = None,
) -> int | None:
    """Keep a notification; the job it was counted for: the one `request_id` names, else
    the newest open one, if any."""
    j = jobs.c
    open_ = True
    if request_id is None:
        job_id = await db.scalar(
            sa.select(j.id)
            .where(j.charge_point_id == charge_point_id, j.kind == kind, j.ended_at.is_(None))
            .order_by(j.id.desc())
            .limit(1)
        )
    else:
        job_id, open_ = await _requested(db, charge_point_id, kind, request_id)
    await db.execute(
        job_statuses.insert().values(
            fitted(
                job_statuses,
                {
                    "job_id": job_id,
                    "charge_point_id": charge_point_id,
                    "kind": kind,
                    "status": status,
                    "received_at": now,
                },
            )
        )
    )
    if job_id is not None and open_ and status != IDLE:
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status in FINAL[kind]:
            values.update(ended_at=now, token_hash=None)
        await db.execute(jobs.update().where(j.id == job_id).values(fitted(jobs, values)))
    return None if job_id is None else int(job_id)


async def _requested(
    db: AsyncConnection, charge_point_id: str, kind: str, request_id: int
) -> tuple[int | None, bool]:
    """The job a requestId names (this charger's newest of `kind` with it) and whether it is
    open."""
    if not 1 <= request_id <= MAX_REQUEST_ID:
        return None, False
    j = jobs.c
    row = (
        await db.execute(
            sa.select(j.id, j.ended_at)
            .where(j.charge_point_id == charge_point_id, j.kind == kind, j.request_id == request_id)
            .order_by(j.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None, False
    return int(row.id), row.ended_at is None


async def by_token(
    db: AsyncConnection, kind: str | None, token: str, now: datetime, transport: str = HTTP
) -> Any:
    """The open job a token of `transport` belongs to, or None (unknown, used, ended or
    expired); of `kind`, or any kind when None."""
    j = jobs.c
    query = sa.select(jobs).where(
        j.token_hash == token_hash(token),
        j.transport == transport,
        j.ended_at.is_(None),
        j.token_expires_at > now,
    )
    if kind is not None:
        query = query.where(j.kind == kind)
    return (await db.execute(query)).first()


async def ended_by_answer(db: AsyncConnection, job_id: int, status: str) -> None:
    """The charger's answer to the job's command says nothing will come (refused, or nothing
    to upload): the job ends with `status`, and its link with it."""
    j = jobs.c
    await db.execute(
        jobs.update()
        .where(j.id == job_id, j.ended_at.is_(None))
        .values(status=status, ended_at=j.updated_at, token_hash=None)
    )


async def file_named(db: AsyncConnection, job_id: int, name: str) -> None:
    """The file name the charger's answer gave, unless the job knows one already (its upload
    may have come first)."""
    # The column's own type binds the charger's name (a NUL becomes U+FFFD on PostgreSQL:
    # `stored_text`); a literal inside coalesce() would bind as a plain string.
    j = jobs.c
    await db.execute(
        jobs.update()
        .where(j.id == job_id, j.file_name.is_(None))
        .values(fitted(jobs, {"file_name": name}))
    )


async def upload_received(
    services: SystemServices,
    store: FileStore,
    job: Any,
    token: str,
    name: str | None,
    received: Received,
) -> bool:
    """A complete upload of `job`'s file, over HTTP or FTP: kept under the job's id and
    published as `JobFile`, when the token is still the job's (the first upload consumes
    it); else dropped, and False. Nothing is left at the temporary path either way."""
    now = services.clock()
    try:
        async with services.engine.begin() as db:
            won = await file_received(db, job.id, token, name, received.size, received.sha256, now)
            if won:
                await store.keep(received, job.kind, job.id)
    finally:
        await store.drop(received)  # nothing left when kept: it was moved
    if won:
        services.events.publish(
            "JobFile", job.charge_point_id, now, kind=job.kind, jobId=job.id, size=received.size
        )
    return won


async def upload_failed(services: SystemServices, job: Any, text: str) -> None:
    """An upload of `job`'s file that kept nothing (cut, too large, malformed), over HTTP or
    FTP: recorded on the job (`transfer_error`, the latest) and published as
    `JobFileFailed`. The link stays good for a retry within the job. A database that
    cannot record it is logged, not raised: the upload's own failure is what its sender is
    answered."""
    now = services.clock()
    try:
        async with services.engine.begin() as db:
            await db.execute(
                jobs.update()
                .where(jobs.c.id == job.id)
                .values(fitted(jobs, {"transfer_error": text, "transfer_error_at": now}))
            )
    except (sa.exc.SQLAlchemyError, OSError) as error:
        log.warning("job %d: its failed upload not recorded: %s", job.id, error)
        return
    services.events.publish(
        "JobFileFailed", job.charge_point_id, now, kind=job.kind, jobId=job.id, reason=text
    )


async def file_received(
    db: AsyncConnection,
    job_id: int,
    token: str,
    name: str | None,
    size: int,
    sha256: str,
    now: datetime,
) -> bool:
    """Record a diagnostics or log upload and consume its token; False when another upload with
    the same token won (or the job ended meanwhile)."""
    j = jobs.c
    done = await db.execute(
        jobs.update()
        .where(j.id == job_id, j.token_hash == token_hash(token), j.ended_at.is_(None))
        .values(
            file_name=sa.func.coalesce(j.file_name, name),
            file_size=size,
            file_sha256=sha256,
            file_received_at=now,
            updated_at=now,
            token_hash=None,
        )
    )
    return bool(done.rowcount == 1)


DELETED_AT_ONCE = 500


async def delete_old_files(
    engine: AsyncEngine, store: FileStore, now: datetime, retention: timedelta
) -> int:
    """Delete the diagnostics and log files received more than `retention` before `now`, and
    record when; how many went. A file's upload consumed its link, so nothing can replace it
    meanwhile. Files go first: a crash in between leaves jobs that the next run records
    again, never a file that no run deletes."""
    deleted = 0
    while found := await _with_old_files(engine, now - retention):
        ids = [job_id for job_id, _ in found]
        for job_id, kind in found:
            await asyncio.to_thread(store.path(kind, job_id).unlink, missing_ok=True)
        async with engine.begin() as db:
            await db.execute(jobs.update().where(jobs.c.id.in_(ids)).values(file_deleted_at=now))
        deleted += len(ids)
    return deleted


async def _with_old_files(engine: AsyncEngine, cutoff: datetime) -> list[tuple[int, str]]:
    j = jobs.c
    async with engine.connect() as db:
        found = await db.execute(
            sa.select(j.id, j.kind)
            .where(
                j.kind.in_(UPLOADS),
                j.file_received_at < cutoff,
                j.file_deleted_at.is_(None),
            )
            .limit(DELETED_AT_ONCE)
        )
        return [(int(job_id), kind) for job_id, kind in found]
