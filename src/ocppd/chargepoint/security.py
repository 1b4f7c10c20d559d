"""How a station connects under the security profiles, and what it keeps to do so (white
paper, sections 2 and A01-A05).

| profile | URL | Basic auth | TLS | client certificate |
|---|---|---|---|---|
| 0 | `--url` as given | `--password` if given | if wss | no |
| 1 | ws | the AuthorizationKey | no | no |
| 2 | wss | the AuthorizationKey | yes | no |
| 3 | wss | no | yes | the charge point certificate |

Profile 0 is the simulator as it was before the profiles: whatever `--url`/`--password` say.
The wss URL is `tls_url` when given (a central system with a TLS port of its own), else the
URL with its scheme made wss. The password is the AuthorizationKey key, or `--password`
until the central system sets one. The server certificate must chain to an installed
CentralSystemRootCertificate or to `--ca-file` (the factory's trust; the system's CAs when
there is neither), TLS 1.2 at least.

The SecurityProfile key (ChangeConfiguration) is raised only (A05): a value not higher than
the current one is Rejected, and so is one whose prerequisites are missing (1 and 2: an
AuthorizationKey; 2 and 3: a CentralSystemRootCertificate or `--ca-file`; 3: a charge
point certificate). Accepted: the station hangs up and connects on the new profile; when
`FALLBACK_ATTEMPTS` attempts in a row fail before one succeeds, it goes back to the
previous profile (A05.FR.08, a SHOULD: a station must not cut itself off).

**Bootstrapping profile 3.** A station configured for profile 3 without a certificate
cannot connect with mutual TLS. It connects on profile 2 instead (TLS and Basic auth with
its AuthorizationKey), and once accepted makes a key and sends SignCertificate; when the
central system's CertificateSigned is accepted it hangs up and connects on profile 3 with
it. GetConfiguration shows SecurityProfile 3 all along: the profile it is configured for.

Security events recorded here: ReconfigurationOfSecurityParameters (the profile, the
AuthorizationKey, a certificate changed), FailedToAuthenticateAtCentralSystem (the central
system refused the connection: HTTP 401/403, or a TLS alert once our certificate was sent),
InvalidCentralSystemCertificate (the server certificate failed verification); each once per
run of failures, sent when the station is connected again.
"""

import contextlib
import logging
import os
import ssl
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
from cryptography import x509

from ocppd.chargepoint import certificates
from ocppd.chargepoint.certificates import CertificateStore, KeyType
from ocppd.chargepoint.security_events import SecurityEvent, SecurityEvents
from ocppd.protocol.enums import CertificateUse, ConfigurationStatus, GenericStatus
from ocppd.protocol.errors import OCPPError
from ocppd.protocol.security import SignCertificateRequest, SignCertificateResponse
from ocppd.rpc.session import CallTimeout, SessionClosed
from ocppd.transport.client import ChargePointClient, ClientOptions

if TYPE_CHECKING:
    from ocppd.chargepoint.station import Station

log = logging.getLogger("ocppd.chargepoint")

FALLBACK_ATTEMPTS = 3
"""Failed attempts on a newly raised profile before the station goes back to the old one."""
CENTRAL_SYSTEM_ROOT = CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE
MANUFACTURER_ROOT = CertificateUse.MANUFACTURER_ROOT_CERTIFICATE


@dataclass(frozen=True)
class SecuritySettings:
    """The factory's security settings of a station (`ocppd simulate`'s flags)."""

    profile: int | None = None
    """The SecurityProfile key at the first start (the state file's value wins after)."""
    tls_url: str | None = None
    """The wss endpoint for profiles 2 and 3, when it is not `url` with scheme wss."""
    ca_file: str | None = None
    """Trust for the central system's certificate besides the installed roots."""
    client_cert: str | None = None
    client_key: str | None = None
    """A factory-installed charge point certificate (PEM chain) and its key, for profile 3."""
    extension: bool = False
    """Speak the security extension: its 11 actions, SecurityEventNotifications sent."""
    key_type: KeyType = "ec"
    common_name: str | None = None
    """The CN of its CSRs; None = the station's identity."""


class SavedSecurity(msgspec.Struct, omit_defaults=True):
    """What the state file keeps (the profile and the AuthorizationKey are configuration)."""

    roots: dict[str, list[str]] = {}
    key: str | None = None
    chain: str | None = None
    pending_key: str | None = None
    fallback_profile: int | None = None
    log: list[SecurityEvent] = []
    pending_events: list[SecurityEvent] = []


