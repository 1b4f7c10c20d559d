"""CertificateHashData naming the same certificate: one rule for the central system's stored
rows and the simulator's installed certificates."""

from ocppd.protocol.datatypes import CertificateHashData
from ocppd.protocol.enums import HashAlgorithm
from ocppd.protocol.security import same_certificate


def named(serial: str, name_hash: str = "ab" * 32) -> CertificateHashData:
    return CertificateHashData(
        hash_algorithm=HashAlgorithm.SHA256,
        issuer_name_hash=name_hash,
        issuer_key_hash="cd" * 32,
        serial_number=serial,
    )


def test_serial_numbers_compare_as_numbers_and_hashes_without_case() -> None:
    assert same_certificate(named("0a1f"), named("A1F", name_hash="AB" * 32))
    assert not same_certificate(named("a1f"), named("a1e"))
    assert not same_certificate(named("a1f"), named("a1f", name_hash="ef" * 32))


def test_a_serial_number_that_is_no_hex_number_compares_as_text_without_case() -> None:
    assert same_certificate(named("SN-7"), named("sn-7"))
    assert not same_certificate(named("SN-7"), named("SN-8"))
