"""GetLog jobs end to end over real HTTP and a charger on a real socket: the request, the
charger's LogStatusNotifications matched by requestId, the one-time upload link, the download;
and the hostile cases (an unknown requestId, a used link, a refused GetLog)."""

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ocppd.api.tokens import Role
from ocppd.csms import jobs, models
from ocppd.csms.files import FileStore
from tests.api.conftest import Api, CallError, charge_point
from tests.api.test_commands import with_security_extension
from tests.api.test_diagnostics import data_dir, files_under, http, until
from tests.csms.conftest import FixedClock

__all__ = ["data_dir"]  # the autouse fixture: files under the test's temporary directory


def get_log(cp: Any) -> dict[str, Any]:
    payload: dict[str, Any] = next(p for a, p in reversed(cp.received) if a == "GetLog")
    return payload


async def statuses(api: Api) -> list[tuple[Any, str]]:
    async with api.system.engine.connect() as db:
        s = models.job_statuses.c
        rows = await db.execute(
            sa.select(s.job_id, s.status).where(s.kind == jobs.LOG).order_by(s.id)
        )
        return [(row.job_id, row.status) for row in rows]


async def test_a_security_log_is_asked_for_uploaded_once_and_downloaded(
    api: Api, data_dir: Path
) -> None:
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    async with charge_point(api) as cp:
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "security.log"}
        asked = await operator(
            "POST",
            "/charge-points/CP1/logs",
            {
                "logType": "SecurityLog",
                "oldestTimestamp": "2026-11-24T00:00:00+01:00",
                "retries": 3,
                "retryInterval": 10,
            },
        )
        assert asked.status == 201, asked.body
        job = asked.body
        sent = get_log(cp)
        assert sent["logType"] == "SecurityLog" and sent["retries"] == 3
        assert sent["requestId"] == job["requestId"] and 1 <= job["requestId"] < 2**31
        location = sent["log"]["remoteLocation"]
        assert location.startswith(f"{api.url}/files/log/") and location.endswith("/")
        assert sent["log"]["oldestTimestamp"] == "2026-11-23T23:00:00Z"
        assert "latestTimestamp" not in sent["log"]
        assert (job["kind"], job["logType"], job["status"]) == ("log", "SecurityLog", "Requested")
        assert job["startTime"] == "2026-11-23T23:00:00Z"

        uploading = {"status": "Uploading", "requestId": job["requestId"]}
        assert await cp.ask("LogStatusNotification", uploading) == {}
        body = b"2026-11-25T12:00:00Z StartupOfTheDevice\n" * 100
        assert (await http("PUT", location + "security.log", body))[0] == 201
        # The link is used: a second upload is refused and replaces nothing.
        again = await http("PUT", location + "other.log", b"replaced")
        assert again[0] == 404
        assert (await http("POST", location, b"replaced"))[0] == 404
        uploaded = {"status": "Uploaded", "requestId": job["requestId"]}
        assert await cp.ask("LogStatusNotification", uploaded) == {}

    done = await until(operator, f"/logs/{job['jobId']}", lambda b: b["endedAt"] is not None)
    assert done["status"] == "Uploaded"
    assert [h["status"] for h in done["history"]] == ["Uploading", "Uploaded"]
    assert done["file"]["name"] == "security.log"
    assert done["file"]["sha256"] == hashlib.sha256(body).hexdigest()
    downloaded = await operator("GET", f"/logs/{job['jobId']}/file")
    assert downloaded.status == 200 and downloaded.body == body.decode()
    assert files_under(data_dir) == [f"files/log/{job['jobId']}"]
    # A viewer sees the jobs, not the file.
    viewer = api.client(Role.VIEWER)
    listed = await viewer("GET", "/charge-points/CP1/logs")
    assert [item["jobId"] for item in listed.body["items"]] == [job["jobId"]]
    assert (await viewer("GET", f"/logs/{job['jobId']}/file")).status == 403


