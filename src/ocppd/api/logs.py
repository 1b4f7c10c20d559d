"""Logs (security extension): ask a charge point for its diagnostics or security log, follow
the upload, download it.

`POST /charge-points/{id}/logs` opens a job (kind `log`) and sends GetLog with a requestId
of its own and a remoteLocation of ocppd's, `<public URL>/files/log/<token>/` (see
`transfers`): the charger PUTs its file to `<location><filename>` or POSTs it to the
location, once (a used link is 404). The job follows the LogStatusNotifications that name
its requestId; the file is at `GET /logs/{jobId}/file` (operator, as diagnostics) and is
deleted after `diagnostics_retention_days`, like a diagnostics file.
"""

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import JSONBody
from litestar.response import File
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.api.auth import needs
from ocppd.api.charge_points import ChargePointId
from ocppd.api.jobs import (
    LONGEST_TOKEN,
    Count,
    Job,
    JobId,
    Transport,
    bounded_location,
    link_prefix,
    read_routes,
    start,
    transport_for,
    uploaded_file,
)
from ocppd.api.operator_input import utc
from ocppd.api.problems import documented
from ocppd.api.sending import Force
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.csms import jobs
from ocppd.protocol import security as s
from ocppd.protocol.datatypes import LogParameters
from ocppd.protocol.enums import LogStatus, LogType
from ocppd.protocol.fields import DateTime


class LogRequest(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """GetLog without its remoteLocation and requestId (ocppd fills them in)."""

    log_type: LogType
    """DiagnosticsLog or SecurityLog."""
    oldest_timestamp: DateTime | None = None
    latest_timestamp: DateTime | None = None
    retries: Count | None = None
    retry_interval: Count | None = None
    """Seconds between retries."""
    transport: Transport | None = None
    """http or ftp; absent: the charge point's fileTransport."""


@post(
    "/charge-points/{chargePointId:str}/logs",
    status_code=201,
    opt=needs(Role.OPERATOR),
    tags=["logs"],
    responses=documented(404, 409, 502, 503, 504),
)
async def request_log(
    system: System,
    request: Request[Any, Any, Any],
    charge_point_id: ChargePointId,
    data: JSONBody[LogRequest],
    force: Force = False,
) -> Job:
    """Send GetLog with an upload location of ocppd's; the job, with the filename the charger
    answered (status Rejected and ended when it refused)."""
    transport = await transport_for(system, charge_point_id, data.transport)
    prefix = link_prefix(system, request, transport, jobs.LOG)
    bounded_location(prefix(LONGEST_TOKEN))  # 409 before a job is opened
    request_id = jobs.new_request_id()
    oldest = utc("oldestTimestamp", data.oldest_timestamp)
    latest = utc("latestTimestamp", data.latest_timestamp)

    def command(token: str) -> s.GetLogRequest:
        return s.GetLogRequest(
            log=LogParameters(
                remote_location=bounded_location(prefix(token)),
                oldest_timestamp=UNSET if oldest is None else oldest,
                latest_timestamp=UNSET if latest is None else latest,
            ),
            log_type=data.log_type,
            request_id=request_id,
            retries=UNSET if data.retries is None else data.retries,
            retry_interval=UNSET if data.retry_interval is None else data.retry_interval,
        )

    fields = {
        "request_id": request_id,
        "log_type": str(data.log_type),
        "start_time": oldest,
        "stop_time": latest,
        "retries": data.retries,
        "retry_interval": data.retry_interval,
    }
    return await start(
        system,
        charge_point_id,
        jobs.LOG,
        fields,
        command,
        _answered,
        force=force,
        transport=transport,
    )


async def _answered(db: AsyncConnection, job_id: int, response: s.GetLogResponse) -> None:
    if response.status == LogStatus.REJECTED:
        await jobs.ended_by_answer(db, job_id, str(response.status))
    elif response.filename is not UNSET:
        await jobs.file_named(db, job_id, response.filename)


@get(
    "/logs/{jobId:int}/file",
    opt=needs(Role.OPERATOR),
    tags=["logs"],
    media_type="application/octet-stream",
    responses=documented(404, 410),
)
async def download_log(system: System, job_id: JobId) -> File:
    """The log the charger uploaded (404 until it has; 410 once deleted, after
    `diagnostics_retention_days`)."""
    return await uploaded_file(system, jobs.LOG, job_id)


ROUTES = [request_log, *read_routes(jobs.LOG, "logs", "logs"), download_log]
