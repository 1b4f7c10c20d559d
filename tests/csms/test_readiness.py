"""The readiness probe's own rules, without a database that hangs for real: a query the
probe gave up on may take its time to wind down, and probes meanwhile still get an answer."""

import asyncio

import pytest

from ocppd.csms import readiness
from ocppd.csms.readiness import Readiness


async def test_a_probe_while_an_abandoned_query_winds_down_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(readiness, "TIMEOUT", 0.05)
    cancelled = asyncio.Event()
    released = asyncio.Event()
    asked = 0

    async def slow_to_cancel(self: Readiness) -> list[str] | None:
        nonlocal asked
        asked += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            await released.wait()  # like a driver cancelling a query on a dead socket
            raise
        raise AssertionError("never answers")

    monkeypatch.setattr(Readiness, "_revisions", slow_to_cancel)
    probe = Readiness(engine=None)  # type: ignore[arg-type]
    assert await probe.problem() == "the database did not answer within 0.05 s"
    await cancelled.wait()
    second = asyncio.ensure_future(probe.problem())
    await asyncio.sleep(0)
    released.set()
    assert await second == "the database did not answer within 0.05 s"
    assert asked == 2
