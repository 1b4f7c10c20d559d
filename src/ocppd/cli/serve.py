"""`ocppd serve` and `ocppd db upgrade`: the central system and its database.

Every option can come from a flag, an `OCPPD_<NAME>` environment variable, or a TOML file
given with `--config` (its `[serve]` table), in that order of precedence.
"""

import asyncio
import json
import logging
import resource
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from ocppd.cli.database_location import (
    DATA_DIR_SHOWN,
    ExistingDatabase,
    config_option,
    existing_database,
)
from ocppd.csms.settings import (
    CertificateName,
    CertificateSigning,
    ConcurrencyScope,
    RegistrationPolicy,
    Settings,
    default_data_dir,
    load_toml,
)

log = logging.getLogger("ocppd.cli.serve")


def serve_config(path: Path) -> dict[str, Any]:
    """The settings of `ocppd serve` a TOML file sets (`--config`), by option name."""
    settings = {p.name for p in serve.params if p.expose_value and p.name}
    try:
        return load_toml(path, settings)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None


def _load_config(ctx: click.Context, _: click.Parameter, path: Path | None) -> Path | None:
    if path is not None:
        ctx.default_map = {**(ctx.default_map or {}), **serve_config(path)}
    return path


PEM_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)

RETENTION_DAYS = click.IntRange(1, 36_500)
"""Up to a hundred years: a cutoff further back than the calendar holds would fail every
pruning run (and a number of days beyond a C int, the start)."""


def _option(name: str, **kwargs: Any) -> Any:
    envvar = "OCPPD_" + name.split("/")[0].upper().replace("-", "_")
    kwargs.setdefault("show_default", True)
    return click.option(f"--{name}", envvar=envvar, show_envvar=True, **kwargs)


