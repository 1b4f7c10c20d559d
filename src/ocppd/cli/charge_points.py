"""`ocppd charge-point add` registers a charge point in the database directly (before the
first `ocppd serve`, as `token create`). `list`, `show`, `change`, `security-upgrade` and
`remove` go through a running ocppd's HTTP API (admin token; `show` and `list` any,
`security-upgrade` an operator's), so that its live connections follow: a removed charge point
is disconnected, a changed status answers its next boot.
`add` is recorded in the audit log (role `cli`, the OS user) with its registration.
No command prints an AuthorizationKey: only whether one is set."""

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import click

from ocppd.cli.api_client import ApiClient, quote
from ocppd.cli.database_location import ExistingDatabase, existing_database
from ocppd.cli.operate import api_options, ask, page_options, show_page
from ocppd.cli.params import StoredText
from ocppd.protocol.enums import RegistrationStatus
from ocppd.protocol.leniency import Rule

POLL_SECONDS = 1.0


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
@click.option(
    "--security-profile",
    type=click.IntRange(0, 3),
    help="The lowest OCPP security profile its connections may use (0 none, 1 Basic auth, "
    "2 TLS + Basic auth, 3 TLS client certificate). Default: 0, or the one stored.",
)
@click.option(
    "--security-extension",
    is_flag=True,
    default=None,
    help="It takes the OCPP 1.6 security extension's commands (default: no, or as stored).",
)
@click.option(
    "--file-transport",
    type=click.Choice(["http", "ftp"]),
    help="How its diagnostics, logs and firmware travel unless a job says (ftp: ocppd's FTP "
    "server, --ftp-port). Default: http, or the one stored.",
)
@existing_database
def add(
    identity: str,
    status: str,
    auth_key: str | None,
    tolerate: tuple[str, ...],
    security_profile: int | None,
    security_extension: bool | None,
    file_transport: str | None,
    database: ExistingDatabase,
) -> None:
    """Register IDENTITY (or update its registration)."""
    from datetime import UTC, datetime

    from ocppd.csms import audit_log, registration, security_settings

    if not identity or len(identity) > 255:
        raise click.BadParameter("must be 1 to 255 characters", param_hint="IDENTITY")
    if "/" in identity:
        raise click.BadParameter(
            "must not contain '/' (the API could not address it)", param_hint="IDENTITY"
        )

    async def run() -> tuple[security_settings.SecuritySettings, bool]:
        async with database.engine() as engine, engine.begin() as connection:
            before = await security_settings.load(connection, identity)
            existing = await registration.load(connection, identity)
            had_key = existing is not None and existing.auth_key_hash is not None
            await registration.register(
                connection,
                identity,
                RegistrationStatus(status),
                auth_key,
                frozenset(Rule(r) for r in tolerate),
                file_transport,
            )
            await security_settings.store(
                connection,
                identity,
                before,
                security_profile,
                security_extension,
                datetime.now(UTC),
            )
            stored = await security_settings.load(connection, identity)
            assert stored is not None
            body = _registration(status, auth_key, tolerate, security_profile, security_extension)
            if file_transport is not None:
                body["fileTransport"] = file_transport
            await audit_log.record_command_line(
                connection,
                "charge-point add",
                "put_charge_point",
                {"path": {"chargePointId": identity}, "body": body},
                charge_point_id=identity,
            )
            return stored, had_key

    settings, had_key = asyncio.run(run())
    click.echo(
        f"charge point {identity} registered ({status}, security profile {settings.profile}, "
        f"security extension {'on' if settings.extension else 'off'})"
    )
    for warning in _lockout_warnings(identity, settings.profile, had_key, auth_key):
        click.echo(f"warning: {warning}", err=True)


def _lockout_warnings(
    identity: str, profile: int, had_key: bool, auth_key: str | None
) -> list[str]:
    """What `add` did that may keep the charger out: `add` replaces a registration (as the
    API's PUT), so a key not given is removed, and profiles 1 and 2 authenticate with it."""
    if auth_key:
        return []
    warnings = []
    if had_key:
        warnings.append(
            f"{identity}'s AuthorizationKey was removed: add replaces a registration (give "
            "--auth-key to keep one; `ocppd charge-point change` changes only what it is given)"
        )
    if profile in (1, 2):
        warnings.append(
            f"security profile {profile} authenticates with HTTP Basic auth and {identity} has "
            "no AuthorizationKey: it cannot connect until it has one (--auth-key)"
        )
    return warnings


