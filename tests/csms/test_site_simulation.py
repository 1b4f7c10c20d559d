"""A site of 10 simulated chargers with a 100 A limit, cars arriving and leaving, end to end.

ocppd's central system on a free port, ocppd's simulator (one process, one fast clock shared by
the stations so their timestamps line up). Checked from the stored meter values: at every
clock-aligned instant the chargers' main meters (connector 0) together never draw more than the
limit, and every periodic sample of a charging car offers it at least the 6 A minimum. A probe
also reads the simulated meters directly every few milliseconds, between the samples.

`OCPPD_SITE_PLOT=run.svg` writes a plot of the run (each car's power, stacked, and the limit).
SQLite only: the site logic is the same on both databases, and the run takes real seconds.
"""

import asyncio
import os
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.chargepoint.clock import Clock
from ocppd.chargepoint.station import ChargerModel, Station
from ocppd.csms import registration, sites
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.models import id_tags, meter_values
from ocppd.csms.settings import Settings
from ocppd.csms.sites import SiteConfig
from tests.databases import engine_for
from tests.servers import serving

pytestmark = pytest.mark.slow

CHARGERS = 10
LIMIT_A = 100.0
MIN_A = 6.0
VOLTS_3PH = 230.0 * 3
SPEED = 20.0
"""Simulated seconds per real second."""
RUN_SECONDS = 20.0
"""Real seconds of driving: 6 minutes 40 simulated."""
INTERVAL = 30
"""Simulated seconds between meter values (periodic and clock-aligned): 1.5 s real."""
PROBE_SECONDS = 0.005
EV_KW = [None, 22.0, 11.0, 7.4, 3.7]
"""What the cars take at most (None: whatever is offered); the slow ones release the rest."""


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async for created in engine_for("sqlite", tmp_path):
        yield created


async def drive(station: Station, seed: int) -> None:
    """Cars come and go at this charger: wait, plug in, charge a while, leave."""
    rng = random.Random(seed)
    await station.wait_accepted(timeout=None)
    while True:
        await station.clock.sleep(rng.uniform(0, 60))
        await station.plug_in(1)
        station.connector(1).meter.ev_max_power_w = _watts(rng.choice(EV_KW))
        station.connector(1).meter.soc_percent = rng.uniform(10, 60)
        await station.start_transaction(1, f"TAG-{station.identity}")
        await station.clock.sleep(rng.uniform(60, 180))
        await station.stop_transaction(1)
        await station.unplug(1)


def _watts(kw: float | None) -> float | None:
    return None if kw is None else kw * 1000


class Probe:
    """The simulated power of every charger, read all at once (no await in between), and how
    long each new car waited (real seconds) until it was offered the minimum: shown when the
    run fails, not asserted (it depends on the machine's load)."""

    def __init__(self, stations: list[Station]) -> None:
        self.stations = stations
        self.readings: list[tuple[float, list[float]]] = []
        self.waits: list[float] = []

    async def run(self) -> None:
        waiting: dict[int, float] = {}
        while True:
            now = self.stations[0].clock.now().timestamp()
            self.readings.append((now, [s.connector(1).meter.power_w for s in self.stations]))
            for index, station in enumerate(self.stations):
                connector = station.connector(1)
                offered = connector.meter.offered_w >= MIN_A * VOLTS_3PH - 1
                if connector.transaction is None:
                    waiting.pop(index, None)
                elif not offered:
                    waiting.setdefault(index, time.monotonic())
                elif index in waiting:
                    self.waits.append(time.monotonic() - waiting.pop(index))
            await asyncio.sleep(PROBE_SECONDS)


