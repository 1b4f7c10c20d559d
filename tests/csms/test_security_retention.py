"""What a hostile charger can make ocppd store or compute for its security: certificate
requests rejected without a certificate (a SignCertificate loop) go with the security
events' retention; the CA's key is not loaded again for each request."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect

from ocppd.csms import certificate_requests, models, registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.certificate_authority import key_pem, load_authority, pem
from ocppd.csms.settings import Settings
from tests.api.test_certificate_authority import make_csr
from tests.csms.conftest import FixedClock, RunningServer
from tests.csms.test_security_events import ask, booted, charger
from tests.servers import serving


async def requests(server: RunningServer) -> list[Any]:
    table = models.certificate_requests
    async with server.system.engine.connect() as db:
        query = sa.select(table.c.status, table.c.reason, table.c.serial_number)
        return list((await db.execute(query.order_by(table.c.id))).all())


async def test_rejected_certificate_requests_are_pruned_after_the_retention(
    server: RunningServer, clock: FixedClock
) -> None:
    async with charger(server) as ws:
        await booted(ws)
        for n in range(3):
            answer = await ask(ws, "SignCertificate", {"csr": f"not a CSR {n}"}, f"old{n}")
            assert answer == [3, f"old{n}", {"status": "Rejected"}]
        # An operator's no to a request already signed: the record of an issued certificate.
        async with server.system.engine.begin() as db:
            await db.execute(
                models.certificate_requests.insert().values(
                    charge_point_id="CP1",
                    csr="-----BEGIN CERTIFICATE REQUEST-----",
                    status="rejected",
                    serial_number="0a1b",
                    requested_at=clock.now,
                    decided_at=clock.now,
                )
            )
        clock.now += timedelta(days=Settings().security_event_retention_days + 1)
        answer = await ask(ws, "SignCertificate", {"csr": "not a CSR either"}, "new")
        assert answer == [3, "new", {"status": "Rejected"}]
    assert len(await requests(server)) == 5
    assert await server.system.prune_security_events() == 3
    kept = await requests(server)
    assert [(row.status, row.serial_number) for row in kept] == [
        ("rejected", "0a1b"),
        ("rejected", None),
    ]


def rsa_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """An operator's RSA CA (`--ca-cert/--ca-key`), written as PEM files into `directory`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    for path, content in ((cert_path, pem(certificate).encode()), (key_path, key_pem(key))):
        staged = path.with_suffix(".new")
        staged.write_bytes(content)
        staged.replace(path)  # a new file, as an operator's tools would write it
    return cert_path, key_path


async def test_a_signcertificate_loop_does_not_load_the_ca_key_each_time(
    engine: AsyncEngine, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading an RSA key checks it (a fraction of a second of the event loop's CPU): the CA
    is loaded once, and again only when its files change."""
    loads: list[Path] = []

    def counted(cert_path: Path, key_path: Path) -> Any:
        loads.append(cert_path)
        return load_authority(cert_path, key_path)

    monkeypatch.setattr(certificate_requests, "load_authority", counted)
    cert_path, key_path = rsa_ca(tmp_path, "Operator CA 1")
    system = CentralSystem(Settings(ca_cert=cert_path, ca_key=key_path), clock=clock, engine=engine)
    await system.start()
    try:
        async with serving(system) as port:
            server = RunningServer(system, port)
            async with system.engine.begin() as db:
                await registration.register(db, "CP1")
                await db.execute(
                    models.charge_points.update()
                    .where(models.charge_points.c.id == "CP1")
                    .values(security_extension=True)
                )
            csr = make_csr(ec.generate_private_key(ec.SECP256R1()))
            async with connect(server.url("CP1"), subprotocols=["ocpp1.6"]) as ws:
                await booted(ws)
                for n in range(3):
                    answer = await ask(ws, "SignCertificate", {"csr": csr}, f"s{n}")
                    assert answer == [3, f"s{n}", {"status": "Accepted"}]
                assert len(loads) == 1
                rsa_ca(tmp_path, "Operator CA 2")
                answer = await ask(ws, "SignCertificate", {"csr": csr}, "after")
                assert answer == [3, "after", {"status": "Accepted"}]
                assert len(loads) == 2
                authority = certificate_requests.signing_authority(system.settings)
                assert authority is not None
                assert "Operator CA 2" in authority.certificate.subject.rfc4514_string()
    finally:
        await system.stop()
