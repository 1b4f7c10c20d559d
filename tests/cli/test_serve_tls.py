"""`ocppd serve`'s TLS settings: `--tls-port` beside the plain port in a real process, and the
files and combinations refused before it starts."""

import asyncio
import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner
from websockets.asyncio.client import connect

from tests.certificates import TestCa
from tests.cli.test_serve import BOOT, Served, settings_shown
from tests.cli.test_workers import Supervised
from tests.cluster_nodes import Cluster
from tests.csms.test_handshakes import TLS_RECORD_START, closed_by_server, half_open, still_open
from tests.eventually import eventually

pytestmark = pytest.mark.slow

TLS_LISTENING = re.compile(r" and wss://127\.0\.0\.1:(\d+)/ocpp/<id>")


async def booted(url: str, context: ssl.SSLContext | None = None) -> None:
    async with connect(url, subprotocols=["ocpp1.6"], ssl=context, open_timeout=30) as ws:  # type: ignore[list-item]
        await ws.send(BOOT)
        assert msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))[0] == 3


@pytest.fixture
def tls_served(tmp_path: Path) -> Iterator[tuple[Served, TestCa]]:
    """`ocppd serve` with an RSA and an ECDSA certificate on a TLS port of its own."""
    ca = TestCa(tmp_path / "pki")
    rsa, ecdsa = ca.server("rsa"), ca.server("ecdsa")
    served = Served(
        tmp_path,
        *("--tls-cert", str(rsa.cert), "--tls-key", str(rsa.key)),
        *("--tls-ecdsa-cert", str(ecdsa.cert), "--tls-ecdsa-key", str(ecdsa.key)),
        *("--tls-port", "0", "--tls-client-ca", str(ca.cert)),
    )
    yield served, ca
    served.stop()


async def test_a_tls_port_beside_the_plain_port(tls_served: tuple[Served, TestCa]) -> None:
    served, ca = tls_served
    found = TLS_LISTENING.search(served.printed())
    assert found is not None and "ocppd: OCPP 1.6J on ws://" in served.printed()
    tls_port = int(found[1])
    trusting = ssl.create_default_context(cafile=ca.cert)
    await booted(f"ws://127.0.0.1:{served.port}/ocpp/PLAIN")
    await booted(f"wss://127.0.0.1:{tls_port}/ocpp/SECURE", trusting)
    client = ca.client("MUTUAL")
    trusting.load_cert_chain(client.cert, client.key)
    await booted(f"wss://127.0.0.1:{tls_port}/ocpp/MUTUAL", trusting)
    with pytest.raises(ssl.SSLError):  # the plain port speaks no TLS
        await booted(f"wss://127.0.0.1:{served.port}/ocpp/PLAIN", trusting)


def test_tls_settings_that_do_not_go_together_are_refused(tmp_path: Path) -> None:
    ca = TestCa(tmp_path / "pki")
    rsa, ecdsa, other = ca.server("rsa"), ca.server("ecdsa"), ca.server("rsa", "other")
    show = settings_shown(
        lambda s: f"{s.tls_cert is not None} {s.tls_port} {s.client_certificate_cn}"
    )
    runner = CliRunner()
    cert = ["--tls-cert", str(rsa.cert), "--tls-key", str(rsa.key)]
    accepted = runner.invoke(show, [*cert, "--tls-port", "9443"])
    assert accepted.output == "True 9443 identity\n", accepted.output
    for arguments, error in [
        (["--tls-port", "9443"], "--tls-port needs --tls-cert and --tls-key"),
        (["--tls-client-ca", str(ca.cert)], "--tls-client-ca needs --tls-cert"),
        ([*cert, "--tls-ecdsa-cert", str(ecdsa.cert)], "--tls-ecdsa-key go together"),
        (
            [*cert, "--tls-ecdsa-cert", str(other.cert), "--tls-ecdsa-key", str(other.key)],
            "not an ECDSA certificate",
        ),
        (
            [
                *("--tls-cert", str(ecdsa.cert), "--tls-key", str(ecdsa.key)),
                *("--tls-ecdsa-cert", str(ecdsa.cert), "--tls-ecdsa-key", str(ecdsa.key)),
            ],
            "has an ECDSA key too",
        ),
        (["--tls-cert", str(rsa.cert), "--tls-key", str(other.key)], "do not fit"),
        ([*cert, "--tls-client-ca", str(rsa.key)], "--tls-client-ca"),
        ([*cert, "--tls-port", "9000", "--port", "9000"], "--tls-port must differ"),
        ([*cert, "--client-certificate-cn", "subject"], "--client-certificate-cn"),
    ]:
        refused = runner.invoke(show, arguments)
        assert refused.exit_code == 2 and error in refused.output, (arguments, refused.output)


