"""`ocppd simulate`: virtual charge points."""

import click


@click.command()
def simulate() -> None:
    """Run simulated charge points (arrives with the simulator issue)."""
    click.echo("ocppd simulate: the simulator arrives in a later step; nothing to run yet.")
