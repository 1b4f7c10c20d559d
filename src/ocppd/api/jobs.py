"""Diagnostics and firmware jobs as resources: one shape for both kinds, the flow that opens a
job and sends its command, and the link a charger gets (see `ocppd.csms.jobs` for the job's
life and its token, `transfers` for the link's side).

A link is `<public URL>/files/<kind>/<token>/...`; the public URL is the `public_url`
setting, or else the URL the operator's request came in on (right when operators and
chargers reach the server at the same address; set `public_url` behind a proxy or NAT).

Over FTP (`"transport": "ftp"` in the request, or the charge point's `fileTransport`) the
location is `ftp://LOGIN:PASSWORD@<host>:<FTP port>/[<name>]` (`csms/ftp_server.py`), the host
`ftp_public_host`, else the public URL's, else the request's. FTP asked for while the server
has none (no `--ftp-port`) is 409, and nothing is sent.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
import sqlalchemy as sa
from litestar import Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import PathParameter
from litestar.response import File
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.api.charge_points import ChargePointId
from ocppd.api.pages import IdCursor, Limit, newest_first, next_cursor
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.sending import send
from ocppd.api.system import System
from ocppd.api.uploads import file_store
from ocppd.csms import ftp_server, jobs, registration
from ocppd.csms.clock import as_utc
from ocppd.csms.models import MAX_STORED_INTEGER, charge_points, job_statuses, transactions
from ocppd.csms.models import jobs as job_table
from ocppd.protocol.enums import FirmwareStatus
from ocppd.protocol.fields import Payload

JobId = Annotated[int, PathParameter(name="jobId", ge=1, le=MAX_STORED_INTEGER)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Transport = jobs.Transport


class JobStatus(msgspec.Struct, rename="camel", kw_only=True):
    status: str
    received_at: datetime


class JobFile(msgspec.Struct, rename="camel", kw_only=True):
    """The file a charger uploaded (diagnostics)."""

    name: str | None
    size: int
    sha256: str
    received_at: datetime
    deleted_at: datetime | None = None
    """When the file was deleted, `diagnostics_retention_days` after it came."""


class TransferError(msgspec.Struct, rename="camel", kw_only=True):
    """The last transfer of the job's file that failed on ocppd's side (nothing of it kept)."""

    reason: str
    at: datetime


class Job(msgspec.Struct, rename="camel", kw_only=True):
    job_id: int
    charge_point_id: str
    kind: str
    """diagnostics, log or firmware."""
    status: str
    """Requested (sent, nothing reported yet), the charger's latest status, Superseded (a
    newer job of the same kind), NothingToUpload (GetDiagnostics answered no fileName), or
    the charger's refusal of GetLog or SignedUpdateFirmware (Rejected, InvalidCertificate,
    RevokedCertificate)."""
    start_time: datetime | None
    stop_time: datetime | None
    retrieve_date: datetime | None
    retries: int | None
    retry_interval: int | None
    firmware_id: int | None
    file: JobFile | None
    link_expires_at: datetime | None
    """Until when the charger's link works (while the job is open)."""
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    history: list[JobStatus] | None
    """Every status notification of this job, oldest first (in a single job's view only)."""
    transport: str = "http"
    """How its file travels: http (a link of ocppd's) or ftp (ocppd's FTP server)."""
    transfer_error: TransferError | None = None
    """An upload cut short, too large or too slow; a retry within the job may still succeed."""
    waiting_for_transactions: list[int] | None = None
    """A firmware job Downloaded while transactions run on its charge point: their ids. A
    charger installs once no transaction runs (OCPP 1.6 UpdateFirmware); None otherwise."""
    request_id: int | None = None
    """The requestId sent with GetLog or SignedUpdateFirmware (their notifications name it)."""
    log_type: str | None = None
    """A log job's: DiagnosticsLog or SecurityLog."""
    signed_by: str | None = None
    """A SignedUpdateFirmware job's signature: by "ocppd" (its firmware-signing key) or by the
    "operator" (given with the request); None for UpdateFirmware."""


class JobPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Job]
    next_cursor: str | None


NOTHING_TO_UPLOAD = "NothingToUpload"

Sent = Callable[[AsyncConnection, int, Any], Awaitable[None]]
"""What to keep of the charger's answer: (database, job id, response)."""


def base_url(system: System, request: Request[Any, Any, Any]) -> str:
    return system.settings.public_url or str(request.base_url).rstrip("/")


