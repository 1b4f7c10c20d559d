"""Every command a central system sends, over real HTTP, to a charge point on a real socket."""

import asyncio

import pytest
import sqlalchemy as sa

from ocppd.api.commands import ACTIONS
from ocppd.api.tokens import Role
from ocppd.csms import models, registration
from tests.api.conftest import Api, CallError, Silent, charge_point

PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    },
}

HASH_DATA = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a" * 64,
    "issuerKeyHash": "b" * 64,
    "serialNumber": "1f",
}

# action: (request body, what the charge point answers)
COMMANDS = {
    "CancelReservation": ({"reservationId": 7}, {"status": "Accepted"}),
    "ChangeAvailability": ({"connectorId": 1, "type": "Inoperative"}, {"status": "Scheduled"}),
    "ChangeConfiguration": (
        {"key": "HeartbeatInterval", "value": "60"},
        {"status": "RebootRequired"},
    ),
    "ClearCache": ({}, {"status": "Accepted"}),
    "ClearChargingProfile": ({"id": 1}, {"status": "Unknown"}),
    "DataTransfer": (
        {"vendorId": "com.example", "messageId": "Ping", "data": "x"},
        {"status": "Accepted", "data": "pong"},
    ),
    "GetCompositeSchedule": (
        {"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"},
        {
            "status": "Accepted",
            "connectorId": 1,
            "scheduleStart": "2026-11-25T12:00:00Z",
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
            },
        },
    ),
    "GetConfiguration": (
        {"key": ["HeartbeatInterval", "Nope"]},
        {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknownKey": ["Nope"],
        },
    ),
    "GetDiagnostics": (
        {"location": "ftp://example.com/upload", "retries": 2},
        {"fileName": "diag.zip"},
    ),
    "GetLocalListVersion": ({}, {"listVersion": 3}),
    "RemoteStartTransaction": (
        {
            "idTag": "TAG1",
            "connectorId": 1,
            "chargingProfile": {**PROFILE, "chargingProfilePurpose": "TxProfile"},
        },
        {"status": "Accepted"},
    ),
    "RemoteStopTransaction": ({"transactionId": 42}, {"status": "Rejected"}),
    "ReserveNow": (
        {
            "connectorId": 0,
            "expiryDate": "2026-11-25T13:00:00Z",
            "idTag": "TAG1",
            "reservationId": 9,
        },
        {"status": "Occupied"},
    ),
    "Reset": ({"type": "Soft"}, {"status": "Accepted"}),
    "SendLocalList": (
        {
            "listVersion": 4,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "TAG1", "idTagInfo": {"status": "Accepted"}}],
        },
        {"status": "Accepted"},
    ),
    "SetChargingProfile": (
        {"connectorId": 1, "csChargingProfiles": PROFILE},
        {"status": "Accepted"},
    ),
    "TriggerMessage": (
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        {"status": "Accepted"},
    ),
    "UnlockConnector": ({"connectorId": 1}, {"status": "Unlocked"}),
    "UpdateFirmware": (
        {"location": "https://example.com/fw.bin", "retrieveDate": "2026-11-26T00:00:00Z"},
        {},
    ),
    # The security extension's
    "CertificateSigned": (
        {"certificateChain": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
        {"status": "Rejected"},
    ),
    "DeleteCertificate": (
        {"certificateHashData": HASH_DATA},
        {"status": "NotFound"},
    ),
    "ExtendedTriggerMessage": (
        {"requestedMessage": "SignChargePointCertificate"},
        {"status": "Accepted"},
    ),
    "GetInstalledCertificateIds": (
        {"certificateType": "ManufacturerRootCertificate"},
        {"status": "Accepted", "certificateHashData": [HASH_DATA]},
    ),
    "GetLog": (
        {
            "log": {"remoteLocation": "https://example.com/logs/"},
            "logType": "SecurityLog",
            "requestId": 5,
        },
        {"status": "Accepted", "filename": "security.log"},
    ),
    "InstallCertificate": (
        {
            "certificateType": "CentralSystemRootCertificate",
            "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        },
        {"status": "Accepted"},
    ),
    "SignedUpdateFirmware": (
        {
            "requestId": 6,
            "firmware": {
                "location": "https://example.com/fw.bin",
                "retrieveDateTime": "2026-11-26T00:00:00Z",
                "signingCertificate": "-----BEGIN CERTIFICATE-----\n",
                "signature": "c2ln",
            },
        },
        {"status": "InvalidCertificate"},
    ),
}


async def with_security_extension(api: Api, identity: str = "CP1") -> None:
    """A registered charge point whose securityExtension is on (security commands go to it)."""
    async with api.system.engine.begin() as db:
        await registration.register(db, identity)
        await db.execute(
            sa.update(models.charge_points)
            .where(models.charge_points.c.id == identity)
            .values(security_extension=True)
        )


def test_the_table_covers_every_action_a_central_system_sends() -> None:
    assert sorted(COMMANDS) == sorted(spec.name for spec in ACTIONS)
    assert len(COMMANDS) == 19 + 7


async def test_every_command_reaches_the_charge_point_and_returns_its_answer(api: Api) -> None:
    client = api.client(Role.OPERATOR)
    await with_security_extension(api)
    async with charge_point(api) as cp:
        for action, (request, response) in COMMANDS.items():
            cp.replies[action] = response
            answer = await client("POST", f"/charge-points/CP1/commands/{action}", request)
            assert (answer.status, answer.body) == (200, response), action
            assert cp.received[-1] == (action, request), action
    assert [action for action, _ in cp.received] == list(COMMANDS)


async def test_invalid_payload_is_400_with_field_and_reason_and_nothing_is_sent(
    api: Api,
) -> None:
    client = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cases = [
            ("Reset", {"type": "Hard!"}, "$.type", "PropertyConstraintViolation"),
            ("Reset", {}, "$.type", "ProtocolError"),
            ("Reset", {"type": "Soft", "extra": 1}, "$.extra", "FormationViolation"),
            ("UnlockConnector", {"connectorId": "1"}, "$.connectorId", "TypeConstraintViolation"),
            (
                "ChangeConfiguration",
                {"key": "k" * 51, "value": "v"},
                "$.key",
                "TypeConstraintViolation",
            ),
            (
                "SetChargingProfile",
                {"connectorId": 1, "csChargingProfiles": {**PROFILE, "chargingProfileKind": "X"}},
                "$.csChargingProfiles.chargingProfileKind",
                "PropertyConstraintViolation",
            ),
        ]
        for action, body, path, code in cases:
            answer = await client("POST", f"/charge-points/CP1/commands/{action}", body)
            assert answer.status == 400, (action, body, answer.body)
            assert answer.body["field"] == path, answer.body
            assert answer.body["code"] == code, answer.body
            assert answer.body["reason"]
        broken = await client("POST", "/charge-points/CP1/commands/Reset", raw=b"{not json")
        assert broken.status == 400 and broken.body["field"] == "$"
        await asyncio.sleep(0.05)
    assert cp.received == []


async def test_invalid_payload_is_refused_even_for_an_unknown_charge_point(api: Api) -> None:
    answer = await api.client(Role.OPERATOR)(
        "POST", "/charge-points/NOBODY/commands/Reset", {"type": "Nope"}
    )
    assert answer.status == 400


async def test_unknown_charge_point_is_404(api: Api) -> None:
    answer = await api.client(Role.OPERATOR)(
        "POST", "/charge-points/NOBODY/commands/Reset", {"type": "Soft"}
    )
    assert answer.status == 404 and "NOBODY" in answer.body["error"]


async def test_registered_but_not_connected_is_409(api: Api) -> None:
    async with charge_point(api, "CP2"):
        pass
    answer = await api.client(Role.OPERATOR)(
        "POST", "/charge-points/CP2/commands/Reset", {"type": "Soft"}
    )
    assert answer.status == 409


async def test_callerror_from_the_charge_point_is_502_with_code_description_details(
    api: Api,
) -> None:
    async with charge_point(api) as cp:
        cp.replies["Reset"] = CallError("NotSupported", "no resets here", {"why": "firmware"})
        answer = await api.client(Role.OPERATOR)(
            "POST", "/charge-points/CP1/commands/Reset", {"type": "Hard"}
        )
    assert answer.status == 502
    assert answer.body["code"] == "NotSupported"
    assert answer.body["description"] == "no resets here"
    assert answer.body["details"] == {"why": "firmware"}


async def test_invalid_answer_from_the_charge_point_is_502_with_the_field(api: Api) -> None:
    async with charge_point(api) as cp:
        cp.replies["Reset"] = {"status": "Maybe"}
        answer = await api.client(Role.OPERATOR)(
            "POST", "/charge-points/CP1/commands/Reset", {"type": "Hard"}
        )
    assert answer.status == 502 and answer.body["field"] == "$.status"


@pytest.mark.parametrize(
    "answer",
    [
        '[3,"{id}",{{"status":"\\ud800"}}]',  # a lone surrogate escape (issue 17 §5)
        '[3,"{id}",{{"status":' + "[" * 2000 + "]" * 2000 + "}}]",  # too deep (§4)
        '[3,"{id}",{{"status":',  # cut short
        '[3,"{id}",7]',  # not an object
        '[4,"{id}",5,"",{{}}]',  # a CALLERROR whose code is no string
    ],
    ids=["lone-surrogate", "too-deep", "cut", "not-an-object", "callerror-code"],
)
async def test_an_answer_that_is_no_frame_is_502_at_once(api: Api, answer: str) -> None:
    """An answer naming the call but not parseable was dropped: the command waited for its
    timeout and said "no answer" (504) though the charger had answered."""
    client = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["Reset"] = Silent()
        sent = asyncio.create_task(
            client("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"}, timeout=20)
        )
        await asyncio.wait_for(cp.called.wait(), 5)
        await cp.ws.send(answer.format(id=cp.unique_ids["Reset"]))
        done = await asyncio.wait_for(sent, 5)
        assert done.status == 502, done.body
        assert done.body["code"] == "FormationViolation"
        assert "invalid response from the charge point" in done.body["error"]
        cp.replies["Reset"] = {"status": "Accepted"}
        again = await client("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert (again.status, again.body) == (200, {"status": "Accepted"})


async def test_no_answer_in_time_is_504_and_the_next_command_still_works(api: Api) -> None:
    client = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["Reset"] = Silent()
        answer = await client(
            "POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"}, timeout=1
        )
        assert answer.status == 504
        cp.replies["Reset"] = {"status": "Accepted"}
        again = await client("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert (again.status, again.body) == (200, {"status": "Accepted"})


async def test_a_charge_point_that_leaves_before_answering_is_409(api: Api) -> None:
    async with charge_point(api) as cp:
        cp.replies["Reset"] = Silent()
        pending = asyncio.create_task(
            api.client(Role.OPERATOR)("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        )
        await asyncio.wait_for(cp.called.wait(), 5)
        await cp.ws.close()
        answer = await pending
    assert answer.status == 409 and "disconnected" in answer.body["error"]


async def test_a_charge_point_action_is_not_a_command(api: Api) -> None:
    answer = await api.client(Role.OPERATOR)("POST", "/charge-points/CP1/commands/Heartbeat", {})
    assert answer.status in (404, 405)


@pytest.mark.parametrize("role", [Role.VIEWER])
async def test_commands_need_the_operator_role(api: Api, role: Role) -> None:
    answer = await api.client(role)("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
    assert answer.status == 403


async def test_a_location_is_an_absolute_uri(api: Api) -> None:
    """OCPP's `format: uri`: refused (400) before anything is sent, not a charger's CALLERROR."""
    client = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        for action, body in [
            ("GetDiagnostics", {"location": ""}),
            ("GetDiagnostics", {"location": "no scheme/dir"}),
            ("UpdateFirmware", {"location": "http://x y", "retrieveDate": "2026-11-25T12:00:00Z"}),
        ]:
            answer = await client("POST", f"/charge-points/CP1/commands/{action}", body)
            assert answer.status == 400 and answer.body["field"] == "$.location", body
        assert cp.received == []
