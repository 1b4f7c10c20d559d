"""The nodes of the cluster: `GET /api/v1/cluster` (any role).

Every live node, as it registered itself in Redis (renewed every 2 s, so its count of chargers
may be that old): its name, where it listens, since when, how many chargers it holds, its
version. A node without `--redis-url` is a cluster of one and lists itself. A node killed
without a word is listed until its lease expires (10 s).
"""

from datetime import datetime

import msgspec
from litestar import get

from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.system import System
from ocppd.csms.cluster import ClusterUnavailable


class Node(msgspec.Struct, rename="camel", kw_only=True):
    name: str
    address: str
    """host:port it listens on, as configured (the address its chargers connect to)."""
    started_at: datetime
    charge_points: int
    """Chargers connected to it."""
    version: str


class Cluster(msgspec.Struct, rename="camel", kw_only=True):
    node: str
    """The node that answered this request."""
    nodes: list[Node]
    """The live nodes, by name."""


@get("/cluster", tags=["cluster"], responses=documented(503))
async def get_cluster(system: System) -> Cluster:
    """The live nodes of the cluster (one, without --redis-url)."""
    try:
        found = await system.cluster.nodes()
    except ClusterUnavailable as error:
        raise ProblemException(Problem(status=503, error=str(error))) from None
    return Cluster(
        node=system.cluster.node_name,
        nodes=[
            Node(
                name=n.name,
                address=n.address,
                started_at=n.started_at,
                charge_points=n.charge_points,
                version=n.version,
            )
            for n in sorted(found, key=lambda n: n.name)
        ],
    )


ROUTES = [get_cluster]
