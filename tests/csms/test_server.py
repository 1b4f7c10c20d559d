"""The central system over real WebSockets: admission, the connection, bad input."""

import asyncio
import base64
import contextlib
import logging
import socket
import sqlite3
import struct
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ocppd.csms import models, registration
from ocppd.csms.central_system import CentralSystem
from tests.csms.conftest import RunningServer
from tests.raw_websocket import ServerFrames, masked_text_frame, open_upgraded, upgrade_request

BOOT = b'[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


async def register(system: CentralSystem, identity: str, **options: Any) -> None:
    async with system.engine.begin() as connection:
        await registration.register(connection, identity, **options)


def open_socket(server: RunningServer, identity: str, **kwargs: Any) -> Any:
    kwargs.setdefault("subprotocols", ["ocpp1.6"])
    return connect(server.url(identity), open_timeout=5, **kwargs)


async def ask(ws: ClientConnection, frame: bytes | str) -> Any:
    await ws.send(frame if isinstance(frame, str) else frame.decode())
    return msgspec.json.decode(await asyncio.wait_for(ws.recv(), 5))


async def test_boot_and_heartbeat_over_a_real_socket(server: RunningServer) -> None:
    await register(server.system, "CP 1")
    async with open_socket(server, "CP%201") as ws:
        assert ws.subprotocol == "ocpp1.6"
        boot = await ask(ws, BOOT)
        assert boot[:2] == [3, "b1"] and boot[2]["status"] == "Accepted"
        beat = await ask(ws, '[2,"h1","Heartbeat",{}]')
        assert beat[:2] == [3, "h1"]
        assert "CP 1" in server.system.connections
    async with server.system.engine.connect() as connection:
        vendor = await connection.scalar(
            sa.select(models.charge_points.c.vendor).where(models.charge_points.c.id == "CP 1")
        )
    assert vendor == "V"


