"""Transactions and the message log, filled by a charge point over its socket, read over HTTP."""

from typing import Any

from ocppd.api.tokens import Role
from tests.api.conftest import Api, FakeChargePoint, charge_point


async def start(cp: FakeChargePoint, tag: str, connector: int, meter: int, at: str) -> int:
    answer = await cp.ask(
        "StartTransaction",
        {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": at},
    )
    transaction_id: int = answer["transactionId"]
    return transaction_id


def energy_reading(transaction_id: int, at: str, value: str, unit: str = "Wh") -> dict[str, Any]:
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [
            {
                "timestamp": at,
                "sampledValue": [
                    {"value": value, "unit": unit, "measurand": "Energy.Active.Import.Register"},
                    {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                ],
            }
        ],
    }


async def test_a_session_with_meter_values_and_energy(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    async with charge_point(api) as cp:
        tx = await start(cp, "TAG1", 1, 1000, "2026-11-25T10:00:00Z")
        await cp.ask("MeterValues", energy_reading(tx, "2026-11-25T10:15:00Z", "1.5", "kWh"))
        running = (await viewer("GET", f"/transactions/{tx}")).body
        assert running["active"] is True and running["energyWh"] == 500
        await cp.ask("MeterValues", energy_reading(tx, "2026-11-25T10:30:00Z", "2200"))
        assert (await viewer("GET", f"/transactions/{tx}")).body["energyWh"] == 1200
        await cp.ask(
            "StopTransaction",
            {
                "transactionId": tx,
                "meterStop": 3000,
                "timestamp": "2026-11-25T11:00:00Z",
                "reason": "EVDisconnected",
            },
        )
        done = (await viewer("GET", f"/transactions/{tx}")).body
    assert done["active"] is False
    assert done["energyWh"] == 2000
    assert done["meterStart"] == 1000 and done["meterStop"] == 3000
    assert done["startedAt"] == "2026-11-25T10:00:00Z"
    assert done["stoppedAt"] == "2026-11-25T11:00:00Z"
    assert done["reason"] == "EVDisconnected"
    assert done["chargePointId"] == "CP1" and done["connectorId"] == 1
    assert [m["timestamp"] for m in done["meterValues"]] == [
        "2026-11-25T10:15:00Z",
        "2026-11-25T10:30:00Z",
    ]
    first = done["meterValues"][0]["sampledValue"]
    assert first[0] == {
        "value": "1.5",
        "context": "Sample.Periodic",
        "format": "Raw",
        "measurand": "Energy.Active.Import.Register",
        "location": "Outlet",
        "unit": "kWh",
    }
    assert first[1]["measurand"] == "Power.Active.Import"
    assert (await viewer("GET", "/transactions/999999")).status == 404


async def test_only_the_latest_meter_values(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    async with charge_point(api) as cp:
        tx = await start(cp, "TAG1", 1, 1000, "2026-11-25T10:00:00Z")
        for minute in (15, 45, 30):  # stored out of order
            at = f"2026-11-25T10:{minute}:00Z"
            await cp.ask("MeterValues", energy_reading(tx, at, str(1000 + minute)))
    one = (await viewer("GET", f"/transactions/{tx}", latest=1)).body
    assert [m["timestamp"] for m in one["meterValues"]] == ["2026-11-25T10:45:00Z"]
    assert len(one["meterValues"][0]["sampledValue"]) == 2
    two = (await viewer("GET", f"/transactions/{tx}", latest=2)).body
    assert [m["timestamp"] for m in two["meterValues"]] == [
        "2026-11-25T10:30:00Z",
        "2026-11-25T10:45:00Z",
    ]
    every = (await viewer("GET", f"/transactions/{tx}")).body
    assert len(every["meterValues"]) == 3
    for bad in (0, 1001, "x"):
        assert (await viewer("GET", f"/transactions/{tx}", latest=bad)).status == 400


async def test_filters_and_pages(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    async with charge_point(api, "CPA") as a, charge_point(api, "CPB") as b:
        t1 = await start(a, "ALICE", 1, 0, "2026-11-25T08:00:00Z")
        await a.ask(
            "StopTransaction",
            {"transactionId": t1, "meterStop": 10, "timestamp": "2026-11-25T09:00:00Z"},
        )
        t2 = await start(a, "BOB", 2, 0, "2026-11-25T10:00:00Z")
        t3 = await start(b, "alice", 1, 0, "2026-11-25T11:00:00Z")

    async def ids(**query: Any) -> list[int]:
        answer = await viewer("GET", "/transactions", **query)
        assert answer.status == 200, answer.body
        return [t["transactionId"] for t in answer.body["items"]]

    assert await ids() == [t3, t2, t1]  # newest first
    assert await ids(chargePointId="CPA") == [t2, t1]
    assert await ids(idTag="Alice") == [t3, t1]  # id tags match case-insensitively
    assert await ids(active=True) == [t3, t2]
    assert await ids(active=False) == [t1]
    assert await ids(since="2026-11-25T09:30:00Z") == [t3, t2]
    assert await ids(until="2026-11-25T10:30:00Z") == [t2, t1]
    assert await ids(since="2026-11-25T08:30:00Z", until="2026-11-25T09:30:00Z") == [t1]
    page = (await viewer("GET", "/transactions", limit=2)).body
    assert [t["transactionId"] for t in page["items"]] == [t3, t2]
    assert await ids(cursor=page["nextCursor"]) == [t1]
    assert (await viewer("GET", "/transactions", cursor="x")).status == 400
    assert (await viewer("GET", "/transactions", cursor="9" * 30)).status == 400
    assert (await viewer("GET", "/messages", cursor="9" * 30)).status == 400
    assert (await viewer("GET", "/transactions/" + "9" * 30)).status == 400
    assert (await viewer("GET", "/transactions", since="yesterday")).status == 400


async def test_message_log_by_charge_point_and_action(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    async with charge_point(api, "CPA") as a, charge_point(api, "CPB") as b:
        await a.ask("Heartbeat", {})
        await b.ask("Heartbeat", {})
        a.replies["Reset"] = {"status": "Accepted"}
        await api.client(Role.OPERATOR)(
            "POST", "/charge-points/CPA/commands/Reset", {"type": "Soft"}
        )
    await api.system.writer.flush()

    async def frames(**query: Any) -> list[tuple[str, str, Any]]:
        answer = await viewer("GET", "/messages", **query)
        assert answer.status == 200, answer.body
        return [(m["chargePointId"], m["direction"], m["frame"]) for m in answer.body["items"]]

    beats = await frames(chargePointId="CPA", action="Heartbeat")
    assert [(cp, direction, frame[0]) for cp, direction, frame in beats] == [
        ("CPA", "out", 3),
        ("CPA", "in", 2),
    ]
    reset = await frames(action="Reset")
    assert [(direction, frame[0]) for _, direction, frame in reset] == [("in", 3), ("out", 2)]
    assert reset[1][2][3] == {"type": "Soft"}
    assert [cp for cp, _, _ in await frames(chargePointId="CPB")] == ["CPB"] * 4
    everything = (await viewer("GET", "/messages", limit=3)).body
    assert len(everything["items"]) == 3 and everything["nextCursor"]
    older = (await viewer("GET", "/messages", limit=100, cursor=everything["nextCursor"])).body
    all_ids = [m["id"] for m in everything["items"] + older["items"]]
    assert all_ids == sorted(all_ids, reverse=True) and len(set(all_ids)) == 10
    assert await frames(direction="in", chargePointId="CPB", action="BootNotification")
    assert await frames(since="2026-11-25T12:00:01Z") == []


async def test_a_reconciled_transaction_reads_as_stopped_with_no_reading_and_its_evidence(
    api: Api,
) -> None:
    """A transaction its charger forgot (a new start on its connector): stopped, reason
    "reconciled", what showed it, meterStop and energy unknown, while running it had energy."""
    viewer = api.client(Role.VIEWER)
    async with charge_point(api) as cp:
        forgotten = await start(cp, "TAG1", 1, 1000, "2026-11-25T10:00:00Z")
        await cp.ask("MeterValues", energy_reading(forgotten, "2026-11-25T10:15:00Z", "1500"))
        assert (await viewer("GET", f"/transactions/{forgotten}")).body["energyWh"] == 500
        new = await start(cp, "TAG1", 1, 1600, "2026-11-25T11:00:00Z")
        done = (await viewer("GET", f"/transactions/{forgotten}")).body
        listed = (await viewer("GET", "/transactions", active="false")).body
    assert (done["active"], done["reason"], done["meterStop"], done["energyWh"]) == (
        False,
        "reconciled",
        None,
        None,
    )
    assert done["stoppedAt"] == "2026-11-25T11:00:00Z"
    assert done["stopEvidence"] == (
        f"StartTransaction of transaction {new} on connector 1 at 2026-11-25T11:00:00Z "
        "(received 2026-11-25T12:00:00Z)"
    )
    assert len(done["meterValues"]) == 1  # its readings stay
    assert [(t["transactionId"], t["reason"]) for t in listed["items"]] == [
        (forgotten, "reconciled")
    ]


async def test_message_log_shows_frames_that_are_not_json(api: Api) -> None:
    """Issue 17, 4 and 5: a charger's frame nested 1,000 deep (a RecursionError in any JSON
    decoder) and one with a lone surrogate escape are logged; the message log answers 200 with
    them as the text received, not 500 for every page that holds them."""
    deep = '[2,"d","DataTransfer",{"vendorId":"v","data":' + "[" * 1000 + "]" * 1000 + "}]"
    surrogate = '[2,"s","DataTransfer",{"vendorId":"\\ud800"}]'
    async with charge_point(api, "HOSTILE") as cp:
        assert (await cp.send_text(deep))[:3] == [4, "d", "FormationViolation"]
        assert (await cp.send_text(surrogate))[:3] == [4, "s", "FormationViolation"]
    await api.system.writer.flush()
    answer = await api.client(Role.VIEWER)("GET", "/messages", chargePointId="HOSTILE")
    assert answer.status == 200, answer.body
    received = [m["frame"] for m in answer.body["items"] if m["direction"] == "in"]
    assert deep in received and surrogate in received
