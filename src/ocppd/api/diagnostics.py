"""Diagnostics: ask a charge point for its diagnostics file, follow the upload, download it.

`POST /charge-points/{id}/diagnostics` opens a job and sends GetDiagnostics with a location
of ocppd's own (`<public URL>/files/diagnostics/<token>/`, see `transfers`): the charger
PUTs its file to `<location><fileName>` or POSTs it to the location. The job follows its
DiagnosticsStatusNotifications; the file is at `GET /diagnostics/{jobId}/file` (operator:
a diagnostics file may tell more than a viewer should see).
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
    NOTHING_TO_UPLOAD,
    Count,
    Job,
    JobId,
    Transport,
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
from ocppd.protocol import messages as m
from ocppd.protocol.fields import DateTime


class DiagnosticsRequest(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """GetDiagnostics without its location (ocppd fills it in)."""

    start_time: DateTime | None = None
    stop_time: DateTime | None = None
    retries: Count | None = None
    retry_interval: Count | None = None
    """Seconds between retries."""
    transport: Transport | None = None
    """http or ftp; absent: the charge point's fileTransport."""


@post(
    "/charge-points/{chargePointId:str}/diagnostics",
    status_code=201,
    opt=needs(Role.OPERATOR),
    tags=["diagnostics"],
    responses=documented(404, 409, 502, 503, 504),
)
async def request_diagnostics(
    system: System,
    request: Request[Any, Any, Any],
    charge_point_id: ChargePointId,
    data: JSONBody[DiagnosticsRequest | None] = None,
    force: Force = False,
) -> Job:
    """Send GetDiagnostics with an upload location of ocppd's; the job, with the fileName the
    charger answered."""
    asked = data or DiagnosticsRequest()
    transport = await transport_for(system, charge_point_id, asked.transport)
    prefix = link_prefix(system, request, transport, jobs.DIAGNOSTICS)

    def command(token: str) -> m.GetDiagnosticsRequest:
        return m.GetDiagnosticsRequest(
            location=prefix(token),
            retries=UNSET if asked.retries is None else asked.retries,
            retry_interval=UNSET if asked.retry_interval is None else asked.retry_interval,
            start_time=UNSET if asked.start_time is None else asked.start_time,
            stop_time=UNSET if asked.stop_time is None else asked.stop_time,
        )

    fields = {
        "start_time": utc("startTime", asked.start_time),
        "stop_time": utc("stopTime", asked.stop_time),
        "retries": asked.retries,
        "retry_interval": asked.retry_interval,
    }
    return await start(
        system,
        charge_point_id,
        jobs.DIAGNOSTICS,
        fields,
        command,
        _answered,
        force=force,
        transport=transport,
    )


async def _answered(db: AsyncConnection, job_id: int, response: m.GetDiagnosticsResponse) -> None:
    if response.file_name is UNSET:
        await jobs.ended_by_answer(db, job_id, NOTHING_TO_UPLOAD)
    else:
        await jobs.file_named(db, job_id, response.file_name)


@get(
    "/diagnostics/{jobId:int}/file",
    opt=needs(Role.OPERATOR),
    tags=["diagnostics"],
    media_type="application/octet-stream",
    responses=documented(404, 410),
)
async def download_diagnostics(system: System, job_id: JobId) -> File:
    """The file the charger uploaded (404 until it has; 410 once deleted, after
    `diagnostics_retention_days`)."""
    return await uploaded_file(system, jobs.DIAGNOSTICS, job_id)


ROUTES = [
    request_diagnostics,
    *read_routes(jobs.DIAGNOSTICS, "diagnostics", "diagnostics"),
    download_diagnostics,
]
