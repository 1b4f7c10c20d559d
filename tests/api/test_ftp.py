"""Diagnostics and firmware over ocppd's FTP server (issue 20), driven by real FTP clients:
Debian's curl for what a charger does, Python's ftplib and raw sockets for what a hostile
client does. The locations come from the API, as a charger gets them."""

import asyncio
import ftplib
import hashlib
import io
import json
import random
import signal
import socket
import sqlite3
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import click
import click.testing
import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.api.tokens import Role
from ocppd.chargepoint import ChargerModel, Clock, Station
from ocppd.chargepoint.files import TransferOptions
from ocppd.cli import main
from ocppd.cli.serve import settings_options, to_settings
from ocppd.csms import certificate_authority as ca
from ocppd.csms import registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.settings import Settings
from tests.api.conftest import Api, FakeChargePoint, api_app, charge_point, issue_tokens
from tests.api.test_cli import cli
from tests.api.test_commands import with_security_extension
from tests.api.test_diagnostics import files_under, http, until
from tests.certificates import TestCa
from tests.csms.conftest import FixedClock
from tests.eventually import eventually
from tests.servers import serving

IMAGE = b"\x7fELF firmware over ftp 3.1\n" * 4000
LIMIT = 1024 * 1024


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """`--ftp-port 0`, and what a test sets (`indirect` parametrization)."""
    # A value given as a function is chosen as the test starts (free ports), not when collected.
    asked = dict(getattr(request, "param", {}))
    changed = {key: value() if callable(value) else value for key, value in asked.items()}
    if changed.pop("tls", False):  # `--tls-cert` (on a TLS port of its own: the API stays plain)
        server = TestCa(tmp_path / "pki").server("rsa")
        changed.update(tls_cert=server.cert, tls_key=server.key, tls_port=0)
    return Settings(ftp_port=0, data_dir=tmp_path / "data", max_file_size=LIMIT, **changed)


@pytest.fixture
async def ftp_api(engine: AsyncEngine, clock: FixedClock, settings: Settings) -> AsyncIterator[Api]:
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
        login, password, port, _ = credentials(location)
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


def logged_in(port: int, login: str, password: str) -> ftplib.FTP:
    """Python's FTP client, logged in (in a thread: it blocks)."""
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=60)
    ftp.login(login, password)
    return ftp


def refusal(perform: Any) -> str:
    """The code of the error `perform()` raised (it must raise one)."""
    try:
        perform()
    except ftplib.Error as error:
        return str(error)[:3]
    raise AssertionError("not refused")


async def test_credentials_reach_only_their_own_file_and_end_with_their_job(
    ftp_api: Api, tmp_path: Path
) -> None:
    payload = tmp_path / "x.log"
    payload.write_bytes(b"x" * 1000)
    async with charge_point(ftp_api) as cp1, charge_point(ftp_api, "CP2") as cp2:
        _, own = await firmware_job(ftp_api, cp1, IMAGE, "one.bin")
        _, other = await firmware_job(ftp_api, cp2, IMAGE + b"2", "two.bin")
        diagnostics, upload = await diagnostics_job(ftp_api, cp2)
        login, password, port, _ = credentials(own)

        def hostile() -> None:
            with logged_in(port, login, password) as ftp:
                assert refusal(lambda: ftp.retrbinary("RETR two.bin", print)) == "550"
                assert refusal(lambda: ftp.nlst()) == "550"
                assert refusal(lambda: ftp.retrlines("LIST")) == "550"
                assert refusal(lambda: ftp.retrlines("MLSD")) == "550"
                assert refusal(lambda: ftp.storbinary("STOR one.bin", payload.open("rb"))) == "550"
                assert refusal(lambda: ftp.delete("one.bin")) == "502"
                assert refusal(lambda: ftp.mkd("d")) == "502"
                assert refusal(lambda: ftp.cwd("/other")) == "550"
                assert ftp.size("one.bin") == len(IMAGE)
                assert refusal(lambda: ftp.size("two.bin")) == "550"

        await asyncio.to_thread(hostile)
        # The other charger's login with this password: denied.
        mixed = own.replace(login, credentials(other)[0])
        status, said = await curl("-o", str(tmp_path / "o"), mixed)
        assert status == 67, said  # login denied
        # An upload login downloads nothing, and works over FTP only.
        up_login, up_password, _, _ = credentials(upload)
        status, said = await curl("-o", str(tmp_path / "o"), upload + "one.bin")
        assert status != 0, said
        over_http = f"{ftp_api.url}/files/diagnostics/{up_login}:{up_password}/x"
        assert (await http("PUT", over_http, b"x"))[0] == 404
        assert await curl("-T", str(payload), upload) == (0, "")
        # The upload was kept: the job's credentials are used up.
        status, said = await curl("-T", str(payload), upload)
        assert status == 67, said
        await cp1.ask("FirmwareStatusNotification", {"status": "DownloadFailed"})
        status, said = await curl("-o", str(tmp_path / "o"), own)
        assert status == 67, said  # the job ended
    job = (await ftp_api.client(Role.VIEWER)("GET", f"/diagnostics/{diagnostics['jobId']}")).body
    assert job["file"]["size"] == 1000


