"""One node of a cluster drives the sites (issue 18, behaviours 4 and 6): the leader of the
lease `site-controller`. Real `ocppd serve` nodes on one PostgreSQL database and a Redis of the
test's own: the leader is killed or stopped, another takes over; a site changed and read
through a node that does not lead reaches the leader."""

import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis

from ocppd.csms.cluster.leadership import lease_key
from ocppd.csms.cluster.nodes import node_key
from ocppd.csms.site_controller import LEASE, PROFILE_ID
from tests.cluster_nodes import Charger, Cluster, Node, charger, eventually

pytestmark = pytest.mark.slow

SITE = {"name": "Depot", "limit": 20, "minPerCar": 6}
NOW = "2026-12-01T12:00:00Z"


@contextlib.asynccontextmanager
async def client(cluster: Cluster) -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(cluster.redis.url)
    try:
        yield connection
    finally:
        await connection.aclose()


async def leader(cluster: Cluster, nodes: list[Node]) -> tuple[Node, Node]:
    """The node that drives the sites, once one does, and the other."""
    name = await leading(cluster)
    first, other = sorted(nodes, key=lambda node: node.name != name)
    assert first.name == name
    return first, other


async def leading(cluster: Cluster, besides: str = "") -> str:
    """The name of the node that leads the sites, once one (other than `besides`) does."""
    async with client(cluster) as connection:

        async def elected() -> str:
            value = await connection.get(lease_key(LEASE))
            name = "" if value is None else value.decode().split("|")[0]
            return "" if name == besides else name

        return await eventually(elected, what="a node leads the sites")


def defaults(cp: Charger) -> int:
    """How many TxDefaultProfiles of the site `cp` received (one per start of a controller
    that found it connected)."""
    return sum(
        1
        for action, payload in cp.received
        if action == "SetChargingProfile"
        and payload["csChargingProfiles"]["chargingProfileId"] == PROFILE_ID
    )


def tx_limits(cp: Charger) -> list[float]:
    """The limits of the site's TxProfiles `cp` received."""
    return [
        payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
        for action, payload in cp.received
        if action == "SetChargingProfile"
        and payload["csChargingProfiles"]["chargingProfilePurpose"] == "TxProfile"
    ]


async def joined(via: Node, cp: Charger, identity: str) -> None:
    """Site `depot` created, and `identity` made a member, through `via`."""
    cp.replies["SetChargingProfile"] = {"status": "Accepted"}
    cp.replies["ClearChargingProfile"] = {"status": "Accepted"}
    assert (await via.api("PUT", "/sites/depot", SITE)).status == 201
    assert (await via.api("PUT", f"/sites/depot/charge-points/{identity}")).status == 200


async def allocation(node: Node) -> dict[str, Any] | None:
    answer = await node.api("GET", "/sites/depot/allocation")
    return answer.body if answer.status == 200 else None


