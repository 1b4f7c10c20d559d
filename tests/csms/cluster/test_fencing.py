"""Two site-controller candidates never both send (issue 18, behaviour 4): the fence of a
leader that was paused past its lease is refused by the node that holds the charger, whether
that is another node or its own. Two central systems in this process (so that one can be
"paused": its lease no longer renewed while its controller goes on), on one PostgreSQL
database and a Redis of the test's own, with chargers on real sockets."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as redis

from ocppd.csms import sites
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.cluster.leadership import lease_key
from ocppd.csms.settings import RegistrationPolicy, Settings
from ocppd.csms.site_controller import LEASE, PROFILE_ID
from ocppd.csms.sites import SiteConfig
from tests.cluster_nodes import Charger, charger, eventually
from tests.redis_server import RedisServer
from tests.servers import serving

pytestmark = pytest.mark.slow


@dataclass
class InProcess:
    """A node of the cluster in this process: its central system, and its port."""

    name: str
    system: CentralSystem
    port: int

    def ws_url(self, identity: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/{identity}"


@contextlib.asynccontextmanager
async def node(
    name: str, redis_url: str, database: str, tmp_path: Path
) -> AsyncIterator[InProcess]:
    settings = Settings(
        database=database,
        redis_url=redis_url,
        node_name=name,
        data_dir=tmp_path / name,
        registration=RegistrationPolicy.OPEN,
    )
    system = CentralSystem(settings)
    await system.start()
    try:
        async with serving(system) as port:
            yield InProcess(name, system, port)
    finally:
        await system.stop()


def profiles(cp: Charger) -> list[int]:
    """The chargingProfileIds of the SetChargingProfiles `cp` received."""
    return [
        payload["csChargingProfiles"]["chargingProfileId"]
        for action, payload in cp.received
        if action == "SetChargingProfile"
    ]


async def members(system: CentralSystem, *identities: str) -> None:
    """Site `depot` with these members, in the database (not yet told to any controller)."""
    async with system.engine.begin() as db:
        if await sites.load(db, "depot") is None:
            await sites.save(db, "depot", SiteConfig(limit=20), system.clock())
        for identity in identities:
            await sites.add_member(db, "depot", identity, system.clock())


def stale_refusals(system: CentralSystem) -> set[str]:
    """The chargers whose profile from `system`'s controller was refused for its fence."""
    allocation = system.sites.allocation("depot")
    assert allocation is not None
    return {f.charge_point_id for f in allocation.failures if "StaleFence" in f.reason}


async def test_a_paused_leaders_profiles_are_refused_once_another_leads(
    redis_server: RedisServer, cluster_database: str, tmp_path: Path
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        a = await stack.enter_async_context(node("A", redis_server.url, cluster_database, tmp_path))
        await eventually(lambda: _true(a.system.sites.running), what="A leads the sites")
        b = await stack.enter_async_context(node("B", redis_server.url, cluster_database, tmp_path))
        cps = {
            identity: await stack.enter_async_context(charger(held_by, identity))
            for identity, held_by in (("CP1", b), ("CP2", a), ("CP3", b), ("CP4", a))
        }
        for cp in cps.values():
            cp.replies["SetChargingProfile"] = {"status": "Accepted"}
        await members(a.system, "CP1", "CP2")
        await b.system.sites.reload("depot")  # B does not lead: A reloads
        for identity in ("CP1", "CP2"):
            await eventually(
                lambda cp=cps[identity]: _true(profiles(cp) == [PROFILE_ID]),
                what=f"A's TxDefaultProfile to {identity}",
            )
        fence = a.system.sites.fence
        assert fence is not None and b.system.sites.fence is None

        # A pauses: its lease is no longer renewed (here: its renewals stopped, its lease
        # expired at once), its controller goes on, believing it leads.
        a.system.site_leadership._campaigning.cancel()
        async with contextlib.aclosing(redis.Redis.from_url(redis_server.url)) as client:
            await client.delete(lease_key(LEASE))
        await eventually(lambda: _true(b.system.sites.running), what="B leads the sites")
        new = b.system.sites.fence
        assert new is not None and new.token > fence.token
        for identity in ("CP1", "CP2"):  # B's own start: TxDefaultProfiles again
            await eventually(
                lambda cp=cps[identity]: _true(profiles(cp) == [PROFILE_ID] * 2),
                what=f"B's TxDefaultProfile to {identity}",
            )

        # Members that only the paused A hears of: it sends them their TxDefaultProfile under
        # its old fence, to CP3 through B and to CP4 on its own connection. Both refuse it.
        assert a.system.sites.running and a.system.sites.fence == fence
        await members(a.system, "CP3", "CP4")
        await a.system.sites.reload("depot")
        await eventually(
            lambda: _true(stale_refusals(a.system) == {"CP3", "CP4"}),
            what="A's profiles refused for their fence",
        )
        assert profiles(cps["CP3"]) == [] and profiles(cps["CP4"]) == []
        assert profiles(cps["CP1"]) == profiles(cps["CP2"]) == [PROFILE_ID] * 2


async def _true(value: bool) -> bool:
    return value
