"""`ocppd simulate`: virtual charge points against a central system."""

import asyncio
import json
import signal
import ssl
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from ocppd.chargepoint.certificates import KeyType
from ocppd.chargepoint.files import TransferOptions
from ocppd.chargepoint.fleet import Fleet, identities
from ocppd.chargepoint.quirks import Quirk, parse_quirks
from ocppd.chargepoint.replay import read_recording, replay
from ocppd.chargepoint.scenarios import SCENARIOS, scenario_named
from ocppd.chargepoint.security import SecuritySettings
from ocppd.chargepoint.station import ChargerModel
from ocppd.chargepoint.stats import Stats
from ocppd.cli.params import Url
from ocppd.transport.client import CONNECT_ERRORS, ClientOptions

PROGRESS_SECONDS = 10.0
UPLOAD_METHODS = {
    "any": TransferOptions(protocols="any"),
    "ftp": TransferOptions(protocols="ftp"),
    "http": TransferOptions(protocols="http"),
    "PUT": TransferOptions(protocols="http", upload_method="PUT"),
    "POST": TransferOptions(protocols="http", upload_method="POST"),
}
"""--upload-method: what the station speaks. PUT and POST keep their meaning from before
FTP (HTTP only, with that request)."""


@click.command()
@click.option(
    "--url",
    required=True,
    type=Url(("ws", "wss"), "ws://127.0.0.1:9000/ocpp"),
    help="The central system's endpoint, e.g. ws://host/ocpp.",
)
@click.option("--id", "identity", default="CP1", show_default=True, help="Charge point identity.")
@click.option("--count", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--id-pattern",
    default=None,
    help="Identities of --count stations, formatted with n = 1..count: 'CP{n:04d}'.",
)
@click.option(
    "--scenario",
    default="idle",
    show_default=True,
    help=f"A built-in ({', '.join(SCENARIOS)}) or a TOML file of steps.",
)
@click.option(
    "--duration",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Seconds to run (real time), then stop and print the summary; default: until Ctrl-C.",
)
@click.option("--connectors", default=2, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Simulated seconds per real second.",
)
@click.option(
    "--password",
    default=None,
    help="Basic auth password (security profiles 1, 2), until the CS sets an AuthorizationKey.",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Trust for the central system's certificate (PEM), besides the installed roots.",
)
@click.option(
    "--security-profile",
    type=click.IntRange(0, 3),
    default=None,
    help="0: as --url and --password say; 1: ws + Basic auth; 2: wss + Basic auth; "
    "3: wss + client certificate. The SecurityProfile key at the first start (a state "
    "file's value wins after).",
)
@click.option(
    "--tls-url",
    type=Url(("wss",), "wss://127.0.0.1:9443/ocpp"),
    default=None,
    help="The endpoint for profiles 2 and 3 when it is not --url with scheme wss.",
)
@click.option(
    "--client-cert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A charge point certificate (PEM chain) for profile 3, with --client-key; "
    "without one a profile-3 station gets its own (connects on 2, sends a CSR).",
)
@click.option("--client-key", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option(
    "--security-extension/--no-security-extension",
    default=None,
    help="Speak the security extension (its commands, SecurityEventNotification); "
    "default: on with --security-profile.",
)
@click.option(
    "--key-type",
    type=click.Choice(["ec", "rsa"]),
    default="ec",
    show_default=True,
    help="The key made for a CSR: EC P-256 or RSA 2048.",
)
@click.option("--vendor", default="ocppd", show_default=True)
@click.option("--model", "model_name", default="Simulator", show_default=True)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep each station's state (configuration, local list, queued messages) here across runs.",
)
@click.option(
    "--quirks",
    default="",
    help="Behave like non-conforming chargers: a comma-separated list of "
    f"{', '.join(q.value for q in Quirk)}, or all.",
)
@click.option(
    "--upload-method",
    type=click.Choice(list(UPLOAD_METHODS)),
    default="any",
    show_default=True,
    help="How files move (GetDiagnostics, UpdateFirmware): any = by the location's scheme "
    "(ftp:// by FTP, http(s):// by HTTP PUT); ftp = an FTP-only charger (an http(s) location "
    "fails: UploadFailed, DownloadFailed); http or PUT = HTTP(S) only, PUT <location>/<fileName> "
    "(ftp:// refused: NotSupported); POST = HTTP(S) only, POST multipart to <location>.",
)
@click.option(
    "--ftp-tls/--no-ftp-tls",
    default=False,
    show_default=True,
    help="FTP in explicit TLS only (FTPS: AUTH TLS before the login, the server's certificate "
    "checked against --ca-file, else the system's CAs); a server without it fails the transfer.",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Send the charge point's calls of a JSON-lines recording (frames, or message log "
    "rows) as station --id, instead of a scenario.",
)
@click.option(
    "--replay-speed",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Replay N times faster than recorded; 0 = as fast as the answers come.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Share the stations among this many processes (one event loop, one CPU each).",
)
@click.option("--worker", default=None, hidden=True, help="i/N: run the i-th share (internal).")
@click.option(
    "--live/--no-live",
    default=None,
    help="A table of stations refreshed while it runs; default: on a terminal, without --json.",
)
@click.option(
    "--progress-interval",
    type=click.FloatRange(0),
    default=PROGRESS_SECONDS,
    show_default=True,
    help="Without the live table (stderr not a terminal, or --no-live): a progress line on "
    "stderr this often, in seconds; 0 = none.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 when anything went wrong for the chargers: an authorization not Accepted, "
    "a command their handlers failed, a CALLERROR received, a connection that failed.",
)
def simulate(
    url: str,
    identity: str,
    count: int,
    id_pattern: str | None,
    scenario: str,
    duration: float | None,
    connectors: int,
    speed: float,
    password: str | None,
    ca_file: str | None,
    security_profile: int | None,
    tls_url: str | None,
    client_cert: str | None,
    client_key: str | None,
    security_extension: bool | None,
    key_type: KeyType,
    vendor: str,
    model_name: str,
    state_dir: Path | None,
    quirks: str,
    upload_method: str,
    ftp_tls: bool,
    replay: Path | None,
    replay_speed: float,
    workers: int,
    worker: str | None,
    live: bool | None,
    progress_interval: float,
    as_json: bool,
    strict: bool,
) -> None:
    """Run simulated charge points until --duration or Ctrl-C, then print a summary."""
    try:
        names = identities(count, identity, id_pattern)
    except (ValueError, KeyError, IndexError) as exc:
        raise click.BadParameter(str(exc), param_hint="--id-pattern") from None
    try:
        driver = scenario_named(scenario)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from None
    try:
        persona = parse_quirks(quirks)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--quirks") from None
    tls = _trust(ca_file)
    _check_client_certificate(client_cert, client_key)
    if ftp_tls and UPLOAD_METHODS[upload_method].protocols == "http":
        raise click.UsageError(f"--ftp-tls with --upload-method {upload_method}: no FTP to protect")
    if security_extension is None:
        security_extension = security_profile is not None
    security = SecuritySettings(
        profile=security_profile,
        tls_url=tls_url,
        ca_file=ca_file,
        client_cert=client_cert,
        client_key=client_key,
        extension=security_extension,
        key_type=key_type,
    )
    if replay is not None:
        _replay(url, identity, replay, replay_speed, ClientOptions(password=password, ssl=tls))
        return
    if workers > 1 and worker is None:
        _report(_with_workers(workers, len(names)), as_json, strict)
        return
    if worker is not None:
        index, total = _share(worker)
        names = names[index::total]
    if live is None:
        live = worker is None and not as_json and sys.stderr.isatty()
    fleet = Fleet(
        url,
        names,
        driver,
        model=ChargerModel(vendor=vendor, model=model_name, connectors=connectors),
        client_options=ClientOptions(password=password, ssl=tls),
        speed=speed,
        state_dir=state_dir,
        quirks=persona,
        file_transfer=replace(UPLOAD_METHODS[upload_method], ssl=tls, ftp_tls=ftp_tls),
        security=security,
    )
    progress = Progress(progress_interval, f"worker {worker}: " if worker else "")
    asyncio.run(_run(fleet, duration, live, progress))
    if worker is not None:
        # For the parent process: the raw counts, merged there with the other shares.
        accepted = fleet.summary()["accepted"]
        share = {"stations": len(names), "accepted": accepted, "stats": fleet.stats().export()}
        click.echo(json.dumps(share))
        return
    _report(fleet.summary(), as_json, strict)


