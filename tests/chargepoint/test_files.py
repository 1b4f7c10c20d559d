"""GetDiagnostics and UpdateFirmware move real files, over HTTP, to and from a tiny server
(FTP: test_ftp_client.py)."""

import base64
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call

from ocppd.chargepoint import ChargerModel, Station
from ocppd.chargepoint.commands import firmware_version
from ocppd.chargepoint.files import MAX_RETRIES, TransferOptions
from tests.chargepoint.central import RecordingChargePoint, running
from tests.chargepoint.test_commands import later


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FileServer:
    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    """What GET serves, by path."""
    requests: list[Received] = field(default_factory=list)
    failures: int = 0
    """How many requests to answer 503 before serving."""


@contextmanager
def file_server() -> Iterator[FileServer]:
    state = FileServer()

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> bool:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append(Received(self.command, self.path, dict(self.headers), body))
            if state.failures > 0:
                state.failures -= 1
                self.send_response(HTTPStatus.SERVICE_UNAVAILABLE)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False
            return True

        def do_GET(self) -> None:
            if not self._record():
                return
            body = state.files.get(self.path)
            self.send_response(HTTPStatus.OK if body is not None else HTTPStatus.NOT_FOUND)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def do_PUT(self) -> None:
            if self._record():
                self.send_response(HTTPStatus.CREATED)
                self.send_header("Content-Length", "0")
                self.end_headers()

        do_POST = do_PUT

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http() -> Iterator[FileServer]:
    with file_server() as server:
        yield server


@pytest.fixture
async def booted() -> AsyncIterator[tuple[RecordingChargePoint, Station]]:
    model = ChargerModel(connectors=1, firmware_version="ocppd-1.0")
    options = TransferOptions(timeout=5)
    async with running(model=model, file_transfer=options) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        yield cs, station


def statuses(cs: RecordingChargePoint, action: str) -> list[str]:
    return [payload["status"] for payload in cs.log.calls(action)]