HOSTILE_NAMES = (
    "../x.log",
    "/etc/x.log",
    "/x.log",
    "a\x00b.log",
    "sub/x.log",
    "..",
    "a\\b",
    "\x7f",
)


async def test_wrong_passwords_anonymous_and_paths_outside_the_job_are_refused(
    ftp_api: Api, tmp_path: Path
) -> None:
    async with charge_point(ftp_api) as cp:
        job, upload = await diagnostics_job(ftp_api, cp)
        login, password, port, _ = credentials(upload)
        attempts = ((login, password + "x"), ("anonymous", "a@b"), ("", ""), (login, ""))

        def hostile() -> None:
            for user, secret in attempts:
                with ftplib.FTP() as ftp:
                    ftp.connect("127.0.0.1", port, timeout=60)
                    with pytest.raises(ftplib.error_perm, match=r"^530"):
                        ftp.login(user, secret)
            with logged_in(port, login, password) as ftp:
                for name in HOSTILE_NAMES:
                    with pytest.raises(ftplib.error_perm, match=r"^553"):
                        ftp.storbinary(f"STOR {name}", io.BytesIO(b"hostile"))
                assert ftp.pwd() == "/"
                assert refusal(lambda: ftp.cwd("..x")) == "550"
                assert ftp.sendcmd("CWD /").startswith("250")
            with ftplib.FTP() as fresh:  # commands before a login
                fresh.connect("127.0.0.1", port, timeout=60)
                assert refusal(lambda: fresh.sendcmd("PASV")) == "530"
                assert refusal(lambda: fresh.sendcmd("STOR x")) == "530"

        await asyncio.to_thread(hostile)
        assert files_under(ftp_api.system.settings.data_dir) == []
        # The job is untouched: its credentials still upload.
        good = tmp_path / "good.log"
        good.write_bytes(b"fine")
        assert await curl("-T", str(good), upload) == (0, "")
    assert files_under(ftp_api.system.settings.data_dir) == [f"files/diagnostics/{job['jobId']}"]


async def test_an_upload_over_the_size_limit_is_refused_and_nothing_kept(
    ftp_api: Api, tmp_path: Path
) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(b"y" * (LIMIT + 1))
    async with charge_point(ftp_api) as cp:
        job, upload = await diagnostics_job(ftp_api, cp)
        status, said = await curl("-T", str(big), upload)
        assert status != 0, said
        viewer = ftp_api.client(Role.VIEWER)
        failed = await until(viewer, f"/diagnostics/{job['jobId']}", lambda b: b["transferError"])
        assert f"larger than {LIMIT} bytes" in failed["transferError"]["reason"]
        assert failed["file"] is None and failed["endedAt"] is None
        assert files_under(ftp_api.system.settings.data_dir) == []
        big.write_bytes(b"y" * LIMIT)  # exactly the limit: kept
        assert await curl("-T", str(big), upload) == (0, "")
    assert files_under(ftp_api.system.settings.data_dir) == [f"files/diagnostics/{job['jobId']}"]


