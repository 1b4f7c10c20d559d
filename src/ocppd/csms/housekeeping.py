"""Work the central system repeats in the background (pruning what is kept for a while): run,
log what it did, never let one failure stop the next run. In a cluster each period's run is
claimed first, so that one node runs it (`cluster.once`)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("ocppd.csms.housekeeping")

HOURLY = 3600.0

Claim = Callable[[float], Awaitable[bool]]
"""Whether this node runs the work of the period (its length in seconds) that begins now."""


async def repeat(
    what: str,
    work: Callable[[], Awaitable[int]],
    done: str,
    every: float = HOURLY,
    claim: Claim | None = None,
) -> None:
    """`work` now and every `every` seconds (when `claim` allows it: not when another node
    runs this period's); `done` % (what it returned) logged when not 0, "`what` failed" with
    the exception when it or the claim raises."""
    while True:
        try:
            if claim is None or await claim(every):
                count = await work()
                if count:
                    log.info(done, count)
        except Exception:
            log.exception("%s failed", what)
        await asyncio.sleep(every)
