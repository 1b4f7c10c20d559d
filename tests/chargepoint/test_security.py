"""The simulator's side of the security white paper, against a real TLS central system (the
test peer of `central.py` served over `ssl`, certificates made by `cryptography`)."""

import hashlib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from ocpp.exceptions import NotImplementedError as CallNotImplemented
from ocpp.v16 import call
from ocpp.v16.datatypes import Firmware, LogParameters

from ocppd.chargepoint import Clock, Station, state
from ocppd.chargepoint.security import SecuritySettings
from ocppd.protocol.enums import CertificateUse
from ocppd.transport.client import ClientOptions, basic_auth
from tests.chargepoint.central import CentralSystem, RecordingChargePoint
from tests.chargepoint.pki import Authority, ServerTls, key_pem, pem, sign_firmware
from tests.chargepoint.test_files import FileServer, file_server
from tests.eventually import eventually

FAST = 200.0
WAIT = 60.0
KEY = "0123456789abcdef0123"
"""An AuthorizationKey: 20 characters."""


@pytest.fixture
def tls(tmp_path: Path) -> ServerTls:
    return ServerTls.create(tmp_path)


@pytest.fixture
def http() -> Iterator[FileServer]:
    with file_server() as server:
        yield server


def station(url: str, identity: str = "CP1", **options: Any) -> Station:
    options.setdefault("clock", Clock(speed=FAST))
    return Station(url, identity, **options)


async def connected(central: CentralSystem, cp: Station) -> RecordingChargePoint:
    await cp.boot(timeout=WAIT)
    return await central.station(cp.identity, timeout=WAIT)


async def events_of(cs: RecordingChargePoint, kind: str, count: int = 1) -> list[dict[str, Any]]:
    return await cs.wait_for(
        "SecurityEventNotification", count, where=lambda p: p["type"] == kind, timeout=WAIT
    )


def refused_connections(cp: Station) -> int:
    return sum(n for kind, n in cp.stats.errors.items() if kind.startswith("connect "))


# Connecting under profiles 2 and 3


async def test_profile_2_is_tls_with_the_authorization_key(tls: ServerTls) -> None:
    settings = SecuritySettings(profile=2, ca_file=str(tls.ca_file), extension=True)
    async with (
        CentralSystem(tls=tls.context(False), password=KEY) as central,
        station(central.url, configuration={"AuthorizationKey": KEY}, security=settings) as cp,
    ):
        cs = await connected(central, cp)
        assert central.url.startswith("wss://")
        assert central.authorizations == [basic_auth("CP1", KEY)]
        answer = await cs.call(call.GetConfiguration(key=["SecurityProfile", "AuthorizationKey"]))
        values = {k["key"]: k.get("value") for k in answer.configuration_key}
        assert values == {"SecurityProfile": "2", "AuthorizationKey": None}  # write-only
        [startup] = await events_of(cs, "StartupOfTheDevice")
        assert startup["timestamp"]


async def test_profile_3_presents_its_certificate_and_no_password(
    tls: ServerTls, tmp_path: Path
) -> None:
    key, certificate = tls.ca.leaf("CP1")
    (tmp_path / "cp.pem").write_text(pem(certificate))
    (tmp_path / "cp.key").write_text(key_pem(key))
    settings = SecuritySettings(
        profile=3,
        ca_file=str(tls.ca_file),
        client_cert=str(tmp_path / "cp.pem"),
        client_key=str(tmp_path / "cp.key"),
        extension=True,
    )
    async with (
        CentralSystem(tls=tls.context(True)) as central,
        station(central.url, client_options=ClientOptions(password=KEY), security=settings) as cp,
    ):
        await connected(central, cp)
    assert central.client_subjects == ["CP1"]
    assert central.authorizations == [None]  # no Basic auth on profile 3


