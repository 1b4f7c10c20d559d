"""`ocppd diagnostics`, `ocppd logs` and `ocppd firmware`: the file flows through the HTTP
API (URL and token as for `ocppd call`). With `--wait`, the job is followed until it ends,
each status shown on stderr as it arrives; a diagnostics file or log is then saved with
`--output`. The exit status says how it ended: 0 done (Uploaded, Installed), 1 failed, 3
still under way when the wait ran out."""

import json
import time
from pathlib import Path
from typing import Any

import click

from ocppd.cli.api_client import ApiClient, ApiError, quote
from ocppd.cli.operate import api_options, ask, force_option

POLL_SECONDS = 1.0
DEFAULT_WAIT = 600.0
DONE = frozenset({"Uploaded", "Installed"})
STILL_UNDER_WAY = 3
"""The exit status when --wait ran out (1: the job failed; 2: click's usage errors)."""


class StillUnderWay(click.ClickException):
    exit_code = STILL_UNDER_WAY


def _wait_option(func: Any) -> Any:
    return click.option(
        "--wait",
        type=click.FloatRange(0, min_open=True),
        help="Follow the job until it ends, at most this many seconds, showing each status; "
        f"exit 1 if it failed, {STILL_UNDER_WAY} if it is still under way.",
    )(func)


def _transfer_options(func: Any) -> Any:
    func = click.option("--retry-interval", type=click.IntRange(0), help="Seconds between tries.")(
        func
    )
    func = click.option(
        "--transport",
        type=click.Choice(["http", "ftp"]),
        help="How the file travels (ftp: ocppd's FTP server); default: the charge point's.",
    )(func)
    return click.option("--retries", type=click.IntRange(0), help="Tries after the first.")(func)


@click.command()
@click.argument("charge_point")
@click.option("--start-time", help="Oldest information wanted (RFC 3339).")
@click.option("--stop-time", help="Newest information wanted (RFC 3339).")
@_transfer_options
@_wait_option
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Save the file here (waits, by default up to {DEFAULT_WAIT:g} s).",
)
@force_option
@api_options
def diagnostics(
    charge_point: str,
    start_time: str | None,
    stop_time: str | None,
    retries: int | None,
    retry_interval: int | None,
    transport: str | None,
    wait: float | None,
    output: Path | None,
    force: bool,
    url: str,
    token: str | None,
) -> None:
    """Ask CHARGE_POINT for its diagnostics (uploaded to ocppd); print the job."""
    client = ApiClient(url, token)
    body = _present(
        startTime=start_time,
        stopTime=stop_time,
        retries=retries,
        retryInterval=retry_interval,
        transport=transport,
    )
    route = f"/charge-points/{quote(charge_point)}/diagnostics"
    job = ask(client, "POST", route, body, force=force or None)
    _finish(client, f"/diagnostics/{job['jobId']}", job, wait, output)


LOG_TYPES = {"security": "SecurityLog", "diagnostics": "DiagnosticsLog"}


@click.command()
@click.argument("charge_point")
@click.option(
    "--type",
    "log_type",
    type=click.Choice(sorted(LOG_TYPES)),
    default="security",
    show_default=True,
    help="Which log (SecurityLog or DiagnosticsLog).",
)
@click.option("--oldest", help="Oldest entries wanted (RFC 3339).")
@click.option("--latest", help="Newest entries wanted (RFC 3339).")
@_transfer_options
@_wait_option
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Save the log here (waits, by default up to {DEFAULT_WAIT:g} s).",
)
@force_option
@api_options
def logs(
    charge_point: str,
    log_type: str,
    oldest: str | None,
    latest: str | None,
    retries: int | None,
    retry_interval: int | None,
    transport: str | None,
    wait: float | None,
    output: Path | None,
    force: bool,
    url: str,
    token: str | None,
) -> None:
    """Ask CHARGE_POINT for its security or diagnostics log (GetLog, uploaded to ocppd);
    print the job."""
    client = ApiClient(url, token)
    body = _present(
        logType=LOG_TYPES[log_type],
        oldestTimestamp=oldest,
        latestTimestamp=latest,
        retries=retries,
        retryInterval=retry_interval,
        transport=transport,
    )
    route = f"/charge-points/{quote(charge_point)}/logs"
    job = ask(client, "POST", route, body, force=force or None)
    _finish(client, f"/logs/{job['jobId']}", job, wait, output)


def _finish(
    client: ApiClient, path: str, job: Any, wait: float | None, output: Path | None
) -> None:
    """Print the job, or follow it (`--wait`) and save its file (`--output`)."""
    if wait is None and output is None:
        click.echo(json.dumps(job, indent=2))
        return
    job = _follow(client, path, wait or DEFAULT_WAIT)
    if output is not None:
        if job.get("file") is None:
            raise click.ClickException(f"no file came ({job['status']})")
        try:
            output.write_bytes(client.download(path + "/file"))
        except ApiError as error:
            raise click.ClickException(str(error)) from None


