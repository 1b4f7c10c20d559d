"""Figures for ocppd's certificate authority (issue 19, decision 0007): what `ocppd ca init`
costs, how many SignCertificate CSRs a second the CA checks and signs, how long the
CertificateSigned chain is per key type (the field holds 10,000 characters), and how fast a
firmware image is signed, against OpenSSL's command line on the same key and file.

    .venv/bin/python bench/certificate_authority.py           # 64 MiB image, 5 rounds
    .venv/bin/python bench/certificate_authority.py --quick   # 8 MiB image, 2 rounds

The machine's load average is printed with the figures (the development machine is shared:
read the ratios more than the absolute figures).
"""

import argparse
import base64
import os
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ocppd.csms.certificate_authority import (
    CaFiles,
    check_request,
    create_authority,
    sign_firmware_file,
    verify_firmware_signature,
)


def best_and_median(values: list[float]) -> str:
    return f"best {min(values) * 1000:.1f} ms, median {statistics.median(values) * 1000:.1f} ms"


def csr_for(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example CPO"),
            x509.NameAttribute(NameOID.COMMON_NAME, "CP-0001"),
        ]
    )
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()


def bench_init(rounds: int) -> None:
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as directory:
            started = time.perf_counter()
            CaFiles.of(Path(directory)).initialize(datetime.now(UTC))
            times.append(time.perf_counter() - started)
    print(
        "ca init (root, 2 server certificates incl. RSA 3072, firmware signing): "
        + best_and_median(times)
    )


def bench_signing(count: int) -> None:
    authority = create_authority(datetime.now(UTC))
    now = datetime.now(UTC)
    keys: dict[str, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey] = {
        "EC P-256": ec.generate_private_key(ec.SECP256R1()),
        "EC P-384": ec.generate_private_key(ec.SECP384R1()),
        "RSA 2048": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "RSA 4096": rsa.generate_private_key(public_exponent=65537, key_size=4096),
    }
    for name, key in keys.items():
        csr = csr_for(key)
        started = time.perf_counter()
        for _ in range(count):
            leaf = authority.sign_request(check_request(csr, "CP-0001"), now)
        elapsed = time.perf_counter() - started
        chain = authority.chain(leaf)
        print(
            f"CSR {name}: checked and signed {count / elapsed:,.0f}/s "
            f"({elapsed / count * 1000:.2f} ms each); chain {len(chain):,} characters "
            f"of 10,000 (CSR {len(csr):,} of 5,500)"
        )


def bench_firmware(size: int, rounds: int) -> None:
    authority = create_authority(datetime.now(UTC))
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = authority.issue(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")]),
        key.public_key(),
        datetime.now(UTC),
        30,
        x509.oid.ExtendedKeyUsageOID.CODE_SIGNING,
    )
    with tempfile.TemporaryDirectory() as directory:
        image = Path(directory) / "firmware.bin"
        image.write_bytes(os.urandom(size))
        key_file = Path(directory) / "signing.key"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        ours, theirs = [], []
        signature_file = Path(directory) / "signature.der"
        for _ in range(rounds):
            started = time.perf_counter()
            signed = sign_firmware_file(image, key, certificate)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(
                ["openssl", "dgst", "-sha256", "-sign", key_file, "-out", signature_file, image],
                check=True,
            )
            theirs.append(time.perf_counter() - started)
        content = image.read_bytes()
        assert verify_firmware_signature(content, signed.signature, signed.signing_certificate)
        openssl_signature = base64.b64encode(signature_file.read_bytes()).decode()
        assert verify_firmware_signature(content, openssl_signature, signed.signing_certificate)
    megabytes = size / 1e6
    print(
        f"firmware {megabytes:.0f} MB, ECDSA P-256 over SHA-256: "
        f"ocppd {megabytes / min(ours):,.0f} MB/s ({best_and_median(ours)}); "
        f"openssl dgst -sign {megabytes / min(theirs):,.0f} MB/s "
        f"({best_and_median(theirs)}); each verifies the other's format"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    bench_init(2 if quick else 5)
    bench_signing(50 if quick else 300)
    bench_firmware((8 if quick else 64) << 20, 2 if quick else 5)


if __name__ == "__main__":
    main()
