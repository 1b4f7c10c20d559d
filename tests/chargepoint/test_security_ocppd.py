"""The simulator against ocppd's own central system over real TLS: ocppd's CA (`ocppd ca
init`'s files) for the server certificate and the charger's, the plain port and the TLS
port served as `ocppd serve --tls-port` serves them, chargers registered at a profile."""

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ocppd.chargepoint import Clock, Station
from ocppd.chargepoint.security import SecuritySettings
from ocppd.csms import models, registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.certificate_authority import Authority, CaFiles, check_request, pem
from ocppd.csms.settings import Settings
from ocppd.protocol import messages as m
from ocppd.protocol import security as s
from ocppd.protocol.datatypes import Firmware
from ocppd.protocol.enums import (
    CertificateUse,
    ConfigurationStatus,
    ExtendedMessageTrigger,
    ResetType,
)
from ocppd.transport.client import ClientOptions
from tests.chargepoint.test_files import FileServer, file_server
from tests.chargepoint.test_security import KEY, WAIT
from tests.databases import engine_for
from tests.eventually import eventually
from tests.servers import serving_tls

FAST = 200.0


@dataclass
class Ocppd:
    system: CentralSystem
    port: int
    tls_port: int
    authority: Authority
    ca_file: Path
    files: CaFiles

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    @property
    def tls_url(self) -> str:
        return f"wss://127.0.0.1:{self.tls_port}/ocpp"

    async def register(self, identity: str, profile: int, key: str | None = KEY) -> None:
        async with self.system.engine.begin() as connection:
            await registration.register(connection, identity, auth_key=key)
            await connection.execute(
                models.charge_points.update()
                .where(models.charge_points.c.id == identity)
                .values(security_profile=profile, security_extension=True)
            )

    async def stored_profile(self, identity: str) -> int:
        async with self.system.engine.connect() as connection:
            column = models.charge_points.c
            query = sa.select(column.security_profile).where(column.id == identity)
            return int(await connection.scalar(query))

    async def charger_events(self, identity: str) -> list[str]:
        table = models.security_events
        async with self.system.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(table.c.type)
                .where(table.c.charge_point_id == identity, table.c.source == "charger")
                .order_by(table.c.id)
            )
        return [row[0] for row in rows]

    async def received(self, identity: str, action: str) -> list[Any]:
        """The payloads of the `action` calls the charger sent, from the message log."""
        table = models.messages
        async with self.system.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(table.c.payload).where(
                    table.c.charge_point_id == identity,
                    table.c.action == action,
                    table.c.message_type == 2,
                )
            )
        return [json.loads(row[0])[3] for row in rows]

    async def call(self, identity: str, request: Any) -> Any:
        await eventually(lambda: identity in self.system.connections, f"{identity} connected")
        return await self.system.call(identity, request, timeout=WAIT)


@pytest.fixture
def http() -> Iterator[FileServer]:
    with file_server() as server:
        yield server


@pytest.fixture
async def ocppd(tmp_path: Path) -> AsyncIterator[Ocppd]:
    files = CaFiles.of(tmp_path / "data")
    authority = files.initialize(datetime.now(UTC))
    settings = Settings(
        tls_cert=files.server_cert, tls_key=files.server_key, tls_client_ca=files.ca_cert
    )
    async for engine in engine_for("sqlite", tmp_path):
        system = CentralSystem(settings, engine=engine)
        await system.start()
        try:
            async with serving_tls(system) as (port, tls_port, _):
                yield Ocppd(system, port, tls_port, authority, files.ca_cert, files)
        finally:
            await system.stop()


def station(ocppd: Ocppd, identity: str, state_dir: Path | None = None, **settings: Any) -> Station:
    return Station(
        ocppd.url,
        identity,
        clock=Clock(speed=FAST),
        state_dir=state_dir,
        client_options=ClientOptions(password=KEY),
        security=SecuritySettings(tls_url=ocppd.tls_url, extension=True, **settings),
    )


async def test_profiles_2_and_3_connect_to_ocppd(ocppd: Ocppd, tmp_path: Path) -> None:
    await ocppd.register("P2", 2)
    await ocppd.register("P3", 3, key=None)
    leaf = ocppd.authority.sign_request(
        check_request(_csr("P3", tmp_path), "P3"), datetime.now(UTC)
    )
    (tmp_path / "p3.pem").write_text(ocppd.authority.chain(leaf))
    ca = str(ocppd.ca_file)
    p2 = station(ocppd, "P2", profile=2, ca_file=ca)
    p3 = station(
        ocppd,
        "P3",
        profile=3,
        ca_file=ca,
        client_cert=str(tmp_path / "p3.pem"),
        client_key=str(tmp_path / "p3.key"),
    )
    async with p2, p3:
        await p2.boot(timeout=WAIT)
        await p3.boot(timeout=WAIT)
        for identity in ("P2", "P3"):
            await eventually(
                lambda i=identity: _has(ocppd.charger_events(i), "StartupOfTheDevice"),
                f"{identity}'s StartupOfTheDevice stored",
            )
    assert [await ocppd.stored_profile(i) for i in ("P2", "P3")] == [2, 3]