async def test_an_untrusted_server_certificate_is_a_security_event(
    tls: ServerTls, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    other = ServerTls.create(tmp_path / "other")
    settings = SecuritySettings(profile=2, ca_file=str(other.ca_file), extension=True)
    async with (
        CentralSystem(tls=tls.context(False)) as central,
        station(central.url, client_options=ClientOptions(password=KEY), security=settings) as cp,
    ):
        cp.start()
        await eventually(lambda: refused_connections(cp) >= 3, "three refused attempts")
        assert central.connections == 0
        assert cp.stats.errors["connect SSLCertVerificationError"] >= 3
        # Once per run of failures, not once per attempt.
        assert cp.security.events.types().count("InvalidCentralSystemCertificate") == 1


async def test_a_refused_key_is_reported_once_connected_again(tls: ServerTls) -> None:
    settings = SecuritySettings(profile=2, ca_file=str(tls.ca_file), extension=True)
    wrong = "fedcba9876543210fedc"
    async with (
        CentralSystem(tls=tls.context(False), password=KEY) as central,
        station(central.url, configuration={"AuthorizationKey": wrong}, security=settings) as cp,
    ):
        cp.start()
        await eventually(
            lambda: "FailedToAuthenticateAtCentralSystem" in cp.security.events.types(),
            "the refusal recorded",
        )
        central.password = wrong  # the operator fixes the central system's side
        cs = await central.station("CP1", timeout=WAIT)
        [event] = await events_of(cs, "FailedToAuthenticateAtCentralSystem")
        assert "HTTP 401" in event["tech_info"]


# Bootstrapping profile 3, and a restart


async def test_profile_3_without_a_certificate_gets_one_and_keeps_it(
    tls: ServerTls, tmp_path: Path
) -> None:
    settings = SecuritySettings(profile=3, ca_file=str(tls.ca_file), extension=True)
    options: dict[str, Any] = {
        "configuration": {"AuthorizationKey": KEY, "CpoName": "Test CPO"},
        "state_dir": tmp_path / "state",
        "security": settings,
    }
    central_side = {"tls": tls.context(None), "password": KEY, "signer": tls.ca.sign_csr}
    async with CentralSystem(**central_side) as central:
        async with station(central.url, **options) as cp:
            cs = await connected(central, cp)
            [request] = await cs.wait_for("SignCertificate", timeout=WAIT)
            csr = x509.load_pem_x509_csr(request["csr"].encode())
            assert csr.is_signature_valid
            subject = {a.oid: a.value for a in csr.subject}
            assert subject == {NameOID.COMMON_NAME: "CP1", NameOID.ORGANIZATION_NAME: "Test CPO"}
            [answer] = await cs.wait_for("CertificateSigned answer", timeout=WAIT)
            assert answer == {"status": "Accepted"}
            await central.wait_connections(2, timeout=WAIT)
            await events_of(cs, "ReconfigurationOfSecurityParameters")
        # Bootstrapped on profile 2 (Basic auth), then on 3 with the new certificate.
        assert central.client_subjects == [None, "CP1"]
        assert central.authorizations == [basic_auth("CP1", KEY), None]
        async with station(central.url, **options) as restarted:
            restarted.start()
            await central.wait_connections(3, timeout=WAIT)
            assert central.client_subjects[2] == "CP1"  # the key and certificate survived
            assert len(cs.calls("SignCertificate")) == 1


# The charge point certificate on the central system's request


@pytest.fixture
async def extension_on(tls: ServerTls, tmp_path: Path) -> Any:
    """A plain central system and a station speaking the extension, with a state file."""
    settings = SecuritySettings(extension=True)
    async with CentralSystem() as central:
        cp = station(central.url, security=settings, state_dir=tmp_path / "state")
        async with cp:
            cs = await connected(central, cp)
            yield central, cs, cp


async def trigger_csr(cs: RecordingChargePoint, count: int = 1) -> str:
    answer = await cs.call(
        call.ExtendedTriggerMessage(requested_message="SignChargePointCertificate")
    )
    assert answer.status == "Accepted"
    requests = await cs.wait_for("SignCertificate", count, timeout=WAIT)
    return str(requests[-1]["csr"])


async def signed(cs: RecordingChargePoint, chain: str) -> str:
    answer = await cs.call(call.CertificateSigned(certificate_chain=chain))
    return str(answer.status)


async def test_certificate_signed_is_checked_before_it_is_installed(
    extension_on: Any, tls: ServerTls
) -> None:
    _, cs, cp = extension_on
    root = await cs.call(
        call.InstallCertificate(
            certificate_type="CentralSystemRootCertificate", certificate=tls.ca.pem
        )
    )
    assert root.status == "Accepted"
    assert await signed(cs, tls.ca.sign_csr(await trigger_csr(cs))) == "Accepted"
    csr = await trigger_csr(cs, 2)
    stranger = Authority.create("Another Root")
    _, other_key_certificate = tls.ca.leaf("CP1")
    expired_from = datetime.now(UTC) - timedelta(days=40)
    refused = {
        "another root": stranger.sign_csr(csr),
        "another key": pem(other_key_certificate) + tls.ca.pem,
        "expired": tls.ca.sign_csr(csr, valid_from=expired_from, days=30),
        "garbage": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
    }
    for why, chain in refused.items():
        assert await signed(cs, chain) == "Rejected", why
    cp.configuration.set("CertificateSignedMaxChainSize", "100")
    assert await signed(cs, tls.ca.sign_csr(csr)) == "Rejected"  # longer than the key allows
    events = await events_of(cs, "InvalidChargePointCertificate", len(refused) + 1)
    assert "not signed" in events[0]["tech_info"] or "lead" in events[0]["tech_info"]
    assert "100" in events[-1]["tech_info"]
    cp.configuration.set("CertificateSignedMaxChainSize", "10000")
    chain = tls.ca.sign_csr(csr)
    assert await signed(cs, chain) == "Accepted"
    assert cp.security.store.chain == chain and cp.security.store.pending_key is None


async def test_a_pending_csr_survives_a_restart(tls: ServerTls, tmp_path: Path) -> None:
    settings = SecuritySettings(extension=True, ca_file=str(tls.ca_file))
    async with CentralSystem() as central:
        async with station(central.url, security=settings, state_dir=tmp_path) as cp:
            cs = await connected(central, cp)
            csr = await trigger_csr(cs)
        async with station(central.url, security=settings, state_dir=tmp_path) as again:
            cs = await connected(central, again)
            await central.wait_connections(2, timeout=WAIT)
            cs = central.stations["CP1"]
            assert await signed(cs, tls.ca.sign_csr(csr)) == "Accepted"
            certificate = again.security.store.certificate
            assert certificate is not None
            assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP1"


# Roots


def expected_hash_data(certificate: x509.Certificate) -> dict[str, str]:
    """CertificateHashData as the white paper defines it, computed here by hand."""
    point = certificate.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": hashlib.sha256(certificate.issuer.public_bytes()).hexdigest(),
        "issuer_key_hash": hashlib.sha256(point).hexdigest(),
        "serial_number": format(certificate.serial_number, "X"),
    }