def link_prefix(
    system: System, request: Request[Any, Any, Any], transport: str, kind: str
) -> Callable[[str], str]:
    """Where the charger transfers a job's file, for the job's token, without the file's
    name (an upload's location; a download's adds the quoted name): over HTTP
    `<public URL>/files/<kind>/<token>/`, over FTP `ftp://<token>@<host>:<port>/`."""
    if transport == jobs.FTP:
        assert system.ftp is not None and system.ftp.port is not None  # `transport_for`
        host = ftp_server.public_host(system.settings) or request.url.hostname or "localhost"
        port = system.ftp.port
        return lambda token: ftp_server.location(host, port, token)
    base = base_url(system, request)
    return lambda token: f"{base}/files/{kind}/{token}/"


LONGEST_TOKEN = "x" * 49
"""As long as any token (FTP credentials `LOGIN:PASSWORD` are 49 characters): a location's
length checked before a job is opened."""


async def transport_for(system: System, charge_point_id: str, asked: str | None) -> str:
    """The transport of a new job: `asked`, else the charge point's `fileTransport`; 409 for
    FTP while this server has none."""
    transport = asked
    if transport is None:
        async with system.engine.connect() as db:
            stored = await db.scalar(
                sa.select(charge_points.c.file_transport).where(
                    charge_points.c.id == charge_point_id
                )
            )
        transport = stored or jobs.HTTP  # unknown: `start` answers 404
    if transport == jobs.FTP and (system.ftp is None or system.ftp.port is None):
        whose = "asked for" if asked else f"the fileTransport of {charge_point_id!r}"
        raise ProblemException(
            Problem(
                status=409,
                error=f"FTP is {whose}, but this server has no FTP (start it with --ftp-port)",
                field="transport",
                reason="no FTP server",
            )
        )
    return transport


async def start(
    system: System,
    charge_point_id: str,
    kind: str,
    fields: dict[str, Any],
    command: Callable[[str], Payload],
    sent: Sent | None = None,
    usable_from: datetime | None = None,
    force: bool = False,
    transport: str = jobs.HTTP,
) -> Job:
    """Open a job, send `command(token)`, keep the answer; the job is forgotten if the
    command fails (404, 409, 502, 504 as for any command; `force`: as a command's)."""
    now = system.clock()

    async def open_(db: AsyncConnection) -> tuple[int, str]:
        return await jobs.open_job(
            db, charge_point_id, kind, now, fields, usable_from, transport=transport
        )

    job_id, token = await system.writer.commit([], open_)
    try:
        response = await send(system, charge_point_id, command(token), None, force)
    except BaseException:
        await system.writer.commit([], lambda db: jobs.forget(db, job_id))
        raise
    if sent is not None:
        await system.writer.commit([], lambda db: sent(db, job_id, response))
    system.events.publish("JobCreated", charge_point_id, now, kind=kind, jobId=job_id)
    return await load(system, kind, job_id)


async def load(system: System, kind: str, job_id: int) -> Job:
    async with system.engine.connect() as db:
        row = (
            await db.execute(
                sa.select(job_table).where(job_table.c.id == job_id, job_table.c.kind == kind)
            )
        ).first()
        if row is None:
            raise ProblemException(Problem(status=404, error=f"unknown {kind} job {job_id}"))
        s = job_statuses.c
        history = await db.execute(
            sa.select(s.status, s.received_at).where(s.job_id == job_id).order_by(s.id)
        )
        found = view(
            row, [JobStatus(status=h.status, received_at=as_utc(h.received_at)) for h in history]
        )
        await _note_waiting(db, [found])
        return found


async def page(
    system: System, charge_point_id: str, kind: str, limit: int, cursor: str | None
) -> JobPage:
    """A charge point's jobs of `kind`, newest first."""
    j = job_table.c
    query = newest_first(job_table, j.id, limit, cursor).where(
        j.charge_point_id == charge_point_id, j.kind == kind
    )
    async with system.engine.connect() as db:
        if await registration.load(db, charge_point_id) is None:
            raise ProblemException(
                Problem(status=404, error=f"unknown charge point {charge_point_id!r}")
            )
        rows = (await db.execute(query)).all()
        items = [view(row, None) for row in rows[:limit]]
        await _note_waiting(db, items)
    return JobPage(
        items=items,
        next_cursor=next_cursor([str(row.id) for row in rows], limit),
    )


