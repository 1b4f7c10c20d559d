"""`ocppd token create|list|revoke`: bearer tokens of the HTTP API, in the database directly
(the first admin token cannot come from the API itself, and a leaked admin token must be
revocable without it). Only `create` prints a secret: the database keeps hashes only.
`create` and `revoke` are recorded in the audit log (role `cli`, the OS user) in the
transaction of their change.

A token revoked here is refused by a running ocppd within a second (`ocppd.api.auth`: it asks
whether the tokens changed at most once a second); one revoked through the API, at once."""

import asyncio

import click

from ocppd.cli.database_location import ExistingDatabase, existing_database
from ocppd.cli.operate import show_page
from ocppd.cli.params import StoredText

ROLES = ["viewer", "operator", "admin"]
NAME_LENGTH = 255
"""As the API's tokens.MAX_NAME (not imported here: the command starts without the API)."""


@click.group()
def token() -> None:
    """Bearer tokens of the HTTP API."""


@token.command()
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the token may do.")
@click.option(
    "--name",
    type=StoredText(NAME_LENGTH),
    default="",
    help="A label, to tell tokens apart when listing them.",
)
@existing_database
def create(role: str, name: str, database: ExistingDatabase) -> None:
    """Print a new token; only its hash is stored, so keep it now."""
    from ocppd.api import tokens
    from ocppd.csms import audit_log

    async def run() -> str:
        async with database.engine() as engine, engine.begin() as connection:
            created = await tokens.create(connection, tokens.Role(role), name)
            await audit_log.record_command_line(
                connection,
                "token create",
                "create_token",
                {"body": {"role": role, "name": name}},
                response={"id": created.id},
            )
            return created.token

    click.echo(asyncio.run(run()))


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help='As JSON: {"items": [...]}.')
@existing_database
def list_(as_json: bool, database: ExistingDatabase) -> None:
    """List the tokens: id, name, role, when created (never the secrets)."""
    import msgspec

    from ocppd.api import tokens

    async def run() -> list[tokens.Token]:
        async with database.engine() as engine, engine.connect() as connection:
            return await tokens.listed(connection)

    show_page(
        {"items": msgspec.to_builtins(asyncio.run(run()))},
        as_json,
        ["ID", "NAME", "ROLE", "CREATED"],
        lambda t: [str(t["id"]), t["name"] or "-", t["role"], t["createdAt"]],
    )


@token.command()
@click.argument("token_id", metavar="ID", type=click.IntRange(1, 2**63 - 1))
@existing_database
def revoke(token_id: int, database: ExistingDatabase) -> None:
    """Revoke the token ID (see `ocppd token list`): a running ocppd refuses it within a
    second (through the API, at once)."""
    from ocppd.api import tokens
    from ocppd.csms import audit_log

    async def run() -> bool:
        async with database.engine() as engine, engine.begin() as connection:
            revoked = await tokens.revoke(connection, token_id)
            await audit_log.record_command_line(
                connection,
                "token revoke",
                "revoke_token",
                {"path": {"tokenId": token_id}},
                outcome=audit_log.SUCCEEDED if revoked else audit_log.REFUSED,
                result=None if revoked else f"no token {token_id}",
            )
            return revoked

    if not asyncio.run(run()):
        raise click.ClickException(f"no token {token_id} (see `ocppd token list`)")
    click.echo(f"revoked token {token_id}")