def lowered(items: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v.lower() for k, v in item.items()} for item in items]


async def test_roots_are_installed_listed_and_deleted(extension_on: Any, tls: ServerTls) -> None:
    _, cs, cp = extension_on
    maker = Authority.create("Maker Root")
    _, leaf = tls.ca.leaf("not a CA")
    listing = call.GetInstalledCertificateIds(certificate_type="ManufacturerRootCertificate")
    assert (await cs.call(listing)).status == "NotFound"
    offers = [
        ("CentralSystemRootCertificate", tls.ca.pem, "Accepted"),
        ("ManufacturerRootCertificate", maker.pem, "Accepted"),
        ("ManufacturerRootCertificate", maker.pem, "Accepted"),  # once only
        ("ManufacturerRootCertificate", pem(leaf), "Rejected"),
        ("ManufacturerRootCertificate", "not a certificate", "Rejected"),
    ]
    for use, certificate, status in offers:
        answer = await cs.call(
            call.InstallCertificate(certificate_type=use, certificate=certificate)
        )
        assert answer.status == status, (use, status)
    answer = await cs.call(listing)
    assert answer.status == "Accepted"
    assert lowered(answer.certificate_hash_data) == lowered([expected_hash_data(maker.certificate)])
    [maker_hash] = answer.certificate_hash_data
    deletion = call.DeleteCertificate(certificate_hash_data=maker_hash)
    assert (await cs.call(deletion)).status == "Accepted"
    assert (await cs.call(deletion)).status == "NotFound"
    assert (await cs.call(listing)).status == "NotFound"
    central_roots = cp.security.store.installed(CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE)
    assert central_roots == [tls.ca.certificate]  # and kept in the state file:
    cp.save()
    saved = state.load(cp.state_file)
    assert saved is not None and saved.security is not None
    assert saved.security.roots == {"CentralSystemRootCertificate": [tls.ca.pem]}