def settings_options(func: Any) -> Any:
    defaults = Settings()
    options = [
        config_option(_load_config, "TOML file with a [serve] table of these settings."),
        _option("host", default=defaults.host),
        _option(
            "port",
            type=click.IntRange(0, 65535),
            default=defaults.port,
            help="0: a free port, printed once listening.",
        ),
        _option(
            "data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=default_data_dir,
            show_default=DATA_DIR_SHOWN,
            help="Where the SQLite database and files are; created if missing.",
        ),
        _option("database", default="", help="Database URL; empty = SQLite in the data dir."),
        _option("path-prefix", default=defaults.path_prefix),
        _option("heartbeat-interval", type=click.IntRange(1), default=defaults.heartbeat_interval),
        _option(
            "registration",
            type=click.Choice([p.value for p in RegistrationPolicy]),
            default=defaults.registration.value,
        ),
        _option("response-timeout", type=click.FloatRange(0.1), default=defaults.response_timeout),
        _option("max-frame-size", type=click.IntRange(1024), default=defaults.max_frame_size),
        _option("ping-interval", type=click.FloatRange(0), default=defaults.ping_interval),
        _option(
            "handshake-timeout",
            type=click.FloatRange(0.1, 300),
            default=defaults.handshake_timeout,
            help="Seconds from connect to the answered WebSocket handshake (or an HTTP "
            "request's headers), a TLS handshake included; a slower connection is closed.",
        ),
        _option(
            "max-pending-handshakes",
            type=click.IntRange(1),
            default=defaults.max_pending_handshakes,
            help="Connections being opened at once (TLS handshakes included); beyond, the "
            "oldest of them is closed.",
        ),
        _option("basic-auth/--no-basic-auth", default=defaults.basic_auth),
        _option(
            "concurrent-tx",
            type=click.Choice([c.value for c in ConcurrencyScope]),
            default=defaults.concurrent_tx.value,
            help="ConcurrentTx for the same tag, or for any tag of its parentIdTag group.",
        ),
        _option("message-retention-days", type=RETENTION_DAYS, default=30),
        _option(
            "message-log-budget",
            type=click.IntRange(0),
            default=defaults.message_log_budget,
            help="Characters of frames a charge point may add to the message log an hour; "
            "beyond them, frames are logged as their size and SHA-256. 0 = no limit.",
        ),
        _option(
            "diagnostics-retention-days",
            type=RETENTION_DAYS,
            default=defaults.diagnostics_retention_days,
            help="Days an uploaded diagnostics file is kept (its job and details stay).",
        ),
        _option(
            "security-event-retention-days",
            type=RETENTION_DAYS,
            default=defaults.security_event_retention_days,
            help="Days a security event is kept (by when it was received), and a certificate "
            "request rejected without a certificate.",
        ),
        _option("log-format", type=click.Choice(["text", "json"]), default="text"),
        _option(
            "tls-cert",
            type=PEM_FILE,
            help="TLS server certificate chain (PEM); with --tls-key. TLS on --port, or on "
            "--tls-port when given.",
        ),
        _option("tls-key", type=PEM_FILE),
        _option(
            "tls-ecdsa-cert",
            type=PEM_FILE,
            help="A second server certificate, with an ECDSA key (--tls-cert's then RSA), for "
            "chargers offering only ECDHE-ECDSA suites; with --tls-ecdsa-key.",
        ),
        _option("tls-ecdsa-key", type=PEM_FILE),
        _option(
            "tls-port",
            type=click.IntRange(0, 65535),
            help="A second port, with TLS (security profiles 2-3), beside the plain --port "
            "(profiles 0-1). 0: a free port, printed once listening.",
        ),
        _option(
            "tls-client-ca",
            type=PEM_FILE,
            help="CA certificates (PEM) trusted for client certificates (security profile 3).",
        ),
        _option(
            "client-certificate-cn",
            type=click.Choice([c.value for c in CertificateName]),
            default=defaults.client_certificate_cn.value,
            help="What a client certificate's subject CN must equal: the charge point's "
            "identity, or the chargePointSerialNumber of its last BootNotification.",
        ),
        _option(
            "voltage",
            type=click.FloatRange(1, 1000),
            default=defaults.voltage,
            help="Volts per phase, to convert charging limits between A and W.",
        ),
        _option(
            "phases",
            type=click.IntRange(1, 3),
            default=defaults.phases,
            help="Phases a connector is wired for, to convert charging limits between A and W.",
        ),
        _option(
            "public-url",
            default=defaults.public_url,
            help="Base URL chargers reach this server at, for diagnostics and firmware file "
            "links; empty = the URL of the API request.",
        ),
        _option("max-file-size", type=click.IntRange(1), default=defaults.max_file_size),
        *ftp_options(defaults),
        _option(
            "ca-cert",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="An operator's CA certificate that signs chargers' certificates instead of "
            "the data dir's ca/ (with --ca-key).",
        ),
        _option("ca-key", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        _option(
            "certificate-signing",
            type=click.Choice([c.value for c in CertificateSigning]),
            default=defaults.certificate_signing.value,
            help="Chargers' certificate requests (SignCertificate): signed at once (auto) or "
            "held for an operator's approval (manual); a charger's own setting wins.",
        ),
        _option(
            "database-timeout",
            type=click.FloatRange(0.1, 3600),
            default=defaults.database_timeout,
            help="Seconds a commit may take; past them the waiting calls are answered with "
            "a CALLERROR InternalError and the database's statements are cancelled.",
        ),
        _option(
            "redis-url",
            default=defaults.redis_url,
            help="Join the cluster of the nodes on this Redis (redis://HOST:PORT/DB); they "
            "share one PostgreSQL database. Empty = one node alone.",
        ),
        _option(
            "node-name",
            default=defaults.node_name,
            help="This node's name in the cluster; empty = HOSTNAME:PORT.",
        ),
        _option(
            "workers",
            type=click.IntRange(1, 256),
            default=defaults.workers,
            help="Processes on this port, each a node of the cluster (NAME-1..NAME-N); "
            "needs --redis-url.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def ftp_options(defaults: Settings) -> list[Any]:
    """The FTP server for chargers' files (issue 20, `csms/ftp_server.py`)."""
    return [
        _option(
            "ftp-port",
            type=click.IntRange(0, 65535),
            default=None,
            help="Serve diagnostics uploads and firmware downloads over FTP on this port "
            "(0: a free one); unset: no FTP.",
        ),
        _option(
            "ftp-passive-ports",
            default="",
            help="FTP data connections on ports A-B (open them in the firewall); empty = any.",
        ),
        _option(
            "ftp-public-host",
            default=defaults.ftp_public_host,
            help="The host chargers reach FTP at; empty = the public URL's host.",
        ),
        _option(
            "ftp-timeout",
            type=click.FloatRange(1, 3600),
            default=defaults.ftp_timeout,
            help="Seconds an FTP client may keep a connection silent.",
        ),
        _option(
            "ftp-max-connections",
            type=click.IntRange(1, 100_000),
            default=defaults.ftp_max_connections,
            help="FTP control connections at once; beyond, refused (421).",
        ),
    ]


def port_range(text: str) -> tuple[int, int] | None:
    """`A-B` (1 <= A <= B <= 65535) for --ftp-passive-ports; empty: None."""
    if not text:
        return None
    first, dash, last = text.partition("-")
    if dash and first.strip().isdigit() and last.strip().isdigit():
        low, high = int(first), int(last)
        if 1 <= low <= high <= 65535:
            return low, high
    raise click.BadParameter(
        f"{text!r} is not a port range A-B (1 <= A <= B <= 65535)",
        param_hint="--ftp-passive-ports",
    )


def to_settings(values: dict[str, Any]) -> Settings:
    values = dict(values)
    _check_pairs(values)
    _check_tls(values)
    if values.get("ca_cert"):
        _check_ca(Path(values["ca_cert"]), Path(values["ca_key"]))
    values["certificate_signing"] = CertificateSigning(values["certificate_signing"])
    values["registration"] = RegistrationPolicy(values["registration"])
    values["concurrent_tx"] = ConcurrencyScope(values["concurrent_tx"])
    values["client_certificate_cn"] = CertificateName(
        values.get("client_certificate_cn") or CertificateName.IDENTITY
    )
    public = values.get("public_url") or ""
    if public and urlsplit(public).scheme not in ("http", "https"):
        raise click.BadParameter(f"{public!r} is not an http(s) URL", param_hint="--public-url")
    values["public_url"] = public.rstrip("/")
    values["data_dir"] = Path(values["data_dir"]).expanduser().absolute()
    values["ftp_passive_ports"] = port_range(values.get("ftp_passive_ports") or "")
    if values.get("ftp_public_host"):
        from ocppd.csms.ftp_server import checked_host

        try:
            values["ftp_public_host"] = checked_host(values["ftp_public_host"])
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--ftp-public-host") from None
    _check_cluster(values)
    return Settings(**values)


PAIRS = (("tls_cert", "tls_key"), ("tls_ecdsa_cert", "tls_ecdsa_key"), ("ca_cert", "ca_key"))
"""A certificate and its key: given both or neither."""


def _check_pairs(values: dict[str, Any]) -> None:
    for cert, key in PAIRS:
        if bool(values.get(cert)) != bool(values.get(key)):
            flags = f"--{cert.replace('_', '-')} and --{key.replace('_', '-')}"
            raise click.UsageError(f"{flags} go together")


def _check_tls(values: dict[str, Any]) -> None:
    """The TLS settings make sense together, and the files are what they say (a key that
    does not fit its certificate, a second certificate of the same key type: an error now,
    not a failed handshake later)."""
    if not values.get("tls_cert"):
        for needing in ("tls_ecdsa_cert", "tls_port", "tls_client_ca"):
            if values.get(needing) not in (None, ""):
                flag = "--" + needing.replace("_", "-")
                raise click.UsageError(f"{flag} needs --tls-cert and --tls-key")
        return
    if values.get("tls_port") is not None and values.get("tls_port") == values.get("port") != 0:
        raise click.UsageError("--tls-port must differ from --port")
    from ocppd.cli.tls_files import check_tls_files

    problem = check_tls_files(
        values["tls_cert"],
        values["tls_key"],
        values.get("tls_ecdsa_cert"),
        values.get("tls_ecdsa_key"),
        values.get("tls_client_ca"),
    )
    if problem:
        raise click.UsageError(problem)


def _check_ca(cert: Path, key: Path) -> None:
    """An operator's CA that cannot sign is an error at start, not at the first CSR."""
    from ocppd.csms.certificate_authority import CaUnreadable, load_authority

    try:
        load_authority(cert, key)
    except CaUnreadable as exc:
        raise click.BadParameter(str(exc), param_hint="--ca-cert/--ca-key") from None


def _check_cluster(values: dict[str, Any]) -> None:
    redis_url = values.get("redis_url") or ""
    if redis_url:
        if urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
            raise click.BadParameter(
                f"{redis_url!r} is not a redis://, rediss:// or unix:// URL",
                param_hint="--redis-url",
            )
        database = values.get("database") or ""
        if not database.startswith(("postgresql", "postgres:")):
            raise click.UsageError(
                "--redis-url needs a PostgreSQL --database: every node of a cluster shares "
                "one database, and SQLite is one process's file"
            )
    if values.get("workers", 1) > 1 and not redis_url:
        raise click.UsageError("--workers needs --redis-url: each worker is a node of a cluster")
    if values.get("workers", 1) > 1 and values.get("ftp_port") is not None:
        raise click.UsageError("--ftp-port runs in one process: not with --workers")


def _check_metrics_directory() -> None:
    """Multiprocess metrics (PROMETHEUS_MULTIPROC_DIR, `csms.metrics`) need their directory."""
    from ocppd.csms.metrics import multiprocess_problem

    problem = multiprocess_problem()
    if problem:
        raise click.UsageError(f"{problem}: metrics of several processes are kept there")


FORMER_DATABASE = Path("data") / "ocppd.db"
"""Where ocppd kept its database before the data directory was one place per user: relative
to the directory it was started from."""


def warn_of_a_database_left_behind(settings: Settings) -> None:
    """An operator upgrading from the old default would otherwise start on a new, empty
    database without a word while theirs sits in ./data."""
    former = FORMER_DATABASE.absolute()
    if settings.database or not former.is_file() or former.parent == settings.data_dir:
        return
    click.echo(
        f"ocppd: warning: {former} exists (the database of an older ocppd, started from this "
        f"directory); this server uses {settings.data_dir / 'ocppd.db'}. To keep the old one: "
        f"--data-dir {former.parent}",
        err=True,
    )


class JsonLines(logging.Formatter):
    """One JSON object per log line, for log collectors; `time` in RFC 3339, UTC; `node`,
    a worker's node name (`--workers`)."""

    def __init__(self, node: str = "") -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry = {
            "time": at.removesuffix("+00:00") + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.node:
            entry["node"] = self.node
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(log_format: str, node: str = "") -> None:
    """`node`: a worker's node name, in each of its lines (the workers share one output)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLines(node))
    else:
        shown = f" [{node}]" if node else ""
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s{shown} %(name)s: %(message)s")
        )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


FILE_LIMIT_CEILING = 1 << 20
"""What the soft limit is raised to when the hard one is unlimited (Linux's default
fs.nr_open: a higher soft limit is refused)."""


def raise_file_limit() -> None:
    """Raise the soft limit of open files to the hard limit: each charger holds a socket, and
    the usual soft limit (1,024) is reached long before memory is."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = FILE_LIMIT_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as exc:
            log.warning("open files limit stays %d (hard %d): %s", soft, hard, exc)
            return
        soft = target
    log.info("open files limit: %d", soft)


@click.command()
@settings_options
def serve(**values: Any) -> None:
    """Run the central system: OCPP 1.6J at ws://HOST:PORT/ocpp/{chargePointId}, the HTTP
    API at http://HOST:PORT/api/v1, the dashboard at http://HOST:PORT/."""
    settings = to_settings(values)
    _check_metrics_directory()
    configure_logging(settings.log_format)
    raise_file_limit()
    warn_of_a_database_left_behind(settings)

    def listening(port: int, shown: str, tls_port: int | None = None) -> None:
        # Once bound: the port is the one the system chose when asked for port 0.
        scheme = "wss" if settings.tls_cert and settings.tls_port is None else "ws"
        where = f"{settings.host}:{{}}{settings.path_prefix}/<id>"
        also = "" if tls_port is None else f" and wss://{where.format(tls_port)}"
        click.echo(
            f"ocppd: OCPP 1.6J on {scheme}://{where.format(port)}{also}, "
            f"database {settings.database_url()}, registration {settings.registration.value}"
            f"{shown}"
        )

    if settings.workers > 1:
        workers = f", {settings.workers} workers"
        sys.exit(supervise(settings, lambda *ports: listening(ports[0], workers, *ports[1:])))
    shown = ", node {}" if settings.redis_url else ""
    run_node(settings, lambda port, node, *tls: listening(port, shown.format(node), *tls))


def supervise(settings: Settings, on_listening: Callable[..., None]) -> int:
    """`--workers`: the supervisor of the workers (`cli/workers.py`); its exit code.
    `on_listening(port[, tls_port])`."""
    from ocppd.cli.workers import Supervisor
    from ocppd.transport.shared_port import bind_shared_port

    ports = [settings.port] if settings.tls_port is None else [settings.port, settings.tls_port]
    bound = []
    try:
        for port in ports:
            bound.append(bind_shared_port(settings.host, port))
    except OSError as exc:
        for sockets in bound:
            for sock in sockets:
                sock.close()
        raise click.ClickException(f"cannot listen on {settings.host}:{port}: {exc}") from None
    return asyncio.run(Supervisor(settings, bound[0], on_listening, *bound[1:]).run())


def run_node(
    settings: Settings,
    on_listening: Callable[..., None],
    sockets: list[socket.socket] | None = None,
    tls_sockets: list[socket.socket] | None = None,
) -> None:
    """The central system until SIGTERM/SIGINT; `on_listening(port, node name[, TLS port])`
    once it listens. `sockets` (`tls_sockets`): a worker's share of the port (TLS port), else
    it binds the settings' ports."""
    from ocppd.csms.cluster import ClusterUnavailable, NodeNameTaken
    from ocppd.csms.service import Service, run
    from ocppd.web.routing import fallback

    service: Service | None = None

    def listening(port: int) -> None:
        assert service is not None
        tls = () if service.tls_port is None else (service.tls_port,)
        on_listening(port, service.system.cluster.node_name, *tls)

    service = Service(settings, make_fallback=fallback, on_listening=listening)
    try:
        run(service, sockets, tls_sockets)
    except (NodeNameTaken, ClusterUnavailable) as error:
        raise click.ClickException(f"cannot join the cluster: {error}") from None


@click.group()
def db() -> None:
    """The central system's database."""


@db.command()
@existing_database
def upgrade(database: ExistingDatabase) -> None:
    """Apply the database migrations."""

    async def run() -> None:
        async with database.engine():
            pass  # opening it applies them

    asyncio.run(run())
    click.echo(f"database {database.url} is up to date")
