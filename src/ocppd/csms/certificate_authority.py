"""ocppd's certificate authority: its keys and certificates, the checks of a charger's
certificate signing request (SignCertificate), the certificates it issues, and firmware
signatures (SignedUpdateFirmware). Decision 0007.

Everything here is pure but for `CaFiles` (the files of `<data-dir>/ca/`) and the loaders at
the end. Keys are ECDSA P-256 (decision 0007: a chain of leaf and root is ~1,400 characters of
the 10,000 CertificateSigned allows, signatures are fast, and every TLS 1.2 stack has P-256);
an RSA server certificate is issued beside the ECDSA one, so that a charger offering only the
white paper's TLS_RSA_* suites can connect too. An operator's own CA (`--ca-cert/--ca-key`)
may be RSA or EC: signing follows its key type.

Private keys are written unencrypted (PKCS#8 PEM), mode 0600: `ocppd serve` must read them
unattended; the file system protects them.
"""

import base64
import hashlib
import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

CA_DAYS = 3650
"""The root's validity: ten years, so that chargers' installed roots rarely change."""
SERVER_DAYS = 825
FIRMWARE_SIGNING_DAYS = 1095
CHARGER_DAYS = 365
"""A charger certificate's validity: one year. Chargers renew it themselves a month before
it ends (the white paper's A03), so a short life costs nothing but a SignCertificate."""
BACKDATE = timedelta(minutes=5)
"""notBefore is set a little in the past: a charger whose clock is a bit behind must not
refuse a certificate that is not valid yet."""
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224
MAX_CHAIN_CHARACTERS = 10_000
"""CertificateSigned's certificateChain holds at most 10,000 characters."""
DEFAULT_SERVER_NAMES = ("localhost", "127.0.0.1")


class CsrRefused(ValueError):
    """A certificate signing request ocppd will not sign; the message says why."""


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def new_rsa_key(bits: int = 3072) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = []
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate and the key that signs with it."""

    certificate: x509.Certificate
    key: PrivateKey

    def _builder(
        self, subject: x509.Name, public_key: PublicKey, now: datetime, days: int
    ) -> x509.CertificateBuilder:
        not_after = min(now + timedelta(days=days), self.certificate.not_valid_after_utc)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )

    def issue(
        self,
        subject: x509.Name,
        public_key: PublicKey,
        now: datetime,
        days: int,
        usage: x509.ObjectIdentifier,
        names: Iterable[str] = (),
    ) -> x509.Certificate:
        """A leaf certificate for `usage` (an extended key usage: clientAuth, serverAuth,
        codeSigning), never longer-lived than the CA itself."""
        builder = self._builder(subject, public_key, now, days)
        builder = builder.add_extension(_key_usage(public_key, usage), critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        alternative = [_general_name(n) for n in names]
        if alternative:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(alternative), critical=False
            )
        return builder.sign(self.key, hashes.SHA256())

    def sign_request(
        self, request: "CheckedRequest", now: datetime, days: int = CHARGER_DAYS
    ) -> x509.Certificate:
        """A charger's client certificate from its checked CSR: its CN (and O, if the CSR has
        one) and public key; nothing else the CSR asks for (extensions) is taken."""
        subject = _name(request.common_name, request.organization)
        return self.issue(subject, request.public_key, now, days, ExtendedKeyUsageOID.CLIENT_AUTH)

    def chain(self, leaf: x509.Certificate) -> str:
        """The PEM chain CertificateSigned carries: the leaf, then the CA."""
        return pem(leaf) + pem(self.certificate)


def _key_usage(public_key: PublicKey, usage: x509.ObjectIdentifier) -> x509.KeyUsage:
    elliptic = isinstance(public_key, ec.EllipticCurvePublicKey)
    signing_only = usage == ExtendedKeyUsageOID.CODE_SIGNING
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        # TLS_RSA_* suites encrypt the premaster secret with an RSA server key; ECDH suites
        # with a static EC key need keyAgreement.
        key_encipherment=not elliptic and not signing_only,
        data_encipherment=False,
        key_agreement=elliptic and not signing_only,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def create_authority(now: datetime, common_name: str | None = None) -> Authority:
    """A new self-signed root: may sign leaves only (pathLen 0)."""
    key = new_key()
    subject = _name(common_name or f"ocppd CA {socket.gethostname()}", "ocppd")
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(certificate, key)


# --- certificate signing requests -------------------------------------------------------


@dataclass(frozen=True)
class CheckedRequest:
    """A CSR that passed `check_request`: what ocppd signs and stores of it."""

    common_name: str
    organization: str | None
    subject: str
    """RFC 4514 form of the CSR's whole subject, as shown to operators."""
    public_key: PublicKey
    key_type: str
    """"RSA" or "EC"."""
    key_bits: int


