"""Charging profiles over real HTTP, to charge points on real sockets: the checks before
sending as 400s, the stored profiles, the predicted composite schedule (JSON and SVG)."""

from typing import Any
from xml.etree import ElementTree

import msgspec

from ocppd.api.tokens import Role
from ocppd.chargepoint import ChargerModel, Station
from ocppd.cli.api_client import quote
from ocppd.csms import registration
from ocppd.protocol.datatypes import ChargingProfile
from tests.api.conftest import Api, charge_point
from tests.chargepoint.test_commands import transaction_id_on
from tests.csms.test_charging_profiles import profile


async def test_a_profile_the_charger_would_refuse_is_a_400_and_not_sent(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["GetConfiguration"] = {
            "configurationKey": [
                {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "2"}
            ]
        }
        await operator("POST", "/charge-points/CP1/commands/GetConfiguration", {})
        cases: list[tuple[str, dict[str, Any], str]] = [
            (
                "SetChargingProfile",
                {"connectorId": 1, "csChargingProfiles": profile(1, level=3)},
                "not sent: stackLevel 3 exceeds ChargeProfileMaxStackLevel 2",
            ),
            (
                "SetChargingProfile",
                {"connectorId": 1, "csChargingProfiles": profile(1, "TxProfile")},
                "not sent: no transaction on connector 1",
            ),
            (
                "RemoteStartTransaction",
                {"idTag": "T", "chargingProfile": profile(1)},
                "not sent: a RemoteStartTransaction's chargingProfile is a TxProfile",
            ),
        ]
        for action, body, error in cases:
            answer = await operator("POST", f"/charge-points/CP1/commands/{action}", body)
            assert (answer.status, answer.body) == (400, {"status": 400, "error": error})
        assert [action for action, _ in cp.received] == ["GetConfiguration"]


def with_periods(body: dict[str, Any], *periods: tuple[int, float]) -> dict[str, Any]:
    schedule = {
        **body["chargingSchedule"],
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods],
    }
    return {**body, "chargingSchedule": schedule}


async def set_profiles(api: Api) -> None:
    """CP1: a station maximum of 20 A, a default of 16 A then 8 A after an hour, and a
    TxDefaultProfile on connector 2 from 13:30."""
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:
        cp.replies["SetChargingProfile"] = {"status": "Accepted"}
        for connector, body in [
            (0, with_periods(profile(1, "ChargePointMaxProfile"), (0, 20.0))),
            (0, with_periods(profile(2, level=1), (0, 16.0), (3600, 8.0))),
            (
                2,
                profile(
                    3,
                    level=2,
                    chargingSchedule={
                        "chargingRateUnit": "W",
                        "startSchedule": "2026-11-25T13:30:00Z",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 4600.0}],
                    },
                ),
            ),
        ]:
            answer = await operator(
                "POST",
                "/charge-points/CP1/commands/SetChargingProfile",
                {"connectorId": connector, "csChargingProfiles": body},
            )
            assert answer.body == {"status": "Accepted"}


async def test_the_profiles_a_charge_point_holds_by_connector_and_purpose(api: Api) -> None:
    await set_profiles(api)
    viewer = api.client(Role.VIEWER)
    path = "/charge-points/CP1/charging-profiles"
    listed = (await viewer("GET", path)).body
    assert listed["chargePointId"] == "CP1"
    assert [
        (i["connectorId"], i["chargingProfile"]["chargingProfileId"]) for i in listed["items"]
    ] == [(0, 1), (0, 2), (2, 3)]
    first = listed["items"][0]
    assert first["installedAt"] == "2026-11-25T12:00:00Z"
    assert (first["transactionId"], first["pending"]) == (None, False)
    assert first["chargingProfile"] == with_periods(profile(1, "ChargePointMaxProfile"), (0, 20.0))
    by_connector = (await viewer("GET", path, connectorId=2)).body["items"]
    assert [i["chargingProfile"]["chargingProfileId"] for i in by_connector] == [3]
    by_purpose = (await viewer("GET", path, purpose="TxDefaultProfile")).body["items"]
    assert [i["chargingProfile"]["chargingProfileId"] for i in by_purpose] == [2, 3]
    assert (await viewer("GET", "/charge-points/NOPE/charging-profiles")).status == 404
    assert (await viewer("GET", path, purpose="Nope")).status == 400
    assert (await viewer("GET", path, connectorId=-1)).status == 400