def _registration(
    status: str,
    auth_key: str | None,
    tolerate: tuple[str, ...],
    security_profile: int | None,
    security_extension: bool | None,
) -> dict[str, Any]:
    """What `add` was asked, as the API's body says it (the key's value is redacted)."""
    body: dict[str, Any] = {"registrationStatus": status, "tolerate": list(tolerate)}
    if auth_key is not None:
        body["authorizationKey"] = auth_key
    if security_profile is not None:
        body["securityProfile"] = security_profile
    if security_extension is not None:
        body["securityExtension"] = security_extension
    return body


@charge_point.command("list")
@page_options
@api_options
def list_(limit: int, cursor: str | None, as_json: bool, url: str, token: str | None) -> None:
    """List registrations: status, Basic auth, tolerance rules, security profile and
    extension, connection."""
    page = ask(ApiClient(url, token), "GET", "/charge-points", limit=limit, cursor=cursor)
    show_page(
        page,
        as_json,
        [
            "ID",
            "REGISTRATION",
            "BASIC AUTH",
            "TOLERATE",
            "PROFILE",
            "SECEXT",
            "CONNECTION",
            "CREATED",
        ],
        lambda cp: [
            cp["chargePointId"],
            cp["registrationStatus"],
            "yes" if cp["basicAuth"] else "no",
            ",".join(cp["tolerate"]) or "-",
            str(cp["securityProfile"]),
            "yes" if cp["securityExtension"] else "no",
            "online" if cp["connected"] else "offline",
            cp["createdAt"],
        ],
    )


@charge_point.command()
@click.argument("identity")
@api_options
def show(identity: str, url: str, token: str | None) -> None:
    """Print all ocppd knows of IDENTITY (JSON): registration, boot, connectors."""
    found = ask(ApiClient(url, token), "GET", f"/charge-points/{quote(identity)}")
    click.echo(json.dumps(found, indent=2))


@charge_point.command()
@click.argument("identity")
@click.option(
    "--status",
    type=click.Choice([s.value for s in RegistrationStatus]),
    help="What its BootNotification is answered with (a connected one: its next).",
)
@click.option("--auth-key", help="A new AuthorizationKey (HTTP Basic password); stored hashed.")
@click.option("--no-auth-key", is_flag=True, help="Remove its key: no Basic auth.")
@click.option(
    "--tolerate",
    multiple=True,
    type=click.Choice([r.value for r in Rule]),
    help="The tolerance rules, replacing its own (repeatable).",
)
@click.option("--tolerate-none", is_flag=True, help="Remove all its tolerance rules.")
@click.option(
    "--security-profile",
    type=click.IntRange(0, 3),
    help="The lowest OCPP security profile its connections may use; a lower one than stored "
    "is a downgrade, recorded as a security event.",
)
@click.option(
    "--security-extension/--no-security-extension",
    default=None,
    help="Whether it is sent the OCPP 1.6 security extension's commands.",
)
@click.option(
    "--file-transport",
    type=click.Choice(["http", "ftp"]),
    help="How its diagnostics, logs and firmware travel unless a job says (ftp: ocppd's FTP "
    "server, --ftp-port).",
)
@api_options
def change(
    identity: str,
    status: str | None,
    auth_key: str | None,
    no_auth_key: bool,
    tolerate: tuple[str, ...],
    tolerate_none: bool,
    security_profile: int | None,
    security_extension: bool | None,
    file_transport: str | None,
    url: str,
    token: str | None,
) -> None:
    """Change what is given of IDENTITY's registration; print it."""
    if auth_key == "":
        raise click.BadParameter(
            "empty (use --no-auth-key to remove the key)", param_hint="--auth-key"
        )
    if auth_key is not None and no_auth_key:
        raise click.UsageError("--auth-key and --no-auth-key exclude each other")
    if tolerate and tolerate_none:
        raise click.UsageError("--tolerate and --tolerate-none exclude each other")
    change: dict[str, object] = {}
    if status is not None:
        change["registrationStatus"] = status
    if auth_key is not None or no_auth_key:
        change["authorizationKey"] = auth_key
    if tolerate or tolerate_none:
        change["tolerate"] = list(tolerate)
    if security_profile is not None:
        change["securityProfile"] = security_profile
    if security_extension is not None:
        change["securityExtension"] = security_extension
    if file_transport is not None:
        change["fileTransport"] = file_transport
    if not change:
        raise click.UsageError(
            "nothing to change: give --status, --auth-key, --no-auth-key, --tolerate, "
            "--tolerate-none, --security-profile, --[no-]security-extension or --file-transport"
        )
    changed = ask(ApiClient(url, token), "PATCH", f"/charge-points/{quote(identity)}", change)
    click.echo(json.dumps(changed, indent=2))


