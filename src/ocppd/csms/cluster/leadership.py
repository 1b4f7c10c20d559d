"""One node at a time leads a named singleton (the site controller): a lease in Redis with a
fencing token (decision 0005, "Cluster-wide singletons").

The lease `ocppd:lease:{name}` holds `node|run|token` and expires (PX) unless its holder renews
it, every `RENEW` seconds, by a compare-and-pexpire. A leader stops leading when a renewal finds
the lease gone or another's, or when it could not renew for `LEASE - RENEW` seconds (Redis lost,
a network that went silent): before the lease can have expired in Redis, so that no successor
starts while it still believes it leads. A node that was paused (SIGSTOP, a frozen VM) cannot
know that: hence the token, which INCR `ocppd:fence:{name}` gives at each acquisition. What a
leader sends carries it (`Fence`), and the node that sends checks just before that the lease
still holds that token (`fence_holds`): a paused old leader's orders are refused once another
node took over, or once its lease lapsed.

The counter starts from Redis's clock in microseconds when it is missing (a Redis restarted
empty): tokens given before the restart stay below every token given after.

Candidates try every `RETRY` seconds. A leader that stops (SIGTERM) deletes its lease with a
compare-and-delete after its work has stopped, so that another node takes over within `RETRY`.
The work is told in order, by one task (`elected` with the fence, `deposed`), apart from the
renewals: a slow start never delays a renewal. An `elected` that fails resigns: the lease is
released and this node stands again only after `LEASE`, so another node may try.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ocppd.csms.cluster import Deposed, Elected, Fence
from ocppd.csms.cluster.cancellation import cancel_and_wait, raise_if_cancelled

log = logging.getLogger("ocppd.cluster.leadership")

LEASE = 10.0
"""Seconds a lease lasts unless renewed: how long a killed leader's singleton waits for a
successor (plus `RETRY`)."""
RENEW = 2.0
RETRY = 0.5
"""Seconds between a candidate's attempts: how long a released lease may wait for a successor."""

FAILURES = (RedisError, OSError, TimeoutError)
"""What a Redis command may raise when Redis is down, slow or lost (or holds what no node
wrote: another type at a key)."""

_ACQUIRE = """
local current = redis.call('get', KEYS[1])
if current and string.sub(current, 1, #ARGV[1]) ~= ARGV[1]
        and redis.call('pttl', KEYS[1]) >= 0 then
    return false
end
if not string.match(redis.call('get', KEYS[2]) or '', '^%d+$') then
    local now = redis.call('time')
    redis.call('set', KEYS[2], now[1] .. string.format('%06d', tonumber(now[2])))
end
redis.call('incr', KEYS[2])
local token = redis.call('get', KEYS[2])
redis.call('set', KEYS[1], ARGV[1] .. token, 'px', ARGV[2])
return token
"""
"""The lease when it is free, or this process's own (a holder that lost track of it: a renewal
that timed out), or not a lease (no expiry: not written by a node), with a new token: as the
counter's text (a Lua number would print as a float)."""

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def lease_key(name: str) -> str:
    return f"ocppd:lease:{name}"


def fence_key(name: str) -> str:
    return f"ocppd:fence:{name}"


async def fence_holds(redis: "Redis", fence: Fence) -> bool:
    """Whether `fence` is still its lease's: the lease is held, under that token (always the
    newest: a token is only ever set with the lease that INCR gave it to). Raises what Redis
    raises (the caller cannot tell, so it must not send)."""
    value = await redis.get(lease_key(fence.lease))
    raise_if_cancelled()  # a cancelled sender must not go on to send
    if value is None:
        return False
    token = token_of(value)
    if token is None:
        log.warning("lease %s holds %r, not node|run|token: no fence holds", fence.lease, value)
        return False
    return token == fence.token


async def leader_of(redis: "Redis", lease: str) -> str | None:
    """The name of the node that holds `lease`; None when none does (or what the lease holds
    is not `node|run|token`). Raises what Redis raises."""
    value = await redis.get(lease_key(lease))
    raise_if_cancelled()
    if value is None or token_of(value) is None:
        return None
    node, _, _ = _text(value).rpartition("|")[0].rpartition("|")
    return node or None


