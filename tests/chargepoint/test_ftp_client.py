"""GetDiagnostics and UpdateFirmware over FTP: real files through real FTP servers (aioftp's,
and a scripted one that refuses and breaks), with the statuses a central system sees."""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call
from ocpp.v16.datatypes import LogParameters

from ocppd.chargepoint import ChargerModel, Station
from ocppd.chargepoint.files import Protocols, TransferOptions
from ocppd.chargepoint.ftp_client import FtpFailed, FtpLocation, _shown
from ocppd.chargepoint.security import SecuritySettings
from tests.chargepoint.central import RecordingChargePoint, running
from tests.chargepoint.ftp_servers import PASSWORD, ScriptedFtp, real_ftp_server
from tests.chargepoint.test_commands import later
from tests.chargepoint.test_files import file_server, statuses

GENEROUS = 60.0
"""Seconds: a loaded machine may be slow; nothing here measures speed."""

Booted = tuple[RecordingChargePoint, Station]


@pytest.fixture
async def ftp_root(tmp_path: Path) -> Path:
    root = tmp_path / "ftp"
    (root / "uploads").mkdir(parents=True)
    (root / "fw").mkdir()
    return root


@pytest.fixture
async def ftp_url(ftp_root: Path) -> AsyncIterator[str]:
    async with real_ftp_server(ftp_root) as url:
        yield url


async def booted_station(
    protocols: Protocols = "any", timeout: float = GENEROUS
) -> AsyncIterator[Booted]:
    model = ChargerModel(connectors=1, firmware_version="ocppd-1.0")
    options = TransferOptions(timeout=timeout, protocols=protocols)
    async with running(model=model, file_transfer=options) as (central, station):
        await station.boot()
        yield await central.station("CP1"), station


@pytest.fixture
async def booted() -> AsyncIterator[Booted]:
    async for pair in booted_station():
        yield pair


async def diagnostics(cs: RecordingChargePoint, location: str, **request: int) -> list[str]:
    answer = await cs.call(call.GetDiagnostics(location=location, **request))
    assert answer.file_name.startswith("diagnostics-CP1-")
    await cs.wait_for("DiagnosticsStatusNotification", count=2, timeout=GENEROUS)
    return statuses(cs, "DiagnosticsStatusNotification")


async def firmware(
    cs: RecordingChargePoint, location: str, count: int, **request: int
) -> list[str]:
    await cs.call(call.UpdateFirmware(location=location, retrieve_date=later(0), **request))
    await cs.log.wait_for("FirmwareStatusNotification", count=count, timeout=GENEROUS)
    return statuses(cs, "FirmwareStatusNotification")


# Through aioftp's server


