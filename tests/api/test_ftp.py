"""Diagnostics and firmware over ocppd's FTP server (issue 20), driven by real FTP clients:
Debian's curl for what a charger does, Python's ftplib and raw sockets for what a hostile
client does. The locations come from the API, as a charger gets them."""

import asyncio
import ftplib
import hashlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.api.tokens import Role
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.settings import Settings
from tests.api.conftest import Api, FakeChargePoint, api_app, charge_point, issue_tokens
from tests.api.test_diagnostics import files_under, http, until
from tests.csms.conftest import FixedClock
from tests.eventually import eventually
from tests.servers import serving

IMAGE = b"\x7fELF firmware over ftp 3.1\n" * 4000
LIMIT = 1024 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(ftp_port=0, data_dir=tmp_path / "data", max_file_size=LIMIT)


@pytest.fixture
async def ftp_api(
    engine: AsyncEngine, clock: FixedClock, settings: Settings
) -> AsyncIterator[Api]:
    """`ocppd serve --ftp-port 0`: the API, OCPP and the FTP server of one central system."""
    system = CentralSystem(settings, clock=clock, engine=engine)
    await system.start()
    try:
        app = api_app(system)
        async with serving(system, app) as port:
            yield Api(system, port, app, await issue_tokens(system))
    finally:
        await system.stop()


async def curl(*arguments: str) -> tuple[int, str]:
    """Debian's curl: its exit status and what it said."""
    process = await asyncio.create_subprocess_exec(
        "curl", "--silent", "--show-error", "--max-time", "120", *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


async def diagnostics_job(api: Api, cp: FakeChargePoint, **body: Any) -> tuple[dict[str, Any], str]:
    """A diagnostics job over FTP and the location the charger was sent."""
    cp.replies["GetDiagnostics"] = {"fileName": "diag.log"}
    asked = await api.client(Role.OPERATOR)(
        "POST", f"/charge-points/{identity(cp)}/diagnostics", {"transport": "ftp", **body}
    )
    assert asked.status == 201, asked.body
    return asked.body, sent_location(cp, "GetDiagnostics")


async def firmware_job(
    api: Api, cp: FakeChargePoint, image: bytes = IMAGE, name: str = "fw 3.1.bin"
) -> tuple[dict[str, Any], str]:
    status, answer = await http(
        "POST",
        f"{api.url}/api/v1/firmware?name={name.replace(' ', '%20')}",
        image,
        {"Authorization": f"Bearer {api.tokens[Role.OPERATOR]}"},
    )
    assert status in (200, 201), answer
    cp.replies["UpdateFirmware"] = {}
    asked = await api.client(Role.OPERATOR)(
        "POST",
        f"/charge-points/{identity(cp)}/firmware-updates",
        {"firmwareId": json.loads(answer)["firmwareId"], "transport": "ftp"},
    )
    assert asked.status == 201, asked.body
    return asked.body, sent_location(cp, "UpdateFirmware")


def identity(cp: FakeChargePoint) -> str:
    return str(cp.ws.request.path.rsplit("/", 1)[-1]) if cp.ws.request else "CP1"


def sent_location(cp: FakeChargePoint, action: str) -> str:
    return str([p["location"] for a, p in cp.received if a == action][-1])


def credentials(location: str) -> tuple[str, str, int, str]:
    """(login, password, port, path) of an ftp:// location."""
    parts = urlsplit(location)
    assert parts.username and parts.password and parts.port
    return parts.username, parts.password, parts.port, unquote(parts.path)


async def test_curl_uploads_diagnostics_and_downloads_firmware(
    ftp_api: Api, tmp_path: Path
) -> None:
    diagnostics = tmp_path / "diagnostics-CP1.log"
    diagnostics.write_bytes(b"boot ok\nerror 42\n" * 20_000)
    operator = ftp_api.client(Role.OPERATOR)
    async with charge_point(ftp_api) as cp:
        job, location = await diagnostics_job(ftp_api, cp)
        login, password, port, path = credentials(location)
        assert location == f"ftp://{login}:{password}@127.0.0.1:{port}/"
        assert port == ftp_api.system.ftp.port  # type: ignore[union-attr]
        assert job["transport"] == "ftp"
        assert await curl("-T", str(diagnostics), location) == (0, "")
        done = await until(operator, f"/diagnostics/{job['jobId']}", lambda b: b["file"])
        assert done["file"]["name"] == "diag.log"  # the fileName answered, as over HTTP
        assert done["file"]["sha256"] == hashlib.sha256(diagnostics.read_bytes()).hexdigest()
        file = await operator("GET", f"/diagnostics/{job['jobId']}/file")
        assert (file.status, file.raw) == (200, diagnostics.read_bytes())

        fw_job, fw_location = await firmware_job(ftp_api, cp)
        assert fw_location.endswith(f":{port}/fw%203.1.bin")
        saved = tmp_path / "image.bin"
        assert await curl("-o", str(saved), fw_location) == (0, "")
        assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(IMAGE).digest()
        # A resumed download (REST): the rest of the image.
        saved.write_bytes(IMAGE[:1000])
        assert await curl("-C", "-", "-o", str(saved), fw_location) == (0, "")
        assert saved.read_bytes() == IMAGE
    assert fw_job["transport"] == "ftp"