async def test_diagnostics_are_put_in_the_location(
    booted: tuple[RecordingChargePoint, Station], http: FileServer
) -> None:
    cs, _ = booted
    location = http.url.replace("http://", "http://ops:secret@") + "/uploads/"
    answer = await cs.call(call.GetDiagnostics(location=location))
    assert answer.file_name.startswith("diagnostics-CP1-")
    await cs.wait_for("DiagnosticsStatusNotification", count=2)
    assert statuses(cs, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    [upload] = http.requests
    assert (upload.method, upload.path) == ("PUT", f"/uploads/{answer.file_name}")
    assert upload.headers["Authorization"] == "Basic " + base64.b64encode(b"ops:secret").decode()
    text = upload.body.decode()
    assert "identity: CP1" in text and "firmware: ocppd-1.0" in text
    assert "HeartbeatInterval=" in text


async def test_diagnostics_by_post_and_retried(http: FileServer) -> None:
    options = TransferOptions(upload_method="POST", timeout=5)
    async with running(file_transfer=options) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        http.failures = 1
        request = call.GetDiagnostics(location=f"{http.url}/form", retries=2, retry_interval=30)
        answer = await cs.call(request)
        await cs.wait_for("DiagnosticsStatusNotification", count=2)
    assert statuses(cs, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    assert [(r.method, r.path) for r in http.requests] == [("POST", "/form")] * 2
    form = http.requests[1]
    assert form.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert f'filename="{answer.file_name}"'.encode() in form.body
    assert b"identity: CP1" in form.body


async def test_an_unreachable_location_fails_after_the_retries(
    booted: tuple[RecordingChargePoint, Station], http: FileServer
) -> None:
    cs, station = booted
    http.failures = 10
    request = call.GetDiagnostics(location=f"{http.url}/up/", retries=1, retry_interval=5)
    await cs.call(request)
    await cs.wait_for("DiagnosticsStatusNotification", count=2)
    assert statuses(cs, "DiagnosticsStatusNotification") == ["Uploading", "UploadFailed"]
    assert len(http.requests) == 2
    assert station.stats.errors["upload failed"] == 2


async def test_retries_beyond_the_stations_limit_are_not_tried(
    booted: tuple[RecordingChargePoint, Station], http: FileServer
) -> None:
    """A central system asking for 2**31 - 1 retries without a pause: the station tries
    1 + MAX_RETRIES times and reports UploadFailed, instead of trying for good."""
    cs, station = booted
    http.failures = 1000
    request = call.GetDiagnostics(location=f"{http.url}/up/", retries=2**31 - 1, retry_interval=0)
    await cs.call(request)
    await cs.wait_for("DiagnosticsStatusNotification", count=2, timeout=60)
    assert statuses(cs, "DiagnosticsStatusNotification") == ["Uploading", "UploadFailed"]
    assert len(http.requests) == 1 + MAX_RETRIES
    assert station.stats.errors["upload failed"] == 1 + MAX_RETRIES


@pytest.mark.parametrize("action", ["GetDiagnostics", "UpdateFirmware"])
async def test_a_scheme_it_does_not_speak_is_not_supported(
    booted: tuple[RecordingChargePoint, Station], action: str
) -> None:
    cs, _ = booted
    request = (
        call.GetDiagnostics(location="sftp://example.invalid/up")
        if action == "GetDiagnostics"
        else call.UpdateFirmware(location="sftp://example.invalid/fw.bin", retrieve_date=later(0))
    )
    with pytest.raises(NotSupportedError):
        await cs.call(request, suppress=False)


async def test_firmware_is_downloaded_installed_and_reported_after_the_reboot(
    booted: tuple[RecordingChargePoint, Station], http: FileServer
) -> None:
    cs, station = booted
    http.files["/fw/ocppd-2.0.bin"] = b"\x7fELF new firmware" * 1000
    location = f"{http.url}/fw/ocppd-2.0.bin"
    await cs.call(call.UpdateFirmware(location=location, retrieve_date=later(0)))
    await cs.log.wait_for("FirmwareStatusNotification", count=4)
    assert statuses(cs, "FirmwareStatusNotification") == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    assert [(r.method, r.path) for r in http.requests] == [("GET", "/fw/ocppd-2.0.bin")]
    assert station.firmware_image == http.files["/fw/ocppd-2.0.bin"]
    boots = cs.log.calls("BootNotification")
    assert [b["firmware_version"] for b in boots] == ["ocppd-1.0", "ocppd-2.0"]


async def test_a_missing_firmware_file_fails_the_download(
    booted: tuple[RecordingChargePoint, Station], http: FileServer
) -> None:
    cs, station = booted
    request = call.UpdateFirmware(
        location=f"{http.url}/fw/none.bin", retrieve_date=later(0), retries=1, retry_interval=10
    )
    await cs.call(request)
    await cs.log.wait_for("FirmwareStatusNotification", count=2)
    assert statuses(cs, "FirmwareStatusNotification") == ["Downloading", "DownloadFailed"]
    assert len(http.requests) == 2
    assert len(cs.log.calls("BootNotification")) == 1  # no reboot
    assert station.firmware_version == "ocppd-1.0"


def test_firmware_version_from_the_file_name() -> None:
    assert firmware_version("https://h/fw/ocppd-2.0.bin") == "ocppd-2.0"
    assert firmware_version("https://h/fw/v3.1.4.tar") == "v3.1.4"
    assert firmware_version("https://h/fw/image") == "image"
    assert firmware_version("https://h/") == "unknown"


async def test_firmware_waits_for_the_session_with_idle_connectors_unavailable(
    http: FileServer,
) -> None:
    http.files["/fw/ocppd-3.0.bin"] = b"image"
    async with running(model=ChargerModel(connectors=2)) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        await station.start_transaction(1, "TAG1")
        location = f"{http.url}/fw/ocppd-3.0.bin"
        await cs.call(call.UpdateFirmware(location=location, retrieve_date=later(0)))
        await cs.log.wait_for("FirmwareStatusNotification", count=2)  # Downloaded
        await cs.wait_for(
            "StatusNotification",
            where=lambda s: (s["connector_id"], s["status"]) == (2, "Unavailable"),
        )
        assert station.connector(1).status == "Charging"  # the session goes on
        assert await station.start_transaction(2, "TAG2") is None  # no new one
        await station.stop_transaction(1)
        await cs.log.wait_for("FirmwareStatusNotification", count=4)  # Installed, rebooted
        after = cs.log.calls("StatusNotification")
        of_1 = [s["status"] for s in after if s["connector_id"] == 1]
        assert of_1[-2:] == ["Unavailable", "Preparing"]  # the EV is still plugged in
        assert [s["status"] for s in after if s["connector_id"] == 2][-1] == "Available"
