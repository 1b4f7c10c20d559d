"""`ocppd logs`, `ocppd firmware update --signed`, `ocppd security-events` and `ocppd call`
with the security extension's actions, against a running API and a charger on a real socket
that plays its part of each flow."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocppd.api.tokens import Role
from ocppd.csms import certificate_authority as ca
from tests.api.conftest import Api, FakeChargePoint, charge_point
from tests.api.test_cli import invoke
from tests.api.test_cli_files import statuses_shown
from tests.api.test_commands import HASH_DATA, with_security_extension
from tests.api.test_diagnostics import data_dir, http
from tests.eventually import eventually

__all__ = ["data_dir"]  # the autouse fixture: files under the test's temporary directory

LOG = b"2026-11-25T12:00:00Z InvalidMessages\n" * 50


async def request_of(cp: FakeChargePoint, action: str, seen: int = 0) -> dict[str, Any]:
    """The payload of the next `action` call after the first `seen` of them."""

    def calls() -> list[dict[str, Any]]:
        return [p for a, p in cp.received if a == action]

    await eventually(lambda: len(calls()) > seen, f"a {action} call")
    return calls()[seen]


async def upload_log(cp: FakeChargePoint) -> None:
    """The charger's side of GetLog: Uploading, the upload, Uploaded."""
    request = await request_of(cp, "GetLog")
    request_id = request["requestId"]
    await cp.ask("LogStatusNotification", {"status": "Uploading", "requestId": request_id})
    status, _ = await http("PUT", request["log"]["remoteLocation"] + "security.log", LOG)
    assert status == 201
    await cp.ask("LogStatusNotification", {"status": "Uploaded", "requestId": request_id})


async def install(cp: FakeChargePoint, statuses: list[str], seen: int = 0) -> dict[str, Any]:
    """The charger's side of SignedUpdateFirmware: `statuses`, by requestId."""
    request = await request_of(cp, "SignedUpdateFirmware", seen)
    for status in statuses:
        notification = {"status": status, "requestId": request["requestId"]}
        await cp.ask("SignedFirmwareStatusNotification", notification)
    return request


async def test_logs_from_the_command_line(api: Api, tmp_path: Path) -> None:
    saved = tmp_path / "security.log"
    await with_security_extension(api)
    async with charge_point(api) as cp:
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "security.log"}
        charger = asyncio.create_task(upload_log(cp))
        args = ["logs", "CP1", "--type", "security", "--wait", "60", "--output", str(saved)]
        got = await asyncio.to_thread(invoke, api, Role.OPERATOR, *args)
        await charger
    assert got.exit_code == 0, got.output
    job = json.loads(got.stdout)
    assert (job["status"], job["logType"]) == ("Uploaded", "SecurityLog")
    assert statuses_shown(got.stderr) == ["Requested", "Uploading", "Uploaded"]
    assert saved.read_bytes() == LOG
    assert cp.received[0][1]["logType"] == "SecurityLog"

    bad = await asyncio.to_thread(invoke, api, Role.OPERATOR, "logs", "CP1", "--type", "audit")
    assert bad.exit_code == 2 and "audit" in bad.output
    offline = await asyncio.to_thread(invoke, api, Role.OPERATOR, "logs", "CP1")
    assert offline.exit_code == 1 and "409" in offline.output


async def test_signed_firmware_from_the_command_line(
    api: Api, tmp_path: Path, data_dir: Path
) -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    ca.CaFiles.of(data_dir).initialize(now)
    image = tmp_path / "station-3.1.bin"
    image.write_bytes(b"\x00image\xff" * 500)
    up = await asyncio.to_thread(invoke, api, Role.OPERATOR, "firmware", "upload", str(image))
    firmware_id = str(json.loads(up.output)["firmwareId"])
    await with_security_extension(api)
    async with charge_point(api) as cp:
        cp.replies["SignedUpdateFirmware"] = {"status": "Accepted"}
        steps = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]
        charger = asyncio.create_task(install(cp, steps))
        args = ["firmware", "update", "CP1", firmware_id, "--signed", "--wait", "60"]
        got = await asyncio.to_thread(invoke, api, Role.OPERATOR, *args)
        sent = await charger
        assert got.exit_code == 0, got.output
        assert json.loads(got.stdout)["signedBy"] == "ocppd"
        assert statuses_shown(got.stderr) == ["Requested", *steps]
        firmware = sent["firmware"]
        assert ca.verify_firmware_signature(
            image.read_bytes(), firmware["signature"], firmware["signingCertificate"]
        )

        # The operator's own signature, from files; the charger finds it invalid: exit 1.
        vendor = ca.create_authority(now, "Vendor firmware")
        signature = ca.sign_firmware(image.read_bytes(), vendor.key, vendor.certificate)
        (tmp_path / "fw.sig").write_text(signature.signature + "\n")
        (tmp_path / "fw.pem").write_text(signature.signing_certificate)
        charger = asyncio.create_task(install(cp, ["Downloaded", "InvalidSignature"], seen=1))
        args = [
            *args,
            "--signature",
            str(tmp_path / "fw.sig"),
            "--signing-certificate",
            str(tmp_path / "fw.pem"),
        ]
        failed = await asyncio.to_thread(invoke, api, Role.OPERATOR, *args)
        sent = await charger
        assert failed.exit_code == 1, failed.output
        assert "ended InvalidSignature" in failed.output
        assert sent["firmware"]["signature"] == signature.signature

    unsigned = ["firmware", "update", "CP1", firmware_id, "--signature", str(tmp_path / "fw.sig")]
    usage = await asyncio.to_thread(invoke, api, Role.OPERATOR, *unsigned)
    assert usage.exit_code == 2 and "--signed" in usage.output


async def test_security_commands_and_events_from_the_command_line(api: Api) -> None:
    await with_security_extension(api)
    async with charge_point(api) as cp:
        cp.replies["GetInstalledCertificateIds"] = {
            "status": "Accepted",
            "certificateHashData": [HASH_DATA],
        }
        asked = await asyncio.to_thread(
            invoke,
            api,
            Role.OPERATOR,
            "call",
            "CP1",
            "GetInstalledCertificateIds",
            '{"certificateType": "CentralSystemRootCertificate"}',
        )
        assert asked.exit_code == 0, asked.output
        assert json.loads(asked.output)["certificateHashData"] == [HASH_DATA]
        for payload in [
            {"type": "ResetOrReboot", "timestamp": "2026-11-25T10:00:00Z", "techInfo": "watchdog"},
            {"type": "InvalidMessages", "timestamp": "2026-11-25T10:01:00Z"},
        ]:
            assert await cp.ask("SecurityEventNotification", payload) == {}
    listed = await asyncio.to_thread(invoke, api, Role.VIEWER, "security-events")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["TIMESTAMP", "CHARGE", "POINT", "TYPE", "SOURCE", "TECH", "INFO"]
    assert lines[1].split() == ["2026-11-25T10:01:00Z", "CP1", "InvalidMessages", "charger"]
    assert lines[2].split() == [
        "!", "2026-11-25T10:00:00Z", "CP1", "ResetOrReboot", "charger", "watchdog",
    ]  # fmt: skip
    critical = await asyncio.to_thread(
        invoke, api, Role.VIEWER, "security-events", "--critical", "--json"
    )
    assert [e["type"] for e in json.loads(critical.output)["items"]] == ["ResetOrReboot"]