def token_of(value: Any) -> int | None:
    """The token of a lease's value, None when the value is not `node|run|token`."""
    _, separator, token = _text(value).rpartition("|")
    return int(token) if separator and token.isdigit() else None


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class Leadership:
    """This node's candidacy for the lease `name`: `elected(fence)` is awaited when it starts
    leading, `deposed()` when it stops (also at `stop`, before the lease is released)."""

    def __init__(
        self,
        redis: "Redis",
        name: str,
        node: str,
        run: str,
        elected: Elected,
        deposed: Deposed,
        *,
        lease: float = LEASE,
        renew: float = RENEW,
        retry: float = RETRY,
        redis_failed: Callable[[str], None] | None = None,
    ) -> None:
        """`redis_failed` is told of each failed Redis operation (`lease`: metrics)."""
        if not 0 < 2 * renew < lease:
            raise ValueError("a lease must last more than two renewal periods")
        self.name = name
        self._redis = redis
        self._prefix = f"{node}|{run}|"
        self._elected = elected
        self._deposed = deposed
        self._on_redis_failure = redis_failed
        self._lease = lease
        self._renew = renew
        self._retry = retry
        self._acquire = redis.register_script(_ACQUIRE)
        self._renewal = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._value: str | None = None
        """The lease's value while this node leads."""
        self._fence: Fence | None = None
        self._deadline = 0.0
        """When (monotonic) to stop leading without a renewal."""
        self._stand_at = 0.0
        """No attempt before then (monotonic): after a resignation."""
        self._applied: Fence | None = None
        """The fence the work was last elected with, until it is deposed."""
        self._changed = asyncio.Event()
        self._unreachable = False
        self._stopping = False
        self._campaigning: asyncio.Task[None] | None = None
        self._following: asyncio.Task[None] | None = None

    @property
    def fence(self) -> Fence | None:
        """The fence to send under while this node leads; None when it does not."""
        return self._fence

    async def start(self) -> None:
        self._campaigning = asyncio.create_task(self._campaign(), name=f"lease {self.name}")
        self._following = asyncio.create_task(self._follow(), name=f"leading {self.name}")

    async def stop(self) -> None:
        """Stop leading: the work deposed (once what it was doing is done), then the lease
        released, so that another node takes over at once without overlapping this one."""
        await cancel_and_wait(self._campaigning)
        value = self._value
        self._stopping = True
        self._step_down("this node stops", logging.INFO)
        if self._following is not None:
            await self._following
        else:
            await self._apply(None)
        if value is not None:
            try:
                async with asyncio.timeout(self._renew):
                    await self._release(keys=[lease_key(self.name)], args=[value])
            except FAILURES as error:
                log.warning("lease %s not released (it expires by itself): %r", self.name, error)

    # The lease

    async def _campaign(self) -> None:
        while True:
            if self._value is None:
                await self._stand()
            else:
                await self._keep(self._value)
            raise_if_cancelled()
            if self._value is None:
                await asyncio.sleep(self._retry)
            else:
                await asyncio.sleep(max(0.0, min(self._renew, self._deadline - time.monotonic())))

    async def _stand(self) -> None:
        if time.monotonic() < self._stand_at:
            return
        sent = time.monotonic()
        try:
            async with asyncio.timeout(self._lease):
                token = await self._acquire(
                    keys=[lease_key(self.name), fence_key(self.name)],
                    args=[self._prefix, round(self._lease * 1000)],
                )
        except FAILURES as error:
            self._redis_failed(error)
            return
        self._redis_answered()
        if token is None:
            return
        self._value = f"{self._prefix}{int(token)}"
        self._fence = Fence(self.name, int(token))
        self._deadline = sent + self._lease - self._renew
        log.info("leading %s (fence %d)", self.name, int(token))
        self._changed.set()

    async def _keep(self, value: str) -> None:
        sent = time.monotonic()
        try:
            async with asyncio.timeout(max(0.0, self._deadline - sent)):
                kept = await self._renewal(
                    keys=[lease_key(self.name)], args=[value, round(self._lease * 1000)]
                )
        except FAILURES as error:
            self._redis_failed(error)
            if time.monotonic() >= self._deadline:
                self._step_down(f"its lease could not be renewed ({error!r})")
            return
        self._redis_answered()
        if kept and self._value == value:
            self._deadline = sent + self._lease - self._renew
        elif not kept:
            self._step_down("its lease was lost")

    def _step_down(self, why: str, level: int = logging.WARNING) -> None:
        if self._fence is not None:
            log.log(level, "no longer leading %s: %s", self.name, why)
        self._value = None
        self._fence = None
        self._changed.set()

    def _redis_failed(self, error: BaseException) -> None:
        if self._on_redis_failure is not None:
            self._on_redis_failure("lease")
        if not self._unreachable:
            log.warning("lease %s: Redis failed: %r", self.name, error)
            self._unreachable = True

    def _redis_answered(self) -> None:
        if self._unreachable:
            log.info("lease %s: Redis answers again", self.name)
            self._unreachable = False

    # The work

    async def _follow(self) -> None:
        while not (self._stopping and self._applied is None):
            await self._changed.wait()
            self._changed.clear()
            await self._apply(self._fence)

    async def _apply(self, wanted: Fence | None) -> None:
        """Tell the work, if `wanted` is not what it was last told."""
        if wanted == self._applied:
            return
        if self._applied is not None:
            self._applied = None
            try:
                await self._deposed()
            except Exception:
                log.exception("stopping the work of %s failed", self.name)
        if wanted is None:
            return
        self._applied = wanted
        try:
            await self._elected(wanted)
        except Exception:
            log.exception("starting the work of %s failed: resigning", self.name)
            await self._resign(wanted)

    async def _resign(self, fence: Fence) -> None:
        """Release the lease, and stand again only after `LEASE` (other nodes go first)."""
        value = self._value
        if self._fence != fence or value is None:
            return  # deposed meanwhile
        self._stand_at = time.monotonic() + self._lease
        self._step_down("its work failed to start")
        await self._apply(None)
        try:
            await self._release(keys=[lease_key(self.name)], args=[value])
        except FAILURES as error:
            self._redis_failed(error)
