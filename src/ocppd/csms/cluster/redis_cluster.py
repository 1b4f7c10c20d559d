"""The nodes that share one Redis (and one PostgreSQL database): `ocppd serve --redis-url`.

Redis holds only what is live (docs/decisions/0005-cluster.md): each node's lease
(`nodes.py`), who holds which charge point (`owners.py`), and carries the requests between
nodes over pub/sub (`wire.py`). A charge point's own messages never touch it: Redis is asked
when a connection opens or ends, when an operator's request needs another node, and every
`RENEW` seconds to renew this node's lease.

When Redis cannot be reached the node goes on serving the chargers it holds; what needs
another node raises ClusterUnavailable (the API's 503) with the reason. The renewal keeps
trying, and once Redis answers again the node registers and claims its chargers anew.
"""

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Collection, Iterable
from datetime import datetime
from typing import Any, TypeVar

import msgspec
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ocppd.csms.cluster import (
    ClusterUnavailable,
    Deposed,
    Elected,
    Fence,
    Holder,
    LocalNode,
    NodeInfo,
    NodeNameTaken,
    NoLeader,
    NotHeld,
    nodes,
    owners,
    wire,
)
from ocppd.csms.cluster.batches import Batches
from ocppd.csms.cluster.cancellation import cancel_and_wait, raise_if_cancelled
from ocppd.csms.cluster.events import EventRelay
from ocppd.csms.cluster.leadership import LEASE as LEADER_LEASE
from ocppd.csms.cluster.leadership import Leadership, fence_holds, leader_of
from ocppd.csms.cluster.nodes import LEASE, NODES, RENEW, NodeEntry, channel, node_key
from ocppd.csms.cluster.once import claim as claim_period
from ocppd.csms.cluster.owners import OWNERS, Entry
from ocppd.csms.metrics import Metrics
from ocppd.protocol.actions import spec_for_request
from ocppd.protocol.enums import RegistrationStatus
from ocppd.protocol.fields import Payload
from ocppd.rpc.session import CallTimeout

log = logging.getLogger("ocppd.csms.cluster")

REPLACED = "replaced by a new connection"
REPLACE_WAIT = 1.0
"""Seconds a node that claimed a charger waits for its previous holder to close the older
connection before it reads the new one's first frame."""
DISCONNECT_WAIT = 10.0
"""Seconds an operator's disconnect (a deleted charge point) waits for the holder."""
REDIS_TIMEOUT = 2.0
"""Seconds a Redis command may take: past them Redis counts as unreachable."""
MAX_CONNECTIONS = 32
"""Connections to Redis at most (a reconnect storm claims thousands of chargers at once:
they queue for these rather than opening thousands)."""
POOL_WAIT = 60.0
"""Seconds a command may wait for one of those connections. Waiting is not Redis being
unreachable (only a socket error or a command's timeout is): a storm's queue must not put
the node in its Redis-down mode, so this is well above how long such a queue lasts."""
CONTROL_CONNECTIONS = 2
"""Connections of the node's own pool for its lease renewal and its listener, which the
claims of a storm must never starve."""
POLL = 1.0
"""Seconds the listener waits for a message before looking again (it notices a stop)."""
RETRY = 0.5
"""Seconds between attempts to subscribe again after Redis went away."""
GARBLED_LOG_EVERY = 10.0
"""Seconds between two log lines about garbled messages (the count of the others in each)."""
BATCH = 500
"""Owners entries written in one pipeline when the node claims its chargers anew."""

