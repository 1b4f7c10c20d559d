"""`ocppd serve`: the central system."""

import click


@click.command()
def serve() -> None:
    """Run the central system (arrives with the central system issue)."""
    click.echo("ocppd serve: the central system arrives in a later step; nothing to run yet.")
