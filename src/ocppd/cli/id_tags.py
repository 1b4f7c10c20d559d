"""`ocppd id-tags` and `ocppd id-tag set|delete`: what Authorize and StartTransaction answer
about each tag, through a running ocppd's HTTP API (as the dashboard's id tags page)."""

import json

import click

from ocppd.cli.api_client import ApiClient, quote
from ocppd.cli.operate import api_options, ask, page_options, show_page
from ocppd.protocol.enums import AuthorizationStatus

# What a tag can be stored as: ConcurrentTx is decided per StartTransaction.
STATUSES = tuple(s.value for s in AuthorizationStatus if s is not AuthorizationStatus.CONCURRENT_TX)


@click.command("id-tags")
@click.option("--status", type=click.Choice(STATUSES), help="Only the tags with this status.")
@click.option("--prefix", help="Only the tags starting with this (any case).")
@page_options
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
    show_page(
        page,
        as_json,
        ["ID TAG", "STATUS", "EXPIRY", "PARENT", "UPDATED"],
        lambda tag: [
            tag["idTag"],
            tag["status"],
            tag["expiryDate"] or "-",
            tag["parentIdTag"] or "-",
            tag["updatedAt"],
        ],
    )


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