async def _note_waiting(db: AsyncConnection, found: list[Job]) -> None:
    """`waiting_for_transactions` of the open firmware jobs Downloaded: at most one a charge
    point, so one query for the few there are."""
    waiting = [
        job
        for job in found
        if job.kind == jobs.FIRMWARE
        and job.status == FirmwareStatus.DOWNLOADED
        and job.ended_at is None
    ]
    if not waiting:
        return
    t = transactions.c
    running = await db.execute(
        sa.select(t.charge_point_id, t.id)
        .where(t.charge_point_id.in_({job.charge_point_id for job in waiting}))
        .where(t.stopped_at.is_(None))
        .order_by(t.id)
    )
    by_charge_point: dict[str, list[int]] = {}
    for charge_point_id, transaction_id in running:
        by_charge_point.setdefault(charge_point_id, []).append(transaction_id)
    for job in waiting:
        job.waiting_for_transactions = by_charge_point.get(job.charge_point_id)


async def uploaded_file(system: System, kind: str, job_id: int) -> File:
    """The file a charger uploaded for a job of `kind` (diagnostics or log): 404 until it
    has, 410 once deleted after `diagnostics_retention_days`."""
    job = await load(system, kind, job_id)
    if job.file is not None and job.file.deleted_at is not None:
        days = system.settings.diagnostics_retention_days
        raise ProblemException(
            Problem(
                status=410,
                error=f"the file of {kind} job {job_id} was deleted at "
                f"{job.file.deleted_at.isoformat()} (files are kept {days} days)",
            )
        )
    path = file_store(system).path(kind, job_id)
    if job.file is None or not path.is_file():
        raise ProblemException(Problem(status=404, error=f"{kind} job {job_id} has no file (yet)"))
    return File(path=path, filename=job.file.name or f"{kind}-{job_id}")


def read_routes(kind: str, path: str, tag: str) -> list[HTTPRouteHandler]:
    """GET /charge-points/{id}/<path> (a charge point's jobs of `kind`, newest first) and
    GET /<path>/{jobId} (one, with its status history)."""

    async def list_jobs(
        system: System, charge_point_id: ChargePointId, limit: Limit = 100, cursor: IdCursor = None
    ) -> JobPage:
        return await page(system, charge_point_id, kind, limit, cursor)

    async def get_job(system: System, job_id: JobId) -> Job:
        return await load(system, kind, job_id)

    name = "".join(word.title() for word in path.split("-"))
    return [
        get(
            f"/charge-points/{{chargePointId:str}}/{path}",
            tags=[tag],
            responses=documented(404),
            operation_id=f"List{name}Jobs",
            description=f"The charge point's {kind} jobs, newest first.",
        )(list_jobs),
        get(
            f"/{path}/{{jobId:int}}",
            tags=[tag],
            responses=documented(404),
            operation_id=f"Get{name}Job",
            description=f"One {kind} job with its status history.",
        )(get_job),
    ]


def view(row: Any, history: list[JobStatus] | None) -> Job:
    file = None
    if row.file_received_at is not None:
        file = JobFile(
            name=row.file_name,
            size=row.file_size,
            sha256=row.file_sha256,
            received_at=as_utc(row.file_received_at),
            deleted_at=as_utc(row.file_deleted_at),
        )
    return Job(
        job_id=row.id,
        charge_point_id=row.charge_point_id,
        kind=row.kind,
        status=row.status,
        start_time=as_utc(row.start_time),
        stop_time=as_utc(row.stop_time),
        retrieve_date=as_utc(row.retrieve_date),
        retries=row.retries,
        retry_interval=row.retry_interval,
        firmware_id=row.firmware_id,
        file=file,
        link_expires_at=None if row.ended_at is not None else as_utc(row.token_expires_at),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        ended_at=as_utc(row.ended_at),
        history=history,
        request_id=row.request_id,
        log_type=row.log_type,
        signed_by=row.signed_by,
        transport=row.transport,
        transfer_error=None
        if row.transfer_error is None
        else TransferError(reason=row.transfer_error, at=as_utc(row.transfer_error_at)),
    )


MAX_LOCATION = 512
"""The security extension's locations (GetLog's remoteLocation, SignedUpdateFirmware's
location) are at most 512 characters."""


def bounded_location(prefix: str, name: str = "") -> str:
    """`prefix` + `name` (quoted for a URL) within MAX_LOCATION: the name is shortened as
    needed (it is for the charger; only the token counts); 409 when the prefix alone is too
    long (a `public_url` of hundreds of characters)."""
    if len(prefix) >= MAX_LOCATION:
        raise ProblemException(
            Problem(
                status=409,
                error=f"not sent: the link {prefix[:80]}... is longer than the "
                f"{MAX_LOCATION} characters a security extension location holds "
                "(a shorter public_url)",
            )
        )
    while len(prefix) + len(quote(name, safe="")) > MAX_LOCATION:
        name = name[:-1]
    return prefix + quote(name, safe="")
