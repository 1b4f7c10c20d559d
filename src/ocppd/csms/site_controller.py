"""Site load management: each site's limit shared among its active transactions, live.

The controller follows the event bus (TransactionStarted, TransactionStopped or
TransactionReconciled (`reconciliation`), MeterValues with
the measured draw, BootNotification) and a timer for scheduled limits. On each change it
recomputes the site's shares (`load_sharing.allocate`, then `settle` for the hysteresis) and
sends a TxProfile only to the transactions whose limit changed:

- Profiles: SetChargingProfile, purpose TxProfile, with the transactionId, Relative, one period,
  in A per phase (what every smart-charging charger accepts; a W site's share is converted with
  the site's voltage and the car's measured phases, else the site's phases, rounded down to
  0.1 A). chargingProfileId `PROFILE_ID + connectorId`, stackLevel `STACK_LEVEL`: each new one
  replaces the previous one on that connector. An operator's own TxProfile at a higher stack
  level would override ours: the site cannot account for it.
- A new transaction must not draw before it has its share: every member charge point gets a
  TxDefaultProfile of 0 A (connector 0, chargingProfileId `PROFILE_ID`) when it joins the site
  and at each BootNotification, so a car starts paused and charges once its TxProfile arrives
  (within one round trip). Without it (refused), a new transaction counts at the maximum until
  its TxProfile is accepted.
- Order: every lowered limit is sent, and accepted, before any raised one, so the sum of what the
  chargers apply never exceeds the site's limit in between.
- A charger that refuses a profile (Rejected, a CALLERROR, a profile ocppd would not send)
  keeps the limit it had; one that does not answer within `PROFILE_TIMEOUT`, or whose
  connection drops, may apply the old limit or the new one. Either way its transaction falls
  back to being counted at what it may draw: the limit it had (held at 0 A by our
  TxDefaultProfile for a new transaction), the higher of old and new without an answer, the
  site's maximum per car when nothing is known; the others share what is left. It is tried
  again after `FIRST_RETRY`, then every `RETRY_SECONDS`, with the limit it is counted at (so
  the others need not move for a retry); once it accepts, it gets a share again. A
  refusal is reported (a `SiteProfileFailed` event, and the allocation's `failures`) when its
  retry is refused too and the transaction still runs and still refuses `REPORT_GRACE`
  seconds later: a TxProfile that crosses the transaction's StopTransaction, or its
  StartTransaction answer, is refused without anything being wrong.
- Reaction: a change is applied `DEBOUNCE` seconds after its event (several events, one
  rebalance), well within one meter-value interval.
- Recovery: a subscriber that falls behind the bus is ended; the controller then subscribes
  again and rebuilds every site from the database (the latest open transaction of each
  connector of its members; their limits unknown until sent again). The same happens at start.
- A cluster (decision 0005, "Cluster-wide singletons"): one node drives every site, the leader
  of the lease `LEASE`; the controller runs from its election (`start`, with the fence its
  profiles carry: the node holding the charger refuses them once another node leads) until it
  is deposed or hands over (`stop`). A site changed through another node is reloaded by the
  leader (`reload` asks it); the live allocation is the leader's (`live_allocation`). Events of
  chargers on other nodes come through the cluster's event relay; one that could not be
  relayed ends the subscription, and the controller rebuilds.

The live allocation is in memory (`allocation`); sites and membership are stored (`sites.py`).
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa

from ocppd.csms import sites
from ocppd.csms.clock import as_utc
from ocppd.csms.cluster import Cluster, ClusterUnavailable, Fence, NoLeader
from ocppd.csms.events import Event, Subscription
from ocppd.csms.load_sharing import Demand, allocate, available_to_share, settle
from ocppd.csms.models import transactions
from ocppd.csms.sites import (
    Site,
    SiteConfig,
    Unit,
    floor_tenth,
    limit_at,
    nearest_tenth,
    next_change,
)
from ocppd.csms.system_services import SystemServices
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ocppd.protocol.enums import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
)
from ocppd.protocol.errors import CallErrorReceived

log = logging.getLogger("ocppd.sites")

PROFILE_ID = 1_960_000
"""Our chargingProfileIds: this one for the TxDefaultProfile, + connectorId for TxProfiles."""
STACK_LEVEL = 1
DEBOUNCE = 0.05
PROFILE_TIMEOUT = 10.0
FIRST_RETRY = 1.0
"""After a first failure, the next attempt; later failures wait `RETRY_SECONDS`."""
RETRY_SECONDS = 60.0
REPORT_GRACE = 2.0
"""Longer than `FIRST_RETRY` and its round trip: a refusal that the retry cures is not reported."""
MARGIN_A = 2.0
"""What a car drawing less than its limit keeps above its draw (and may grow by per round)."""
STEP_A = 1.0
"""Hysteresis: a change smaller than this is not sent (unless the sum needs it)."""
MAX_ROUNDS = 4
"""Recomputations within one rebalance after failures, before waiting for the next event."""
FAILURES_KEPT = 50
MAX_SCHEDULE_WAIT = 3600.0

LEASE = "site-controller"
"""The lease whose leader drives the sites, in a cluster."""

Send = Callable[[str, Any, float | None], Awaitable[Any]]


class SiteServices(SystemServices, Protocol):
    """Besides the shared services: which charge points are connected (here, and to any node),
    `call` (to any node), and the cluster (to reach the leader)."""

    @property
    def connections(self) -> Mapping[str, object]: ...
    @property
    def cluster(self) -> Cluster: ...
    async def call(
        self,
        identity: str,
        request: Any,
        timeout: float | None = None,
        force: bool = False,
        fence: Fence | None = None,
    ) -> Any: ...
    async def holders(self, identities: Iterable[str]) -> Mapping[str, object]: ...


class Failure(msgspec.Struct, rename="camel", kw_only=True):
    at: datetime
    charge_point_id: str
    transaction_id: int | None
    """None: the TxDefaultProfile of the charge point."""
    reason: str


class Share(msgspec.Struct, rename="camel", kw_only=True):
    transaction_id: int
    charge_point_id: str
    connector_id: int
    started_at: datetime
    share: float
    """Its part of the site's limit, in the site's unit (0 = paused)."""
    applied_limit_a: float | None
    """The TxProfile limit the charger accepted (A per phase); None = not known yet."""
    draw: float | None
    """Last measured, in the site's unit."""
    state: str
    """Charging, Paused (no room for its minimum), Pending (its limit not accepted yet) or
    Fallback (its charger failed a profile: counted at the maximum per car)."""
    fallback: str | None


