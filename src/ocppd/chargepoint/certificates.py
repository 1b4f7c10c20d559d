"""A station's certificates (security white paper): its trust anchors, its own key and
certificate, and the checks it makes with them.

- Installed roots, per `CertificateUse` (InstallCertificate, GetInstalledCertificateIds,
  DeleteCertificate), named by `CertificateHashData` as the white paper's section 6.1 says:
  OCSP's CertID (RFC 6960), i.e. the hash of the DER of the certificate's issuer name, the
  hash of the issuer's public key (the BIT STRING's value), and the serial number in hex
  without leading zeros. cryptography's OCSP request builder computes exactly that.
- The charge point certificate: a key the station made itself (EC P-256, or RSA 2048) and
  the chain the central system sent for its CSR (CertificateSigned). The key of a CSR
  waits as `pending_key` until its certificate comes.
- `check_chain` (CertificateSigned), `check_root` (InstallCertificate),
  `check_signing_certificate` and `verify_signature` (SignedUpdateFirmware). Each returns the
  reason of a refusal, or None: the station answers Rejected / InvalidCertificate /
  InvalidSignature and records a security event with the reason as techInfo.

The chain check is made here rather than by cryptography's RFC 5280 verifier: that verifier
holds every certificate to the web PKI's profile (SAN, key usages, AKI...), which the
central system's CA need not follow; the white paper asks for the validity period, the
signatures up to the CPO's root, and the chain size.
"""

import base64
import binascii
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from ocppd.protocol.datatypes import CertificateHashData
from ocppd.protocol.enums import CertificateUse, HashAlgorithm
from ocppd.protocol.security import same_certificate

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    HashAlgorithm.SHA256: hashes.SHA256,
    HashAlgorithm.SHA384: hashes.SHA384,
    HashAlgorithm.SHA512: hashes.SHA512,
}


@dataclass
class CertificateStore:
    """What a station keeps of certificates; PEM text throughout (as it is saved)."""

    roots: dict[CertificateUse, list[str]] = field(default_factory=dict)
    key: str | None = None
    """The private key of the charge point certificate (PKCS#8 PEM); never leaves."""
    chain: str | None = None
    """The charge point certificate, then the sub-CAs that came with it."""
    pending_key: str | None = None
    """The key of the CSR sent last, until its certificate is accepted."""

    def installed(self, use: CertificateUse) -> list[x509.Certificate]:
        return [x509.load_pem_x509_certificate(pem.encode()) for pem in self.roots.get(use, [])]

    def count(self) -> int:
        return sum(len(pems) for pems in self.roots.values())

    def install(self, use: CertificateUse, certificate: x509.Certificate) -> None:
        """Add a root; one already there (the same certificate) is not added twice."""
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        kept = self.roots.setdefault(use, [])
        if all(x509.load_pem_x509_certificate(p.encode()) != certificate for p in kept):
            kept.append(pem)

    def find(self, wanted: CertificateHashData) -> tuple[CertificateUse, int] | None:
        """Where the root named by `wanted` is: its use and index."""
        for use, pems in self.roots.items():
            for index, pem in enumerate(pems):
                certificate = x509.load_pem_x509_certificate(pem.encode())
                if same_certificate(hash_data(certificate, wanted.hash_algorithm), wanted):
                    return use, index
        return None

    def remove(self, use: CertificateUse, index: int) -> None:
        del self.roots[use][index]

    @property
    def certificate(self) -> x509.Certificate | None:
        """The charge point certificate (the chain's first), if it has one."""
        if self.chain is None:
            return None
        return x509.load_pem_x509_certificates(self.chain.encode())[0]


def hash_data(
    certificate: x509.Certificate,
    algorithm: str = HashAlgorithm.SHA256,
    issuer: x509.Certificate | None = None,
) -> CertificateHashData:
    """The white paper's CertificateHashData of `certificate` issued by `issuer` (None: a
    root, its own issuer)."""
    hash_type = _HASHES[algorithm]
    builder = ocsp.OCSPRequestBuilder()
    request = builder.add_certificate(certificate, issuer or certificate, hash_type()).build()
    return CertificateHashData(
        hash_algorithm=HashAlgorithm(algorithm),
        issuer_name_hash=request.issuer_name_hash.hex(),
        issuer_key_hash=request.issuer_key_hash.hex(),
        serial_number=format(certificate.serial_number, "X"),
    )


