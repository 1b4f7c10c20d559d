"""Certificates for the security tests, made with `cryptography`: a CA with a server
certificate for 127.0.0.1, charge point certificates signed from CSRs, a manufacturer root
with a firmware signing certificate."""

import base64
import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: Key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _name(common_name: str, organization: str = "Test CPO") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


@dataclass
class Authority:
    """A CA: its key and self-signed certificate."""

    key: Key
    certificate: x509.Certificate

    @classmethod
    def create(cls, name: str = "Test Root", *, days: int = 365) -> "Authority":
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    @property
    def pem(self) -> str:
        return pem(self.certificate)

    def issue(
        self,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        *,
        server: bool = False,
        ca: bool = False,
        valid_from: datetime | None = None,
        days: int = 30,
    ) -> x509.Certificate:
        start = valid_from or datetime.now(UTC) - timedelta(hours=1)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if server:
            addresses = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost"), *addresses]),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        return builder.sign(self.key, hashes.SHA256())

    def sign_csr(self, csr_text: str, **options: object) -> str:
        """The PEM chain (leaf, then this CA) for a PEM CSR."""
        csr = x509.load_pem_x509_csr(csr_text.encode())
        public = csr.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        leaf = self.issue(csr.subject, public, **options)  # type: ignore[arg-type]
        return pem(leaf) + self.pem

    def leaf(self, common_name: str, **options: object) -> tuple[Key, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        return key, self.issue(_name(common_name), key.public_key(), **options)  # type: ignore[arg-type]


@dataclass
class ServerTls:
    """A CA and the server certificate of 127.0.0.1 it issued, as files."""

    ca: Authority
    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, directory: Path) -> "ServerTls":
        ca = Authority.create("Test CS Root")
        key, certificate = ca.leaf("127.0.0.1", server=True)
        ca_file, cert_file, key_file = (
            directory / n for n in ("ca.pem", "server.pem", "server.key")
        )
        ca_file.write_text(ca.pem)
        cert_file.write_text(pem(certificate))
        key_file.write_text(key_pem(key))
        return cls(ca, ca_file, cert_file, key_file)

    def context(self, client_certificates: bool | None = None) -> ssl.SSLContext:
        """The server's context; `client_certificates` True: required, None: optional,
        False: not asked for. Clients are trusted when issued by this CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        if client_certificates is not False:
            context.load_verify_locations(cafile=self.ca_file)
            context.verify_mode = ssl.CERT_REQUIRED if client_certificates else ssl.CERT_OPTIONAL
        return context


def sign_firmware(key: Key, image: bytes) -> str:
    return base64.b64encode(key.sign(image, ec.ECDSA(hashes.SHA256()))).decode()
