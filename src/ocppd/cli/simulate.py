"""`ocppd simulate`: virtual charge points against a central system."""

import asyncio
import json
import signal
import ssl
from pathlib import Path
from typing import Any

import click

from ocppd.chargepoint.files import TransferOptions, UploadMethod
from ocppd.chargepoint.fleet import Fleet, identities
from ocppd.chargepoint.quirks import Quirk, parse_quirks
from ocppd.chargepoint.replay import read_recording, replay
from ocppd.chargepoint.scenarios import SCENARIOS, scenario_named
from ocppd.chargepoint.station import ChargerModel
from ocppd.transport.client import CONNECT_ERRORS, ClientOptions


@click.command()
@click.option("--url", required=True, help="The central system's endpoint, e.g. ws://host/ocpp.")
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
@click.option("--duration", type=float, default=None, help="Seconds to run; default: Ctrl-C.")
@click.option("--connectors", default=2, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Simulated seconds per real second.",
)
@click.option("--password", default=None, help="Basic auth password (security profiles 1, 2).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), default=None)
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
    type=click.Choice(["PUT", "POST"]),
    default="PUT",
    show_default=True,
    help="GetDiagnostics: PUT <location>/<fileName>, or POST multipart to <location>.",
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
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
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
    vendor: str,
    model_name: str,
    state_dir: Path | None,
    quirks: str,
    upload_method: UploadMethod,
    replay: Path | None,
    replay_speed: float,
    as_json: bool,
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
    tls = ssl.create_default_context(cafile=ca_file) if ca_file else None
    if replay is not None:
        _replay(url, identity, replay, replay_speed, ClientOptions(password=password, ssl=tls))
        return
    fleet = Fleet(
        url,
        names,
        driver,
        model=ChargerModel(vendor=vendor, model=model_name, connectors=connectors),
        client_options=ClientOptions(password=password, ssl=tls),
        speed=speed,
        state_dir=state_dir,
        quirks=persona,
        file_transfer=TransferOptions(upload_method=upload_method, ssl=tls),
    )
    asyncio.run(_run(fleet, duration))
    summary = fleet.summary()
    click.echo(json.dumps(summary, indent=2) if as_json else _text(summary))


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


async def _run(fleet: Fleet, duration: float | None) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, fleet.stop)  # end cleanly, with a summary
    await fleet.run(duration)


def _text(summary: dict[str, Any]) -> str:
    lines = [
        f"stations {summary['stations']}, accepted {summary['accepted']}, "
        f"connections {summary['connections']}"
    ]
    for title in ("sent", "received", "errors"):
        counts = summary[title]
        lines.append(f"{title}:" + ("" if counts else " none"))
        lines += [f"  {name:<40} {number:>8}" for name, number in counts.items()]
    if summary["latency_ms"]:
        lines.append("latency ms (p50 / p95 / p99 / max):")
        for action, p in summary["latency_ms"].items():
            lines.append(f"  {action:<40} {p['p50']:>8} {p['p95']:>8} {p['p99']:>8} {p['max']:>8}")
    return "\n".join(lines)