async def test_workers_share_the_tls_port_too(tmp_path: Path, cluster: Cluster) -> None:
    ca = TestCa(tmp_path / "pki")
    rsa = ca.server("rsa")
    served = Supervised(
        tmp_path,
        *("--workers", "2", "--database", cluster.database, "--redis-url", cluster.redis.url),
        *("--tls-cert", str(rsa.cert), "--tls-key", str(rsa.key), "--tls-port", "0"),
    )
    try:
        found = TLS_LISTENING.search(served.printed())
        assert found is not None, served.printed()
        trusting = ssl.create_default_context(cafile=ca.cert)
        identities = [f"TLS{i}" for i in range(12)]
        await asyncio.gather(
            *(booted(f"wss://127.0.0.1:{found[1]}/ocpp/{i}", trusting) for i in identities)
        )
        await booted(f"ws://127.0.0.1:{served.port}/ocpp/PLAIN")

        # Each worker served some: the kernel spread them over both (odds of all 12 on one
        # worker: 1 in 2,048).
        def nodes() -> set[str]:
            return set(
                re.findall(r"\[(\S+-\d)\] ocppd\.csms: TLS\d+: disconnected", served.printed())
            )

        await eventually(lambda: len(nodes()) == 2, "TLS chargers on both workers")
    finally:
        served.stop_gracefully()


@pytest.mark.parametrize("listener", ["port", "tls-port"])
async def test_tls_handshakes_are_pending_under_the_cap_and_the_deadline(
    tmp_path: Path, listener: str
) -> None:
    """In a real `ocppd serve` (uvloop, which reads the ClientHello before the TLS protocol
    is in place): with a cap of 3, a fourth client silent before its TLS handshake closes the
    oldest, a charger's connection the next oldest, and the charger boots over TLS; the
    others are closed at their deadline (10 s)."""
    ca = TestCa(tmp_path / "pki")
    rsa = ca.server("rsa")
    served = Served(
        tmp_path,
        *("--tls-cert", str(rsa.cert), "--tls-key", str(rsa.key)),
        *("--handshake-timeout", "10", "--max-pending-handshakes", "3"),
        *(["--tls-port", "0"] if listener == "tls-port" else []),
    )
    try:
        port = served.port
        if listener == "tls-port":
            found = TLS_LISTENING.search(served.printed())
            assert found is not None, served.printed()
            port = int(found[1])
        else:
            assert "ocppd: OCPP 1.6J on wss://" in served.printed()
        held = [half_open(port, TLS_RECORD_START if n == 3 else b"") for n in range(4)]
        try:
            await closed_by_server(held[0])
            assert all(still_open(raw) for raw in held[1:])
            await booted(
                f"wss://127.0.0.1:{port}/ocpp/CP1", ssl.create_default_context(cafile=ca.cert)
            )
            await closed_by_server(held[1])
            for raw in held[2:]:
                await closed_by_server(raw, timeout=30)
        finally:
            for raw in held:
                raw.close()
    finally:
        served.stop()
