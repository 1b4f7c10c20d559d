"""The chargers' side of file transfers, at `/files` (not under /api/v1: a charger has no
bearer token; the one-time token in the URL is its authorization).

- `PUT|POST /files/diagnostics/<token>/[<fileName>]`: a diagnostics upload, the raw body or
  the file part of a multipart form. PUT to `<location>/<fileName>` is what `curl -T` and
  most chargers do with a directory location; POST to the location is what upload forms
  (and the simulator's POST mode) do. 201 once the file is stored; the token is then used.
- `PUT|POST /files/log/<token>/[<fileName>]`: the same for a GetLog's log.
- `GET /files/firmware/<token>/<name>`: the image of an UpdateFirmware job, as often as the
  charger asks until the job ends (the name is for the charger; only the token counts).

An unknown, used, ended or expired token is 404, and so is every other path under /files;
more than `max_file_size` bytes is 413, a malformed multipart body 400, and none of these
keeps anything. A failed upload with a good token (413, 400, or a body cut when the charger
went) is recorded on its job (`transferError`, the `JobFileFailed` event), as over FTP; the
link stays good for a retry. These routes are not in the OpenAPI document, which describes
the operators' API; they are in the README.
"""

from typing import Annotated, Any

from litestar import Request, Response, Router, get, route
from litestar.exceptions import HTTPException
from litestar.params import PathParameter
from litestar.response import File

from ocppd.api.problems import Problem, ProblemException
from ocppd.api.system import System
from ocppd.api.uploads import Upload, clean_name, file_store, receive
from ocppd.csms import jobs
from ocppd.csms.models import firmware

PREFIX = "/files"


Token = Annotated[str, PathParameter(name="token")]
Name = Annotated[str, PathParameter(name="name")]


def _upload_route(path: str) -> route:
    return route(
        path,
        http_method=["PUT", "POST"],
        status_code=201,
        request_max_body_size=None,  # the `max_file_size` setting applies, in `receive`
    )


@_upload_route("/diagnostics/{token:str}")
async def upload_to_location(
    system: System, request: Request[Any, Any, Any], token: Token
) -> Response[dict[str, Any]]:
    return await _upload(system, request, token, None)


@_upload_route("/diagnostics/{token:str}/{name:str}")
async def upload_as(
    system: System, request: Request[Any, Any, Any], token: Token, name: Name
) -> Response[dict[str, Any]]:
    return await _upload(system, request, token, name)


@_upload_route("/log/{token:str}")
async def upload_log_to_location(
    system: System, request: Request[Any, Any, Any], token: Token
) -> Response[dict[str, Any]]:
    return await _upload(system, request, token, None, jobs.LOG)


@_upload_route("/log/{token:str}/{name:str}")
async def upload_log_as(
    system: System, request: Request[Any, Any, Any], token: Token, name: Name
) -> Response[dict[str, Any]]:
    return await _upload(system, request, token, name, jobs.LOG)


async def _upload(
    system: System,
    request: Request[Any, Any, Any],
    token: str,
    name: str | None,
    kind: str = jobs.DIAGNOSTICS,
) -> Response[dict[str, Any]]:
    async with system.engine.connect() as db:
        job = await jobs.by_token(db, kind, token, system.clock())
    if job is None:
        raise _unknown()
    store = file_store(system)
    upload = Upload(request, clean_name(name))
    try:
        received = await receive(store, kind, upload, system.settings.max_file_size)
    except HTTPException as error:  # too large, malformed, or the charger went mid-body
        why = "the connection was cut" if error.status_code >= 500 else error.detail
        text = f"upload of {upload.name or ''!r} over HTTP: {why}; nothing kept"
        await jobs.upload_failed(system, job, text)
        raise
    if not await jobs.upload_received(system, store, job, token, clean_name(upload.name), received):
        raise _unknown()  # another upload with this token came first
    return Response({"size": received.size, "sha256": received.sha256}, status_code=201)


@get("/firmware/{token:str}/{name:str}")
async def download_firmware(system: System, token: Token, name: Name) -> File:
    """`name` is the image's, for the charger; the token alone finds it."""
    async with system.engine.connect() as db:
        job = await jobs.by_token(db, jobs.FIRMWARE, token, system.clock())
        image = None
        if job is not None:
            image = (
                await db.execute(firmware.select().where(firmware.c.id == job.firmware_id))
            ).first()
    if image is None:
        raise _unknown()
    path = file_store(system).path(jobs.FIRMWARE, image.id)
    if not path.is_file():
        raise _unknown()
    return File(path=path, filename=image.name, media_type="application/octet-stream")


def _unknown() -> ProblemException:
    return ProblemException(Problem(status=404, error="unknown, used or expired file link"))


ROUTER = Router(
    PREFIX,
    route_handlers=[
        upload_to_location,
        upload_as,
        upload_log_to_location,
        upload_log_as,
        download_firmware,
    ],
    include_in_schema=False,
)