async def test_the_upgrade_path_from_1_to_3(ocppd: Ocppd, tmp_path: Path) -> None:
    await ocppd.register("UP", 1)
    cp = station(ocppd, "UP", profile=1, state_dir=tmp_path / "state")
    async with cp:
        await cp.boot(timeout=WAIT)
        to_2 = m.ChangeConfigurationRequest(key="SecurityProfile", value="2")
        assert (await ocppd.call("UP", to_2)).status == ConfigurationStatus.REJECTED  # no root
        root = s.InstallCertificateRequest(
            certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE,
            certificate=pem(ocppd.authority.certificate),
        )
        assert (await ocppd.call("UP", root)).status == "Accepted"
        assert (await ocppd.call("UP", to_2)).status == ConfigurationStatus.ACCEPTED
        await eventually(lambda: _equals(ocppd.stored_profile("UP"), 2), "raised to 2")

        trigger = s.ExtendedTriggerMessageRequest(
            requested_message=ExtendedMessageTrigger.SIGN_CHARGE_POINT_CERTIFICATE
        )
        assert (await ocppd.call("UP", trigger)).status == "Accepted"
        await eventually(lambda: _some(ocppd.received("UP", "SignCertificate")), "a CSR")
        [request] = await ocppd.received("UP", "SignCertificate")
        checked = check_request(request["csr"], "UP")  # ocppd's own CSR checks pass
        leaf = ocppd.authority.sign_request(checked, datetime.now(UTC))
        signed = s.CertificateSignedRequest(certificate_chain=ocppd.authority.chain(leaf))
        assert (await ocppd.call("UP", signed)).status == "Accepted"

        to_3 = m.ChangeConfigurationRequest(key="SecurityProfile", value="3")
        assert (await ocppd.call("UP", to_3)).status == ConfigurationStatus.ACCEPTED
        await eventually(lambda: _equals(ocppd.stored_profile("UP"), 3), "raised to 3")
        await eventually(
            lambda: _has(ocppd.charger_events("UP"), "ReconfigurationOfSecurityParameters"),
            "the changes reported",
        )
    assert cp.security.profile == 3 and cp.security.fallback_profile is None


async def test_a_soft_reset_reports_its_reset_once(ocppd: Ocppd) -> None:
    # The station hangs up for a soft reset once ResetOrReboot is answered, not while it
    # is in flight: else it sends it again after the reboot, and ocppd stores it twice.
    await ocppd.register("RS", 1)
    cp = station(ocppd, "RS", profile=1)
    async with cp:
        await cp.boot(timeout=WAIT)
        await eventually(
            lambda: _has(ocppd.charger_events("RS"), "StartupOfTheDevice"), "the first startup"
        )
        reset = m.ResetRequest(type=ResetType.SOFT)
        assert (await ocppd.call("RS", reset)).status == "Accepted"
        await eventually(
            lambda: _count(ocppd.charger_events("RS"), "StartupOfTheDevice", 2), "the reboot"
        )
    assert await ocppd.charger_events("RS") == [
        "StartupOfTheDevice",
        "ResetOrReboot",
        "StartupOfTheDevice",
    ]


async def test_firmware_signed_by_ocppd_is_verified_and_installed(
    ocppd: Ocppd, http: FileServer
) -> None:
    await ocppd.register("FW", 1)
    cp = station(ocppd, "FW", profile=1)
    async with cp:
        await cp.boot(timeout=WAIT)
        maker = s.InstallCertificateRequest(
            certificate_type=CertificateUse.MANUFACTURER_ROOT_CERTIFICATE,
            certificate=pem(ocppd.authority.certificate),
        )
        assert (await ocppd.call("FW", maker)).status == "Accepted"
        image = b"ocppd firmware 3.0\n" * 5000
        http.files["/fw/ocppd-3.0.bin"] = image
        signature = ocppd.files.firmware_signer().sign(image)  # as ocppd's firmware jobs sign
        update = s.SignedUpdateFirmwareRequest(
            request_id=11,
            firmware=Firmware(
                location=f"{http.url}/fw/ocppd-3.0.bin",
                retrieve_date_time=datetime.now(UTC),
                signing_certificate=signature.signing_certificate,
                signature=signature.signature,
            ),
        )
        assert (await ocppd.call("FW", update)).status == "Accepted"
        await eventually(
            lambda: _has(ocppd.charger_events("FW"), "FirmwareUpdated"), "FirmwareUpdated stored"
        )
        statuses = [
            n["status"] for n in await ocppd.received("FW", "SignedFirmwareStatusNotification")
        ]
        assert "SignatureVerified" in statuses and "InvalidSignature" not in statuses
    assert cp.firmware_version == "ocppd-3.0"


def _csr(identity: str, directory: Path) -> str:
    """A CSR and its key file, as a charger's factory would make them."""
    from ocppd.chargepoint import certificates

    key = certificates.new_key()
    (directory / f"{identity.lower()}.key").write_text(certificates.key_pem(key))
    return certificates.csr_pem(key, identity, "ocppd tests")


async def _has(rows: Any, kind: str) -> bool:
    return kind in await rows


async def _count(rows: Any, kind: str, count: int) -> bool:
    return (await rows).count(kind) == count


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def _some(rows: Any) -> bool:
    return bool(await rows)
