"""Security profiles end to end over real TLS on loopback: the plain port and the TLS port
(`--tls-port`) of one central system, chargers registered at profiles 0-3, client
certificates from a test CA."""

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from ocppd.csms import models, registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.events import Event, Subscription
from ocppd.csms.settings import CertificateName, Settings
from ocppd.transport.tls import ServerContext
from tests.certificates import Pair, TestCa
from tests.csms.conftest import FixedClock
from tests.eventually import eventually
from tests.servers import serving_tls

KEY = "00112233445566778899aabbccddeeff"
FAILED = "FailedToAuthenticateAtCentralSystem"
BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


@dataclass
class Served:
    system: CentralSystem
    port: int
    tls_port: int
    context: ServerContext
    ca: TestCa

    async def register(self, identity: str, profile: int, key: str | None = KEY) -> None:
        async with self.system.engine.begin() as connection:
            await registration.register(connection, identity, auth_key=key)
            await connection.execute(
                models.charge_points.update()
                .where(models.charge_points.c.id == identity)
                .values(security_profile=profile)
            )

    async def security_events(self, identity: str) -> list[tuple[str, str, str]]:
        """Its stored security events: type, techInfo, source."""
        table = models.security_events
        async with self.system.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(table.c.type, table.c.tech_info, table.c.source)
                .where(table.c.charge_point_id == identity)
                .order_by(table.c.id)
            )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    async def stored_profile(self, identity: str) -> int:
        async with self.system.engine.connect() as connection:
            profile = await connection.scalar(
                sa.select(models.charge_points.c.security_profile).where(
                    models.charge_points.c.id == identity
                )
            )
        return int(profile)

    def open(
        self,
        identity: str,
        tls: bool = False,
        key: str | None = None,
        certificate: Pair | None = None,
    ) -> Any:
        """A charger's connection: plain or TLS, with Basic auth and a client certificate."""
        headers = {}
        if key is not None:
            token = base64.b64encode(f"{identity}:{key}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        context = None
        if tls:
            context = ssl.create_default_context(cafile=self.ca.cert)
            if certificate is not None:
                context.load_cert_chain(certificate.cert, certificate.key)
        scheme, port = ("wss", self.tls_port) if tls else ("ws", self.port)
        return connect(
            f"{scheme}://127.0.0.1:{port}/ocpp/{identity}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=headers,
            ssl=context,
            open_timeout=30,
        )

    async def refused(self, identity: str, **how: Any) -> int:
        """The HTTP status the connection is refused with."""
        with pytest.raises(InvalidStatus) as caught:
            async with self.open(identity, **how):
                pass
        assert identity not in self.system.connections
        return caught.value.response.status_code

    async def booted(self, identity: str, **how: Any) -> None:
        async with self.open(identity, **how) as ws:
            await ws.send(BOOT)
            answer = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))
            assert answer[0] == 3 and answer[2]["status"] == "Accepted"


@pytest.fixture
async def served(engine: AsyncEngine, clock: FixedClock, tmp_path: Path) -> AsyncIterator[Served]:
    ca = TestCa(tmp_path / "pki")
    server = ca.server("rsa")
    settings = Settings(tls_cert=server.cert, tls_key=server.key, tls_client_ca=ca.cert)
    system = CentralSystem(settings, clock=clock, engine=engine)
    await system.start()
    try:
        async with serving_tls(system) as (port, tls_port, context):
            yield Served(system, port, tls_port, context, ca)
    finally:
        await system.stop()


async def next_event(events: Subscription, kind: str) -> Event:
    while True:
        event = await events.next(timeout=30)
        assert event is not None, f"no {kind} event"
        if event.type == kind:
            return event


async def test_profiles_1_2_and_3_are_accepted(served: Served) -> None:
    await served.register("P1", 1)
    await served.register("P2", 2)
    await served.register("P3", 3, key=None)
    certificate = served.ca.client("P3")
    events = served.system.events.subscribe()
    await served.booted("P1", key=KEY)
    await served.booted("P2", tls=True, key=KEY)
    await served.booted("P3", tls=True, certificate=certificate)
    connected = [e for e in [await next_event(events, "Connected") for _ in range(3)]]
    assert [e.charge_point_id for e in connected] == ["P1", "P2", "P3"]
    assert "clientCertificate" not in connected[0].data | connected[1].data
    issued = x509.load_pem_x509_certificate(certificate.cert.read_bytes())
    assert connected[2].data["clientCertificate"] == {
        "serialNumber": format(issued.serial_number, "x"),
        "subject": "CN=P3,O=ocppd tests",
        "notAfter": issued.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
        "sha256": issued.fingerprint(hashes.SHA256()).hex(),
    }
    assert [await served.stored_profile(i) for i in ("P1", "P2", "P3")] == [1, 2, 3]


