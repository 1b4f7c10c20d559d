"""What a charger's security settings let the central system send it, checked in
`CentralSystem.call` for every edge: the security extension's 7 commands only with
`securityExtension`, and ChangeConfiguration SecurityProfile never below the stored profile
(409 over the API, with the reason; `force` lifts neither). Real sockets, both databases."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.api.tokens import Role
from ocppd.csms import registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.security_settings import SECURITY_COMMANDS, profile_value
from ocppd.csms.settings import Settings
from ocppd.protocol import security as s
from ocppd.protocol.datatypes import CertificateHashData, Firmware, LogParameters
from ocppd.protocol.messages import ChangeConfigurationRequest
from tests.api.conftest import Api, FakeChargePoint, api_app, charge_point, issue_tokens
from tests.csms.conftest import FixedClock
from tests.servers import serving

ROOT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

REQUESTS: dict[str, Any] = {
    "CertificateSigned": s.CertificateSignedRequest(certificate_chain=ROOT),
    "DeleteCertificate": s.DeleteCertificateRequest(
        certificate_hash_data=CertificateHashData(
            hash_algorithm="SHA256",
            issuer_name_hash="a" * 64,
            issuer_key_hash="b" * 64,
            serial_number="1",
        )
    ),
    "ExtendedTriggerMessage": s.ExtendedTriggerMessageRequest(
        requested_message="SignChargePointCertificate"
    ),
    "GetInstalledCertificateIds": s.GetInstalledCertificateIdsRequest(
        certificate_type="CentralSystemRootCertificate"
    ),
    "GetLog": s.GetLogRequest(
        log_type="SecurityLog",
        request_id=1,
        log=LogParameters(remote_location="http://127.0.0.1/x"),
    ),
    "InstallCertificate": s.InstallCertificateRequest(
        certificate_type="CentralSystemRootCertificate", certificate=ROOT
    ),
    "SignedUpdateFirmware": s.SignedUpdateFirmwareRequest(
        request_id=1,
        firmware=Firmware(
            location="http://127.0.0.1/f",
            retrieve_date_time=datetime(2026, 12, 7, tzinfo=UTC),
            signing_certificate=ROOT,
            signature="c2ln",
        ),
    ),
}
ANSWERS: dict[str, dict[str, Any]] = {
    "CertificateSigned": {"status": "Accepted"},
    "DeleteCertificate": {"status": "Accepted"},
    "ExtendedTriggerMessage": {"status": "Accepted"},
    "GetInstalledCertificateIds": {"status": "NotFound"},
    "GetLog": {"status": "Accepted"},
    "InstallCertificate": {"status": "Accepted"},
    "SignedUpdateFirmware": {"status": "Accepted"},
}


@pytest.fixture
async def api(engine: AsyncEngine, clock: FixedClock) -> AsyncIterator[Api]:
    """`ocppd serve` with the security extension's actions on every connection."""
    system = CentralSystem(Settings(extensions=frozenset({"security"})), clock=clock, engine=engine)
    await system.start()
    try:
        app = api_app(system)
        async with serving(system, app) as port:
            yield Api(system, port, app, await issue_tokens(system))
    finally:
        await system.stop()


async def set_security(api: Api, identity: str, **settings: Any) -> None:
    answer = await api.client(Role.ADMIN)("PATCH", f"/charge-points/{identity}", settings)
    assert answer.status == 200, answer.body


def test_every_security_command_is_covered() -> None:
    assert set(REQUESTS) == SECURITY_COMMANDS == set(ANSWERS)


async def test_security_commands_go_only_to_a_charger_with_the_extension(api: Api) -> None:
    async with charge_point(api, "CP1") as cp:
        cp.replies.update(ANSWERS)
        for action, request in REQUESTS.items():
            with pytest.raises(registration.CommandRefused) as refused:
                await api.system.call("CP1", request, force=True)
            assert f"{action} is a command of the OCPP 1.6 security extension" in str(refused.value)
            assert "securityExtension is false" in str(refused.value)
        assert cp.received == [], "nothing was sent"
        await set_security(api, "CP1", securityExtension=True)
        for action, request in REQUESTS.items():
            answer = await api.system.call("CP1", request)
            assert answer.status == ANSWERS[action]["status"], action
        assert [action for action, _ in cp.received] == list(REQUESTS)
        await set_security(api, "CP1", securityExtension=False)
        with pytest.raises(registration.CommandRefused):
            await api.system.call("CP1", REQUESTS["GetLog"])
        assert len(cp.received) == len(REQUESTS), "the change holds at once"