class Allocation(msgspec.Struct, rename="camel", kw_only=True):
    """Amounts (here and in each Share) to one decimal, the precision of OCPP's limits."""

    site_id: str
    at: datetime
    unit: Unit
    limit: float
    """The site's limit now (its schedule applied)."""
    allocated: float
    """What the chargers may draw together: the accepted limits, fallbacks at the maximum."""
    drawn: float
    """The sum of the last measured draws."""
    transactions: list[Share]
    without_default: list[str]
    """Members whose TxDefaultProfile of 0 A is not installed (refused, or not connected)."""
    failures: list[Failure]
    """The latest refused or failed profiles, oldest first."""
    rebalanced_at: datetime | None


@dataclass
class Active:
    """One transaction on a member charge point, as the controller knows it."""

    transaction_id: int
    charge_point_id: str
    connector_id: int
    started_at: datetime
    applied_a: float | None
    """The limit (A per phase) the charger applies, as last accepted; None = unknown."""
    current_a: float | None = None
    power_w: float | None = None
    phases: int | None = None
    share: float = 0.0
    """The last computed share, in the site's unit."""
    fallback: str | None = None
    retry_at: float = 0.0
    failures: int = 0


@dataclass
class SiteState:
    site: Site
    transactions: dict[int, Active] = field(default_factory=dict)
    """In arrival order."""
    defaults: dict[str, bool] = field(default_factory=dict)
    """Per member: whether our TxDefaultProfile of 0 A is installed."""
    pending_defaults: set[str] = field(default_factory=set)
    failures: deque[Failure] = field(default_factory=lambda: deque(maxlen=FAILURES_KEPT))
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None
    rebalanced_at: datetime | None = None

    @property
    def config(self) -> SiteConfig:
        return self.site.config

    # Conversions into the site's unit

    def watts_per_amp(self, tx: Active) -> float:
        return self.config.watts_per_amp(tx.phases)

    def to_site(self, amps: float, tx: Active) -> float:
        return amps if self.config.unit is Unit.A else amps * self.watts_per_amp(tx)

    def to_amps(self, amount: float, tx: Active) -> float:
        return amount if self.config.unit is Unit.A else amount / self.watts_per_amp(tx)

    def draw(self, tx: Active) -> float | None:
        if self.config.unit is Unit.A:
            if tx.current_a is not None:
                return tx.current_a
            return None if tx.power_w is None else tx.power_w / self.watts_per_amp(tx)
        if tx.power_w is not None:
            return tx.power_w
        return None if tx.current_a is None else tx.current_a * self.watts_per_amp(tx)

    def in_site_unit(self, amps: float) -> float:
        return amps if self.config.unit is Unit.A else amps * self.config.watts_per_amp()


