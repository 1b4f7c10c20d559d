"""Diagnostics end to end: an operator asks over HTTP, ocppd's own simulator (a real charger
on a real socket) uploads to the location ocppd gave it, the file is downloadable; and the
upload endpoint against hostile requests."""

import asyncio
import hashlib
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ocppd.api.tokens import Role
from ocppd.chargepoint import ChargerModel, Clock, Station
from ocppd.chargepoint.files import TransferOptions, UploadMethod
from ocppd.csms import registration
from tests.api.conftest import Api, Client, charge_point
from tests.csms.conftest import FixedClock


@pytest.fixture(autouse=True)
def data_dir(api: Api, tmp_path: Path) -> Path:
    api.system.settings.data_dir = tmp_path / "data"
    return api.system.settings.data_dir


@asynccontextmanager
async def simulator(
    api: Api, identity: str = "SIM1", method: UploadMethod = "PUT"
) -> AsyncIterator[Station]:
    """ocppd's simulator as the charger, registered and booted, on a fast clock."""
    async with api.system.engine.begin() as db:
        await registration.register(db, identity)
    station = Station(
        f"ws://127.0.0.1:{api.port}/ocpp",
        identity,
        model=ChargerModel(connectors=1, firmware_version="sim-1.0"),
        clock=Clock(speed=1000.0),
        file_transfer=TransferOptions(upload_method=method, timeout=5),
    )
    async with station:
        await station.wait_accepted()
        yield station


async def until(client: Client, path: str, done: Any, timeout: float = 10) -> dict[str, Any]:
    """GET `path` until `done(body)`."""
    async with asyncio.timeout(timeout):
        while True:
            body = (await client("GET", path)).body
            if done(body):
                return dict(body)
            await asyncio.sleep(0.05)


