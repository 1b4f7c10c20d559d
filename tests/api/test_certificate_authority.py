"""Chargers' certificates end to end over real sockets: a SignCertificate with a real CSR
(made with `cryptography`), the checks, automatic signing or an operator's approval through
the API, CertificateSigned with a chain that verifies against ocppd's CA, the charger's
answer and its reconnection recorded. The third-party `ocpp` package's ChargePoint plays the
charger in the main flow; `FakeChargePoint` sends the hostile CSRs."""

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, CertificateSignedStatus, GenericStatus, RegistrationStatus
from websockets.asyncio.client import connect

from ocppd.api.tokens import Role
from ocppd.csms import registration
from ocppd.csms.certificate_authority import Authority, CaFiles, fingerprint, pem
from ocppd.csms.models import certificate_requests, charge_points, configuration
from ocppd.csms.settings import CertificateName, CertificateSigning
from tests.api.conftest import Api, charge_point
from tests.api.test_cli import ocppd
from tests.eventually import eventually


def make_csr(key: Any, common_name: str = "CP1", organization: str = "Example CPO") -> str:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


async def with_ca(api: Api, identity: str = "CP1") -> Authority:
    """ocppd's CA in the central system's data dir (as `ocppd ca init` makes it), and the
    charger registered with the security extension (CertificateSigned is sent to no other)."""
    await with_extension(api, identity)
    return CaFiles.of(api.system.settings.data_dir).initialize(api.system.clock())


async def with_extension(api: Api, identity: str = "CP1", extension: bool = True) -> None:
    async with api.system.engine.begin() as db:
        if await registration.load(db, identity) is None:
            await registration.register(db, identity)
        await db.execute(
            charge_points.update()
            .where(charge_points.c.id == identity)
            .values(security_extension=extension)
        )


class ThirdPartyCharger(ChargePoint):  # type: ignore[misc]
    """The `ocpp` package's charge point; keeps every CertificateSigned chain it gets."""

    def __init__(self, identity: str, connection: Any, answer: str = "Accepted") -> None:
        super().__init__(identity, connection)
        self.chains: list[str] = []
        self.answer = answer

    @on(Action.certificate_signed)
    def certificate_signed(self, certificate_chain: str) -> Any:
        self.chains.append(certificate_chain)
        return call_result.CertificateSigned(status=CertificateSignedStatus(self.answer))


@asynccontextmanager
async def third_party(
    api: Api, identity: str = "CP1", answer: str = "Accepted"
) -> AsyncIterator[ThirdPartyCharger]:
    async with api.system.engine.begin() as db:
        if await registration.load(db, identity) is None:
            await registration.register(db, identity)
    async with connect(api.ws_url(identity), subprotocols=["ocpp1.6"], open_timeout=30) as ws:
        charger = ThirdPartyCharger(identity, ws, answer)
        task = asyncio.create_task(charger.start())
        try:
            boot = await charger.call(
                call.BootNotification(charge_point_model="M", charge_point_vendor="V")
            )
            assert boot.status == RegistrationStatus.accepted
            yield charger
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def stored(api: Api, **where: Any) -> list[dict[str, Any]]:
    query = sa.select(certificate_requests).order_by(certificate_requests.c.id)
    for name, value in where.items():
        query = query.where(certificate_requests.c[name] == value)
    async with api.system.engine.connect() as db:
        return [dict(row._mapping) for row in await db.execute(query)]


def check_chain(
    chain: str, authority: Authority, key: Any, identity: str = "CP1"
) -> x509.Certificate:
    """The chain is leaf then CA; the leaf is the CA's signature over the charger's own key,
    for client authentication, named as the charger."""
    assert len(chain) <= 10_000
    leaf, root = x509.load_pem_x509_certificates(chain.encode())
    assert root == authority.certificate
    leaf.verify_directly_issued_by(root)
    assert leaf.public_key() == key.public_key()
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == identity
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    return leaf


