"""What an operator installs from the repository: the LICENSE, the example configuration
(examples/ocppd.toml) and the systemd unit (examples/ocppd.service). The configuration names
every setting `ocppd serve` has and loads; the unit's ExecStart is the command the README
documents, and it runs with that configuration."""

import hashlib
import re
import shlex
import signal
import sys
import tomllib
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ocppd.cli.serve import serve, settings_options, to_settings
from ocppd.csms.certificate_authority import CaFiles
from tests.certificates import TestCa
from tests.cli.test_serve import Served

ROOT = Path(__file__).parent.parent
CONFIG = ROOT / "examples" / "ocppd.toml"
UNIT = ROOT / "examples" / "ocppd.service"
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
"""Of https://www.apache.org/licenses/LICENSE-2.0.txt (Debian's common-licenses/Apache-2.0)."""

TLS_SETTINGS = ("cert", "key", "ecdsa-cert", "ecdsa-key", "port", "client-ca")
COMMENTED = re.compile(r"^# ([a-z][a-z-]*) = ", re.MULTILINE)
"""A setting shown but not set (`# tls-cert = "..."`)."""


def test_the_license_is_the_full_apache_2_text_pyproject_names() -> None:
    with (ROOT / "pyproject.toml").open("rb") as file:
        assert tomllib.load(file)["project"]["license"] == {"text": "Apache-2.0"}
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256


def serve_settings() -> set[str]:
    """Every setting of `ocppd serve`, spelled as its flag."""
    return {
        p.name.replace("_", "-")
        for p in serve.params
        if isinstance(p, click.Option) and p.expose_value and p.name
    }


def loaded(config: Path) -> click.testing.Result:
    """`serve`'s options given `--config config`: the settings they make, or the error."""

    @click.command()
    @settings_options
    def show(**values: object) -> None:
        click.echo(repr(to_settings(values)))

    return CliRunner().invoke(show, ["--config", str(config)])


def test_the_example_config_names_every_setting_and_loads(tmp_path: Path) -> None:
    text = CONFIG.read_text()
    active = set(tomllib.loads(text)["serve"])
    commented = set(COMMENTED.findall(text))
    assert not active & commented, "a setting both set and shown commented"
    assert active | commented == serve_settings()
    # They need files (or TLS files), or turn a server on: set them by hand.
    assert commented == {f"tls-{name}" for name in TLS_SETTINGS} | {"ca-cert", "ca-key", "ftp-port"}
    result = loaded(CONFIG)
    assert result.exit_code == 0, result.output
    assert "data_dir=PosixPath('/var/lib/ocppd')" in result.output
    # Uncommented, with files where it names some, it loads just as well.
    ca = TestCa(tmp_path / "pki")
    rsa, ecdsa = ca.server("rsa"), ca.server("ecdsa")
    cert, key = rsa.cert, rsa.key
    uncommented = COMMENTED.sub(lambda m: f"{m[1]} = ", text)
    authority = CaFiles.of(tmp_path / "ocppd")
    authority.initialize(datetime.now(UTC))
    for example, real in [
        ("/etc/ocppd/cert.pem", cert),
        ("/etc/ocppd/key.pem", key),
        ("/etc/ocppd/cert-ecdsa.pem", ecdsa.cert),
        ("/etc/ocppd/key-ecdsa.pem", ecdsa.key),
        ("/etc/ocppd/charger-ca.pem", ca.cert),
        ("/etc/ocppd/ca.pem", authority.ca_cert),
        ("/etc/ocppd/ca.key", authority.ca_key),
    ]:
        uncommented = uncommented.replace(example, str(real))
    (tmp_path / "all.toml").write_text(uncommented)
    result = loaded(tmp_path / "all.toml")
    assert result.exit_code == 0, result.output
    assert f"tls_cert=PosixPath('{cert}')" in result.output


def exec_start() -> str:
    (line,) = re.findall(r"^ExecStart=(.+)$", UNIT.read_text(), re.MULTILINE)
    return line


def test_the_units_command_is_the_documented_one() -> None:
    command = exec_start()
    assert shlex.split(command)[1:] == ["serve", "--config", "/etc/ocppd/ocppd.toml"]
    readme = (ROOT / "README.md").read_text()
    assert command in readme.splitlines(), "the README does not show the unit's command"
    assert "examples/ocppd.service" in readme and "examples/ocppd.toml" in readme


@pytest.mark.slow
def test_the_units_command_runs_with_the_example_config(tmp_path: Path) -> None:
    """As systemd would run it, with ocppd where this checkout has it and the example config
    where the unit expects it; the environment moves its data dir and port only."""
    argv = shlex.split(exec_start())
    argv[0] = str(Path(sys.executable).parent / "ocppd")
    argv[argv.index("/etc/ocppd/ocppd.toml")] = str(CONFIG)
    env = {"OCPPD_DATA_DIR": str(tmp_path / "state"), "OCPPD_PORT": "0", "PATH": "/usr/bin"}
    served = Served(None, env=env, command=argv)
    try:
        url = f"http://127.0.0.1:{served.port}/readyz"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
        served.process.send_signal(signal.SIGTERM)  # KillSignal=
        assert served.process.wait(timeout=30) == 0  # TimeoutStopSec=
    finally:
        served.stop()
    assert f"database sqlite:///{tmp_path / 'state' / 'ocppd.db'}" in served.output()
