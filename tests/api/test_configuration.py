"""The stored configuration kept in step with GetConfiguration and ChangeConfiguration
answers, over real HTTP to a charge point on a real socket; AuthorizationKey changes."""

import base64

import pytest
from websockets.exceptions import InvalidStatus

from ocppd.api.tokens import Role
from ocppd.csms import registration
from tests.api.conftest import Api, charge_point

FULL = {
    "configurationKey": [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
        {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
        {"key": "AuthorizationKey", "readonly": False, "value": "leaked!"},
    ]
}


async def test_get_and_change_configuration_keep_the_stored_configuration(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    viewer = api.client(Role.VIEWER)
    empty = await viewer("GET", "/charge-points/CP1/configuration")
    assert empty.status == 404
    async with charge_point(api) as cp:
        assert (await viewer("GET", "/charge-points/CP1/configuration")).body[
            "configurationKey"
        ] == []
        cp.replies["GetConfiguration"] = FULL
        await operator("POST", "/charge-points/CP1/commands/GetConfiguration", {})
        cp.replies["GetConfiguration"] = {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "120"}],
            "unknownKey": ["Nope"],
        }
        await operator(
            "POST", "/charge-points/CP1/commands/GetConfiguration", {"key": ["HeartbeatInterval"]}
        )
        changes = [
            ("MeterValueSampleInterval", "30", "Accepted"),
            ("HeartbeatInterval", "900", "RebootRequired"),
            ("NumberOfConnectors", "3", "Rejected"),
            ("VendorThing", "on", "NotSupported"),
        ]
        for key, value, status in changes:
            cp.replies["ChangeConfiguration"] = {"status": status}
            answer = await operator(
                "POST",
                "/charge-points/CP1/commands/ChangeConfiguration",
                {"key": key, "value": value},
            )
            assert answer.body == {"status": status}
    stored = (await viewer("GET", "/charge-points/CP1/configuration")).body
    keys = {
        item["key"]: (item["readonly"], item["value"], item["rebootRequired"])
        for item in stored["configurationKey"]
    }
    assert keys == {
        "AuthorizationKey": (False, None, False),
        "HeartbeatInterval": (False, "900", True),
        "MeterValueSampleInterval": (False, "30", False),
        "NumberOfConnectors": (True, "2", False),
    }
    assert stored["unknownKey"] == ["Nope", "VendorThing"]

    # A later answer to a request for all keys replaces everything.
    async with charge_point(api) as cp:
        cp.replies["GetConfiguration"] = {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "900"}]
        }
        await operator("POST", "/charge-points/CP1/commands/GetConfiguration", {})
    stored = (await viewer("GET", "/charge-points/CP1/configuration")).body
    assert [(i["key"], i["value"], i["rebootRequired"]) for i in stored["configurationKey"]] == [
        ("HeartbeatInterval", "900", False)
    ]
    assert stored["unknownKey"] == []


def basic(identity: str, key: str) -> dict[str, str]:
    token = base64.b64encode(f"{identity}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("answer", ["Accepted", "Rejected"])
async def test_an_accepted_authorization_key_replaces_the_old_one(api: Api, answer: str) -> None:
    async with api.system.engine.begin() as db:
        await registration.register(db, "SECURE", auth_key="old-key-0123456789")
    operator = api.client(Role.OPERATOR)
    async with charge_point(api, "SECURE", basic("SECURE", "old-key-0123456789")) as cp:
        cp.replies["ChangeConfiguration"] = {"status": answer}
        await operator(
            "POST",
            "/charge-points/SECURE/commands/ChangeConfiguration",
            {"key": "AuthorizationKey", "value": "new-key-0123456789"},
        )
    valid, refused = ("new", "old") if answer == "Accepted" else ("old", "new")
    with pytest.raises(InvalidStatus) as caught:
        async with charge_point(api, "SECURE", basic("SECURE", f"{refused}-key-0123456789")):
            pass
    assert caught.value.response.status_code == 401
    async with charge_point(api, "SECURE", basic("SECURE", f"{valid}-key-0123456789")):
        pass
    stored = (await api.client(Role.VIEWER)("GET", "/charge-points/SECURE/configuration")).body
    assert "new-key" not in str(stored)


async def test_a_nul_in_an_answer_is_stored(api: Api) -> None:
    """The charger's keys and values are stored with a NUL in them (as U+FFFD on PostgreSQL,
    whose text cannot hold NUL), for the whole configuration and for a key."""
    operator = api.client(Role.OPERATOR)
    whole = {
        "configurationKey": [{"key": "Vendor\x00Key", "readonly": True, "value": "a\x00b"}],
        "unknownKey": ["No\x00pe"],
    }
    one = {"configurationKey": [{"key": "Vendor\x00Key", "readonly": True, "value": "c\x00d"}]}
    async with charge_point(api) as cp:
        cp.replies["GetConfiguration"] = whole
        answer = await operator("POST", "/charge-points/CP1/commands/GetConfiguration", {})
        assert (answer.status, answer.body) == (200, whole)
        cp.replies["GetConfiguration"] = one
        answer = await operator(
            "POST", "/charge-points/CP1/commands/GetConfiguration", {"key": ["Vendor\x00Key"]}
        )
        assert (answer.status, answer.body) == (200, one)
    nul = "\ufffd" if api.system.engine.dialect.name == "postgresql" else "\x00"
    stored = (await operator("GET", "/charge-points/CP1/configuration")).body
    assert [(i["key"], i["value"]) for i in stored["configurationKey"]] == [
        (f"Vendor{nul}Key", f"c{nul}d")
    ]
    assert stored["unknownKey"] == [f"No{nul}pe"]


async def test_the_authorization_key_is_not_in_the_message_log(api: Api) -> None:
    """Issue 17, 6: a GetConfiguration answer with the AuthorizationKey, and a ChangeConfiguration
    of it: a viewer reading the message log sees neither value."""
    operator = api.client(Role.OPERATOR)
    viewer = api.client(Role.VIEWER)
    async with charge_point(api) as cp:
        cp.replies["GetConfiguration"] = FULL
        asked = await operator("POST", "/charge-points/CP1/commands/GetConfiguration", {})
        assert asked.status == 200, asked.body
        assert asked.body["configurationKey"][3] == {
            "key": "AuthorizationKey",
            "readonly": False,
            "value": "<redacted>",
        }, "not to the operator who asked either"
        assert asked.body["configurationKey"][:3] == FULL["configurationKey"][:3]
        cp.replies["ChangeConfiguration"] = {"status": "Rejected"}
        change = {"key": "AuthorizationKey", "value": "new-key-0123456789"}
        await operator("POST", "/charge-points/CP1/commands/ChangeConfiguration", change)
    await api.system.writer.flush()
    log = await viewer("GET", "/messages", chargePointId="CP1")
    assert log.status == 200
    frames = [item["frame"] for item in log.body["items"]]
    assert len(frames) == 2 + 4
    assert "leaked!" not in repr(frames) and "new-key-0123456789" not in repr(frames)
    answer = next(f for f in frames if f[0] == 3 and "configurationKey" in f[2])
    assert answer[2]["configurationKey"][3] == {
        "key": "AuthorizationKey",
        "readonly": False,
        "value": "<redacted>",
    }
