"""The event stream over real HTTP (server-sent events) while a charge point on a real
socket connects, reports, charges and answers a command."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point


class Stream:
    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.lines = lines

    async def next(self) -> dict[str, Any]:
        """The next event's data (comments and blank lines skipped)."""

        async def read() -> dict[str, Any]:
            async for line in self.lines:
                if line.startswith("data:"):
                    data: dict[str, Any] = json.loads(line.removeprefix("data:").strip())
                    return data
            raise AssertionError("the stream ended")

        return await asyncio.wait_for(read(), 5)

    async def until(self, event_type: str) -> list[dict[str, Any]]:
        seen = [await self.next()]
        while seen[-1]["type"] != event_type:
            seen.append(await self.next())
        return seen


@asynccontextmanager
async def events(api: Api, **query: str) -> AsyncIterator[Stream]:
    headers = {"Authorization": f"Bearer {api.tokens[Role.VIEWER]}"}
    async with (
        httpx.AsyncClient(base_url=api.url, timeout=5) as client,
        client.stream("GET", "/api/v1/events", params=query, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        assert await asyncio.wait_for(anext(lines), 5) == ": subscribed"
        yield Stream(lines)


async def test_connections_statuses_transactions_and_command_results(api: Api) -> None:
    async with events(api) as stream:
        async with charge_point(api) as cp:
            await cp.ask(
                "StatusNotification",
                {"connectorId": 1, "status": "Charging", "errorCode": "NoError"},
            )
            started = await cp.ask(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "TAG1",
                    "meterStart": 100,
                    "timestamp": "2026-11-25T12:00:00Z",
                },
            )
            transaction_id = started["transactionId"]
            await cp.ask(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": transaction_id,
                    "meterValue": [
                        {"timestamp": "2026-11-25T12:01:00Z", "sampledValue": [{"value": "150"}]}
                    ],
                },
            )
            await cp.ask(
                "StopTransaction",
                {
                    "transactionId": transaction_id,
                    "meterStop": 200,
                    "timestamp": "2026-11-25T12:02:00Z",
                },
            )
            cp.replies["Reset"] = {"status": "Accepted"}
            await api.client(Role.OPERATOR)(
                "POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"}
            )
        seen = await stream.until("Disconnected")
    assert [event["type"] for event in seen] == [
        "Connected",
        "BootNotification",
        "StatusNotification",
        "TransactionStarted",
        "MeterValues",
        "TransactionStopped",
        "CommandResult",
        "Disconnected",
    ]
    assert all(event["chargePointId"] == "CP1" for event in seen)
    by_type = {event["type"]: event for event in seen}
    assert by_type["StatusNotification"]["status"] == "Charging"
    assert by_type["TransactionStarted"]["transactionId"] == transaction_id
    assert by_type["TransactionStarted"]["status"] == "Invalid"  # TAG1 is not in the store
    assert by_type["TransactionStopped"]["transactionId"] == transaction_id
    assert by_type["CommandResult"]["action"] == "Reset"
    assert by_type["CommandResult"]["response"] == {"status": "Accepted"}
    assert by_type["Connected"]["at"] == "2026-11-25T12:00:00Z"


async def test_a_filter_on_the_charge_point_and_failed_commands(api: Api) -> None:
    async with events(api, chargePointId="CP2") as stream:
        async with charge_point(api, "CP1") as cp:
            await cp.ask(
                "StatusNotification",
                {"connectorId": 0, "status": "Available", "errorCode": "NoError"},
            )
        async with charge_point(api, "CP2") as cp:
            cp.replies["Reset"] = {"status": "Maybe"}
            await api.client(Role.OPERATOR)(
                "POST", "/charge-points/CP2/commands/Reset", {"type": "Soft"}
            )
        seen = await stream.until("Disconnected")
    assert [event["type"] for event in seen] == [
        "Connected",
        "BootNotification",
        "CommandFailed",
        "Disconnected",
    ]
    assert {event["chargePointId"] for event in seen} == {"CP2"}
    assert seen[2]["action"] == "Reset" and seen[2]["error"]


async def test_the_stream_needs_a_token(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=5) as client:
        answer = await client.get("/api/v1/events")
    assert answer.status_code == 401


async def test_a_command_result_never_shows_the_authorization_key(api: Api) -> None:
    """Issue 17, 6: a GetConfiguration answer with the AuthorizationKey reaches the viewers'
    event stream with its value hidden, the other keys as answered."""
    keys = [
        {"key": "AuthorizationKey", "readonly": False, "value": "leaked!"},
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
    ]
    async with events(api) as stream, charge_point(api) as cp:
        cp.replies["GetConfiguration"] = {"configurationKey": keys}
        await api.client(Role.OPERATOR)("POST", "/charge-points/CP1/commands/GetConfiguration", {})
        result = (await stream.until("CommandResult"))[-1]
    assert result["response"]["configurationKey"] == [
        {**keys[0], "value": "<redacted>"},
        keys[1],
    ]
