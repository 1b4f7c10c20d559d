"""Sites over HTTP, and their load management with charge points on real sockets: the
TxDefaultProfile at joining, TxProfiles as transactions start and stop (lowered limits first),
draws released to others, refusals counted at the maximum and reported, recovery from a
lagging subscription."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ocppd.api.tokens import Role
from ocppd.csms.events import MAX_QUEUED
from ocppd.csms.site_controller import PROFILE_ID
from tests.api.conftest import Api, CallError, FakeChargePoint, Silent, charge_point
from tests.csms.conftest import FixedClock

SITE = {"name": "Depot", "limit": 20, "minPerCar": 6}


async def until(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


class Profiles:
    """Every SetChargingProfile the charge points received, in the order they were answered."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, Any] = {}

    def answer(self, identity: str) -> Callable[[dict[str, Any]], Any]:
        def reply(payload: dict[str, Any]) -> Any:
            self.sent.append((identity, payload))
            return self.answers.get(identity, {"status": "Accepted"})

        return reply

    def limits(self, identity: str) -> list[float]:
        """The TxProfile limits `identity` received."""
        return [
            p["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
            for cp, p in self.sent
            if cp == identity and p["csChargingProfiles"]["chargingProfilePurpose"] == "TxProfile"
        ]


@contextlib.asynccontextmanager
async def members(
    api: Api, profiles: Profiles, *names: str, site: dict[str, Any] = SITE
) -> AsyncIterator[list[FakeChargePoint]]:
    """Site `depot` with these charge points connected and joined, their TxDefault sent."""
    await api.client()("PUT", "/sites/depot", site)
    async with contextlib.AsyncExitStack() as stack:
        cps = [await stack.enter_async_context(charge_point(api, name)) for name in names]
        for name, cp in zip(names, cps, strict=True):
            cp.replies["SetChargingProfile"] = profiles.answer(name)
            cp.replies["ClearChargingProfile"] = {"status": "Accepted"}
            await api.client()("PUT", f"/sites/depot/charge-points/{name}")
        await until(lambda: len(profiles.sent) == len(names))
        yield cps


def applied(api: Api, transaction_id: int) -> float | None:
    """The limit the controller knows the charger accepted for this transaction."""
    allocation = api.system.sites.allocation("depot")
    assert allocation is not None
    shares = [t for t in allocation.transactions if t.transaction_id == transaction_id]
    return shares[0].applied_limit_a if shares else None


def failures(api: Api) -> list[tuple[str, int | None]]:
    allocation = api.system.sites.allocation("depot")
    assert allocation is not None
    return [(f.charge_point_id, f.transaction_id) for f in allocation.failures]


@pytest.fixture(autouse=True)
def quick_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal is tried again after 0.1 s (not 1 s), and reported after 0.3 s (not 2 s)."""
    monkeypatch.setattr("ocppd.csms.site_controller.FIRST_RETRY", 0.1)
    monkeypatch.setattr("ocppd.csms.site_controller.REPORT_GRACE", 0.3)


async def start(cp: FakeChargePoint, connector: int = 1) -> int:
    answer = await cp.ask(
        "StartTransaction",
        {
            "connectorId": connector,
            "idTag": "TAG",
            "meterStart": 0,
            "timestamp": "2026-11-25T12:00:00Z",
        },
    )
    transaction_id: int = answer["transactionId"]
    return transaction_id


async def test_sites_are_created_read_changed_and_deleted(api: Api) -> None:
    admin, viewer = api.client(), api.client(Role.VIEWER)
    created = await admin("PUT", "/sites/depot", SITE)
    assert created.status == 201
    assert created.body["siteId"] == "depot" and created.body["chargePoints"] == []
    config = created.body["config"]
    assert (config["limit"], config["unit"], config["minPerCar"], config["timezone"]) == (
        20,
        "A",
        6,
        "UTC",
    )
    assert (await admin("PUT", "/sites/depot", {**SITE, "limit": 30})).status == 200
    patched = await admin("PATCH", "/sites/depot", {"schedule": [{"start": "18:00", "limit": 10}]})
    assert patched.status == 200
    assert patched.body["config"]["limit"] == 30 and patched.body["config"]["schedule"] == [
        {"start": "18:00", "limit": 10}
    ]
    await admin("PUT", "/sites/b-site", {"limit": 11000, "unit": "W"})
    page = (await viewer("GET", "/sites", limit=1)).body
    assert [s["siteId"] for s in page["items"]] == ["b-site"]
    rest = (await viewer("GET", "/sites", cursor=page["nextCursor"])).body
    assert [s["siteId"] for s in rest["items"]] == ["depot"] and rest["nextCursor"] is None
    assert (await viewer("GET", "/sites/depot")).body["config"]["name"] == "Depot"
    assert (await admin("DELETE", "/sites/depot")).status == 204
    for method in ("GET", "DELETE", "PATCH"):
        answer = await admin(method, "/sites/depot", {} if method == "PATCH" else None)
        assert answer.status == 404 and answer.body["error"] == "unknown site 'depot'", method
    allocation = await viewer("GET", "/sites/depot/allocation")
    assert allocation.status == 404


async def test_hostile_site_input_is_refused_and_nothing_changes(api: Api) -> None:
    admin = api.client()
    await admin("PUT", "/sites/depot", SITE)
    bad_bodies: list[tuple[Any, str]] = [
        ({"limit": -1}, "limit"),
        ({"limit": 1e12}, "limit"),
        ({"limit": 10, "unit": "kVA"}, "unit"),
        ({"limit": 10, "timezone": "Mars/Olympus"}, "time zone"),
        (
            {
                "limit": 10,
                "schedule": [{"start": "18:00", "limit": 5}, {"start": "07:00", "limit": 5}],
            },
            "increasing",
        ),
        ({"limit": 10, "schedule": [{"start": "25:00", "limit": 5}]}, "start"),
        ({"limit": 10, "minPerCar": 40}, "exceeds maxPerCar"),
        ({"limit": 10, "phases": 4}, "phases"),
        ({"limit": 10, "surprise": True}, "surprise"),
        ({"name": "no limit"}, "limit"),
        ([1, 2], ""),
    ]
    for body, word in bad_bodies:
        answer = await admin("PUT", "/sites/depot", body)
        assert answer.status == 400, body
        assert answer.body["status"] == 400 and word in str(answer.body), (body, answer.body)
    for body, word in [({"unit": "kVA"}, "unit"), ({"minPerCar": 99}, "exceeds"), ({"x": 1}, "x")]:
        answer = await admin("PATCH", "/sites/depot", body)
        assert answer.status == 400 and word in str(answer.body), (body, answer.body)
    for path in ["/sites/a%20b", "/sites/" + "x" * 65]:
        assert (await admin("PUT", path, SITE)).status in (400, 404), path
    assert (await admin("GET", "/sites/depot")).body["config"]["limit"] == 20
    assert (await api.client(Role.OPERATOR)("PUT", "/sites/depot", SITE)).status == 403
    assert (await api.client(None)("GET", "/sites")).status == 401


async def test_membership(api: Api) -> None:
    admin = api.client()
    await admin("PUT", "/sites/one", SITE)
    await admin("PUT", "/sites/two", SITE)
    async with charge_point(api, "CP1"), charge_point(api, "CP2"):
        pass
    assert (await admin("PUT", "/sites/one/charge-points/CP9")).status == 404
    assert (await admin("PUT", "/sites/nope/charge-points/CP1")).status == 404
    assert (await admin("PUT", "/sites/one/charge-points/CP1")).body["chargePoints"] == ["CP1"]
    assert (await admin("PUT", "/sites/one/charge-points/CP1")).status == 200  # idempotent
    moved = await admin("PUT", "/sites/two/charge-points/CP1")
    assert moved.status == 409 and "'one'" in moved.body["error"]
    await admin("PUT", "/sites/one/charge-points/CP2")
    assert (await admin("GET", "/sites/one")).body["chargePoints"] == ["CP1", "CP2"]
    assert (await admin("DELETE", "/sites/two/charge-points/CP1")).status == 404
    assert (await admin("DELETE", "/sites/one/charge-points/CP1")).status == 204
    assert (await admin("PUT", "/sites/two/charge-points/CP1")).status == 200
    assert (await admin("DELETE", "/sites/one")).status == 204
    assert (await admin("PUT", "/sites/two/charge-points/CP2")).status == 200


async def test_the_allocation_is_told_to_one_decimal(api: Api) -> None:
    """100 A among three: 33.3 A each (a limit has one decimal), 99.9 A allocated in all
    (not the float sum 99.89999999999998), each share 33.3 (not 33.333333333333336)."""
    viewer = api.client(Role.VIEWER)
    profiles = Profiles()
    site = {"limit": 100, "minPerCar": 6, "maxPerCar": 50}
    async with members(api, profiles, "CP1", "CP2", "CP3", site=site) as cps:
        started = [await start(cp) for cp in cps]
        await until(lambda: all(applied(api, t) == 33.3 for t in started))
        allocation = (await viewer("GET", "/sites/depot/allocation")).body
        assert allocation["allocated"] == 99.9 and allocation["limit"] == 100
        assert [t["share"] for t in allocation["transactions"]] == [33.3, 33.3, 33.3]


async def test_the_limit_is_shared_lowering_first(api: Api) -> None:
    admin, viewer = api.client(), api.client(Role.VIEWER)
    profiles = Profiles()
    async with members(api, profiles, "CP1", "CP2") as (cp1, cp2):
        for _, payload in profiles.sent:
            profile = payload["csChargingProfiles"]
            assert payload["connectorId"] == 0 and profile["chargingProfileId"] == PROFILE_ID
            assert profile["chargingProfilePurpose"] == "TxDefaultProfile"
            assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
                {"startPeriod": 0, "limit": 0.0}
            ]

        first = await start(cp1)
        await until(lambda: applied(api, first) == 20.0)
        profile = profiles.sent[-1][1]["csChargingProfiles"]
        assert profile["transactionId"] == first and profile["chargingProfileId"] == PROFILE_ID + 1
        assert profile["chargingProfileKind"] == "Relative" and profile["stackLevel"] == 1

        second = await start(cp2)
        await until(lambda: applied(api, second) == 10.0)
        assert profiles.limits("CP1") == [20.0, 10.0]
        order = [cp for cp, p in profiles.sent[-2:]]
        assert order == ["CP1", "CP2"], "the lowered limit goes out before the raised one"

        allocation = (await viewer("GET", "/sites/depot/allocation")).body
        assert (allocation["limit"], allocation["allocated"], allocation["unit"]) == (20, 20, "A")
        shares = {t["transactionId"]: t for t in allocation["transactions"]}
        assert shares[first]["state"] == shares[second]["state"] == "Charging"
        assert shares[second]["appliedLimitA"] == 10.0 and allocation["withoutDefault"] == []

        # CP1's car takes only 3 A: it keeps 5 A (3 + the margin; raised to the 6 A minimum).
        await cp1.ask(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": first,
                "meterValue": [
                    {
                        "timestamp": "2026-11-25T12:01:00Z",
                        "sampledValue": [
                            {
                                "value": "3.0",
                                "measurand": "Current.Import",
                                "unit": "A",
                                "phase": "L1",
                            },
                            {
                                "value": "2.5",
                                "measurand": "Current.Import",
                                "unit": "A",
                                "phase": "L2",
                            },
                        ],
                    }
                ],
            },
        )
        await until(lambda: applied(api, second) == 14.0)
        assert profiles.limits("CP1")[-1] == 6.0
        assert [cp for cp, p in profiles.sent[-2:]] == ["CP1", "CP2"]

        await cp1.ask(
            "StopTransaction",
            {"transactionId": first, "meterStop": 10, "timestamp": "2026-11-25T12:02:00Z"},
        )
        await until(lambda: applied(api, second) == 20.0)
        allocation = (await viewer("GET", "/sites/depot/allocation")).body
        assert [t["transactionId"] for t in allocation["transactions"]] == [second]

        # The site's limit changes: the share follows at once.
        await admin("PATCH", "/sites/depot", {"limit": 16})
        await until(lambda: applied(api, second) == 16.0)


async def test_a_refusing_charger_counts_at_what_it_may_draw_and_is_reported(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    profiles = Profiles()
    stream = api.system.events.subscribe()
    site = {**SITE, "limit": 50}
    profiles.answers["CP2"] = {"status": "Rejected"}  # its TxDefaultProfile too
    async with members(api, profiles, "CP1", "CP2", "CP3", site=site) as (cp1, cp2, cp3):
        first = await start(cp1)
        await until(lambda: applied(api, first) == 32.0)
        second = await start(cp2)
        # CP2 refuses, and nothing holds it: it may draw 32 A, CP1 is squeezed to 18 A.
        await until(lambda: applied(api, first) == 18.0)
        allocation = (await viewer("GET", "/sites/depot/allocation")).body
        shares = {t["transactionId"]: t for t in allocation["transactions"]}
        assert shares[second]["state"] == "Fallback"
        assert shares[second]["fallback"] == "SetChargingProfile Rejected"
        assert allocation["allocated"] == 50.0 and allocation["withoutDefault"] == ["CP2"]
        await until(lambda: failures(api) == [("CP2", None), ("CP2", second)])

        # CP3 holds its new car at 0 A (its TxDefaultProfile) but answers TxProfiles with a
        # CALLERROR: the car counts for 0 A, the others keep their shares.
        cp3.replies["SetChargingProfile"] = CallError("NotSupported", "no smart charging")
        third = await start(cp3)
        await until(lambda: ("CP3", third) in failures(api))
        # Settled (CP1 may dip while CP3's profile is tried): back at 18 A.
        await until(lambda: applied(api, first) == 18.0)
        allocation = (await viewer("GET", "/sites/depot/allocation")).body
        states = {t["transactionId"]: t["state"] for t in allocation["transactions"]}
        assert states == {first: "Charging", second: "Fallback", third: "Fallback"}
        assert allocation["allocated"] == 50.0 and applied(api, first) == 18.0
        assert allocation["failures"][-1]["reason"] == "CALLERROR NotSupported"

    failed = []
    while (event := await stream.next(0.1)) is not None:
        if event.type == "SiteProfileFailed":
            failed.append((event.charge_point_id, event.data["transactionId"]))
    stream.close()
    assert ("CP2", second) in failed and ("CP3", third) in failed


async def test_a_passing_refusal_is_tried_again_soon_and_not_reported(api: Api) -> None:
    """A charger may refuse a TxProfile that crossed its StartTransaction answer."""
    profiles = Profiles()
    async with members(api, profiles, "CP1") as (cp1,):
        profiles.answers["CP1"] = {"status": "Rejected"}
        first = await start(cp1)
        await until(lambda: profiles.limits("CP1") == [20.0])
        del profiles.answers["CP1"]
        await until(lambda: applied(api, first) == 20.0)
        await asyncio.sleep(0.2)
        assert failures(api) == []


async def test_an_unanswered_profile_times_out_into_fallback(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ocppd.csms.site_controller.PROFILE_TIMEOUT", 0.3)
    viewer = api.client(Role.VIEWER)
    profiles = Profiles()
    async with members(api, profiles, "CP1") as (cp1,):
        cp1.replies["SetChargingProfile"] = Silent()
        await start(cp1)
        await until(lambda: bool(failures(api)))
        allocation = (await viewer("GET", "/sites/depot/allocation")).body
        assert allocation["transactions"][0]["state"] == "Fallback"
        assert allocation["failures"][-1]["reason"] == "no answer within 0.3 s"
        # Held at 0 A until now, it may apply the 20 A it was sent: counted at 20 A.
        assert allocation["allocated"] == 20.0


async def test_a_controller_that_falls_behind_rebuilds_from_the_database(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    profiles = Profiles()
    async with members(api, profiles, "CP1", "CP2") as (cp1, cp2):
        first = await start(cp1)
        second = await start(cp2)
        await until(lambda: applied(api, second) == 10.0)
        sent = len(profiles.sent)
        # Flood the bus without yielding: the controller's subscription overflows and ends.
        for _ in range(MAX_QUEUED + 1):
            api.system.events.publish("Heartbeat", "CPX", api.system.clock())
        # Rebuilt from the database, the limits are unknown again: both are sent anew.
        await until(lambda: len(profiles.sent) >= sent + 2)
        await until(lambda: applied(api, first) == applied(api, second) == 10.0)
        allocation = (await viewer("GET", "/sites/depot/allocation")).body
        assert sorted(t["transactionId"] for t in allocation["transactions"]) == [first, second]
        # It follows the bus again.
        await cp2.ask(
            "StopTransaction",
            {"transactionId": second, "meterStop": 10, "timestamp": "2026-11-25T12:02:00Z"},
        )
        await until(lambda: applied(api, first) == 20.0)


async def test_a_charge_point_leaving_the_site_has_the_site_profiles_cleared(api: Api) -> None:
    admin = api.client()
    profiles = Profiles()
    async with members(api, profiles, "CP1") as (cp1,):
        await start(cp1)
        await until(lambda: profiles.limits("CP1") == [20.0])
        await admin("DELETE", "/sites/depot/charge-points/CP1")
        await until(lambda: len([a for a, _ in cp1.received if a == "ClearChargingProfile"]) == 2)
        cleared = [p["id"] for a, p in cp1.received if a == "ClearChargingProfile"]
        assert cleared == [PROFILE_ID, PROFILE_ID + 1]


async def test_a_scheduled_limit_applies_when_its_period_starts(
    api: Api, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test clock stands at 12:00 UTC; the site's evening period starts at 12:05."""
    monkeypatch.setattr("ocppd.csms.site_controller.MAX_SCHEDULE_WAIT", 0.1)
    profiles = Profiles()
    site = {**SITE, "schedule": [{"start": "12:05", "limit": 12}]}
    async with members(api, profiles, "CP1", site=site) as (cp1,):
        first = await start(cp1)
        await until(lambda: applied(api, first) == 20.0)
        clock.now = clock.now.replace(minute=5)
        await until(lambda: applied(api, first) == 12.0)
        allocation = api.system.sites.allocation("depot")
        assert allocation is not None and allocation.limit == 12
