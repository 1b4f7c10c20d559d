"""The `ocppd` command line: one module per command."""

import click

from ocppd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ocppd")
def main() -> None:
    """ocppd: an OCPP 1.6J central system and charge point simulator."""


def _register() -> None:
    from ocppd.cli.certificate_authority import certificate_authority, certificate_requests
    from ocppd.cli.charge_points import charge_point
    from ocppd.cli.files import diagnostics, firmware, logs
    from ocppd.cli.id_tags import id_tag, id_tags
    from ocppd.cli.operate import call, charge_points, transactions
    from ocppd.cli.security_events import security_events
    from ocppd.cli.serve import db, serve
    from ocppd.cli.simulate import simulate
    from ocppd.cli.tokens import token

    main.add_command(serve)
    main.add_command(db)
    main.add_command(charge_point)
    main.add_command(simulate)
    main.add_command(token)
    main.add_command(call)
    main.add_command(charge_points)
    main.add_command(transactions)
    main.add_command(id_tags)
    main.add_command(id_tag)
    main.add_command(diagnostics)
    main.add_command(firmware)
    main.add_command(logs)
    main.add_command(security_events)
    main.add_command(certificate_authority)
    main.add_command(certificate_requests)


_register()
