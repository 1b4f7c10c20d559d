"""One owner per identity, the newest connection wins, cluster-wide (issue 18, behaviour 1):
real `ocppd serve` nodes on one Redis and one PostgreSQL database."""

import pytest

from tests.cluster_nodes import Cluster, charger, eventually
from tests.raw_websocket import masked_text_frame, open_upgraded

pytestmark = pytest.mark.slow

BOOT = '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


async def test_the_newest_connection_wins_and_commands_follow_it(cluster: Cluster) -> None:
    a, b, c = cluster.start("A"), cluster.start("B"), cluster.start("C")
    async with charger(a, "CP1") as old:
        old.replies["Reset"] = {"status": "Accepted"}
        answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert (answer.status, answer.body) == (200, {"status": "Accepted"})
        async with charger(c, "CP1") as new:
            assert await old.wait_closed() == 1000
            assert old.close_reason == "replaced by a new connection"
            new.replies["Reset"] = {"status": "Rejected"}
            for node in (a, b, c):
                answer = await node.api(
                    "POST", "/charge-points/CP1/commands/Reset", {"type": "Hard"}
                )
                assert (answer.status, answer.body) == (200, {"status": "Rejected"}), node.name
            assert [action for action, _ in new.received] == ["Reset"] * 3
            assert [action for action, _ in old.received] == ["Reset"]
            view = await a.api("GET", "/charge-points/CP1")
            assert (view.body["connected"], view.body["node"]) == (True, "C")

            async def counted() -> bool:
                listed = (await b.api("GET", "/cluster")).body["nodes"]
                return [n["chargePoints"] for n in listed] == [0, 0, 1]

            # A's late close never removed C's entry (compare-and-delete).
            await eventually(counted, what="CP1 counted on C only")
            answer = await a.api("GET", "/charge-points", connected="true")
            assert [i["chargePointId"] for i in answer.body["items"]] == ["CP1"]


async def test_a_half_dead_old_connection_does_not_keep_the_new_one_waiting(
    cluster: Cluster,
) -> None:
    """The old connection never reads again (its peer is gone without a FIN): the new node
    waits a bounded time for the old one to close, then serves the charger."""
    a, b = cluster.start("A"), cluster.start("B")
    mute = await open_upgraded(a.port, "/ocpp/CP1")
    try:
        mute.send(masked_text_frame(BOOT))

        async def held_by_a() -> bool:
            view = await b.api("GET", "/charge-points/CP1")
            return view.status == 200 and view.body["node"] == "A"

        await eventually(held_by_a, what="CP1 held by A")
        async with charger(b, "CP1") as new:
            new.replies["Reset"] = {"status": "Accepted"}
            answer = await a.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
            assert (answer.status, answer.body) == (200, {"status": "Accepted"})
            view = await a.api("GET", "/charge-points/CP1")
            assert view.body["node"] == "B"
    finally:
        mute.close()


async def test_a_charger_back_on_the_same_node_after_another_is_served_there(
    cluster: Cluster,
) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    async with charger(a, "CP1") as first, charger(b, "CP1") as second:
        assert await first.wait_closed() == 1000
        async with charger(a, "CP1") as third:
            assert await second.wait_closed() == 1000
            third.replies["Reset"] = {"status": "Accepted"}
            answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
            assert (answer.status, answer.body) == (200, {"status": "Accepted"})
            assert [action for action, _ in third.received] == ["Reset"]