async def test_statuses_go_to_the_job_their_request_id_names_or_to_none(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    await with_security_extension(api, "CP2")
    async with charge_point(api) as cp, charge_point(api, "CP2") as other:
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "d.log"}
        first = (
            await operator("POST", "/charge-points/CP1/logs", {"logType": "DiagnosticsLog"})
        ).body
        second = await operator("POST", "/charge-points/CP1/logs", {"logType": "SecurityLog"})
        second_job = second.body
        assert second.status == 201
        # An unknown requestId, one of another charger's job, a negative and a huge one: each
        # acknowledged and kept, counted for no job.
        for request_id in (first["requestId"] ^ 1, -5, 2**40):
            notification = {"status": "UploadFailure", "requestId": request_id}
            assert await cp.ask("LogStatusNotification", notification) == {}
        theirs = {"status": "UploadFailure", "requestId": second_job["requestId"]}
        assert await other.ask("LogStatusNotification", theirs) == {}
        # The first job was superseded: its status stays, its history gets the row.
        late = {"status": "Uploading", "requestId": first["requestId"]}
        assert await cp.ask("LogStatusNotification", late) == {}
        # Idle (the answer to a trigger) has no requestId: kept with the newest open job, whose
        # status it does not change.
        assert await cp.ask("LogStatusNotification", {"status": "Idle"}) == {}
        # Without a requestId: the newest open job.
        assert await cp.ask("LogStatusNotification", {"status": "Uploading"}) == {}
    first_now = (await operator("GET", f"/logs/{first['jobId']}")).body
    assert first_now["status"] == "Superseded"
    assert [h["status"] for h in first_now["history"]] == ["Uploading"]
    second_now = (await operator("GET", f"/logs/{second_job['jobId']}")).body
    assert second_now["status"] == "Uploading" and second_now["endedAt"] is None
    assert [h["status"] for h in second_now["history"]] == ["Idle", "Uploading"]
    assert await statuses(api) == [
        (None, "UploadFailure"),
        (None, "UploadFailure"),
        (None, "UploadFailure"),
        (None, "UploadFailure"),
        (first["jobId"], "Uploading"),
        (second_job["jobId"], "Idle"),
        (second_job["jobId"], "Uploading"),
    ]


async def test_a_refused_get_log_ends_the_job_and_its_link(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    async with charge_point(api) as cp:
        cp.replies["GetLog"] = {"status": "Rejected"}
        job = (await operator("POST", "/charge-points/CP1/logs", {"logType": "SecurityLog"})).body
        location = get_log(cp)["log"]["remoteLocation"]
        assert (job["status"], job["endedAt"] is not None) == ("Rejected", True)
        assert (await http("PUT", location + "x.log", b"late"))[0] == 404
        # A CALLERROR: nothing is kept of the job.
        cp.replies["GetLog"] = CallError("NotImplemented", "no logs here")
        failed = await operator("POST", "/charge-points/CP1/logs", {"logType": "DiagnosticsLog"})
        assert failed.status == 502 and failed.body["code"] == "NotImplemented"
    listed = (await operator("GET", "/charge-points/CP1/logs")).body["items"]
    assert [item["jobId"] for item in listed] == [job["jobId"]]


async def test_bad_requests_are_refused_before_anything_is_sent(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    async with charge_point(api) as cp:
        for body, field in [
            ({}, "logType"),
            ({"logType": "AuditLog"}, "logType"),
            ({"logType": "SecurityLog", "retries": -1}, "retries"),
            ({"logType": "SecurityLog", "oldestTimestamp": "yesterday"}, "oldestTimestamp"),
            ({"logType": "SecurityLog", "requestId": 5}, "requestId"),
        ]:
            answer = await operator("POST", "/charge-points/CP1/logs", body)
            assert answer.status == 400, (body, answer.body)
            assert field in str(answer.body), (body, answer.body)
        assert [a for a, _ in cp.received] == []
    unknown = await operator("POST", "/charge-points/NOBODY/logs", {"logType": "SecurityLog"})
    assert unknown.status == 404
    offline = await operator("POST", "/charge-points/CP1/logs", {"logType": "SecurityLog"})
    assert offline.status == 409
    viewer = await api.client(Role.VIEWER)("POST", "/charge-points/CP1/logs", {"logType": "x"})
    assert viewer.status == 403
    assert (await operator("GET", "/logs/123/file")).status == 404


async def test_log_files_are_deleted_after_their_retention(
    api: Api, data_dir: Path, clock: FixedClock
) -> None:
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    async with charge_point(api) as cp:
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "s.log"}
        job = (await operator("POST", "/charge-points/CP1/logs", {"logType": "SecurityLog"})).body
        location = get_log(cp)["log"]["remoteLocation"]
        assert (await http("PUT", location + "s.log", b"log"))[0] == 201
    store = FileStore(data_dir)
    assert store.path(jobs.LOG, job["jobId"]).is_file()
    clock.now += timedelta(days=api.system.settings.diagnostics_retention_days + 1)
    assert await api.system.delete_old_files() == 1
    assert not store.path(jobs.LOG, job["jobId"]).exists()
    gone = await operator("GET", f"/logs/{job['jobId']}/file")
    assert gone.status == 410