def _trust(ca_file: str | None) -> ssl.SSLContext | None:
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (ssl.SSLError, ValueError) as exc:
        raise click.BadParameter(f"not PEM certificates: {exc}", param_hint="--ca-file") from None


def _check_client_certificate(cert: str | None, key: str | None) -> None:
    """Both or neither, and a certificate with its own key: refused now, not at each
    connection attempt."""
    if (cert is None) != (key is None):
        raise click.BadParameter("--client-cert and --client-key go together")
    if cert is None:
        return
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        raise click.BadParameter(
            f"not a PEM certificate and its key: {exc}", param_hint="--client-cert"
        ) from None


def _report(summary: dict[str, Any], as_json: bool, strict: bool) -> None:
    """Print the summary; with `strict`, exit 1 when anything went wrong for the chargers."""
    click.echo(json.dumps(summary, indent=2) if as_json else _text(summary))
    unreached = sum(n for kind, n in summary["errors"].items() if kind.startswith("connect "))
    if strict and (unreached or any(summary["went_wrong"].values())):
        said = _went_wrong(summary["went_wrong"])
        raise click.ClickException(f"--strict: {said}; connections failed {unreached:,}")


def _went_wrong(counts: dict[str, int]) -> str:
    said = ", ".join(f"{kind.replace('_', ' ')} {n:,}" for kind, n in counts.items())
    return f"went wrong for the chargers: {said}"


