"""Work the central system repeats in the background (pruning what is kept for a while): run,
log what it did, never let one failure stop the next run."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("ocppd.csms.housekeeping")

HOURLY = 3600.0


async def repeat(
    what: str, work: Callable[[], Awaitable[int]], done: str, every: float = HOURLY
) -> None:
    """`work` now and every `every` seconds; `done` % (what it returned) logged when not 0,
    "`what` failed" with the exception when it raises."""
    while True:
        try:
            count = await work()
            if count:
                log.info(done, count)
        except Exception:
            log.exception("%s failed", what)
        await asyncio.sleep(every)
