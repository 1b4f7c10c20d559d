"""Local authorization lists built from the id-tag store and sent over real HTTP to a charge
point on a real socket: Full, then Differential after tag changes, and the answers kept."""

from typing import Any

from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point


def sent_list(cp: Any) -> dict[str, Any]:
    action, payload = cp.received[-1]
    assert action == "SendLocalList"
    return dict(payload)


async def test_full_then_differential_after_tag_changes(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    operator = api.client(Role.OPERATOR)
    viewer = api.client(Role.VIEWER)
    await admin("PUT", "/id-tags/TAG1", {"status": "Accepted"})
    await admin("PUT", "/id-tags/TAG2", {"status": "Blocked"})
    await admin(
        "PUT",
        "/id-tags/TAG3",
        {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00Z", "parentIdTag": "P"},
    )
    async with charge_point(api) as cp:
        state = (await viewer("GET", "/charge-points/CP1/local-list")).body
        assert state["nextUpdateType"] == "Full" and state["localAuthorizationList"] == []

        cp.replies["SendLocalList"] = {"status": "Accepted"}
        answer = await operator("POST", "/charge-points/CP1/local-list", {})
        assert answer.status == 200, answer.body
        assert answer.body["status"] == "Accepted" and answer.body["listVersion"] == 1
        assert sent_list(cp) == {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "TAG1", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "TAG2", "idTagInfo": {"status": "Blocked"}},
                {
                    "idTag": "TAG3",
                    "idTagInfo": {
                        "status": "Accepted",
                        "expiryDate": "2027-01-01T00:00:00Z",
                        "parentIdTag": "P",
                    },
                },
            ],
        }

        await admin("PUT", "/id-tags/TAG2", {"status": "Accepted"})
        await admin("DELETE", "/id-tags/TAG3")
        await admin("PUT", "/id-tags/TAG4", {"status": "Accepted"})
        answer = await operator("POST", "/charge-points/CP1/local-list")
        assert answer.status == 200, answer.body
        assert sent_list(cp) == {
            "listVersion": 2,
            "updateType": "Differential",
            "localAuthorizationList": [
                {"idTag": "TAG2", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "TAG4", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "TAG3"},
            ],
        }
        state = (await viewer("GET", "/charge-points/CP1/local-list")).body
        assert (state["acknowledgedVersion"], state["nextUpdateType"]) == (2, "Differential")
        assert [e["idTag"] for e in state["localAuthorizationList"]] == ["TAG1", "TAG2", "TAG4"]

        # Nothing changed: an empty Differential.
        await operator("POST", "/charge-points/CP1/local-list")
        assert sent_list(cp)["localAuthorizationList"] == []


async def test_version_mismatch_failed_and_a_reported_version_make_the_next_list_full(
    api: Api,
) -> None:
    admin = api.client(Role.ADMIN)
    operator = api.client(Role.OPERATOR)
    viewer = api.client(Role.VIEWER)
    await admin("PUT", "/id-tags/TAG1", {"status": "Accepted"})
    async with charge_point(api) as cp:
        refused = await operator(
            "POST", "/charge-points/CP1/local-list", {"updateType": "Differential"}
        )
        assert refused.status == 409

        cp.replies["SendLocalList"] = {"status": "Accepted"}
        await operator("POST", "/charge-points/CP1/local-list")
        cp.replies["SendLocalList"] = {"status": "VersionMismatch"}
        answer = await operator("POST", "/charge-points/CP1/local-list")
        assert (answer.body["updateType"], answer.body["status"]) == (
            "Differential",
            "VersionMismatch",
        )
        state = (await viewer("GET", "/charge-points/CP1/local-list")).body
        assert (state["status"], state["sentVersion"], state["acknowledgedVersion"]) == (
            "VersionMismatch",
            2,
            1,
        )
        assert state["nextUpdateType"] == "Full"
        assert (
            await operator("POST", "/charge-points/CP1/local-list", {"updateType": "Differential"})
        ).status == 409

        cp.replies["SendLocalList"] = {"status": "Accepted"}
        answer = await operator("POST", "/charge-points/CP1/local-list")
        assert (answer.body["updateType"], answer.body["listVersion"]) == ("Full", 3)

        cp.replies["GetLocalListVersion"] = {"listVersion": 7}
        await operator("POST", "/charge-points/CP1/commands/GetLocalListVersion", {})
        state = (await viewer("GET", "/charge-points/CP1/local-list")).body
        assert (state["reportedVersion"], state["nextUpdateType"]) == (7, "Full")
        answer = await operator("POST", "/charge-points/CP1/local-list")
        assert (answer.body["updateType"], answer.body["listVersion"]) == ("Full", 8)

        cp.replies["SendLocalList"] = {"status": "Failed"}
        await operator("POST", "/charge-points/CP1/local-list", {"updateType": "Differential"})
        state = (await viewer("GET", "/charge-points/CP1/local-list")).body
        assert (state["status"], state["nextUpdateType"]) == ("Failed", "Full")

        # A list sent through the plain command is kept too.
        cp.replies["SendLocalList"] = {"status": "Accepted"}
        await operator(
            "POST",
            "/charge-points/CP1/commands/SendLocalList",
            {"listVersion": 20, "updateType": "Full", "localAuthorizationList": []},
        )
        state = (await viewer("GET", "/charge-points/CP1/local-list")).body
        assert (state["acknowledgedVersion"], state["localAuthorizationList"]) == (20, [])


async def test_unknown_and_disconnected_charge_points(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    assert (await operator("POST", "/charge-points/NOBODY/local-list")).status == 404
    assert (await operator("GET", "/charge-points/NOBODY/local-list")).status == 404
    async with charge_point(api, "CP2"):
        pass
    assert (await operator("POST", "/charge-points/CP2/local-list")).status == 409
    assert (await api.client(Role.VIEWER)("POST", "/charge-points/CP2/local-list")).status == 403
