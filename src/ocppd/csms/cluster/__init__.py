"""Several nodes, one central system (issue 18; docs/decisions/0005-cluster.md).

`Cluster` is what a central system asks of the other nodes: who holds a charge point, how to
reach it, what they publish, which node leads a singleton. `SingleNode` is the cluster of one
process, as ocppd always ran (no Redis, SQLite allowed); `redis_cluster.RedisCluster` joins the
nodes that share one Redis and one PostgreSQL database (`--redis-url`).

The central system implements `LocalNode`, what a cluster asks of its own node (run a call for
a charge point it holds, close one); the cluster never imports the central system.
"""

from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ocppd.csms.events import EventBus
from ocppd.csms.metrics import Metrics
from ocppd.csms.settings import Settings, node_name
from ocppd.protocol.enums import RegistrationStatus
from ocppd.protocol.fields import Payload


class ClusterUnavailable(RuntimeError):
    """Redis cannot be reached: what needs another node cannot be done now (HTTP 503)."""


class NodeNameTaken(RuntimeError):
    """A live node of the cluster has this node's name: it does not start."""


class NotHeld(LookupError):
    """No live node holds a connection of that charge point."""


class StaleFence(RuntimeError):
    """Not sent: the fence's token is no longer its lease's newest (a newer leader exists)."""


class NoLeader(ClusterUnavailable):
    """No node leads that singleton now (one is being elected, or its leader just stopped or
    died: another takes over within the lease)."""


class RemoteFailure(RuntimeError):
    """The node holding the charge point failed the call in a way no API status names (its
    own log has the details): the type and message of what it raised."""


@dataclass(frozen=True, slots=True)
class Holder:
    """The node that holds a charge point's connection, and since when."""

    node: str
    connected_at: datetime


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A live node, as `GET /api/v1/cluster` shows it."""

    name: str
    address: str
    started_at: datetime
    charge_points: int
    version: str


@dataclass(frozen=True, slots=True)
class Fence:
    """What a leader sends under: the lease's name and the token it was granted. The node that
    sends checks that the token is still the lease's newest (`Cluster.fence_holds`) just before
    it sends, so a leader that paused past its lease cannot send stale orders."""

    lease: str
    token: int


class LocalNode(Protocol):
    """What the cluster asks of its own node's central system."""

    @property
    def events(self) -> EventBus:
        """Its event bus: relayed to and from the other nodes (`cluster.events`)."""
        ...

    def held(self) -> Iterable[str]:
        """The charge points connected to this node."""
        ...

    async def call_here(
        self,
        identity: str,
        request: Payload,
        timeout: float | None,
        force: bool,
        fence: Fence | None,
    ) -> Any:
        """Send to a charge point connected here (checks, recorders and events included)."""
        ...

    async def disconnect_here(self, identity: str, code: int, reason: str) -> bool:
        """Close a charge point's connection here and return once what it was doing has
        ended; False when it is not connected here."""
        ...

    def registration_changed_here(self, identity: str, status: RegistrationStatus) -> bool:
        """A connected charge point's registration status changed (its next boot is answered
        with it); False when it is not connected here."""
        ...

    async def lead_here(self, lease: str, what: str, argument: str) -> bytes:
        """Do `what` (with `argument`) of the singleton `lease` this node leads, for another
        node (`Cluster.ask_leader`): its result as JSON; NoLeader when it does not lead it."""
        ...


Elected = Callable[[Fence | None], Awaitable[None]]
"""Told that this node now leads: the fence to send under (None: alone, nothing to fence)."""
Deposed = Callable[[], Awaitable[None]]
"""Told that this node no longer leads: its work stops at once."""