async def http(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None):
    """A charger's plain HTTP request: (status, body)."""

    def perform() -> tuple[int, bytes]:
        request = urllib.request.Request(
            url, data=body if method in ("PUT", "POST") else None, method=method
        )
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read()

    return await asyncio.to_thread(perform)


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def location_of(cp_calls: list[tuple[str, dict[str, Any]]]) -> str:
    return next(p["location"] for a, p in cp_calls if a == "GetDiagnostics")


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_the_simulator_uploads_and_the_operator_downloads(
    api: Api, data_dir: Path, method: UploadMethod
) -> None:
    operator = api.client(Role.OPERATOR)
    async with simulator(api, method=method):
        asked = await operator(
            "POST",
            "/charge-points/SIM1/diagnostics",
            {"startTime": "2026-11-25T10:00:00Z", "retries": 2, "retryInterval": 5},
        )
        assert asked.status == 201, asked.body
        job = asked.body
        assert (job["kind"], job["retries"]) == ("diagnostics", 2)
        assert job["status"] in ("Requested", "Uploading")  # the charger may be quick
        assert job["startTime"] == "2026-11-25T10:00:00Z" and job["file"] is None
        done = await until(
            operator, f"/diagnostics/{job['jobId']}", lambda b: b["status"] == "Uploaded"
        )
    assert [h["status"] for h in done["history"]] == ["Uploading", "Uploaded"]
    assert done["endedAt"] is not None and done["linkExpiresAt"] is None
    file = done["file"]
    assert file["name"].startswith("diagnostics-SIM1-") and file["name"].endswith(".log")

    downloaded = await operator("GET", f"/diagnostics/{job['jobId']}/file")
    assert downloaded.status == 200
    text = downloaded.body
    assert "identity: SIM1" in text and "firmware: sim-1.0" in text
    assert file["size"] == len(text.encode())
    assert file["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    # Only the file itself is left under the data directory, named by the job's id.
    assert files_under(data_dir) == [f"files/diagnostics/{job['jobId']}"]

    listed = await api.client(Role.VIEWER)("GET", "/charge-points/SIM1/diagnostics")
    assert [j["jobId"] for j in listed.body["items"]] == [job["jobId"]]
    assert listed.body["items"][0]["history"] is None
    assert (await api.client(Role.VIEWER)("GET", f"/diagnostics/{job['jobId']}/file")).status == 403


async def test_a_file_past_its_retention_is_deleted_and_its_job_says_when(
    api: Api, data_dir: Path, clock: FixedClock
) -> None:
    operator = api.client(Role.OPERATOR)
    async with simulator(api):
        job = (await operator("POST", "/charge-points/SIM1/diagnostics", {})).body
        path = f"/diagnostics/{job['jobId']}"
        await until(operator, path, lambda b: b["status"] == "Uploaded")
    assert api.system.settings.diagnostics_retention_days == 90
    clock.now += timedelta(days=89)
    assert await api.system.delete_old_files() == 0
    assert (await operator("GET", path + "/file")).status == 200

    clock.now += timedelta(days=2)
    assert await api.system.delete_old_files() == 1
    assert files_under(data_dir) == []
    file = (await operator("GET", path)).body["file"]
    assert file["deletedAt"] == clock.now.isoformat().replace("+00:00", "Z")
    assert file["size"] > 0 and len(file["sha256"]) == 64, "the file's details stay"
    gone = await operator("GET", path + "/file")
    assert gone.status == 410, gone.body
    assert "was deleted" in gone.body["error"] and "kept 90 days" in gone.body["error"]
    assert await api.system.delete_old_files() == 0, "once"


async def test_the_link_is_single_use_and_nothing_half_written_is_kept(
    api: Api, data_dir: Path
) -> None:
    operator = api.client(Role.OPERATOR)
    api.system.settings.max_file_size = 1000
    async with charge_point(api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "diag.tar.gz"}
        job = (await operator("POST", "/charge-points/CP1/diagnostics")).body
        assert job["status"] == "Requested"
        location = location_of(cp.received)
        assert location.startswith(api.url + "/files/diagnostics/") and location.endswith("/")

        assert (await http("PUT", location + "diag.tar.gz", b"x" * 1001))[0] == 413
        announced = {"Content-Length": "99999999"}
        assert (await http("PUT", location + "diag.tar.gz", b"x", announced))[0] in (400, 413)
        broken = {"Content-Type": "multipart/form-data; boundary=abc"}
        status, body = await http("POST", location, b"--abc\r\nnot a part", broken)
        assert status == 400 and b"multipart" in body
        no_file = b'--abc\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--abc--\r\n'
        assert (await http("POST", location, no_file, broken))[0] == 400
        assert files_under(data_dir) == []
        assert (await operator("GET", f"/diagnostics/{job['jobId']}")).body["file"] is None

        assert (await http("PUT", location + "..%2F..%2Fescape", b"x"))[0] == 404
        status, body = await http("PUT", location + "..%5C..%5Cescape", b"diagnostics\n")
        assert status == 201
        assert (await http("PUT", location + "again", b"second"))[0] == 404  # used
        await cp.ask("DiagnosticsStatusNotification", {"status": "Uploaded"})

    done = (await operator("GET", f"/diagnostics/{job['jobId']}")).body
    assert done["file"]["name"] == "diag.tar.gz"  # what the charger answered
    assert done["file"]["size"] == len(b"diagnostics\n")
    assert (await operator("GET", f"/diagnostics/{job['jobId']}/file")).body == "diagnostics\n"
    assert files_under(data_dir) == [f"files/diagnostics/{job['jobId']}"]
    for wrong in ["nope", "", "a/b"]:
        assert (await http("PUT", f"{api.url}/files/diagnostics/{wrong}/f", b"x"))[0] == 404
    assert (await http("GET", location))[0] == 405


async def test_a_failed_command_leaves_no_job_and_a_second_job_supersedes_the_first(
    api: Api,
) -> None:
    operator = api.client(Role.OPERATOR)
    assert (await operator("POST", "/charge-points/CP1/diagnostics")).status == 404
    async with charge_point(api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "a.log"}
        first = (await operator("POST", "/charge-points/CP1/diagnostics")).body
        first_location = location_of(cp.received)
        cp.replies["GetDiagnostics"] = {}  # nothing to upload
        second = (await operator("POST", "/charge-points/CP1/diagnostics")).body
        assert second["status"] == "NothingToUpload" and second["endedAt"] is not None
        bad = await operator("POST", "/charge-points/CP1/diagnostics", {"retries": -1})
        assert bad.status == 400 and "retries" in bad.body["error"]
        unknown = await operator("POST", "/charge-points/CP1/diagnostics", {"location": "x"})
        assert unknown.status == 400
        await cp.ask("DiagnosticsStatusNotification", {"status": "Uploading"})
    assert (await http("PUT", first_location + "a.log", b"late"))[0] == 404
    jobs = (await operator("GET", "/charge-points/CP1/diagnostics")).body["items"]
    assert [(j["jobId"], j["status"]) for j in jobs] == [
        (second["jobId"], "NothingToUpload"),
        (first["jobId"], "Superseded"),
    ]
    assert (await operator("POST", "/charge-points/CP1/diagnostics")).status == 409
    assert len((await operator("GET", "/charge-points/CP1/diagnostics")).body["items"]) == 2
    assert (await operator("GET", "/diagnostics/999")).status == 404
    assert (await operator("GET", f"/diagnostics/{first['jobId']}/file")).status == 404
    assert (await operator("GET", "/charge-points/NOPE/diagnostics")).status == 404


async def test_the_location_uses_the_public_url_setting(api: Api) -> None:
    api.system.settings.public_url = "https://csms.example.com/ocppd"
    async with charge_point(api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "a.log"}
        await api.client(Role.OPERATOR)("POST", "/charge-points/CP1/diagnostics")
    assert location_of(cp.received).startswith("https://csms.example.com/ocppd/files/diagnostics/")


async def test_a_nul_in_the_answered_file_name_is_stored(api: Api) -> None:
    """As U+FFFD on PostgreSQL, whose text cannot hold NUL; the upload keeps that name."""
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "diag\x00.log"}
        asked = await operator("POST", "/charge-points/CP1/diagnostics")
        assert asked.status == 201 and asked.body["status"] == "Requested"
        assert (await http("PUT", location_of(cp.received) + "other.log", b"diag"))[0] == 201
    nul = "\ufffd" if api.system.engine.dialect.name == "postgresql" else "\x00"
    done = (await operator("GET", f"/diagnostics/{asked.body['jobId']}")).body
    assert done["file"]["name"] == f"diag{nul}.log"


