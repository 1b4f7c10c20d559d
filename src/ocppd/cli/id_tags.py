"""`ocppd id-tags` and `ocppd id-tag set|delete`: what Authorize and StartTransaction answer
about each tag, through a running ocppd's HTTP API (as the dashboard's id tags page)."""

import json

import click

from ocppd.cli.api_client import ApiClient, quote
from ocppd.cli.operate import api_options, ask, more, table

STATUSES = ("Accepted", "Blocked", "Expired", "Invalid")


@click.command("id-tags")
@click.option("--status", type=click.Choice(STATUSES), help="Only the tags with this status.")
@click.option("--prefix", help="Only the tags starting with this (any case).")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--cursor", help="Where the previous page ended.")
@click.option("--json", "as_json", is_flag=True, help="The API's page as JSON.")
@api_options
def id_tags(
    status: str | None,
    prefix: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    url: str,
    token: str | None,
) -> None:
    """List id tags, from A (case-insensitive order)."""
    client = ApiClient(url, token)
    page = ask(client, "GET", "/id-tags", status=status, prefix=prefix, limit=limit, cursor=cursor)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    rows = [
        [
            tag["idTag"],
            tag["status"],
            tag["expiryDate"] or "-",
            tag["parentIdTag"] or "-",
            tag["updatedAt"],
        ]
        for tag in page["items"]
    ]
    table(["ID TAG", "STATUS", "EXPIRY", "PARENT", "UPDATED"], rows)
    more(page)


@click.group("id-tag")
def id_tag() -> None:
    """Create, replace or delete one id tag (operator token)."""


@id_tag.command("set")
@click.argument("tag")
@click.option(
    "--status", type=click.Choice(STATUSES), default="Accepted", show_default=True, help="Status."
)
@click.option("--expiry", help="When it expires (RFC 3339, with its zone).")
@click.option("--parent", help="Its parentIdTag (a group; ConcurrentTx can apply per group).")
@api_options
def set_tag(
    tag: str, status: str, expiry: str | None, parent: str | None, url: str, token: str | None
) -> None:
    """Create TAG, or replace all it says (status, expiry, parent): block it with
    --status Blocked."""
    body = {"status": status, "expiryDate": expiry, "parentIdTag": parent}
    stored = ask(ApiClient(url, token), "PUT", f"/id-tags/{quote(tag)}", body)
    click.echo(json.dumps(stored, indent=2))


@id_tag.command("delete")
@click.argument("tag")
@api_options
def delete_tag(tag: str, url: str, token: str | None) -> None:
    """Delete TAG: the central system no longer knows it (Authorize answers Invalid)."""
    ask(ApiClient(url, token), "DELETE", f"/id-tags/{quote(tag)}")
    click.echo(f"deleted {tag}")
