"""`ocppd security-events`: the security events of a running ocppd, through its HTTP API (URL
and token as for `ocppd call`), newest first; critical ones marked with `!`."""

from typing import Any

import click

from ocppd.cli.api_client import ApiClient
from ocppd.cli.operate import api_options, ask, page_options, show_page


@click.command("security-events")
@click.option("--charge-point", help="Only this charge point's.")
@click.option("--type", "event_type", help="Only this type (without case).")
@click.option("--critical/--not-critical", default=None, help="Only critical (or other) ones.")
@click.option(
    "--source",
    type=click.Choice(["charger", "central_system"]),
    help="Only those the chargers sent, or those ocppd recorded itself.",
)
@click.option("--since", help="At or after this time (RFC 3339).")
@click.option("--until", help="Before this time (RFC 3339).")
@page_options
@api_options
def security_events(
    charge_point: str | None,
    event_type: str | None,
    critical: bool | None,
    source: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    url: str,
    token: str | None,
) -> None:
    """List security events, newest first."""
    page = ask(
        ApiClient(url, token),
        "GET",
        "/security-events",
        chargePointId=charge_point,
        type=event_type,
        critical=critical,
        source=source,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    show_page(
        page,
        as_json,
        ["", "TIMESTAMP", "CHARGE POINT", "TYPE", "SOURCE", "TECH INFO"],
        _row,
    )


def _row(event: dict[str, Any]) -> list[str]:
    return [
        "!" if event["critical"] else "",
        event["timestamp"],
        event["chargePointId"],
        event["type"],
        event["source"],
        event["techInfo"] or "",
    ]
