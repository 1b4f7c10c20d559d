"""Settings of the central system: flags, `OCPPD_*` environment variables or a TOML file."""

import os
import socket
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

DATABASE_TIMEOUT = 10.0
"""Seconds database work may take by default (`--database-timeout`)."""


class ConcurrencyScope(StrEnum):
    TAG = "tag"
    """ConcurrentTx when the same idTag is already in a running transaction."""
    GROUP = "group"
    """... or any tag of its group (the same parentIdTag) is (one car per fleet card group)."""


class RegistrationPolicy(StrEnum):
    OPEN = "open"
    """Any identity may connect; an unknown one is registered (Accepted) on first connect."""
    KNOWN = "known"
    """Only registered identities may connect; others get HTTP 404 before the upgrade."""


class CertificateName(StrEnum):
    """What a profile-3 charger's client certificate subject CN must equal."""

    IDENTITY = "identity"
    """The charge point's identity (the last segment of its URL)."""
    SERIAL_NUMBER = "serial-number"
    """The chargePointSerialNumber of its last BootNotification (the white paper's choice)."""


class CertificateSigning(StrEnum):
    """What ocppd does with a charger's well-formed SignCertificate (decision 0007)."""

    MANUAL = "manual"
    """Held until an operator approves it (API, dashboard): the safe default."""
    AUTO = "auto"
    """Signed and sent at once."""


def default_data_dir() -> Path:
    """One absolute place per user, the same from every working directory, so that
    `ocppd serve` and the commands beside it find the same database: `$XDG_DATA_HOME/ocppd`,
    else `~/.local/share/ocppd` (a relative `$XDG_DATA_HOME` is ignored, as the XDG Base
    Directory specification says)."""
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "ocppd"


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 9000
    data_dir: Path = field(default_factory=default_data_dir)
    database: str = ""
    """SQLAlchemy URL; empty = SQLite in `data_dir`."""
    path_prefix: str = "/ocpp"
    heartbeat_interval: int = 300
    registration: RegistrationPolicy = RegistrationPolicy.KNOWN
    response_timeout: float = 30.0
    max_frame_size: int = 1024 * 1024
    ping_interval: float = 60.0
    """Seconds between WebSocket pings; a peer that misses a pong is dropped. 0 = off."""
    handshake_timeout: float = 10.0
    """Seconds a connection may take from accept to its answered WebSocket handshake (or to
    an HTTP request's headers); then it is closed."""
    max_pending_handshakes: int = 1000
    """Connections being opened at once; beyond, the oldest of them is closed."""
    basic_auth: bool = False
    """Require HTTP Basic auth (security profile 1) from every charge point."""
    concurrent_tx: ConcurrencyScope = ConcurrencyScope.TAG
    message_retention_days: int = 30
    message_log_budget: int = 8 * 1024 * 1024
    """Characters of frames (bytes, for ASCII) one charge point may add to the message log an
    hour, both directions; beyond them its frames are handled as always but logged as their
    size and SHA-256 until the hour is over. 0 = no limit."""
    diagnostics_retention_days: int = 90
    """Days an uploaded diagnostics file is kept on disk (the job and the file's details stay)."""
    security_event_retention_days: int = 365
    """Days a security event is kept (by when ocppd received it): a charger that sends
    SecurityEventNotification in a loop cannot grow the table beyond this window."""
    log_format: str = "text"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ecdsa_cert: Path | None = None
    """A second server certificate, with an ECDSA key (`tls_cert`'s being RSA), so that
    chargers offering only ECDHE_ECDSA suites and those offering only RSA ones both connect."""
    tls_ecdsa_key: Path | None = None
    tls_port: int | None = None
    """A second port, with TLS, beside the plain `port` (profiles 0-1 there, 2-3 here); None
    = TLS on `port` itself when `tls_cert` is given."""
    tls_client_ca: Path | None = None
    """PEM file of the CAs whose client certificates (security profile 3) are trusted."""
    client_certificate_cn: CertificateName = CertificateName.IDENTITY
    extensions: frozenset[str] = field(default_factory=frozenset)
    voltage: float = 230.0
    """Volts per phase: how charging limits convert between A (per phase) and W (total)."""
    phases: int = 3
    """Phases a connector is wired for, for the same conversion."""
    public_url: str = ""
    """The base URL chargers reach this server at (`https://csms.example.com`), for the file
    links of GetDiagnostics and UpdateFirmware; empty = the URL the API request came in on."""
    max_file_size: int = 64 * 1024 * 1024
    """Bytes of one diagnostics upload or firmware image; more is refused (413)."""
    ca_cert: Path | None = None
    ca_key: Path | None = None
    """An operator's CA that signs chargers' certificates, instead of `<data_dir>/ca/`."""
    certificate_signing: CertificateSigning = CertificateSigning.MANUAL
    """Chargers' certificate requests signed at once or held for approval (a charger's own
    setting overrides it)."""
    ftp_port: int | None = None
    """The FTP server for job files (`csms/ftp_server.py`); None = off, 0 = a free port."""
    ftp_passive_ports: tuple[int, int] | None = None
    """The ports (first, last) of FTP data connections; None = any free port."""
    ftp_public_host: str = ""
    """The host chargers reach the FTP server at; empty = the public URL's host (or the API
    request's)."""
    ftp_timeout: float = 60.0
    """Seconds an FTP client may keep a control or data connection silent."""
    ftp_max_connections: int = 100
    """FTP control connections at once; beyond, 421 at once."""
    database_timeout: float = DATABASE_TIMEOUT
    """Seconds a commit may take: past them the calls that wait for it are answered with a
    CALLERROR InternalError (the charger retransmits), and statements are cancelled."""

    redis_url: str = ""
    """Redis of the cluster this node joins (`redis://HOST:PORT/DB`); empty = one node alone."""
    node_name: str = ""
    """This node's name in its cluster; empty = `node_default_name` (host name and port)."""
    workers: int = 1
    """Processes `ocppd serve` runs on its port, each a node of the cluster (NAME-1..NAME-N)."""

    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'ocppd.db'}"


def node_name(settings: Settings) -> str:
    """This node's name: `--node-name`, else `node_default_name`."""
    return settings.node_name or node_default_name(settings.port)


def node_default_name(port: int) -> str:
    """Unique and stable per host and port: the same after a restart, another for each node."""
    return f"{socket.gethostname()}:{port}"


def load_toml(path: Path, known: set[str]) -> dict[str, Any]:
    """The `[serve]` table of a TOML file (or the whole file when it has none), its keys in
    the underscore form of `known`: a key may be spelled as its flag (`data-dir`) or as
    `data_dir`, not both."""
    with path.open("rb") as file:
        document = tomllib.load(file)
    table = document.get("serve", document)
    if not isinstance(table, dict):
        raise ValueError(f"{path}: [serve] is not a table")
    settings: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in known:
            valid = ", ".join(sorted(n.replace("_", "-") for n in known))
            raise ValueError(f"{path}: unknown setting {key!r} (settings: {valid})")
        if name in settings:
            raise ValueError(f"{path}: {name.replace('_', '-')!r} is given twice")
        settings[name] = value
    return settings