# The charge point's key and CSR


def new_key(kind: KeyType = "ec") -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_key(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("Not an EC or RSA key")
    return key


def csr_pem(key: PrivateKey, common_name: str, organization: str) -> str:
    """A PEM CSR (RFC 2986) for `key`: CN the station's serial number or identity (white
    paper A00.FR.511), O the CpoName key (A02.FR.13) when set."""
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


# Checks


def load_chain(text: str) -> list[x509.Certificate]:
    """The certificates of a PEM text; ValueError when there is none or one is broken."""
    try:
        certificates = x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise ValueError(f"not PEM certificates ({exc})") from None
    if not certificates:
        raise ValueError("no certificate")
    return certificates


def _valid_at(certificate: x509.Certificate, now: datetime) -> str | None:
    if now < certificate.not_valid_before_utc:
        return f"not valid before {certificate.not_valid_before_utc.isoformat()}"
    if now > certificate.not_valid_after_utc:
        return f"expired {certificate.not_valid_after_utc.isoformat()}"
    return None


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_chain(
    text: str,
    pending_key: str | None,
    anchors: list[x509.Certificate],
    now: datetime,
    max_size: int,
) -> str | None:
    """Why the CertificateSigned chain `text` is refused, or None: not longer than
    CertificateSignedMaxChainSize, PEM certificates, the first for the key of the CSR sent,
    each valid now and signed by the next, the last signed by a trusted root (or one)."""
    if len(text) > max_size:
        return f"chain of {len(text)} characters, CertificateSignedMaxChainSize {max_size}"
    if pending_key is None:
        return "no certificate was requested"
    try:
        chain = load_chain(text)
    except ValueError as exc:
        return str(exc)
    public = load_key(pending_key).public_key()
    if chain[0].public_key() != public:
        return "the certificate is not for the key of the CSR"
    for certificate in chain:
        invalid = _valid_at(certificate, now)
        if invalid is not None:
            return f"serial {certificate.serial_number:x}: {invalid}"
    for certificate, issuer in itertools.pairwise(chain):
        if not (_is_ca(issuer) and issued_by(certificate, issuer)):
            return f"serial {certificate.serial_number:x} is not signed by the next certificate"
    last = chain[-1]
    if not any(last == root or issued_by(last, root) for root in anchors):
        return "the chain does not lead to an installed CentralSystemRootCertificate"
    return None


def check_root(certificate: x509.Certificate, now: datetime) -> str | None:
    """Why a root offered by InstallCertificate is refused: not a CA, or not valid now."""
    if not _is_ca(certificate):
        return "not a CA certificate"
    return _valid_at(certificate, now)


def check_signing_certificate(pem: str, roots: list[x509.Certificate], now: datetime) -> str | None:
    """Why a firmware signing certificate is refused: it must be issued directly by an
    installed ManufacturerRootCertificate (no intermediates, L01) and valid now."""
    try:
        certificate = load_chain(pem)[0]
    except ValueError as exc:
        return str(exc)
    invalid = _valid_at(certificate, now)
    if invalid is not None:
        return invalid
    if not any(issued_by(certificate, root) for root in roots):
        return "not issued by an installed ManufacturerRootCertificate"
    return None


def verify_signature(image: bytes, signature: str, signing_certificate: str) -> str | None:
    """Why the firmware's signature is refused: base64 of the signature over the file's
    bytes with SHA-256 (ECDSA, DER; RSA, PKCS#1 v1.5 or PSS)."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return "the signature is not base64"
    key = load_chain(signing_certificate)[0].public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, image, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            _verify_rsa(key, raw, image)
        else:
            return f"unsupported key {type(key).__name__}"
    except InvalidSignature:
        return "the signature does not match the firmware"
    return None


def _verify_rsa(key: rsa.RSAPublicKey, raw: bytes, image: bytes) -> None:
    try:
        key.verify(raw, image, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        # The white paper names RSA-PSS; ocppd's CA signs PKCS#1 v1.5: either will do.
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        key.verify(raw, image, pss, hashes.SHA256())