@dataclass(frozen=True)
class Failed:
    reason: str
    maybe_applied: bool = False
    """No answer, or the connection dropped: the charger may apply the new limit or the old."""


@dataclass(frozen=True)
class Change:
    tx: Active
    amps: float


@dataclass(frozen=True)
class Plan:
    limit: float
    lower: list[Change]
    """Sent first: lowered limits, and limits not known yet."""
    raise_: list[Change]


class SiteController:
    def __init__(self, system: SiteServices, send: Send | None = None) -> None:
        self.system = system
        self.send: Send = send if send is not None else self._send_fenced
        self.sites: dict[str, SiteState] = {}
        self.site_of: dict[str, str] = {}
        self.running = False
        """Whether this node drives the sites (in a cluster: it leads `LEASE`)."""
        self.fence: Fence | None = None
        """What its profiles are sent under (None: a single node)."""
        self._life = asyncio.Lock()
        """Start, stop and reloads one at a time (a reload never meets a half-built state)."""
        self._listener: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[Any]] = set()

    # Life

    async def start(self, fence: Fence | None = None) -> None:
        """Drive the sites, from the database as it is now (this node was elected)."""
        async with self._life:
            self.fence = fence
            self.running = True
            await self._load_all()

    async def stop(self) -> None:
        """Stop driving the sites at once (deposed, handing over, or stopping); what it knew
        is forgotten: the next start, here or on another node, rebuilds it."""
        async with self._life:
            self.running = False
            self.fence = None
            tasks = [self._listener, *(s.worker for s in self.sites.values()), *self._chores]
            for task in tasks:
                if task is not None:
                    task.cancel()
            await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
            self._listener = None
            self.sites.clear()
            self.site_of.clear()

    async def _send_fenced(self, identity: str, request: Any, timeout: float | None) -> Any:
        if not self.running:
            raise NoLeader("the site controller stopped: nothing is sent")
        return await self.system.call(identity, request, timeout, fence=self.fence)

    async def reload(self, site_id: str) -> None:
        """The site changed in the database (created, replaced, deleted, members changed):
        reloaded here, or by the node that drives the sites. Without one (being elected),
        nothing to do: the next one loads it. ClusterUnavailable when it cannot be told."""
        async with self._life:
            if self.running:
                await self._reload(site_id)
                return
        with contextlib.suppress(NoLeader):
            await self.system.cluster.ask_leader(LEASE, "reload", site_id)

    async def live_allocation(self, site_id: str) -> Allocation | None:
        """`allocation`, of the node that drives the sites; NoLeader while none does,
        ClusterUnavailable when it cannot be asked."""
        if self.running:
            return self.allocation(site_id)
        answer = await self.system.cluster.ask_leader(LEASE, "allocation", site_id)
        return msgspec.json.decode(answer, type=Allocation | None)

    async def lead_here(self, what: str, argument: str) -> bytes:
        """What another node asks of the leader (`reload`, `live_allocation`); NoLeader when
        this node does not drive the sites (any more, or yet)."""
        async with self._life:
            if not self.running:
                raise NoLeader(f"node {self.system.cluster.node_name} does not drive the sites")
            if what == "reload":
                await self._reload(argument)
                return b"true"
            if what == "allocation":
                return msgspec.json.encode(self.allocation(argument))
        raise ValueError(f"the site controller does no {what!r}")

    async def _reload(self, site_id: str) -> None:
        subscription = None if self._listener is not None else await self._subscribe()
        async with self.system.engine.connect() as db:
            site = await sites.load(db, site_id)
        state = self.sites.get(site_id)
        old = set() if state is None else set(state.site.charge_points)
        new = set() if site is None else set(site.charge_points)
        if state is not None:
            for charge_point_id in old - new:
                self._leave(state, charge_point_id)
        if site is None:
            await self._forget(site_id)
        elif state is None:
            await self._join(self._new_state(site), new)
        else:
            state.site = site
            await self._join(state, new - old)
        self._listen_if_needed(subscription)

    def _new_state(self, site: Site) -> SiteState:
        state = self.sites[site.site_id] = SiteState(site)
        state.worker = asyncio.create_task(self._work(state), name=f"site {site.site_id}")
        return state

    async def _join(self, state: SiteState, members: Iterable[str]) -> None:
        members = sorted(members)
        async with self.system.engine.connect() as db:
            for tx in await _open_transactions(db, members):
                state.transactions.setdefault(tx.transaction_id, tx)
        connected = await self._connected(members)
        for charge_point_id in members:
            self.site_of[charge_point_id] = state.site.site_id
            state.defaults[charge_point_id] = False
            if charge_point_id in connected:
                state.pending_defaults.add(charge_point_id)
        state.dirty.set()

    async def _connected(self, members: list[str]) -> Iterable[str]:
        """Those of `members` connected to any node (Redis unreachable: to this one; the others
        get their default at their next boot)."""
        try:
            return set(await self.system.holders(members))
        except ClusterUnavailable:
            return {m for m in members if m in self.system.connections}

    def _leave(self, state: SiteState, charge_point_id: str) -> None:
        """A member leaves: its transactions are no longer ours, nor are its profiles."""
        self.site_of.pop(charge_point_id, None)
        state.defaults.pop(charge_point_id, None)
        state.pending_defaults.discard(charge_point_id)
        connectors = set()
        for tx in list(state.transactions.values()):
            if tx.charge_point_id == charge_point_id:
                connectors.add(tx.connector_id)
                del state.transactions[tx.transaction_id]
        self._chore(self._clear_profiles(charge_point_id, connectors))
        state.dirty.set()

    async def _load_all(self) -> None:
        subscription = await self._subscribe()
        await self._load_sites()
        self._listen_if_needed(subscription)

    async def _load_sites(self) -> None:
        async with self.system.engine.connect() as db:
            found = await sites.load_all(db)
        for site in found:
            await self._join(self._new_state(site), site.charge_points)

    async def _forget(self, site_id: str) -> None:
        state = self.sites.pop(site_id, None)
        if state is None:
            return
        for charge_point_id in state.site.charge_points:
            self.site_of.pop(charge_point_id, None)
        if state.worker is not None:
            state.worker.cancel()
            await asyncio.gather(state.worker, return_exceptions=True)

    def allocation(self, site_id: str) -> Allocation | None:
        """The live allocation of a site; None when there is no such site."""
        state = self.sites.get(site_id)
        if state is None:
            return None
        config = state.config
        shares = [self._share(state, tx) for tx in state.transactions.values()]
        return Allocation(
            site_id=site_id,
            at=self.system.clock(),
            unit=config.unit,
            limit=nearest_tenth(limit_at(config, self.system.clock())),
            allocated=nearest_tenth(
                sum(_allocated(state, tx) for tx in state.transactions.values())
            ),
            drawn=nearest_tenth(sum(s.draw or 0.0 for s in shares)),
            transactions=shares,
            without_default=sorted(cp for cp, installed in state.defaults.items() if not installed),
            failures=list(state.failures),
            rebalanced_at=state.rebalanced_at,
        )

    def _share(self, state: SiteState, tx: Active) -> Share:
        if tx.fallback is not None:
            status = "Fallback"
        elif tx.applied_a is None:
            status = "Pending"
        else:
            status = "Paused" if tx.applied_a == 0 else "Charging"
        draw = state.draw(tx)
        return Share(
            transaction_id=tx.transaction_id,
            charge_point_id=tx.charge_point_id,
            connector_id=tx.connector_id,
            started_at=tx.started_at,
            share=nearest_tenth(tx.share),
            applied_limit_a=tx.applied_a,
            draw=None if draw is None else nearest_tenth(draw),
            state=status,
            fallback=tx.fallback,
        )

    # Events

    async def _subscribe(self) -> Subscription:
        """A subscription to the bus, taken before the database is read (nothing published
        after the read is missed), once it receives what every node of a cluster publishes
        (at most about a second; with Redis away at once: it is ended, and the controller
        rebuilds, once Redis is back)."""
        subscription = self.system.events.subscribe()
        with contextlib.suppress(ClusterUnavailable):
            await self.system.cluster.receive_events()
        return subscription

    def _listen_if_needed(self, subscription: Subscription | None) -> None:
        """Follow the bus (with `subscription`, taken before the sites were read) only while
        there are sites (an idle bus costs nothing)."""
        if self.sites and self._listener is None:
            subscription = subscription or self.system.events.subscribe()
            self._listener = asyncio.create_task(self._listen(subscription), name="sites")
            return
        if subscription is not None:
            subscription.close()
        if not self.sites and self._listener is not None:
            self._listener.cancel()
            self._listener = None

    async def _listen(self, subscription: Subscription) -> None:
        while True:
            try:
                async for event in subscription:
                    self.on_event(event)
            finally:
                subscription.close()
            if not subscription.overflowed:
                return  # the bus closed: the central system stops
            log.warning(
                "sites: %s; rebuilding from the database",
                subscription.ended_because or "fell behind the event bus",
            )
            subscription = await self._subscribe()
            async with self._life:
                for site_id in list(self.sites):
                    await self._forget(site_id)
                await self._load_sites()

    def on_event(self, event: Event) -> None:
        site_id = self.site_of.get(event.charge_point_id)
        state = self.sites.get(site_id) if site_id is not None else None
        if state is None:
            return
        data = event.data
        match event.type:
            case "TransactionStarted":
                cp = event.charge_point_id
                state.transactions[data["transactionId"]] = Active(
                    data["transactionId"],
                    cp,
                    data["connectorId"],
                    event.at,
                    applied_a=0.0 if state.defaults.get(cp) else None,
                )
            case "TransactionStopped" | "TransactionReconciled":
                if state.transactions.pop(data["transactionId"], None) is None:
                    return
            case "MeterValues":
                tx = _transaction_of(state, event)
                if tx is None:
                    return
                tx.current_a = data.get("currentA", tx.current_a)
                tx.power_w = data.get("powerW", tx.power_w)
                tx.phases = data.get("phases", tx.phases)
            case "BootNotification" if data.get("status") == "Accepted":
                state.pending_defaults.add(event.charge_point_id)
            case _:
                return
        state.dirty.set()

    # Rebalancing

    async def _work(self, state: SiteState) -> None:
        while True:
            wait = _earliest(self._until_next_change(state), _until_retry(state))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.dirty.wait(), wait)
            state.dirty.clear()
            await asyncio.sleep(DEBOUNCE)
            try:
                await self.rebalance(state)
            except Exception:
                log.exception("site %s: rebalance failed", state.site.site_id)

    def _until_next_change(self, state: SiteState) -> float | None:
        now = self.system.clock()
        change = next_change(state.config, now)
        if change is None:
            return None
        return min(max((change - now).total_seconds(), 0.0), MAX_SCHEDULE_WAIT)

    async def rebalance(self, state: SiteState) -> None:
        await self._send_defaults(state)
        for _ in range(MAX_ROUNDS):
            plan = self.plan(state)
            if not await self._apply(state, plan.lower):
                continue  # a charger we could not lower now counts at its maximum
            if await self._apply(state, plan.raise_):
                break
        state.rebalanced_at = self.system.clock()

    def plan(self, state: SiteState) -> Plan:
        """What to send now (no I/O): the shares, settled, as changes of applied limits."""
        config = state.config
        limit = limit_at(config, self.system.clock())
        now = time.monotonic()
        active = list(state.transactions.values())
        demands = [self._demand(state, tx, now) for tx in active]
        targets = allocate(limit, demands, state.in_site_unit(MARGIN_A))
        step = state.in_site_unit(STEP_A)
        settled = settle(targets, demands, available_to_share(limit, demands), step)
        lower: list[Change] = []
        raise_: list[Change] = []
        for tx, demand in zip(active, demands, strict=True):
            tx.share = targets[tx.transaction_id]
            if demand.fixed and now >= tx.retry_at:
                # Tried again with what it is counted at: the others need not move for it.
                lower.append(Change(tx, floor_tenth(state.to_amps(demand.maximum, tx))))
            if demand.fixed or settled[tx.transaction_id] == demand.current:
                continue
            amps = floor_tenth(state.to_amps(settled[tx.transaction_id], tx))
            if amps == tx.applied_a:
                continue
            change = Change(tx, amps)
            (lower if tx.applied_a is None or amps < tx.applied_a else raise_).append(change)
        return Plan(limit, lower, raise_)

    def _demand(self, state: SiteState, tx: Active, now: float) -> Demand:
        fixed = tx.fallback is not None
        return Demand(
            tx.transaction_id,
            state.config.minimum(),
            _allocated(state, tx) if fixed else state.config.maximum(),
            draw=state.draw(tx),
            current=None if tx.applied_a is None else state.to_site(tx.applied_a, tx),
            fixed=fixed,
        )

    async def _apply(self, state: SiteState, changes: list[Change]) -> bool:
        """Send the changes together; False when any failed (its transaction falls back)."""
        results = await asyncio.gather(*(self._send_share(state, c) for c in changes))
        return all(results)

    async def _send_share(self, state: SiteState, change: Change) -> bool:
        tx = change.tx
        request = m.SetChargingProfileRequest(
            connector_id=tx.connector_id, cs_charging_profiles=tx_profile(tx, change.amps)
        )
        failed = await self._try(tx.charge_point_id, request)
        if state.transactions.get(tx.transaction_id) is not tx:
            return True  # ended meanwhile: nothing to account for
        if failed is None:
            if tx.fallback is not None:
                state.dirty.set()  # it accepts again: it gets its share at the next rebalance
            tx.applied_a = change.amps
            tx.fallback = None
            return True
        if failed.maybe_applied and tx.applied_a is not None:
            tx.applied_a = max(tx.applied_a, change.amps)  # whichever it applies
        tx.fallback = failed.reason
        tx.failures += 1
        tx.retry_at = time.monotonic() + (FIRST_RETRY if tx.failures == 1 else RETRY_SECONDS)
        if tx.failures > 1:
            self._chore(self._report_if_lasting(state, tx))
        return False

    async def _report_if_lasting(self, state: SiteState, tx: Active) -> None:
        """A refusal may be a race with the charger (a StopTransaction on its way, a
        StartTransaction answer not yet applied): reported only once its retry was refused
        too (not when a clock says the retry should have been answered: on a busy machine it
        may not have been), and the transaction is still running, and still refusing,
        `REPORT_GRACE` seconds later."""
        reason = tx.fallback
        await asyncio.sleep(REPORT_GRACE)
        if state.transactions.get(tx.transaction_id) is tx and tx.fallback is not None:
            self._report(state, tx.charge_point_id, tx.transaction_id, reason or tx.fallback)

    async def _send_defaults(self, state: SiteState) -> None:
        async def one(charge_point_id: str) -> None:
            request = m.SetChargingProfileRequest(connector_id=0, cs_charging_profiles=tx_default())
            failed = await self._try(charge_point_id, request)
            if charge_point_id in state.defaults:
                state.defaults[charge_point_id] = failed is None
            if failed is not None:
                self._report(state, charge_point_id, None, failed.reason)

        pending, state.pending_defaults = state.pending_defaults, set()
        await asyncio.gather(*(one(charge_point_id) for charge_point_id in sorted(pending)))

    async def _try(self, charge_point_id: str, request: Any) -> "Failed | None":
        """Why the charger did not accept `request`, and whether it may have applied it
        anyway; None when it accepted."""
        try:
            response = await self.send(charge_point_id, request, PROFILE_TIMEOUT)
        except CallErrorReceived as error:
            return Failed(f"CALLERROR {error.wire_code}")
        except TimeoutError:
            return Failed(f"no answer within {PROFILE_TIMEOUT:g} s", maybe_applied=True)
        except LookupError:  # NotConnected: nothing was sent
            return Failed("not connected")
        except Exception as error:  # ProfileRefused (a ValueError: not sent), disconnected...
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            return Failed(reason, maybe_applied=not isinstance(error, ValueError))
        status = getattr(response, "status", None)
        if status in (ChargingProfileStatus.ACCEPTED, "Accepted"):
            return None
        return Failed(f"SetChargingProfile {status}")

    def _report(
        self, state: SiteState, charge_point_id: str, transaction_id: int | None, reason: str
    ) -> None:
        now = self.system.clock()
        state.failures.append(
            Failure(
                at=now,
                charge_point_id=charge_point_id,
                transaction_id=transaction_id,
                reason=reason,
            )
        )
        log.warning(
            "site %s: %s tx %s: %s", state.site.site_id, charge_point_id, transaction_id, reason
        )
        self.system.events.publish(
            "SiteProfileFailed",
            charge_point_id,
            now,
            siteId=state.site.site_id,
            transactionId=transaction_id,
            reason=reason,
        )

    async def _clear_profiles(self, charge_point_id: str, connectors: Iterable[int]) -> None:
        """Best effort: a charge point that left a site should not keep the site's limits."""
        for profile_id in [PROFILE_ID, *(PROFILE_ID + c for c in sorted(connectors))]:
            await self._try(charge_point_id, m.ClearChargingProfileRequest(id=profile_id))

    def _chore(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)


