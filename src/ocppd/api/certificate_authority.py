"""ocppd's certificate authority in the API (decision 0007): its root and firmware-signing
certificates (what InstallCertificate and SignedUpdateFirmware carry), chargers' certificate
requests (list, approve, reject), and a charger's own signing policy.

Reading is for every role; approving, rejecting and the policy are for admins: a charger
certificate is a credential (profile 3 admits whoever holds it), issued like an API token.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from litestar import get, post, put
from litestar.params import JSONBody, PathParameter, QueryParameter

from ocppd.api.auth import needs
from ocppd.api.charge_points import ChargePointId
from ocppd.api.pages import IdCursor, Limit, newest_first, next_cursor
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.csms.certificate_authority import CaFiles, CaUnreadable, fingerprint, pem
from ocppd.csms.certificate_requests import (
    STATUSES,
    RequestConflict,
    UnknownRequest,
    signing_authority,
)
from ocppd.csms.clock import as_utc
from ocppd.csms.models import MAX_STORED_INTEGER, certificate_requests, charge_points
from ocppd.csms.settings import CertificateSigning

RequestId = Annotated[int, PathParameter(name="requestId", ge=1, le=MAX_STORED_INTEGER)]
Status = Literal[
    "pending", "approved", "signed", "sent", "accepted", "refused", "rejected", "in-use"
]
assert set(Status.__args__) == set(STATUSES)  # type: ignore[attr-defined]


class CertificateAuthority(msgspec.Struct, rename="camel", kw_only=True):
    root_certificate: str
    """The CA's certificate, PEM: InstallCertificate's CentralSystemRootCertificate."""
    root_fingerprint: str
    """SHA-256 of the root's DER form, colon-separated hex."""
    root_not_after: datetime
    firmware_signing_certificate: str | None
    """PEM, issued by this CA; null with an operator's CA and no `ocppd ca init`."""
    certificate_signing: str
    """The global policy (`--certificate-signing`): auto or manual."""


class CertificateRequest(msgspec.Struct, rename="camel", kw_only=True):
    id: int
    charge_point_id: str
    status: str
    """pending (awaits an operator), signed (issued, not delivered: see reason), sent (awaits
    the charger's answer), accepted, refused (the charger answered Rejected), rejected (the
    CSR failed its checks or an operator rejected it), in-use (the charger connected with
    it)."""
    reason: str | None
    subject: str | None
    key_type: str | None
    key_bits: int | None
    csr: str
    serial_number: str | None
    certificate: str | None
    charger_answer: str | None
    requested_at: datetime
    decided_at: datetime | None
    sent_at: datetime | None
    answered_at: datetime | None
    in_use_at: datetime | None


class CertificateRequestPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[CertificateRequest]
    next_cursor: str | None