async def test_without_the_extension_the_station_knows_none_of_it() -> None:
    async with CentralSystem() as central, station(central.url) as cp:
        cs = await connected(central, cp)
        with pytest.raises(CallNotImplemented):
            trigger = call.ExtendedTriggerMessage(requested_message="Heartbeat")
            await cs.call(trigger, suppress=False)
        await cs.wait_for("StatusNotification", 3, timeout=WAIT)
        assert cs.calls("SecurityEventNotification") == []
        assert "StartupOfTheDevice" in cp.security.events.types()  # logged all the same


# Logs and events


async def test_get_log_uploads_the_security_log(extension_on: Any, http: FileServer) -> None:
    _, cs, _ = extension_on
    request = call.GetLog(
        log=LogParameters(remote_location=f"{http.url}/logs/"), log_type="SecurityLog", request_id=7
    )
    answer = await cs.call(request)
    assert answer.status == "Accepted" and answer.filename.startswith("security-log-CP1-")
    notifications = await cs.wait_for("LogStatusNotification", 2, timeout=WAIT)
    assert [(n["status"], n["request_id"]) for n in notifications] == [
        ("Uploading", 7),
        ("Uploaded", 7),
    ]
    [upload] = http.requests
    assert (upload.method, upload.path) == ("PUT", f"/logs/{answer.filename}")
    assert b"StartupOfTheDevice (critical)" in upload.body
    refused = call.GetLog(
        log=LogParameters(remote_location="gopher://x/"), log_type="DiagnosticsLog", request_id=8
    )
    assert (await cs.call(refused)).status == "Rejected"


async def test_reset_and_startup_are_reported(extension_on: Any) -> None:
    _, cs, _ = extension_on
    await events_of(cs, "StartupOfTheDevice")
    assert (await cs.call(call.Reset(type="Soft"))).status == "Accepted"
    [reset] = await events_of(cs, "ResetOrReboot")
    assert reset["tech_info"] == "Soft reset"
    await events_of(cs, "StartupOfTheDevice", 2)


# Signed firmware


@pytest.fixture
async def maker(extension_on: Any) -> Authority:
    _, cs, _ = extension_on
    root = Authority.create("Maker Root")
    answer = await cs.call(
        call.InstallCertificate(
            certificate_type="ManufacturerRootCertificate", certificate=root.pem
        )
    )
    assert answer.status == "Accepted"
    return root


def signed_update(
    http: FileServer, image: bytes, signer: Authority, signature_over: bytes | None = None
) -> call.SignedUpdateFirmware:
    key, certificate = signer.leaf("Firmware Signing")
    http.files["/fw/ocppd-2.0.bin"] = image
    firmware = Firmware(
        location=f"{http.url}/fw/ocppd-2.0.bin",
        retrieve_date_time=datetime.now(UTC).isoformat(),
        signing_certificate=pem(certificate),
        signature=sign_firmware(key, image if signature_over is None else signature_over),
    )
    return call.SignedUpdateFirmware(request_id=5, firmware=firmware)


