"""SignedUpdateFirmware jobs (security extension): a firmware update whose image carries a
signature the charger verifies against its installed ManufacturerRootCertificate.

The signature is the operator's (given with the request: the signing certificate must be a
PEM X.509 certificate and the signature must verify over the image's bytes, or 400: a charger
would only answer InvalidSignature later) or ocppd's own (`<data-dir>/ca/firmware-signing.*`
from `ocppd ca init`; 409 when there is none). Signature: base64 of the signing key's
signature over the file's bytes with SHA-256 (ECDSA: DER; RSA: PKCS#1 v1.5). To send a
deliberately wrong one (testing a charger), use the command route SignedUpdateFirmware.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography import x509
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.api.jobs import LONGEST_TOKEN, Job, bounded_location, start
from ocppd.api.operator_input import utc
from ocppd.api.problems import Problem, ProblemException
from ocppd.api.system import System
from ocppd.api.uploads import file_store
from ocppd.csms import certificate_authority as ca
from ocppd.csms import jobs
from ocppd.protocol import security as s
from ocppd.protocol.datatypes import Firmware
from ocppd.protocol.enums import UpdateFirmwareStatus

OPERATOR = "operator"
OCPPD = "ocppd"

GOING_ON = frozenset({UpdateFirmwareStatus.ACCEPTED, UpdateFirmwareStatus.ACCEPTED_CANCELED})
"""Answers after which the charger works on the update; any other ends the job."""


async def update(
    system: System,
    charge_point_id: str,
    asked: Any,
    image: Any,
    retrieve: datetime,
    link_prefix: Callable[[str], str],
    force: bool,
    transport: str = jobs.HTTP,
) -> Job:
    """Sign (or check the operator's signature of) `image`, open the job, send
    SignedUpdateFirmware; `asked` is the API's FirmwareUpdateRequest; `link_prefix` the
    location of a token (`jobs.link_prefix`)."""
    bounded_location(link_prefix(LONGEST_TOKEN))  # 409 before a job is opened
    path = file_store(system).path(jobs.FIRMWARE, image.id)
    signature, signed_by = await _signature(system, asked, path)
    install = utc("installDate", asked.install_date)
    request_id = jobs.new_request_id()

    def command(token: str) -> s.SignedUpdateFirmwareRequest:
        return s.SignedUpdateFirmwareRequest(
            request_id=request_id,
            firmware=Firmware(
                location=bounded_location(link_prefix(token), image.name),
                retrieve_date_time=retrieve,
                signing_certificate=signature.signing_certificate,
                signature=signature.signature,
                install_date_time=UNSET if install is None else install,
            ),
            retries=UNSET if asked.retries is None else asked.retries,
            retry_interval=UNSET if asked.retry_interval is None else asked.retry_interval,
        )

    fields = {
        "firmware_id": image.id,
        "retrieve_date": retrieve,
        "retries": asked.retries,
        "retry_interval": asked.retry_interval,
        "request_id": request_id,
        "signature": signature.signature,
        "signing_certificate": signature.signing_certificate,
        "signed_by": signed_by,
    }
    return await start(
        system,
        charge_point_id,
        jobs.FIRMWARE,
        fields,
        command,
        _answered,
        usable_from=retrieve,
        force=force,
        transport=transport,
    )


async def _signature(system: System, asked: Any, path: Any) -> tuple[ca.FirmwareSignature, str]:
    if asked.signature is None and asked.signing_certificate is None:
        return await asyncio.to_thread(_ours, system, path), OCPPD
    if asked.signature is None or asked.signing_certificate is None:
        given, missing = (
            ("signature", "signingCertificate")
            if asked.signing_certificate is None
            else ("signingCertificate", "signature")
        )
        raise _invalid(missing, f"{given} without {missing}: give both, or neither")
    try:
        x509.load_pem_x509_certificate(asked.signing_certificate.encode())
    except ValueError:
        raise _invalid("signingCertificate", "not a PEM X.509 certificate") from None
    # Off the event loop: the image may be as large as the upload limit.
    verified = await asyncio.to_thread(
        ca.verify_firmware_file_signature, path, asked.signature, asked.signing_certificate
    )
    if not verified:
        raise _invalid(
            "signature", "does not verify over the image with the signing certificate's key"
        )
    return ca.FirmwareSignature(asked.signature, asked.signing_certificate), OPERATOR


def _ours(system: System, path: Any) -> ca.FirmwareSignature:
    files = ca.CaFiles.of(system.settings.data_dir)
    if not files.firmware_cert.is_file() or not files.firmware_key.is_file():
        raise ProblemException(
            Problem(
                status=409,
                error="not sent: ocppd has no firmware-signing key "
                f"({files.firmware_cert}; `ocppd ca init` makes one), and the request gives "
                "no signature",
                field="signature",
                reason="no firmware-signing key",
            )
        )
    try:
        return files.firmware_signer().sign_file(path)
    except (OSError, ValueError) as error:
        raise ProblemException(
            Problem(status=409, error=f"not sent: the firmware-signing key is unusable: {error}")
        ) from None


async def _answered(
    db: AsyncConnection, job_id: int, response: s.SignedUpdateFirmwareResponse
) -> None:
    if response.status not in GOING_ON:
        await jobs.ended_by_answer(db, job_id, str(response.status))


def _invalid(field: str, reason: str) -> ProblemException:
    return ProblemException(
        Problem(status=400, error=f"invalid {field}: {reason}", field=field, reason=reason)
    )
