"""How long one rebalance of a site with 1,000 active transactions takes (issue 6).

The site: 1,000 transactions on 500 chargers (2 connectors each), a 10,000 A limit, 6 A
minimum, 32 A maximum; a quarter of the cars draw less than their limit (satisfied), the rest
take all they are given. Three changes, each timed from the state before it:

- `arrival`: a 1,001st car arrives; every share moves by about 0.01 A, under the 1 A
  hysteresis, and the room the limits sent rounded down to 0.1 A leave is enough for the
  newcomer: only its profile is sent;
- `draw`: one satisfied car reports a new draw;
- `limit`: the schedule lowers the site's limit by 10%: nearly every transaction gets a new
  (lower) profile.

Timed: `allocate` + `settle` alone (the pure allocation), `plan` (the controller's step that
turns shares into changes of applied limits, no I/O), and `rebalance` (plan, then every
SetChargingProfile built, validated and framed as the session would send it, then the
bookkeeping of the answers), with a send that answers Accepted at once: the network and the
chargers are left out. Medians and best of the repeats, in ms.

    .venv/bin/python bench/site_rebalance.py           # full run
    .venv/bin/python bench/site_rebalance.py --quick   # smoke run, few repeats
"""

import argparse
import asyncio
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from ocppd.csms.events import EventBus
from ocppd.csms.load_sharing import allocate, available_to_share, settle
from ocppd.csms.site_controller import MARGIN_A, STEP_A, Active, SiteController, SiteState
from ocppd.csms.sites import Site, SiteConfig
from ocppd.protocol import messages as m
from ocppd.protocol.actions import spec_for_request
from ocppd.protocol.enums import ChargingProfileStatus
from ocppd.protocol.frames import encode_call

TRANSACTIONS = 1000
LIMIT_A = 10_000.0
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ACCEPTED = m.SetChargingProfileResponse(status=ChargingProfileStatus.ACCEPTED)


class Counter:
    def __init__(self) -> None:
        self.sent = 0

    async def send(self, charge_point_id: str, request: Any, timeout: float | None) -> Any:
        """What the session does with a request before it leaves: validate, encode, frame."""
        payload = spec_for_request(request).request_codec.encode(request)
        encode_call(f"{self.sent}", "SetChargingProfile", payload)
        self.sent += 1
        return ACCEPTED


def site_state(limit: float = LIMIT_A) -> SiteState:
    state = SiteState(Site(site_id="bench", config=SiteConfig(limit=limit), charge_points=[]))
    for n in range(TRANSACTIONS):
        add(state, n + 1)
    return state


def add(state: SiteState, transaction_id: int) -> None:
    tx = Active(transaction_id, f"CP{transaction_id // 2:04d}", transaction_id % 2 + 1, NOW, None)
    if transaction_id % 4 == 0:
        tx.current_a = 4.0 + transaction_id % 7  # a satisfied car
    state.transactions[transaction_id] = tx


def controller() -> tuple[SiteController, Counter]:
    counter = Counter()
    system = SimpleNamespace(clock=lambda: NOW, events=EventBus(), connections={})
    return SiteController(system, send=counter.send), counter


async def settled_state(sites: SiteController) -> SiteState:
    """A site in steady state: every transaction's share applied."""
    state = site_state()
    await sites.rebalance(state)
    await sites.rebalance(state)
    return state


def changes() -> dict[str, Callable[[SiteState], None]]:
    def arrival(state: SiteState) -> None:
        add(state, TRANSACTIONS + 1)

    def draw(state: SiteState) -> None:
        state.transactions[8].current_a = 3.0

    def limit(state: SiteState) -> None:
        state.site.config.limit = LIMIT_A * 0.9

    return {"arrival": arrival, "draw": draw, "limit": limit}


def time_pure(state: SiteState, sites: SiteController, repeat: int) -> list[float]:
    demands = [sites._demand(state, tx, time.monotonic()) for tx in state.transactions.values()]
    limit = state.config.limit
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        targets = allocate(limit, demands, MARGIN_A)
        settle(targets, demands, available_to_share(limit, demands), STEP_A)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def time_change(
    name: str, change: Callable[[SiteState], None], repeat: int
) -> tuple[list[float], list[float], list[float], int]:
    pure, plans, rebalances = [], [], []
    sent = 0
    for _ in range(repeat):
        sites, counter = controller()
        state = await settled_state(sites)
        change(state)
        pure += time_pure(state, sites, 1)
        gc.collect()
        started = time.perf_counter()
        sites.plan(state)
        plans.append((time.perf_counter() - started) * 1000)
        before = counter.sent
        started = time.perf_counter()
        await sites.rebalance(state)
        rebalances.append((time.perf_counter() - started) * 1000)
        sent = counter.sent - before
    return pure, plans, rebalances, sent


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):8.2f} ({min(times):.2f})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    repeat = 3 if parser.parse_args().quick else 15
    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    print(f"{TRANSACTIONS} active transactions, limit {LIMIT_A:.0f} A; ms, median (best)")
    print(f"{'change':10} {'allocate+settle':>18} {'plan':>18} {'rebalance':>18} {'profiles':>9}")
    for name, change in changes().items():
        pure, plans, rebalances, sent = await time_change(name, change, repeat)
        print(
            f"{name:10} {summary(pure):>18} {summary(plans):>18} {summary(rebalances):>18} {sent:9}"
        )


if __name__ == "__main__":
    asyncio.run(main())