async def test_auto_signing_sends_a_chain_that_verifies_and_records_its_use(api: Api) -> None:
    authority = await with_ca(api)
    api.system.settings.certificate_signing = CertificateSigning.AUTO
    events = api.system.events.subscribe()
    key = ec_key()
    async with third_party(api) as charger:
        answer = await charger.call(call.SignCertificate(csr=make_csr(key)))
        assert answer.status == GenericStatus.accepted
        await eventually(lambda: bool(charger.chains), "CertificateSigned received")
        leaf = check_chain(charger.chains[0], authority, key)
        await eventually(lambda: _status(api, "accepted"), "the charger's answer stored")
    [row] = await stored(api)
    assert row["serial_number"] == format(leaf.serial_number, "x")
    assert row["charger_answer"] == "Accepted"
    assert row["certificate"] == pem(leaf)
    assert (row["key_type"], row["key_bits"]) == ("EC", 256)
    seen = []
    while "CertificateSent" not in [kind for kind, _ in seen]:
        event = await events.next(timeout=60)
        assert event is not None, seen
        seen.append((event.type, event.data))
    requested = [data for kind, data in seen if kind == "CertificateRequested"]
    sent = [data for kind, data in seen if kind == "CertificateSent"]
    assert requested == [
        {"requestId": row["id"], "status": "pending", "reason": None, "subject": row["subject"]}
    ]
    assert sent == [
        {"requestId": row["id"], "serialNumber": row["serial_number"], "status": "Accepted"}
    ]
    # The TLS server publishes the client certificate of a profile-3 connection (the
    # `Connected` event's clientCertificate, helper tls): the request is then in use.
    api.system.events.publish(
        "Connected",
        "CP1",
        api.system.clock(),
        clientCertificate={"serialNumber": format(leaf.serial_number, "X"), "sha256": ""},
    )
    await eventually(lambda: _status(api, "in-use"), "the certificate recorded in use")


async def _status(api: Api, status: str) -> bool:
    return [row["status"] for row in await stored(api)] == [status]


async def test_manual_signing_holds_the_request_until_an_admin_approves_it(api: Api) -> None:
    authority = await with_ca(api)
    assert api.system.settings.certificate_signing is CertificateSigning.MANUAL  # the default
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with third_party(api) as charger:
        answer = await charger.call(call.SignCertificate(csr=make_csr(key)))
        assert answer.status == GenericStatus.accepted
        listed = await api.client(Role.VIEWER)("GET", "/certificate-requests", status="pending")
        assert listed.status == 200, listed.body
        [item] = listed.body["items"]
        assert (item["chargePointId"], item["status"], item["keyType"], item["keyBits"]) == (
            "CP1",
            "pending",
            "RSA",
            2048,
        )
        assert "CN=CP1" in item["subject"]
        assert charger.chains == []
        path = f"/certificate-requests/{item['id']}/approve"
        refused = await api.client(Role.OPERATOR)("POST", path)
        assert refused.status == 403
        approved = await api.client(Role.ADMIN)("POST", path)
        assert approved.status == 200, approved.body
        assert approved.body["status"] == "accepted"
        assert approved.body["chargerAnswer"] == "Accepted"
        assert len(charger.chains) == 1
        leaf = check_chain(charger.chains[0], authority, key)
        assert approved.body["serialNumber"] == format(leaf.serial_number, "x")
        again = await api.client(Role.ADMIN)("POST", path)
        assert again.status == 409
        assert "accepted" in again.body["error"]
    assert len(charger.chains) == 1


async def test_a_chargers_own_policy_overrides_the_global_one(api: Api) -> None:
    await with_ca(api)
    admin = api.client(Role.ADMIN)
    async with third_party(api) as charger:
        path = "/charge-points/CP1/certificate-signing"
        assert (await admin("GET", path)).body == {"certificateSigning": None}
        put = await admin("PUT", path, {"certificateSigning": "auto"})
        assert put.status == 200, put.body
        assert (await admin("GET", path)).body == {"certificateSigning": "auto"}
        await charger.call(call.SignCertificate(csr=make_csr(ec_key())))
        await eventually(lambda: bool(charger.chains), "signed at once by the charger's policy")
    unknown = await admin(
        "PUT", "/charge-points/NOPE/certificate-signing", {"certificateSigning": None}
    )
    assert unknown.status == 404
    bad = await admin(
        "PUT", "/charge-points/CP1/certificate-signing", {"certificateSigning": "always"}
    )
    assert bad.status == 400