def firmware_statuses(cs: RecordingChargePoint) -> list[tuple[str, int]]:
    return [(n["status"], n["request_id"]) for n in cs.calls("SignedFirmwareStatusNotification")]


async def test_signed_firmware_is_verified_then_installed(
    extension_on: Any, maker: Authority, http: FileServer
) -> None:
    _, cs, cp = extension_on
    answer = await cs.call(signed_update(http, b"firmware 2.0\n" * 1000, maker))
    assert answer.status == "Accepted"
    await cs.wait_for(
        "SignedFirmwareStatusNotification", where=lambda n: n["status"] == "Installed", timeout=WAIT
    )
    steps = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]
    assert firmware_statuses(cs) == [(s, 5) for s in [*steps, "Installed"]]
    [updated] = await events_of(cs, "FirmwareUpdated")
    assert updated["tech_info"] == "ocppd-2.0" == cp.firmware_version


async def test_a_bad_signature_is_refused_with_a_security_event(
    extension_on: Any, maker: Authority, http: FileServer
) -> None:
    _, cs, cp = extension_on
    answer = await cs.call(signed_update(http, b"firmware", maker, signature_over=b"other"))
    assert answer.status == "Accepted"
    [event] = await events_of(cs, "InvalidFirmwareSignature")
    assert "does not match" in event["tech_info"]
    await cs.wait_for("SignedFirmwareStatusNotification", 3, timeout=WAIT)
    assert firmware_statuses(cs) == [("Downloading", 5), ("Downloaded", 5), ("InvalidSignature", 5)]
    assert cp.firmware_version != "ocppd-2.0"


async def test_a_signing_certificate_of_another_maker_is_refused(
    extension_on: Any, maker: Authority, http: FileServer
) -> None:
    _, cs, _ = extension_on
    answer = await cs.call(signed_update(http, b"firmware", Authority.create("Someone Else")))
    assert answer.status == "InvalidCertificate"
    await events_of(cs, "InvalidFirmwareSigningCertificate")
    assert http.requests == [] and firmware_statuses(cs) == []


# Raising the profile


async def test_the_profile_is_raised_only_and_reconnects_on_tls(tls: ServerTls) -> None:
    async with (
        CentralSystem(password=KEY) as plain,
        CentralSystem(tls=tls.context(False), password=KEY) as secure,
    ):
        settings = SecuritySettings(
            profile=1, extension=True, tls_url=secure.url, ca_file=str(tls.ca_file)
        )
        async with station(
            plain.url, configuration={"AuthorizationKey": KEY}, security=settings
        ) as cp:
            cs = await connected(plain, cp)
            for value, status in [
                ("0", "Rejected"),
                ("1", "Rejected"),
                ("3", "Rejected"),
                ("x", "Rejected"),
            ]:
                answer = await cs.call(call.ChangeConfiguration(key="SecurityProfile", value=value))
                assert answer.status == status, value
            answer = await cs.call(call.ChangeConfiguration(key="SecurityProfile", value="2"))
            assert answer.status == "Accepted"
            on_tls = await secure.station("CP1", timeout=WAIT)
            assert secure.authorizations == [basic_auth("CP1", KEY)]
            values = await on_tls.call(call.GetConfiguration(key=["SecurityProfile"]))
            assert values.configuration_key[0]["value"] == "2"

            # Sent on the old connection or the new one, whichever was up.
            def reported() -> list[dict[str, Any]]:
                sent = cs.calls("SecurityEventNotification") + on_tls.calls(
                    "SecurityEventNotification"
                )
                return [e for e in sent if e["type"] == "ReconfigurationOfSecurityParameters"]

            await eventually(lambda: len(reported()) == 1, "the change reported")
            assert reported()[0]["tech_info"] == "SecurityProfile 1 to 2"
            assert cp.security.fallback_profile is None


