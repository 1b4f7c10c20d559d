"""`ocppd simulate` against a real `ocppd serve`, both real processes on real sockets:
`--duration` stops it with the summary; the summary counts what went wrong for the chargers,
which `--strict` turns into exit status 1; progress lines on a non-terminal. Nothing here
depends on how fast the machine is: the tests wait for what the processes print."""

import asyncio
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest

from ocppd.cli.api_client import ApiClient
from tests.api.test_cli import ocppd
from tests.cli.test_serve import Served

pytestmark = pytest.mark.slow

PROGRESS = re.compile(
    r"^ocppd simulate: .* went wrong for the chargers: authorizations refused (\d+), "
    r"commands failed (\d+), callerrors received (\d+)$"
)


async def test_duration_stops_by_itself_and_prints_the_summary(tmp_path: Path) -> None:
    served = Served(tmp_path)
    try:
        url = f"ws://127.0.0.1:{served.port}/ocpp"
        run = ["simulate", "--url", url, "--id", "D1", "--duration", "1", "--strict"]
        code, out, err = await ocppd(*run)
        assert code == 0, err
        assert out.startswith("stations 1, ")
        assert (
            "went wrong for the chargers: authorizations refused 0, commands failed 0, "
            "callerrors received 0"
        ) in out
        code, _, err = await ocppd("simulate", "--url", url, "--duration", "0")
        assert code == 2 and "--duration" in err
    finally:
        served.process.terminate()
        await asyncio.to_thread(served.process.wait, 20)


async def test_strict_counts_what_went_wrong_for_the_chargers(tmp_path: Path) -> None:
    """An unknown tag (Authorize answered Invalid), an UpdateFirmware by SFTP (its handler
    refuses: NotSupported), timestamps without a zone (ocppd answers CALLERRORs)."""
    served = Served(tmp_path)
    data = ["--data-dir", str(tmp_path / "data")]
    try:
        code, token, err = await ocppd("token", "create", "--role", "operator", *data)
        assert code == 0, err
        env = {"OCPPD_URL": f"http://127.0.0.1:{served.port}", "OCPPD_TOKEN": token.strip()}
        simulator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocppd", "simulate", "--url",
            f"ws://127.0.0.1:{served.port}/ocpp", "--id", "S1", "--scenario", "charge-session",
            "--speed", "50", "--quirks", "timestamps_without_zone",
            "--progress-interval", "0.2", "--strict", "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert simulator.stderr is not None
        await _until_connected(ApiClient(env["OCPPD_URL"], env["OCPPD_TOKEN"]), "S1")
        sftp = '{"location": "sftp://example.com/fw.bin", "retrieveDate": "2026-01-01T00:00:00Z"}'
        code, _, err = await ocppd("call", "S1", "UpdateFirmware", sftp, env=env)
        assert code == 1 and "502" in err and "NotSupported" in err
        async with asyncio.timeout(60):
            while True:
                line = (await simulator.stderr.readline()).decode()
                assert line, "the simulator ended early"
                counted = PROGRESS.match(line.rstrip())
                if counted and all(int(n) > 0 for n in counted.groups()):
                    break
        simulator.send_signal(signal.SIGINT)
        out, rest = await asyncio.wait_for(simulator.communicate(), 60)
    finally:
        served.process.terminate()
        await asyncio.to_thread(served.process.wait, 20)
    assert simulator.returncode == 1, rest
    summary = json.loads(out)
    assert summary["refused"] == {
        "Authorize Invalid": summary["went_wrong"]["authorizations_refused"]
    }
    assert summary["failed"] == {"UpdateFirmware NotSupported": 1}
    callerrors = {k: n for k, n in summary["errors"].items() if k.startswith("CallError ")}
    assert sum(callerrors.values()) == summary["went_wrong"]["callerrors_received"] > 0
    assert all(k.startswith("CallError StatusNotification ") for k in callerrors)
    assert "Error: --strict: went wrong for the chargers: authorizations refused" in rest.decode()


async def test_strict_fails_when_the_central_system_cannot_be_reached(tmp_path: Path) -> None:
    """Nothing listens on the port: with --strict the run is a failure (the chargers never
    reached the central system), not a clean summary with exit 0."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{unused.getsockname()[1]}/ocpp"
        code, out, err = await ocppd("simulate", "--url", url, "--duration", "3", "--strict")
    assert code == 1, (out, err)
    assert "connect ConnectionRefusedError" in out
    assert "Error: --strict: went wrong for the chargers" in err
    assert "connections failed " in err


async def _until_connected(client: ApiClient, identity: str) -> None:
    async with asyncio.timeout(60):
        while True:
            answer = await asyncio.to_thread(client.send, "GET", f"/charge-points/{identity}")
            if answer.status == 200 and answer.body["connected"]:
                return
            await asyncio.sleep(0.1)
