"""Security profiles (the OCA's "Improved security for OCPP 1.6-J"): the profile a connection
uses, and whether a charger may connect with it.

The profile of a connection:

| profile | the connection |
|---|---|
| 3 | TLS with a client certificate OpenSSL verified (chain to a trusted CA, valid now) |
| 2 | TLS with HTTP Basic auth (the AuthorizationKey) |
| 1 | HTTP Basic auth without TLS |
| 0 | anything else |

The rule, by the charger's stored `security_profile`: a connection on a lower profile is
refused (before the WebSocket upgrade: 401 when Basic auth is missing, 403 when TLS or the
client certificate is) and a security event recorded; a connection on a higher one is
admitted and raises the stored profile (never lowered by ocppd itself: only an operator
lowers it). On profile 3 the client certificate's subject CN must equal the identity (or,
with `--client-certificate-cn serial-number`, the chargePointSerialNumber of its last
BootNotification, as the white paper names it): a certificate of another charger is refused
whatever the stored profile, and Basic auth is not looked at. A wrong AuthorizationKey is
refused as before (401), whatever the profile, once the connection's profile is not lower than
the stored one (a lower one is refused for that, its key not looked at).

Stored 0 is today's behaviour: Basic auth required when the charger has an AuthorizationKey
or `--basic-auth` is on, nothing otherwise (sent anyway, it is not looked at).
"""

from dataclasses import dataclass

from ocppd.csms.registration import ChargePointRecord, key_matches
from ocppd.csms.settings import CertificateName, Settings
from ocppd.transport.server import Refusal
from ocppd.transport.tls import TlsFacts

INVALID_CERTIFICATE = "InvalidChargePointCertificate"
FAILED_TO_AUTHENTICATE = "FailedToAuthenticateAtCentralSystem"
"""Security event types (the white paper's names) of what the central system refuses."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Admission's answer for one connection: the profile it uses, or why it is refused
    (with the security event to record, when the refusal is one)."""

    profile: int
    refusal: Refusal | None = None
    event_type: str | None = None


def judge(
    record: ChargePointRecord, password: str | None, tls: TlsFacts | None, settings: Settings
) -> Verdict:
    """Whether the charger of `record` may connect with these credentials."""
    certificate = tls.client_certificate if tls is not None else None
    if certificate is not None:
        expected = _expected_name(record, settings)
        if certificate.common_name is None or certificate.common_name != expected:
            what = "a single subject CN" if certificate.common_name is None else None
            shown = what or f"CN {certificate.common_name!r}"
            reason = f"client certificate with {shown} is not {record.id!r}'s" + (
                "" if expected is not None else " (no BootNotification serial number known)"
            )
            return Verdict(3, Refusal(403, reason), INVALID_CERTIFICATE)
        profile = 3
    elif password is not None and _checks_basic_auth(record, settings):
        profile = 2 if tls is not None else 1
    else:
        profile = 0
    stored = record.security_profile
    if profile < stored:
        # Before the key: a lower profile is refused whatever its key (a profile-3 charger
        # has none to match), and the answer tells nothing of whether the key was right.
        return Verdict(profile, _downgrade(profile, stored, tls), FAILED_TO_AUTHENTICATE)
    if profile in (1, 2) and password is not None and not _key_is_right(record, password):
        return Verdict(0, Refusal(401, "wrong AuthorizationKey"))
    if profile == 0 and (settings.basic_auth or record.auth_key_hash):
        return Verdict(0, Refusal(401, "HTTP Basic authentication required"))
    return Verdict(profile)


def _checks_basic_auth(record: ChargePointRecord, settings: Settings) -> bool:
    """Whether Basic auth is looked at: not for a charger at profile 0 without a key while
    `--basic-auth` is off, as before profiles (a charger may send it anyway; unverifiable,
    it counts for no profile)."""
    return bool(record.security_profile or record.auth_key_hash or settings.basic_auth)


def _key_is_right(record: ChargePointRecord, password: str) -> bool:
    return record.auth_key_hash is not None and key_matches(password, record.auth_key_hash)


def _expected_name(record: ChargePointRecord, settings: Settings) -> str | None:
    if settings.client_certificate_cn is CertificateName.SERIAL_NUMBER:
        return record.charge_point_serial_number
    return record.id


def _downgrade(profile: int, stored: int, tls: TlsFacts | None) -> Refusal:
    said = f"security profile {stored} required, the connection uses {profile}"
    if stored == 3:
        return Refusal(403, f"{said}: a client certificate is required")
    if stored == 2 and tls is None:
        return Refusal(403, f"{said}: TLS is required")
    return Refusal(401, f"{said}: HTTP Basic authentication required")
