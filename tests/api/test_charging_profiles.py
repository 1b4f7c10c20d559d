"""Charging profiles over real HTTP, to charge points on real sockets: the checks before
sending as 400s, the stored profiles, the predicted composite schedule (JSON and SVG)."""

from typing import Any

from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point
from tests.csms.test_charging_profiles import profile


async def test_a_profile_the_charger_would_refuse_is_a_400_and_not_sent(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["GetConfiguration"] = {
            "configurationKey": [
                {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "2"}
            ]
        }
        await operator("POST", "/charge-points/CP1/commands/GetConfiguration", {})
        cases: list[tuple[str, dict[str, Any], str]] = [
            (
                "SetChargingProfile",
                {"connectorId": 1, "csChargingProfiles": profile(1, level=3)},
                "not sent: stackLevel 3 exceeds ChargeProfileMaxStackLevel 2",
            ),
            (
                "SetChargingProfile",
                {"connectorId": 1, "csChargingProfiles": profile(1, "TxProfile")},
                "not sent: no transaction on connector 1",
            ),
            (
                "RemoteStartTransaction",
                {"idTag": "T", "chargingProfile": profile(1)},
                "not sent: a RemoteStartTransaction's chargingProfile is a TxProfile",
            ),
        ]
        for action, body, error in cases:
            answer = await operator("POST", f"/charge-points/CP1/commands/{action}", body)
            assert (answer.status, answer.body) == (400, {"status": 400, "error": error})
        assert [action for action, _ in cp.received] == ["GetConfiguration"]
