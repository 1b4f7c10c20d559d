"""`GET /api/v1/cluster` and what the charge point routes say of the cluster (issue 18): on one
node (the API fixture) and on real `ocppd serve` nodes sharing a Redis and a database."""

from datetime import datetime

import pytest

from ocppd import __version__
from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point
from tests.cluster_nodes import Cluster, Node, charger, eventually


async def test_a_single_node_lists_itself(api: Api) -> None:
    answer = await api.client(Role.VIEWER)("GET", "/cluster")
    assert answer.status == 200, answer.body
    name = api.system.cluster.node_name
    assert answer.body["node"] == name
    [node] = answer.body["nodes"]
    assert (node["name"], node["chargePoints"], node["version"]) == (name, 0, __version__)
    async with charge_point(api):
        answer = await api.client(Role.VIEWER)("GET", "/cluster")
        assert answer.body["nodes"][0]["chargePoints"] == 1
        view = await api.client(Role.VIEWER)("GET", "/charge-points/CP1")
        assert (view.body["connected"], view.body["node"]) == (True, name)
    view = await api.client(Role.VIEWER)("GET", "/charge-points/CP1")
    assert (view.body["connected"], view.body["node"]) == (False, None)


async def _nodes(node: Node) -> dict[str, dict[str, object]]:
    answer = await node.api("GET", "/cluster")
    assert answer.status == 200, answer.body
    return {n["name"]: n for n in answer.body["nodes"]}


@pytest.mark.slow
async def test_every_node_lists_the_live_nodes_and_where_each_charger_is(
    cluster: Cluster,
) -> None:
    a, b = cluster.start("A"), cluster.start("B")

    async def addresses_known() -> dict[str, dict[str, object]]:
        listed = await _nodes(b)
        ports = {n: str(listed[n]["address"]).rpartition(":")[2] for n in listed}
        return listed if ports == {"A": str(a.port), "B": str(b.port)} else {}

    listed = await eventually(addresses_known, what="both nodes with their ports")
    assert listed["A"]["version"] == __version__
    assert datetime.fromisoformat(str(listed["B"]["startedAt"]))
    async with charger(a, "CP1"), charger(a, "CP2"), charger(b, "CP3"):
        view = await b.api("GET", "/charge-points/CP1")
        assert (view.body["connected"], view.body["node"]) == (True, "A"), view.body
        assert view.body["connectedAt"]
        connected = await a.api("GET", "/charge-points", connected="true", limit=2)
        assert [(i["chargePointId"], i["node"]) for i in connected.body["items"]] == [
            ("CP1", "A"),
            ("CP2", "A"),
        ]
        rest = await a.api(
            "GET", "/charge-points", connected="true", cursor=connected.body["nextCursor"]
        )
        assert [(i["chargePointId"], i["node"]) for i in rest.body["items"]] == [("CP3", "B")]

        async def counted() -> bool:
            listed = await _nodes(a)
            return (listed["A"]["chargePoints"], listed["B"]["chargePoints"]) == (2, 1)

        await eventually(counted, what="chargers counted per node")
    async with charger(a, "CP4", boot=False):
        others = await b.api("GET", "/charge-points", connected="false")
        assert [i["chargePointId"] for i in others.body["items"]] == ["CP1", "CP2", "CP3"]
    view = await b.api("GET", "/charge-points/CP1")
    assert (view.body["connected"], view.body["node"]) == (False, None)


@pytest.mark.slow
async def test_deleting_or_rejecting_a_charger_held_by_another_node(cluster: Cluster) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    async with charger(a, "CP1") as cp:
        changed = await b.api("PATCH", "/charge-points/CP1", {"registrationStatus": "Rejected"})
        assert changed.status == 200, changed.body
        boot = await cp.ask("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot["status"] == "Rejected"
        deleted = await b.api("DELETE", "/charge-points/CP1")
        assert deleted.status == 204, deleted.body
        assert await cp.wait_closed() == 1008
    gone = await a.api("GET", "/charge-points/CP1")
    assert gone.status == 404
