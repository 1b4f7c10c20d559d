"""TLS of the central system over real sockets: versions, cipher suites (negotiated by
OpenSSL's own client, `openssl s_client`), client certificates and the facts admission gets."""

import asyncio
import hashlib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from websockets.asyncio.client import connect

from ocppd.transport.server import OcppApp
from ocppd.transport.tls import CIPHERS_TLS12, ServerContext, TlsFacts, rfc4514, server_context
from ocppd.transport.websocket_protocol import CompactWebSocketProtocol
from tests.certificates import TestCa
from tests.eventually import eventually
from tests.servers import running

WHITE_PAPER_SUITES = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
]


class Endpoint:
    """Admits everyone, keeping what the transport said of each connection's TLS."""

    def __init__(self) -> None:
        self.admitted: list[tuple[str, TlsFacts | None]] = []

    async def admit(self, identity: str, password: str | None, tls: TlsFacts | None) -> Any:
        self.admitted.append((identity, tls))
        return identity

    async def open(self, admitted: Any, send: Any, close: Any) -> Any:
        return self

    async def receive(self, data: str) -> None:
        pass

    async def closed(self, peer: Any, code: int) -> None:
        pass


@asynccontextmanager
async def serving(context: ServerContext) -> AsyncIterator[tuple[int, Endpoint]]:
    endpoint = Endpoint()
    config = uvicorn.Config(
        OcppApp(endpoint),
        host="127.0.0.1",
        port=0,
        ws=CompactWebSocketProtocol,
        http="httptools",
        lifespan="off",
        log_config=None,
        ssl_context_factory=lambda _, __: context,
    )
    async with running(config) as server:
        yield int(server.servers[0].sockets[0].getsockname()[1]), endpoint


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki")


@pytest.fixture
def both_keys(ca: TestCa) -> ServerContext:
    """A server with an RSA and an ECDSA certificate, trusting the CA for clients."""
    rsa, ecdsa = ca.server("rsa"), ca.server("ecdsa")
    return server_context([(rsa.cert, rsa.key), (ecdsa.cert, ecdsa.key)], [ca.cert])


async def s_client(port: int, ca: TestCa, *options: str) -> str:
    """What `openssl s_client` printed connecting to the port (and closing at once)."""
    process = await asyncio.create_subprocess_exec(
        "openssl",
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-CAfile",
        str(ca.cert),
        *options,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return output.decode(errors="replace")


@pytest.mark.parametrize("suite", WHITE_PAPER_SUITES)
async def test_each_white_paper_suite_negotiates_alone(
    suite: str, ca: TestCa, both_keys: ServerContext
) -> None:
    """A charger that offers only this suite (only RSA or only ECDSA) connects."""
    async with serving(both_keys) as (port, _):
        output = await s_client(port, ca, "-tls1_2", "-cipher", suite)
    assert f"Cipher is {suite}" in output, output
    assert "Verify return code: 0 (ok)" in output, output


async def test_an_ecdsa_suite_needs_the_ecdsa_certificate(ca: TestCa) -> None:
    rsa = ca.server("rsa")
    context = server_context([(rsa.cert, rsa.key)])
    async with serving(context) as (port, _):
        output = await s_client(port, ca, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert "Cipher is ECDHE-ECDSA" not in output
    await eventually(lambda: context.failures["no shared cipher"] == 1, "refused: no shared cipher")


async def test_tls_1_1_is_refused_by_the_server(ca: TestCa, both_keys: ServerContext) -> None:
    async with serving(both_keys) as (port, _):
        # SECLEVEL=0: OpenSSL's client would not even offer TLS 1.1 otherwise.
        output = await s_client(port, ca, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert "Cipher is (NONE)" in output or "Cipher is" not in output, output
    await eventually(lambda: both_keys.failures["unsupported protocol"] == 1, "refused as TLS 1.1")


async def test_tls_1_3_is_offered(ca: TestCa, both_keys: ServerContext) -> None:
    async with serving(both_keys) as (port, _):
        output = await s_client(port, ca, "-tls1_3")
    assert "TLSv1.3" in output and "Cipher is TLS_AES_256_GCM_SHA384" in output, output


def test_only_the_chosen_tls_1_2_suites_are_enabled(both_keys: ServerContext) -> None:
    enabled = {c["name"] for c in both_keys.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert enabled == set(CIPHERS_TLS12)
    assert set(WHITE_PAPER_SUITES) <= enabled
    assert both_keys.minimum_version is ssl.TLSVersion.TLSv1_2


async def test_the_client_certificate_reaches_admission(
    ca: TestCa, both_keys: ServerContext
) -> None:
    client = ca.client("CP 7")
    issued = x509.load_pem_x509_certificate(client.cert.read_bytes())
    context = ssl.create_default_context(cafile=ca.cert)
    context.load_cert_chain(client.cert, client.key)
    plain = ssl.create_default_context(cafile=ca.cert)
    async with serving(both_keys) as (port, endpoint):
        for client_context in (context, plain):
            url = f"wss://127.0.0.1:{port}/ocpp/CP7"
            async with connect(url, subprotocols=["ocpp1.6"], ssl=client_context):  # type: ignore[list-item]
                pass
    [(_, with_certificate), (_, without)] = endpoint.admitted
    assert with_certificate is not None and with_certificate.version == "TLSv1.3"
    certificate = with_certificate.client_certificate
    assert certificate is not None
    assert certificate.common_name == "CP 7"
    assert certificate.subject == "CN=CP 7,O=ocppd tests"
    assert certificate.serial_number == format(issued.serial_number, "x")
    assert certificate.not_after == issued.not_valid_after_utc.replace(microsecond=0)
    der = issued.public_bytes(serialization.Encoding.DER)
    assert certificate.sha256 == hashlib.sha256(der).hexdigest()
    assert without is not None and without.client_certificate is None


async def test_a_plain_connection_has_no_tls_facts() -> None:
    endpoint = Endpoint()
    config = uvicorn.Config(
        OcppApp(endpoint),
        host="127.0.0.1",
        port=0,
        ws=CompactWebSocketProtocol,
        http="httptools",
        lifespan="off",
        log_config=None,
    )
    async with running(config) as server:
        port = server.servers[0].sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/ocpp/CP1", subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            pass
    assert endpoint.admitted == [("CP1", None)]


def test_subjects_are_written_as_rfc_4514_says() -> None:
    subject = (
        (("countryName", "DE"),),
        (("organizationName", "A, B + C"),),
        (("commonName", " #1 "),),
    )
    assert rfc4514(subject) == "CN=\\ #1\\ ,O=A\\, B \\+ C,C=DE"