async def test_the_chargers_refusal_is_recorded(api: Api) -> None:
    await with_ca(api)
    api.system.settings.certificate_signing = CertificateSigning.AUTO
    async with third_party(api, answer="Rejected") as charger:
        await charger.call(call.SignCertificate(csr=make_csr(ec_key())))
        await eventually(lambda: _status(api, "refused"), "the refusal stored")
    [row] = await stored(api)
    assert row["charger_answer"] == "Rejected"


def _broken_signature(text: str) -> str:
    der = bytearray(x509.load_pem_x509_csr(text.encode()).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01
    body = base64.encodebytes(bytes(der)).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


@pytest.mark.parametrize(
    ("csr", "reason"),
    [
        (lambda: "not a CSR", "not one PEM block"),
        (
            lambda: (
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
            ),
            "cannot be read",
        ),
        (lambda: _broken_signature(make_csr(ec_key())), "signature does not verify"),
        (lambda: make_csr(ec_key(), common_name="CP2"), "'CP2', not 'CP1'"),
        (
            lambda: make_csr(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
            "RSA key has 1024 bits",
        ),
        (lambda: make_csr(ec.generate_private_key(ec.SECP192R1())), "EC key has 192 bits"),
        (
            lambda: (
                "-----BEGIN CERTIFICATE REQUEST-----\nA\u0000A\n-----END CERTIFICATE REQUEST-----"
            ),
            "cannot be read",
        ),
    ],
    ids=["not-pem", "not-der", "broken-signature", "other-identity", "rsa-1024", "ec-192", "nul"],
)
async def test_a_bad_csr_is_answered_rejected_stored_and_never_signed(
    api: Api, csr: Any, reason: str
) -> None:
    await with_ca(api)
    api.system.settings.certificate_signing = CertificateSigning.AUTO
    async with charge_point(api) as cp:
        text = csr()
        answer = await cp.ask("SignCertificate", {"csr": text})
        assert answer == {"status": "Rejected"}
    [row] = await stored(api)
    assert row["status"] == "rejected"
    assert reason in row["reason"]
    assert row["csr"] in (text, text.replace("\x00", "\ufffd"))  # PostgreSQL: no NUL
    assert row["certificate"] is None
    assert [action for action, _ in cp.received] == []
    listed = await api.client(Role.VIEWER)("GET", "/certificate-requests", chargePointId="CP1")
    assert [item["status"] for item in listed.body["items"]] == ["rejected"]


async def test_the_cn_is_the_serial_number_when_so_configured(api: Api) -> None:
    await with_ca(api)
    api.system.settings.client_certificate_cn = CertificateName.SERIAL_NUMBER
    async with charge_point(api) as cp:
        # The boot of `charge_point` named no serial number: nothing to compare with.
        assert await cp.ask("SignCertificate", {"csr": make_csr(ec_key(), "CP1")}) == {
            "status": "Rejected"
        }
        boot = {
            "chargePointVendor": "V",
            "chargePointModel": "M",
            "chargePointSerialNumber": "SN-7",
        }
        assert (await cp.ask("BootNotification", boot))["status"] == "Accepted"
        assert await cp.ask("SignCertificate", {"csr": make_csr(ec_key(), "CP1")}) == {
            "status": "Rejected"
        }
        assert await cp.ask("SignCertificate", {"csr": make_csr(ec_key(), "SN-7")}) == {
            "status": "Accepted"
        }
    unknown, identity, serial = await stored(api)
    assert "chargePointSerialNumber is unknown" in unknown["reason"]
    assert "'CP1', not 'SN-7'" in identity["reason"]
    assert (serial["status"], serial["subject"]) == ("pending", "CN=SN-7,O=Example CPO")


async def test_no_ca_or_no_extension_means_rejected(api: Api) -> None:
    await with_extension(api)
    async with charge_point(api) as cp:
        answer = await cp.ask("SignCertificate", {"csr": make_csr(ec_key())})
    assert answer == {"status": "Rejected"}
    [row] = await stored(api)
    assert "no CA" in row["reason"]
    missing = await api.client(Role.VIEWER)("GET", "/certificate-authority")
    assert missing.status == 404
    await with_ca(api)
    await with_extension(api, extension=False)
    async with charge_point(api) as cp:
        answer = await cp.ask("SignCertificate", {"csr": make_csr(ec_key())})
    assert answer == {"status": "Rejected"}
    rows = await stored(api)
    assert "security extension is off" in rows[-1]["reason"]


async def max_chain_size(api: Api, value: str) -> None:
    """CP1 registered, its CertificateSignedMaxChainSize reported as `value`."""
    async with api.system.engine.begin() as db:
        await registration.register(db, "CP1")
        await db.execute(
            configuration.insert().values(
                charge_point_id="CP1",
                key="CertificateSignedMaxChainSize",
                known=True,
                readonly=True,
                value=value,
                reboot_required=False,
                updated_at=api.system.clock(),
            )
        )


async def test_a_chain_longer_than_the_charger_allows_is_not_sent(api: Api) -> None:
    await with_ca(api)
    await max_chain_size(api, "800")
    admin = api.client(Role.ADMIN)
    async with charge_point(api) as cp:
        cp.replies["CertificateSigned"] = {"status": "Accepted"}
        assert await cp.ask("SignCertificate", {"csr": make_csr(ec_key())}) == {
            "status": "Accepted"
        }
        [row] = await stored(api)
        path = f"/certificate-requests/{row['id']}/approve"
        approved = await admin("POST", path)
        assert approved.status == 200, approved.body
        assert approved.body["status"] == "signed"
        assert "CertificateSignedMaxChainSize is 800" in approved.body["reason"]
        assert "CertificateSigned" not in [action for action, _ in cp.received]
        # The charger reports a larger limit (its GetConfiguration answer): sent this time,
        # the same certificate.
        async with api.system.engine.begin() as db:
            await db.execute(configuration.update().values(value="10000"))
        again = await admin("POST", path)
        assert again.status == 200, again.body
        assert again.body["status"] == "accepted"
        assert again.body["serialNumber"] == approved.body["serialNumber"]
        [(action, payload)] = cp.received
        assert action == "CertificateSigned"
        assert payload["certificateChain"].startswith(approved.body["certificate"])


async def test_a_newer_csr_supersedes_the_pending_one(api: Api) -> None:
    await with_ca(api)
    async with charge_point(api) as cp:
        await cp.ask("SignCertificate", {"csr": make_csr(ec_key())})
        await cp.ask("SignCertificate", {"csr": make_csr(ec_key())})
    first, second = await stored(api)
    assert (first["status"], first["reason"]) == (
        "rejected",
        f"superseded by request {second['id']}",
    )
    assert second["status"] == "pending"


async def test_the_raw_command_obeys_the_chargers_chain_size_too(api: Api) -> None:
    authority = await with_ca(api)
    async with api.system.engine.begin() as db:
        await db.execute(
            configuration.insert().values(
                charge_point_id="CP1",
                key="certificateSignedMaxChainSize",  # keys compare without case
                known=True,
                readonly=True,
                value="100",
                reboot_required=False,
                updated_at=api.system.clock(),
            )
        )
    async with charge_point(api) as cp:
        sent = await api.client(Role.OPERATOR)(
            "POST",
            "/charge-points/CP1/commands/CertificateSigned",
            {"certificateChain": pem(authority.certificate)},
        )
        assert sent.status == 400, sent.body
        assert "CertificateSignedMaxChainSize is 100" in sent.body["error"]
        assert cp.received == []


async def test_rejecting_a_pending_request(api: Api) -> None:
    await with_ca(api)
    admin = api.client(Role.ADMIN)
    async with charge_point(api) as cp:
        await cp.ask("SignCertificate", {"csr": make_csr(ec_key())})
        [row] = await stored(api)
        path = f"/certificate-requests/{row['id']}"
        rejected = await admin("POST", path + "/reject", {"reason": "unknown installer"})
        assert rejected.status == 200, rejected.body
        assert (rejected.body["status"], rejected.body["reason"]) == (
            "rejected",
            "unknown installer",
        )
        assert (await admin("POST", path + "/approve")).status == 409
        assert (await admin("POST", path + "/reject", {})).status == 409
        assert cp.received == []
    assert (await admin("POST", "/certificate-requests/999/approve")).status == 404
    assert (await admin("GET", "/certificate-requests/999")).status == 404
    assert (await admin("POST", path + "/reject", {"extra": 1})).status == 400


async def test_the_root_and_firmware_signing_certificates_are_served(api: Api) -> None:
    authority = await with_ca(api)
    answer = await api.client(Role.VIEWER)("GET", "/certificate-authority")
    assert answer.status == 200, answer.body
    files = CaFiles.of(api.system.settings.data_dir)
    assert answer.body["rootCertificate"] == files.ca_cert.read_text()
    assert answer.body["rootFingerprint"] == fingerprint(authority.certificate)
    assert answer.body["firmwareSigningCertificate"] == files.firmware_cert.read_text()
    assert answer.body["certificateSigning"] == "manual"


async def test_the_command_line_lists_approves_and_rejects(api: Api) -> None:
    await with_ca(api)
    await with_extension(api, "CP2")
    env = {"OCPPD_URL": api.url, "OCPPD_TOKEN": api.tokens[Role.ADMIN]}
    async with charge_point(api) as cp, charge_point(api, "CP2") as other:
        cp.replies["CertificateSigned"] = {"status": "Accepted"}
        await cp.ask("SignCertificate", {"csr": make_csr(ec_key())})
        await other.ask("SignCertificate", {"csr": make_csr(ec_key(), "CP2")})
        first, second = await stored(api)
        code, out, err = await ocppd("certificate-requests", "--status", "pending", env=env)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].split()[:3] == ["ID", "CHARGE", "POINT"]
        assert [line.split()[:3] for line in lines[1:3]] == [
            [str(second["id"]), "CP2", "pending"],
            [str(first["id"]), "CP1", "pending"],
        ]
        code, out, err = await ocppd("certificate-requests", "approve", str(first["id"]), env=env)
        assert code == 0, err
        assert '"status": "accepted"' in out
        assert [action for action, _ in cp.received] == ["CertificateSigned"]
        code, out, err = await ocppd(
            "certificate-requests", "reject", str(second["id"]), "--reason", "no", env=env
        )
        assert code == 0, err
        assert '"reason": "no"' in out
        code, _, err = await ocppd("certificate-requests", "approve", str(second["id"]), env=env)
        assert code == 1
        assert "rejected" in err
        assert other.received == []


async def test_a_chain_size_no_number_can_hold_is_the_fields_own_limit(api: Api) -> None:
    """A charger's CertificateSignedMaxChainSize of "²" (a digit to str.isdigit, not to
    int()) is no limit of its own: the certificate goes out, not a ValueError as the reason."""
    await with_ca(api)
    await max_chain_size(api, "²")
    async with charge_point(api) as cp:
        cp.replies["CertificateSigned"] = {"status": "Accepted"}
        assert await cp.ask("SignCertificate", {"csr": make_csr(ec_key())}) == {
            "status": "Accepted"
        }
        [row] = await stored(api)
        approved = await api.client(Role.ADMIN)(
            "POST", f"/certificate-requests/{row['id']}/approve"
        )
        assert approved.status == 200, approved.body
        assert approved.body["status"] == "accepted", approved.body


async def test_a_certificate_approved_while_its_charger_is_away_is_sent_when_it_boots(
    api: Api,
) -> None:
    authority = await with_ca(api)
    key = ec_key()
    async with third_party(api) as charger:
        answer = await charger.call(call.SignCertificate(csr=make_csr(key)))
        assert answer.status == GenericStatus.accepted
    await eventually(lambda: "CP1" not in api.system.connections, "the charger gone")
    [row] = await stored(api)
    approved = await api.client(Role.ADMIN)("POST", f"/certificate-requests/{row['id']}/approve")
    assert approved.status == 200, approved.body
    assert approved.body["status"] == "signed", approved.body
    assert approved.body["reason"] == "charge point 'CP1' is not connected"  # why, not "CP1"
    async with third_party(api) as charger:
        await eventually(lambda: bool(charger.chains), "CertificateSigned after its boot")
        leaf = check_chain(charger.chains[0], authority, key)
        await eventually(lambda: _status(api, "accepted"), "the charger's answer stored")
    assert len(charger.chains) == 1
    [row] = await stored(api)
    assert row["serial_number"] == format(leaf.serial_number, "x") == approved.body["serialNumber"]
    async with third_party(api) as charger:  # booted again: nothing more to send
        await charger.call(call.Heartbeat())
    assert charger.chains == []
