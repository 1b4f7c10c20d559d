"""A charger's certificate from ocppd's own CA, over real TLS on loopback: it connects on
profile 2 (TLS, Basic auth) with `ocppd ca init`'s server certificates, sends a real CSR,
gets the chain signed at once (`--certificate-signing auto`), and connects again on profile
3 with that certificate alone (no `--tls-client-ca`: the signing CA is trusted); the request
is then in use."""

import asyncio
import base64
import ssl
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect

from ocppd.csms import models, registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.certificate_authority import CaFiles, key_pem
from ocppd.csms.settings import CertificateSigning, Settings
from tests.api.test_certificate_authority import make_csr
from tests.eventually import eventually
from tests.servers import serving_tls

KEY = "00112233445566778899aabbccddeeff"
BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


async def test_signed_over_profile_2_then_connected_on_profile_3_with_it(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    files = CaFiles.of(data_dir)
    authority = files.initialize(datetime.now(UTC))
    settings = Settings(
        data_dir=data_dir,
        tls_cert=files.server_rsa_cert,
        tls_key=files.server_rsa_key,
        tls_ecdsa_cert=files.server_cert,
        tls_ecdsa_key=files.server_key,
        certificate_signing=CertificateSigning.AUTO,
    )
    system = CentralSystem(settings, engine=engine)
    await system.start()
    try:
        async with system.engine.begin() as db:
            await registration.register(db, "CP1", auth_key=KEY)
            await db.execute(
                models.charge_points.update()
                .where(models.charge_points.c.id == "CP1")
                .values(security_profile=2, security_extension=True)
            )
        async with serving_tls(system) as (_, tls_port, _context):
            url = f"wss://127.0.0.1:{tls_port}/ocpp/CP1"
            trust = ssl.create_default_context(cafile=files.ca_cert)
            token = base64.b64encode(f"CP1:{KEY}".encode()).decode()
            key = ec.generate_private_key(ec.SECP256R1())
            async with connect(
                url,
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers={"Authorization": f"Basic {token}"},
                ssl=trust,
                open_timeout=30,
            ) as ws:
                await ws.send(BOOT)
                assert msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))[0] == 3
                csr = make_csr(key, "CP1")
                sign = [2, "s1", "SignCertificate", {"csr": csr}]
                await ws.send(msgspec.json.encode(sign).decode())
                chain = None
                while chain is None:
                    frame = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 60))
                    if frame[0] == 3:
                        assert frame[2] == {"status": "Accepted"}
                    elif frame[0] == 2 and frame[2] == "CertificateSigned":
                        chain = frame[3]["certificateChain"]
                        answer = [3, frame[1], {"status": "Accepted"}]
                        await ws.send(msgspec.json.encode(answer).decode())
            leaf = x509.load_pem_x509_certificates(chain.encode())[0]
            leaf.verify_directly_issued_by(authority.certificate)

            # The charger installs it and moves to profile 3.
            async with system.engine.begin() as db:
                await db.execute(
                    models.charge_points.update()
                    .where(models.charge_points.c.id == "CP1")
                    .values(security_profile=3)
                )
            (tmp_path / "cp1.pem").write_text(chain)
            (tmp_path / "cp1.key").write_bytes(key_pem(key))
            mutual = ssl.create_default_context(cafile=files.ca_cert)
            mutual.load_cert_chain(tmp_path / "cp1.pem", tmp_path / "cp1.key")
            async with connect(
                url,
                subprotocols=["ocpp1.6"],
                ssl=mutual,
                open_timeout=30,  # type: ignore[list-item]
            ) as ws:
                await ws.send(BOOT)
                assert msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))[0] == 3

                async def in_use() -> bool:
                    async with system.engine.connect() as db:
                        row = (
                            await db.execute(
                                sa.select(
                                    models.certificate_requests.c.status,
                                    models.certificate_requests.c.serial_number,
                                )
                            )
                        ).one()
                    return tuple(row) == ("in-use", format(leaf.serial_number, "x"))

                await eventually(in_use, "the request recorded in use")
    finally:
        await system.stop()