@click.group()
def firmware() -> None:
    """Firmware images and updates."""


@firmware.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="The name chargers see (default: the file's).")
@api_options
def upload(file: Path, name: str | None, url: str, token: str | None) -> None:
    """Upload a firmware image FILE; print what was kept (its firmwareId), or the image
    uploaded before with the same bytes."""
    client = ApiClient(url, token)
    answer = client.send("POST", "/firmware", None, {"name": name or file.name}, file.read_bytes())
    if answer.status >= 400:
        raise click.ClickException(str(ApiError(answer.status, answer.body)))
    if answer.status == 200:
        image = answer.body
        click.echo(
            f"already uploaded as firmware {image['firmwareId']} ({image['name']!r}, same "
            "SHA-256): nothing new kept",
            err=True,
        )
    click.echo(json.dumps(answer.body, indent=2))


@firmware.command()
@click.argument("charge_point")
@click.argument("firmware_id", type=click.IntRange(1))
@click.option("--retrieve-date", help="When to download it (RFC 3339; default: now).")
@click.option(
    "--signed",
    is_flag=True,
    help="SignedUpdateFirmware (security extension): signed by ocppd's firmware-signing key, "
    "or by --signature and --signing-certificate.",
)
@click.option(
    "--signature",
    "signature_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --signed: a file holding the base64 signature of the image.",
)
@click.option(
    "--signing-certificate",
    "certificate_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --signature: the PEM certificate whose key made it.",
)
@click.option("--install-date", help="With --signed: when to install it (RFC 3339).")
@_transfer_options
@_wait_option
@force_option
@api_options
def update(
    charge_point: str,
    firmware_id: int,
    retrieve_date: str | None,
    signed: bool,
    signature_file: Path | None,
    certificate_file: Path | None,
    install_date: str | None,
    retries: int | None,
    retry_interval: int | None,
    transport: str | None,
    wait: float | None,
    force: bool,
    url: str,
    token: str | None,
) -> None:
    """Send the uploaded image FIRMWARE_ID to CHARGE_POINT; print the job."""
    if not signed and (signature_file or certificate_file or install_date):
        raise click.UsageError(
            "--signature, --signing-certificate and --install-date need --signed"
        )
    client = ApiClient(url, token)
    body = _present(
        firmwareId=firmware_id,
        retrieveDate=retrieve_date,
        retries=retries,
        retryInterval=retry_interval,
        signed=signed or None,
        signature=_text(signature_file, "--signature"),
        signingCertificate=_text(certificate_file, "--signing-certificate"),
        installDate=install_date,
        transport=transport,
    )
    route = f"/charge-points/{quote(charge_point)}/firmware-updates"
    job = ask(client, "POST", route, body, force=force or None)
    if wait is None:
        click.echo(json.dumps(job, indent=2))
    else:
        _follow(client, f"/firmware-updates/{job['jobId']}", wait)


def _text(path: Path | None, option: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise click.BadParameter(f"{path}: {error}", param_hint=option) from None


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _follow(client: ApiClient, path: str, seconds: float) -> Any:
    """Print the job once it ended (exit 0 when done, 1 when not) or `seconds` passed (exit
    3); meanwhile each status on stderr as it arrives, and what installation waits for."""
    deadline = time.monotonic() + seconds
    shown = -1  # the statuses printed; -1: not even Requested
    waiting_shown = None
    while True:
        job = ask(client, "GET", path)
        if shown < 0:
            _progress(job, job["createdAt"], "Requested")
            shown = 0
        history = job["history"] or []
        for entry in history[shown:]:
            _progress(job, entry["receivedAt"], entry["status"])
        shown = len(history)
        waiting = job.get("waitingForTransactions")
        if waiting and waiting != waiting_shown:
            _progress(job, "", _installation_waits(waiting))
        waiting_shown = waiting
        if job["endedAt"] is not None or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    click.echo(json.dumps(job, indent=2))
    where = f"job {job['jobId']} is {job['status']}"
    if job["endedAt"] is None:
        if waiting:
            where += f": {_installation_waits(waiting)}"
        raise StillUnderWay(f"--wait ran out after {seconds:g} s: {where}")
    if job["status"] not in DONE:
        raise click.ClickException(f"job {job['jobId']} ended {job['status']}")
    return job


def _progress(job: dict[str, Any], at: str, what: str) -> None:
    click.echo(f"job {job['jobId']}: {at + '  ' if at else ''}{what}", err=True)


def _installation_waits(transactions: list[int]) -> str:
    ids = ", ".join(str(t) for t in transactions)
    noun = "transaction" if len(transactions) == 1 else "transactions"
    return f"installation waits for {noun} {ids} to end"