def tx_profile(tx: Active, amps: float) -> ChargingProfile:
    return ChargingProfile(
        charging_profile_id=PROFILE_ID + tx.connector_id,
        stack_level=STACK_LEVEL,
        charging_profile_purpose=ChargingProfilePurposeType.TX_PROFILE,
        charging_profile_kind=ChargingProfileKindType.RELATIVE,
        transaction_id=tx.transaction_id,
        charging_schedule=_schedule(amps),
    )


def tx_default() -> ChargingProfile:
    return ChargingProfile(
        charging_profile_id=PROFILE_ID,
        stack_level=STACK_LEVEL,
        charging_profile_purpose=ChargingProfilePurposeType.TX_DEFAULT_PROFILE,
        charging_profile_kind=ChargingProfileKindType.RELATIVE,
        charging_schedule=_schedule(0.0),
    )


def _schedule(amps: float) -> ChargingSchedule:
    return ChargingSchedule(
        charging_rate_unit=ChargingRateUnitType.A,
        charging_schedule_period=[ChargingSchedulePeriod(start_period=0, limit=amps)],
    )


def _until_retry(state: SiteState) -> float | None:
    """Seconds until a transaction in fallback may be tried again."""
    retries = [tx.retry_at for tx in state.transactions.values() if tx.fallback is not None]
    return max(min(retries) - time.monotonic(), 0.0) if retries else None


