"""Reservations end to end: ReserveNow over HTTP to a charge point on a real socket, then
used by a StartTransaction, cancelled, expired, or not accepted."""

import asyncio
from typing import Any

from ocppd.api.tokens import Role
from tests.api.conftest import Api, Silent, charge_point

# The clock of the tests stands at 2026-11-25T12:00:00Z.
LATER = "2026-11-25T13:00:00Z"
EARLIER = "2026-11-25T11:00:00Z"


def reserve(reservation_id: int, connector: int = 1, expiry: str = LATER) -> dict[str, Any]:
    return {
        "connectorId": connector,
        "expiryDate": expiry,
        "idTag": "TAG1",
        "reservationId": reservation_id,
    }


def start_using(reservation_id: int) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "idTag": "TAG1",
        "meterStart": 0,
        "timestamp": "2026-11-25T12:00:00Z",
        "reservationId": reservation_id,
    }


async def test_a_reservation_used_by_a_start_cancelled_expired_or_refused(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    viewer = api.client(Role.VIEWER)
    async with charge_point(api) as cp:
        cp.replies["ReserveNow"] = {"status": "Accepted"}
        for reservation_id, connector, expiry in [(1, 0, LATER), (2, 2, LATER), (3, 1, EARLIER)]:
            answer = await operator(
                "POST",
                "/charge-points/CP1/commands/ReserveNow",
                reserve(reservation_id, connector, expiry),
            )
            assert answer.body == {"status": "Accepted"}
        cp.replies["ReserveNow"] = {"status": "Occupied"}
        await operator("POST", "/charge-points/CP1/commands/ReserveNow", reserve(4))

        first = await viewer("GET", "/reservations/1")
        assert first.status == 200
        assert first.body["connectorId"] == 0 and first.body["state"] == "Active"
        assert first.body["expiryDate"] == "2026-11-25T13:00:00Z"

        started = await cp.ask("StartTransaction", start_using(1))
        cp.replies["CancelReservation"] = {"status": "Accepted"}
        await operator(
            "POST", "/charge-points/CP1/commands/CancelReservation", {"reservationId": 2}
        )

    used = (await viewer("GET", "/reservations/1")).body
    assert (used["state"], used["transactionId"]) == ("Used", started["transactionId"])
    assert used["endedAt"] == "2026-11-25T12:00:00Z"
    states = {
        item["reservationId"]: (item["state"], item["status"])
        for item in (await viewer("GET", "/reservations")).body["items"]
    }
    assert states == {
        1: ("Used", "Accepted"),
        2: ("Cancelled", "Accepted"),
        3: ("Expired", "Accepted"),
        4: ("NotReserved", "Occupied"),
    }
    for state, expected in [("Used", [1]), ("Expired", [3]), ("Active", [])]:
        page = (await viewer("GET", "/reservations", state=state)).body
        assert [item["reservationId"] for item in page["items"]] == expected, state


async def test_the_same_reservation_id_replaces_it_and_a_rejected_cancel_keeps_it(
    api: Api,
) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["ReserveNow"] = {"status": "Accepted"}
        await operator("POST", "/charge-points/CP1/commands/ReserveNow", reserve(5, 1))
        await operator("POST", "/charge-points/CP1/commands/ReserveNow", reserve(5, 2))
        cp.replies["CancelReservation"] = {"status": "Rejected"}
        await operator(
            "POST", "/charge-points/CP1/commands/CancelReservation", {"reservationId": 5}
        )
    reservation = (await api.client(Role.VIEWER)("GET", "/reservations/5")).body
    assert (reservation["connectorId"], reservation["state"]) == (2, "Active")


async def test_filters_pages_and_unknown_ids(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    viewer = api.client(Role.VIEWER)
    for identity in ("CP1", "CP2"):
        async with charge_point(api, identity) as cp:
            cp.replies["ReserveNow"] = {"status": "Accepted"}
            for n in range(3):
                reservation_id = n + (10 if identity == "CP1" else 20)
                await operator(
                    "POST",
                    f"/charge-points/{identity}/commands/ReserveNow",
                    reserve(reservation_id),
                )
    page = (await viewer("GET", "/reservations", chargePointId="CP2", limit=2)).body
    assert [item["reservationId"] for item in page["items"]] == [22, 21]
    rest = (
        await viewer("GET", "/reservations", chargePointId="CP2", cursor=page["nextCursor"])
    ).body
    assert [item["reservationId"] for item in rest["items"]] == [20] and rest["nextCursor"] is None
    assert len((await viewer("GET", "/reservations", idTag="tag1")).body["items"]) == 6
    assert (await viewer("GET", "/reservations/99")).status == 404
    assert (await viewer("GET", "/reservations", state="Nope")).status == 400
    assert (await viewer("GET", "/reservations", cursor="x")).status == 400


async def test_a_faulted_or_unavailable_connector_ends_its_reservations(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["ReserveNow"] = {"status": "Accepted"}
        for reservation_id, connector in [(1, 1), (2, 2), (3, 0)]:
            await operator(
                "POST", "/charge-points/CP1/commands/ReserveNow", reserve(reservation_id, connector)
            )

        async def status(connector: int, value: str) -> None:
            await cp.ask(
                "StatusNotification",
                {"connectorId": connector, "status": value, "errorCode": "NoError"},
            )

        await status(1, "Faulted")
        await status(2, "Charging")
        states = await _states(api)
        assert states == {1: "Faulted", 2: "Active", 3: "Active"}
        await status(0, "Unavailable")
    assert await _states(api) == {1: "Faulted", 2: "Unavailable", 3: "Unavailable"}
    page = (await api.client(Role.VIEWER)("GET", "/reservations", state="Unavailable")).body
    assert [item["reservationId"] for item in page["items"]] == [3, 2]


async def test_a_start_that_uses_a_reservation_before_its_answer_is_stored(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["ReserveNow"] = Silent()
        command = asyncio.create_task(
            operator("POST", "/charge-points/CP1/commands/ReserveNow", reserve(7))
        )
        await asyncio.wait_for(cp.called.wait(), 5)
        started = await cp.ask("StartTransaction", start_using(7))
        await cp.answer("ReserveNow", {"status": "Accepted"})
        assert (await command).status == 200
    used = (await api.client(Role.VIEWER)("GET", "/reservations/7")).body
    assert (used["state"], used["transactionId"]) == ("Used", started["transactionId"])


async def _states(api: Api) -> dict[int, str]:
    page = (await api.client(Role.VIEWER)("GET", "/reservations")).body
    return {item["reservationId"]: item["state"] for item in page["items"]}


async def test_a_reservation_ocppd_could_not_keep_is_not_sent(api: Api) -> None:
    """Its answer is kept: a charger holding a reservation ocppd lost would be worse."""
    operator = api.client(Role.OPERATOR)
    reserve = {"connectorId": 1, "expiryDate": LATER, "idTag": "T"}
    async with charge_point(api) as cp:
        cp.replies["ReserveNow"] = {"status": "Accepted"}
        for changed in [
            {"reservationId": 2**63},
            {"reservationId": -(2**63) - 1},
            {"reservationId": 1, "connectorId": 2**31},
            {"reservationId": 1, "connectorId": -1},
        ]:
            answer = await operator(
                "POST", "/charge-points/CP1/commands/ReserveNow", {**reserve, **changed}
            )
            assert answer.status == 400, answer.body
            assert answer.body["error"].startswith("not sent: "), answer.body
        assert [action for action, _ in cp.received] == []
        answer = await operator(
            "POST",
            "/charge-points/CP1/commands/ReserveNow",
            {**reserve, "reservationId": 2**63 - 1, "connectorId": 2**31 - 1},
        )
        assert answer.body == {"status": "Accepted"}
    stored = (await api.client(Role.VIEWER)("GET", "/reservations")).body["items"]
    assert [(r["reservationId"], r["connectorId"]) for r in stored] == [(2**63 - 1, 2**31 - 1)]