async def test_a_client_killed_mid_upload_leaves_nothing_and_a_retry_works(
    ftp_api: Api, tmp_path: Path
) -> None:
    part = tmp_path / "part.log"
    part.write_bytes(b"z" * (LIMIT - 1))
    folder = ftp_api.system.settings.data_dir / "files" / "diagnostics"
    async with charge_point(ftp_api) as cp:
        job, upload = await diagnostics_job(ftp_api, cp)
        slow = await asyncio.create_subprocess_exec(
            "curl", "--silent", "--limit-rate", "20k", "-T", str(part), upload
        )  # fmt: skip

        def receiving() -> bool:
            return any(p.stat().st_size > 0 for p in folder.glob(".partial-*"))

        await eventually(receiving, "the upload has started")
        slow.send_signal(signal.SIGKILL)
        await slow.wait()
        viewer = ftp_api.client(Role.VIEWER)
        failed = await until(
            viewer, f"/diagnostics/{job['jobId']}", lambda b: b["transferError"], timeout=60
        )
        assert "nothing kept" in failed["transferError"]["reason"], failed
        assert failed["file"] is None
        await eventually(lambda: files_under(folder) == [], "the partial file removed")
        assert await curl("-T", str(part), upload) == (0, "")
        done = (await viewer("GET", f"/diagnostics/{job['jobId']}")).body
    assert done["file"]["sha256"] == hashlib.sha256(part.read_bytes()).hexdigest()


@pytest.mark.parametrize("settings", [{"ftp_timeout": 1.0}], indirect=True)
async def test_silent_connections_are_timed_out(ftp_api: Api) -> None:
    async with charge_point(ftp_api) as cp:
        job, upload = await diagnostics_job(ftp_api, cp)
        login, password, port, _ = credentials(upload)

        def silent() -> tuple[str, str, bytes]:
            with logged_in(port, login, password) as ftp:
                ftp.voidcmd("TYPE I")
                data = ftp.transfercmd("STOR silent.log")  # opened, never written to
                data_ended = refusal(ftp.voidresp)
                data.close()
                # Asked for an upload, never connected.
                ftp.sendcmd("PASV")
                ftp.putcmd("STOR never.log")
                assert ftp.getline().startswith("150")
                unconnected = refusal(ftp.voidresp)
            with ftplib.FTP() as idle:
                idle.connect("127.0.0.1", port, timeout=60)
                closing = idle.sock.recv(100) if idle.sock else b""
            return data_ended, unconnected, closing

        data_ended, unconnected, closing = await asyncio.to_thread(silent)
        assert (data_ended, unconnected) == ("426", "425")
        assert closing.startswith(b"421")
        viewer = ftp_api.client(Role.VIEWER)
        failed = await until(viewer, f"/diagnostics/{job['jobId']}", lambda b: b["transferError"])
        assert "silent for 1 s" in failed["transferError"]["reason"]
    assert files_under(ftp_api.system.settings.data_dir) == []


@pytest.mark.parametrize("settings", [{"ftp_max_connections": 30}], indirect=True)
async def test_a_hundred_parallel_logins_are_bounded_and_the_charger_is_answered(
    ftp_api: Api, tmp_path: Path
) -> None:
    async with charge_point(ftp_api) as cp:
        _, upload = await diagnostics_job(ftp_api, cp)
        port = credentials(upload)[2]
        greeted = asyncio.Barrier(101)

        async def login() -> str:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                greeting = await reader.readline()
                await greeted.wait()
                if not greeting.startswith(b"220"):
                    return greeting.decode()[:3]
                writer.write(b"USER guess\r\nPASS wrong\r\n")
                await reader.readline()  # 331
                return (await reader.readline()).decode()[:3]
            finally:
                writer.close()

        storm = [asyncio.create_task(login()) for _ in range(100)]
        await greeted.wait()
        for _ in range(5):  # while a hundred logins are under way
            assert "currentTime" in await cp.ask("Heartbeat", {})
        answers = await asyncio.gather(*storm)
        assert sorted(set(answers)) == ["421", "530"]
        assert answers.count("530") == 30
        # Afterwards the job's own login works.
        good = tmp_path / "good.log"
        good.write_bytes(b"fine")
        assert await curl("-T", str(good), upload) == (0, "")