class StationSecurity:
    def __init__(self, station: "Station", settings: SecuritySettings) -> None:
        self.station = station
        self.settings = settings
        self.store = CertificateStore()
        self.events = SecurityEvents(station.clock, station.dirty, settings.extension)
        self.fallback_profile: int | None = None
        """The profile before the last raise, until a connection on the new one succeeds."""
        self.server_certificate: x509.Certificate | None = None
        """The central system's certificate on the current TLS connection."""
        self._failures = 0
        self._failing: str | None = None
        """The event recorded for the current run of failed attempts (recorded once)."""
        self._csr_sent = False
        self._context: ssl.SSLContext | None = None
        if settings.profile is not None:
            station.configuration.set("SecurityProfile", str(settings.profile))
        if settings.client_cert is not None and settings.client_key is not None:
            self.store.chain = Path(settings.client_cert).read_text()
            self.store.key = Path(settings.client_key).read_text()

    # What the station is configured for, and what it connects with

    @property
    def profile(self) -> int:
        """The SecurityProfile key: the profile the station is configured for."""
        return self.station.configuration.get_int("SecurityProfile")

    @property
    def bootstrapping(self) -> bool:
        """Configured for profile 3 without a certificate: it connects on 2 to get one."""
        return self.profile == 3 and self.store.chain is None

    def connection_profile(self) -> int:
        return 2 if self.bootstrapping else self.profile

    @property
    def authorization_key(self) -> str | None:
        key = self.station.configuration.get_text("AuthorizationKey")
        return key or self.station.client_options.password

    def url(self) -> str:
        profile = self.connection_profile()
        url = self.station.url
        if profile >= 2:
            return self.settings.tls_url or _with_scheme(url, "wss")
        return _with_scheme(url, "ws") if profile == 1 else url

    def client_options(self, options: ClientOptions) -> ClientOptions:
        """`options` (the station's own: timeouts, pings, quirks) with the profile's
        credentials and TLS."""
        profile = self.connection_profile()
        if profile == 0:
            return options
        password = self.authorization_key if profile in (1, 2) else None
        context = self.tls_context() if profile >= 2 else None
        return replace(options, password=password, ssl=context)

    def tls_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = self._new_context()
        return self._context

    def _new_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, checks the host name
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        roots = self.store.roots.get(CENTRAL_SYSTEM_ROOT, [])
        if roots:
            context.load_verify_locations(cadata="\n".join(roots))
        if self.settings.ca_file is not None:
            context.load_verify_locations(cafile=self.settings.ca_file)
        if not roots and self.settings.ca_file is None:
            context.load_default_certs()
        if self.connection_profile() == 3 and self.store.chain and self.store.key:
            _load_client_certificate(context, self.store.chain, self.store.key)
        return context

    def changed(self) -> None:
        """Certificates or the profile changed: a new TLS context, the state saved."""
        self._context = None
        self.station.dirty()

    # Connections

    def connect_failed(self, exc: BaseException) -> None:
        """An attempt failed: the events of a refusal, and the fallback after a raise."""
        kind = _refusal(exc)
        if kind is not None and self._failing != kind:
            self._failing = kind
            self.events.record(kind, f"{self.url()}: {_reason(exc)}")
        if self.fallback_profile is None:
            return
        self._failures += 1
        if self._failures >= FALLBACK_ATTEMPTS:
            previous, self.fallback_profile = self.fallback_profile, None
            raised = self.profile
            self.station.configuration.set("SecurityProfile", str(previous))
            self._failures = 0
            self.events.record(
                "ReconfigurationOfSecurityParameters",
                f"SecurityProfile {raised} failed to connect: back to {previous}",
            )
            log.warning(
                "%s: profile %d failed, back to %d", self.station.identity, raised, previous
            )
            self.changed()

    def connected(self, client: ChargePointClient) -> None:
        self._failing = None
        self._failures = 0
        if self.fallback_profile is not None:
            self.fallback_profile = None  # the new profile works: no going back (A05.FR.09)
            self.station.dirty()
        der = client.peer_certificate
        self.server_certificate = None if der is None else x509.load_der_x509_certificate(der)

    def accepted(self) -> None:
        """The boot (or the reconnection) was accepted: a bootstrapping station asks for
        its certificate, once per run."""
        if self.bootstrapping and self.settings.extension and not self._csr_sent:
            self._csr_sent = True
            self.station.spawn(self.sign_certificate(), name=f"csr {self.station.identity}")

    def reconnect(self) -> None:
        """Hang up once the current answer is out, and connect again (new credentials)."""

        async def hang_up() -> None:
            client = self.station.client
            if client is not None:
                await client.session.settled()
            self.station.request_reconnect()

        self.station.spawn(hang_up())

    # ChangeConfiguration of the security keys

    def change_configuration(self, key: str, value: str) -> ConfigurationStatus | None:
        """The answer for SecurityProfile and AuthorizationKey; None for other keys."""
        if key.lower() == "securityprofile":
            return self._raise_profile(value.strip())
        if key.lower() == "authorizationkey":
            status = self.station.configuration.change("AuthorizationKey", value)
            if status == ConfigurationStatus.ACCEPTED:
                # Logged without its value (A01.FR.12).
                self.events.record("ReconfigurationOfSecurityParameters", "AuthorizationKey")
                if self.connection_profile() in (1, 2):
                    self.reconnect()
            return status
        return None

    def _raise_profile(self, value: str) -> ConfigurationStatus:
        if value not in ("0", "1", "2", "3"):
            return ConfigurationStatus.REJECTED
        new, current = int(value), self.profile
        if new <= current or self._missing(new) is not None:
            return ConfigurationStatus.REJECTED
        self.station.configuration.set("SecurityProfile", value)
        self.fallback_profile = current
        self._failures = 0
        change = f"SecurityProfile {current} to {new}"
        self.events.record("ReconfigurationOfSecurityParameters", change)
        self.changed()
        self.reconnect()
        return ConfigurationStatus.ACCEPTED

    def _missing(self, profile: int) -> str | None:
        """The prerequisite of `profile` the station lacks (A05.FR.02-04), or None."""
        if profile in (1, 2) and not self.authorization_key:
            return "AuthorizationKey"
        trusted = self.store.roots.get(CENTRAL_SYSTEM_ROOT) or self.settings.ca_file
        if profile >= 2 and not trusted:
            return "CentralSystemRootCertificate"
        if profile == 3 and self.store.chain is None:
            return "ChargePointCertificate"
        return None

    # The charge point certificate

    async def sign_certificate(self) -> None:
        """A new key and its CSR, sent with SignCertificate (A02/A03); the key waits for
        CertificateSigned as `pending_key` (in the state file)."""
        station = self.station
        key = certificates.new_key(self.settings.key_type)
        name = self.settings.common_name or station.identity
        organization = station.configuration.get_text("CpoName")
        csr = certificates.csr_pem(key, name, organization)
        self.store.pending_key = certificates.key_pem(key)
        station.save()  # the key must survive a restart before its certificate comes
        with contextlib.suppress(CallTimeout, OCPPError, SessionClosed):
            answer: SignCertificateResponse = await station.call(SignCertificateRequest(csr=csr))
            if answer.status != GenericStatus.ACCEPTED:
                log.info("%s: SignCertificate %s", station.identity, answer.status)

    def certificate_signed(self, chain: str) -> str | None:
        """Install the chain of CertificateSigned when it checks out; the reason if not."""
        station = self.station
        anchors = self.store.installed(CENTRAL_SYSTEM_ROOT)
        if self.settings.ca_file is not None:
            with contextlib.suppress(OSError, ValueError):
                anchors += certificates.load_chain(Path(self.settings.ca_file).read_text())
        reason = certificates.check_chain(
            chain,
            self.store.pending_key,
            anchors,
            station.clock.now(),
            station.configuration.get_int("CertificateSignedMaxChainSize"),
        )
        if reason is not None:
            self.events.record("InvalidChargePointCertificate", reason)
            return reason
        self.store.key, self.store.chain = self.store.pending_key, chain
        self.store.pending_key = None
        self.events.record("ReconfigurationOfSecurityParameters", "ChargePointCertificate")
        self.changed()
        station.save()
        if self.profile == 3:
            self.reconnect()  # on profile 3 now (bootstrapped), or with the new certificate
        return None

    # The state file

    def saved(self) -> SavedSecurity:
        return SavedSecurity(
            roots={str(use): list(pems) for use, pems in self.store.roots.items() if pems},
            key=self.store.key,
            chain=self.store.chain,
            pending_key=self.store.pending_key,
            fallback_profile=self.fallback_profile,
            log=list(self.events.log),
            pending_events=list(self.events.pending),
        )

    def restore(self, saved: SavedSecurity) -> None:
        self.store.roots = {
            CertificateUse(use): list(pems)
            for use, pems in saved.roots.items()
            if use in set(CertificateUse)
        }
        if saved.chain is not None and saved.key is not None:
            self.store.chain, self.store.key = saved.chain, saved.key
        self.store.pending_key = saved.pending_key
        self.fallback_profile = saved.fallback_profile
        self.events.restore(saved.log, saved.pending_events)
        self._context = None


def _with_scheme(url: str, scheme: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, *parts[1:]))


def _load_client_certificate(context: ssl.SSLContext, chain: str, key: str) -> None:
    """ssl reads a certificate and its key from files only: a private directory of our
    own, gone once they are loaded."""
    with tempfile.TemporaryDirectory(prefix="ocppd-station-") as directory:
        chain_path, key_path = Path(directory, "chain.pem"), Path(directory, "key.pem")
        chain_path.write_text(chain)
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(key)
        context.load_cert_chain(chain_path, key_path)


def _refusal(exc: BaseException) -> str | None:
    """The security event a failed connection attempt means, if any."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "InvalidCentralSystemCertificate"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return "FailedToAuthenticateAtCentralSystem"
    if isinstance(exc, ssl.SSLError) and "alert" in str(exc).lower():
        return "FailedToAuthenticateAtCentralSystem"  # the server refused our certificate
    return None


def _reason(exc: BaseException) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        return f"HTTP {status}"
    text: Any = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
    return f"{type(exc).__name__}: {text}"
