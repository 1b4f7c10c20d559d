"""The TLS files `ocppd serve` is given, checked before it starts: each loads, each key fits
its certificate, and the second certificate (`--tls-ecdsa-cert`) has an ECDSA key while the
first has another (OpenSSL keeps one certificate per key type: a second of the same type would
silently replace the first)."""

import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ocppd.transport.tls import server_context


def check_tls_files(
    cert: Path,
    key: Path,
    ecdsa_cert: Path | None = None,
    ecdsa_key: Path | None = None,
    client_ca: Path | None = None,
) -> str | None:
    """What is wrong with the files, if anything."""
    try:
        first = _certificates("--tls-cert", cert)[0]
        if ecdsa_cert is not None:
            second = _certificates("--tls-ecdsa-cert", ecdsa_cert)[0]
            if not isinstance(second.public_key(), ec.EllipticCurvePublicKey):
                return f"--tls-ecdsa-cert {ecdsa_cert}: not an ECDSA certificate"
            if isinstance(first.public_key(), ec.EllipticCurvePublicKey):
                return (
                    f"--tls-cert {cert} has an ECDSA key too: give an RSA certificate there "
                    "when --tls-ecdsa-cert is given"
                )
        if client_ca is not None:
            _certificates("--tls-client-ca", client_ca)
    except ValueError as error:
        return str(error)
    pairs = [(Path(cert), Path(key))]
    if ecdsa_cert is not None and ecdsa_key is not None:
        pairs.append((Path(ecdsa_cert), Path(ecdsa_key)))
    try:
        server_context(pairs, [Path(client_ca)] if client_ca else [])
    except (OSError, ssl.SSLError) as error:
        return f"TLS files: {error} (a certificate and its key that do not fit?)"
    return None


def _certificates(flag: str, path: Path) -> list[x509.Certificate]:
    """The PEM certificates of a file; ValueError naming the flag and file otherwise."""
    try:
        found = x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError) as error:
        raise ValueError(f"{flag} {path}: no PEM certificate ({error})") from None
    if not found:
        raise ValueError(f"{flag} {path}: no PEM certificate")
    return found