async def change(cp: FakeChargePoint, api: Api, key: str, value: str, force: bool = False) -> Any:
    query = {"force": "true"} if force else {}
    return await api.client(Role.OPERATOR)(
        "POST",
        "/charge-points/CP1/commands/ChangeConfiguration",
        {"key": key, "value": value},
        **query,
    )


async def test_a_security_profile_below_the_stored_one_is_never_sent(api: Api) -> None:
    async with charge_point(api, "CP1") as cp:
        cp.replies["ChangeConfiguration"] = {"status": "Accepted"}
        await set_security(api, "CP1", securityProfile=2)
        for key, value in [
            ("SecurityProfile", "1"),
            ("securityprofile", "0"),
            ("SECURITYPROFILE", "1"),
        ]:
            for force in (False, True):
                refused = await change(cp, api, key, value, force)
                assert refused.status == 409, refused.body
                assert refused.body["error"].startswith("not sent: downgrade: SecurityProfile")
                assert "lower than 'CP1'" in refused.body["error"]
        for value in ("01", " 1", "-1", "1.0", "x", "4", ""):
            refused = await change(cp, api, "SecurityProfile", value)
            assert refused.status == 409, (value, refused.body)
            assert "is not a security profile (0 to 3)" in refused.body["error"]
        assert cp.received == [], "nothing was sent"

        same = await change(cp, api, "SecurityProfile", "2")
        assert same.status == 200, "the charger itself answers a value equal to its own"
        higher = await change(cp, api, "SecurityProfile", "3")
        assert (higher.status, higher.body) == (200, {"status": "Accepted"})
        other = await change(cp, api, "HeartbeatInterval", "0")
        assert other.status == 200, "other keys are not gated"
        assert [p["value"] for _, p in cp.received] == ["2", "3", "0"]

        # Through the central system itself (any edge): the same refusal.
        with pytest.raises(registration.CommandRefused, match="downgrade"):
            await api.system.call(
                "CP1", ChangeConfigurationRequest(key="SecurityProfile", value="1")
            )


def test_profile_values() -> None:
    assert [profile_value(v) for v in ("0", "1", "2", "3")] == [0, 1, 2, 3]
    for value in ("", "4", "01", "+1", "1 ", "\u0661", "\uff12"):
        assert profile_value(value) is None, value


async def test_the_api_routes_of_the_security_commands_are_409_without_the_extension(
    api: Api,
) -> None:
    """The generic command route and the GetLog job route: refused with the reason, nothing
    sent and no job left; sent once the extension is on."""
    operator = api.client(Role.OPERATOR)
    async with charge_point(api, "CP1") as cp:
        cp.replies.update(ANSWERS)
        body = {"certificateType": "CentralSystemRootCertificate"}
        path = "/charge-points/CP1/commands/GetInstalledCertificateIds"
        refused = await operator("POST", path, body)
        assert refused.status == 409, refused.body
        assert refused.body["error"] == (
            "not sent: GetInstalledCertificateIds is a command of the OCPP 1.6 security "
            "extension, and 'CP1' does not have it enabled (securityExtension is false)"
        )
        forced = await operator("POST", path, body, force="true")
        assert forced.status == 409, "force does not lift it"
        log = {"logType": "SecurityLog"}
        no_log = await operator("POST", "/charge-points/CP1/logs", log)
        assert no_log.status == 409 and "security extension" in no_log.body["error"], no_log.body
        assert (await operator("GET", "/charge-points/CP1/logs")).body["items"] == []
        assert cp.received == []
        await set_security(api, "CP1", securityExtension=True)
        sent = await operator("POST", path, body)
        assert (sent.status, sent.body) == (200, {"status": "NotFound"})
        assert [action for action, _ in cp.received] == ["GetInstalledCertificateIds"]