async def test_every_downgrade_is_refused(served: Served) -> None:
    await served.register("P1", 1)
    await served.register("P2", 2)
    await served.register("P3", 3)
    assert await served.refused("P1") == 401  # no Basic auth
    assert await served.refused("P1", tls=True) == 401
    assert await served.refused("P2", key=KEY) == 403  # no TLS
    assert await served.refused("P2") == 403
    assert await served.refused("P2", tls=True) == 401  # TLS without Basic auth
    assert await served.refused("P3", tls=True, key=KEY) == 403  # no client certificate
    assert await served.refused("P3", tls=True) == 403
    assert await served.refused("P3", key=KEY) == 403  # Basic auth only
    assert await served.refused("P3") == 403
    assert [await served.stored_profile(i) for i in ("P1", "P2", "P3")] == [1, 2, 3]
    failed = "FailedToAuthenticateAtCentralSystem"
    said = "security profile 2 required, the connection uses"
    assert await served.security_events("P2") == [
        (failed, f"{said} 1: TLS is required", "central_system"),
        (failed, f"{said} 0: TLS is required", "central_system"),
        (failed, f"{said} 0: HTTP Basic authentication required", "central_system"),
    ]
    assert [info for _, info, _ in await served.security_events("P3")] == [
        f"security profile 3 required, the connection uses {used}: a client certificate is required"
        for used in (2, 0, 1, 0)
    ]
    assert len(await served.security_events("P1")) == 2


async def test_a_wrong_key_is_refused_on_every_profile(served: Served) -> None:
    await served.register("P1", 1)
    await served.register("P2", 2)
    assert await served.refused("P1", key="ffff") == 401
    assert await served.refused("P2", tls=True, key="ffff") == 401


async def test_a_downgrade_is_refused_as_one_whatever_its_key(served: Served) -> None:
    # A profile-3 charger needs no AuthorizationKey (Basic auth is not used on 3): a
    # connection with Basic auth is still a downgrade, answered and recorded as one.
    await served.register("P3", 3, key=None)
    await served.register("P2", 2)
    assert await served.refused("P3", tls=True, key=KEY) == 403
    assert await served.refused("P3", key=KEY) == 403
    # A wrong key on a lower profile: the same answer as the right one, no key oracle.
    assert await served.refused("P2", key="ffff") == 403
    required = "security profile 3 required, the connection uses"
    assert await served.security_events("P3") == [
        (FAILED, f"{required} 2: a client certificate is required", "central_system"),
        (FAILED, f"{required} 1: a client certificate is required", "central_system"),
    ]
    assert await served.security_events("P2") == [
        (
            FAILED,
            "security profile 2 required, the connection uses 1: TLS is required",
            "central_system",
        )
    ]


async def test_basic_auth_to_a_charger_without_a_key_at_profile_0_is_not_looked_at(
    served: Served,
) -> None:
    # As before profiles: a charger without an AuthorizationKey, `--basic-auth` off, is
    # admitted whatever Basic auth it sends, at profile 0 (an unverifiable key raises nothing).
    await served.register("NOKEY", 0, key=None)
    await served.booted("NOKEY", key=KEY)
    await served.booted("NOKEY", tls=True, key=KEY)
    assert await served.stored_profile("NOKEY") == 0
    served.system.settings.registration = served.system.settings.registration.OPEN
    await served.booted("NEWCOMER", tls=True, key=KEY)
    assert await served.stored_profile("NEWCOMER") == 0
    served.system.settings.basic_auth = True  # now every charger needs a key it has
    assert await served.refused("NOKEY", key=KEY) == 401
    assert await served.security_events("NOKEY") == []


async def test_a_client_certificate_of_another_charger_is_refused(served: Served) -> None:
    await served.register("P3", 3)
    await served.register("P0", 0, key=None)
    other = served.ca.client("OTHER")
    events = served.system.events.subscribe()
    assert await served.refused("P3", tls=True, certificate=other) == 403
    event = await next_event(events, "SecurityEvent")
    assert event.charge_point_id == "P3" and event.data["source"] == "central_system"
    assert event.data["type"] == "InvalidChargePointCertificate"
    assert event.data["techInfo"] == "client certificate with CN 'OTHER' is not 'P3''s"
    # Whatever the stored profile: a certificate names the charger it is for.
    assert await served.refused("P0", tls=True, certificate=other) == 403
    assert await served.stored_profile("P0") == 0
    await served.booted("P3", tls=True, certificate=served.ca.client("P3"))


async def refused_in_handshake(served: Served, identity: str, certificate: Pair) -> None:
    # OpenSSL refuses it while verifying: under TLS 1.3 the client learns it from the alert
    # after its own handshake ended, as the connection closing.
    with pytest.raises((ssl.SSLError, ConnectionError, InvalidMessage, ConnectionClosed)):
        async with served.open(identity, tls=True, certificate=certificate):
            pass
    assert identity not in served.system.connections


async def test_an_expired_certificate_is_refused_in_the_tls_handshake(served: Served) -> None:
    await served.register("P3", 3)
    await refused_in_handshake(served, "P3", served.ca.client("P3", expired=True))
    reason = "client certificate: certificate has expired"
    await eventually(lambda: served.context.failures[reason] == 1, "the refusal counted")
    metrics = served.system.metrics
    labels = {"node": metrics.node, "reason": reason}
    sample = metrics.registry.get_sample_value("ocppd_tls_handshakes_refused_total", labels)
    assert sample == 1


