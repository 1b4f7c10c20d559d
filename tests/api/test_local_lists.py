"""Local authorization lists built from the id-tag store and sent over real HTTP to a charge
point on a real socket: Full, then Differential after tag changes, and the answers kept."""

import asyncio
from typing import Any

import pytest

from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point
from tests.cluster_nodes import Cluster
from tests.cluster_nodes import charger as cluster_charger


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


async def test_lists_beyond_the_chargers_limits_are_not_sent(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    operator = api.client(Role.OPERATOR)
    for n in range(3):
        await admin("PUT", f"/id-tags/T{n}", {"status": "Accepted"})

    def entries(*tags: str, remove: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return [{"idTag": t, "idTagInfo": {"status": "Accepted"}} for t in tags] + [
            {"idTag": t} for t in remove
        ]

    async def raw(version: int, kind: str, items: list[dict[str, Any]]) -> Any:
        body = {"listVersion": version, "updateType": kind, "localAuthorizationList": items}
        return await operator("POST", "/charge-points/CP1/commands/SendLocalList", body)

    async with charge_point(api) as cp:
        cp.replies["GetConfiguration"] = {
            "configurationKey": [
                {"key": "SendLocalListMaxLength", "readonly": True, "value": "2"},
                {"key": "localauthlistmaxlength", "readonly": True, "value": "3"},
            ]
        }
        await operator("POST", "/charge-points/CP1/commands/GetConfiguration", {})
        built = await operator("POST", "/charge-points/CP1/local-list", {})
        assert built.status == 400
        assert (
            "3 entries" in built.body["error"]
            and "SendLocalListMaxLength is 2" in (built.body["error"])
        )
        assert (await raw(5, "Full", entries("T0", "T1", "T2"))).status == 400
        assert not [a for a, _ in cp.received if a == "SendLocalList"]

        cp.replies["SendLocalList"] = {"status": "Accepted"}
        assert (await raw(5, "Full", entries("T0", "T1"))).status == 200
        over = await raw(6, "Differential", entries("X1", "X2"))
        assert over.status == 400 and "LocalAuthListMaxLength is 3" in over.body["error"]
        assert (await raw(6, "Differential", entries("X1", remove=("T0",)))).status == 200
    sent = [p["listVersion"] for a, p in cp.received if a == "SendLocalList"]
    assert sent == [5, 6]


async def test_concurrent_lists_get_distinct_increasing_versions(api: Api) -> None:
    await api.client(Role.ADMIN)("PUT", "/id-tags/TAG1", {"status": "Accepted"})
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["SendLocalList"] = {"status": "Accepted"}
        answers = await asyncio.gather(
            *(
                operator("POST", "/charge-points/CP1/local-list", {"updateType": "Full"})
                for _ in range(4)
            )
        )
    assert sorted(a.body["listVersion"] for a in answers) == [1, 2, 3, 4]
    assert [p["listVersion"] for a, p in cp.received if a == "SendLocalList"] == [1, 2, 3, 4]


async def test_a_differential_with_nul_in_an_id_tag_is_kept(api: Api) -> None:
    """An OCPP payload may hold NUL: the list is sent as written and kept as a charger's strings
    are (U+FFFD on PostgreSQL), and a later Differential finds the entry to replace or remove."""
    operator = api.client(Role.OPERATOR)
    stored = "a\ufffd" if api.system.engine.dialect.name == "postgresql" else "a\x00"
    command = "/charge-points/CP1/commands/SendLocalList"

    def sent(version: int, update: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {"listVersion": version, "updateType": update, "localAuthorizationList": entries}

    accepted = {"status": "Accepted"}
    async with charge_point(api) as cp:
        cp.replies["SendLocalList"] = {"status": "Accepted"}
        full = sent(1, "Full", [{"idTag": "A\x00", "idTagInfo": accepted}])
        assert (await operator("POST", command, full)).status == 200
        blocked = [{"idTag": "a\x00", "idTagInfo": {"status": "Blocked"}}]
        answer = await operator("POST", command, sent(2, "Differential", blocked))
        assert answer.status == 200, answer.body
        assert cp.received[-1] == ("SendLocalList", sent(2, "Differential", blocked))
        held = (await operator("GET", "/charge-points/CP1/local-list")).body
        assert held["localAuthorizationList"] == [
            {"idTag": stored, "idTagInfo": {"status": "Blocked"}}
        ]
        removed = await operator("POST", command, sent(3, "Differential", [{"idTag": "A\x00"}]))
        assert removed.status == 200, removed.body
        held = (await operator("GET", "/charge-points/CP1/local-list")).body
        assert (held["acknowledgedVersion"], held["localAuthorizationList"]) == (3, [])


@pytest.mark.slow
async def test_lists_sent_through_two_nodes_get_distinct_increasing_versions(
    cluster: Cluster,
) -> None:
    """Two nodes of a cluster (real `ocppd serve` processes) build and send lists for the same
    charger at once: one at a time cluster-wide, so never the same version twice nor out of
    order (issue 18, behaviour 4)."""
    a, b = cluster.start("A"), cluster.start("B")
    assert (await a.api("PUT", "/id-tags/TAG1", {"status": "Accepted"})).status in (200, 201)
    async with cluster_charger(a, "CP1") as cp:
        cp.replies["SendLocalList"] = {"status": "Accepted"}
        answers = await asyncio.gather(
            *(
                node.api("POST", "/charge-points/CP1/local-list", {"updateType": "Full"})
                for node in (a, b, a, b, b, a)
            )
        )
        assert all(answer.status == 200 for answer in answers), [x.body for x in answers]
        assert sorted(answer.body["listVersion"] for answer in answers) == [1, 2, 3, 4, 5, 6]
        sent = [
            payload["listVersion"] for action, payload in cp.received if action == "SendLocalList"
        ]
        assert sent == [1, 2, 3, 4, 5, 6]
    state = await b.api("GET", "/charge-points/CP1/local-list")
    assert state.body["acknowledgedVersion"] == 6
