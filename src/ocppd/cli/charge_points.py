"""`ocppd charge-point add`: register a charge point in the database directly."""

import asyncio
from pathlib import Path

import click

from ocppd.cli.params import StoredText
from ocppd.protocol.enums import RegistrationStatus
from ocppd.protocol.leniency import Rule


@click.group("charge-point")
def charge_point() -> None:
    """Charge points known to the central system."""


@charge_point.command()
@click.argument("identity", type=StoredText())
@click.option(
    "--status",
    type=click.Choice([s.value for s in RegistrationStatus]),
    default="Accepted",
    show_default=True,
    help="What its BootNotification is answered with.",
)
@click.option(
    "--auth-key",
    type=StoredText(),
    help="Its AuthorizationKey (HTTP Basic password); stored hashed.",
)
@click.option(
    "--tolerate",
    multiple=True,
    type=click.Choice([r.value for r in Rule]),
    help="A tolerance rule to enable for it (repeatable).",
)
@click.option("--database", envvar="OCPPD_DATABASE", default="", help="Database URL.")
@click.option(
    "--data-dir", envvar="OCPPD_DATA_DIR", type=click.Path(path_type=Path), default=Path("data")
)
def add(
    identity: str,
    status: str,
    auth_key: str | None,
    tolerate: tuple[str, ...],
    database: str,
    data_dir: Path,
) -> None:
    """Register IDENTITY (or update its registration)."""
    from ocppd.csms import registration
    from ocppd.csms.database import create_engine, upgrade
    from ocppd.csms.settings import Settings

    if not identity or len(identity) > 255:
        raise click.BadParameter("must be 1 to 255 characters", param_hint="IDENTITY")
    if "/" in identity:
        raise click.BadParameter(
            "must not contain '/' (the API could not address it)", param_hint="IDENTITY"
        )
    url = Settings(database=database, data_dir=data_dir).database_url()

    async def run() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            async with engine.begin() as connection:
                await registration.register(
                    connection,
                    identity,
                    RegistrationStatus(status),
                    auth_key,
                    frozenset(Rule(r) for r in tolerate),
                )
        finally:
            await engine.dispose()

    asyncio.run(run())
    click.echo(f"charge point {identity} registered ({status})")