@pytest.mark.parametrize(
    ("body", "field"), [({"stopTime": 0}, "stopTime"), ({"retries": "5"}, "retries")]
)
async def test_an_options_body_of_the_wrong_types_is_refused(
    api: Api, body: dict[str, Any], field: str
) -> None:
    """The body may be left out, and when given it is read as the document types it: a number
    is no date (Litestar alone read 0 as 1970), a string no number (found by schemathesis)."""
    async with charge_point(api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "a.log"}
        answer = await api.client(Role.OPERATOR)("POST", "/charge-points/CP1/diagnostics", body)
    assert answer.status == 400
    assert answer.body["field"] == field
    assert cp.received == []


@pytest.mark.parametrize("escaped_nul", [False, True])
async def test_a_body_nested_thousands_deep_is_a_400(api: Api, escaped_nul: bool) -> None:
    """Read without recursion of ours (it was a RecursionError: 500). With an escaped NUL
    the body is also searched for one, and that search is bounded too."""
    depth = 20_000
    inner = '"\\u0000"' if escaped_nul else "1"
    body = '{"stopTime":' + "[" * depth + inner + "]" * depth + "}"
    async with charge_point(api) as cp:
        answer = await api.client(Role.OPERATOR)(
            "POST", "/charge-points/CP1/diagnostics", raw=body.encode()
        )
    assert answer.status == 400, answer.body
    assert cp.received == []


async def test_the_message_log_hides_the_links_credentials(api: Api) -> None:
    """A viewer reading the message log cannot take a running job's link: its token (HTTP) or
    password (FTP, or an operator's own URL) is hidden; the charger got the real one."""
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["GetDiagnostics"] = {}
        asked = await operator("POST", "/charge-points/CP1/diagnostics", {})
        assert asked.status == 201, asked.body
        own = {"location": "https://someone:s3cret-word@files.example/up/"}
        sent = await operator("POST", "/charge-points/CP1/commands/GetDiagnostics", own)
        assert sent.status == 200, sent.body
    await api.system.writer.flush()
    ours, _ = [payload for action, payload in cp.received if action == "GetDiagnostics"]
    token = ours["location"].rstrip("/").rsplit("/", 1)[1]
    assert len(token) > 20  # the charger got the real link
    log = await api.client(Role.VIEWER)("GET", "/messages", chargePointId="CP1")
    frames = [item["frame"] for item in log.body["items"]]
    calls = [frame for frame in frames if frame[:1] == [2] and frame[2] == "GetDiagnostics"]
    assert token not in repr(calls) and "s3cret-word" not in repr(calls)
    shown = sorted(frame[3]["location"] for frame in calls)
    assert shown == sorted(
        [
            "https://someone:<redacted>@files.example/up/",
            ours["location"].replace(token, "<redacted>"),
        ]
    )


async def test_a_failed_upload_is_recorded_on_its_job_and_a_retry_works(
    api: Api, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Too large, or cut when the charger went mid-body: nothing kept, the job says why (as
    over FTP), no error in the log, and the link still takes the whole file."""
    operator = api.client(Role.OPERATOR)
    api.system.settings.max_file_size = 100_000
    events = api.system.events.subscribe()
    async with charge_point(api) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "diag.txt"}
        job = (await operator("POST", "/charge-points/CP1/diagnostics")).body
        path = f"/diagnostics/{job['jobId']}"
        location = location_of(cp.received)
        assert (await http("PUT", location + "big.txt", b"x" * 100_001))[0] == 413
        too_large = await until(operator, path, lambda b: b["transferError"])
        assert too_large["transferError"]["reason"] == (
            "upload of 'big.txt' over HTTP: the file is larger than 100000 bytes; nothing kept"
        )

        target = location.removeprefix(api.url)
        _, writer = await asyncio.open_connection("127.0.0.1", api.port)
        head = f"PUT {target}diag.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n"
        with caplog.at_level("WARNING"):
            writer.write(head.encode() + b"y" * 20_000)
            await writer.drain()
            writer.close()  # gone, 30,000 bytes short
            cut = await until(
                operator, path, lambda b: "cut" in (b["transferError"] or {}).get("reason", "")
            )
        assert cut["transferError"]["reason"] == (
            "upload of 'diag.txt' over HTTP: the connection was cut; nothing kept"
        )
        assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
        assert files_under(data_dir) == []
        assert cut["file"] is None

        assert (await http("PUT", location + "diag.txt", b"diagnostics\n"))[0] == 201
    done = (await operator("GET", path)).body
    assert done["file"]["size"] == len(b"diagnostics\n")
    assert files_under(data_dir) == [f"files/diagnostics/{job['jobId']}"]
    failed = []
    while len(failed) < 2:
        event = await events.next(timeout=30)
        assert event is not None, failed
        if event.type == "JobFileFailed":
            failed.append(event.data["reason"])
    assert "larger than" in failed[0] and "cut" in failed[1]