async def test_diagnostics_are_stored_by_ftp_under_the_name_the_station_chose(
    booted: Booted, ftp_url: str, ftp_root: Path
) -> None:
    cs, _ = booted
    answer = await cs.call(call.GetDiagnostics(location=f"{ftp_url}/uploads/"))
    await cs.wait_for("DiagnosticsStatusNotification", count=2, timeout=GENEROUS)
    assert statuses(cs, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    assert [p.name for p in (ftp_root / "uploads").iterdir()] == [answer.file_name]
    text = (ftp_root / "uploads" / answer.file_name).read_text()
    assert "identity: CP1" in text and "firmware: ocppd-1.0" in text


async def test_diagnostics_into_the_login_directory(
    booted: Booted, ftp_url: str, ftp_root: Path
) -> None:
    cs, _ = booted
    assert await diagnostics(cs, ftp_url) == ["Uploading", "Uploaded"]
    [stored] = [name for name in os.listdir(ftp_root) if name.endswith(".log")]
    assert stored.startswith("diagnostics-CP1-")


async def test_firmware_is_downloaded_by_ftp_and_installed(
    booted: Booted, ftp_url: str, ftp_root: Path
) -> None:
    cs, station = booted
    image = os.urandom(300_000)  # several data blocks
    (ftp_root / "fw" / "ocppd-2.0.bin").write_bytes(image)
    assert await firmware(cs, f"{ftp_url}/fw/ocppd-2.0.bin", 4) == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    assert station.firmware_image == image
    boots = cs.log.calls("BootNotification")
    assert [b["firmware_version"] for b in boots] == ["ocppd-1.0", "ocppd-2.0"]


async def test_a_wrong_password_fails_the_upload_after_the_retries(
    booted: Booted, ftp_url: str, ftp_root: Path
) -> None:
    cs, station = booted
    wrong = ftp_url.replace("s3cret", "wrong", 1)
    done = await diagnostics(cs, f"{wrong}/uploads/", retries=2, retry_interval=30)
    assert done == ["Uploading", "UploadFailed"]
    assert station.stats.errors["upload failed"] == 3
    assert list((ftp_root / "uploads").iterdir()) == []


async def test_a_wrong_password_fails_the_download(
    booted: Booted, ftp_url: str, ftp_root: Path
) -> None:
    cs, station = booted
    (ftp_root / "fw" / "ocppd-2.0.bin").write_bytes(b"image")
    wrong = ftp_url.replace("s3cret", "wrong", 1)
    assert await firmware(cs, f"{wrong}/fw/ocppd-2.0.bin", 2) == ["Downloading", "DownloadFailed"]
    assert station.firmware_version == "ocppd-1.0"
    assert len(cs.log.calls("BootNotification")) == 1  # no reboot


async def test_a_missing_file_or_directory_fails_with_the_servers_550(
    booted: Booted, ftp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cs, _ = booted
    caplog.set_level("INFO", "ocppd.chargepoint")
    assert await firmware(cs, f"{ftp_url}/fw/none.bin", 2) == ["Downloading", "DownloadFailed"]
    assert await diagnostics(cs, f"{ftp_url}/no/such/dir/") == ["Uploading", "UploadFailed"]
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 2 and all("answered 550" in text for text in failures)
    assert not any(PASSWORD in text or "s3cret" in text for text in failures)


# Through a server that breaks


async def test_a_connection_dropped_mid_upload_fails_it_and_a_retry_succeeds(
    booted: Booted,
) -> None:
    cs, station = booted
    async with ScriptedFtp(behaviours=["drop"]) as ftp:
        done = await diagnostics(cs, f"{ftp.url}/up/", retries=1, retry_interval=10)
    assert done == ["Uploading", "Uploaded"]
    assert ftp.sessions == 2
    assert station.stats.errors["upload failed"] == 1
    [(path, content)] = ftp.stored.items()
    assert path.startswith("up/diagnostics-CP1-") and b"identity: CP1" in content


async def test_a_connection_dropped_mid_download_fails_it(booted: Booted) -> None:
    cs, station = booted
    async with ScriptedFtp(behaviours=["drop", "drop"], files={"fw/v2.bin": b"x" * 1000}) as ftp:
        location = f"{ftp.url}/fw/v2.bin"
        done = await firmware(cs, location, 2, retries=1, retry_interval=10)
    assert done == ["Downloading", "DownloadFailed"]
    assert ftp.sessions == 2
    assert station.firmware_image is None and station.firmware_version == "ocppd-1.0"


async def test_an_upload_over_the_servers_size_limit_fails(booted: Booted) -> None:
    cs, station = booted
    async with ScriptedFtp(behaviours=["too-large"], limit=100) as ftp:
        assert await diagnostics(cs, f"{ftp.url}/up/") == ["Uploading", "UploadFailed"]
    assert ftp.stored == {}
    assert station.stats.errors["upload failed"] == 1


async def test_passive_mode_falls_back_to_pasv_and_uses_the_urls_host() -> None:
    """A server without EPSV (502): PASV, whose address (an unreachable one, as a server
    behind NAT names) is ignored for the URL's host."""
    async for cs, station in booted_station():
        async with ScriptedFtp(epsv=False, files={"fw/v2.bin": b"image"}) as ftp:
            done = await firmware(cs, f"{ftp.url}/fw/v2.bin", 4)
        assert done[-1] == "Installed"
        assert station.firmware_image == b"image"
        assert ftp.commands[-5:] == ["TYPE I", "EPSV", "PASV", "RETR fw/v2.bin", "QUIT"]


async def test_a_stalled_data_connection_times_out() -> None:
    """A server that answers 150 and then sends nothing: the data connection's read timeout
    (real seconds) ends the attempt; nothing waits forever."""
    async for cs, station in booted_station(timeout=1):
        async with ScriptedFtp(behaviours=["stall"], files={"fw/v2.bin": b"image"}) as ftp:
            done = await firmware(cs, f"{ftp.url}/fw/v2.bin", 2)
        assert done == ["Downloading", "DownloadFailed"]
        assert station.stats.errors["download failed"] == 1


async def test_a_server_that_never_ends_its_answer_times_out() -> None:
    """Continuation lines, each in time for a read, never the final one: the exchange as a
    whole has the timeout."""
    async for cs, station in booted_station(timeout=1):
        async with ScriptedFtp(behaviours=["trickle"]) as ftp:
            assert await diagnostics(cs, f"{ftp.url}/up/") == ["Uploading", "UploadFailed"]
        assert station.stats.errors["upload failed"] == 1


async def test_a_server_that_never_greets_times_out() -> None:
    async for cs, station in booted_station(timeout=1):
        async with ScriptedFtp(behaviours=["silent"]) as ftp:
            assert await diagnostics(cs, f"{ftp.url}/up/") == ["Uploading", "UploadFailed"]
        assert station.stats.errors["upload failed"] == 1


async def test_credentials_cannot_smuggle_a_command(booted: Booted) -> None:
    """A user with CR LF in it (percent-encoded in the URL) fails before anything is sent."""
    cs, _ = booted
    async with ScriptedFtp() as ftp:
        hostile = ftp.url.replace("ftp://ops:", "ftp://ops%0D%0ADELE%20x:", 1)
        assert await diagnostics(cs, f"{hostile}/up/") == ["Uploading", "UploadFailed"]
    assert ftp.commands == []


async def test_get_log_goes_by_ftp_as_well(ftp_url: str, ftp_root: Path) -> None:
    """The security extension's GetLog uploads through the same dispatch: an FTP-only
    station sends its log to an ftp:// location."""
    options = TransferOptions(timeout=GENEROUS, protocols="ftp")
    security = SecuritySettings(extension=True)
    async with running(file_transfer=options, security=security) as (central, station):
        await station.boot(timeout=GENEROUS)
        cs = await central.station("CP1", timeout=GENEROUS)
        log = LogParameters(remote_location=f"{ftp_url}/uploads/")
        answer = await cs.call(call.GetLog(log=log, log_type="SecurityLog", request_id=3))
        assert answer.status == "Accepted"
        notifications = await cs.wait_for("LogStatusNotification", 2, timeout=GENEROUS)
    assert [n["status"] for n in notifications] == ["Uploading", "Uploaded"]
    assert os.listdir(ftp_root / "uploads") == [answer.filename]
    assert b"StartupOfTheDevice" in (ftp_root / "uploads" / answer.filename).read_bytes()


# Which protocols a station speaks


async def test_an_ftp_only_station_fails_an_http_location_without_a_request() -> None:
    async for cs, station in booted_station(protocols="ftp"):
        with file_server() as http:
            http.files["/fw/v2.bin"] = b"image"
            assert await diagnostics(cs, f"{http.url}/up/") == ["Uploading", "UploadFailed"]
            assert await firmware(cs, f"{http.url}/fw/v2.bin", 2) == [
                "Downloading",
                "DownloadFailed",
            ]
        assert http.requests == []
        assert station.stats.errors["upload failed"] == station.stats.errors["download failed"]


@pytest.mark.parametrize(
    ("protocols", "location"),
    [("http", "ftp://h/fw.bin"), ("any", "sftp://h/fw.bin"), ("ftp", "tftp://h/fw.bin")],
)
async def test_what_a_station_cannot_speak_is_not_supported(
    protocols: Protocols, location: str
) -> None:
    async for cs, _ in booted_station(protocols=protocols):
        with pytest.raises(NotSupportedError):
            await cs.call(call.GetDiagnostics(location=location), suppress=False)
        with pytest.raises(NotSupportedError):
            request = call.UpdateFirmware(location=location, retrieve_date=later(0))
            await cs.call(request, suppress=False)


@pytest.mark.parametrize(
    ("protocols", "supported"),
    [("any", "FTP,HTTP,HTTPS"), ("ftp", "FTP"), ("http", "HTTP,HTTPS")],
)
async def test_supported_file_transfer_protocols_says_what_it_speaks(
    protocols: Protocols, supported: str
) -> None:
    async for cs, _ in booted_station(protocols=protocols):
        answer = await cs.call(call.GetConfiguration(key=["SupportedFileTransferProtocols"]))
        assert answer.configuration_key == [
            {"key": "SupportedFileTransferProtocols", "readonly": True, "value": supported}
        ]


# The location


def test_a_location_is_percent_decoded_and_relative_to_the_login_directory() -> None:
    location = FtpLocation.parse("ftp://us%3Aer:p%40ss%2Fw@[::1]:2121/a%20dir/f.bin")
    assert location == FtpLocation("::1", 2121, "us:er", "p@ss/w", "a dir/f.bin")
    assert FtpLocation.parse("ftp://h/") == FtpLocation("h", 21, "anonymous", "", "")


@pytest.mark.parametrize(
    "url",
    ["ftp://h:99999/f", "ftp:///f", "ftp://u:p%00@h/f", "ftp://h/f%0A.bin", "ftp://u%0D:p@h/"],
)
def test_a_location_that_cannot_be_used_fails(url: str) -> None:
    with pytest.raises(FtpFailed):
        FtpLocation.parse(url)


def test_a_password_is_never_shown() -> None:
    assert _shown("ftp://ops:s3cret@h:21/up/") == "ftp://ops:***@h:21/up/"
    assert _shown("ftp://ops@h/up/") == "ftp://ops@h/up/"