async def test_a_site_never_draws_more_than_its_limit(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    system = CentralSystem(Settings(heartbeat_interval=3600), engine=sqlite_engine)
    await system.start()
    names = [f"CP{n:02d}" for n in range(1, CHARGERS + 1)]
    async with sqlite_engine.begin() as db:
        await sites.save(db, "depot", SiteConfig(limit=LIMIT_A, min_per_car=MIN_A), system.clock())
        for name in names:
            await registration.register(db, name)
            await sites.add_member(db, "depot", name, system.clock())
            tag = f"TAG-{name}"
            await db.execute(
                id_tags.insert().values(id_tag=tag, id_tag_key=tag.lower(), status="Accepted")
            )
    await system.sites.reload("depot")
    clock = Clock(speed=SPEED)
    configuration = {
        "MeterValueSampleInterval": str(INTERVAL),
        "MeterValuesSampledData": "Power.Active.Import,Current.Import,Current.Offered",
        "ClockAlignedDataInterval": str(INTERVAL),
        "MeterValuesAlignedData": "Power.Active.Import",
    }
    try:
        async with serving(system) as port:
            stations = [
                Station(
                    f"ws://127.0.0.1:{port}/ocpp",
                    name,
                    model=ChargerModel(connectors=1),
                    clock=clock,
                    configuration=configuration,
                )
                for name in names
            ]
            for station in stations:
                station.start()
            probe = Probe(stations)
            tasks = [asyncio.create_task(drive(s, n)) for n, s in enumerate(stations)]
            tasks.append(asyncio.create_task(probe.run()))
            await asyncio.sleep(RUN_SECONDS)
            allocation = system.sites.allocation("depot")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for station in stations:
                await station.stop(save=False)
    finally:
        await system.stop()

    limit_w = LIMIT_A * VOLTS_3PH
    async with sqlite_engine.connect() as db:
        rows = (
            await db.execute(
                sa.select(meter_values).where(
                    meter_values.c.measurand.in_(["Power.Active.Import", "Current.Offered"])
                )
            )
        ).all()
    site_power: dict[datetime, float] = defaultdict(float)
    offered: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    for row in rows:
        if row.connector_id == 0 and row.measurand == "Power.Active.Import":
            site_power[row.timestamp] += float(row.value)
        elif row.measurand == "Current.Offered" and row.context == "Sample.Periodic":
            offered[row.transaction_id].append((row.timestamp, float(row.value)))
    # A car waits at 0 A for its first TxProfile: its first sample may show that, no later one.
    later = [value for samples in offered.values() for _, value in sorted(samples)[1:]]
    sessions = len({r.transaction_id for r in rows if r.transaction_id is not None})

    assert allocation is not None and not allocation.failures, allocation
    assert sessions >= CHARGERS, f"only {sessions} sessions: the run did not exercise the site"
    assert len(site_power) >= RUN_SECONDS * SPEED / INTERVAL / 2
    assert max(site_power.values()) > 0.6 * limit_w, "the site was never loaded"
    assert max(site_power.values()) <= limit_w, max(site_power.values())
    # Each new car offered the minimum before its next sample: from what was stored, not from
    # how many real seconds it waited (the probe's `waits`, which a loaded machine stretches).
    waited = f"the longest wait {max(probe.waits, default=0):.2f} s real"
    assert later and min(later) >= MIN_A, (min(later), waited)
    peak = max(sum(powers) for _, powers in probe.readings)
    assert peak <= limit_w, f"the simulated meters drew {peak:.0f} W > {limit_w:.0f} W"

    plot = os.environ.get("OCPPD_SITE_PLOT")
    if plot:
        await asyncio.to_thread(Path(plot).write_text, svg(probe.readings, limit_w, names))


def svg(readings: list[tuple[float, list[float]]], limit_w: float, names: list[str]) -> str:
    """Each charger's power stacked over (simulated) time, and the site's limit."""
    width, height, pad = 900, 420, 40
    start, end = readings[0][0], readings[-1][0]
    top = limit_w * 1.15

    def x(t: float) -> float:
        return pad + (t - start) / max(end - start, 1e-9) * (width - 2 * pad)

    def y(w: float) -> float:
        return height - pad - w / top * (height - 2 * pad)

    layers = []
    below = [0.0] * len(readings)
    for index, name in enumerate(names):
        above = [b + powers[index] for b, (_, powers) in zip(below, readings, strict=True)]
        upper = " ".join(
            f"{x(t):.1f},{y(v):.1f}" for (t, _), v in zip(readings, above, strict=True)
        )
        lower = " ".join(
            f"{x(t):.1f},{y(v):.1f}"
            for (t, _), v in reversed(list(zip(readings, below, strict=True)))
        )
        hue = index * 360 // len(names)
        layers.append(
            f'<polygon points="{upper} {lower}" fill="hsl({hue},60%,60%)">'
            f"<title>{name}</title></polygon>"
        )
        below = above
    minutes = (end - start) / 60
    began = datetime.fromtimestamp(start, UTC).strftime("%H:%M:%S")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">'
        f'<rect width="100%" height="100%" fill="white"/>{"".join(layers)}'
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(limit_w):.1f}" y2="{y(limit_w):.1f}" '
        f'stroke="red" stroke-dasharray="6 3"/>'
        f'<text x="{pad}" y="{y(limit_w) - 4:.1f}" fill="red">site limit {limit_w / 1000:.1f} kW '
        f"(100 A x 3 x 230 V)</text>"
        f'<text x="{pad}" y="{height - 12}">{len(names)} chargers, {minutes:.1f} simulated minutes '
        f"from {began} UTC; stacked power per charger</text></svg>"
    )
