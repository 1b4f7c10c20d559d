"""`ocppd diagnostics` and `ocppd firmware`: the two file flows through the HTTP API (URL and
token as for `ocppd call`). With `--wait`, the job is followed until it ends; a diagnostics
file is then saved with `--output`."""

import json
import time
from pathlib import Path
from typing import Any

import click

from ocppd.cli.api_client import ApiClient, ApiError, quote
from ocppd.cli.operate import api_options, ask, force_option

POLL_SECONDS = 1.0


def _wait_option(func: Any) -> Any:
    return click.option(
        "--wait",
        type=click.FloatRange(0, min_open=True),
        help="Follow the job until it ends, at most this many seconds.",
    )(func)


def _transfer_options(func: Any) -> Any:
    func = click.option("--retry-interval", type=click.IntRange(0), help="Seconds between tries.")(
        func
    )
    return click.option("--retries", type=click.IntRange(0), help="Tries after the first.")(func)


@click.command()
@click.argument("charge_point")
@click.option("--start-time", help="Oldest information wanted (RFC 3339).")
@click.option("--stop-time", help="Newest information wanted (RFC 3339).")
@_transfer_options
@_wait_option
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Save the file here."
)
@force_option
@api_options
def diagnostics(
    charge_point: str,
    start_time: str | None,
    stop_time: str | None,
    retries: int | None,
    retry_interval: int | None,
    wait: float | None,
    output: Path | None,
    force: bool,
    url: str,
    token: str | None,
) -> None:
    """Ask CHARGE_POINT for its diagnostics (uploaded to ocppd); print the job."""
    client = ApiClient(url, token)
    body = _present(
        startTime=start_time, stopTime=stop_time, retries=retries, retryInterval=retry_interval
    )
    route = f"/charge-points/{quote(charge_point)}/diagnostics"
    job = ask(client, "POST", route, body, force=force or None)
    path = f"/diagnostics/{job['jobId']}"
    if wait is not None or output is not None:
        job = _until_ended(client, path, wait or 600.0)
    click.echo(json.dumps(job, indent=2))
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
@_transfer_options
@_wait_option
@force_option
@api_options
def update(
    charge_point: str,
    firmware_id: int,
    retrieve_date: str | None,
    retries: int | None,
    retry_interval: int | None,
    wait: float | None,
    force: bool,
    url: str,
    token: str | None,
) -> None:
    """Send the uploaded image FIRMWARE_ID to CHARGE_POINT; print the job."""
    client = ApiClient(url, token)
    body = _present(
        firmwareId=firmware_id,
        retrieveDate=retrieve_date,
        retries=retries,
        retryInterval=retry_interval,
    )
    route = f"/charge-points/{quote(charge_point)}/firmware-updates"
    job = ask(client, "POST", route, body, force=force or None)
    if wait is not None:
        job = _until_ended(client, f"/firmware-updates/{job['jobId']}", wait)
    click.echo(json.dumps(job, indent=2))


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _until_ended(client: ApiClient, path: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        job = ask(client, "GET", path)
        if job["endedAt"] is not None or time.monotonic() >= deadline:
            return job
        time.sleep(POLL_SECONDS)
