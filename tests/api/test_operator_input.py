"""Hostile operator input over real HTTP, on SQLite and PostgreSQL (`api/operator_input.py`):
text that is no UTF-8 or holds a NUL, values longer than their columns, numbers beyond BIGINT,
dates without a UTC form. Each gets a 400 naming what is wrong (or the right empty answer);
nothing is stored, nothing is sent to the charge point, and the server keeps serving."""

from typing import Any

from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point

NOT_TEXT = ["%00", "a%00b", "%ff", "%ed%a0%80", "%c0%80"]
"""Percent-encoded path or query values: NUL, and byte sequences UTF-8 does not allow (a
lone 0xff, an encoded surrogate, an over-long NUL)."""
REPLACEMENT = "%EF%BF%BD"
"""U+FFFD, what PostgreSQL stores for a NUL and what `%ff` decodes to when bytes are replaced."""
NO_UTC = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]
"""Valid RFC 3339 dates whose UTC time is outside years 1 to 9999."""
BEYOND_BIGINT = [2**63, -(2**63) - 1]


def refused(answer: Any, field: str) -> None:
    assert answer.status == 400, answer.body
    assert answer.body["field"] == field, answer.body


def not_text(answer: Any, field: str) -> None:
    refused(answer, field)
    assert answer.body["reason"] in ("contains NUL (U+0000)", "not UTF-8"), answer.body
    assert answer.body["error"] == f"{field}: {answer.body['reason']}", answer.body


def out_of_range(answer: Any, field: str) -> None:
    refused(answer, field)
    assert answer.body["reason"] == "no UTC time within years 1 to 9999", answer.body


PATH_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/charge-points/{}", None),
    ("PUT", "/charge-points/{}", {}),
    ("PATCH", "/charge-points/{}", {"registrationStatus": "Rejected"}),
    ("DELETE", "/charge-points/{}", None),
    ("GET", "/charge-points/{}/configuration", None),
    ("GET", "/charge-points/{}/local-list", None),
    ("POST", "/charge-points/{}/local-list", {}),
    ("GET", "/charge-points/{}/charging-profiles", None),
    ("GET", "/charge-points/{}/connectors/1/composite-schedule", None),
    ("GET", "/charge-points/{}/diagnostics", None),
    ("POST", "/charge-points/{}/diagnostics", {}),
    ("POST", "/charge-points/{}/commands/Reset", {"type": "Soft"}),
    ("PUT", "/sites/S1/charge-points/{}", None),
    ("DELETE", "/sites/S1/charge-points/{}", None),
    ("GET", "/id-tags/{}", None),
    ("PUT", "/id-tags/{}", {"status": "Blocked"}),
    ("DELETE", "/id-tags/{}", None),
]


async def test_a_path_id_that_is_no_text_is_refused_and_never_aliases_a_stored_one(
    api: Api,
) -> None:
    admin = api.client(Role.ADMIN)
    # What such an id would become: U+FFFD (PostgreSQL's NUL; a replaced %ff).
    assert (await admin("PUT", f"/charge-points/{REPLACEMENT}", {})).status == 201
    assert (await admin("PUT", f"/id-tags/{REPLACEMENT}", {"status": "Accepted"})).status == 201
    assert (await admin("PUT", "/sites/S1", {"limit": 32})).status == 201
    for method, path, body in PATH_ROUTES:
        field = "idTag" if path.startswith("/id-tags") else "chargePointId"
        for segment in NOT_TEXT:
            answer = await admin(method, path.format(segment), body)
            not_text(answer, field)
    # Nothing was created, changed or deleted.
    points = (await admin("GET", "/charge-points")).body["items"]
    assert [(p["chargePointId"], p["registrationStatus"]) for p in points] == [
        ("\ufffd", "Accepted")
    ]
    tags = (await admin("GET", "/id-tags")).body["items"]
    assert [(t["idTag"], t["status"]) for t in tags] == [("\ufffd", "Accepted")]
    assert (await admin("GET", "/sites/S1")).body["chargePoints"] == []


QUERIES = [
    ("/transactions", "idTag"),
    ("/transactions", "chargePointId"),
    ("/reservations", "idTag"),
    ("/reservations", "chargePointId"),
    ("/messages", "chargePointId"),
    ("/messages", "action"),
    ("/charge-points", "cursor"),
    ("/id-tags", "cursor"),
    ("/sites", "cursor"),
]


