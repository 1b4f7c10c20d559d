"""`ocppd charge-point list|show|change|remove` against a running API (real HTTP), with
charge points on real WebSockets: what the commands change reaches the live connections, and
no command prints an AuthorizationKey."""

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ocppd.api.tokens import Role
from ocppd.cli import main
from ocppd.csms.database import create_engine
from ocppd.csms.models import charge_points, security_events
from tests.api.conftest import Api, charge_point
from tests.api.test_cli import cli

KEY = "0123456789abcdef0123"


def basic(identity: str, key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{identity}:{key}".encode()).decode()}


async def test_list_show_and_change_a_registration(api: Api) -> None:
    async with charge_point(api, "CP1") as cp:
        listed = await cli(api, Role.VIEWER, "charge-point", "list")
        assert listed.exit_code == 0, listed.output
        lines = [line.split() for line in listed.output.splitlines()]
        assert lines[0] == [
            "ID",
            "REGISTRATION",
            "BASIC",
            "AUTH",
            "TOLERATE",
            "PROFILE",
            "SECEXT",
            "CONNECTION",
            "CREATED",
        ]
        assert lines[1][:7] == ["CP1", "Accepted", "no", "-", "0", "no", "online"]

        changed = await cli(
            api, Role.ADMIN, "charge-point", "change", "CP1", "--status", "Pending",
            "--auth-key", KEY, "--tolerate", "timestamps_without_zone",
        )  # fmt: skip
        assert changed.exit_code == 0, changed.output
        assert KEY not in changed.output
        view = json.loads(changed.output)
        assert (view["registrationStatus"], view["basicAuth"]) == ("Pending", True)
        assert view["tolerate"] == ["timestamps_without_zone"]
        boot = await cp.ask("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot["status"] == "Pending", "the connected charger's next boot"

    shown = await cli(api, Role.VIEWER, "charge-point", "show", "CP1")
    assert shown.exit_code == 0 and KEY not in shown.output
    assert json.loads(shown.output)["basicAuth"] is True
    refused = await _upgrade_status(api, "CP1", basic("CP1", "wrong-key-000000000"))
    assert refused == 401
    async with connect(
        api.ws_url("CP1"),
        subprotocols=["ocpp1.6"],
        additional_headers=basic("CP1", KEY),  # type: ignore[list-item]
    ):
        pass  # the new key lets it in

    removed_key = await cli(api, Role.ADMIN, "charge-point", "change", "CP1", "--no-auth-key")
    assert json.loads(removed_key.output)["basicAuth"] is False
    again = await cli(api, Role.ADMIN, "charge-point", "change", "CP1", "--tolerate-none")
    assert json.loads(again.output)["tolerate"] == []


async def _upgrade_status(api: Api, identity: str, headers: dict[str, str]) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            api.ws_url(identity),
            subprotocols=["ocpp1.6"],
            additional_headers=headers,  # type: ignore[list-item]
        ):
            pass
    return refused.value.response.status_code


async def test_change_refuses_what_makes_no_sense_and_what_the_api_refuses(api: Api) -> None:
    async with charge_point(api, "CP1"):
        pass
    for args, message in [
        ((), "nothing to change"),
        (("--auth-key", "k" * 16, "--no-auth-key"), "exclude each other"),
        (("--tolerate", "timestamps_without_zone", "--tolerate-none"), "exclude each other"),
        (("--auth-key", ""), "use --no-auth-key"),
        (("--status", "Maybe"), "'--status'"),
    ]:
        result = await cli(api, Role.ADMIN, "charge-point", "change", "CP1", *args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    operator = await cli(
        api, Role.OPERATOR, "charge-point", "change", "CP1", "--status", "Rejected"
    )
    assert operator.exit_code == 1 and "403" in operator.output
    unknown = await cli(api, Role.ADMIN, "charge-point", "change", "NOPE", "--status", "Rejected")
    assert unknown.exit_code == 1 and "404: unknown charge point 'NOPE'" in unknown.output
    shown = json.loads((await cli(api, Role.VIEWER, "charge-point", "show", "CP1")).output)
    assert shown["registrationStatus"] == "Accepted", "nothing refused was stored"


async def test_remove_disconnects_and_forgets(api: Api) -> None:
    async with charge_point(api, "CP1") as cp:
        asked = await cli(api, Role.ADMIN, "charge-point", "remove", "CP1")
        assert asked.exit_code == 1, "no --yes, no answer: kept"
        assert "CP1 not removed: answer y, or pass --yes" in asked.output
        removed = await cli(api, Role.ADMIN, "charge-point", "remove", "CP1", "--yes")
        assert (removed.exit_code, removed.output) == (0, "removed charge point CP1\n")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(cp.ws.recv(), 5)
    shown = await cli(api, Role.VIEWER, "charge-point", "show", "CP1")
    assert shown.exit_code == 1 and "404" in shown.output
    again = await cli(api, Role.ADMIN, "charge-point", "remove", "CP1", "--yes")
    assert again.exit_code == 1 and "404" in again.output


async def test_security_settings_through_change_show_and_list(api: Api) -> None:
    async with charge_point(api, "CP1"):
        pass
    raised = await cli(
        api, Role.ADMIN, "charge-point", "change", "CP1", "--security-profile", "2",
        "--security-extension",
    )  # fmt: skip
    assert raised.exit_code == 0, raised.output
    view = json.loads(raised.output)
    assert (view["securityProfile"], view["securityExtension"]) == (2, True)
    listed = await cli(api, Role.VIEWER, "charge-point", "list")
    assert listed.output.splitlines()[1].split()[4:6] == ["2", "yes"]
    lowered = await cli(
        api, Role.ADMIN, "charge-point", "change", "CP1", "--security-profile", "1",
        "--no-security-extension",
    )  # fmt: skip
    assert lowered.exit_code == 0, lowered.output
    shown = json.loads((await cli(api, Role.VIEWER, "charge-point", "show", "CP1")).output)
    assert (shown["securityProfile"], shown["securityExtension"]) == (1, False)
    async with api.system.engine.connect() as db:
        recorded = (await db.execute(sa.select(security_events.c.type))).scalars().all()
    assert recorded == ["SecurityProfileLowered"]
    for args, message in [
        (("--security-profile", "4"), "'--security-profile'"),
        (("--security-profile", "two"), "'--security-profile'"),
    ]:
        result = await cli(api, Role.ADMIN, "charge-point", "change", "CP1", *args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)


def test_add_sets_the_security_settings_and_records_a_lower_profile(tmp_path: Path) -> None:
    def add(*args: str) -> str:
        result = CliRunner().invoke(
            main, ["charge-point", "add", "CP9", *args, "--data-dir", str(tmp_path), "--create"]
        )
        assert result.exit_code == 0, result.output
        return result.output

    assert add().endswith(
        "charge point CP9 registered (Accepted, security profile 0, security extension off)\n"
    )
    assert "security profile 3, security extension on" in add(
        "--security-profile", "3", "--security-extension"
    )
    assert "security profile 3, security extension on" in add(), "kept when not given"
    assert "security profile 1," in add("--security-profile", "1")
    refused = CliRunner().invoke(
        main,
        ["charge-point", "add", "CP9", "--security-profile", "5", "--data-dir", str(tmp_path)],
    )
    assert refused.exit_code == 2 and "'--security-profile'" in refused.output

    async def stored() -> tuple[Any, list[Any]]:
        engine = create_engine(f"sqlite:///{tmp_path / 'ocppd.db'}")
        try:
            async with engine.connect() as db:
                row = (await db.execute(sa.select(charge_points))).one()
                events = (await db.execute(sa.select(security_events))).all()
                return row, events
        finally:
            await engine.dispose()

    row, events = asyncio.run(stored())
    assert (row.security_profile, row.security_extension) == (1, True)
    assert [(e.type, e.source, e.tech_info) for e in events] == [
        (
            "SecurityProfileLowered",
            "central_system",
            "security profile lowered by an operator from 3 to 1",
        )
    ]


def test_add_warns_when_what_it_stores_keeps_the_charger_out(tmp_path: Path) -> None:
    """`add` replaces a registration, as the API's PUT: a key not given again is removed, and
    profiles 1 and 2 need one. Stored as asked, with a warning on stderr."""

    def add(*args: str) -> Any:
        result = CliRunner().invoke(
            main, ["charge-point", "add", "CP8", *args, "--data-dir", str(tmp_path), "--create"]
        )
        assert result.exit_code == 0, result.output
        return result

    keyed = add("--auth-key", "0123456789abcdef", "--security-profile", "2")
    assert "warning" not in keyed.stderr
    replaced = add()
    assert replaced.stdout.startswith("charge point CP8 registered (Accepted, security profile 2")
    assert replaced.stderr.splitlines() == [
        "warning: CP8's AuthorizationKey was removed: add replaces a registration (give "
        "--auth-key to keep one; `ocppd charge-point change` changes only what it is given)",
        "warning: security profile 2 authenticates with HTTP Basic auth and CP8 has no "
        "AuthorizationKey: it cannot connect until it has one (--auth-key)",
    ]
    assert add("--security-profile", "3").stderr == "", "profile 3 needs no key"