@charge_point.command("security-upgrade")
@click.argument("identity")
@click.option(
    "--profile",
    type=click.IntRange(2, 3),
    required=True,
    help="The security profile to raise it to (2 or 3).",
)
@click.option(
    "--root-certificate",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM: the root of ocppd's TLS server certificate, when it is not ocppd's own CA.",
)
@click.option(
    "--certificate-timeout",
    type=click.FloatRange(1, 86_400),
    help="Profile 3: seconds for its certificate to be signed and accepted (default 600).",
)
@click.option(
    "--reconnection-timeout",
    type=click.FloatRange(1, 3_600),
    help="Seconds for its connection on the new profile (default 300).",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Follow it to its end, each step on stderr as it goes; exit 1 if it failed.",
)
@api_options
def security_upgrade(
    identity: str,
    profile: int,
    root_certificate: Path | None,
    certificate_timeout: float | None,
    reconnection_timeout: float | None,
    wait: bool,
    url: str,
    token: str | None,
) -> None:
    """Raise IDENTITY's security profile step by step (the API's security upgrade): its root
    certificate, for 3 its own certificate, SecurityProfile, its reconnection."""
    body: dict[str, object] = {"profile": profile}
    if root_certificate is not None:
        try:
            body["rootCertificate"] = root_certificate.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise click.BadParameter(str(error), param_hint="--root-certificate") from None
    if certificate_timeout is not None:
        body["certificateTimeout"] = certificate_timeout
    if reconnection_timeout is not None:
        body["reconnectionTimeout"] = reconnection_timeout
    client = ApiClient(url, token)
    path = f"/charge-points/{quote(identity)}/security-upgrade"
    upgrade = ask(client, "POST", path, body)
    shown: set[tuple[str, str, str | None]] = set()
    while wait:
        for step in upgrade["steps"]:
            seen = (step["name"], step["status"], step["detail"])
            if step["status"] != "pending" and seen not in shown:
                shown.add(seen)
                detail = f": {step['detail']}" if step["detail"] else ""
                click.echo(f"{step['at']} {step['name']} {step['status']}{detail}", err=True)
        if upgrade["status"] != "running":
            break
        time.sleep(POLL_SECONDS)
        upgrade = ask(client, "GET", path)
    click.echo(json.dumps(upgrade, indent=2))
    if upgrade["status"] == "failed":
        raise click.ClickException(f"the security upgrade of {identity} failed")


@charge_point.command()
@click.argument("identity")
@click.option("--yes", is_flag=True, help="Do not ask first.")
@api_options
def remove(identity: str, yes: bool, url: str, token: str | None) -> None:
    """Forget IDENTITY (its transactions and message log stay); a connected one is
    disconnected."""
    if not yes and not _confirmed(f"Remove charge point {identity}?"):
        raise click.ClickException(f"{identity} not removed: answer y, or pass --yes")
    ask(ApiClient(url, token), "DELETE", f"/charge-points/{quote(identity)}")
    click.echo(f"removed charge point {identity}")


def _confirmed(question: str) -> bool:
    """The operator's yes; no where nobody answers (no terminal, input at its end)."""
    try:
        return click.confirm(question, err=True)
    except click.Abort:
        click.echo(err=True)
        return False