def _share(worker: str) -> tuple[int, int]:
    try:
        index, total = (int(part) for part in worker.split("/"))
    except ValueError:
        raise click.BadParameter("i/N", param_hint="--worker") from None
    if not 0 <= index < total:
        raise click.BadParameter("i/N with 0 <= i < N", param_hint="--worker")
    return index, total


def _worker_arguments() -> list[str]:
    """This command's own arguments, without --workers: what each worker runs."""
    args = sys.argv[sys.argv.index("simulate") + 1 :] if "simulate" in sys.argv else []
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            kept.append(arg)
    return kept


def _with_workers(workers: int, stations: int) -> dict[str, Any]:
    """Run the shares in `workers` processes (`--worker i/N`); their counts merged."""
    workers = min(workers, stations)
    arguments = _worker_arguments()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "ocppd", "simulate", *arguments, "--worker", f"{i}/{workers}"],
            stdout=subprocess.PIPE,
        )
        for i in range(workers)
    ]

    def forward(signum: int, _: Any) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        outputs = [process.communicate()[0] for process in processes]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    total = Stats()
    summary: dict[str, Any] = {"stations": 0, "accepted": 0, "workers": workers}
    for process, output in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise click.ClickException(f"A worker failed (exit {process.returncode})")
        share = json.loads(output)
        summary["stations"] += share["stations"]
        summary["accepted"] += share["accepted"]
        total.merge(Stats.imported(share["stats"]))
    return {**summary, **total.summary()}


def _replay(url: str, identity: str, path: Path, speed: float, options: ClientOptions) -> None:
    try:
        calls, skipped = read_recording(path)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--replay") from None
    try:
        result = asyncio.run(replay(url, identity, calls, speed=speed or None, options=options))
    except CONNECT_ERRORS as exc:
        raise click.ClickException(f"Cannot connect to {url}: {exc}") from None
    result.skipped = skipped
    click.echo(json.dumps(result.summary(), indent=2))