async def test_the_predicted_composite_schedule(api: Api) -> None:
    await set_profiles(api)
    viewer = api.client(Role.VIEWER)
    one = (
        await viewer("GET", "/charge-points/CP1/connectors/1/composite-schedule", duration=3 * 3600)
    ).body
    assert (one["start"], one["end"], one["chargingRateUnit"]) == (
        "2026-11-25T12:00:00Z",
        "2026-11-25T15:00:00Z",
        "A",
    )
    assert (one["voltage"], one["phases"]) == (230.0, 3)
    assert [(i["start"], i["end"], i["limit"]) for i in one["intervals"]] == [
        ("2026-11-25T12:00:00Z", "2026-11-25T13:00:00Z", 16.0),
        ("2026-11-25T13:00:00Z", "2026-11-25T15:00:00Z", 8.0),
    ]
    # Connector 2 in W: 16 A x 230 V x 3 phases, 8 A, then its own 4600 W from 13:30.
    two = (
        await viewer(
            "GET",
            "/charge-points/CP1/connectors/2/composite-schedule",
            duration=3 * 3600,
            chargingRateUnit="W",
            start="2026-11-25T12:30:00+01:00",
        )
    ).body
    assert [(i["start"], i["limit"]) for i in two["intervals"]] == [
        ("2026-11-25T11:30:00Z", None),  # before the profiles were installed
        ("2026-11-25T12:00:00Z", 11040.0),
        ("2026-11-25T13:00:00Z", 5520.0),
        ("2026-11-25T13:30:00Z", 4600.0),
    ]
    # The station alone: its maximum.
    station = (await viewer("GET", "/charge-points/CP1/connectors/0/composite-schedule")).body
    assert [(i["limit"], i["end"]) for i in station["intervals"]] == [
        (20.0, "2026-11-26T12:00:00Z")
    ]


async def test_bad_composite_queries_are_400_unknown_charge_points_404(api: Api) -> None:
    viewer = api.client(Role.VIEWER)
    await set_profiles(api)
    path = "/charge-points/CP1/connectors/1/composite-schedule"
    for query in [
        {"duration": 0},
        {"duration": 31 * 86400 + 1},
        {"duration": "x"},
        {"chargingRateUnit": "kW"},
        {"start": "2026-11-25T12:00:00"},
        {"start": "yesterday"},
        {"start": "9999-12-31T23:00:00Z"},
    ]:
        for suffix in ("", ".svg"):
            answer = await viewer("GET", path + suffix, **query)
            assert answer.status == 400, (query, suffix, answer.body)
            assert answer.body["status"] == 400
    assert (await viewer("GET", "/charge-points/CP1/connectors/-1/composite-schedule")).status in (
        400,
        404,
    )
    assert (await viewer("GET", "/charge-points/NO/connectors/1/composite-schedule")).status == 404
    assert (await viewer("GET", "/charge-points/CP1/connectors/1/composite-schedule")).status == 200


async def test_the_composite_as_an_svg_plot_with_every_text_escaped(api: Api) -> None:
    await set_profiles(api)
    viewer = api.client(Role.VIEWER)
    answer = await viewer(
        "GET",
        "/charge-points/CP1/connectors/2/composite-schedule.svg",
        duration=3 * 3600,
        start="2026-11-25T11:30:00Z",
    )
    assert answer.status == 200
    svg = ElementTree.fromstring(answer.body)
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert svg.findtext("s:title", namespaces=ns) == "CP1, connector 2: predicted limit"
    # One step line: 16 A, 8 A, 4600 W / 690 = 6.67 A; the half hour before is unconstrained.
    (line,) = svg.findall("s:path", ns)
    levels = [float(step.split(",")[1]) for step in line.get("d", "").split()[::2]]
    assert len(levels) == 3 and levels[0] < levels[1] < levels[2]
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert labels[1:] == ["unconstrained", "16 A", "8 A", "6.7 A"]

    identity = '<CP & "2">\''
    async with api.system.engine.begin() as db:
        await registration.register(db, identity)
    plotted = await viewer(
        "GET", f"/charge-points/{quote(identity)}/connectors/1/composite-schedule.svg"
    )
    assert plotted.status == 200
    svg = ElementTree.fromstring(plotted.body)
    assert svg.findtext("s:title", namespaces=ns) == f"{identity}, connector 1: predicted limit"
    assert "<CP" not in plotted.body


