"""`ocppd ca init` and `ocppd ca show`: ocppd's certificate authority in `<data-dir>/ca/`
(`csms/certificate_authority.py`, decision 0007); `ocppd certificate-requests` (list,
approve, reject): chargers' certificate requests through a running ocppd's API."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ocppd.cli.api_client import ApiClient
from ocppd.cli.database_location import data_dir_option
from ocppd.cli.operate import api_options, ask, page_options, show_page
from ocppd.csms.certificate_authority import (
    DEFAULT_SERVER_NAMES,
    CaExists,
    CaFiles,
    fingerprint,
    serial_hex,
)

Command = Callable[..., None]
_DATA_DIR: Callable[[Command], Command] = data_dir_option("The CA is in its ca/ directory.")


@click.group("ca")
def certificate_authority() -> None:
    """ocppd's certificate authority: charger certificates, the server's, firmware signing."""


@certificate_authority.command()
@_DATA_DIR
@click.option(
    "--server-name",
    "server_names",
    multiple=True,
    help="A name (DNS or IP address) of the server certificate; repeat for several. "
    f"Default: {' and '.join(DEFAULT_SERVER_NAMES)}.",
)
@click.option(
    "--force", is_flag=True, help="Replace an existing CA (its certificates stop chaining)."
)
def init(data_dir: Path, server_names: tuple[str, ...], force: bool) -> None:
    """Create the CA (ca.pem, ca.key), server certificates for `serve` (server-rsa.pem/.key
    for --tls-cert/--tls-key, server.pem/.key (ECDSA) for --tls-ecdsa-cert/--tls-ecdsa-key)
    and a firmware-signing certificate."""
    files = CaFiles.of(data_dir.expanduser().absolute())
    for name in server_names:
        if not name or not name.isascii() or any(c.isspace() for c in name):
            raise click.BadParameter(
                f"{name!r} is not a DNS name or IP address", param_hint="--server-name"
            )
    try:
        authority = files.initialize(
            datetime.now(UTC), server_names or DEFAULT_SERVER_NAMES, force=force
        )
    except CaExists as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write the CA: {exc}") from None
    click.echo(f"CA created in {files.directory}")
    click.echo(f"root SHA-256 fingerprint {fingerprint(authority.certificate)}")
    click.echo(
        f"serve with: --tls-cert {files.server_rsa_cert} --tls-key {files.server_rsa_key} "
        f"--tls-ecdsa-cert {files.server_cert} --tls-ecdsa-key {files.server_key}"
    )


@certificate_authority.command()
@_DATA_DIR
def show(data_dir: Path) -> None:
    """Each certificate of the CA directory: subject, serial, validity, SHA-256 fingerprint."""
    files = CaFiles.of(data_dir.expanduser().absolute())
    if not files.ca_cert.exists():
        raise click.ClickException(f"no CA in {files.directory} (ocppd ca init makes one)")
    for path in (files.ca_cert, files.server_cert, files.server_rsa_cert, files.firmware_cert):
        if not path.exists():
            click.echo(f"{path.name}: missing")
            continue
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
        except ValueError as exc:
            click.echo(f"{path.name}: unreadable ({exc})")
            continue
        click.echo(f"{path.name}:")
        click.echo(f"  subject     {certificate.subject.rfc4514_string()}")
        click.echo(f"  key         {_key_text(certificate)}")
        click.echo(f"  serial      {serial_hex(certificate)}")
        click.echo(f"  not before  {certificate.not_valid_before_utc.isoformat()}")
        click.echo(f"  not after   {certificate.not_valid_after_utc.isoformat()}")
        click.echo(f"  SHA-256     {fingerprint(certificate)}")


def _key_text(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    return type(key).__name__


STATUSES = ["pending", "signed", "sent", "accepted", "refused", "rejected", "in-use"]


@click.group("certificate-requests", invoke_without_command=True)
@click.option("--charge-point", help="Only this charge point's.")
@click.option("--status", type=click.Choice(STATUSES), help="Only those in this status.")
@page_options
@api_options
@click.pass_context
def certificate_requests(
    ctx: click.Context,
    charge_point: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    url: str,
    token: str | None,
) -> None:
    """Chargers' certificate requests (SignCertificate), newest first; `approve` and `reject`
    one (admin token)."""
    if ctx.invoked_subcommand is not None:
        return
    page = ask(
        ApiClient(url, token),
        "GET",
        "/certificate-requests",
        chargePointId=charge_point,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    header = ["ID", "CHARGE POINT", "STATUS", "KEY", "SERIAL", "REQUESTED", "REASON"]
    show_page(page, as_json, header, _request_row)


def _request_row(item: dict[str, Any]) -> list[str]:
    key = f"{item['keyType']} {item['keyBits']}" if item["keyType"] else ""
    return [
        str(item["id"]),
        item["chargePointId"],
        item["status"],
        key,
        item["serialNumber"] or "",
        item["requestedAt"],
        item["reason"] or "",
    ]


@certificate_requests.command()
@click.argument("request_id", type=click.IntRange(1, 2**63 - 1))
@api_options
def approve(request_id: int, url: str, token: str | None) -> None:
    """Sign a pending request and send the chain (a signed one: send it again); exit 1 when
    it was not delivered (its reason is printed)."""
    answer = ask(ApiClient(url, token), "POST", f"/certificate-requests/{request_id}/approve")
    click.echo(json.dumps(answer, indent=2))
    if answer["status"] == "signed":
        click.echo(f"not delivered: {answer['reason']}", err=True)
        raise SystemExit(1)


@certificate_requests.command()
@click.argument("request_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--reason", help="Why (kept with the request).")
@api_options
def reject(request_id: int, reason: str | None, url: str, token: str | None) -> None:
    """Refuse a pending request."""
    body = {"reason": reason} if reason else {}
    answer = ask(ApiClient(url, token), "POST", f"/certificate-requests/{request_id}/reject", body)
    click.echo(json.dumps(answer, indent=2))
