"""The signing CA made (`ocppd ca init`) or replaced (`--force`) while `ocppd serve` runs with
TLS: the TLS port trusts the client certificates it issues without a restart (a real process,
real mutual TLS)."""

import asyncio
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from ocppd.cli import main
from ocppd.csms.certificate_authority import CaFiles, key_pem, new_key, pem
from ocppd.csms.client_trust import ClientTrust
from ocppd.transport.tls import server_context
from tests.certificates import TestCa
from tests.cli.test_serve import BOOT, Served
from tests.cli.test_serve_tls import TLS_LISTENING

pytestmark = pytest.mark.slow

DEADLINE = 60.0
"""Seconds the server may take to trust a new CA (it looks once a second; the machine may be
loaded)."""


def charger_context(
    server_ca: Path, directory: Path, files: CaFiles, identity: str
) -> ssl.SSLContext:
    """A charger's TLS context: trusting the server's CA, presenting a client certificate for
    `identity` that the CA of `files` issued."""
    key = new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)])
    leaf = files.authority().issue(
        subject, key.public_key(), datetime.now(UTC), 30, ExtendedKeyUsageOID.CLIENT_AUTH
    )
    cert, key_file = directory / f"{identity}-{leaf.serial_number}.pem", directory / "client.key"
    cert.write_text(pem(leaf))
    key_file.write_bytes(key_pem(key))
    context = ssl.create_default_context(cafile=server_ca)
    context.load_cert_chain(cert, key_file)
    return context


async def admitted(url: str, context: ssl.SSLContext) -> bool:
    """True when the charger connects and its BootNotification is answered."""
    try:
        async with connect(url, subprotocols=["ocpp1.6"], ssl=context, open_timeout=30) as ws:  # type: ignore[list-item]
            await ws.send(BOOT)
            return bool(msgspec.json.decode(await asyncio.wait_for(ws.recv(), 30))[0] == 3)
    except (ssl.SSLError, InvalidStatus, WebSocketException, ConnectionError):
        return False


async def admitted_within(url: str, context: ssl.SSLContext) -> bool:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if await admitted(url, context):
            return True
        await asyncio.sleep(0.25)
    return False


async def test_a_ca_made_or_replaced_while_serving_is_trusted_without_a_restart(
    tmp_path: Path,
) -> None:
    operator = TestCa(tmp_path / "pki")
    server = operator.server("rsa")
    data = tmp_path / "data"
    registered = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        [
            "charge-point",
            "add",
            "CP3",
            "--security-profile",
            "3",
            "--data-dir",
            str(data),
            "--create",
        ],
    )
    assert registered.exit_code == 0, registered.output
    served = Served(
        tmp_path,
        *("--tls-cert", str(server.cert), "--tls-key", str(server.key), "--tls-port", "0"),
    )
    try:
        found = TLS_LISTENING.search(served.printed())
        assert found is not None, served.printed()
        url = f"wss://127.0.0.1:{found[1]}/ocpp/CP3"
        # A certificate no trusted CA issued: refused (profile 3 needs a trusted one).
        stranger = operator.client("CP3")
        untrusted = ssl.create_default_context(cafile=operator.cert)
        untrusted.load_cert_chain(stranger.cert, stranger.key)
        assert not await admitted(url, untrusted)

        made = await asyncio.to_thread(
            CliRunner().invoke, main, ["ca", "init", "--data-dir", str(data)]
        )
        assert made.exit_code == 0, made.output
        files = CaFiles.of(data)
        first = charger_context(operator.cert, tmp_path, files, "CP3")
        assert await admitted_within(url, first), served.printed()

        replaced = await asyncio.to_thread(
            CliRunner().invoke, main, ["ca", "init", "--data-dir", str(data), "--force"]
        )
        assert replaced.exit_code == 0, replaced.output
        second = charger_context(operator.cert, tmp_path, files, "CP3")
        assert await admitted_within(url, second), served.printed()
        assert await admitted(url, first), "a CA once trusted stays trusted until a restart"
        assert not await admitted(url, untrusted)
    finally:
        served.stop()


async def test_the_ca_file_is_read_again_only_when_it_changes(tmp_path: Path) -> None:
    """One look per second costs a `stat`: the file is loaded when it appears or changes, and
    before each CertificateSigned; client certificates are asked for from then on."""
    operator = TestCa(tmp_path / "pki")
    server = operator.server("rsa")
    context = server_context([(server.cert, server.key)])
    assert context.verify_mode == ssl.CERT_NONE
    files = CaFiles.of(tmp_path / "data")
    trust = ClientTrust(context, lambda: files.ca_cert if files.ca_cert.exists() else None)
    assert not trust.refresh(), "no CA yet"
    files.initialize(datetime.now(UTC))
    await trust.before_certificate_signed("CP3", None)
    assert context.verify_mode == ssl.CERT_OPTIONAL
    assert len(context.get_ca_certs()) == 1
    assert not trust.refresh(), "unchanged"
    files.initialize(datetime.now(UTC), force=True)
    assert trust.refresh()
    assert len(context.get_ca_certs()) == 2
