"""ocppd's certificate authority, without a network: the CA directory, CSR checks, issued
certificates verified (`cryptography`'s verifier, OpenSSL in a TLS handshake), firmware
signatures."""

import base64
import ipaddress
import os
import socket
import ssl
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    PolicyBuilder,
    Store,
    VerificationError,
)

from ocppd.csms.certificate_authority import (
    Authority,
    CaExists,
    CaFiles,
    CaUnreadable,
    CsrRefused,
    FirmwareSigner,
    check_request,
    create_authority,
    fingerprint,
    key_pem,
    load_authority,
    pem,
    serial_hex,
    sign_firmware_file,
    verify_firmware_signature,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def csr(
    key: Any,
    common_name: str | None = "CP1",
    organization: str | None = "Example CPO",
) -> str:
    attributes = []
    if organization is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if common_name is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    request = builder.sign(
        key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def authority() -> Authority:
    return create_authority(NOW)


def verify_leaf(authority: Authority, leaf: x509.Certificate, at: datetime) -> None:
    """The leaf's signature is the CA's and it is valid at `at`. (cryptography's
    ClientVerifier wants a subjectAltName, which a charger certificate has no use for; OpenSSL
    verifies the whole chain in `test_a_tls_handshake_with_the_issued_certificates`.)"""
    leaf.verify_directly_issued_by(authority.certificate)
    if not leaf.not_valid_before_utc <= at <= leaf.not_valid_after_utc:
        raise VerificationError(f"not valid at {at}")


def test_init_writes_the_files_with_private_keys_0600(tmp_path: Path) -> None:
    files = CaFiles.of(tmp_path)
    files.initialize(NOW, ["csms.example.com", "192.0.2.7"])
    for path in files.all():
        assert path.exists(), path
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.suffix == ".key":
            assert mode == 0o600, path
    authority = files.authority()
    server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["csms.example.com"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["192.0.2.7"]
    verifier = PolicyBuilder().store(Store([authority.certificate])).time(NOW)
    verifier.build_server_verifier(x509.DNSName("csms.example.com")).verify(server, [])
    rsa_server = x509.load_pem_x509_certificate(files.server_rsa_cert.read_bytes())
    assert isinstance(rsa_server.public_key(), rsa.RSAPublicKey)
    verifier.build_server_verifier(x509.IPAddress(ipaddress.ip_address("192.0.2.7"))).verify(
        rsa_server, []
    )
    assert isinstance(authority.key, ec.EllipticCurvePrivateKey)
    assert authority.key.curve.name == "secp256r1"


def test_default_server_names_are_localhost_and_loopback(tmp_path: Path) -> None:
    files = CaFiles.of(tmp_path)
    files.initialize(NOW)
    server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_an_existing_ca_is_kept_unless_forced(tmp_path: Path) -> None:
    files = CaFiles.of(tmp_path)
    first = files.initialize(NOW)
    with pytest.raises(CaExists):
        files.initialize(NOW)
    assert files.authority().certificate == first.certificate
    second = files.initialize(NOW, force=True)
    assert files.authority().certificate == second.certificate != first.certificate


def test_a_csr_is_signed_into_a_client_certificate_that_chains_to_the_ca(
    authority: Authority,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    checked = check_request(csr(key), "CP1")
    assert (checked.key_type, checked.key_bits, checked.common_name) == ("EC", 256, "CP1")
    assert checked.organization == "Example CPO"
    leaf = authority.sign_request(checked, NOW)
    chain = authority.chain(leaf)
    assert len(chain) < 2000
    certificates = x509.load_pem_x509_certificates(chain.encode())
    assert certificates == [leaf, authority.certificate]
    verify_leaf(authority, leaf, NOW)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP1"
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_agreement
    extended = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(extended) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc > timedelta(days=364)
    assert leaf.public_key() == key.public_key()
    assert serial_hex(leaf) == format(leaf.serial_number, "x")


def test_an_rsa_csr_is_signed_too(authority: Authority) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    checked = check_request(csr(key, organization=None), "CP1")
    assert (checked.key_type, checked.key_bits, checked.organization) == ("RSA", 2048, None)
    leaf = authority.sign_request(checked, NOW)
    verify_leaf(authority, leaf, NOW)


def test_the_certificate_is_not_valid_before_it_is_issued_nor_after_a_year(
    authority: Authority,
) -> None:
    leaf = authority.sign_request(
        check_request(csr(ec.generate_private_key(ec.SECP256R1())), "CP1"), NOW
    )
    with pytest.raises(VerificationError):
        verify_leaf(authority, leaf, NOW + timedelta(days=400))
    with pytest.raises(VerificationError):
        verify_leaf(authority, leaf, NOW - timedelta(days=1))


def test_another_ca_does_not_verify_the_leaf(authority: Authority) -> None:
    other = create_authority(NOW)
    leaf = authority.sign_request(
        check_request(csr(ec.generate_private_key(ec.SECP256R1())), "CP1"), NOW
    )
    with pytest.raises(InvalidSignature):  # the same subject name: the signature tells
        verify_leaf(other, leaf, NOW)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not one PEM block"),
        ("hello", "not one PEM block"),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            "cannot be read",
        ),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\né\n-----END CERTIFICATE REQUEST-----\n",
            "not ASCII",
        ),
    ],
)
def test_a_malformed_csr_is_refused(text: str, reason: str) -> None:
    with pytest.raises(CsrRefused, match=reason):
        check_request(text, "CP1")