async def test_a_query_value_that_is_no_text_is_refused(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    for path, name in QUERIES:
        for value in NOT_TEXT:
            not_text(await viewer("GET", f"{path}?{name}={value}"), name)
    # Checked wherever it is, and whatever the route does with it.
    not_text(await viewer("GET", "/charge-points?limit=5&connected=true&cursor=%ff"), "cursor")
    not_text(await viewer("GET", "/transactions?unknown=a%00b"), "unknown")
    not_text(await viewer("GET", "/id-tags?%ff=1"), "\ufffd")
    operator = api.client(Role.OPERATOR)
    not_text(await operator("POST", "/firmware?name=fw%ff.bin", raw=b"image"), "name")
    assert (await viewer("GET", "/firmware")).body["items"] == []


async def test_filters_longer_than_any_stored_value_match_nothing(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    async with charge_point(api) as cp:
        await cp.ask(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": "TAG1",
                "meterStart": 0,
                "timestamp": "2026-11-25T11:00:00Z",
            },
        )
    for path, name in QUERIES[:5]:
        answer = await viewer("GET", path, **{name: "x" * 300})
        assert (answer.status, answer.body["items"]) == (200, []), answer.body
    assert len((await viewer("GET", "/transactions", idTag="tag1")).body["items"]) == 1
    # Ids longer than their column cannot be named at all.
    admin = api.client(Role.ADMIN)
    assert (await admin("PUT", "/charge-points/" + "c" * 256, {})).status == 400
    assert (await admin("PUT", "/id-tags/" + "t" * 21, {"status": "Accepted"})).status == 400
    assert (await admin("GET", "/id-tags")).body["items"] == []


async def test_a_body_that_is_no_utf8_is_refused(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    for method, path in [("PUT", "/id-tags/T1"), ("PUT", "/sites/S1"), ("POST", "/tokens")]:
        answer = await admin(method, path, raw=b'{"status": "Accepted", "name": "\xff"}')
        assert answer.status == 400, answer.body
        assert answer.body["reason"] == "not UTF-8", answer.body
    assert (await admin("GET", "/id-tags/T1")).status == 404


async def test_nul_in_the_body_of_an_ocppd_resource_is_refused_and_nothing_stored(
    api: Api,
) -> None:
    admin = api.client(Role.ADMIN)
    for method, path, body, field in [
        ("PUT", "/id-tags/T1", {"status": "Accepted", "parentIdTag": "P\x00"}, "parentIdTag"),
        ("PUT", "/charge-points/CP9", {"authorizationKey": "k\x00"}, "authorizationKey"),
        ("POST", "/tokens", {"role": "viewer", "name": "\x00"}, "name"),
        ("PUT", "/sites/S1", {"name": "a\x00", "limit": 32}, "name"),
        ("PUT", "/sites/S1", {"limit": 32, "schedule": [{"start": "\x00"}]}, "schedule[0].start"),
        ("PATCH", "/sites/S1", {"name\x00": "x"}, "name\x00"),
    ]:
        answer = await admin(method, path, body)
        refused(answer, field)
        assert answer.body["reason"] == "contains NUL (U+0000)"
    assert (await admin("GET", "/id-tags/T1")).status == 404
    assert (await admin("GET", "/charge-points/CP9")).status == 404
    assert (await admin("GET", "/sites/S1")).status == 404
    assert [t["name"] for t in (await admin("GET", "/tokens")).body] == [
        "viewer",
        "operator",
        "admin",
    ]


async def test_nul_in_an_ocpp_payload_is_sent_as_written(api: Api) -> None:
    """A command's body is the protocol's: NUL is valid JSON there."""
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["ChangeConfiguration"] = {"status": "Accepted"}
        body = {"key": "MeterValueSampleInterval", "value": "6\x000"}
        answer = await operator("POST", "/charge-points/CP1/commands/ChangeConfiguration", body)
        assert answer.body == {"status": "Accepted"}
        assert cp.received[-1] == ("ChangeConfiguration", body)


async def test_a_token_name_longer_than_its_column_is_refused(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    refused(await admin("POST", "/tokens", {"role": "viewer", "name": "n" * 256}), "name")
    assert (await admin("POST", "/tokens", {"role": "viewer", "name": "n" * 255})).status == 201
    assert [len(t["name"]) for t in (await admin("GET", "/tokens")).body][-1] == 255


async def test_numbers_beyond_their_columns(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    for path in [
        "/transactions/{}",
        "/transactions/{}/meter-values.csv",
        "/reservations/{}",
        "/diagnostics/{}",
        "/firmware-updates/{}",
        "/firmware/{}",
    ]:
        for number in BEYOND_BIGINT:
            answer = await viewer("GET", path.format(number))
            assert answer.status == 400, (path, answer.body)
    for path in ["/transactions", "/reservations", "/messages", "/firmware"]:
        for cursor in BEYOND_BIGINT:
            refused(await viewer("GET", path, cursor=cursor), "cursor")
        assert (await viewer("GET", path, cursor=-1)).body["items"] == []
        for limit in [0, -1, 1001, 2**63]:
            assert (await viewer("GET", path, limit=limit)).status == 400
    answer = await api.client(Role.ADMIN)("DELETE", f"/tokens/{2**63}")
    assert answer.status == 400


async def test_a_date_without_a_utc_form_is_refused(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    async with charge_point(api) as cp:
        for path, name in [
            ("/transactions", "since"),
            ("/transactions", "until"),
            ("/messages", "since"),
            ("/messages", "until"),
            ("/charge-points/CP1/connectors/1/composite-schedule", "start"),
        ]:
            for date in NO_UTC:
                out_of_range(await admin("GET", path, **{name: date}), name)
        image = (await admin("POST", "/firmware?name=fw.bin", raw=b"image")).body
        update = {"firmwareId": image["firmwareId"], "retrieveDate": "{}"}
        for method, path, body, field in [
            ("PUT", "/id-tags/T1", {"status": "Accepted", "expiryDate": "{}"}, "expiryDate"),
            ("POST", "/charge-points/CP1/diagnostics", {"startTime": "{}"}, "startTime"),
            ("POST", "/charge-points/CP1/diagnostics", {"stopTime": "{}"}, "stopTime"),
            ("POST", "/charge-points/CP1/firmware-updates", update, "retrieveDate"),
            *_commands(),
        ]:
            for date in NO_UTC:
                out_of_range(await admin(method, path, _fill(body, date)), field)
        assert cp.received == []
    assert (await admin("GET", "/id-tags/T1")).status == 404
    assert (await admin("GET", "/charge-points/CP1/diagnostics")).body["items"] == []
    assert (await admin("GET", "/charge-points/CP1/firmware-updates")).body["items"] == []
    assert (await admin("GET", "/reservations")).body["items"] == []


def _commands() -> list[tuple[str, str, Any, str]]:
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "validTo": "{}",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": "2026-11-25T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
        },
    }
    entry = {"idTag": "A", "idTagInfo": {"status": "Accepted", "expiryDate": "{}"}}
    command = "/charge-points/CP1/commands/"
    return [
        (
            "POST",
            command + "ReserveNow",
            {"connectorId": 1, "expiryDate": "{}", "idTag": "T", "reservationId": 1},
            "$.expiryDate",
        ),
        (
            "POST",
            command + "SetChargingProfile",
            {"connectorId": 0, "csChargingProfiles": profile},
            "$.csChargingProfiles.validTo",
        ),
        (
            "POST",
            command + "SendLocalList",
            {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [entry]},
            "$.localAuthorizationList[0].idTagInfo.expiryDate",
        ),
    ]


def _fill(body: Any, date: str) -> Any:
    if isinstance(body, dict):
        return {key: _fill(value, date) for key, value in body.items()}
    if isinstance(body, list):
        return [_fill(item, date) for item in body]
    return date if body == "{}" else body


async def test_dates_with_an_offset_are_kept_as_the_same_instant(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies |= {"GetDiagnostics": {}, "UpdateFirmware": {}}
        job = await operator(
            "POST",
            "/charge-points/CP1/diagnostics",
            {"startTime": "2030-01-01T00:00:00+02:00", "stopTime": "2030-01-01T00:00:00-05:30"},
        )
        assert job.status == 201, job.body
        assert (job.body["startTime"], job.body["stopTime"]) == (
            "2029-12-31T22:00:00Z",
            "2030-01-01T05:30:00Z",
        )
        image = (await operator("POST", "/firmware?name=fw.bin", raw=b"image")).body
        update = await operator(
            "POST",
            "/charge-points/CP1/firmware-updates",
            {"firmwareId": image["firmwareId"], "retrieveDate": "2030-01-01T00:00:00+02:00"},
        )
        assert update.body["retrieveDate"] == "2029-12-31T22:00:00Z"
        # The latest date there is: the link expires at the end of time, not 24 h after it.
        latest = await operator(
            "POST",
            "/charge-points/CP1/firmware-updates",
            {"firmwareId": image["firmwareId"], "retrieveDate": "9999-12-31T23:00:00Z"},
        )
        assert latest.status == 201, latest.body
        assert latest.body["linkExpiresAt"].startswith("9999-12-31T23:59:59")
    stored = (await operator("GET", f"/diagnostics/{job.body['jobId']}")).body
    assert stored["startTime"] == "2029-12-31T22:00:00Z"


async def test_the_server_keeps_serving_after_hostile_input(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    for _ in range(3):
        for value in NOT_TEXT:
            assert (await viewer("GET", f"/transactions?idTag={value}")).status == 400
        assert (await viewer("GET", "/transactions", since=NO_UTC[0])).status == 400
    assert (await viewer("GET", "/transactions")).status == 200
    assert (await viewer("GET", "/charge-points")).status == 200