async def test_a_raised_profile_that_cannot_connect_falls_back(tls: ServerTls) -> None:
    with socket.socket() as nothing:
        nothing.bind(("127.0.0.1", 0))
        dead = f"wss://127.0.0.1:{nothing.getsockname()[1]}/ocpp"
        settings = SecuritySettings(
            profile=1, extension=True, tls_url=dead, ca_file=str(tls.ca_file)
        )
        async with (
            CentralSystem(password=KEY) as plain,
            station(plain.url, configuration={"AuthorizationKey": KEY}, security=settings) as cp,
        ):
            cs = await connected(plain, cp)
            answer = await cs.call(call.ChangeConfiguration(key="SecurityProfile", value="2"))
            assert answer.status == "Accepted"
            await plain.wait_connections(2, timeout=WAIT)
            assert refused_connections(cp) >= 3
            assert cp.configuration.get_int("SecurityProfile") == 1
            events = await events_of(cs, "ReconfigurationOfSecurityParameters", 2)
            assert events[1]["tech_info"] == "SecurityProfile 2 failed to connect: back to 1"


async def test_a_new_authorization_key_is_used_at_once_and_never_shown() -> None:
    new = "abcdef0123456789abcdef0123456789"
    async with CentralSystem(password=KEY) as central:
        settings = SecuritySettings(profile=1, extension=True)
        async with station(
            central.url, configuration={"AuthorizationKey": KEY}, security=settings
        ) as cp:
            cs = await connected(central, cp)
            short = call.ChangeConfiguration(key="AuthorizationKey", value="tooshort")
            assert (await cs.call(short)).status == "Rejected"
            central.password = new  # the central system expects the new key from now on
            answer = await cs.call(call.ChangeConfiguration(key="AuthorizationKey", value=new))
            assert answer.status == "Accepted"
            await central.wait_connections(2, timeout=WAIT)
            assert central.authorizations == [basic_auth("CP1", KEY), basic_auth("CP1", new)]
            [event] = await events_of(cs, "ReconfigurationOfSecurityParameters")
            assert event["tech_info"] == "AuthorizationKey"  # not its value
            shown = await central.stations["CP1"].call(call.GetConfiguration())
            assert all(new not in str(k.get("value")) for k in shown.configuration_key)


async def test_the_root_in_use_and_the_own_certificate_cannot_be_deleted(
    tls: ServerTls, tmp_path: Path
) -> None:
    key, certificate = tls.ca.leaf("CP1")
    (tmp_path / "cp.pem").write_text(pem(certificate) + tls.ca.pem)
    (tmp_path / "cp.key").write_text(key_pem(key))
    settings = SecuritySettings(
        profile=3,
        client_cert=str(tmp_path / "cp.pem"),
        client_key=str(tmp_path / "cp.key"),
        ca_file=str(tls.ca_file),
        extension=True,
    )
    async with (
        CentralSystem(tls=tls.context(True)) as central,
        station(central.url, security=settings) as cp,
    ):
        cs = await connected(central, cp)
        install = call.InstallCertificate(
            certificate_type="CentralSystemRootCertificate", certificate=tls.ca.pem
        )
        assert (await cs.call(install)).status == "Accepted"
        root = expected_hash_data(tls.ca.certificate)
        in_use = call.DeleteCertificate(certificate_hash_data=root)
        assert (await cs.call(in_use)).status == "Failed"  # M04.FR.06
        point = certificate.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        issuer_point = tls.ca.certificate.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        assert point != issuer_point
        own = {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": hashlib.sha256(certificate.issuer.public_bytes()).hexdigest(),
            "issuer_key_hash": hashlib.sha256(issuer_point).hexdigest(),
            "serial_number": format(certificate.serial_number, "X"),
        }
        answer = await cs.call(call.DeleteCertificate(certificate_hash_data=own))
        assert answer.status == "Failed"  # M04.FR.05
        assert cp.security.store.installed(CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE)