def test_two_csrs_in_one_text_are_refused() -> None:
    one = csr(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(CsrRefused, match="one PEM block"):
        check_request(one + one, "CP1")


def test_a_csr_whose_signature_is_broken_is_refused() -> None:
    text = csr(ec.generate_private_key(ec.SECP256R1()))
    der = bytearray(x509.load_pem_x509_csr(text.encode()).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature's last integer
    broken = (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(bytes(der)).decode()
        + "-----END CERTIFICATE REQUEST-----\n"
    )
    with pytest.raises(CsrRefused, match="signature does not verify"):
        check_request(broken, "CP1")


def test_a_csr_for_another_identity_is_refused() -> None:
    with pytest.raises(CsrRefused, match="'CP2', not 'CP1'"):
        check_request(csr(ec.generate_private_key(ec.SECP256R1()), "CP2"), "CP1")
    with pytest.raises(CsrRefused, match="no CN"):
        check_request(csr(ec.generate_private_key(ec.SECP256R1()), None), "CP1")


def test_the_cn_may_be_the_serial_number_when_asked() -> None:
    checked = check_request(csr(ec.generate_private_key(ec.SECP256R1()), "SN-0042"), "SN-0042")
    assert checked.common_name == "SN-0042"


def test_small_keys_are_refused() -> None:
    with pytest.raises(CsrRefused, match="RSA key has 1024 bits; at least 2048"):
        check_request(csr(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "CP1")
    with pytest.raises(CsrRefused, match="EC key has 192 bits"):
        check_request(csr(ec.generate_private_key(ec.SECP192R1())), "CP1")
    assert check_request(csr(ec.generate_private_key(ec.SECP224R1())), "CP1").key_bits == 224


def test_keys_other_than_rsa_and_ec_are_refused() -> None:
    with pytest.raises(CsrRefused, match="RSA or EC only"):
        check_request(csr(ed25519.Ed25519PrivateKey.generate()), "CP1")


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_firmware_signature_verifies_with_the_signing_certificate(
    tmp_path: Path, kind: str
) -> None:
    authority = create_authority(NOW)
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    certificate = authority.issue(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")]),
        key.public_key(),
        NOW,
        30,
        ExtendedKeyUsageOID.CODE_SIGNING,
    )
    image = tmp_path / "firmware.bin"
    content = os.urandom(3 * (1 << 20) + 17)  # several chunks of the file reader
    image.write_bytes(content)
    signed = sign_firmware_file(image, key, certificate)
    assert signed.signing_certificate == pem(certificate)
    raw = base64.b64decode(signed.signature)
    # Checked with cryptography directly, as a charger would: SHA-256 over the bytes.
    if isinstance(key, rsa.RSAPrivateKey):
        key.public_key().verify(raw, content, padding.PKCS1v15(), hashes.SHA256())
    else:
        key.public_key().verify(raw, content, ec.ECDSA(hashes.SHA256()))
    assert verify_firmware_signature(content, signed.signature, signed.signing_certificate)
    assert not verify_firmware_signature(content + b"x", signed.signature, pem(certificate))
    assert FirmwareSigner(certificate, key).sign(content).signing_certificate == pem(certificate)


def test_the_firmware_signer_of_the_ca_directory(tmp_path: Path) -> None:
    files = CaFiles.of(tmp_path)
    authority = files.initialize(NOW)
    signer = files.firmware_signer()
    signed = signer.sign(b"image")
    assert verify_firmware_signature(b"image", signed.signature, signed.signing_certificate)
    certificate = x509.load_pem_x509_certificate(signed.signing_certificate.encode())
    assert certificate.issuer == authority.certificate.subject
    extended = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(extended) == [ExtendedKeyUsageOID.CODE_SIGNING]
    authority.certificate.public_key().verify(  # type: ignore[call-arg, union-attr]
        certificate.signature,
        certificate.tbs_certificate_bytes,
        ec.ECDSA(hashes.SHA256()),
    )


def test_an_operators_ca_is_loaded_and_checked(tmp_path: Path) -> None:
    files = CaFiles.of(tmp_path)
    authority = files.initialize(NOW)
    loaded = load_authority(files.ca_cert, files.ca_key)
    assert fingerprint(loaded.certificate) == fingerprint(authority.certificate)
    assert len(fingerprint(loaded.certificate).split(":")) == 32
    with pytest.raises(CaUnreadable, match="not the key of"):
        load_authority(files.ca_cert, files.server_key)
    with pytest.raises(CaUnreadable, match="not a CA certificate"):
        load_authority(files.server_cert, files.server_key)
    with pytest.raises(CaUnreadable, match=r"missing\.pem"):
        load_authority(tmp_path / "missing.pem", files.ca_key)
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key")
    with pytest.raises(CaUnreadable, match=r"garbage\.key"):
        load_authority(files.ca_cert, garbage)


def test_a_tls_handshake_with_the_issued_certificates(tmp_path: Path) -> None:
    """OpenSSL (Python's ssl) accepts what ocppd issues: the server certificate of `ca init`
    for localhost, and a charger's client certificate with its chain, both ways verified."""
    files = CaFiles.of(tmp_path)
    authority = files.initialize(datetime.now(UTC))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = authority.sign_request(check_request(csr(key), "CP1"), datetime.now(UTC))
    client_cert = tmp_path / "client.pem"
    client_cert.write_text(authority.chain(leaf))
    client_key = tmp_path / "client.key"
    client_key.write_bytes(key_pem(key))

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(files.server_cert, files.server_key)
    server_context.load_verify_locations(files.ca_cert)
    server_context.verify_mode = ssl.CERT_REQUIRED
    client_context = ssl.create_default_context(cafile=files.ca_cert)
    client_context.load_cert_chain(client_cert, client_key)

    left, right = socket.socketpair()
    peer: list[dict[str, object]] = []

    def serve() -> None:
        with server_context.wrap_socket(left, server_side=True) as tls:
            peer.append(tls.getpeercert())
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve)
    thread.start()
    with client_context.wrap_socket(right, server_hostname="localhost") as tls:
        assert tls.recv(2) == b"ok"
    thread.join(timeout=60)
    subject = dict(pair[0] for pair in peer[0]["subject"])  # type: ignore[attr-defined]
    assert subject["commonName"] == "CP1"
