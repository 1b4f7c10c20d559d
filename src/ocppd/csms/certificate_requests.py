"""Chargers' certificate requests (SignCertificate), from the CSR to the certificate in use.

1. A SignCertificate's CSR is checked (`certificate_authority.check_request`: PEM, its
   signature, RSA >= 2048 or EC >= 224 bits, subject CN = the charger's identity, or its
   chargePointSerialNumber with `--client-certificate-cn serial-number`). The charger is
   answered Accepted when it is well formed and will be processed, Rejected otherwise (the
   white paper); either way the request is stored (status `pending` or `rejected`, with the
   reason) and `CertificateRequested` is published. A new pending request rejects the
   charger's older pending ones ("superseded"): it holds the key of its newest CSR only.
2. A pending request is signed at once when the charger's policy (`charge_points
   .certificate_signing`, else `--certificate-signing`) is `auto`; else it waits for an
   operator (`approve`, `reject`: the API and the dashboard).
3. Approving signs it (status `signed`: serial and certificate stored) and sends
   CertificateSigned with the chain, leaf then CA (`sent` while it waits for the answer); the
   charger's answer is stored (`accepted`, or `refused` for Rejected) and `CertificateSent`
   is published. A request whose sending failed (not connected, no answer, a chain longer
   than the charger's CertificateSignedMaxChainSize) stays `signed` with the reason;
   approving it again sends the same certificate, and so does the charger's next accepted
   BootNotification when it is still its newest request (it was away when it was signed).
4. When the charger connects with the issued certificate (the `Connected` event's
   `clientCertificate.serialNumber`), the request is `in-use`.

No CA (neither `<data-dir>/ca/` nor `--ca-cert/--ca-key`), or a charger whose
`securityExtension` is off (CertificateSigned could not be sent to it: `security_settings`):
requests are answered Rejected, stored with that reason.
"""

import asyncio
import functools
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.certificate_authority import (
    MAX_CHAIN_CHARACTERS,
    Authority,
    CaFiles,
    CaUnreadable,
    CsrRefused,
    check_request,
    load_authority,
    pem,
    serial_hex,
)
from ocppd.csms.events import Event
from ocppd.csms.models import certificate_requests, charge_points, configuration
from ocppd.csms.settings import CertificateName, CertificateSigning, Settings
from ocppd.csms.system_services import SystemServices
from ocppd.protocol import security as s
from ocppd.protocol.enums import CertificateSignedStatus, GenericStatus, RegistrationStatus

log = logging.getLogger("ocppd.csms.certificate_requests")

PENDING = "pending"
APPROVED = "approved"
SIGNED = "signed"
SENT = "sent"
ACCEPTED = "accepted"
REFUSED = "refused"
"""The charger answered CertificateSigned Rejected (it found the chain invalid)."""
REJECTED = "rejected"
"""The CSR failed its checks, or an operator rejected it."""
IN_USE = "in-use"
STATUSES = (PENDING, APPROVED, SIGNED, SENT, ACCEPTED, REFUSED, REJECTED, IN_USE)
APPROVABLE = frozenset({PENDING, SIGNED})
MAX_CHAIN_KEY = "certificatesignedmaxchainsize"


class ChainTooLong(ValueError):
    """A CertificateSigned whose chain the charger's CertificateSignedMaxChainSize refuses."""


class RequestConflict(ValueError):
    """An approval or rejection of a request in a status that does not allow it."""


class UnknownRequest(LookupError):
    pass


def signing_authority(settings: Settings) -> Authority | None:
    """The CA that signs chargers' certificates: `--ca-cert/--ca-key`, else `<data-dir>/ca/`
    when `ocppd ca init` made one; None when there is none. Read on each use: a CA made while
    ocppd runs is used at once."""
    if settings.ca_cert is not None and settings.ca_key is not None:
        return _loaded(settings.ca_cert, settings.ca_key)
    files = CaFiles.of(settings.data_dir)
    if not files.ca_cert.exists():
        return None
    return _loaded(files.ca_cert, files.ca_key)


def _loaded(cert_path: Path, key_path: Path) -> Authority:
    """The CA of these files, loaded again only when one of them changed: loading an RSA
    key checks it, which takes a fraction of a second of the event loop's CPU (measured
    140-700 ms for 3072-4096 bits on a loaded machine), and a charger may send
    SignCertificate in a loop."""
    try:
        versions = (_version(cert_path), _version(key_path))
    except OSError:
        return load_authority(cert_path, key_path)  # raises CaUnreadable naming the file
    return _load_version(cert_path, key_path, versions)