async def test_ftp_on_a_server_without_it_is_409_and_a_wrong_transport_400(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "d.log"}
        off = await operator("POST", "/charge-points/CP1/diagnostics", {"transport": "ftp"})
        assert off.status == 409, off.body
        assert off.body["field"] == "transport" and "--ftp-port" in off.body["error"]
        wrong = await operator("POST", "/charge-points/CP1/diagnostics", {"transport": "tftp"})
        assert wrong.status == 400 and wrong.body["field"] == "transport", wrong.body
        assert not [a for a, _ in cp.received if a == "GetDiagnostics"]
        http_job = await operator("POST", "/charge-points/CP1/diagnostics", {"transport": "http"})
        assert http_job.status == 201 and http_job.body["transport"] == "http"


async def test_a_log_upload_and_a_signed_firmware_download_over_ftp(
    ftp_api: Api, tmp_path: Path
) -> None:
    """The security extension's jobs (GetLog, SignedUpdateFirmware) take FTP too."""
    data_dir = ftp_api.system.settings.data_dir
    ca.CaFiles.of(data_dir).initialize(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    await with_security_extension(ftp_api)
    operator = ftp_api.client(Role.OPERATOR)
    log = tmp_path / "security.log"
    log.write_bytes(b"2026-11-25T12:00:00Z StartupOfTheDevice\n" * 500)
    async with charge_point(ftp_api) as cp:
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "security.log"}
        asked = await operator(
            "POST", "/charge-points/CP1/logs", {"logType": "SecurityLog", "transport": "ftp"}
        )
        assert asked.status == 201, asked.body
        location = next(p for a, p in cp.received if a == "GetLog")["log"]["remoteLocation"]
        assert location.startswith("ftp://") and location.endswith("/")
        assert await curl("-T", str(log), location) == (0, "")
        job = await until(operator, f"/logs/{asked.body['jobId']}", lambda b: b["file"])
        assert job["transport"] == "ftp"
        assert job["file"]["sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()

        status, image = await http(
            "POST",
            f"{ftp_api.url}/api/v1/firmware?name=signed-4.0.bin",
            IMAGE,
            {"Authorization": f"Bearer {ftp_api.tokens[Role.OPERATOR]}"},
        )
        assert status == 201
        cp.replies["SignedUpdateFirmware"] = {"status": "Accepted"}
        body = {"firmwareId": json.loads(image)["firmwareId"], "signed": True, "transport": "ftp"}
        signed = await operator("POST", "/charge-points/CP1/firmware-updates", body)
        assert signed.status == 201, signed.body
        sent = next(p for a, p in cp.received if a == "SignedUpdateFirmware")["firmware"]
        assert sent["location"].startswith("ftp://") and sent["location"].endswith(
            "/signed-4.0.bin"
        )
        saved = tmp_path / "signed.bin"
        assert await curl("-o", str(saved), sent["location"]) == (0, "")
        assert ca.verify_firmware_signature(
            saved.read_bytes(), sent["signature"], sent["signingCertificate"]
        )
    assert signed.body["transport"] == "ftp"


def test_the_ftp_settings_of_ocppd_serve() -> None:
    @click.command()
    @settings_options
    def show(**values: object) -> None:
        click.echo(repr(to_settings(values)))

    def run(*arguments: str) -> click.testing.Result:
        return CliRunner().invoke(show, list(arguments), env={"OCPPD_FTP_TIMEOUT": "5"})

    shown = run("--ftp-port", "2121", "--ftp-passive-ports", "30000-30009")
    assert shown.exit_code == 0, shown.output
    assert "ftp_port=2121, ftp_passive_ports=(30000, 30009)" in shown.output
    assert "ftp_timeout=5.0" in shown.output
    assert "ftp_port=None, ftp_passive_ports=None" in run().output
    for bad in ("30009-30000", "0-10", "1-65536", "30000", "a-b", "-"):
        refused = run("--ftp-passive-ports", bad)
        assert refused.exit_code == 2 and "not a port range A-B" in refused.output, bad
    # What goes into chargers' ftp:// URLs: a host name or an address, nothing more.
    for host, kept in (
        ("csms.example.com", "csms.example.com"),
        ("CSMS-1.example.com.", "CSMS-1.example.com"),
        ("192.0.2.7", "192.0.2.7"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
    ):
        shown = run("--ftp-public-host", host)
        assert f"ftp_public_host={kept!r}" in shown.output, (host, shown.output)
    for bad in ("user@host", "host:2121", "a b", "ftp://host", "a/b", "-a.b", "a..b", "a\rb", "é"):
        refused = run("--ftp-public-host", bad)
        assert refused.exit_code == 2, (bad, refused.output)
        assert "--ftp-public-host" in refused.output and "not a host name" in refused.output
    both = run(
        "--ftp-port",
        "21",
        "--workers",
        "2",
        "--redis-url",
        "redis://x/0",
        "--database",
        "postgresql://x/y",
    )
    assert both.exit_code == 2 and "--ftp-port runs in one process" in both.output


async def test_a_charge_points_file_transport_is_the_default_of_its_jobs(ftp_api: Api) -> None:
    operator = ftp_api.client(Role.OPERATOR)
    async with charge_point(ftp_api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "d.log"}
        changed = await cli(
            ftp_api, Role.ADMIN, "charge-point", "change", "CP1", "--file-transport", "ftp"
        )
        assert changed.exit_code == 0, changed.output
        assert json.loads(changed.output)["fileTransport"] == "ftp"
        shown = await operator("GET", "/charge-points/CP1")
        assert shown.body["fileTransport"] == "ftp"
        by_default = await operator("POST", "/charge-points/CP1/diagnostics")
        assert by_default.body["transport"] == "ftp"
        assert sent_location(cp, "GetDiagnostics").startswith("ftp://")
        asked = await operator("POST", "/charge-points/CP1/diagnostics", {"transport": "http"})
        assert asked.body["transport"] == "http"
        assert sent_location(cp, "GetDiagnostics").startswith(ftp_api.url + "/files/diagnostics/")
        bad = await ftp_api.client(Role.ADMIN)(
            "PATCH", "/charge-points/CP1", {"fileTransport": "sftp"}
        )
        assert bad.status == 400 and bad.body["field"] == "fileTransport", bad.body
        kept = await ftp_api.client(Role.ADMIN)("PUT", "/charge-points/CP1", {})
        assert kept.body["fileTransport"] == "ftp", "a PUT without it keeps the stored one"


async def test_a_charger_set_to_ftp_on_a_server_without_it_is_409(api: Api) -> None:
    async with charge_point(api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "d.log"}
        await api.client(Role.ADMIN)("PATCH", "/charge-points/CP1", {"fileTransport": "ftp"})
        refused = await api.client(Role.OPERATOR)("POST", "/charge-points/CP1/diagnostics")
        assert refused.status == 409, refused.body
        assert "fileTransport of 'CP1'" in refused.body["error"]
        assert not [a for a, _ in cp.received if a == "GetDiagnostics"]


def test_charge_point_add_sets_the_file_transport(tmp_path: Path) -> None:
    def add(*args: str) -> str:
        result = CliRunner().invoke(
            main, ["charge-point", "add", "CP9", *args, "--data-dir", str(tmp_path), "--create"]
        )
        assert result.exit_code == 0, result.output
        with sqlite3.connect(tmp_path / "ocppd.db") as db:
            return str(db.execute("SELECT file_transport FROM charge_points").fetchone()[0])

    assert add() == "http"
    assert add("--file-transport", "ftp") == "ftp"
    assert add() == "ftp", "kept when not given"
    refused = CliRunner().invoke(
        main,
        ["charge-point", "add", "CP9", "--file-transport", "tftp", "--data-dir", str(tmp_path)],
    )
    assert refused.exit_code == 2 and "'--file-transport'" in refused.output


@asynccontextmanager
async def ftp_station(
    api: Api, identity: str = "SIM1", options: TransferOptions | None = None
) -> AsyncIterator[Station]:
    """ocppd's simulator as an FTP-only charger (`ocppd simulate --upload-method ftp`),
    registered with fileTransport ftp and booted, on a fast clock; `options`: other
    transfer options than these."""
    async with api.system.engine.begin() as db:
        await registration.register(db, identity)
    assert (
        await api.client(Role.ADMIN)(
            "PATCH", f"/charge-points/{identity}", {"fileTransport": "ftp"}
        )
    ).status == 200
    station = Station(
        f"ws://127.0.0.1:{api.port}/ocpp",
        identity,
        model=ChargerModel(connectors=1, firmware_version="sim-1.0"),
        clock=Clock(speed=1000.0),
        file_transfer=options or TransferOptions(timeout=30, protocols="ftp"),
    )
    async with station:
        await station.wait_accepted()
        yield station


async def test_ocppds_simulator_uploads_diagnostics_and_installs_firmware_over_ftp(
    ftp_api: Api,
) -> None:
    operator = ftp_api.client(Role.OPERATOR)
    async with ftp_station(ftp_api) as station:
        asked = await operator("POST", "/charge-points/SIM1/diagnostics")  # its default: FTP
        assert asked.status == 201 and asked.body["transport"] == "ftp", asked.body
        done = await until(
            operator, f"/diagnostics/{asked.body['jobId']}", lambda b: b["endedAt"], timeout=60
        )
        assert done["status"] == "Uploaded", done
        file = await operator("GET", f"/diagnostics/{asked.body['jobId']}/file")
        assert file.status == 200 and hashlib.sha256(file.raw).hexdigest() == done["file"]["sha256"]

        status, image = await http(
            "POST",
            f"{ftp_api.url}/api/v1/firmware?name=sim-2.0.bin",
            IMAGE,
            {"Authorization": f"Bearer {ftp_api.tokens[Role.OPERATOR]}"},
        )
        assert status == 201
        body = {"firmwareId": json.loads(image)["firmwareId"]}
        update = await operator("POST", "/charge-points/SIM1/firmware-updates", body)
        assert update.status == 201 and update.body["transport"] == "ftp", update.body
        installed = await until(
            operator,
            f"/firmware-updates/{update.body['jobId']}",
            lambda b: b["endedAt"],
            timeout=60,
        )
        assert installed["status"] == "Installed", installed
        assert station.firmware_image == IMAGE


@pytest.mark.parametrize("settings", [{"tls": True}], indirect=True)
async def test_explicit_ftps_with_the_servers_certificate(ftp_api: Api, tmp_path: Path) -> None:
    """AUTH TLS, PBSZ 0, PROT P: control and data connections encrypted, checked by curl
    against the CA; plain FTP still works for chargers without TLS."""
    authority = tmp_path / "pki" / "ocppd-test-CA.pem"
    payload = tmp_path / "secret.log"
    payload.write_bytes(b"confidential diagnostics\n" * 5000)
    async with charge_point(ftp_api) as cp:
        job, upload = await diagnostics_job(ftp_api, cp)
        tls = ("--ssl-reqd", "--cacert", str(authority))
        assert await curl(*tls, "-T", str(payload), upload) == (0, "")
        done = (await ftp_api.client(Role.VIEWER)("GET", f"/diagnostics/{job['jobId']}")).body
        assert done["file"]["sha256"] == hashlib.sha256(payload.read_bytes()).hexdigest()
        _, download = await firmware_job(ftp_api, cp)
        saved = tmp_path / "image.bin"
        assert await curl(*tls, "-o", str(saved), download) == (0, "")
        assert saved.read_bytes() == IMAGE
        assert await curl("-o", str(tmp_path / "plain.bin"), download) == (0, "")
        # A certificate the client does not trust: refused before any credential is sent.
        other = TestCa(tmp_path / "other", "another CA").cert
        status, said = await curl("--ssl-reqd", "--cacert", str(other), "-o", "x", download)
        assert status == 60, said  # peer certificate cannot be authenticated

        def before_tls() -> tuple[str, str]:
            with ftplib.FTP() as ftp:
                ftp.connect("127.0.0.1", credentials(download)[2], timeout=60)
                return refusal(lambda: ftp.sendcmd("PROT P")), refusal(
                    lambda: ftp.sendcmd("AUTH XYZ")
                )

        assert await asyncio.to_thread(before_tls) == ("503", "504")


def ftps(ca_file: Path) -> TransferOptions:
    """`ocppd simulate --upload-method ftp --ftp-tls --ca-file CA_FILE`."""
    trusted = ssl.create_default_context(cafile=str(ca_file))
    return TransferOptions(timeout=30, protocols="ftp", ftp_tls=True, ssl=trusted)


@pytest.mark.parametrize("settings", [{"tls": True}], indirect=True)
async def test_ocppds_simulator_over_explicit_ftps(ftp_api: Api, tmp_path: Path) -> None:
    """The simulator's FTPS (AUTH TLS before the login, PROT P) against ocppd's server: the
    upload and the download go through, and a server certificate it does not trust fails
    them (so TLS was spoken: plain FTP would not have looked at a certificate)."""
    operator = ftp_api.client(Role.OPERATOR)
    authority = tmp_path / "pki" / "ocppd-test-CA.pem"
    async with ftp_station(ftp_api, options=ftps(authority)) as station:
        asked = await operator("POST", "/charge-points/SIM1/diagnostics")
        done = await until(
            operator, f"/diagnostics/{asked.body['jobId']}", lambda b: b["endedAt"], timeout=60
        )
        assert done["status"] == "Uploaded", done
        file = await operator("GET", f"/diagnostics/{asked.body['jobId']}/file")
        assert hashlib.sha256(file.raw).hexdigest() == done["file"]["sha256"]
        _, image = await http(
            "POST",
            f"{ftp_api.url}/api/v1/firmware?name=sim-3.0.bin",
            IMAGE,
            {"Authorization": f"Bearer {ftp_api.tokens[Role.OPERATOR]}"},
        )
        body = {"firmwareId": json.loads(image)["firmwareId"]}
        update = await operator("POST", "/charge-points/SIM1/firmware-updates", body)
        installed = await until(
            operator, f"/firmware-updates/{update.body['jobId']}", lambda b: b["endedAt"]
        )
        assert installed["status"] == "Installed", installed
        assert station.firmware_image == IMAGE
    other = TestCa(tmp_path / "other", "another CA").cert
    async with ftp_station(ftp_api, "SIM2", options=ftps(other)):
        asked = await operator("POST", "/charge-points/SIM2/diagnostics")
        failed = await until(
            operator, f"/diagnostics/{asked.body['jobId']}", lambda b: b["endedAt"], timeout=60
        )
        assert failed["status"] == "UploadFailed", failed


async def test_the_simulators_ftps_fails_on_a_server_without_tls(
    ftp_api: Api, tmp_path: Path
) -> None:
    """AUTH TLS answered 502: the transfer fails rather than going on in the clear."""
    authority = TestCa(tmp_path / "pki").cert
    operator = ftp_api.client(Role.OPERATOR)
    async with ftp_station(ftp_api, options=ftps(authority)):
        asked = await operator("POST", "/charge-points/SIM1/diagnostics")
        failed = await until(
            operator, f"/diagnostics/{asked.body['jobId']}", lambda b: b["endedAt"], timeout=60
        )
        assert failed["status"] == "UploadFailed", failed
        assert failed["file"] is None


async def test_auth_tls_without_a_certificate_is_refused(ftp_api: Api) -> None:
    async with charge_point(ftp_api) as cp:
        _, upload = await diagnostics_job(ftp_api, cp)
        status, said = await curl("--ssl-reqd", "-T", "/etc/hostname", upload)
        assert status == 64, said  # "requested FTP SSL level failed"


async def test_the_job_commands_take_a_transport(ftp_api: Api) -> None:
    async with charge_point(ftp_api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "d.log"}
        cp.replies["UpdateFirmware"] = {}
        asked = await cli(ftp_api, Role.OPERATOR, "diagnostics", "CP1", "--transport", "ftp")
        assert asked.exit_code == 0, asked.output
        assert json.loads(asked.output)["transport"] == "ftp"
        assert sent_location(cp, "GetDiagnostics").startswith("ftp://")
        status, image = await http(
            "POST",
            f"{ftp_api.url}/api/v1/firmware?name=cli.bin",
            IMAGE,
            {"Authorization": f"Bearer {ftp_api.tokens[Role.OPERATOR]}"},
        )
        assert status == 201
        firmware_id = str(json.loads(image)["firmwareId"])
        update = await cli(
            ftp_api, Role.OPERATOR, "firmware", "update", "CP1", firmware_id, "--transport", "ftp"
        )
        assert update.exit_code == 0, update.output
        assert json.loads(update.output)["transport"] == "ftp"
        assert sent_location(cp, "UpdateFirmware").endswith("/cli.bin")
        wrong = await cli(ftp_api, Role.OPERATOR, "diagnostics", "CP1", "--transport", "tftp")
        assert wrong.exit_code == 2 and "'--transport'" in wrong.output


def free_passive_ports(count: int) -> tuple[int, int]:
    """The first and last of `count` consecutive ports free now, below Linux's ephemeral
    range (32768-60999): the passive server binds them only at each PASV, and a port picked
    with bind(0) may be taken meanwhile by any socket's bind(0) or outgoing connection (one
    picked at import was minutes old, and the same in both xdist workers, whose tests of
    this range ran at once: '421 no free passive port')."""
    pick = random.SystemRandom()
    while True:
        first = pick.randrange(20000, 32768 - count)
        try:
            with ExitStack() as probes:
                for port in range(first, first + count):
                    probes.enter_context(socket.socket()).bind(("127.0.0.1", port))
        except OSError:
            continue
        return first, first + count - 1


@pytest.mark.parametrize(
    "settings", [{"ftp_passive_ports": lambda: free_passive_ports(1)}], indirect=True
)
async def test_data_connections_stay_within_the_passive_ports(ftp_api: Api, tmp_path: Path) -> None:
    passive = ftp_api.system.settings.ftp_passive_ports
    assert passive is not None
    epsv_port = f"(|||{passive[0]}|)"
    async with charge_point(ftp_api) as cp:
        _, download = await firmware_job(ftp_api, cp)
        login, password, port, _ = credentials(download)

        def two_clients() -> tuple[str, str, str]:
            with (
                logged_in(port, login, password) as first,
                logged_in(port, login, password) as second,
            ):
                held = first.sendcmd("EPSV")
                refused = refusal(lambda: second.sendcmd("EPSV"))  # the one port is taken
                first.quit()
                deadline = time.monotonic() + 60
                while True:  # the port comes back once the first connection has ended
                    try:
                        freed = second.sendcmd("EPSV")
                        break
                    except ftplib.error_temp:
                        assert time.monotonic() < deadline, "the passive port never came back"
                        time.sleep(0.05)
            return held, refused, freed

        held, refused, freed = await asyncio.to_thread(two_clients)
        assert held.startswith("229") and epsv_port in held
        assert refused == "421"
        assert epsv_port in freed
        saved = tmp_path / "image.bin"
        assert await curl("-o", str(saved), download) == (0, "")
        assert saved.read_bytes() == IMAGE
