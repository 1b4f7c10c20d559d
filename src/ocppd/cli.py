"""The `ocppd` command line."""

import click

from ocppd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ocppd")
def main() -> None:
    """ocppd: an OCPP 1.6J central system and charge point simulator."""


@main.command()
def serve() -> None:
    """Run the central system (arrives with the central system issue)."""
    click.echo("ocppd serve: the central system arrives in a later step; nothing to run yet.")