def check_request(csr_pem: str, expected_common_name: str | None) -> CheckedRequest:
    """The white paper's checks of a SignCertificate's CSR, in order: it is one PEM
    certificate request, its signature verifies with its own key (the charger holds the
    private key), the key is RSA >= 2048 or EC >= 224 bits, and its subject's CN is exactly
    `expected_common_name` (the charger's identity, or its serial number with
    `--client-certificate-cn serial-number`; None: any). O (CpoName) is not required: ocppd does not
    know which CpoName a charger was given; it is kept in the certificate when present.

    Raises `CsrRefused` with the reason."""
    request = _parse_request(csr_pem)
    if not request.is_signature_valid:
        raise CsrRefused("the CSR's signature does not verify with its public key")
    public_key = request.public_key()
    key_type, bits = _key_facts(public_key)
    common_name = _single(request.subject, NameOID.COMMON_NAME, "CN")
    if common_name is None:
        raise CsrRefused("the CSR's subject has no CN")
    if expected_common_name is not None and common_name != expected_common_name:
        raise CsrRefused(f"the CSR's subject CN is {common_name!r}, not {expected_common_name!r}")
    assert isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    return CheckedRequest(
        common_name=common_name,
        organization=_single(request.subject, NameOID.ORGANIZATION_NAME, "O"),
        subject=request.subject.rfc4514_string(),
        public_key=public_key,
        key_type=key_type,
        key_bits=bits,
    )


def _parse_request(csr_pem: str) -> x509.CertificateSigningRequest:
    text = csr_pem.strip()
    if not text.isascii():
        raise CsrRefused("the CSR is not PEM: it has characters that are not ASCII")
    if text.count("-----BEGIN ") != 1 or not text.startswith("-----BEGIN CERTIFICATE REQUEST"):
        raise CsrRefused("the CSR is not one PEM block 'CERTIFICATE REQUEST'")
    try:
        return x509.load_pem_x509_csr(text.encode())
    except ValueError as exc:
        raise CsrRefused(f"the CSR cannot be read: {exc}") from None


def _key_facts(public_key: object) -> tuple[str, int]:
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            raise CsrRefused(
                f"the CSR's RSA key has {public_key.key_size} bits; at least {MIN_RSA_BITS}"
            )
        return "RSA", public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.key_size < MIN_EC_BITS:
            raise CsrRefused(
                f"the CSR's EC key has {public_key.key_size} bits "
                f"({public_key.curve.name}); at least {MIN_EC_BITS}"
            )
        return "EC", public_key.key_size
    raise CsrRefused(f"the CSR's key is {type(public_key).__name__}; RSA or EC only")


def _single(name: x509.Name, oid: x509.ObjectIdentifier, label: str) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if len(values) > 1:
        raise CsrRefused(f"the CSR's subject has {len(values)} {label} attributes; one")
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


# --- firmware signatures ----------------------------------------------------------------