def _earliest(*waits: float | None) -> float | None:
    known = [wait for wait in waits if wait is not None]
    return min(known) if known else None


def _allocated(state: SiteState, tx: Active) -> float:
    """What a transaction may draw as far as we know: unknown counts at the maximum."""
    if tx.applied_a is None:
        return state.config.maximum()
    return state.to_site(tx.applied_a, tx)


def _transaction_of(state: SiteState, event: Event) -> Active | None:
    transaction_id = event.data.get("transactionId")
    if transaction_id is not None:
        return state.transactions.get(transaction_id)
    for tx in state.transactions.values():
        if tx.charge_point_id == event.charge_point_id and tx.connector_id == event.data.get(
            "connectorId"
        ):
            return tx
    return None


async def _open_transactions(db: Any, charge_point_ids: Iterable[str]) -> list[Active]:
    """The latest open transaction of each connector of these charge points, oldest first
    (an older open one on the same connector lost its StopTransaction: not counted)."""
    ids = sorted(charge_point_ids)
    if not ids:
        return []
    t = transactions.c
    rows = await db.execute(
        sa.select(t.id, t.charge_point_id, t.connector_id, t.started_at)
        .where(t.stopped_at.is_(None), t.charge_point_id.in_(ids))
        .order_by(t.started_at, t.id)
    )
    latest: dict[tuple[str, int], Active] = {}
    for row in rows:
        latest.pop((row.charge_point_id, row.connector_id), None)
        latest[(row.charge_point_id, row.connector_id)] = Active(
            row.id, row.charge_point_id, row.connector_id, as_utc(row.started_at), applied_a=None
        )
    return list(latest.values())