def _version(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_version(cert_path: Path, key_path: Path, versions: object) -> Authority:
    return load_authority(cert_path, key_path)


def trusted_ca_file(settings: Settings) -> Path | None:
    """The certificate of the CA that signs chargers' certificates, for the TLS server to
    trust client certificates it issued (beside `--tls-client-ca`)."""
    if settings.ca_cert is not None:
        return settings.ca_cert
    path = CaFiles.of(settings.data_dir).ca_cert
    return path if path.exists() else None


async def prune_rejected(system: SystemServices, retention: timedelta) -> int:
    """Delete the requests rejected more than `retention` ago that never got a certificate
    (failed checks, superseded, an operator's no); how many went. A charger may send
    SignCertificate in a loop, and each is stored: these rows last the retention (ocppd
    uses the security events'), not forever. Requests with a certificate stay: they are the
    record of what the CA issued."""
    t = certificate_requests
    cutoff = system.clock() - retention
    async with system.engine.begin() as db:
        result = await db.execute(
            t.delete().where(
                t.c.status == REJECTED, t.c.serial_number.is_(None), t.c.decided_at < cutoff
            )
        )
    return int(result.rowcount or 0)


class CertificateServices(SystemServices, Protocol):
    """Besides the shared services: sending a request to a charger (`CentralSystem.call`)."""

    async def call(self, identity: str, request: Any, timeout: float | None = None) -> Any: ...


@dataclass(frozen=True)
class Decision:
    """The outcome of an approval: the stored request, and why sending failed if it did."""

    request: dict[str, Any]
    error: str | None = None


class CertificateRequests:
    def __init__(self, system: CertificateServices) -> None:
        self.system = system
        self._tasks: set[asyncio.Task[Any]] = set()
        system.checks.setdefault("CertificateSigned", []).append(self.check_chain)
        system.events.watch("Connected", self._connected)
        system.events.watch("BootNotification", self._booted)

    # From the charger

    async def received(
        self, charge_point_id: str, request: s.SignCertificateRequest
    ) -> s.SignCertificateResponse:
        now = self.system.clock()
        row: dict[str, Any] = {
            "charge_point_id": charge_point_id,
            "csr": request.csr,
            "requested_at": now,
        }
        async with self.system.engine.connect() as db:
            expected, policy, extension = await self._charger_facts(db, charge_point_id)
        try:
            if not extension:
                raise CsrRefused(
                    "CertificateSigned could not be sent: the charger's security extension "
                    "is off in ocppd (securityExtension)"
                )
            if expected is None:
                raise CsrRefused(
                    "the charger's chargePointSerialNumber is unknown (no BootNotification "
                    "named one), and --client-certificate-cn is serial-number"
                )
            checked = check_request(request.csr, expected)
            row.update(
                subject=checked.subject, key_type=checked.key_type, key_bits=checked.key_bits
            )
            if self._authority() is None:
                raise CsrRefused("ocppd has no CA to sign it (ocppd ca init, or --ca-cert)")
            row["status"] = PENDING
        except (CsrRefused, CaUnreadable) as refused:
            row.update(status=REJECTED, reason=str(refused), decided_at=now)
        request_id = await self._insert(row)
        self.system.events.publish(
            "CertificateRequested",
            charge_point_id,
            now,
            requestId=request_id,
            status=row["status"],
            reason=row.get("reason"),
            subject=row.get("subject"),
        )
        if row["status"] == REJECTED:
            log.info(
                "%s: certificate request %d rejected: %s",
                charge_point_id,
                request_id,
                row["reason"],
            )
            return s.SignCertificateResponse(status=GenericStatus.REJECTED)
        if policy is CertificateSigning.AUTO:
            self._spawn(self._approve_quietly(request_id))
        return s.SignCertificateResponse(status=GenericStatus.ACCEPTED)

    async def _charger_facts(
        self, db: AsyncConnection, charge_point_id: str
    ) -> tuple[str | None, CertificateSigning, bool]:
        c = charge_points.c
        row = (
            await db.execute(
                sa.select(
                    c.charge_point_serial_number, c.certificate_signing, c.security_extension
                ).where(c.id == charge_point_id)
            )
        ).first()
        serial = row.charge_point_serial_number if row else None
        own = row.certificate_signing if row else None
        policy = CertificateSigning(own) if own else self.system.settings.certificate_signing
        by_serial = self.system.settings.client_certificate_cn is CertificateName.SERIAL_NUMBER
        expected = serial if by_serial else charge_point_id
        return expected, policy, bool(row and row.security_extension)

    def _authority(self) -> Authority | None:
        return signing_authority(self.system.settings)

    async def _insert(self, row: dict[str, Any]) -> int:
        """Stored; a new pending request supersedes the charger's older pending ones: it
        keeps the private key of its newest CSR only, and a certificate for an older key
        would be refused (or worse, accepted and unusable)."""
        t = certificate_requests

        async def insert(db: AsyncConnection) -> int:
            result = await db.execute(t.insert().values(row).returning(t.c.id))
            request_id = int(result.scalar_one())
            if row["status"] == PENDING:
                await db.execute(
                    t.update()
                    .where(
                        t.c.charge_point_id == row["charge_point_id"],
                        t.c.status == PENDING,
                        t.c.id < request_id,
                    )
                    .values(
                        status=REJECTED,
                        decided_at=row["requested_at"],
                        reason=f"superseded by request {request_id}",
                    )
                )
            return request_id

        request_id: int = await self.system.writer.commit([], insert)
        return request_id

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _approve_quietly(self, request_id: int) -> None:
        # After the SignCertificate answer: the charger expects CertificateSigned after it.
        await asyncio.sleep(0)
        try:
            await self.approve(request_id)
        except Exception:
            log.exception("certificate request %d: automatic signing failed", request_id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # From an operator (or the `auto` policy)

    async def approve(self, request_id: int) -> Decision:
        """Sign a pending request and send the chain (or send a signed one again); returns
        the stored request with why sending failed, if it did."""
        row = await self.get(request_id)
        if row["status"] not in APPROVABLE:
            raise RequestConflict(
                f"certificate request {request_id} is {row['status']}; only a pending or "
                "signed one can be approved"
            )
        authority = self._authority()
        if authority is None:
            raise RequestConflict("ocppd has no CA to sign it (ocppd ca init, or --ca-cert)")
        now = self.system.clock()
        if row["status"] == PENDING:
            certificate = self._sign(row, authority, now)
            row = await self._update(
                request_id,
                {PENDING},
                status=SIGNED,
                decided_at=now,
                serial_number=serial_hex(certificate),
                certificate=pem(certificate),
                reason=None,
            )
        return await self._send(row, authority)

    def _sign(self, row: dict[str, Any], authority: Authority, now: datetime) -> x509.Certificate:
        # Checked again (its CN was checked on receipt): the CA signs only what passes.
        checked = check_request(row["csr"], None)
        return authority.sign_request(checked, now)

    async def _send(self, row: dict[str, Any], authority: Authority) -> Decision:
        request_id = row["id"]
        chain = row["certificate"] + pem(authority.certificate)
        row = await self._update(
            request_id, {SIGNED}, status=SENT, sent_at=self.system.clock(), reason=None
        )
        try:
            answer = await self.system.call(
                row["charge_point_id"], s.CertificateSignedRequest(certificate_chain=chain)
            )
        except Exception as error:
            reason = f"not sent: {error}" if isinstance(error, ChainTooLong) else str(error)
            reason = reason or type(error).__name__
            stored = await self._update(request_id, {SENT}, status=SIGNED, reason=reason)
            return Decision(stored, reason)
        now = self.system.clock()
        accepted = answer.status == CertificateSignedStatus.ACCEPTED
        stored = await self._update(
            request_id,
            {SENT},
            status=ACCEPTED if accepted else REFUSED,
            answered_at=now,
            charger_answer=str(answer.status),
            reason=None if accepted else "the charger answered CertificateSigned Rejected",
        )
        self.system.events.publish(
            "CertificateSent",
            row["charge_point_id"],
            now,
            requestId=request_id,
            serialNumber=row["serial_number"],
            status=str(answer.status),
        )
        return Decision(stored)

    async def reject(self, request_id: int, reason: str | None) -> dict[str, Any]:
        row = await self.get(request_id)
        if row["status"] != PENDING:
            raise RequestConflict(
                f"certificate request {request_id} is {row['status']}; only a pending one "
                "can be rejected"
            )
        return await self._update(
            request_id,
            {PENDING},
            status=REJECTED,
            decided_at=self.system.clock(),
            reason=reason or "rejected by an operator",
        )

    # Storage

    async def get(self, request_id: int) -> dict[str, Any]:
        async with self.system.engine.connect() as db:
            row = (
                await db.execute(
                    sa.select(certificate_requests).where(certificate_requests.c.id == request_id)
                )
            ).first()
        if row is None:
            raise UnknownRequest(f"no certificate request {request_id}")
        return dict(row._mapping)

    async def _update(self, request_id: int, allowed: set[str], **values: Any) -> dict[str, Any]:
        """Only from a status in `allowed`: two operators approving at once sign once."""
        t = certificate_requests

        async def update(db: AsyncConnection) -> Any:
            result = await db.execute(
                t.update()
                .where(t.c.id == request_id, t.c.status.in_(allowed))
                .values(values)
                .returning(*t.c)
            )
            return result.first()

        row = await self.system.writer.commit([], update)
        if row is None:
            current = await self.get(request_id)
            raise RequestConflict(
                f"certificate request {request_id} is {current['status']} (changed meanwhile)"
            )
        return dict(row._mapping)

    # Before CertificateSigned leaves; on a connection with a client certificate

    async def check_chain(self, charge_point_id: str, request: s.CertificateSignedRequest) -> None:
        """Not longer than the charger's CertificateSignedMaxChainSize (as its GetConfiguration
        reported it; never reported: the field's own 10,000)."""
        size = len(request.certificate_chain)
        c = configuration.c
        async with self.system.engine.connect() as db:
            value = (
                await db.execute(
                    sa.select(c.value).where(
                        c.charge_point_id == charge_point_id,
                        c.known.is_(True),
                        sa.func.lower(c.key) == MAX_CHAIN_KEY,
                    )
                )
            ).scalar()
        most = MAX_CHAIN_CHARACTERS
        if value is not None and (digits := value.strip()).isascii() and digits.isdigit():
            most = min(most, int(digits))
        if size > most:
            raise ChainTooLong(
                f"a certificate chain of {size} characters; the charger's "
                f"CertificateSignedMaxChainSize is {most}"
            )

    def _connected(self, event: Event) -> None:
        certificate = event.data.get("clientCertificate")
        if not isinstance(certificate, dict):
            return
        serial = certificate.get("serialNumber")
        if not isinstance(serial, str):
            return
        try:
            serial = format(int(serial, 16), "x")
        except ValueError:
            return
        self._spawn(self._in_use(event.charge_point_id, serial, event.at))

    def _booted(self, event: Event) -> None:
        if event.data.get("status") == str(RegistrationStatus.ACCEPTED):
            self._spawn(self._send_unsent(event.charge_point_id))

    async def _send_unsent(self, charge_point_id: str) -> None:
        """A certificate signed while its charger was away (CertificateSigned could not be
        sent, the request stays `signed`) goes out when the charger is back and accepted:
        it made the CSR for it and waits for the chain. Only its newest request: an older
        one is for a key it no longer holds."""
        await asyncio.sleep(0)  # after the BootNotification answer
        t = certificate_requests
        async with self.system.engine.connect() as db:
            newest = (
                await db.execute(
                    sa.select(t.c.id, t.c.status)
                    .where(t.c.charge_point_id == charge_point_id)
                    .order_by(t.c.id.desc())
                    .limit(1)
                )
            ).first()
        if newest is None or newest.status != SIGNED:
            return
        try:
            decision = await self.approve(newest.id)
        except RequestConflict:
            return  # sent meanwhile (an operator approved it again)
        except Exception:
            log.exception("%s: certificate request %d not sent", charge_point_id, newest.id)
            return
        log.info(
            "%s: certificate request %d sent again after its boot: %s",
            charge_point_id,
            newest.id,
            decision.error or decision.request["status"],
        )

    async def issued_to(self, serial: str) -> str | None:
        """The charger whose request ocppd issued the certificate of this serial number (hex,
        as `serial_hex`) for, or None when ocppd did not issue it (an operator's CA)."""
        t = certificate_requests

        async def read(db: AsyncConnection) -> str | None:
            query = sa.select(t.c.charge_point_id).where(t.c.serial_number == serial).limit(1)
            return (await db.execute(query)).scalar()

        owner: str | None = await self.system.writer.commit([], read)
        return owner

    async def _in_use(self, charge_point_id: str, serial: str, at: datetime) -> None:
        t = certificate_requests

        async def update(db: AsyncConnection) -> None:
            await db.execute(
                t.update()
                .where(
                    t.c.charge_point_id == charge_point_id,
                    t.c.serial_number == serial,
                    t.c.status.in_([SENT, ACCEPTED, SIGNED]),
                )
                .values(status=IN_USE, in_use_at=at)
            )

        try:
            await self.system.writer.commit([], update)
        except Exception:
            log.exception("%s: recording the certificate in use failed", charge_point_id)
