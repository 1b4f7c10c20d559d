"""TLS of the central system (security profiles 2 and 3): the server's SSL context, and what a
connection's TLS says about its peer, for admission.

The context (`server_context`):

- TLS 1.2 or newer (the security white paper: 1.0 and 1.1 only for legacy chargers, which
  ocppd does not serve);
- for TLS 1.2, the cipher suites the white paper requires of a central system,
  TLS_ECDHE_ECDSA_WITH_AES_128/256_GCM_SHA256/384 and TLS_RSA_WITH_AES_128/256_GCM_SHA256/384,
  plus ECDHE_RSA with the same AES-GCM (forward secrecy for a charger that has it and an RSA
  server certificate), forward-secret ones first and the server's order preferred; TLS 1.3's
  own suites as OpenSSL has them;
- one certificate per key type: an ECDHE_ECDSA suite needs an ECDSA server certificate and
  TLS_RSA/ECDHE_RSA an RSA one, so a charger that offers only the one kind or the other can
  connect when both are given (OpenSSL keeps one certificate per key type and picks by the
  suite negotiated);
- client certificates (`client_cas`): asked for, not required (CERT_OPTIONAL: a profile-2
  charger on the same port has none), and when one is sent OpenSSL verifies it: its chain to
  a trusted CA, its validity now. A certificate that fails ends the handshake there (it never
  reaches admission): such failures are counted in `ServerContext.failures` by OpenSSL's
  reason and logged within the log budget, since no HTTP request, hence no identity, follows.

A connection's facts (`tls_facts`): the version, the cipher suite and the verified client
certificate's subject, serial number, notAfter and SHA-256, read with the `ssl` module's
`getpeercert` (no parsing of our own), handed to the `Endpoint` with the identity.
"""

import asyncio
import collections
import functools
import hashlib
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from ocppd.rpc.log_budget import offences
from ocppd.transport.handshakes import HandshakeGuard, guard_of, over_tls

log = logging.getLogger("ocppd.transport.tls")

CIPHERS_TLS12 = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (white paper)
    "ECDHE-ECDSA-AES256-GCM-SHA384",  # TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (white paper)
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "AES128-GCM-SHA256",  # TLS_RSA_WITH_AES_128_GCM_SHA256 (white paper)
    "AES256-GCM-SHA384",  # TLS_RSA_WITH_AES_256_GCM_SHA384 (white paper)
)
"""OpenSSL's names of the TLS 1.2 suites offered, in the server's order of preference."""

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A client certificate OpenSSL verified in the handshake (chain and validity)."""

    common_name: str | None
    """The subject's CN; None when it has none, or more than one."""
    subject: str
    """The subject in RFC 4514's form (`CN=CP1,O=Example`)."""
    serial_number: str
    """Hexadecimal, lower case, no leading zeros (as OCPP's CertificateHashData)."""
    not_after: datetime
    sha256: str
    """Of the certificate's DER, hexadecimal."""


TLS_EXTENSION = "ocppd.tls"
"""The key of a connection's `TlsFacts` in the ASGI scope's extensions: written by
websocket_protocol.py, read (and removed) by server.py."""


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """What a connection's TLS tells of it: put in the ASGI scope as
    `scope["extensions"]["ocppd.tls"]` (the model of ASGI's TLS extension, typed)."""

    version: str
    cipher: str
    client_certificate: ClientCertificate | None


class ObservedSSLObject(ssl.SSLObject):
    """An SSLObject whose failed server handshakes are counted and logged by its context."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as error:
            context = self.context
            if isinstance(context, ServerContext):
                context.failed(error)
            raise


class ServerContext(ssl.SSLContext):
    """The server's SSL context, with the count of handshakes it refused by reason."""

    failures: collections.Counter[str]
    observer: Callable[[str], None] | None = None
    """Told the reason of each refused handshake (the central system's metrics)."""

    def failed(self, error: ssl.SSLError) -> None:
        reason = _reason(error)
        self.failures[reason] += 1
        if self.observer is not None:
            self.observer(reason)
        offences.log(log, logging.INFO, f"tls:{reason}", "TLS handshake refused: %s", reason)


