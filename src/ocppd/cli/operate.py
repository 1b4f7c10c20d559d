"""`ocppd call`, `ocppd charge-points`, `ocppd transactions`: operating a running ocppd
through its HTTP API (URL and token from flags or OCPPD_URL / OCPPD_TOKEN)."""

import json
from collections.abc import Callable
from typing import Any

import click

from ocppd.cli.api_client import DEFAULT_URL, ApiClient, ApiError, quote
from ocppd.cli.params import Token, Url


def api_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--token",
        envvar="OCPPD_TOKEN",
        show_envvar=True,
        type=Token(),
        help="Bearer token (`ocppd token create`).",
    )(func)
    return click.option(
        "--url",
        envvar="OCPPD_URL",
        show_envvar=True,
        default=DEFAULT_URL,
        show_default=True,
        type=Url(("http", "https"), DEFAULT_URL),
        help="Where ocppd serves.",
    )(func)


def force_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--force`: send to a charge point whose boot was Rejected (the API's `force=true`)."""
    return click.option(
        "--force",
        is_flag=True,
        help="Send even though the charge point's boot was Rejected (OCPP 1.6: commands SHOULD "
        "NOT be sent to it). Never lifts the ban on remote start/stop while Pending.",
    )(func)


def page_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--limit`, `--cursor` and `--json` of a command that lists one page of the API's."""
    func = click.option("--json", "as_json", is_flag=True, help="The API's page as JSON.")(func)
    func = click.option("--cursor", help="Where the previous page ended.")(func)
    return click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)(
        func
    )


def ask(client: ApiClient, method: str, path: str, body: Any = None, **query: Any) -> Any:
    try:
        return client.request(method, path, body, **query)
    except ApiError as error:
        click.echo(f"error: {error}", err=True)
        if isinstance(error.body, dict):
            extra = {k: v for k, v in error.body.items() if k not in ("status", "error")}
            if extra:
                click.echo(json.dumps(extra, indent=2), err=True)
        raise SystemExit(1) from None


PAYLOAD_EXAMPLE = """like '{"type": "Soft"}' (quote it for the shell)"""


@click.command()
@click.argument("charge_point")
@click.argument("action")
@click.argument("payload", default="{}")
@click.option(
    "--timeout", type=click.FloatRange(1, 600), help="Seconds to wait (1-600, as the API takes)."
)
@force_option
@api_options
def call(
    charge_point: str,
    action: str,
    payload: str,
    timeout: float | None,
    force: bool,
    url: str,
    token: str | None,
) -> None:
    """Send ACTION with PAYLOAD (JSON) to CHARGE_POINT and print its answer.

    Example: ocppd call CP1 Reset '{"type": "Soft"}'
    """
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise click.BadParameter(
            f"not JSON ({exc}); {PAYLOAD_EXAMPLE}", param_hint="PAYLOAD"
        ) from None
    if not isinstance(body, dict):
        raise click.BadParameter(
            f"a JSON object is needed; {PAYLOAD_EXAMPLE}", param_hint="PAYLOAD"
        )
    client = ApiClient(url, token, timeout=(timeout or 60.0) + 10)
    path = f"/charge-points/{quote(charge_point)}/commands/{quote(action)}"
    answer = ask(client, "POST", path, body, timeout=timeout, force=force or None)
    click.echo(json.dumps(answer, indent=2))


@click.command("charge-points")
@click.option("--connected/--disconnected", default=None, help="Only those (dis)connected.")
@page_options
@api_options
def charge_points(
    connected: bool | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    url: str,
    token: str | None,
) -> None:
    """List charge points: connection, status of each connector, last heartbeat."""
    page = ask(
        ApiClient(url, token),
        "GET",
        "/charge-points",
        connected=connected,
        limit=limit,
        cursor=cursor,
    )
    show_page(
        page,
        as_json,
        ["ID", "CONNECTION", "REGISTRATION", "CONNECTORS", "LAST HEARTBEAT"],
        lambda cp: [
            cp["chargePointId"],
            "online" if cp["connected"] else "offline",
            cp["registrationStatus"],
            " ".join(f"{c['connectorId']}:{c['status']}" for c in cp["connectors"]) or "-",
            cp["lastHeartbeat"] or "-",
        ],
    )


@click.command()
@click.option("--charge-point", help="Only this charge point's.")
@click.option("--id-tag", help="Only this id tag's (case-insensitive).")
@click.option("--active/--finished", default=None, help="Only running (or finished) ones.")
@click.option("--since", help="Running at or after this time (RFC 3339).")
@click.option("--until", help="Started before this time (RFC 3339).")
@page_options
@api_options
def transactions(
    charge_point: str | None,
    id_tag: str | None,
    active: bool | None,
    since: str | None,
    until: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    url: str,
    token: str | None,
) -> None:
    """List transactions, newest first, with their energy in Wh."""
    page = ask(
        ApiClient(url, token),
        "GET",
        "/transactions",
        chargePointId=charge_point,
        idTag=id_tag,
        active=active,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    show_page(
        page,
        as_json,
        ["ID", "CHARGE POINT", "CONNECTOR", "ID TAG", "STARTED", "STOPPED", "WH"],
        lambda t: [
            str(t["transactionId"]),
            t["chargePointId"],
            str(t["connectorId"]),
            t["idTag"],
            t["startedAt"],
            t["stoppedAt"] or "running",
            "-" if t["energyWh"] is None else str(t["energyWh"]),
        ],
    )


def show_page(
    page: dict[str, Any],
    as_json: bool,
    header: list[str],
    row: Callable[[dict[str, Any]], list[str]],
) -> None:
    """A page of the API's as JSON, or as a table of a `row` per item, and where it ended."""
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    _table(header, [row(item) for item in page["items"]])
    _more(page)


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _more(page: dict[str, Any]) -> None:
    if page.get("nextCursor"):
        click.echo(f"(more: --cursor {page['nextCursor']})", err=True)
