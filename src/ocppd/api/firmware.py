"""Firmware: images operators upload, and updates that send one to a charge point.

- `POST /firmware` (operator): the image as the raw body with `?name=`, or as the file part
  of a multipart form (its filename); at most `max_file_size` bytes (413). Kept under the
  data directory with its size and SHA-256. Images are immutable: upload a new one. The same
  bytes again answer the image kept before (200, its name unchanged): never a duplicate.
- `POST /charge-points/{id}/firmware-updates` opens a job and sends UpdateFirmware with a
  location of ocppd's own, `<public URL>/files/firmware/<token>/<name>` (the name last:
  chargers read the version from it). The job follows FirmwareStatusNotification to
  Installed, InstallationFailed or DownloadFailed.
- With `"signed": true` the job sends SignedUpdateFirmware (security extension) instead: a
  requestId of its own, the same kind of link (at most 512 characters: a long image name is
  shortened in it), and the image's signature and signing certificate, either given with the
  request (`signature`, `signingCertificate`: checked to verify over the image's bytes) or
  made by ocppd with its firmware-signing key (`<data-dir>/ca/firmware-signing.*`, from
  `ocppd ca init`; 409 without one). The job follows SignedFirmwareStatusNotification by
  requestId to Installed or a failure (InvalidSignature, InstallVerificationFailed...); a
  refusal of the command (Rejected, InvalidCertificate, RevokedCertificate) ends it at once.
"""

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
import sqlalchemy as sa
from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from msgspec import UNSET

from ocppd.api import signed_firmware
from ocppd.api.auth import needs
from ocppd.api.charge_points import ChargePointId
from ocppd.api.jobs import Count, Job, Transport, link_prefix, read_routes, start, transport_for
from ocppd.api.operator_input import utc
from ocppd.api.pages import IdCursor, Limit, newest_first, next_cursor
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.sending import Force
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.api.uploads import Upload, clean_name, file_store, receive
from ocppd.csms import jobs
from ocppd.csms.clock import as_utc
from ocppd.csms.models import MAX_STORED_INTEGER, firmware
from ocppd.protocol import messages as m
from ocppd.protocol.fields import DateTime

FirmwareId = Annotated[int, PathParameter(name="firmwareId", ge=1, le=MAX_STORED_INTEGER)]


class Firmware(msgspec.Struct, rename="camel", kw_only=True):
    firmware_id: int
    name: str
    size: int
    sha256: str
    uploaded_at: datetime


class FirmwarePage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Firmware]
    next_cursor: str | None


class FirmwareUpdateRequest(
    msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True
):
    """UpdateFirmware with an uploaded image instead of a location."""

    firmware_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_STORED_INTEGER)]
    retrieve_date: DateTime | None = None
    """When the charger may download it; absent: now."""
    retries: Count | None = None
    retry_interval: Count | None = None
    signed: bool = False
    """Send SignedUpdateFirmware (security extension) rather than UpdateFirmware."""
    signature: Annotated[str, msgspec.Meta(min_length=1, max_length=800)] | None = None
    """With `signed`: base64 of the signature over the image (SHA-256; ECDSA DER or RSA
    PKCS#1 v1.5), with `signingCertificate`; absent: ocppd signs with its own key."""
    signing_certificate: Annotated[str, msgspec.Meta(min_length=1, max_length=5500)] | None = None
    """With `signature`: the PEM certificate whose key made it."""
    install_date: DateTime | None = None
    """With `signed`: when the charger may install it (installDateTime); absent: at once."""
    transport: Transport | None = None
    """http or ftp; absent: the charge point's fileTransport."""


@post(
    "/firmware",
    status_code=201,
    opt=needs(Role.OPERATOR),
    request_max_body_size=None,  # the `max_file_size` setting applies, in `receive`
    tags=["firmware"],
    responses={
        **documented(413),
        200: ResponseSpec(Firmware, description="These bytes were uploaded before: that image"),
    },
)
async def upload_firmware(
    system: System,
    request: Request[Any, Any, Any],
    name: Annotated[
        str | None,
        QueryParameter(description="The file name (a multipart part brings its own)."),
    ] = None,
) -> Response[Firmware]:
    """Upload a firmware image: 201 and the new image, or 200 and the image uploaded before
    with the same bytes (same SHA-256: never a second copy). Without a name (`?name=` or a
    multipart filename) it is `firmware-<the first 12 hex digits of its SHA-256>.bin`."""
    store = file_store(system)
    upload = Upload(request, clean_name(name))
    received = await receive(store, jobs.FIRMWARE, upload, system.settings.max_file_size)
    try:
        # Unnamed (no ?name=, no multipart filename): named after its bytes.
        file_name = clean_name(upload.name) or f"firmware-{received.sha256[:12]}.bin"
        try:
            async with system.engine.begin() as db:
                same = await _same_bytes(db, received.sha256)
                if same is None:
                    kept = await _insert(db, file_name, received.size, received.sha256, system)
                    await store.keep(received, jobs.FIRMWARE, kept.firmware_id)
                    return Response(kept, status_code=201)
        except sa.exc.IntegrityError:  # the same bytes, uploaded at the same moment
            async with system.engine.connect() as db:
                same = await _same_bytes(db, received.sha256)
            if same is None:
                raise
        return Response(_firmware(same), status_code=200)
    finally:
        await store.drop(received)  # nothing left when kept: it was moved


