"""Commands from any node (issue 18, behaviour 2): real `ocppd serve` processes on one
PostgreSQL and one Redis; the request travels to the node holding the charger."""

import pytest

from tests.cluster_nodes import Cluster, charger

pytestmark = pytest.mark.slow


async def test_a_command_through_another_node_is_answered_by_the_charger(
    cluster: Cluster,
) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    async with charger(a, "CP1") as cp:
        cp.replies["Reset"] = {"status": "Accepted"}
        answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert (answer.status, answer.body) == (200, {"status": "Accepted"})
        assert cp.received == [("Reset", {"type": "Soft"})]
        cp.replies["Reset"] = {"status": "Rejected"}
        again = await a.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Hard"})
        assert (again.status, again.body) == (200, {"status": "Rejected"})
    gone = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
    assert gone.status == 409, gone.body
    unknown = await b.api("POST", "/charge-points/NOPE/commands/Reset", {"type": "Soft"})
    assert unknown.status == 404, unknown.body