T = TypeVar("T")
NULL = msgspec.Raw(b"null")

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisCluster:
    """This node, one of those that share a Redis: a `Cluster`."""

    def __init__(
        self,
        url: str,
        node_name: str,
        address: str,
        version: str,
        clock: Any,
        *,
        response_timeout: float = 30.0,
        reply_margin: float = 15.0,
        lease: float = LEASE,
        renew: float = RENEW,
        metrics: Metrics | None = None,
    ) -> None:
        self.redis = _client(url, MAX_CONNECTIONS, POOL_WAIT)
        """For the other parts of the cluster (events, leadership): the node's client."""
        self._control = _client(url, CONTROL_CONNECTIONS, REDIS_TIMEOUT)
        """The lease renewal's and the listener's: one connection each, never queued."""
        self.node_name = node_name
        self.metrics = metrics if metrics is not None else Metrics(node_name)
        """Where Redis's failures are counted (`ocppd_redis_errors_total`, by operation)."""
        self.address = address
        self.run_id = secrets.token_hex(8)
        """This process's id: what a node key holds while the node is live."""
        self.channel = channel(node_name)
        self._version = version
        self._clock = clock
        self._response_timeout = response_timeout
        self._reply_margin = reply_margin
        self._lease_ms = int(lease * 1000)
        self._renew = renew
        self._local: LocalNode | None = None
        self._started_at: datetime | None = None
        self._claims: dict[str, str] = {}
        """identity -> owners entry of this node's connection."""
        self._unreleased: dict[str, str] = {}
        """Entries whose release failed (Redis away): deleted once it is back."""
        self._waiting: dict[str, asyncio.Future[wire.Reply]] = {}
        self._ids = itertools.count()
        self._serving: set[asyncio.Task[None]] = set()
        self._accepting = False
        self._trouble: str | None = None
        """Why Redis is unreachable; None while it answers."""
        self._subscribed = asyncio.Event()
        self.events: EventRelay | None = None
        """The event bus relayed to and from the other nodes, once started."""
        self._listener: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._garbled = 0
        self._garbled_logged = 0.0
        self._release = self.redis.register_script(owners.RELEASE)
        self._reclaim = self.redis.register_script(owners.RECLAIM)
        self._claim_and_release = self.redis.register_script(owners.CLAIM_AND_RELEASE)
        self._owners_changes = Batches(self._change_owners)
        """Claims and releases: those that come while one round trip is in flight go
        together in the next one (a storm's claims would otherwise queue by thousands)."""
        self._register_script = self.redis.register_script(nodes.REGISTER)
        self._leave = self.redis.register_script(nodes.LEAVE)
        self._sweep_node = self.redis.register_script(nodes.SWEEP_NODE)

    # Joining and leaving

    async def start(self, local: LocalNode) -> None:
        """Joins the cluster: subscribed to this node's channel, its name taken (a live node
        of the same name: NodeNameTaken; one that died and left its lease: taken over).
        Redis unreachable: ClusterUnavailable, and the node does not start."""
        self._local = local
        self._started_at = self._clock()
        self._listener = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._subscribed.wait(), REDIS_TIMEOUT * 2)
            await self._join()
        except BaseException as error:
            await self._close()
            if isinstance(error, (TimeoutError, *UNREACHABLE)):
                raise ClusterUnavailable(f"Redis is unreachable: {error or 'no answer'}") from None
            raise
        self.events = EventRelay(
            self.redis,
            self.node_name,
            self.run_id,
            local.events,
            redis_failed=self.metrics.redis_error,
        )
        await self.events.start()
        self._accepting = True
        self._keeper = asyncio.create_task(self._keep_alive())
        try:
            swept = await self.sweep()
        except ClusterUnavailable as error:
            log.warning("node %s: leftovers of dead nodes not swept: %s", self.node_name, error)
        else:
            if swept:
                log.info("node %s: %d entries of nodes gone deleted", self.node_name, swept)
        log.info("node %s joined the cluster (run %s)", self.node_name, self.run_id)

    async def _join(self) -> None:
        other = await self._register_script(
            keys=[node_key(self.node_name), NODES], args=self._register_args("")
        )
        if not isinstance(other, bytes):
            return
        # Our own subscription counts one: more means a live node answers to this name.
        (_, listeners), *_ = await self._control.pubsub_numsub(self.channel)
        if int(listeners) > 1:
            raise NodeNameTaken(
                f"a live node is named {self.node_name!r} already (run {other.decode()}): "
                "give this one another --node-name"
            )
        log.info("node %s: taking over the name from a node that died", self.node_name)
        again = await self._register_script(
            keys=[node_key(self.node_name), NODES], args=self._register_args(other.decode())
        )
        if isinstance(again, bytes):
            raise NodeNameTaken(f"another node took the name {self.node_name!r} meanwhile")

    def _register_args(self, takeover: str) -> list[Any]:
        entry = NodeEntry(
            self.run_id,
            self.address,
            self._started_at or self._clock(),
            self._version,
            len(self._claims),
        )
        return [self.run_id, self._lease_ms, self.node_name, nodes.encode_entry(entry), takeover]

    async def stop(self) -> None:
        """Leaves at once: the requests being served finished, this node's owners entries,
        node entry and lease deleted (only those of this run)."""
        self._accepting = False
        await cancel_and_wait(self._keeper)
        if self._serving:
            await asyncio.wait(self._serving, timeout=self._response_timeout)
        await self._owners_changes.stop()  # none written after this node's are deleted
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for identity, text in {**self._unreleased, **self._claims}.items():
                    await self._release(keys=[OWNERS], args=[identity, text], client=pipe)
                await self._leave(
                    keys=[node_key(self.node_name), NODES],
                    args=[self.run_id, self.node_name],
                    client=pipe,
                )
                await pipe.execute()
        except (*UNREACHABLE, RedisError) as error:
            self.metrics.redis_error("leave")
            log.warning("node %s left without deleting its keys: %s", self.node_name, error)
        self._claims.clear()
        await self._close()
        log.info("node %s left the cluster", self.node_name)

    async def _close(self) -> None:
        if self.events is not None:
            await self.events.stop()
        await self._owners_changes.stop()
        await cancel_and_wait(self._listener, self._keeper)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ClusterUnavailable("this node is leaving the cluster"))
        for client in (self.redis, self._control):
            await client.aclose()
            await client.connection_pool.disconnect()

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._renew)
            try:
                found = await self._register_script(
                    keys=[node_key(self.node_name), NODES],
                    args=self._register_args(""),
                    client=self._control,
                )
                raise_if_cancelled()
                if isinstance(found, bytes):
                    log.error(
                        "node %s: another node (run %s) holds this name: give one of them "
                        "another --node-name",
                        self.node_name,
                        found.decode(errors="replace"),
                    )
                    continue
                if self._trouble is not None or found is not None:
                    # Redis was away, or lost this node's key (restarted empty, or this
                    # process paused past its lease and its entries may have been swept).
                    self._trouble = self._trouble or "this node's lease had expired"
                    await self._rejoin()
                await self._check_subscription()
            except UNREACHABLE as error:
                self._down(error, "renew")
            except (RedisError, ClusterUnavailable) as error:  # the latter: from a rejoin
                self.metrics.redis_error("renew")
                log.warning("node %s: renewing its lease failed: %s", self.node_name, error)
            except Exception:
                # A defect of ours must not end the renewals: the node would look dead to
                # the others while it serves its chargers. `_trouble` stays: tried again.
                log.exception("node %s: renewing its lease failed", self.node_name)
            raise_if_cancelled()

    async def _check_subscription(self) -> None:
        """A subscription can be lost without a word (a network cut healed after Redis
        dropped the connection, which this side never hears of): the node would be deaf to
        requests while its renewals succeed. Redis's count of listeners tells."""
        (_, listeners), *_ = await self._control.pubsub_numsub(self.channel)
        if int(listeners) == 0 and self._subscribed.is_set():
            log.warning(
                "node %s: not subscribed to %s any more: again", self.node_name, self.channel
            )
            self._subscribed.clear()
            await cancel_and_wait(self._listener)
            self._listener = asyncio.create_task(self._listen())

    async def _rejoin(self) -> None:
        """Redis answers again: this node's chargers claimed anew (one that another live
        node took meanwhile, with a newer connection, is closed here), entries it could not
        delete deleted."""
        claimed: dict[str, str] = {}
        while True:
            # Until nothing is left: claims and releases made meanwhile went to memory only.
            # No await between the last look and clearing `_trouble`.
            unreleased = list(self._unreleased.items())
            claims = [(i, t) for i, t in self._claims.items() if claimed.get(i) != t]
            if not unreleased and not claims:
                break
            for identity, text in unreleased:
                await self._release(keys=[OWNERS], args=[identity, text])
                if self._unreleased.get(identity) == text:
                    del self._unreleased[identity]
            await self._claim_anew(claims)
            claimed.update(claims)
        trouble, self._trouble = self._trouble, None
        log.info(
            "node %s: Redis answers again (it was: %s); %d chargers claimed anew",
            self.node_name,
            trouble,
            len(claimed),
        )

    async def _claim_anew(self, claims: list[tuple[str, str]]) -> None:
        conflicts: list[tuple[str, str, bytes]] = []
        for start in range(0, len(claims), BATCH):
            batch = claims[start : start + BATCH]
            async with self.redis.pipeline(transaction=False) as pipe:
                for identity, text in batch:
                    await self._reclaim(keys=[OWNERS], args=[identity, text, ""], client=pipe)
                found = await pipe.execute()
            conflicts += [(i, t, c) for (i, t), c in zip(batch, found, strict=True) if c]
        await asyncio.gather(*(self._settle(i, t, c) for i, t, c in conflicts))

    async def _settle(self, identity: str, text: str, current: bytes) -> None:
        """Another entry was there for a charger this node holds: the newer connection wins."""
        if self._claims.get(identity) != text:
            return  # it closed, or connected anew, meanwhile
        other = owners.parse(current)
        ours = owners.parse(text)
        assert ours is not None
        if other is None or not await self._live(other):
            await self._reclaim(keys=[OWNERS], args=[identity, text, current])
        elif other.connected_at > ours.connected_at:
            log.info("%s: held by node %s since Redis was away; closed here", identity, other.node)
            assert self._local is not None
            await self._local.disconnect_here(identity, 1000, REPLACED)
        else:
            await self._claim_from(identity, text)

    def _down(self, error: BaseException, operation: str) -> None:
        self.metrics.redis_error(operation)
        reason = f"{type(error).__name__}: {error}"
        if self._trouble is None:
            log.warning(
                "node %s: Redis is unreachable (%s); the chargers held here are still served, "
                "what needs another node answers 503 until it is back",
                self.node_name,
                reason,
            )
        self._trouble = reason

    async def _redis(self, awaitable: Awaitable[T]) -> T:
        """A Redis command's result; ClusterUnavailable (with the reason) when it fails."""
        try:
            return await awaitable
        except UNREACHABLE as error:
            self._down(error, "request")
            raise ClusterUnavailable(f"Redis is unreachable: {error}") from None
        except RedisError as error:
            self.metrics.redis_error("request")
            raise ClusterUnavailable(f"Redis failed: {error}") from None

    # Ownership

    async def claim(self, identity: str, connected_at: datetime) -> None:
        text = Entry.new(self.node_name, self.run_id, connected_at).text()
        self._claims[identity] = text
        self._unreleased.pop(identity, None)
        if self._trouble is not None:
            return  # claimed when Redis is back (`_rejoin`); the charger is served meanwhile
        try:
            await self._claim_from(identity, text)
        except UNREACHABLE as error:
            self._down(error, "claim")
        except RedisError as error:
            self.metrics.redis_error("claim")
            log.warning("%s: not claimed: %s", identity, error)

    async def _claim_from(self, identity: str, text: str) -> None:
        previous = await self._owners_changes(("claim", identity, text))
        if previous is None:
            return
        entry = owners.parse(previous)
        if entry is None or entry.run == self.run_id:
            return  # an older connection here: the central system closed it
        request = wire.Replaced(self._request_id(), self.channel, identity, previous.decode())
        try:
            await self._ask(entry.node, request, REPLACE_WAIT)
        except (NotHeld, CallTimeout, ClusterUnavailable) as error:
            log.info("%s: previous holder %s not waited for: %s", identity, entry.node, error)

    async def _change_owners(self, changes: list[tuple[str, str, str]]) -> list[bytes | None]:
        """Claims and releases (`claim` or `release`, identity, entry) in one script call;
        for each, the entry a claim replaced."""
        args = [part for change in changes for part in change]
        replaced = await self._claim_and_release(keys=[OWNERS], args=args)
        return [entry or None for entry in replaced]

    async def release(self, identity: str) -> None:
        text = self._claims.pop(identity, None)
        if text is None:
            return
        if self._trouble is not None:
            self._unreleased[identity] = text
            return
        try:
            await self._owners_changes(("release", identity, text))
        except UNREACHABLE as error:
            self._down(error, "release")
            self._unreleased[identity] = text
        except RedisError as error:
            self.metrics.redis_error("release")
            log.warning("%s: not released: %s", identity, error)

    async def holders(self, identities: Collection[str]) -> dict[str, Holder]:
        wanted = list(identities)
        if not wanted:
            return {}
        found = await self._redis(self.redis.hmget(OWNERS, wanted))
        entries = {i: e for i, t in zip(wanted, found, strict=True) if t and (e := owners.parse(t))}
        live = await self._live_runs(entries.values())
        return {
            identity: Holder(entry.node, entry.connected_at)
            for identity, entry in entries.items()
            if live.get(entry.node) == entry.run
        }

    async def connected(self) -> list[str]:
        found = await self._redis(self.redis.hgetall(OWNERS))
        entries = {_text(i): e for i, t in found.items() if (e := owners.parse(t))}
        live = await self._live_runs(entries.values())
        return sorted(i for i, e in entries.items() if live.get(e.node) == e.run)

    async def _live_runs(self, entries: Iterable[Entry]) -> dict[str, str]:
        """Node name -> the run id its key holds, for the nodes of `entries` that are live."""
        names = sorted({e.node for e in entries})
        if not names:
            return {}
        runs = await self._redis(self.redis.mget([node_key(n) for n in names]))
        return {n: _text(r) for n, r in zip(names, runs, strict=True) if r is not None}

    async def _live(self, entry: Entry) -> bool:
        return (await self._live_runs([entry])).get(entry.node) == entry.run

    # Requests to the other nodes

    async def call(
        self,
        identity: str,
        request: Payload,
        timeout: float | None,
        force: bool,
        fence: Fence | None = None,
    ) -> Any:
        entry = await self._holder(identity)
        spec = spec_for_request(request)
        message = wire.Call(
            self._request_id(),
            self.channel,
            identity,
            spec.name,
            msgspec.Raw(msgspec.json.encode(request)),
            timeout,
            force,
            None if fence is None else wire.WireFence(fence.lease, fence.token),
        )
        wait = (timeout or self._response_timeout) + self._reply_margin
        result = await self._ask(entry.node, message, wait)
        return wire.decode_payload(result, spec.response)

    async def disconnect(self, identity: str, code: int, reason: str) -> bool:
        try:
            entry = await self._holder(identity)
            message = wire.Disconnect(self._request_id(), self.channel, identity, code, reason)
            return bool(msgspec.json.decode(await self._ask(entry.node, message, DISCONNECT_WAIT)))
        except NotHeld:
            return False

    async def registration_changed(self, identity: str, status: RegistrationStatus) -> bool:
        try:
            entry = await self._holder(identity)
            message = wire.Registration(self._request_id(), self.channel, identity, status)
            return bool(msgspec.json.decode(await self._ask(entry.node, message, DISCONNECT_WAIT)))
        except NotHeld:
            return False

    async def _holder(self, identity: str) -> Entry:
        """The entry of the node holding `identity` elsewhere; NotHeld when there is none."""
        text = await self._redis(self.redis.hget(OWNERS, identity))
        entry = None if text is None else owners.parse(text)
        if entry is None or entry.run == self.run_id:
            # None, or this node's own: its connection ended as the request came.
            raise NotHeld(f"charge point {identity!r} is not connected")
        return entry

    def _request_id(self) -> str:
        return f"{self.run_id}:{next(self._ids)}"

    async def _ask(self, node: str, request: wire.Request, wait: float) -> bytes:
        """The result of `request` on `node`, or the exception it raised there."""
        future: asyncio.Future[wire.Reply] = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = future
        try:
            receivers = await self._redis(self.redis.publish(channel(node), wire.encode(request)))
            if receivers == 0:  # its process is gone: its connection to Redis closed with it
                raise _gone(request, node)
            try:
                reply = await asyncio.wait_for(future, wait)
            except TimeoutError:
                raise CallTimeout(f"no answer from node {node} within {wait:g} s") from None
        finally:
            self._waiting.pop(request.id, None)
        if reply.error is not None:
            raise wire.error_from_wire(reply.error)
        return bytes(reply.result)

    async def _listen(self) -> None:
        while True:
            pubsub = self._control.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL)
                    raise_if_cancelled()
                    if message is not None and message.get("type") == "message":
                        self._handle_safely(message["data"])
            except UNREACHABLE as error:
                raise_if_cancelled()
                self._down(error, "listen")
            except RedisError as error:
                raise_if_cancelled()
                self.metrics.redis_error("listen")
                log.warning("node %s: listening failed: %s", self.node_name, error)
            finally:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(pubsub.aclose(), REDIS_TIMEOUT)
            await asyncio.sleep(RETRY)

    def _handle_safely(self, data: bytes) -> None:
        try:
            self._received(data)
        except Exception:  # a defect of ours: the listener must go on for the next message
            log.exception("node %s: a message on %s was not handled", self.node_name, self.channel)

    def _received(self, data: bytes) -> None:
        try:
            message = wire.decode(data)
        except wire.Garbled as error:
            self._drop(error, data)
            return
        if isinstance(message, wire.Reply):
            future = self._waiting.get(message.id)
            if future is not None and not future.done():
                future.set_result(message)
            return
        if not message.reply_to.startswith("ocppd:to:"):
            self._drop(wire.Garbled(f"reply_to {message.reply_to!r}"), data)
            return
        if not self._accepting:
            return  # not joined yet, or leaving: the asker times out or finds the new holder
        task = asyncio.create_task(self._serve(message))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    def _drop(self, error: Exception, data: bytes) -> None:
        self._garbled += 1
        now = time.monotonic()
        if now - self._garbled_logged >= GARBLED_LOG_EVERY:
            log.warning(
                "node %s: dropped %d garbled messages on %s; the last: %s (%r)",
                self.node_name,
                self._garbled,
                self.channel,
                error,
                data[:200],
            )
            self._garbled = 0
            self._garbled_logged = now

    async def _serve(self, request: wire.Request) -> None:
        try:
            reply = wire.Reply(request.id, msgspec.Raw(await self._handle(request)))
        except Exception as error:
            if isinstance(error, wire.Garbled):
                self._drop(error, wire.encode(request))
            reply = wire.Reply(request.id, NULL, error=wire.error_to_wire(error))
        try:
            await self.redis.publish(request.reply_to, wire.encode(reply))
        except UNREACHABLE as error:
            self._down(error, "reply")
        except RedisError as error:
            self.metrics.redis_error("reply")
            log.warning("node %s: reply not sent: %s", self.node_name, error)

    async def _handle(self, request: wire.Request) -> bytes:
        local = self._local
        assert local is not None
        if isinstance(request, wire.Call):
            spec = wire.spec(request.action)
            payload = wire.decode_payload(request.payload, spec.request)
            wired = request.fence
            fence = None if wired is None else Fence(wired.lease, wired.token)
            response = await local.call_here(
                request.identity, payload, request.timeout, request.force, fence
            )
            return msgspec.json.encode(response)
        if isinstance(request, wire.Replaced):
            if self._claims.get(request.identity) != request.entry:
                return b"false"  # that connection is gone already
            return _boolean(await local.disconnect_here(request.identity, 1000, REPLACED))
        if isinstance(request, wire.Disconnect):
            closed = await local.disconnect_here(request.identity, request.code, request.reason)
            return _boolean(closed)
        if isinstance(request, wire.Lead):
            return await local.lead_here(request.lease, request.what, request.argument)
        return _boolean(local.registration_changed_here(request.identity, request.status))

    # What the API shows

    async def nodes(self) -> list[NodeInfo]:
        found = await self._redis(self.redis.hgetall(NODES))
        entries = {_text(n): e for n, t in found.items() if (e := nodes.decode_entry(t))}
        names = sorted(entries)
        runs = await self._redis(self.redis.mget([node_key(n) for n in names])) if names else []
        shown = []
        for name, run in zip(names, runs, strict=True):
            entry = entries[name]
            if run is None or _text(run) != entry.run:
                continue
            held = len(self._claims) if entry.run == self.run_id else entry.charge_points
            address = self.address if entry.run == self.run_id else entry.address
            shown.append(NodeInfo(name, address, entry.started_at, held, entry.version))
        return shown

    async def sweep(self) -> int:
        """The owners entries and node entries of nodes that are gone (killed, or an earlier
        run), deleted; how many. For housekeeping: they count as nobody's anyway."""
        found = await self._redis(self.redis.hgetall(OWNERS))
        entries = {_text(i): (t, owners.parse(t)) for i, t in found.items()}
        live = await self._live_runs(e for _, e in entries.values() if e is not None)
        stale = [
            (identity, text)
            for identity, (text, entry) in entries.items()
            if entry is None or live.get(entry.node) != entry.run
        ]
        listed = await self._redis(self.redis.hgetall(NODES))
        # Candidates only: the script deletes an entry only if its key does not hold its run.
        gone = [
            (_text(name), text, "" if entry is None else entry.run)
            for name, text in listed.items()
            if (entry := nodes.decode_entry(text)) is None or live.get(_text(name)) != entry.run
        ]
        async with self.redis.pipeline(transaction=False) as pipe:
            for identity, text in stale:
                await self._release(keys=[OWNERS], args=[identity, text], client=pipe)
            for name, text, run in gone:
                await self._sweep_node(
                    keys=[NODES, node_key(name)], args=[name, text, run], client=pipe
                )
            deleted = await self._redis(pipe.execute())
        return sum(int(n) for n in deleted)

    async def receive_events(self) -> None:
        if self.events is None:
            raise ClusterUnavailable("this node has not joined the cluster")
        await self.events.listen()

    # Singletons (csms/cluster/leadership.py, once.py)

    async def fence_holds(self, fence: Fence) -> bool:
        """Whether `fence`'s lease is still held under its token (the newest)."""
        return await self._redis(fence_holds(self.redis, fence))

    def leadership(self, lease: str, elected: Elected, deposed: Deposed) -> Leadership:
        return Leadership(
            self.redis,
            lease,
            self.node_name,
            self.run_id,
            elected,
            deposed,
            redis_failed=self.metrics.redis_error,
        )

    async def once(self, work: str, period: float) -> bool:
        return await self._redis(claim_period(self.redis, work, self.node_name, period))

    async def ask_leader(self, lease: str, what: str, argument: str) -> bytes:
        node = await self._redis(leader_of(self.redis, lease))
        if node is None:
            raise NoLeader(f"no node leads {lease} now (one takes over within {LEADER_LEASE:g} s)")
        request = wire.Lead(self._request_id(), self.channel, lease, what, argument)
        return await self._ask(node, request, self._reply_margin)


def _client(url: str, connections: int, wait: float) -> redis.Redis:
    """A client whose commands wait up to `wait` s for one of its `connections`."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=connections,
        timeout=wait,
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 1),  # once more on a fresh connection: Redis restarted
    )
    return redis.Redis(connection_pool=pool)


def _gone(request: wire.Request, node: str) -> Exception:
    """What a request to a node whose process is gone raises."""
    if isinstance(request, wire.Lead):
        return NoLeader(f"{request.lease}: its leader, node {node}, is gone")
    return NotHeld(f"charge point {request.identity!r} is not connected (node {node})")


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _boolean(value: bool) -> bytes:
    return b"true" if value else b"false"