def schedule(unit: str, *periods: tuple[int, float], **more: Any) -> dict[str, Any]:
    return {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods],
        **more,
    }


async def test_ocppd_predicts_what_its_simulator_reports(api: Api) -> None:
    """The simulator really installs the profiles and answers GetCompositeSchedule with its
    own computation; ocppd's prediction from what it stored must agree, for every connector
    and unit. A profile installed behind ocppd's back is then reported as a mismatch."""
    operator = api.client(Role.OPERATOR)
    await operator("PUT", "/id-tags/TAG1", {"status": "Accepted"})
    async with api.system.engine.begin() as db:
        await registration.register(db, "SIM")
    model = ChargerModel(connectors=2, max_power_w=22_080)
    async with Station(f"ws://127.0.0.1:{api.port}/ocpp", "SIM", model=model) as station:
        await station.boot()  # the station takes ocppd's time: 2026-11-25T12:00:00Z

        async def command(action: str, body: dict[str, Any]) -> Any:
            return await operator("POST", f"/charge-points/SIM/commands/{action}", body)

        await command("GetConfiguration", {})
        refused = await command(
            "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile(9, level=9)}
        )
        assert refused.body["error"] == (
            "not sent: stackLevel 9 exceeds ChargeProfileMaxStackLevel 8"
        )
        daily = "2026-11-25T00:00:00Z"
        for connector, body in [
            (
                0,
                profile(
                    1,
                    "ChargePointMaxProfile",
                    chargingProfileKind="Recurring",
                    recurrencyKind="Daily",
                    chargingSchedule=schedule(
                        "A", (0, 32.0), (18 * 3600, 20.0), (22 * 3600, 32.0), startSchedule=daily
                    ),
                ),
            ),
            (
                0,
                profile(
                    2,
                    chargingSchedule=schedule(
                        "A", (0, 16.0), (3 * 3600, 10.0), startSchedule="2026-11-25T11:00:00Z"
                    ),
                ),
            ),
            (
                2,
                profile(
                    3,
                    level=1,
                    validFrom="2026-11-25T12:30:00Z",
                    validTo="2026-11-25T14:00:00Z",
                    chargingSchedule=schedule("W", (0, 7000.0)),
                ),
            ),
        ]:
            answer = await command(
                "SetChargingProfile", {"connectorId": connector, "csChargingProfiles": body}
            )
            assert answer.body == {"status": "Accepted"}, body
        await station.plug_in(1)
        await station.start_transaction(1, "TAG1")
        await transaction_id_on(station, 1)
        relative = profile(
            4,
            "TxProfile",
            chargingProfileKind="Relative",
            chargingSchedule=schedule("A", (0, 12.0), (1800, 14.0), duration=7200),
        )
        answer = await command(
            "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": relative}
        )
        assert answer.body == {"status": "Accepted"}

        for connector in (0, 1, 2):
            for unit in ("A", "W"):
                reported = await command(
                    "GetCompositeSchedule",
                    {"connectorId": connector, "duration": 86400, "chargingRateUnit": unit},
                )
                assert reported.body["status"] == "Accepted"
                assert len(reported.body["chargingSchedule"]["chargingSchedulePeriod"]) > 1
                checks = (
                    await operator(
                        "GET",
                        f"/charge-points/SIM/connectors/{connector}/composite-schedule/checks",
                    )
                ).body["items"]
                assert (checks[0]["matches"], checks[0]["mismatch"]) == (True, None), checks[0]
                assert checks[0]["reported"] == reported.body["chargingSchedule"]

        # Behind ocppd's back: a TxDefaultProfile of 6 A on connector 2.
        behind = msgspec.convert(
            profile(5, level=7, chargingSchedule=schedule("A", (0, 6.0))), ChargingProfile
        )
        station.profiles.install(2, behind, station.clock.now())
        reported = await command(
            "GetCompositeSchedule", {"connectorId": 2, "duration": 3600, "chargingRateUnit": "A"}
        )
        assert reported.status == 200 and reported.body["status"] == "Accepted"
        latest = (
            await operator("GET", "/charge-points/SIM/connectors/2/composite-schedule/checks")
        ).body["items"][0]
        assert latest["matches"] is False
        mismatch = latest["mismatch"]
        assert (mismatch["predictedLimit"], mismatch["reportedLimit"]) == (16.0, 6.0)
        assert mismatch["at"] == latest["scheduleStart"]
