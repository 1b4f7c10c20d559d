"""No command silently works on the wrong database: `ocppd serve` and the commands that write
to the database themselves find the same one from any directory (one absolute data dir per
user), and those commands never create a database unless told to (`--create`)."""

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ocppd.cli import main
from ocppd.csms.settings import default_data_dir
from tests.cli.test_serve import Served
from tests.databases import empty_postgres_database

__all__ = ["empty_postgres_database"]  # a fixture

ADMIN_COMMANDS = [
    ["token", "create", "--role", "operator"],
    ["charge-point", "add", "CP9"],
    ["db", "upgrade"],
]
"""Every command that opens the database itself rather than asking a running server."""


def ocppd(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocppd", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def me(port: int, token: str) -> int:
    """The status of GET /api/v1/me with `token`."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def user(tmp_path: Path) -> dict[str, str]:
    """The environment of a user whose home is in `tmp_path`, with no data dir chosen."""
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME", "OCPPD_DATA_DIR")}
    env["HOME"] = str(tmp_path / "home")
    return env


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory other than the server's."""
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "elsewhere"


@pytest.mark.slow
def test_commands_from_another_directory_use_the_servers_database(
    tmp_path: Path, user: dict[str, str], elsewhere: Path
) -> None:
    (tmp_path / "server").mkdir()
    served = Served(None, env=user, cwd=tmp_path / "server")
    try:
        created = ocppd("token", "create", "--role", "operator", env=user, cwd=elsewhere)
        assert created.returncode == 0, created.stderr
        assert me(served.port, created.stdout.strip()) == 200
        added = ocppd("charge-point", "add", "CP9", env=user, cwd=elsewhere)
        assert added.returncode == 0, added.stderr
    finally:
        served.stop()
    assert (tmp_path / "home/.local/share/ocppd/ocppd.db").is_file()
    assert list(elsewhere.iterdir()) == [] and list((tmp_path / "server").iterdir()) == []


@pytest.mark.slow
def test_a_command_refuses_to_create_a_database_unless_told(
    tmp_path: Path, user: dict[str, str], elsewhere: Path
) -> None:
    served = Served(None, env=user, cwd=tmp_path)
    try:
        # Relative to the working directory, absolute, from the environment: all named in full.
        for command, chosen in [
            *((command, ["--data-dir", "data"]) for command in ADMIN_COMMANDS),
            (ADMIN_COMMANDS[0], ["--data-dir", str(elsewhere / "data")]),
            (ADMIN_COMMANDS[0], []),
        ]:
            env = {**user, "OCPPD_DATA_DIR": "data"} if not chosen else user
            refused = ocppd(*command, *chosen, env=env, cwd=elsewhere)
            assert refused.returncode == 1, (command, refused.stderr)
            assert refused.stdout == ""
            assert f"no database at {elsewhere / 'data' / 'ocppd.db'}" in refused.stderr
            assert "--create" in refused.stderr and "--data-dir" in refused.stderr
        assert list(elsewhere.iterdir()) == []
        created = ocppd(
            "token", "create", "--role", "operator", "--data-dir", "data", "--create",
            env=user, cwd=elsewhere,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        where = elsewhere / "data" / "ocppd.db"
        assert f"created a new database at sqlite:///{where}" in created.stderr
        # A token of another database is one the server does not know.
        assert me(served.port, created.stdout.strip()) == 401
        again = ocppd("charge-point", "add", "CP9", "--data-dir", "data", env=user, cwd=elsewhere)
        assert again.returncode == 0 and "created" not in again.stderr
    finally:
        served.stop()


def test_a_sqlite_file_without_ocppd_tables_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "ocppd.db"
    sqlite3.connect(other).close()  # an empty database file
    env = dict(os.environ)
    refused = ocppd("token", "create", "--role", "viewer", "--data-dir", ".", env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert f"sqlite:///{other} holds no ocppd database" in refused.stderr
    assert other.stat().st_size == 0  # not even SQLite's WAL mode was set in it


@pytest.mark.slow
async def test_an_empty_postgresql_database_is_refused(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    env = {**os.environ, "OCPPD_DATABASE": empty_postgres_database}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return ocppd("charge-point", "add", "CP1", *args, env=env, cwd=tmp_path)

    refused = await asyncio.to_thread(run)
    assert refused.returncode == 1, refused.stderr
    assert f"{empty_postgres_database} holds no ocppd database" in refused.stderr
    created = await asyncio.to_thread(run, "--create")
    assert created.returncode == 0 and "created a new database" in created.stderr
    again = await asyncio.to_thread(run)
    assert again.returncode == 0 and "created" not in again.stderr


@pytest.fixture
def no_xdg(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    yield monkeypatch


def test_the_default_data_dir_is_absolute_and_per_user(
    tmp_path: Path, no_xdg: pytest.MonkeyPatch
) -> None:
    no_xdg.setenv("HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / ".local/share/ocppd"
    no_xdg.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg/ocppd"
    no_xdg.setenv("XDG_DATA_HOME", "relative")  # not absolute: ignored, as XDG says
    assert default_data_dir() == tmp_path / ".local/share/ocppd"


@pytest.mark.slow
def test_config_gives_the_commands_the_servers_database(
    tmp_path: Path, user: dict[str, str], elsewhere: Path
) -> None:
    """`--config` of the commands reads the database of `ocppd serve --config` (the other
    settings of the file are serve's, not an error); a flag or OCPPD_* variable still wins."""
    config = tmp_path / "ocppd.toml"
    config.write_text(f'[serve]\ndata-dir = "{tmp_path / "srv"}"\nheartbeat-interval = 60\n')
    served = Served(None, "--config", str(config), env=user, cwd=tmp_path)
    try:
        created = ocppd(
            "token", "create", "--role", "viewer", "--config", str(config), env=user, cwd=elsewhere
        )
        assert created.returncode == 0, created.stderr
        assert me(served.port, created.stdout.strip()) == 200
        overridden = ocppd(
            "charge-point", "add", "CP9", "--config", str(config),
            env={**user, "OCPPD_DATA_DIR": "data"}, cwd=elsewhere,
        )  # fmt: skip
        assert overridden.returncode == 1
        assert f"no database at {elsewhere / 'data' / 'ocppd.db'}" in overridden.stderr
    finally:
        served.stop()
    config.write_text('[serve]\ndata_dir = "/a"\nwrong = 1\n')
    refused = ocppd("token", "list", "--config", str(config), env=user, cwd=elsewhere)
    assert refused.returncode == 2 and "unknown setting 'wrong'" in refused.stderr


@pytest.mark.parametrize("command", ADMIN_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_database_that_cannot_be_reached_is_one_line_not_a_traceback(
    command: list[str],
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+asyncpg://ocppd:secret@127.0.0.1:{port}/ocppd"
    result = CliRunner().invoke(main, [*command, "--database", url])
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: cannot open the database postgresql+asyncpg://ocppd:***@127.0.0.1:{port}/ocppd: "
        f"[Errno 111] Connect call failed ('127.0.0.1', {port})\n"
    )