class Rejection(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class SigningPolicy(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    certificate_signing: Literal["auto", "manual"] | None
    """This charger's policy; null: the global one (`--certificate-signing`)."""


def _problem(status: int, error: str) -> ProblemException:
    return ProblemException(Problem(status=status, error=error))


@get("/certificate-authority", tags=["certificates"], responses=documented(404))
async def get_certificate_authority(system: System) -> CertificateAuthority:
    """The root certificate chargers install (InstallCertificate CentralSystemRootCertificate)
    and the firmware-signing certificate; 404 when ocppd has no CA (`ocppd ca init`)."""
    try:
        authority = signing_authority(system.settings)
    except CaUnreadable as exc:
        raise _problem(404, f"the CA cannot be read: {exc}") from None
    if authority is None:
        raise _problem(404, "ocppd has no CA (ocppd ca init, or --ca-cert/--ca-key)")
    files = CaFiles.of(system.settings.data_dir)
    signing = None
    if files.firmware_cert.exists():
        signing = files.firmware_cert.read_text("ascii", errors="replace")
    return CertificateAuthority(
        root_certificate=pem(authority.certificate),
        root_fingerprint=fingerprint(authority.certificate),
        root_not_after=authority.certificate.not_valid_after_utc,
        firmware_signing_certificate=signing,
        certificate_signing=system.settings.certificate_signing.value,
    )


@get("/certificate-requests", tags=["certificates"], responses=documented())
async def list_certificate_requests(
    system: System,
    limit: Limit = 100,
    cursor: IdCursor = None,
    charge_point_id: Annotated[str | None, QueryParameter(name="chargePointId")] = None,
    status: Annotated[Status | None, QueryParameter(name="status")] = None,
) -> CertificateRequestPage:
    """Chargers' certificate requests, newest first."""
    t = certificate_requests.c
    query = newest_first(certificate_requests, t.id, limit, cursor)
    if charge_point_id is not None:
        query = query.where(t.charge_point_id == charge_point_id)
    if status is not None:
        query = query.where(t.status == status)
    async with system.engine.connect() as db:
        rows = (await db.execute(query)).all()
    return CertificateRequestPage(
        items=[_request(dict(row._mapping)) for row in rows[:limit]],
        next_cursor=next_cursor([str(row.id) for row in rows], limit),
    )


@get("/certificate-requests/{requestId:int}", tags=["certificates"], responses=documented(404))
async def get_certificate_request(system: System, request_id: RequestId) -> CertificateRequest:
    try:
        return _request(await system.certificate_requests.get(request_id))
    except UnknownRequest as exc:
        raise _problem(404, str(exc)) from None


@post(
    "/certificate-requests/{requestId:int}/approve",
    tags=["certificates"],
    opt=needs(Role.ADMIN),
    status_code=200,
    responses=documented(404, 409),
)
async def approve_certificate_request(system: System, request_id: RequestId) -> CertificateRequest:
    """Sign a pending request and send the chain with CertificateSigned (a signed one whose
    sending failed: send it again). 200 with the request as stored: `accepted` or `refused`
    by the charger's answer, or still `signed` with the `reason` it was not delivered (not
    connected, no answer, a chain longer than its CertificateSignedMaxChainSize)."""
    try:
        decision = await system.certificate_requests.approve(request_id)
    except UnknownRequest as exc:
        raise _problem(404, str(exc)) from None
    except (RequestConflict, CaUnreadable) as exc:
        raise _problem(409, str(exc)) from None
    return _request(decision.request)


@post(
    "/certificate-requests/{requestId:int}/reject",
    tags=["certificates"],
    opt=needs(Role.ADMIN),
    status_code=200,
    responses=documented(404, 409),
)
async def reject_certificate_request(
    system: System, request_id: RequestId, data: JSONBody[Rejection]
) -> CertificateRequest:
    """Refuse a pending request; the charger is told nothing (it was answered Accepted: the
    white paper has no message for a refusal after that)."""
    try:
        return _request(await system.certificate_requests.reject(request_id, data.reason))
    except UnknownRequest as exc:
        raise _problem(404, str(exc)) from None
    except RequestConflict as exc:
        raise _problem(409, str(exc)) from None


@put(
    "/charge-points/{chargePointId:str}/certificate-signing",
    tags=["certificates"],
    opt=needs(Role.ADMIN),
    responses=documented(404),
)
async def put_certificate_signing(
    system: System, charge_point_id: ChargePointId, data: JSONBody[SigningPolicy]
) -> SigningPolicy:
    """This charger's certificate requests: signed at once (auto), held (manual), or as the
    global `--certificate-signing` says (null)."""
    policy = data.certificate_signing
    async with system.engine.begin() as db:
        result = await db.execute(
            charge_points.update()
            .where(charge_points.c.id == charge_point_id)
            .values(certificate_signing=policy)
        )
    if not result.rowcount:
        raise _problem(404, f"unknown charge point {charge_point_id!r}")
    return SigningPolicy(certificate_signing=policy)


@get(
    "/charge-points/{chargePointId:str}/certificate-signing",
    tags=["certificates"],
    responses=documented(404),
)
async def get_certificate_signing(system: System, charge_point_id: ChargePointId) -> SigningPolicy:
    async with system.engine.connect() as db:
        row = (
            await db.execute(
                sa.select(charge_points.c.certificate_signing).where(
                    charge_points.c.id == charge_point_id
                )
            )
        ).first()
    if row is None:
        raise _problem(404, f"unknown charge point {charge_point_id!r}")
    own = row.certificate_signing
    return SigningPolicy(certificate_signing=CertificateSigning(own).value if own else None)


def _request(row: dict[str, Any]) -> CertificateRequest:
    times = {
        name: as_utc(row[name])
        for name in ("requested_at", "decided_at", "sent_at", "answered_at", "in_use_at")
    }
    requested = times.pop("requested_at")
    assert requested is not None  # NOT NULL
    return CertificateRequest(
        id=row["id"],
        charge_point_id=row["charge_point_id"],
        status=row["status"],
        reason=row["reason"],
        subject=row["subject"],
        key_type=row["key_type"],
        key_bits=row["key_bits"],
        csr=row["csr"],
        serial_number=row["serial_number"],
        certificate=row["certificate"],
        charger_answer=row["charger_answer"],
        requested_at=requested,
        **times,
    )


ROUTES = [
    get_certificate_authority,
    list_certificate_requests,
    get_certificate_request,
    approve_certificate_request,
    reject_certificate_request,
    put_certificate_signing,
    get_certificate_signing,
]