def _reason(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"client certificate: {error.verify_message}"
    return str(error.reason or error.library or "unknown").lower().replace("_", " ")


def server_context(
    certificates: list[tuple[Path, Path]], client_cas: list[Path] | None = None
) -> ServerContext:
    """A server context for `certificates` (chain file and key file; one per key type) that
    asks for client certificates when `client_cas` name trusted CAs (PEM files). Raises
    OSError or ssl.SSLError for files it cannot use."""
    context = ServerContext(ssl.PROTOCOL_TLS_SERVER)
    context.failures = collections.Counter()
    context.minimum_version = MINIMUM_VERSION
    context.set_ciphers(":".join(CIPHERS_TLS12))
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION
    context.options |= ssl.OP_NO_RENEGOTIATION
    for chain, key in certificates:
        context.load_cert_chain(chain, key)
    if client_cas:
        for authority in client_cas:
            context.load_verify_locations(cafile=authority)
        context.verify_mode = ssl.CERT_OPTIONAL
    context.sslobject_class = ObservedSSLObject
    return context


def tls_facts(transport: Any) -> TlsFacts | None:
    """The TLS facts of a connection's transport; None for plain TCP."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TlsFacts(
        version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        client_certificate=_client_certificate(ssl_object),
    )


def _client_certificate(ssl_object: Any) -> ClientCertificate | None:
    # With CERT_OPTIONAL `getpeercert()` is empty unless a certificate was sent and verified.
    details = ssl_object.getpeercert()
    if not details:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    subject = details.get("subject", ())
    names = [value for rdn in subject for key, value in rdn if key == "commonName"]
    return ClientCertificate(
        common_name=names[0] if len(names) == 1 else None,
        subject=rfc4514(subject),
        serial_number=format(int(details["serialNumber"], 16), "x"),
        not_after=datetime.fromtimestamp(ssl.cert_time_to_seconds(details["notAfter"]), UTC),
        sha256=hashlib.sha256(der).hexdigest(),
    )


_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


def rfc4514(subject: tuple[tuple[tuple[str, str], ...], ...]) -> str:
    """A subject as `getpeercert` gives it, in RFC 4514's string form (last RDN first)."""
    rdns = ("+".join(f"{_SHORT_NAMES.get(k, k)}={_escape(v)}" for k, v in rdn) for rdn in subject)
    return ",".join(reversed(list(rdns)))


def _escape(value: str) -> str:
    escaped = "".join("\\" + c if c in ',+"\\<>;=' else c for c in value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return escaped.replace("\0", "\\00")


async def listen(
    server: uvicorn.Server,
    context: ssl.SSLContext,
    host: str,
    port: int,
    sockets: list[socket.socket] | None = None,
) -> int:
    """A second port of a started uvicorn `server`, with TLS (`--tls-port`): connections there
    get the server's own protocol classes, application and state, and end with it (its
    `servers`, which uvicorn closes on shutdown). On `sockets` when given (bound, not
    listening: a worker's share), else on `host` and `port`. Returns the port.

    Its connections are pending under the server's guard from the accept, TLS handshake
    included (`handshakes.TlsHandshake`): a client that opens TCP and sends nothing is closed
    at `--handshake-timeout` and counts under `--max-pending-handshakes`, as one that stalls
    its upgrade."""
    config = server.config
    loop = asyncio.get_running_loop()
    guard = guard_of(config)
    protocol = over_tls(
        config.http_protocol_class, context, HandshakeGuard() if guard is None else guard
    )
    accepted = functools.partial(
        protocol, config=config, server_state=server.server_state, app_state=server.lifespan.state
    )
    if sockets is None:
        made = [await loop.create_server(accepted, host, port, backlog=config.backlog)]
    else:
        made = [
            await loop.create_server(accepted, sock=sock, backlog=config.backlog)
            for sock in sockets
        ]
    server.servers.extend(made)
    return int(made[0].sockets[0].getsockname()[1])
