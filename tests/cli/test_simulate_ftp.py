"""Issue 20 end to end, every part a real process on real sockets: `ocppd serve --ftp-port`,
`ocppd simulate --upload-method ftp` (an FTP-only charger), the operator's API. GetDiagnostics
over FTP ends Uploaded with the file downloadable from the API; UpdateFirmware over FTP ends
Installed. Nothing here depends on how fast the machine is: the tests wait for what the
processes report."""

import asyncio
import hashlib
import json
import signal
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ocppd.cli.api_client import ApiClient
from tests.api.test_cli import ocppd
from tests.cli.test_serve import Served
from tests.cli.test_simulate import _until_connected

pytestmark = pytest.mark.slow

IMAGE = b"\x7fELF firmware for FTP-only chargers 2.0\n" * 20_000


async def until(
    client: ApiClient, path: str, done: Callable[[Any], bool], what: str, seconds: float = 120
) -> Any:
    """GET `path` until `done(body)`; fails naming `what` and the last body."""
    body: Any = None
    try:
        async with asyncio.timeout(seconds):
            while True:
                body = await asyncio.to_thread(client.request, "GET", path)
                if done(body):
                    return body
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"not within {seconds} s: {what}; last {body}") from None


def upload_image(api_url: str, token: str, name: str, image: bytes) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{api_url}/api/v1/firmware?name={name}",
        data=image,
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return dict(json.loads(answer.read()))


async def test_an_ftp_only_simulator_uploads_diagnostics_and_installs_firmware(
    tmp_path: Path,
) -> None:
    served = Served(tmp_path, "--ftp-port", "0")
    simulator: asyncio.subprocess.Process | None = None
    log = tmp_path / "simulate.log"
    try:
        data = ["--data-dir", str(tmp_path / "data")]
        code, token, err = await ocppd("token", "create", "--role", "operator", *data)
        assert code == 0, err
        api_url = f"http://127.0.0.1:{served.port}"
        api = ApiClient(api_url, token.strip())
        with log.open("wb") as output:
            simulator = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ocppd", "simulate", "--url",
                f"ws://127.0.0.1:{served.port}/ocpp", "--id", "FTP1", "--upload-method", "ftp",
                "--speed", "10", "--progress-interval", "0",
                stdout=output, stderr=output,
            )  # fmt: skip
        await _until_connected(api, "FTP1")

        asked = await asyncio.to_thread(
            api.request, "POST", "/charge-points/FTP1/diagnostics", {"transport": "ftp"}
        )
        assert asked["transport"] == "ftp"
        path = f"/diagnostics/{asked['jobId']}"
        job = await until(api, path, lambda b: b["endedAt"] is not None, "diagnostics ended")
        assert job["status"] == "Uploaded", job
        assert [h["status"] for h in job["history"]] == ["Uploading", "Uploaded"]
        content = await asyncio.to_thread(api.download, f"{path}/file")
        assert b"identity: FTP1" in content
        assert job["file"]["sha256"] == hashlib.sha256(content).hexdigest()

        image = await asyncio.to_thread(
            upload_image, api_url, token.strip(), "ocppd-ftp-2.0.bin", IMAGE
        )
        asked = await asyncio.to_thread(
            api.request,
            "POST",
            "/charge-points/FTP1/firmware-updates",
            {"firmwareId": image["firmwareId"], "transport": "ftp"},
        )
        path = f"/firmware-updates/{asked['jobId']}"
        job = await until(api, path, lambda b: b["endedAt"] is not None, "firmware job ended")
        assert job["status"] == "Installed", job
        assert [h["status"] for h in job["history"]] == [
            "Downloading",
            "Downloaded",
            "Installing",
            "Installed",
        ]
        charger = await asyncio.to_thread(api.request, "GET", "/charge-points/FTP1")
        assert charger["boot"]["firmwareVersion"] == "ocppd-ftp-2.0"
    finally:
        if simulator is not None and simulator.returncode is None:
            simulator.send_signal(signal.SIGINT)
            await asyncio.wait_for(simulator.wait(), 60)
        served.process.terminate()
        await asyncio.to_thread(served.process.wait, 20)
    summary = log.read_text()
    assert "errors: none" in summary  # no attempt failed: each transfer went through first time
