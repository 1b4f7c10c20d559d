"""`ocppd diagnostics` and `ocppd firmware` against a running API, with ocppd's simulator as
the charger."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from ocppd.api.tokens import Role
from tests.api.conftest import Api
from tests.api.test_cli import invoke
from tests.api.test_diagnostics import data_dir, simulator
from tests.api.test_firmware import IMAGE, upload

__all__ = ["data_dir"]  # the autouse fixture: files under the test's temporary directory


def statuses_shown(stderr: str) -> list[str]:
    """The statuses `--wait` printed, in order (lines `job <id>: <time>  <status>`)."""
    return [line.split("  ")[-1] for line in stderr.splitlines() if "  " in line]


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
        assert json.loads(got.stdout)["status"] == "Uploaded"
        assert statuses_shown(got.stderr) == ["Requested", "Uploading", "Uploaded"]
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
        assert json.loads(updated.stdout)["status"] == "Installed"
        assert statuses_shown(updated.stderr) == [
            "Requested", "Downloading", "Downloaded", "Installing", "Installed",
        ]  # fmt: skip
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


async def test_a_wait_that_runs_out_says_where_the_job_stands(api: Api) -> None:
    _, image = await upload(api, IMAGE)
    async with simulator(api):
        result = await asyncio.to_thread(
            invoke, api, Role.OPERATOR, "firmware", "update", "SIM1", str(image["firmwareId"]),
            "--retrieve-date", "2099-01-01T00:00:00Z", "--wait", "0.5",
        )  # fmt: skip
    job = json.loads(result.stdout)
    assert (result.exit_code, job["status"], job["endedAt"]) == (3, "Requested", None)
    assert f"--wait ran out after 0.5 s: job {job['jobId']} is Requested" in result.stderr


async def test_wait_shows_each_status_and_that_installation_waits_for_a_transaction(
    api: Api,
) -> None:
    """A real `ocppd firmware update --wait` process against a simulator charging: it says
    the charger waits for the transaction, and follows the job to Installed once it ends."""
    operator = api.client(Role.OPERATOR)
    assert (await operator("PUT", "/id-tags/TAG1", {"status": "Accepted"})).status in (200, 201)
    _, image = await upload(api, IMAGE)
    async with simulator(api) as station:
        await station.plug_in(1)
        transaction = await station.start_transaction(1, "TAG1")
        assert transaction is not None and transaction.transaction_id is not None
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocppd", "firmware", "update", "SIM1",
            str(image["firmwareId"]), "--wait", "600",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "OCPPD_URL": api.url, "OCPPD_TOKEN": api.tokens[Role.OPERATOR]},
        )  # fmt: skip
        assert process.stderr is not None
        shown: list[str] = []
        waits = f"installation waits for transaction {transaction.transaction_id} to end"
        async with asyncio.timeout(60):
            while not shown or not shown[-1].endswith(waits):
                line = await process.stderr.readline()
                assert line, f"ended without saying it waits: {shown}"
                shown.append(line.decode().rstrip())
        assert statuses_shown("\n".join(shown[:-1])) == ["Requested", "Downloading", "Downloaded"]
        assert process.returncode is None, "still waiting while the transaction runs"
        await station.stop_transaction(1)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err
    assert json.loads(out)["status"] == "Installed"
    assert statuses_shown(err.decode()) == ["Installing", "Installed"]
