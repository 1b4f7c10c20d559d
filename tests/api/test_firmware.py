"""Firmware end to end: an operator uploads an image, ocppd's simulator downloads it from the
link ocppd gives, installs it, reboots with the new version; the job follows to Installed."""

import asyncio
import hashlib
import json
from pathlib import Path

from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point
from tests.api.test_diagnostics import data_dir, files_under, http, simulator, until

__all__ = ["data_dir"]  # the autouse fixture: files under the test's temporary directory

IMAGE = b"\x7fELF sim firmware 2.0\n" * 500


def bearer(api: Api, role: Role = Role.OPERATOR) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[role]}"}


async def upload(api: Api, body: bytes, query: str = "?name=sim-2.0.bin", **headers: str):
    status, answer = await http(
        "POST", f"{api.url}/api/v1/firmware{query}", body, {**bearer(api), **headers}
    )
    return status, json.loads(answer)


async def test_the_simulator_downloads_installs_and_reports_installed(
    api: Api, data_dir: Path
) -> None:
    status, image = await upload(api, IMAGE)
    assert status == 201, image
    assert (image["name"], image["size"]) == ("sim-2.0.bin", len(IMAGE))
    assert image["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    operator = api.client(Role.OPERATOR)
    async with simulator(api) as station:
        asked = await operator(
            "POST",
            "/charge-points/SIM1/firmware-updates",
            {"firmwareId": image["firmwareId"], "retrieveDate": "2026-11-25T11:00:00Z"},
        )
        assert asked.status == 201, asked.body
        job = asked.body
        assert job["kind"] == "firmware" and job["firmwareId"] == image["firmwareId"]
        done = await until(
            operator, f"/firmware-updates/{job['jobId']}", lambda b: b["endedAt"] is not None
        )
        assert station.firmware_image == IMAGE
    assert done["status"] == "Installed"
    assert [h["status"] for h in done["history"]] == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    charger = (await operator("GET", "/charge-points/SIM1")).body
    assert charger["boot"]["firmwareVersion"] == "sim-2.0"  # read from the link's last segment
    listed = (await operator("GET", "/charge-points/SIM1/firmware-updates")).body["items"]
    assert [j["jobId"] for j in listed] == [job["jobId"]]
    assert files_under(data_dir) == [f"files/firmware/{image['firmwareId']}"]


async def test_the_link_serves_until_the_job_ends(api: Api) -> None:
    _, image = await upload(api, IMAGE)
    async with charge_point(api) as cp:
        cp.replies["UpdateFirmware"] = {}
        job = (
            await api.client(Role.OPERATOR)(
                "POST", "/charge-points/CP1/firmware-updates", {"firmwareId": image["firmwareId"]}
            )
        ).body
        [location] = [p["location"] for a, p in cp.received if a == "UpdateFirmware"]
        assert location.startswith(api.url + "/files/firmware/")
        assert location.endswith("/sim-2.0.bin")
        for _ in range(2):  # a retry, or a resumed download
            assert await http("GET", location) == (200, IMAGE)
        token = location.split("/")[-2]
        assert (await http("GET", f"{api.url}/files/firmware/{token}/other.bin"))[0] == 200
        assert (await http("GET", f"{api.url}/files/firmware/x{token}/sim-2.0.bin"))[0] == 404
        await cp.ask("FirmwareStatusNotification", {"status": "Downloading"})
        await cp.ask("FirmwareStatusNotification", {"status": "DownloadFailed"})
    assert (await http("GET", location))[0] == 404
    ended = (await api.client(Role.VIEWER)("GET", f"/firmware-updates/{job['jobId']}")).body
    assert (ended["status"], ended["linkExpiresAt"]) == ("DownloadFailed", None)


async def test_uploads_by_multipart_and_hostile_uploads(api: Api, data_dir: Path) -> None:
    form = (
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="comment"\r\n\r\nfor the fleet\r\n'
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="file"; filename="../../etc/fw-3.1.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + IMAGE + b"\r\n--xyz--\r\n"
    )
    status, image = await upload(
        api, form, "", **{"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert status == 201, image
    assert (image["name"], image["size"]) == ("fw-3.1.bin", len(IMAGE))

    unnamed = IMAGE + b"2"
    status, named = await upload(api, unnamed, "")
    sha256 = hashlib.sha256(unnamed).hexdigest()
    assert status == 201 and named["name"] == f"firmware-{sha256[:12]}.bin", named
    api.system.settings.max_file_size = len(IMAGE) - 1
    status, problem = await upload(api, IMAGE)
    assert status == 413 and str(len(IMAGE) - 1) in problem["error"]
    status, _ = await http(
        "POST", f"{api.url}/api/v1/firmware?name=a.bin", IMAGE, bearer(api, Role.VIEWER)
    )
    assert status == 403
    kept = [image["firmwareId"], named["firmwareId"]]
    assert files_under(data_dir) == sorted(f"files/firmware/{id}" for id in kept)
    listed = (await api.client(Role.VIEWER)("GET", "/firmware")).body["items"]
    assert [i["firmwareId"] for i in listed] == kept[::-1]
    one = await api.client(Role.VIEWER)("GET", f"/firmware/{image['firmwareId']}")
    assert one.body == image
    assert (await api.client(Role.VIEWER)("GET", "/firmware/77")).status == 404


async def test_an_unknown_image_or_charge_point_is_refused_before_sending(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    _, image = await upload(api, IMAGE)
    unknown = await operator("POST", "/charge-points/CP1/firmware-updates", {"firmwareId": 99})
    assert unknown.status == 404 and unknown.body["field"] == "firmwareId"
    missing = await operator(
        "POST", "/charge-points/NOPE/firmware-updates", {"firmwareId": image["firmwareId"]}
    )
    assert missing.status == 404
    naive = await operator(
        "POST",
        "/charge-points/CP1/firmware-updates",
        {"firmwareId": image["firmwareId"], "retrieveDate": "2026-11-25T11:00:00"},
    )
    assert naive.status == 400
    assert (await operator("GET", "/firmware-updates/1")).status == 404


async def test_the_same_bytes_twice_answer_the_image_kept_before(api: Api, data_dir: Path) -> None:
    status, first = await upload(api, IMAGE)
    assert status == 201, first
    status, again = await upload(api, IMAGE, "?name=other-name.bin")
    assert (status, again) == (200, first), "the image kept before, its name unchanged"
    status, different = await upload(api, IMAGE + b"\n")
    assert status == 201 and different["firmwareId"] != first["firmwareId"]
    listed = (await api.client(Role.VIEWER)("GET", "/firmware")).body["items"]
    assert sorted(i["firmwareId"] for i in listed) == [first["firmwareId"], different["firmwareId"]]
    assert files_under(data_dir) == sorted(
        f"files/firmware/{i}" for i in (first["firmwareId"], different["firmwareId"])
    )


async def test_the_same_bytes_at_the_same_moment_make_one_image(api: Api, data_dir: Path) -> None:
    """The unique SHA-256 (migration 0014) decides between uploads racing each other."""
    answers = await asyncio.gather(*(upload(api, IMAGE, f"?name=fw-{n}.bin") for n in range(4)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 200, 200, 201], answers
    assert len({json.dumps(image, sort_keys=True) for _, image in answers}) == 1
    listed = (await api.client(Role.VIEWER)("GET", "/firmware")).body["items"]
    assert len(listed) == 1 and files_under(data_dir) == [
        f"files/firmware/{listed[0]['firmwareId']}"
    ]
