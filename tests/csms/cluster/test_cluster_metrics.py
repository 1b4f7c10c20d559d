"""What the cluster adds to `GET /metrics` (csms/metrics.py): the latency of commands that
travel to another node, and Redis's failures, on real `ocppd serve` nodes of one cluster."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster_nodes import Cluster, Node, charger, eventually

pytestmark = pytest.mark.slow


async def value(server: Node, name: str, **labels: str) -> float:
    """The sum of `server`'s samples of `name` whose labels include `labels`."""
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.get(
            f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.cluster.token}"}
        )
    assert answer.status_code == 200, answer.text
    return sum(
        sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def test_a_command_through_another_node_and_a_redis_failure_are_counted(
    cluster: Cluster,
) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    async with charger(a, "CP1") as cp:
        cp.replies["Reset"] = {"status": "Accepted"}
        answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert answer.status == 200, answer.body
        hops = "ocppd_cross_node_command_seconds_count"
        assert await value(b, hops, node="B") == 1
        assert await value(a, hops, node="A") == 0
        commands = "ocppd_commands_total"
        assert await value(b, commands, node="B", action="Reset", outcome="answered") == 1
        # Sent by A for B's request: a frame of A's, no command of A's API.
        assert await value(a, commands) == 0
        assert await value(a, "ocppd_messages_total", node="A", action="Reset") == 2

        cluster.redis.stop()
        refused = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert refused.status == 503, refused.body
        unavailable = {"node": "B", "action": "Reset", "outcome": "unavailable"}
        assert await value(b, commands, **unavailable) == 1
        assert await value(b, "ocppd_redis_errors_total", node="B", operation="request") >= 1
        assert await value(b, hops, node="B") == 1  # the holder was not reached: no hop

        async def noticed_by_a() -> bool:
            # Its renewals, its listener, and its candidacy for the site controller's lease
            # (or the lease it holds) find Redis gone.
            failed = "ocppd_redis_errors_total"
            return (
                await value(a, failed, node="A") >= 1
                and await value(a, failed, node="A", operation="lease") >= 1
            )

        await eventually(noticed_by_a, what="node A counts Redis's failures")
        cluster.redis.start()
