"""Background housekeeping: a run that fails is logged, and the next run still comes."""

import asyncio
import logging

import pytest

from ocppd.csms.housekeeping import repeat


async def test_a_failing_run_is_logged_and_the_next_one_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    third = asyncio.Event()

    async def prune() -> int:
        runs.append(len(runs))
        if len(runs) == 3:
            third.set()
        if len(runs) == 1:
            raise OSError("the disk went away")
        return 3

    with caplog.at_level(logging.INFO, logger="ocppd.csms.housekeeping"):
        task = asyncio.create_task(repeat("prune", prune, "pruned %d things", every=0.01))
        async with asyncio.timeout(5):
            await third.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "prune failed" in caplog.text and "the disk went away" in caplog.text
    assert "pruned 3 things" in caplog.text
