"""`ocppd token create`: a bearer token for the HTTP API, written straight to the database
(the first admin token cannot come from the API itself)."""

import asyncio
from pathlib import Path

import click

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
@click.option("--database", envvar="OCPPD_DATABASE", default="", help="Database URL.")
@click.option(
    "--data-dir", envvar="OCPPD_DATA_DIR", type=click.Path(path_type=Path), default=Path("data")
)
def create(role: str, name: str, database: str, data_dir: Path) -> None:
    """Print a new token; only its hash is stored, so keep it now."""
    from ocppd.api import tokens
    from ocppd.csms.database import create_engine, upgrade
    from ocppd.csms.settings import Settings

    url = Settings(database=database, data_dir=data_dir).database_url()

    async def run() -> str:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            async with engine.begin() as connection:
                return (await tokens.create(connection, tokens.Role(role), name)).token
        finally:
            await engine.dispose()

    click.echo(asyncio.run(run()))