@dataclass(frozen=True)
class FirmwareSignature:
    """What SignedUpdateFirmware's `firmware` carries besides the location."""

    signature: str
    """Base64 of the signature over the file's bytes with SHA-256: ECDSA DER, or RSA
    PKCS#1 v1.5."""
    signing_certificate: str
    """The firmware-signing certificate, PEM."""


def sign_firmware(
    firmware: bytes, key: PrivateKey, certificate: x509.Certificate
) -> FirmwareSignature:
    """Sign a firmware image held in memory (see `sign_firmware_file` for a file)."""
    return _signature(hashlib.sha256(firmware).digest(), key, certificate)


def sign_firmware_file(
    path: Path, key: PrivateKey, certificate: x509.Certificate
) -> FirmwareSignature:
    """Sign the firmware file at `path` for SignedUpdateFirmware: base64 of the signature
    over its bytes with SHA-256 (ECDSA: DER; RSA: PKCS#1 v1.5) and the signing certificate
    PEM. The file is read in chunks (images are large). `FirmwareSigner` holds the key and
    certificate of `<data-dir>/ca/firmware-signing.*`."""
    return _signature(_file_digest(path), key, certificate)


def _file_digest(path: Path) -> bytes:
    """SHA-256 of the file at `path`, read in chunks (images are large)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def _signature(digest: bytes, key: PrivateKey, certificate: x509.Certificate) -> FirmwareSignature:
    prehashed = Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(digest, padding.PKCS1v15(), prehashed)
    else:
        raw = key.sign(digest, ec.ECDSA(prehashed))
    return FirmwareSignature(base64.b64encode(raw).decode("ascii"), pem(certificate))


def verify_firmware_signature(firmware: bytes, signature: str, certificate_pem: str) -> bool:
    """Whether `signature` (base64) is the signing certificate's key's over `firmware`."""
    return _verifies(hashlib.sha256(firmware).digest(), signature, certificate_pem)


def verify_firmware_file_signature(path: Path, signature: str, certificate_pem: str) -> bool:
    """`verify_firmware_signature` over the file at `path`, read in chunks: blocking work
    (a hash of up to the upload limit), for a thread."""
    return _verifies(_file_digest(path), signature, certificate_pem)


def _verifies(digest: bytes, signature: str, certificate_pem: str) -> bool:
    public_key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    prehashed = Prehashed(hashes.SHA256())
    try:
        raw = base64.b64decode(signature, validate=True)
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(raw, digest, padding.PKCS1v15(), prehashed)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(raw, digest, ec.ECDSA(prehashed))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class FirmwareSigner:
    """The firmware-signing key and certificate (`<data-dir>/ca/firmware-signing.*`)."""

    certificate: x509.Certificate
    key: PrivateKey

    def sign(self, firmware: bytes) -> FirmwareSignature:
        return sign_firmware(firmware, self.key, self.certificate)

    def sign_file(self, path: Path) -> FirmwareSignature:
        return sign_firmware_file(path, self.key, self.certificate)


# --- encodings --------------------------------------------------------------------------


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER form, colon-separated upper-case hex (as `openssl x509
    -fingerprint -sha256` prints it)."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def serial_hex(certificate: x509.Certificate) -> str:
    """The serial number in hex without leading zeros (how OCPP's CertificateHashData and
    the `Connected` event's clientCertificate name it), lower case."""
    return format(certificate.serial_number, "x")


# --- files ------------------------------------------------------------------------------


class CaExists(FileExistsError):
    """`ca init` would overwrite an existing CA."""


@dataclass(frozen=True)
class CaFiles:
    """The files of `<data-dir>/ca/`."""

    directory: Path

    @classmethod
    def of(cls, data_dir: Path) -> "CaFiles":
        return cls(data_dir / "ca")

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def server_rsa_cert(self) -> Path:
        return self.directory / "server-rsa.pem"

    @property
    def server_rsa_key(self) -> Path:
        return self.directory / "server-rsa.key"

    @property
    def firmware_cert(self) -> Path:
        return self.directory / "firmware-signing.pem"

    @property
    def firmware_key(self) -> Path:
        return self.directory / "firmware-signing.key"

    def all(self) -> list[Path]:
        return [
            self.ca_cert,
            self.ca_key,
            self.server_cert,
            self.server_key,
            self.server_rsa_cert,
            self.server_rsa_key,
            self.firmware_cert,
            self.firmware_key,
        ]

    def exists(self) -> bool:
        return self.ca_cert.exists() or self.ca_key.exists()

    def initialize(
        self,
        now: datetime,
        server_names: Iterable[str] = DEFAULT_SERVER_NAMES,
        force: bool = False,
    ) -> Authority:
        """A new CA with its server and firmware-signing certificates. Refuses to replace an
        existing CA unless `force`: every charger certificate it issued would stop chaining
        to the root the chargers hold."""
        if self.exists() and not force:
            raise CaExists(f"a CA exists in {self.directory} (--force replaces it)")
        names = list(dict.fromkeys(server_names)) or list(DEFAULT_SERVER_NAMES)
        authority = create_authority(now)
        self.directory.mkdir(parents=True, exist_ok=True)
        server_subject = _name(names[0], "ocppd")
        for cert_path, key_path, key in (
            (self.server_cert, self.server_key, new_key()),
            (self.server_rsa_cert, self.server_rsa_key, new_rsa_key()),
        ):
            server = authority.issue(
                server_subject,
                key.public_key(),
                now,
                SERVER_DAYS,
                ExtendedKeyUsageOID.SERVER_AUTH,
                names,
            )
            _write_pair(cert_path, key_path, server, key)
        signing_key = new_key()
        signing = authority.issue(
            _name("ocppd firmware signing", "ocppd"),
            signing_key.public_key(),
            now,
            FIRMWARE_SIGNING_DAYS,
            ExtendedKeyUsageOID.CODE_SIGNING,
        )
        _write_pair(self.firmware_cert, self.firmware_key, signing, signing_key)
        # The root last: a CA directory with ca.pem is complete.
        _write_pair(self.ca_cert, self.ca_key, authority.certificate, authority.key)
        return authority

    def authority(self) -> Authority:
        return load_authority(self.ca_cert, self.ca_key)

    def firmware_signer(self) -> FirmwareSigner:
        certificate, key = _load_pair(self.firmware_cert, self.firmware_key)
        return FirmwareSigner(certificate, key)


def _write_pair(
    cert_path: Path, key_path: Path, certificate: x509.Certificate, key: PrivateKey
) -> None:
    _write_atomically(key_path, key_pem(key), 0o600)
    _write_atomically(cert_path, pem(certificate).encode("ascii"), 0o644)


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    """Written beside and renamed into place, created with `mode` from the start (a key is
    never readable by others, not even for a moment)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class CaUnreadable(ValueError):
    """A CA certificate or key file that cannot be used; the message names it."""


def load_authority(cert_path: Path, key_path: Path) -> Authority:
    """An operator's CA (`--ca-cert/--ca-key`) or ocppd's own: the certificate must be a CA
    and the key must be its key."""
    certificate, key = _load_pair(cert_path, key_path)
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        raise CaUnreadable(f"{cert_path}: not a CA certificate (no basicConstraints)") from None
    if not constraints.value.ca:
        raise CaUnreadable(f"{cert_path}: not a CA certificate (basicConstraints CA:FALSE)")
    return Authority(certificate, key)


def _spki(public_key: object) -> bytes:
    assert isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, PrivateKey]:
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CaUnreadable(f"{cert_path}: {exc}") from None
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CaUnreadable(f"{key_path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CaUnreadable(f"{key_path}: an RSA or EC key is needed, not {type(key).__name__}")
    if _spki(key.public_key()) != _spki(certificate.public_key()):
        raise CaUnreadable(f"{key_path}: not the key of {cert_path}")
    return certificate, key