async def test_a_certificate_of_an_unknown_ca_is_refused_in_the_tls_handshake(
    served: Served, tmp_path: Path
) -> None:
    await served.register("P3", 3)
    stranger = TestCa(tmp_path / "stranger", "another CA").client("P3")
    await refused_in_handshake(served, "P3", stranger)
    reason = "client certificate: unable to get local issuer certificate"
    await eventually(lambda: served.context.failures[reason] == 1, "the refusal counted")


async def test_a_higher_profile_raises_the_stored_one_never_lowers_it(served: Served) -> None:
    await served.register("UP", 0)
    events = served.system.events.subscribe()
    await served.booted("UP", key=KEY)  # 1
    raised = await next_event(events, "SecurityProfileRaised")
    assert raised.data == {"previous": 0, "profile": 1}
    await served.booted("UP", tls=True, key=KEY)  # 2
    assert (await next_event(events, "SecurityProfileRaised")).data == {
        "previous": 1,
        "profile": 2,
    }
    assert await served.refused("UP", key=KEY) == 403  # the lower profile: no longer
    await served.booted("UP", tls=True, certificate=served.ca.client("UP"))  # 3
    assert await served.stored_profile("UP") == 3
    assert await served.refused("UP", tls=True, key=KEY) == 403


async def test_open_registration_registers_at_profile_0(served: Served) -> None:
    served.system.settings.registration = served.system.settings.registration.OPEN
    await served.booted("NEW")
    assert await served.stored_profile("NEW") == 0


async def test_the_certificate_cn_may_have_to_be_the_serial_number(served: Served) -> None:
    served.system.settings.client_certificate_cn = CertificateName.SERIAL_NUMBER
    await served.register("P3", 3)
    serial = served.ca.client("SN-0042")
    # No boot yet, so no serial number to compare with.
    assert await served.refused("P3", tls=True, certificate=serial) == 403
    async with served.system.engine.begin() as connection:
        await connection.execute(
            models.charge_points.update()
            .where(models.charge_points.c.id == "P3")
            .values(charge_point_serial_number="SN-0042")
        )
    await served.booted("P3", tls=True, certificate=serial)
    assert await served.refused("P3", tls=True, certificate=served.ca.client("P3")) == 403


async def test_a_certificate_ocppd_issued_serves_only_the_charger_that_asked(
    served: Served,
) -> None:
    """By serial number, a CN names what any charger may claim in its boot: THIEF booted with
    VICTIM's serial number and got a certificate for it. It serves THIEF, never VICTIM."""
    served.system.settings.client_certificate_cn = CertificateName.SERIAL_NUMBER
    stolen = served.ca.client("SN-7")
    issued = x509.load_pem_x509_certificate(stolen.cert.read_bytes())
    async with served.system.engine.begin() as connection:
        for identity in ("THIEF", "VICTIM"):
            await registration.register(connection, identity, auth_key=KEY)
        await connection.execute(
            models.charge_points.update().values(
                security_profile=3, charge_point_serial_number="SN-7"
            )
        )
        await connection.execute(
            models.certificate_requests.insert().values(
                charge_point_id="THIEF",
                csr="-",
                status="sent",
                serial_number=format(issued.serial_number, "x"),
                requested_at=served.system.clock(),
            )
        )
    assert await served.refused("VICTIM", tls=True, certificate=stolen) == 403
    [(kind, reason, source)] = await served.security_events("VICTIM")
    assert (kind, source) == ("InvalidChargePointCertificate", "central_system")
    assert reason == "client certificate issued to 'THIEF', not 'VICTIM'"
    await served.booted("THIEF", tls=True, certificate=stolen)
    # One the CA of an operator issued (not in ocppd's requests) goes by its CN, as before.
    await served.booted("VICTIM", tls=True, certificate=served.ca.client("SN-7"))


async def test_a_lowered_profile_takes_effect_on_the_next_connection(served: Served) -> None:
    await served.register("P2", 2)
    assert await served.refused("P2", key=KEY) == 403
    async with served.system.engine.begin() as connection:
        # As the API (profiles) changes it: the next admission reads it.
        await connection.execute(
            models.charge_points.update()
            .where(models.charge_points.c.id == "P2")
            .values(security_profile=1)
        )
    await served.booted("P2", key=KEY)
    assert await served.stored_profile("P2") == 1


async def test_a_silent_client_on_the_tls_port_is_closed_after_the_handshake_timeout(
    engine: AsyncEngine, clock: FixedClock, tmp_path: Path
) -> None:
    """Not asyncio's 60 s: `--handshake-timeout` bounds the TLS handshake too."""
    ca = TestCa(tmp_path / "pki")
    server = ca.server("rsa")
    settings = Settings(tls_cert=server.cert, tls_key=server.key, handshake_timeout=0.5)
    system = CentralSystem(settings, clock=clock, engine=engine)
    await system.start()
    try:
        async with serving_tls(system) as (_, tls_port, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", tls_port)
            try:
                # The server closes it (EOF) long before asyncio's own 60 s.
                assert await asyncio.wait_for(reader.read(1), 30) == b""
            finally:
                writer.close()
    finally:
        await system.stop()
