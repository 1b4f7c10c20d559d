"""`ocppd ca init` and `ocppd ca show` as an operator runs them (click's runner, real files)."""

import stat
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from cryptography import x509

from ocppd.cli import main
from ocppd.cli.serve import settings_options, to_settings
from ocppd.csms.certificate_authority import CaFiles, fingerprint


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_init_then_show(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out = run("ca", "init", "--data-dir", data, "--server-name", "csms.example.com")
    assert code == 0, out
    files = CaFiles.of(tmp_path / "data")
    root = files.authority().certificate
    assert fingerprint(root) in out
    assert f"--tls-cert {files.server_rsa_cert} --tls-key {files.server_rsa_key}" in out
    assert f"--tls-ecdsa-cert {files.server_cert} --tls-ecdsa-key {files.server_key}" in out
    assert stat.S_IMODE(files.ca_key.stat().st_mode) == 0o600
    server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["csms.example.com"]

    code, out = run("ca", "show", "--data-dir", data)
    assert code == 0, out
    for name in ("ca.pem:", "server.pem:", "server-rsa.pem:", "firmware-signing.pem:"):
        assert name in out
    assert fingerprint(root) in out
    assert "EC secp256r1" in out and "RSA 3072" in out


def test_init_refuses_to_replace_a_ca_without_force(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert run("ca", "init", "--data-dir", data)[0] == 0
    before = (tmp_path / "data" / "ca" / "ca.pem").read_bytes()
    code, out = run("ca", "init", "--data-dir", data)
    assert code == 1
    assert "a CA exists" in out and "--force" in out
    assert (tmp_path / "data" / "ca" / "ca.pem").read_bytes() == before
    code, out = run("ca", "init", "--data-dir", data, "--force")
    assert code == 0, out
    assert (tmp_path / "data" / "ca" / "ca.pem").read_bytes() != before


def test_show_without_a_ca_says_so(tmp_path: Path) -> None:
    code, out = run("ca", "show", "--data-dir", str(tmp_path / "none"))
    assert code == 1
    assert "no CA in" in out


def test_a_bad_server_name_is_refused(tmp_path: Path) -> None:
    code, out = run("ca", "init", "--data-dir", str(tmp_path), "--server-name", "a b")
    assert code == 2
    assert "--server-name" in out
    assert not (tmp_path / "ca").exists()


def settings_from(*args: str) -> tuple[int, str]:
    """`serve`'s options given `args`: the settings they make, or the error."""

    @click.command()
    @settings_options
    def show(**values: object) -> None:
        settings = to_settings(values)
        click.echo(f"{settings.ca_cert} {settings.ca_key} {settings.certificate_signing}")

    result = CliRunner().invoke(show, list(args))
    return result.exit_code, result.output


def test_serve_takes_an_operators_ca_and_the_signing_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = CaFiles.of(tmp_path)
    files.initialize(datetime.now(UTC))
    code, out = settings_from("--ca-cert", str(files.ca_cert), "--ca-key", str(files.ca_key))
    assert code == 0, out
    assert out.split() == [str(files.ca_cert), str(files.ca_key), "manual"]
    monkeypatch.setenv("OCPPD_CERTIFICATE_SIGNING", "auto")
    code, out = settings_from()
    assert (code, out.split()) == (0, ["None", "None", "auto"])
    config = tmp_path / "ocppd.toml"
    config.write_text(
        f'[serve]\nca-cert = "{files.ca_cert}"\nca-key = "{files.ca_key}"\n'
        'certificate-signing = "manual"\n'
    )
    monkeypatch.delenv("OCPPD_CERTIFICATE_SIGNING")
    code, out = settings_from("--config", str(config))
    assert (code, out.split()) == (0, [str(files.ca_cert), str(files.ca_key), "manual"])


def test_serve_refuses_an_operators_ca_that_cannot_sign(tmp_path: Path) -> None:
    files = CaFiles.of(tmp_path)
    files.initialize(datetime.now(UTC))
    code, out = settings_from("--ca-cert", str(files.ca_cert))
    assert code == 2 and "--ca-cert and --ca-key go together" in out
    code, out = settings_from("--ca-cert", str(files.ca_cert), "--ca-key", str(files.server_key))
    assert code == 2 and "not the key of" in out
    code, out = settings_from(
        "--ca-cert", str(files.server_cert), "--ca-key", str(files.server_key)
    )
    assert code == 2 and "not a CA certificate" in out
    code, out = settings_from("--certificate-signing", "sometimes")
    assert code == 2
