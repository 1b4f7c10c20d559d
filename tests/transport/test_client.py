"""The charge point's WebSocket client against a mobilityhouse `ocpp` central system."""

import asyncio
import socket
import ssl

import pytest
from ocpp.v16 import call as cs_call
from websockets.exceptions import InvalidStatus

from ocppd.protocol import messages as m
from ocppd.protocol.enums import RegistrationStatus, ResetStatus
from ocppd.rpc.session import SessionClosed
from ocppd.transport.client import (
    ClientOptions,
    SubprotocolRefused,
    basic_auth,
    connect,
    station_url,
)
from tests.chargepoint.central import CentralSystem

BOOT = m.BootNotificationRequest(charge_point_vendor="ocppd", charge_point_model="Sim")


def test_identity_is_percent_encoded_in_the_url() -> None:
    assert station_url("ws://h/ocpp/", "RDAM 123") == "ws://h/ocpp/RDAM%20123"
    assert station_url("ws://h/ocpp", "a/b") == "ws://h/ocpp/a%2Fb"
    assert basic_auth("CP1", "secret") == "Basic Q1AxOnNlY3JldA=="


async def test_both_directions_over_a_real_socket() -> None:
    async with CentralSystem() as central:
        resets: list[m.ResetRequest] = []

        def reset(request: m.ResetRequest) -> m.ResetResponse:
            resets.append(request)
            return m.ResetResponse(status=ResetStatus.ACCEPTED)

        client = await connect(central.url, "RDAM 123", handlers={"Reset": reset})
        async with client:
            assert client.websocket.subprotocol == "ocpp1.6"
            boot = await client.session.call(BOOT)
            assert boot.status is RegistrationStatus.ACCEPTED
            station = await central.station("RDAM 123")
            answer = await station.call(cs_call.Reset(type="Soft"))
            assert answer.status == "Accepted"
            assert resets[0].type == "Soft"
        assert central.paths == ["/ocpp/RDAM%20123"]
        assert not client.open
        with pytest.raises(SessionClosed):
            await client.session.call(m.HeartbeatRequest())


async def test_basic_auth_is_sent_and_a_wrong_password_is_refused() -> None:
    async with CentralSystem(password="s3cret") as central:
        client = await connect(central.url, "CP1", options=ClientOptions(password="s3cret"))
        async with client:
            assert (await client.session.call(BOOT)).status is RegistrationStatus.ACCEPTED
        with pytest.raises(InvalidStatus) as refused:
            await connect(central.url, "CP1", options=ClientOptions(password="wrong"))
        assert refused.value.response.status_code == 401


async def test_a_tls_context_is_for_wss_only() -> None:
    """A station holding trusted CAs (`ocppd simulate --ca-file`, e.g. for FTPS) still
    connects to a ws:// central system: websockets refused the context there."""
    async with CentralSystem() as central:
        options = ClientOptions(ssl=ssl.create_default_context())
        async with await connect(central.url, "CP1", options=options) as client:
            assert (await client.session.call(BOOT)).status is RegistrationStatus.ACCEPTED


async def test_a_server_without_ocpp16_is_refused() -> None:
    async with CentralSystem(subprotocols=[]) as central:
        with pytest.raises(SubprotocolRefused):
            await connect(central.url, "CP1")


async def test_connection_refused_is_an_os_error() -> None:
    # A port bound and never listening: connections are refused, and no other test's server
    # can take it meanwhile (a closed server's port could be, under pytest-xdist).
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{reserved.getsockname()[1]}/ocpp"
        with pytest.raises(ConnectionRefusedError):
            await connect(url, "CP1", options=ClientOptions(open_timeout=1))


async def test_an_oversized_message_closes_the_connection() -> None:
    async with CentralSystem() as central:
        client = await connect(central.url, "CP1", options=ClientOptions(max_message_size=1024))
        station = await central.station("CP1")
        await station._connection.send('[2,"x","DataTransfer",{"vendorId":"' + "v" * 2000 + '"}]')
        await asyncio.wait_for(client.wait_closed(), 2)
        assert client.websocket.protocol.close_sent is not None
        assert client.websocket.protocol.close_sent.code == 1009
        assert client.session.closed


async def test_outgoing_frames_can_be_rewritten_after_validation() -> None:
    """The hook of quirk personas: what the session sends is turned into other frames."""
    seen: list[bytes] = []

    def twice_with_a_serial(frame: bytes) -> list[bytes]:
        seen.append(frame)
        bent = frame.replace(b'"chargePointModel":"Sim"', b'"chargePointModel":"Sim2"')
        return [bent, bent.replace(b'[2,"', b'[2,"again-')]

    async with CentralSystem() as central:
        options = ClientOptions(outgoing=twice_with_a_serial)
        async with await connect(central.url, "BENT", options=options) as client:
            boot = await client.session.call(BOOT)
            assert boot.status is RegistrationStatus.ACCEPTED
            station = await central.station("BENT")
            boots = await station.wait_for("BootNotification", count=2)
    assert [b["charge_point_model"] for b in boots] == ["Sim2", "Sim2"]
    assert len(seen) == 1  # the session sent one frame; two went out
