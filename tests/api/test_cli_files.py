"""`ocppd diagnostics` and `ocppd firmware` against a running API, with ocppd's simulator as
the charger."""

import asyncio
import json
from pathlib import Path

from ocppd.api.tokens import Role
from tests.api.conftest import Api
from tests.api.test_cli import invoke
from tests.api.test_diagnostics import data_dir, simulator

__all__ = ["data_dir"]  # the autouse fixture: files under the test's temporary directory


async def test_diagnostics_and_firmware_from_the_command_line(api: Api, tmp_path: Path) -> None:
    image = tmp_path / "sim-2.0.bin"
    image.write_bytes(b"\x00firmware\xff" * 1000)
    saved = tmp_path / "diagnostics.log"
    async with simulator(api) as station:
        got = await asyncio.to_thread(
            invoke,
            api,
            Role.OPERATOR,
            "diagnostics",
            "SIM1",
            "--wait",
            "20",
            "--output",
            str(saved),
        )
        assert got.exit_code == 0, got.output
        assert json.loads(got.output)["status"] == "Uploaded"
        assert "identity: SIM1" in saved.read_text()

        up = await asyncio.to_thread(invoke, api, Role.OPERATOR, "firmware", "upload", str(image))
        assert up.exit_code == 0, up.output
        firmware = json.loads(up.output)
        assert (firmware["name"], firmware["size"]) == ("sim-2.0.bin", 10000)
        args = ["firmware", "update", "SIM1", str(firmware["firmwareId"]), "--wait", "20"]
        updated = await asyncio.to_thread(
            invoke, api, Role.OPERATOR, *args, "--retrieve-date", "2026-11-25T11:00:00Z"
        )
        assert updated.exit_code == 0, updated.output
        assert json.loads(updated.output)["status"] == "Installed"
        assert station.firmware_image == image.read_bytes()

    refused = await asyncio.to_thread(invoke, api, Role.VIEWER, "firmware", "upload", str(image))
    assert refused.exit_code == 1 and "403" in refused.output
    unknown = await asyncio.to_thread(invoke, api, Role.OPERATOR, "diagnostics", "NOPE")
    assert unknown.exit_code == 1 and "404" in unknown.output


async def test_uploading_the_same_file_twice_says_so_and_keeps_one(
    api: Api, tmp_path: Path
) -> None:
    image = tmp_path / "sim-2.0.bin"
    image.write_bytes(b"\x00firmware\xff" * 1000)
    first = await asyncio.to_thread(invoke, api, Role.OPERATOR, "firmware", "upload", str(image))
    assert first.exit_code == 0 and "already" not in first.output
    kept = json.loads(first.output)
    copy = tmp_path / "copy.bin"
    copy.write_bytes(image.read_bytes())
    again = await asyncio.to_thread(invoke, api, Role.OPERATOR, "firmware", "upload", str(copy))
    assert again.exit_code == 0, again.output
    notice, _, printed = again.output.partition("\n")
    assert notice == (
        f"already uploaded as firmware {kept['firmwareId']} ('sim-2.0.bin', same SHA-256): "
        "nothing new kept"
    )
    assert json.loads(printed) == kept
    listed = (await api.client(Role.VIEWER)("GET", "/firmware")).body["items"]
    assert [i["firmwareId"] for i in listed] == [kept["firmwareId"]]
