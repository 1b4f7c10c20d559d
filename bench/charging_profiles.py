"""The central system's prediction path: the composite from stored profiles (issue 6).

The 10 profiles of `bench/smart_charging.py` (a busy site: every kind, unit and recurrence)
are recorded as a charger's Accepted answers would store them, in a central system on SQLite
(a temporary file), with the transaction of the TxProfiles running on connector 1. Timed,
timeit-style, µs per call, median and best of the repeats:

- `compose` alone over 7 days (the pure computation, as in bench/smart_charging.py);
- `ChargingProfiles.composite`: read the rows, decode the profiles, resolve the TxProfiles'
  transaction, read the running transaction, compose: what the API's composite route and
  every GetCompositeSchedule comparison do before encoding;
- the same plus the route's JSON (msgspec) or the SVG plot.

HTTP and authentication are not included (bench/api.py measures those for other routes).

    .venv/bin/python bench/charging_profiles.py           # full run
    .venv/bin/python bench/charging_profiles.py --quick   # smoke run, few repeats
"""

import argparse
import asyncio
import gc
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec

from ocppd.api.schedule_plot import plot
from ocppd.csms import registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.models import transactions
from ocppd.csms.settings import Settings
from ocppd.protocol import messages as m
from ocppd.protocol.enums import ChargingProfileStatus, ChargingRateUnitType
from ocppd.protocol.smart_charging import compose
from smart_charging import NOW, PROFILES, TX_START, WEEK

A = ChargingRateUnitType.A
RECEIVED = NOW - timedelta(days=3)


async def stored_system(folder: Path) -> CentralSystem:
    """A central system holding the 10 profiles for CP1, as recorded from Accepted answers."""
    clock = {"now": RECEIVED}
    system = CentralSystem(
        Settings(database=f"sqlite:///{folder / 'ocppd.db'}"), clock=lambda: clock["now"]
    )
    await system.start()
    async with system.engine.begin() as db:
        await registration.register(db, "CP1")
        await db.execute(
            transactions.insert().values(
                charge_point_id="CP1",
                connector_id=1,
                id_tag="TAG1",
                start_status="Accepted",
                meter_start=0,
                started_at=TX_START,
                received_at=TX_START,
            )
        )
    accepted = m.SetChargingProfileResponse(status=ChargingProfileStatus.ACCEPTED)
    for item in PROFILES:
        request = m.SetChargingProfileRequest(
            connector_id=item.connector_id, cs_charging_profiles=item.profile
        )
        await system.charging_profiles.set("CP1", request, accepted, RECEIVED)
    clock["now"] = NOW
    return system


async def measure(
    function: Callable[[], Awaitable[Any]], number: int, repeat: int
) -> tuple[float, float]:
    times = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(number):
                await function()
            times.append((time.perf_counter() - started) / number * 1e6)
    finally:
        gc.enable()
    return statistics.median(times), min(times)


async def run(number: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        system = await stored_system(Path(tmp))
        try:
            profiles = system.charging_profiles
            held = await profiles.stored("CP1")
            predicted = await profiles.composite("CP1", 1, NOW, NOW + WEEK, A)
            pure = compose(PROFILES, 1, NOW, NOW + WEEK, A, tx_start=TX_START)
            assert predicted.intervals == pure.intervals, "the stored path predicts otherwise"
            print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
            print(
                f"{len(held)} stored profiles, connector 1, 7 days: "
                f"{len(predicted.intervals)} intervals (the same as compose on the originals)"
            )
            print("µs per call, median (best) of the repeats")

            async def pure_compose() -> Any:
                return compose(PROFILES, 1, NOW, NOW + WEEK, A, tx_start=TX_START)

            async def from_store() -> Any:
                return await profiles.composite("CP1", 1, NOW, NOW + WEEK, A)

            async def as_json() -> Any:
                return msgspec.json.encode((await from_store()).intervals)

            async def as_svg() -> Any:
                return plot(await from_store(), "CP1, connector 1: predicted limit")

            for name, function in (
                ("compose alone", pure_compose),
                ("stored profiles -> composite", from_store),
                ("  + JSON", as_json),
                ("  + SVG plot", as_svg),
            ):
                median, best = await measure(function, number, repeat)
                print(f"{name:30} {median:10.1f} ({best:.1f})")
        finally:
            await system.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    arguments = parser.parse_args()
    number, repeat = (10, 3) if arguments.quick else (100, 11)
    asyncio.run(run(number, repeat))


if __name__ == "__main__":
    main()