class Leadership(Protocol):
    """One node at a time holds a named lease (`Cluster.leadership`): `elected` is awaited
    when this node starts leading, `deposed` when it stops (also at `stop`, which hands the
    lease over)."""

    @property
    def fence(self) -> Fence | None:
        """The fence to send under while this node leads; None when it does not."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Alone:
    """The leadership of a single node: it leads from `start` to `stop`, with no fence."""

    fence: Fence | None = None

    def __init__(self, elected: Elected, deposed: Deposed) -> None:
        self._elected = elected
        self._deposed = deposed
        self._leading = False

    async def start(self) -> None:
        self._leading = True
        await self._elected(None)

    async def stop(self) -> None:
        if self._leading:
            self._leading = False
            await self._deposed()


class Cluster(Protocol):
    node_name: str
    address: str
    """Where this node listens (host:port), once it does: shown by `nodes`."""

    async def start(self, local: LocalNode) -> None: ...

    async def stop(self) -> None:
        """Leave at once: nothing of this node is left to expire."""
        ...

    async def claim(self, identity: str, connected_at: datetime) -> None:
        """This node now holds `identity` (the newest connection wins); returns once a holder
        elsewhere has closed its older connection, or could not be reached in time."""
        ...

    async def release(self, identity: str) -> None:
        """This node's connection of `identity` ended; a newer holder elsewhere is kept."""
        ...

    async def holders(self, identities: Collection[str]) -> dict[str, Holder]:
        """The live holders of those of `identities` that are connected to another node (the
        central system answers for its own connections)."""
        ...

    async def connected(self) -> list[str]:
        """Every charge point connected to another live node (with, or without, this node's
        own: the central system adds them), sorted."""
        ...

    async def call(
        self,
        identity: str,
        request: Payload,
        timeout: float | None,
        force: bool,
        fence: Fence | None = None,
    ) -> Any:
        """`request` sent by the node that holds `identity` elsewhere; raises NotHeld (no
        live holder), ClusterUnavailable, or what the holder's call raised."""
        ...

    async def disconnect(self, identity: str, code: int, reason: str) -> bool:
        """Close the connection of `identity` held by another node; False when nowhere."""
        ...

    async def registration_changed(self, identity: str, status: RegistrationStatus) -> bool:
        """Tell the node holding `identity` elsewhere its new registration status; False
        when no live node holds it."""
        ...

    async def nodes(self) -> list[NodeInfo]: ...

    async def fence_holds(self, fence: Fence) -> bool: ...

    async def receive_events(self) -> None:
        """For a new subscriber of this node's bus: returns once what every node publishes
        reaches it (at most about a second); raises ClusterUnavailable when events of other
        nodes cannot reach this node."""
        ...

    def leadership(self, lease: str, elected: Elected, deposed: Deposed) -> Leadership:
        """This node's candidacy for the singleton `lease` (started and stopped by the caller,
        before `stop`)."""
        ...

    async def once(self, work: str, period: float) -> bool:
        """Whether this node runs this period's `work` (housekeeping): one node a period."""
        ...

    async def sweep(self) -> int:
        """What nodes that are gone left behind (owners entries, node entries), deleted; how
        many (housekeeping: they count as nobody's anyway)."""
        ...

    async def ask_leader(self, lease: str, what: str, argument: str) -> bytes:
        """What the leader of `lease` answers to `what` (`LocalNode.lead_here`); NoLeader when
        no node leads it now, ClusterUnavailable when Redis cannot be reached."""
        ...


class SingleNode:
    """The cluster of one node: every connected charge point is held here."""

    def __init__(self, node_name: str, address: str, version: str, clock: Any) -> None:
        self.node_name = node_name
        self.address = address
        self._version = version
        self._clock = clock
        self._started_at: datetime | None = None
        self._local: LocalNode | None = None

    async def start(self, local: LocalNode) -> None:
        self._started_at = self._clock()
        self._local = local

    async def stop(self) -> None:
        self._local = None

    async def claim(self, identity: str, connected_at: datetime) -> None:
        return  # the node's own connections are all there is

    async def release(self, identity: str) -> None:
        return

    async def holders(self, identities: Collection[str]) -> dict[str, Holder]:
        return {}  # what the node does not hold itself, nobody holds

    async def connected(self) -> list[str]:
        return []

    async def call(
        self,
        identity: str,
        request: Payload,
        timeout: float | None,
        force: bool,
        fence: Fence | None = None,
    ) -> Any:
        raise NotHeld(f"charge point {identity!r} is not connected")  # as a cluster says it

    async def disconnect(self, identity: str, code: int, reason: str) -> bool:
        return False  # every connection is this node's: there is no other

    async def registration_changed(self, identity: str, status: RegistrationStatus) -> bool:
        return False

    async def nodes(self) -> list[NodeInfo]:
        assert self._started_at is not None and self._local is not None, "started"
        held = sum(1 for _ in self._local.held())
        return [NodeInfo(self.node_name, self.address, self._started_at, held, self._version)]

    async def fence_holds(self, fence: Fence) -> bool:
        return True

    async def receive_events(self) -> None:
        return  # every event is published here

    def leadership(self, lease: str, elected: Elected, deposed: Deposed) -> Leadership:
        return Alone(elected, deposed)

    async def once(self, work: str, period: float) -> bool:
        return True

    async def sweep(self) -> int:
        return 0

    async def ask_leader(self, lease: str, what: str, argument: str) -> bytes:
        raise NoLeader(f"{lease}: this node alone leads it, and does not now")


REPLY_MARGIN = 5.0
"""Seconds an asking node waits for a reply beyond the call's own timeout and the holder's
database timeout (its checks and recorders may wait on the database)."""


def for_settings(
    settings: Settings,
    version: str,
    clock: Callable[[], datetime],
    metrics: Metrics | None = None,
) -> Cluster:
    """The cluster `settings` ask for: Redis's when given a URL, else this node alone.
    `metrics`: the node's, where a cluster counts Redis's failures."""
    name = node_name(settings)
    address = f"{settings.host}:{settings.port}"
    if not settings.redis_url:
        return SingleNode(name, address, version, clock)
    from ocppd.csms.cluster.redis_cluster import RedisCluster  # only a cluster needs redis-py

    return RedisCluster(
        settings.redis_url,
        name,
        address,
        version,
        clock,
        response_timeout=settings.response_timeout,
        reply_margin=settings.database_timeout + REPLY_MARGIN,
        metrics=metrics,
    )
