"""`ocppd token create|list|revoke` as an operator runs them: real processes on the database
of a real `ocppd serve`, the tokens tried over real HTTP. No secret is printed but at creation."""

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ocppd.api.auth import CHECKED_FOR
from tests.api.test_cli import ocppd
from tests.cli.test_serve import Served

pytestmark = pytest.mark.slow


def status_with(port: int, token: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/me")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        with error:
            return error.code


async def test_list_shows_no_secret_and_revoke_locks_the_token_out(tmp_path: Path) -> None:
    served = Served(tmp_path)
    data = ["--data-dir", str(tmp_path / "data")]
    try:
        secrets = {}
        for role, name in [("admin", "ops laptop"), ("viewer", "wallboard")]:
            code, out, err = await ocppd("token", "create", "--role", role, "--name", name, *data)
            assert code == 0, err
            secrets[name] = out.strip()
        code, listed, err = await ocppd("token", "list", *data)
        assert code == 0, err
        rows = [line.split("  ") for line in listed.splitlines()]
        assert [[cell.strip() for cell in row if cell][:3] for row in rows] == [
            ["ID", "NAME", "ROLE"],
            ["1", "ops laptop", "admin"],
            ["2", "wallboard", "viewer"],
        ]
        code, as_json, _ = await ocppd("token", "list", "--json", *data)
        items = json.loads(as_json)["items"]
        assert [(t["id"], t["name"], t["role"]) for t in items] == [
            (1, "ops laptop", "admin"),
            (2, "wallboard", "viewer"),
        ]
        assert set(items[0]) == {"id", "name", "role", "createdAt"}
        for secret in secrets.values():
            assert secret not in listed and secret not in as_json

        assert await asyncio.to_thread(status_with, served.port, secrets["wallboard"]) == 200
        code, out, err = await ocppd("token", "revoke", "1", *data)
        assert (code, out) == (0, "revoked token 1\n"), err
        # Not used before: nothing remembered its role, refused at once.
        assert await asyncio.to_thread(status_with, served.port, secrets["ops laptop"]) == 401
        code, out, err = await ocppd("token", "revoke", "1", *data)
        assert code == 1 and "no token 1 (see `ocppd token list`)" in err
        code, _, err = await ocppd("token", "revoke", "x", *data)
        assert code == 2 and "'x' is not a valid integer" in err
        code, listed, _ = await ocppd("token", "list", *data)
        assert [line.split()[0] for line in listed.splitlines()] == ["ID", "2"]
    finally:
        served.process.terminate()
        await asyncio.to_thread(served.process.wait, 20)


async def test_list_and_revoke_never_create_a_database(tmp_path: Path) -> None:
    nowhere = ["--data-dir", str(tmp_path / "none")]
    for args in (["list"], ["revoke", "1"]):
        code, _, err = await ocppd("token", *args, *nowhere)
        assert code == 1 and "no database at" in err, err
    assert not (tmp_path / "none").exists()


async def test_a_token_in_use_revoked_by_the_cli_is_refused_within_a_second(
    tmp_path: Path,
) -> None:
    """The server remembers the roles of tokens in use; a revoke by another process (the CLI,
    on the database directly) is seen at its next check, at most CHECKED_FOR later."""
    served = Served(tmp_path)
    data = ["--data-dir", str(tmp_path / "data")]
    try:
        code, secret, err = await ocppd("token", "create", "--role", "viewer", *data)
        assert code == 0, err
        for _ in range(3):  # in use: remembered
            assert await asyncio.to_thread(status_with, served.port, secret.strip()) == 200
        last_use = time.monotonic()
        code, out, err = await ocppd("token", "revoke", "1", *data)
        assert (code, out) == (0, "revoked token 1\n"), err
        # The server last checked the tokens before it answered the last use; its next check
        # is due CHECKED_FOR after that (one clock: CLOCK_MONOTONIC is the machine's).
        await asyncio.sleep(max(0.0, last_use + CHECKED_FOR + 0.05 - time.monotonic()))
        assert await asyncio.to_thread(status_with, served.port, secret.strip()) == 401
    finally:
        served.process.terminate()
        await asyncio.to_thread(served.process.wait, 20)