async def test_unknown_identity_gets_404_before_the_upgrade(server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with open_socket(server, "NOBODY"):
            pass
    assert caught.value.response.status_code == 404


async def test_empty_or_nested_identity_is_refused(server: RunningServer) -> None:
    for path in ["", "a/b"]:
        with pytest.raises(InvalidStatus) as caught:
            async with open_socket(server, path):
                pass
        assert caught.value.response.status_code == 404


async def test_an_identity_with_a_slash_is_refused_even_percent_encoded(
    server: RunningServer,
) -> None:
    """No API path could address it (`%2F` is decoded before routing): refused, not
    registered unreachable."""
    from click.testing import CliRunner

    from ocppd.cli import main
    from ocppd.csms import registration
    from ocppd.csms.settings import RegistrationPolicy

    server.system.settings.registration = RegistrationPolicy.OPEN
    with pytest.raises(InvalidStatus) as caught:
        async with open_socket(server, "a%2Fb"):
            pass
    assert caught.value.response.status_code == 404
    assert b"'/'" in caught.value.response.body
    async with server.system.engine.connect() as db:
        assert await registration.load(db, "a/b") is None
    added = CliRunner().invoke(main, ["charge-point", "add", "a/b", "--database", "sqlite://"])
    assert added.exit_code == 2 and "'/'" in added.output


async def test_identities_whose_escapes_are_not_utf8_are_refused_before_the_upgrade(
    server: RunningServer,
) -> None:
    """Issue 17 §8: `%ff`, `%fe` and `%EF%BF%BD` were all U+FFFD, one charge point, and each
    replaced the other's connection."""
    from ocppd.csms.settings import RegistrationPolicy

    server.system.settings.registration = RegistrationPolicy.OPEN
    async with open_socket(server, "%EF%BF%BD") as ws:
        assert (await ask(ws, BOOT))[0] == 3
        for path in ["%ff", "%fe", "A%C3", "%C3%28"]:
            with pytest.raises(InvalidStatus) as caught:
                async with open_socket(server, path):
                    pass
            assert caught.value.response.status_code == 404
            assert b"UTF-8" in caught.value.response.body
        assert (await ask(ws, '[2,"h","Heartbeat",{}]'))[:2] == [3, "h"]
        assert list(server.system.connections) == ["\ufffd"]
    async with open_socket(server, "%C3%A9") as ws:  # a real escape: é
        assert (await ask(ws, BOOT))[0] == 3
        assert "\u00e9" in server.system.connections


async def test_open_registration_admits_new_identities(server: RunningServer) -> None:
    from ocppd.csms.settings import RegistrationPolicy

    server.system.settings.registration = RegistrationPolicy.OPEN
    async with open_socket(server, "NEWCOMER") as ws:
        assert (await ask(ws, BOOT))[0] == 3


async def test_no_ocpp_subprotocol_completes_the_handshake_then_closes(
    server: RunningServer,
) -> None:
    await register(server.system, "CP1")
    async with connect(server.url("CP1"), subprotocols=["ocpp2.0.1"]) as ws:
        assert ws.subprotocol is None
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(ws.recv(), 5)
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 1002


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_basic_auth_per_charge_point(server: RunningServer) -> None:
    key = "00112233445566778899aabbccddeeff"
    await register(server.system, "SECURE", auth_key=key)
    for headers in [{}, basic("SECURE", "wrong"), basic("OTHER", key)]:
        with pytest.raises(InvalidStatus) as caught:
            async with open_socket(server, "SECURE", additional_headers=headers):
                pass
        assert caught.value.response.status_code == 401
    async with open_socket(server, "SECURE", additional_headers=basic("SECURE", key)) as ws:
        assert (await ask(ws, BOOT))[0] == 3


async def test_basic_auth_required_globally(server: RunningServer) -> None:
    server.system.settings.basic_auth = True
    await register(server.system, "NOKEY")
    with pytest.raises(InvalidStatus) as caught:
        async with open_socket(server, "NOKEY", additional_headers=basic("NOKEY", "x")):
            pass
    assert caught.value.response.status_code == 401


async def test_new_connection_replaces_the_old_one(server: RunningServer) -> None:
    await register(server.system, "CP1")
    async with open_socket(server, "CP1") as first:
        await ask(first, BOOT)
        async with open_socket(server, "CP1") as second:
            with pytest.raises(ConnectionClosed) as caught:
                await asyncio.wait_for(first.recv(), 5)
            assert caught.value.rcvd is not None and caught.value.rcvd.code == 1000
            # The old socket's close did not tear down the new session.
            await asyncio.sleep(0.05)
            assert (await ask(second, '[2,"h","Heartbeat",{}]'))[0] == 3
            assert server.system.connections["CP1"].session.closed is False


async def test_bad_input_is_answered_and_the_connection_survives(server: RunningServer) -> None:
    await register(server.system, "CP1")
    async with open_socket(server, "CP1") as ws:
        await ask(ws, BOOT)
        await ws.send("not json at all")
        await ws.send('[9,"x",{}]')
        assert (await ask(ws, '[2,"a","Heartbeat"]'))[:3] == [4, "a", "FormationViolation"]
        assert (await ask(ws, '[2,"b","Teleport",{}]'))[:3] == [4, "b", "NotImplemented"]
        assert (await ask(ws, '[2,"c","Reset",{"type":"Soft"}]'))[:3] == [4, "c", "NotSupported"]
        assert (await ask(ws, '[2,"d","Authorize",{}]'))[:3] == [4, "d", "ProtocolError"]
        answer = await ask(ws, '[2,"e","Authorize",{"idTag":"x","extra":1}]')
        assert answer[:3] == [4, "e", "FormationViolation"]
        assert (await ask(ws, '[2,"f","Heartbeat",{}]'))[:2] == [3, "f"]


DEEP_DATA_TRANSFER = (
    '[2,"d","DataTransfer",{"vendorId":"v","data":' + "[" * 1000 + "]" * 1000 + "}]"
)
LONE_SURROGATE_START = (
    '[2,"s","StartTransaction",{"connectorId":1,"idTag":"\\ud800","meterStart":0,'
    '"timestamp":"2026-01-01T00:00:00Z"}]'
)


@pytest.mark.parametrize(
    ("frame", "echoed"),
    [
        (DEEP_DATA_TRANSFER, "d"),  # issue 17 §4: was a RecursionError, TCP dropped
        (LONE_SURROGATE_START, "s"),  # §5: was dropped unanswered as "not valid JSON"
        ('[2,"' + "i" * 100_000 + '","Heartbeat",{}]', "i" * 36),  # §10: was echoed whole
        ('[2,"","Heartbeat",{}]', ""),  # §10: was accepted
    ],
    ids=["deep-nesting", "lone-surrogate", "long-id", "empty-id"],
)
async def test_hostile_frames_get_a_formation_violation_and_the_connection_stays(
    server: RunningServer, caplog: pytest.LogCaptureFixture, frame: str, echoed: str
) -> None:
    await register(server.system, "CP1")
    async with open_socket(server, "CP1") as ws:
        await ask(ws, BOOT)
        with caplog.at_level(logging.WARNING):
            answer = await ask(ws, frame)
        assert answer[:3] == [4, echoed, "FormationViolation"]
        assert (await ask(ws, '[2,"h","Heartbeat",{}]'))[:2] == [3, "h"]
        assert server.system.connections["CP1"].session.closed is False
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert all(r.exc_info is None for r in caplog.records)


async def test_binary_frames_close_the_connection(server: RunningServer) -> None:
    await register(server.system, "CP1")
    async with open_socket(server, "CP1") as ws:
        await ws.send(BOOT)  # bytes: a binary frame
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(ws.recv(), 5)
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 1003


async def test_oversized_frame_closes_only_that_connection(server: RunningServer) -> None:
    await register(server.system, "BIG")
    await register(server.system, "SMALL")
    limit = server.system.settings.max_frame_size
    async with open_socket(server, "BIG") as big, open_socket(server, "SMALL") as small:
        await ask(small, BOOT)
        await big.send('[2,"x","DataTransfer",{"vendorId":"v","data":"' + "x" * limit + '"}]')
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(big.recv(), 5)
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1009
        assert (await ask(small, '[2,"h","Heartbeat",{}]'))[0] == 3


async def test_a_flood_of_calls_is_all_answered(server: RunningServer) -> None:
    await register(server.system, "CP1")
    async with open_socket(server, "CP1") as ws:
        await ask(ws, BOOT)
        for i in range(300):
            await ws.send(f'[2,"{i}","Heartbeat",{{}}]')
        answers = [msgspec.json.decode(await asyncio.wait_for(ws.recv(), 10)) for _ in range(300)]
    assert [a[1] for a in answers] == [str(i) for i in range(300)]
    assert all(a[0] == 3 for a in answers)


async def test_a_client_that_never_reads_does_not_stall_others(server: RunningServer) -> None:
    await register(server.system, "DEAF")
    await register(server.system, "CP1")
    deaf = socket.create_connection(("127.0.0.1", server.port))
    deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    deaf.sendall(upgrade_request("/ocpp/DEAF"))
    deaf.setblocking(False)
    frame = masked_text_frame(BOOT.decode())
    beat = masked_text_frame('[2,"h","Heartbeat",{}]')
    try:
        loop = asyncio.get_running_loop()
        for sent in range(2000):  # bounded: keep writing calls, never read an answer
            try:
                await asyncio.wait_for(loop.sock_sendall(deaf, frame if sent == 0 else beat), 1)
            except (OSError, TimeoutError):
                break
        async with open_socket(server, "CP1") as ws:
            assert (await ask(ws, BOOT))[0] == 3
            assert (await ask(ws, '[2,"h","Heartbeat",{}]'))[0] == 3
    finally:
        deaf.close()


async def test_stored_data_survives_bad_input(server: RunningServer) -> None:
    await register(server.system, "CP1")
    async with open_socket(server, "CP1") as ws:
        await ask(ws, BOOT)
        start = (
            '[2,"s","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":0,'
            '"timestamp":"2026-01-01T00:00:00Z"}]'
        )
        started = await ask(ws, start)
        await ws.send('[2,"junk","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":5}]}]')
        await ws.recv()
        huge = 2**70
        answer = await ask(
            ws,
            f'[2,"t","StopTransaction",{{"meterStop":{huge},'
            f'"timestamp":"2026-01-01T01:00:00Z","transactionId":{started[2]["transactionId"]}}}]',
        )
        assert answer[0] == 3  # a stop is never refused; the absurd reading is kept as unknown
        bad_connector = await ask(
            ws,
            '[2,"c","StatusNotification",{"connectorId":99999999999,"errorCode":"NoError",'
            '"status":"Available"}]',
        )
        assert bad_connector[:3] == [4, "c", "PropertyConstraintViolation"]
        assert (await ask(ws, '[2,"h","Heartbeat",{}]'))[0] == 3
    await server.system.writer.flush()
    async with server.system.engine.connect() as connection:
        [row] = (await connection.execute(sa.select(models.transactions))).mappings()
    assert row["meter_start"] == 0
    assert row["meter_stop"] is None
    assert row["stopped_at"] is not None


async def test_a_nul_in_a_string_is_stored_and_answered(server: RunningServer) -> None:
    """A NUL in a string is valid JSON and allowed by the schemas, but PostgreSQL's text
    cannot hold it: stored as U+FFFD there (verbatim on SQLite), answered, and the other
    chargers' messages of the same batch are stored too."""
    identities = ["BAD", *(f"CP{n}" for n in range(5))]
    for identity in identities:
        await register(server.system, identity)
    sockets = [await open_socket(server, identity).__aenter__() for identity in identities]
    try:
        for ws in sockets:
            await ask(ws, BOOT)
        status = (
            '[2,"n","StatusNotification",{"connectorId":1,"errorCode":"OtherError",'
            '"status":"Faulted","info":"a\\u0000b"}]'
        )
        beats = [ask(ws, '[2,"h","Heartbeat",{}]') for ws in sockets[1:]]
        answers = await asyncio.gather(ask(sockets[0], status), *beats)
        assert [answer[:2] for answer in answers] == [[3, "n"]] + [[3, "h"]] * 5
        assert (await ask(sockets[0], '[2,"h2","Heartbeat",{}]'))[:2] == [3, "h2"]
    finally:
        for ws in sockets:
            await ws.close()
    await server.system.writer.flush()
    async with server.system.engine.connect() as connection:
        info = await connection.scalar(sa.select(models.connectors.c.info))
        beats_logged = await connection.scalar(
            sa.select(sa.func.count())
            .select_from(models.messages)
            .where(models.messages.c.unique_id == "h")
        )
        frames = await connection.scalars(
            sa.select(models.messages.c.payload).where(models.messages.c.unique_id == "n")
        )
        logged = list(frames)
    nul = "\ufffd" if server.system.engine.dialect.name == "postgresql" else "\x00"
    assert info == f"a{nul}b"
    assert beats_logged == 10
    assert len(logged) == 2 and logged[0] == status


@contextlib.asynccontextmanager
async def charge_point_row_locked(system: CentralSystem, identity: str) -> AsyncIterator[None]:
    """The charge point's row locked by another writer: a Heartbeat's commit waits."""
    engine = system.engine
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection, connection.begin():
            charge_points = models.charge_points
            await connection.execute(
                sa.select(charge_points.c.id)
                .where(charge_points.c.id == identity)
                .with_for_update()
            )
            yield
        return
    # Taken off the event loop: the system's own write transaction (the boot's writes, run by
    # aiosqlite's thread) needs this loop to commit, and a blocking wait here would hold it
    # until sqlite3's busy timeout gave up with "database is locked".
    locker = sqlite3.connect(
        str(engine.url.database), isolation_level=None, check_same_thread=False, timeout=60
    )
    try:
        await asyncio.to_thread(locker.execute, "BEGIN IMMEDIATE")
        yield
    finally:
        locker.close()


async def test_an_answer_that_finds_the_charger_gone_is_dropped_quietly(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A Heartbeat is answered as it is read (no task of its own), after its commit. The charger
    is gone by then: what it sent is stored, the answer is dropped without an error, the
    disconnect is recorded as the abnormal one it was, and the charger connects again."""
    await register(server.system, "CP1")
    loop = asyncio.get_running_loop()
    raw = await open_upgraded(server.port, "/ocpp/CP1")
    frames = ServerFrames(raw)
    await loop.sock_sendall(raw, masked_text_frame(BOOT.decode()))
    assert (await frames.next()) is not None
    with caplog.at_level(logging.DEBUG):
        async with charge_point_row_locked(server.system, "CP1"):
            server.system.clock.now += timedelta(seconds=30)  # type: ignore[attr-defined]
            await loop.sock_sendall(raw, masked_text_frame('[2,"h1","Heartbeat",{}]'))
            await asyncio.sleep(0.2)  # the server has read it and waits for the commit
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()  # a reset: no closing handshake
            await asyncio.sleep(0.2)  # the server has seen it
        for _ in range(100):
            if "CP1" not in server.system.connections:
                break
            await asyncio.sleep(0.05)
    assert "CP1" not in server.system.connections
    # Not a normal closure (1000): the code of the disconnect that uvicorn saw.
    assert "CP1: disconnected (1005)" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    async with server.system.engine.connect() as connection:
        beat = await connection.scalar(
            sa.select(models.charge_points.c.last_heartbeat_at).where(
                models.charge_points.c.id == "CP1"
            )
        )
    stored = beat.replace(tzinfo=None)  # SQLite gives it back without its zone
    assert stored == server.system.clock.now.replace(tzinfo=None)  # type: ignore[attr-defined]
    async with open_socket(server, "CP1") as ws:
        assert (await ask(ws, '[2,"h2","Heartbeat",{}]'))[:2] == [3, "h2"]


def lines(caplog: pytest.LogCaptureFixture, words: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if words in r.getMessage()]


def assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing at ERROR, no traceback (issue 17 §9)."""
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not loud, caplog.text


async def test_refused_handshakes_log_a_few_lines_and_no_error(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each refusal logged ERROR "ASGI callable returned without completing handshake"
    (uvicorn) besides two INFO lines; now one INFO line, within the charger's budget."""
    with caplog.at_level(logging.INFO):
        for _ in range(20):
            with pytest.raises(InvalidStatus) as caught:
                async with open_socket(server, "NOBODY"):
                    pass
            assert caught.value.response.status_code == 404
    assert_quiet(caplog)
    assert len(lines(caplog, "refused 'NOBODY'")) == 5  # LINES_PER_PERIOD
    assert not lines(caplog, '"WebSocket /ocpp/NOBODY" 404'), caplog.text
    assert not lines(caplog, "connection rejected"), caplog.text


async def test_text_that_is_not_utf8_closes_with_1007_and_logs_a_few_warnings(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each such frame logged an ERROR with a traceback (5,111 in a fuzz run)."""
    await register(server.system, "CP1")
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.INFO):
        for _ in range(8):
            raw = await open_upgraded(server.port, "/ocpp/CP1")
            try:
                await loop.sock_sendall(raw, masked_text_frame(b'[2,"x","Heart\xffbeat",{}]'))
                close = await ServerFrames(raw).next()
            finally:
                raw.close()
            assert close is not None and close[0] == 0x8
            assert struct.unpack("!H", close[1][:2])[0] == 1007
        async with open_socket(server, "CP1") as ws:
            assert (await ask(ws, BOOT))[:2] == [3, "b1"]
    assert_quiet(caplog)
    warned = lines(caplog, "text frame is not UTF-8")
    assert len(warned) == 5 and all(r.levelno == logging.WARNING for r in warned)


async def test_a_charger_repeating_bad_frames_gets_a_few_log_lines(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    await register(server.system, "CP1")
    async with open_socket(server, "CP1") as ws:
        with caplog.at_level(logging.INFO):
            for n in range(30):
                await ws.send(f"not json {n}")
                assert (await ask(ws, f'[2,"{n}",{{}}]'))[:3] == [4, str(n), "FormationViolation"]
    assert_quiet(caplog)
    assert len(lines(caplog, "CP1: dropped")) + len(lines(caplog, "CP1: answered")) == 5


async def test_binary_and_oversized_frames_log_a_few_lines(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each binary frame and each frame over the size limit logged a WARNING, past the
    charger's log budget (README: repeated bad frames, at most 5 lines a minute)."""
    await register(server.system, "CP1")
    loop = asyncio.get_running_loop()
    too_big = "x" * (server.system.settings.max_frame_size + 1)
    with caplog.at_level(logging.INFO):
        for frame, code in [(b"\x82\x80" + bytes(4), 1003), (masked_text_frame(too_big), 1009)]:
            for _ in range(8):
                raw = await open_upgraded(server.port, "/ocpp/CP1")
                try:
                    await loop.sock_sendall(raw, frame)
                    close = await ServerFrames(raw).next()
                finally:
                    raw.close()
                assert close is not None and close[0] == 0x8
                assert struct.unpack("!H", close[1][:2])[0] == code
    assert_quiet(caplog)
    assert len(lines(caplog, "CP1: binary frame refused")) == 5
    assert len(lines(caplog, "CP1: frame over the size limit")) == 0  # the budget is spent
    assert "8 similar lines held back" not in caplog.text


async def test_a_percent_that_starts_no_escape_is_refused(server: RunningServer) -> None:
    """`/ocpp/%` was the charge point `%`, as `/ocpp/%25` is: two spellings of one
    identity, each replacing the other's connection."""
    from ocppd.csms.settings import RegistrationPolicy

    server.system.settings.registration = RegistrationPolicy.OPEN
    loop = asyncio.get_running_loop()
    for path in ["/ocpp/%", "/ocpp/50%", "/ocpp/%2", "/ocpp/%zz", "/ocpp/a%2g"]:
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.setblocking(False)
            await loop.sock_sendall(raw, upgrade_request(path))
            answer = await asyncio.wait_for(loop.sock_recv(raw, 300), 5)
        assert answer.startswith(b"HTTP/1.1 404"), (path, answer)
        assert b"UTF-8" in answer
    async with open_socket(server, "50%25") as ws:
        assert (await ask(ws, BOOT))[0] == 3
        assert list(server.system.connections) == ["50%"]


async def test_a_refused_long_identity_is_logged_as_a_bounded_prefix(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An identity refused for its length was logged whole: 8,000 characters a line."""
    with caplog.at_level(logging.INFO), pytest.raises(InvalidStatus) as caught:
        async with open_socket(server, "L" * 8000):
            pass
    assert caught.value.response.status_code == 404
    (refused,) = lines(caplog, "refused 'LLL")
    assert "(8000 characters)" in refused.getMessage()
    assert len(refused.getMessage()) < 300


@pytest.mark.parametrize(
    "frame",
    [
        '[2,"u","' + "A" * 100_000 + '",{}]',  # an unknown action
        '[2,"u","Heartbeat",{"' + "k" * 100_000 + '":1}]',  # an unknown field
        '[2,"u","StatusNotification",{"' + "k" * 100_000 + '":1}]',  # a missing one too
    ],
    ids=["action", "unknown-field", "unknown-and-missing-fields"],
)
async def test_a_callerror_echoes_a_bounded_part_of_what_was_sent(
    server: RunningServer, caplog: pytest.LogCaptureFixture, frame: str
) -> None:
    """A 100,000-character field name was answered in 400 KB (the name in the description and
    twice in the details) and logged in a 200 KB line (issue 17 §10: a bounded prefix)."""
    await register(server.system, "CP1")
    async with open_socket(server, "CP1") as ws:
        await ask(ws, BOOT)
        with caplog.at_level(logging.INFO):
            await ws.send(frame)
            answer = await asyncio.wait_for(ws.recv(), 5)
        assert len(answer) < 1000, answer[:200]
        assert msgspec.json.decode(answer)[:2] == [4, "u"]
        assert "characters)" in answer  # says how long what it cut was
        assert (await ask(ws, '[2,"h","Heartbeat",{}]'))[:2] == [3, "h"]
    assert_quiet(caplog)
    assert max(len(r.getMessage()) for r in caplog.records) < 1000