@dataclass(frozen=True)
class Progress:
    seconds: float
    """0: no progress lines."""
    prefix: str = ""


async def _run(
    fleet: Fleet, duration: float | None, live: bool = False, progress: Progress | None = None
) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, fleet.stop)  # end cleanly, with a summary
    view = None
    if live:
        view = asyncio.create_task(_live_view(fleet))
    elif progress is not None and progress.seconds > 0:
        view = asyncio.create_task(_progress_lines(fleet, progress))
    try:
        await fleet.run(duration)
    finally:
        if view is not None:
            view.cancel()
            await asyncio.gather(view, return_exceptions=True)


LIVE_SECONDS = 1.0
LIVE_ROWS = 15


async def _progress_lines(fleet: Fleet, progress: Progress) -> None:
    """A line on stderr every `progress.seconds`: for a log, where a redrawn table is noise."""
    started = time.monotonic()
    while True:
        await asyncio.sleep(progress.seconds)
        stats = fleet.stats()
        online = sum(1 for s in fleet.stations if s.online)
        sys.stderr.write(
            f"{progress.prefix}ocppd simulate: {time.monotonic() - started:,.0f} s, "
            f"online {online}/{len(fleet.stations)}, sent {sum(stats.sent.values()):,}, "
            f"received {sum(stats.received.values()):,}, errors {sum(stats.errors.values()):,}; "
            f"{_went_wrong(stats.went_wrong())}\n"
        )
        sys.stderr.flush()


async def _live_view(fleet: Fleet) -> None:
    """A plain table on stderr, redrawn every second: totals, then the first stations."""
    started = time.monotonic()
    previous = 0
    while True:
        await asyncio.sleep(LIVE_SECONDS)
        stations = fleet.stations
        sent = sum(sum(s.stats.sent.values()) for s in stations)
        received = sum(sum(s.stats.received.values()) for s in stations)
        errors = sum(sum(s.stats.errors.values()) for s in stations)
        statuses = Counter(c.status.value for s in stations for c in s.connectors.values())
        lines = [
            f"ocppd simulate  {time.monotonic() - started:,.0f} s  "
            f"online {sum(1 for s in stations if s.online)}/{len(stations)}  "
            f"sent {sent:,} ({(sent - previous) / LIVE_SECONDS:,.0f}/s)  "
            f"received {received:,}  errors {errors:,}",
            "connectors: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
            "",
            f"{'station':<24} {'online':<7} {'connectors':<40} {'queued':>6} {'sent':>8}",
        ]
        for station in stations[:LIVE_ROWS]:
            connectors = " ".join(c.status.value for c in station.connectors.values())
            lines.append(
                f"{station.identity[:24]:<24} {('yes' if station.online else 'no'):<7} "
                f"{connectors[:40]:<40} {len(station.transaction_messages):>6} "
                f"{sum(station.stats.sent.values()):>8}"
            )
        if len(stations) > LIVE_ROWS:
            lines.append(f"... and {len(stations) - LIVE_ROWS} more")
        previous = sent
        sys.stderr.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
        sys.stderr.flush()


def _text(summary: dict[str, Any]) -> str:
    workers = f", workers {summary['workers']}" if "workers" in summary else ""
    lines = [
        f"stations {summary['stations']}, accepted {summary['accepted']}, "
        f"connections {summary['connections']}{workers}"
    ]
    for title in ("sent", "received", "errors", "refused", "failed"):
        counts = summary[title]
        lines.append(f"{title}:" + ("" if counts else " none"))
        lines += [f"  {name:<40} {number:>8}" for name, number in counts.items()]
    lines.append(_went_wrong(summary["went_wrong"]))
    if summary["latency_ms"]:
        lines.append("latency ms (p50 / p95 / p99 / max):")
        for action, p in summary["latency_ms"].items():
            lines.append(f"  {action:<40} {p['p50']:>8} {p['p95']:>8} {p['p99']:>8} {p['max']:>8}")
    return "\n".join(lines)
