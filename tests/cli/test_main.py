import subprocess
import sys

from click.testing import CliRunner

from ocppd.cli import main


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output
    assert "simulate" in result.output


def test_python_dash_m_runs_the_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ocppd", "--version"], capture_output=True, text=True, check=True
    )
    assert completed.stdout.startswith("ocppd, version")
