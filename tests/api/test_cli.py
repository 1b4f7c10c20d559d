"""The command line against the API: `ocppd token create`, `ocppd call`, `ocppd charge-points`,
`ocppd transactions`, `ocppd id-tags` and `ocppd id-tag`; once against a real `ocppd serve`
process."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result
from websockets.asyncio.client import connect

from ocppd.api.tokens import Role
from ocppd.cli import main
from tests.api.conftest import Api, charge_point
from tests.cli.test_serve import BOOT, Served


async def ocppd(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocppd",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_serve_token_create_and_call_end_to_end(tmp_path: Path) -> None:
    served = Served(tmp_path)
    port = served.port
    try:
        data = ["--data-dir", str(tmp_path / "data")]
        code, token, _ = await ocppd("token", "create", "--role", "operator", *data)
        assert code == 0 and token.strip().startswith("ocppd_")
        env = {"OCPPD_URL": f"http://127.0.0.1:{port}", "OCPPD_TOKEN": token.strip()}
        async with connect(f"ws://127.0.0.1:{port}/ocpp/CP1", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            await ws.send(BOOT)
            await ws.recv()

            async def answer_reset() -> list[object]:
                frame = msgspec.json.decode(await ws.recv())
                await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                return list(frame)

            answering = asyncio.create_task(answer_reset())
            code, out, err = await ocppd("call", "CP1", "Reset", '{"type": "Soft"}', env=env)
            assert (code, json.loads(out)) == (0, {"status": "Accepted"}), err
            assert (await answering)[2:] == ["Reset", {"type": "Soft"}]
        code, out, err = await ocppd("call", "CP1", "Reset", '{"type": "Soft"}', env=env)
        assert code == 1 and "409" in err
        no_token = {**env, "OCPPD_TOKEN": ""}
        code, out, err = await ocppd("call", "CP1", "Reset", '{"type": "Soft"}', env=no_token)
        assert code == 1 and "401" in err
    finally:
        served.process.terminate()
        await asyncio.to_thread(served.process.wait, 20)


def invoke(api: Api, role: Role, *args: str) -> Result:
    env = {"OCPPD_URL": api.url, "OCPPD_TOKEN": api.tokens[role]}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


async def test_call_shows_errors_with_their_details(api: Api) -> None:
    async with charge_point(api):
        invalid = await asyncio.to_thread(
            invoke, api, Role.OPERATOR, "call", "CP1", "Reset", '{"type": 1}'
        )
        assert invalid.exit_code == 1
        assert "400" in invalid.output and "$.type" in invalid.output
        low = await asyncio.to_thread(invoke, api, Role.VIEWER, "call", "CP1", "ClearCache")
        assert low.exit_code == 1 and "403" in low.output
        bad_json = await asyncio.to_thread(invoke, api, Role.OPERATOR, "call", "CP1", "Reset", "{")
        assert bad_json.exit_code == 2 and "not JSON" in bad_json.output


async def test_call_takes_the_timeouts_the_api_takes(api: Api) -> None:
    async with charge_point(api) as cp:
        cp.replies["ClearCache"] = {"status": "Accepted"}
        short = await asyncio.to_thread(
            invoke,
            api,
            Role.OPERATOR,
            "call",
            "CP1",
            "Reset",
            '{"type": "Soft"}',
            "--timeout",
            "0.5",
        )
        assert short.exit_code == 2 and "1<=x<=600" in short.output, short.output
        fine = await asyncio.to_thread(
            invoke, api, Role.OPERATOR, "call", "CP1", "ClearCache", "{}", "--timeout", "5"
        )
        assert fine.exit_code == 0, fine.output


async def test_call_names_an_unknown_action_and_the_valid_ones(api: Api) -> None:
    async with charge_point(api) as cp:
        unknown = await cli(api, Role.OPERATOR, "call", "CP1", "Foo", "{}")
        assert unknown.exit_code == 1
        assert "404: unknown action 'Foo'; valid actions: " in unknown.output
        assert "RemoteStartTransaction" in unknown.output and "Reset" in unknown.output
        assert "Not Found" not in unknown.output
        misspelt = await cli(api, Role.OPERATOR, "call", "CP1", "reset", '{"type": "Soft"}')
        assert misspelt.exit_code == 1 and "(did you mean Reset?)" in misspelt.output
        not_an_object = await cli(api, Role.OPERATOR, "call", "CP1", "Reset", "[1]")
        assert not_an_object.exit_code == 2
        assert "Invalid value for PAYLOAD: a JSON object is needed" in not_an_object.output
        bad_json = await cli(api, Role.OPERATOR, "call", "CP1", "Reset", "{'type': 'Soft'}")
        assert bad_json.exit_code == 2
        assert "Invalid value for PAYLOAD: not JSON (Expecting property name" in bad_json.output
        assert """like '{"type": "Soft"}'""" in bad_json.output
        assert not cp.received, "nothing was sent"
    answer = await api.client(Role.OPERATOR)("POST", "/charge-points/CP1/commands/Foo", {})
    assert (answer.status, answer.body["field"]) == (404, "action")
    viewer = await api.client(Role.VIEWER)("POST", "/charge-points/CP1/commands/Foo", {})
    assert viewer.status == 403


async def test_listings(api: Api) -> None:
    async with charge_point(api, "CP1") as cp:
        await cp.ask(
            "StatusNotification", {"connectorId": 1, "status": "Charging", "errorCode": "NoError"}
        )
        started = await cp.ask(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": "TAG1",
                "meterStart": 0,
                "timestamp": "2026-11-25T11:00:00Z",
            },
        )
        listed = await asyncio.to_thread(invoke, api, Role.VIEWER, "charge-points")
        assert listed.exit_code == 0, listed.output
        lines = listed.output.splitlines()
        assert lines[0].split() == [
            "ID",
            "CONNECTION",
            "REGISTRATION",
            "CONNECTORS",
            "LAST",
            "HEARTBEAT",
        ]
        assert lines[1].split()[:4] == ["CP1", "online", "Accepted", "1:Charging"]
        as_json = await asyncio.to_thread(invoke, api, Role.VIEWER, "charge-points", "--json")
        assert json.loads(as_json.output)["items"][0]["chargePointId"] == "CP1"
    running = await asyncio.to_thread(
        invoke, api, Role.VIEWER, "transactions", "--charge-point", "CP1", "--active"
    )
    assert running.exit_code == 0, running.output
    row = running.output.splitlines()[1].split()
    assert row[:4] == [str(started["transactionId"]), "CP1", "1", "TAG1"] and "running" in row
    finished = await asyncio.to_thread(invoke, api, Role.VIEWER, "transactions", "--finished")
    assert len(finished.output.splitlines()) == 1  # the header only


async def test_an_undecodable_argument_goes_to_the_api_as_its_bytes(api: Api) -> None:
    """An argument the locale could not decode is sent as the bytes it was; the API refuses
    them (400, naming the parameter) instead of the command failing on its own."""
    undecodable = b"CP\xff".decode(errors="surrogateescape")
    for args, field in [
        (("transactions", "--id-tag", undecodable), "idTag"),
        (("transactions", "--charge-point", undecodable), "chargePointId"),
        (("call", undecodable, "Reset", '{"type": "Soft"}'), "chargePointId"),
        (("diagnostics", undecodable), "chargePointId"),
        (("id-tag", "set", undecodable), "idTag"),
        (("id-tag", "delete", undecodable), "idTag"),
    ]:
        result = await asyncio.to_thread(invoke, api, Role.OPERATOR, *args)
        assert result.exit_code == 1, result.output
        assert f"400: {field}: not UTF-8" in result.output


async def cli(api: Api, role: Role, *args: str) -> Result:
    return await asyncio.to_thread(invoke, api, role, *args)


async def test_id_tags_set_listed_obeyed_and_deleted(api: Api) -> None:
    """`ocppd id-tag set` decides what a charger's Authorize is answered; `ocppd id-tags`
    lists the tags from A, by status; `ocppd id-tag delete` forgets one."""

    created = await cli(api, Role.OPERATOR, "id-tag", "set", "tag1")
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["status"] == "Accepted"
    blocked = await cli(
        api, Role.OPERATOR, "id-tag", "set", "BAD1", "--status", "Blocked",
        "--expiry", "2027-01-01T00:00:00Z", "--parent", "FLEET",
    )  # fmt: skip
    assert blocked.exit_code == 0, blocked.output
    async with charge_point(api, "CP1") as cp:
        answer = await cp.ask("Authorize", {"idTag": "bad1"})
        assert answer["idTagInfo"]["status"] == "Blocked"
        assert (await cp.ask("Authorize", {"idTag": "TAG1"}))["idTagInfo"]["status"] == "Accepted"

    listed = await cli(api, Role.VIEWER, "id-tags")
    assert listed.exit_code == 0, listed.output
    lines = [line.split() for line in listed.output.splitlines()]
    assert lines[0] == ["ID", "TAG", "STATUS", "EXPIRY", "PARENT", "UPDATED"]
    assert [row[:4] for row in lines[1:]] == [
        ["BAD1", "Blocked", "2027-01-01T00:00:00Z", "FLEET"],
        ["tag1", "Accepted", "-", "-"],
    ]
    only_blocked = await cli(api, Role.VIEWER, "id-tags", "--status", "Blocked", "--json")
    assert [t["idTag"] for t in json.loads(only_blocked.output)["items"]] == ["BAD1"]
    by_prefix = await cli(api, Role.VIEWER, "id-tags", "--prefix", "Ta", "--json")
    assert [t["idTag"] for t in json.loads(by_prefix.output)["items"]] == ["tag1"]
    first = await cli(api, Role.VIEWER, "id-tags", "--limit", "1")
    assert "(more: --cursor bad1)" in first.output

    deleted = await cli(api, Role.OPERATOR, "id-tag", "delete", "TAG1")
    assert (deleted.exit_code, deleted.output.strip()) == (0, "deleted TAG1")
    again = await cli(api, Role.OPERATOR, "id-tag", "delete", "TAG1")
    assert again.exit_code == 1 and "404" in again.output


async def test_id_tag_set_refuses_what_the_api_refuses(api: Api) -> None:
    viewer = await cli(api, Role.VIEWER, "id-tag", "set", "TAG1")
    assert viewer.exit_code == 1 and "403" in viewer.output
    too_long = await cli(api, Role.OPERATOR, "id-tag", "set", "T" * 21)
    assert too_long.exit_code == 1 and "400" in too_long.output
    no_zone = await cli(
        api, Role.OPERATOR, "id-tag", "set", "TAG1", "--expiry", "2027-01-01T00:00:00"
    )
    assert no_zone.exit_code == 1 and "400" in no_zone.output
    bad_status = await cli(api, Role.OPERATOR, "id-tag", "set", "TAG1", "--status", "Maybe")
    assert bad_status.exit_code == 2 and "'--status'" in bad_status.output
    listed = await cli(api, Role.VIEWER, "id-tags", "--json")
    assert json.loads(listed.output)["items"] == [], "nothing refused was stored"