async def allocation_where(
    node: Node, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    """The allocation, once it is as `wanted` (None before)."""
    shown = await allocation(node)
    return shown if shown is not None and wanted(shown) else None


def _ids(shown: dict[str, Any]) -> list[int]:
    return [t["transactionId"] for t in shown["transactions"]]


async def test_the_leader_drives_the_sites_and_another_takes_over_when_it_is_killed(
    cluster: Cluster,
) -> None:
    nodes = [cluster.start("A"), cluster.start("B")]
    first, other = await leader(cluster, nodes)
    async with charger(other, "CP1") as cp:
        # Through the node that does not lead: the leader reloads the site, and sends the
        # charger (held by the other node) its TxDefaultProfile under its fence.
        await joined(other, cp, "CP1")
        await eventually(lambda: _true(defaults(cp) == 1), what="the leader's TxDefaultProfile")
        # The charger has the profile before its Accepted answer is back at the leader: the
        # allocation counts it as holding its default once that answer is recorded.
        shown = await eventually(
            lambda: allocation_where(other, lambda a: a["withoutDefault"] == []),
            what="the leader's allocation, CP1 holding its default",
        )
        assert shown["siteId"] == "depot"
        # A transaction on the other node: its event reaches the leader, whose TxProfile
        # (the whole limit, for the only car) comes back through the other node.
        started = await cp.ask(
            "StartTransaction",
            {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": NOW},
        )
        await eventually(lambda: _true(tx_limits(cp) == [20]), what="the leader's TxProfile")
        await eventually(
            lambda: allocation_where(other, lambda a: _ids(a) == [started["transactionId"]]),
            what="the allocation with the transaction",
        )
        first.kill()
        await cluster.lapse(lease_key(LEASE))  # not waited for (10 s from its last renewal)
        # The lease expires, the other node leads, rebuilds the site from the database and
        # sends the TxDefaultProfile again (it cannot know what the killed one had sent).
        await eventually(lambda: _true(defaults(cp) == 2), what="the successor's TxDefault")
        assert await leading(cluster, besides=first.name) == other.name
        # It found the running transaction in the database, its limit unknown: sent again.
        await eventually(lambda: _true(tx_limits(cp) == [20, 20]), what="the successor's")
        await eventually(
            lambda: allocation_where(other, lambda a: _ids(a) == [started["transactionId"]]),
            what="the successor's allocation with the transaction",
        )


async def test_sigterm_hands_the_sites_over_at_once(cluster: Cluster) -> None:
    nodes = [cluster.start("A"), cluster.start("B")]
    first, other = await leader(cluster, nodes)
    async with charger(other, "CP1") as cp:
        await joined(first, cp, "CP1")
        await eventually(lambda: _true(defaults(cp) == 1), what="the leader's TxDefaultProfile")
        assert first.terminate() == 0
        # Released, not left to expire: once the leader has exited, its lease is gone or
        # already the other node's.
        async with client(cluster) as connection:
            value = await connection.get(lease_key(LEASE))
        assert value is None or value.decode().startswith(f"{other.name}|"), value
        assert "no longer leading site-controller: this node stops" in first.output()
        await eventually(lambda: _true(defaults(cp) == 2), what="the successor's TxDefault")
        assert await leading(cluster, besides=first.name) == other.name


async def _true(value: bool) -> bool:
    return value


def stopped(node: Node) -> bool:
    """Whether its process is stopped (by SIGSTOP), no longer able to renew anything."""
    with open(f"/proc/{node.process.pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


async def test_a_leader_paused_past_its_lease_stops_once_it_runs_again(cluster: Cluster) -> None:
    """SIGSTOP of the leader: the other node leads once the lease expired; the old leader,
    continued, finds its lease lost and stops its controller; what it might still send on the
    way carries its old fence, which the holder refuses (tests/csms/cluster/test_fencing.py)."""
    nodes = [cluster.start("A"), cluster.start("B")]
    first, other = await leader(cluster, nodes)
    async with charger(other, "CP1") as cp:
        await joined(other, cp, "CP1")
        await eventually(lambda: _true(defaults(cp) == 1), what="the leader's TxDefaultProfile")
        first.process.send_signal(signal.SIGSTOP)
        try:
            await eventually(lambda: _true(stopped(first)), what="the leader stopped")
            # Paused past its leases (the lease it leads by, its node's): made so, not
            # waited for (10 s from their last renewals).
            await cluster.lapse(lease_key(LEASE), node_key(first.name))
            assert await leading(cluster, besides=first.name) == other.name
            await eventually(lambda: _true(defaults(cp) == 2), what="the successor's TxDefault")
        finally:
            first.process.send_signal(signal.SIGCONT)
        await eventually(
            lambda: _true(first.printed("no longer leading site-controller")),
            what="the old leader stops leading",
        )
        assert await leading(cluster) == other.name
        assert defaults(cp) == 2
        assert (await first.api("GET", "/sites/depot/allocation")).status == 200  # asks B
