"""The commands that write the database themselves record what they did in the audit log, as
the OS user (role `cli`), readable through a running ocppd's API; no secret in it."""

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_cli import ocppd
from tests.cli.test_serve import Served

pytestmark = pytest.mark.slow


def audit_log(port: int, token: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/audit-log")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        items: list[dict[str, Any]] = json.load(answer)["items"]
        return items


async def test_token_and_charge_point_commands_are_recorded_as_the_os_user(
    tmp_path: Path,
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    as_user = {"USER": "night-shift", "LOGNAME": "night-shift"}
    code, admin, err = await ocppd(
        "token", "create", "--role", "admin", "--name", "ops", "--create", *data, env=as_user
    )
    assert code == 0, err
    code, viewer, err = await ocppd("token", "create", "--role", "viewer", *data, env=as_user)
    assert code == 0, err
    code, _, err = await ocppd("token", "revoke", "2", *data, env=as_user)
    assert code == 0, err
    code, _, err = await ocppd("token", "revoke", "99", *data, env=as_user)
    assert code == 1
    key = "Auth0rizationKey-for-CP1"
    code, _, err = await ocppd(
        "charge-point",
        "add",
        "CP1",
        "--auth-key",
        key,
        "--tolerate",
        "timestamps_without_zone",
        *data,
        env=as_user,
    )
    assert code == 0, err
    served = Served(tmp_path)
    try:
        entries = await asyncio.to_thread(audit_log, served.port, admin.strip())
    finally:
        served.process.terminate()
        await asyncio.to_thread(served.process.wait, 20)
    entries.reverse()  # oldest first
    for entry in entries:
        assert (entry["tokenId"], entry["actor"], entry["role"], entry["method"]) == (
            None,
            "night-shift",
            "cli",
            "CLI",
        )
        assert entry["status"] is None
    assert [(e["route"], e["operation"], e["outcome"], e["result"]) for e in entries] == [
        ("ocppd token create", "create_token", "succeeded", None),
        ("ocppd token create", "create_token", "succeeded", None),
        ("ocppd token revoke", "revoke_token", "succeeded", None),
        ("ocppd token revoke", "revoke_token", "refused", "no token 99"),
        ("ocppd charge-point add", "put_charge_point", "succeeded", None),
    ]
    assert entries[0]["request"] == {"body": {"role": "admin", "name": "ops"}}
    assert [e["response"] for e in entries[:2]] == [{"id": 1}, {"id": 2}]
    assert entries[2]["request"] == {"path": {"tokenId": 2}}
    assert entries[4]["chargePointId"] == "CP1"
    assert entries[4]["request"]["body"] == {
        "registrationStatus": "Accepted",
        "tolerate": ["timestamps_without_zone"],
        "authorizationKey": "<redacted>",
    }
    shown = json.dumps(entries)
    for secret in (admin.strip(), viewer.strip(), key):
        assert secret not in shown
