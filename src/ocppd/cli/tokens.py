"""`ocppd token create`: a bearer token for the HTTP API, written straight to the database
(the first admin token cannot come from the API itself)."""

import asyncio

import click

from ocppd.cli.database_location import ExistingDatabase, existing_database
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

    async def run() -> str:
        async with database.engine() as engine, engine.begin() as connection:
            return (await tokens.create(connection, tokens.Role(role), name)).token

    click.echo(asyncio.run(run()))