async def _same_bytes(db: Any, sha256: str) -> Any:
    query = sa.select(firmware).where(firmware.c.sha256 == sha256).order_by(firmware.c.id)
    return (await db.execute(query.limit(1))).first()


async def _insert(db: Any, name: str, size: int, sha256: str, system: System) -> Firmware:
    now = system.clock()
    firmware_id = (
        await db.execute(
            firmware.insert()
            .values(name=name, size=size, sha256=sha256, uploaded_at=now)
            .returning(firmware.c.id)
        )
    ).scalar_one()
    return Firmware(firmware_id=firmware_id, name=name, size=size, sha256=sha256, uploaded_at=now)


@get("/firmware", tags=["firmware"], responses=documented())
async def list_firmware(
    system: System, limit: Limit = 100, cursor: IdCursor = None
) -> FirmwarePage:
    """Uploaded images, newest first."""
    query = newest_first(firmware, firmware.c.id, limit, cursor)
    async with system.engine.connect() as db:
        rows = (await db.execute(query)).all()
    return FirmwarePage(
        items=[_firmware(row) for row in rows[:limit]],
        next_cursor=next_cursor([str(row.id) for row in rows], limit),
    )


@get("/firmware/{firmwareId:int}", tags=["firmware"], responses=documented(404))
async def get_firmware(system: System, firmware_id: FirmwareId) -> Firmware:
    async with system.engine.connect() as db:
        row = await _row(db, firmware_id)
    if row is None:
        raise ProblemException(Problem(status=404, error=f"unknown firmware {firmware_id}"))
    return _firmware(row)


@post(
    "/charge-points/{chargePointId:str}/firmware-updates",
    status_code=201,
    opt=needs(Role.OPERATOR),
    tags=["firmware"],
    responses=documented(404, 409, 502, 503, 504),
)
async def update_firmware(
    system: System,
    request: Request[Any, Any, Any],
    charge_point_id: ChargePointId,
    data: JSONBody[FirmwareUpdateRequest],
    force: Force = False,
) -> Job:
    """Send UpdateFirmware for an uploaded image; the job. 404 for an unknown firmwareId (as
    for an unknown charge point: what the request names is not there)."""
    async with system.engine.connect() as db:
        image = await _row(db, data.firmware_id)
    if image is None:
        raise ProblemException(
            Problem(
                status=404,
                error=f"unknown firmware {data.firmware_id}",
                field="firmwareId",
                reason="no such upload",
            )
        )
    retrieve = utc("retrieveDate", data.retrieve_date or system.clock())
    transport = await transport_for(system, charge_point_id, data.transport)
    prefix = link_prefix(system, request, transport, jobs.FIRMWARE)
    if data.signed or data.signature is not None or data.signing_certificate is not None:
        return await signed_firmware.update(
            system, charge_point_id, data, image, retrieve, prefix, force, transport
        )
    name = quote(image.name, safe="")

    def command(token: str) -> m.UpdateFirmwareRequest:
        return m.UpdateFirmwareRequest(
            location=prefix(token) + name,
            retrieve_date=retrieve,
            retries=UNSET if data.retries is None else data.retries,
            retry_interval=UNSET if data.retry_interval is None else data.retry_interval,
        )

    fields = {
        "firmware_id": data.firmware_id,
        "retrieve_date": retrieve,
        "retries": data.retries,
        "retry_interval": data.retry_interval,
    }
    return await start(
        system,
        charge_point_id,
        jobs.FIRMWARE,
        fields,
        command,
        usable_from=retrieve,
        force=force,
        transport=transport,
    )


ROUTES = [
    upload_firmware,
    list_firmware,
    get_firmware,
    update_firmware,
    *read_routes(jobs.FIRMWARE, "firmware-updates", "firmware"),
]


async def _row(db: Any, firmware_id: int) -> Any:
    return (await db.execute(sa.select(firmware).where(firmware.c.id == firmware_id))).first()


def _firmware(row: Any) -> Firmware:
    return Firmware(
        firmware_id=row.id,
        name=row.name,
        size=row.size,
        sha256=row.sha256,
        uploaded_at=as_utc(row.uploaded_at),
    )
