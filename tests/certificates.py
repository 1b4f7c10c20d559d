"""Certificates for tests over real TLS, made with `cryptography` in the test's directory: a
test CA, a server certificate for 127.0.0.1 and localhost with an RSA key and another with an
ECDSA key, and client certificates (a charger's, another CA's, expired ones) on demand."""

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Pair:
    """A certificate and its key, as PEM files."""

    cert: Path
    key: Path


def _key(kind: str) -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _write(directory: Path, name: str, certificate: x509.Certificate, key: PrivateKey) -> Pair:
    cert, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pair(cert, key_file)


class TestCa:
    """A certificate authority of a test, and what it issues, written under `directory`."""

    __test__ = False  # not a test class for pytest

    def __init__(self, directory: Path, name: str = "ocppd test CA") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.key = _key("ecdsa")
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 365 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.cert = directory / f"{name.replace(' ', '-')}.pem"
        self.cert.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def server(self, kind: str = "rsa", name: str | None = None) -> Pair:
        """A server certificate for 127.0.0.1 and localhost, with an RSA or ECDSA key."""
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        key = _key(kind)
        certificate = self._issue(
            "localhost", key, ExtendedKeyUsageOID.SERVER_AUTH, x509.SubjectAlternativeName(names)
        )
        return _write(self.directory, name or f"server-{kind}", certificate, key)

    def client(
        self,
        common_name: str,
        kind: str = "ecdsa",
        expired: bool = False,
        name: str | None = None,
    ) -> Pair:
        """A charger's certificate with subject CN `common_name` (expired: valid until
        yesterday)."""
        key = _key(kind)
        certificate = self._issue(
            common_name, key, ExtendedKeyUsageOID.CLIENT_AUTH, expired=expired
        )
        return _write(self.directory, name or f"client-{common_name}", certificate, key)

    def _issue(
        self,
        common_name: str,
        key: PrivateKey,
        usage: x509.ObjectIdentifier,
        names: x509.SubjectAlternativeName | None = None,
        expired: bool = False,
    ) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        start, end = (now - 30 * DAY, now - DAY) if expired else (now - DAY, now + 30 * DAY)
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocppd tests"),
                        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    ]
                )
            )
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names is not None:
            builder = builder.add_extension(names, critical=False)
        return builder.sign(self.key, hashes.SHA256())
