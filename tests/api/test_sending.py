"""What the boot status lets the API send (OCPP 1.6, 4.2), over real HTTP to a charge point on a
real socket: while Pending no remote start or stop (409, nothing sent), everything else goes;
once Rejected nothing goes unless the operator forces it (`?force=true`, `ocppd call
--force`)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from click.testing import CliRunner
from websockets.asyncio.client import connect

from ocppd.api.tokens import Role
from ocppd.cli import main
from ocppd.csms import registration
from ocppd.protocol.enums import RegistrationStatus
from tests.api.conftest import Api, FakeChargePoint

REMOTE_START = {"idTag": "TAG1", "connectorId": 1}
REMOTE_STOP = {"transactionId": 42}


@contextlib.asynccontextmanager
async def booted(
    api: Api, status: RegistrationStatus, identity: str = "CP1"
) -> AsyncIterator[FakeChargePoint]:
    """A charge point registered with `status`, connected and answered `status` at boot."""
    async with api.system.engine.begin() as db:
        await registration.register(db, identity, status)
    async with connect(api.ws_url(identity), subprotocols=["ocpp1.6"], open_timeout=5) as ws:  # type: ignore[list-item]
        cp = FakeChargePoint(ws)
        task = asyncio.create_task(cp.serve())
        boot = await cp.ask("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot["status"] == status.value
        try:
            yield cp
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_pending_refuses_remote_start_and_stop_and_sends_the_rest(api: Api) -> None:
    client = api.client(Role.OPERATOR)
    async with booted(api, RegistrationStatus.PENDING) as cp:
        cp.replies["RemoteStartTransaction"] = {"status": "Accepted"}
        cp.replies["RemoteStopTransaction"] = {"status": "Accepted"}
        for action, body in (
            ("RemoteStartTransaction", REMOTE_START),
            ("RemoteStopTransaction", REMOTE_STOP),
        ):
            for force in (None, True):  # forcing does not lift a ban of the specification
                answer = await client(
                    "POST", f"/charge-points/CP1/commands/{action}", body, force=force
                )
                assert answer.status == 409, (action, answer.body)
                assert answer.body["error"] == (
                    f"not sent: {action} is not sent to 'CP1' while its boot is Pending "
                    "(OCPP 1.6, 4.2: no remote start or stop before it is Accepted)"
                )
        cp.replies["GetConfiguration"] = {"configurationKey": [], "unknownKey": ["X"]}
        answer = await client(
            "POST", "/charge-points/CP1/commands/GetConfiguration", {"key": ["X"]}
        )
        assert (answer.status, answer.body) == (200, {"configurationKey": [], "unknownKey": ["X"]})
        cp.replies["TriggerMessage"] = {"status": "Accepted"}
        answer = await client(
            "POST",
            "/charge-points/CP1/commands/TriggerMessage",
            {"requestedMessage": "BootNotification"},
        )
        assert (answer.status, answer.body) == (200, {"status": "Accepted"})
        assert [action for action, _ in cp.received] == ["GetConfiguration", "TriggerMessage"]


async def test_once_accepted_at_its_next_boot_remote_start_goes(api: Api) -> None:
    client = api.client(Role.OPERATOR)
    async with booted(api, RegistrationStatus.PENDING) as cp:
        path = "/charge-points/CP1/commands/RemoteStartTransaction"
        assert (await client("POST", path, REMOTE_START)).status == 409
        async with api.system.engine.begin() as db:
            await registration.register(db, "CP1", RegistrationStatus.ACCEPTED)
        # The status the charge point was answered counts, not the one stored since.
        assert (await client("POST", path, REMOTE_START)).status == 409
        boot = await cp.ask("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot["status"] == "Accepted"
        cp.replies["RemoteStartTransaction"] = {"status": "Accepted"}
        answer = await client("POST", path, REMOTE_START)
        assert (answer.status, answer.body) == (200, {"status": "Accepted"})
        assert cp.received == [("RemoteStartTransaction", REMOTE_START)]


async def test_rejected_refuses_every_command_unless_forced(api: Api) -> None:
    client = api.client(Role.OPERATOR)
    async with booted(api, RegistrationStatus.REJECTED) as cp:
        cp.replies["Reset"] = {"status": "Accepted"}
        path = "/charge-points/CP1/commands/Reset"
        for force in (None, False):
            answer = await client("POST", path, {"type": "Soft"}, force=force)
            assert answer.status == 409, answer.body
            assert answer.body["error"] == (
                "not sent: 'CP1' was Rejected at boot: OCPP 1.6 says commands SHOULD NOT be sent "
                "to it (it answers nothing until it boots again); force it to send anyway"
            )
        answer = await client("POST", "/charge-points/CP1/diagnostics", {})
        assert answer.status == 409 and "Rejected at boot" in answer.body["error"]
        answer = await client("POST", "/charge-points/CP1/local-list")
        assert answer.status == 409 and "Rejected at boot" in answer.body["error"]
        assert cp.received == []
        jobs = await api.client(Role.ADMIN)("GET", "/charge-points/CP1/diagnostics")
        assert jobs.body["items"] == []  # the job opened for it is forgotten

        answer = await client("POST", path, {"type": "Soft"}, force=True)
        assert (answer.status, answer.body) == (200, {"status": "Accepted"})
        cp.replies["GetDiagnostics"] = {"fileName": "d.zip"}
        answer = await client("POST", "/charge-points/CP1/diagnostics", {}, force=True)
        assert (answer.status, answer.body["status"]) == (201, "Requested"), answer.body
        assert [action for action, _ in cp.received] == ["Reset", "GetDiagnostics"]


async def test_ocppd_call_says_why_and_forces_with_force(api: Api) -> None:
    env = {"OCPPD_URL": api.url, "OCPPD_TOKEN": api.tokens[Role.OPERATOR]}

    def call(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(main, ["call", *args], env=env, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    async with booted(api, RegistrationStatus.REJECTED) as cp:
        cp.replies["ClearCache"] = {"status": "Accepted"}
        code, out, err = await asyncio.to_thread(call, "CP1", "ClearCache")
        assert (code, out) == (1, "")
        assert "409" in err and "Rejected at boot" in err and "force" in err
        assert cp.received == []
        code, out, err = await asyncio.to_thread(call, "--force", "CP1", "ClearCache")
        assert code == 0, err
        assert out == '{\n  "status": "Accepted"\n}\n'
        assert cp.received == [("ClearCache", {})]
