"""The asyncio session over an in-memory transport: both roles, every CALLERROR path."""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from ocppd.protocol import messages as m
from ocppd.protocol.actions import Role
from ocppd.protocol.enums import RegistrationStatus, ResetStatus, ResetType
from ocppd.protocol.errors import (
    CallErrorReceived,
    ErrorCode,
    PayloadError,
    PropertyConstraintViolation,
)
from ocppd.rpc.connection import Options
from ocppd.rpc.session import (
    BoundHandlers,
    CallTimeout,
    Direction,
    Session,
    SessionClosed,
    Traffic,
)
from tests.rpc.memory import Link

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def boot_response(_: m.BootNotificationRequest) -> m.BootNotificationResponse:
    return m.BootNotificationResponse(
        status=RegistrationStatus.ACCEPTED, current_time=NOW, interval=300
    )


def pair(link: Link, **cs_options: Any) -> tuple[Session, Session]:
    """(charge point, central system) joined by `link`."""
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs", **cs_options)
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="cp")
    link.attach(cp, cs)
    return cp, cs


def decoded(data: bytes | str) -> Any:
    return msgspec.json.decode(data)


async def test_call_and_result_in_both_roles(link: Link) -> None:
    cp, cs = pair(link)
    cs.on("BootNotification")(boot_response)

    @cp.on("Reset")
    async def reset(request: m.ResetRequest) -> m.ResetResponse:
        assert request.type is ResetType.SOFT
        return m.ResetResponse(status=ResetStatus.ACCEPTED)

    boot = await cp.call(m.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M"))
    assert boot == m.BootNotificationResponse(
        status=RegistrationStatus.ACCEPTED, current_time=NOW, interval=300
    )
    result = await cs.call(m.ResetRequest(type=ResetType.SOFT))
    assert result.status is ResetStatus.ACCEPTED


class Station:
    def __init__(self) -> None:
        self.beats = 0

    def heartbeat(self, _: m.HeartbeatRequest) -> m.HeartbeatResponse:
        self.beats += 1
        return m.HeartbeatResponse(current_time=NOW)


async def test_bound_handlers_answer_and_on_adds_to_a_copy(link: Link) -> None:
    station = Station()
    table = {"Heartbeat": "heartbeat"}
    handlers = BoundHandlers(station, table)
    assert dict(handlers) == {"Heartbeat": station.heartbeat} and "Reset" not in handlers
    cp, cs = pair(link, handlers=handlers)
    assert (await cp.call(m.HeartbeatRequest())).current_time == NOW
    cs.on("BootNotification")(boot_response)
    boot = m.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
    assert (await cp.call(boot)).status is RegistrationStatus.ACCEPTED
    assert (await cp.call(m.HeartbeatRequest())).current_time == NOW
    assert station.beats == 2
    assert table == {"Heartbeat": "heartbeat"} and "BootNotification" not in handlers


async def test_handler_may_answer_with_a_dict(link: Link) -> None:
    cp, cs = pair(link)
    cs.on("Heartbeat")(lambda _: {"currentTime": "2026-11-25T12:00:00Z"})
    result = await cp.call(m.HeartbeatRequest())
    assert result.current_time == NOW


async def test_unknown_action_is_not_implemented(link: Link) -> None:
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs")
    link.attach(None, cs)
    await link.to_b.send(b'[2,"u1","FlyToTheMoon",{}]')
    answer = await asyncio.wait_for(link.to_a.queue.get(), 1)
    assert decoded(answer)[:3] == [4, "u1", "NotImplemented"]


async def test_known_action_without_handler_is_not_supported(link: Link) -> None:
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs")
    link.attach(None, cs)
    await link.to_b.send(b'[2,"u1","Reset",{"type":"Soft"}]')
    answer = decoded(await asyncio.wait_for(link.to_a.queue.get(), 1))
    assert answer[:3] == [4, "u1", "NotSupported"]


@pytest.mark.parametrize(
    ("frame", "code", "path"),
    [
        (b'[2,"u1","Authorize",{}]', "ProtocolError", "$.idTag"),
        (b'[2,"u1","Authorize",{"idTag":5}]', "TypeConstraintViolation", "$.idTag"),
        (b'[2,"u1","Authorize",{"idTag":"x","y":1}]', "FormationViolation", "$.y"),
        (b'[2,"u1","Authorize",[]]', "FormationViolation", "$"),
        (
            b'[2,"u1","StatusNotification",{"connectorId":1,"errorCode":"Error","status":"Available"}]',
            "PropertyConstraintViolation",
            "$.errorCode",
        ),
    ],
)
async def test_invalid_payload_gets_the_right_callerror(
    link: Link, frame: bytes, code: str, path: str
) -> None:
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs")
    cs.on("Authorize")(lambda _: {"idTagInfo": {"status": "Accepted"}})
    cs.on("StatusNotification")(lambda _: {})
    link.attach(None, cs)
    await link.to_b.send(frame)
    answer = decoded(await asyncio.wait_for(link.to_a.queue.get(), 1))
    assert answer[:3] == [4, "u1", code]
    assert answer[4]["path"] == path
    assert path.rsplit(".", 1)[-1] in answer[3] or path == "$"


async def test_malformed_frames_answered_when_an_id_can_be_read(link: Link) -> None:
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs")
    link.attach(None, cs)
    await link.to_b.send(b"this is not json")
    await link.to_b.send(b'[9,"u0",{}]')
    await link.to_b.send(b'[2,"u2","Heartbeat"]')
    answer = decoded(await asyncio.wait_for(link.to_a.queue.get(), 1))
    assert answer[:3] == [4, "u2", "FormationViolation"]
    assert link.to_a.queue.empty()  # nothing was sent for the first two


async def test_handler_that_raises_gets_internal_error_and_session_survives(
    link: Link, caplog: pytest.LogCaptureFixture
) -> None:
    cp, cs = pair(link)
    calls = 0

    def heartbeat(_: m.HeartbeatRequest) -> m.HeartbeatResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database on fire")
        return m.HeartbeatResponse(current_time=NOW)

    cs.on("Heartbeat")(heartbeat)
    with pytest.raises(CallErrorReceived) as caught:
        await cp.call(m.HeartbeatRequest())
    assert caught.value.code is ErrorCode.INTERNAL_ERROR
    assert "database on fire" not in caught.value.description
    assert "handler for Heartbeat failed" in caplog.text
    assert (await cp.call(m.HeartbeatRequest())).current_time == NOW


async def test_handler_raising_ocpp_error_sends_that_error(link: Link) -> None:
    cp, cs = pair(link)

    def refuse(_: Any) -> None:
        raise PropertyConstraintViolation("connector 9 does not exist", {"connectorId": 9})

    cs.on("Heartbeat")(refuse)
    with pytest.raises(CallErrorReceived) as caught:
        await cp.call(m.HeartbeatRequest())
    error = caught.value
    assert error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert error.wire_code == "PropertyConstraintViolation"
    assert error.description == "connector 9 does not exist"
    assert error.details == {"connectorId": 9}


@pytest.mark.parametrize(
    "bad_response",
    [
        {"currentTime": "yesterday"},
        m.HeartbeatResponse(current_time=datetime(2026, 1, 1)),  # naive: invalid on the wire
        m.ResetResponse(status=ResetStatus.ACCEPTED),  # the wrong type
        None,
    ],
)
async def test_invalid_handler_response_is_never_sent(
    link: Link, bad_response: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cp, cs = pair(link)
    cs.on("Heartbeat")(lambda _: bad_response)
    with pytest.raises(CallErrorReceived) as caught:
        await cp.call(m.HeartbeatRequest())
    assert caught.value.code is ErrorCode.INTERNAL_ERROR
    assert all(decoded(frame)[0] != 3 for frame in link.to_b.sent)
    assert "invalid Heartbeat response not sent" in caplog.text


async def test_invalid_request_is_refused_before_sending(link: Link) -> None:
    cp, _ = pair(link)
    with pytest.raises(PayloadError) as caught:
        await cp.call(m.AuthorizeRequest(id_tag="x" * 21))
    assert caught.value.path == "$.idTag"
    assert link.to_a.sent == []


async def test_wrong_direction_call_is_refused(link: Link) -> None:
    cp, _ = pair(link)
    with pytest.raises(ValueError, match="does not send Reset"):
        await cp.call(m.ResetRequest(type=ResetType.HARD))


async def test_callerror_with_2_0_1_spelling_is_understood(link: Link) -> None:
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="cp")
    link.attach(cp, None)
    task = asyncio.create_task(cp.call(m.HeartbeatRequest()))
    sent = decoded(await asyncio.wait_for(link.to_b.queue.get(), 1))
    await link.to_a.send(msgspec.json.encode([4, sent[1], "FormatViolation", "bad", {}]))
    with pytest.raises(CallErrorReceived) as caught:
        await task
    assert caught.value.code is ErrorCode.FORMATION_VIOLATION
    assert caught.value.wire_code == "FormatViolation"


async def test_invalid_result_payload_fails_the_call(link: Link) -> None:
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="cp")
    link.attach(cp, None)
    task = asyncio.create_task(cp.call(m.HeartbeatRequest()))
    sent = decoded(await asyncio.wait_for(link.to_b.queue.get(), 1))
    await link.to_a.send(msgspec.json.encode([3, sent[1], {"currentTime": 5}]))
    with pytest.raises(PayloadError) as caught:
        await task
    assert caught.value.path == "$.currentTime"


async def test_result_in_seed_form_is_accepted_and_sent_where_configured(link: Link) -> None:
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="cp")
    cs = Session(
        Role.CENTRAL_SYSTEM, link.to_a.send, name="cs", options=Options(result_with_action=True)
    )
    cs.on("Heartbeat")(lambda _: m.HeartbeatResponse(current_time=NOW))
    link.attach(cp, cs)
    assert (await cp.call(m.HeartbeatRequest())).current_time == NOW
    result = decoded(link.to_a.sent[-1])
    assert result[0] == 3 and result[2] == "Heartbeat" and len(result) == 4


async def test_timeout_then_late_result_is_dropped(
    link: Link, caplog: pytest.LogCaptureFixture
) -> None:
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="cp", response_timeout=0.05)
    link.attach(cp, None)
    with pytest.raises(CallTimeout):
        await cp.call(m.HeartbeatRequest())
    late_id = decoded(link.to_b.sent[-1])[1]
    await link.to_a.send(msgspec.json.encode([3, late_id, {"currentTime": "2026-01-01T00:00:00Z"}]))
    await asyncio.sleep(0.01)
    assert "unknown or expired call" in caplog.text
    assert cp.connection.outstanding == 0


async def test_one_outstanding_call_at_a_time_in_order(link: Link) -> None:
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="cp")
    link.attach(cp, None)
    tasks = [asyncio.create_task(cp.call(m.AuthorizeRequest(id_tag=f"T{i}"))) for i in range(3)]
    for i in range(3):
        frame = decoded(await asyncio.wait_for(link.to_b.queue.get(), 1))
        assert frame[3] == {"idTag": f"T{i}"}
        await asyncio.sleep(0.01)
        assert link.to_b.queue.empty(), "a second call went out before the first was answered"
        await link.to_a.send(
            msgspec.json.encode([3, frame[1], {"idTagInfo": {"status": "Accepted"}}])
        )
    results = await asyncio.gather(*tasks)
    assert [r.id_tag_info.status for r in results] == ["Accepted"] * 3


async def test_directions_are_independent(link: Link) -> None:
    """The CS answers a call while its own call to the CP is outstanding, and the reverse."""
    cp, cs = pair(link)
    cs.on("BootNotification")(boot_response)

    @cp.on("Reset")
    async def reset(_: m.ResetRequest) -> m.ResetResponse:
        # While the CS waits for this answer, the CP's own call must go through.
        boot = await cp.call(
            m.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
        )
        assert boot.status is RegistrationStatus.ACCEPTED
        return m.ResetResponse(status=ResetStatus.ACCEPTED)

    result = await asyncio.wait_for(cs.call(m.ResetRequest(type=ResetType.SOFT)), 2)
    assert result.status is ResetStatus.ACCEPTED


async def test_incoming_calls_are_handled_in_order(link: Link) -> None:
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs")
    seen: list[str] = []

    async def authorize(request: m.AuthorizeRequest) -> dict[str, Any]:
        await asyncio.sleep(0.01 if request.id_tag == "A" else 0)
        seen.append(request.id_tag)
        return {"idTagInfo": {"status": "Accepted"}}

    cs.on("Authorize")(authorize)
    link.attach(None, cs)
    for i, tag in enumerate("ABC"):
        await link.to_b.send(msgspec.json.encode([2, f"u{i}", "Authorize", {"idTag": tag}]))
    answers = [decoded(await asyncio.wait_for(link.to_a.queue.get(), 1)) for _ in range(3)]
    assert seen == ["A", "B", "C"]
    assert [a[1] for a in answers] == ["u0", "u1", "u2"]


async def test_duplicate_in_flight_unique_id_is_refused(link: Link) -> None:
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs")
    release = asyncio.Event()

    async def authorize(_: m.AuthorizeRequest) -> dict[str, Any]:
        await release.wait()
        return {"idTagInfo": {"status": "Accepted"}}

    cs.on("Authorize")(authorize)
    link.attach(None, cs)
    await link.to_b.send(b'[2,"same","Authorize",{"idTag":"A"}]')
    await link.to_b.send(b'[2,"same","Authorize",{"idTag":"A"}]')
    first = decoded(await asyncio.wait_for(link.to_a.queue.get(), 1))
    assert first[:3] == [4, "same", "GenericError"]
    release.set()
    second = decoded(await asyncio.wait_for(link.to_a.queue.get(), 1))
    assert second[:2] == [3, "same"]
    # Answered, the id may be used again (an identical retransmission).
    await link.to_b.send(b'[2,"same","Authorize",{"idTag":"A"}]')
    third = decoded(await asyncio.wait_for(link.to_a.queue.get(), 1))
    assert third[:2] == [3, "same"]


async def test_unique_ids_are_unique_and_short(link: Link) -> None:
    cp, cs = pair(link)
    cs.on("Heartbeat")(lambda _: m.HeartbeatResponse(current_time=NOW))
    for _ in range(5):
        await cp.call(m.HeartbeatRequest())
    other = Session(Role.CHARGE_POINT, link.to_b.send, name="cp2")
    other_id, _ = other.connection.start_call(m.HeartbeatRequest())
    ids = [decoded(frame)[1] for frame in link.to_b.sent] + [other_id]
    assert len(set(ids)) == len(ids) == 6
    assert all(len(unique_id) <= 36 for unique_id in ids)


async def test_close_fails_waiting_calls(link: Link) -> None:
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="cp")
    link.attach(cp, None)
    task = asyncio.create_task(cp.call(m.HeartbeatRequest()))
    await asyncio.wait_for(link.to_b.queue.get(), 1)
    await cp.close()
    with pytest.raises(SessionClosed):
        await task
    with pytest.raises(SessionClosed):
        await cp.call(m.HeartbeatRequest())


async def test_observer_sees_every_frame_in_and_out(link: Link) -> None:
    frames: list[Traffic] = []
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs", observer=frames.append)
    cs.on("Heartbeat")(lambda _: m.HeartbeatResponse(current_time=NOW))
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="cp")
    link.attach(cp, cs)
    await cp.call(m.HeartbeatRequest())
    await link.to_b.send(b'[2,"bad","Heartbeat",{"x":1}]')
    await link.to_b.send(b'[3,"nobody",{}]')
    await asyncio.wait_for(link.to_a.queue.get(), 1)
    await asyncio.sleep(0.01)
    unique_id = decoded(frames[0].data)[1]
    seen = [(f.direction, f.message_type, f.unique_id, f.action) for f in frames]
    assert seen == [
        (Direction.IN, 2, unique_id, "Heartbeat"),
        (Direction.OUT, 3, unique_id, "Heartbeat"),
        (Direction.IN, 2, "bad", "Heartbeat"),
        (Direction.OUT, 4, "bad", "Heartbeat"),
        (Direction.IN, None, None, None),
    ]
    assert decoded(frames[1].data)[0] == 3


async def test_leniency_logs_what_it_let_through(
    link: Link, caplog: pytest.LogCaptureFixture
) -> None:
    from ocppd.protocol.leniency import Leniency, Rule

    leniency = Leniency({Rule.TIMESTAMPS_WITHOUT_ZONE})
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs", options=Options(leniency=leniency))
    received: list[m.StartTransactionRequest] = []

    def start(request: m.StartTransactionRequest) -> dict[str, Any]:
        received.append(request)
        return {"idTagInfo": {"status": "Accepted"}, "transactionId": 1}

    cs.on("StartTransaction")(start)
    link.attach(None, cs)
    frame = (
        b'[2,"u1","StartTransaction",{"connectorId":1,"idTag":"A","meterStart":0,'
        b'"timestamp":"2023-10-19T15:28:07"}]'
    )
    with caplog.at_level(logging.WARNING):
        await link.to_b.send(frame)
        answer = decoded(await asyncio.wait_for(link.to_a.queue.get(), 1))
    assert answer[0] == 3
    assert received[0].timestamp == datetime(2023, 10, 19, 15, 28, 7, tzinfo=UTC)
    assert leniency.counts[Rule.TIMESTAMPS_WITHOUT_ZONE] == 1
    assert "timestamps_without_zone at $.timestamp" in caplog.text


async def test_a_flood_of_calls_is_answered_in_order_with_bounded_queue(link: Link) -> None:
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs", max_queued_calls=5)
    cs.on("Heartbeat")(lambda _: m.HeartbeatResponse(current_time=NOW))
    link.attach(None, cs)
    for i in range(200):
        await link.to_b.send(msgspec.json.encode([2, f"u{i}", "Heartbeat", {}]))
    answers = [decoded(await asyncio.wait_for(link.to_a.queue.get(), 2)) for _ in range(200)]
    assert [a[1] for a in answers] == [f"u{i}" for i in range(200)]
    assert len(cs._calls) == 0


async def test_receive_waits_while_the_queue_is_full(link: Link) -> None:
    cs = Session(Role.CENTRAL_SYSTEM, link.to_a.send, name="cs", max_queued_calls=2)
    release = asyncio.Event()

    async def slow(_: m.HeartbeatRequest) -> m.HeartbeatResponse:
        await release.wait()
        return m.HeartbeatResponse(current_time=NOW)

    cs.on("Heartbeat")(slow)
    await cs.receive(b'[2,"a","Heartbeat",{}]')  # taken by the worker at once
    await asyncio.sleep(0)
    await cs.receive(b'[2,"b","Heartbeat",{}]')
    blocked = asyncio.create_task(cs.receive(b'[2,"c","Heartbeat",{}]'))
    await asyncio.sleep(0.02)
    assert not blocked.done(), "a full queue must stop the reader"
    release.set()
    await asyncio.wait_for(blocked, 1)


async def test_timeout_counts_the_wait_behind_earlier_calls(link: Link) -> None:
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="cp", response_timeout=5)
    link.attach(cp, None)
    first = asyncio.create_task(cp.call(m.HeartbeatRequest()))
    await asyncio.wait_for(link.to_b.queue.get(), 1)  # sent, never answered
    with pytest.raises(CallTimeout, match="not sent"):
        await cp.call(m.HeartbeatRequest(), timeout=0.05)
    assert link.to_b.queue.empty()
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)


class Recorder:
    """A transport's send that keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(decoded(data))


def heartbeat_frame(unique_id: str) -> str:
    return f'[2,"{unique_id}","Heartbeat",{{}}]'


def held_heartbeats(
    ran_in: list[asyncio.Task[Any] | None] | None = None,
) -> tuple[Recorder, Session, asyncio.Event]:
    """A central system answering Heartbeats in its reader, each held until the event is set
    (the task each ran in goes to `ran_in`)."""
    out = Recorder()
    cs = Session(Role.CENTRAL_SYSTEM, out.send, name="cs", answered_in_reader={"Heartbeat"})
    release = asyncio.Event()

    @cs.on("Heartbeat")
    async def heartbeat(_: m.HeartbeatRequest) -> m.HeartbeatResponse:
        if ran_in is not None:
            ran_in.append(asyncio.current_task())
        await release.wait()
        return m.HeartbeatResponse(current_time=NOW)

    return out, cs, release


async def test_a_call_answered_in_reader_is_answered_before_receive_returns() -> None:
    """No task of its own: the handler runs in the reader, which reads nothing more (returns
    from `receive`) until the answer is sent."""
    ran_in: list[asyncio.Task[Any] | None] = []
    out, cs, release = held_heartbeats(ran_in)

    reading = asyncio.ensure_future(cs.receive(heartbeat_frame("h1")))
    await asyncio.sleep(0.02)
    assert not reading.done() and out.sent == []
    release.set()
    await asyncio.wait_for(reading, 1)
    assert ran_in == [reading]
    assert [frame[:2] for frame in out.sent] == [[3, "h1"]]


async def test_a_call_answered_in_reader_waits_its_turn_behind_calls_being_answered() -> None:
    out = Recorder()
    cs = Session(Role.CENTRAL_SYSTEM, out.send, name="cs", answered_in_reader={"Heartbeat"})
    release = asyncio.Event()

    @cs.on("Authorize")
    async def authorize(_: m.AuthorizeRequest) -> dict[str, Any]:
        await release.wait()
        return {"idTagInfo": {"status": "Accepted"}}

    cs.on("Heartbeat")(lambda _: m.HeartbeatResponse(current_time=NOW))
    await asyncio.wait_for(cs.receive('[2,"a1","Authorize",{"idTag":"T"}]'), 1)
    # The Authorize is being answered in a task: the Heartbeat queues behind it.
    await asyncio.wait_for(cs.receive(heartbeat_frame("h1")), 1)
    assert out.sent == []
    release.set()
    for _ in range(100):
        if len(out.sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert [frame[1] for frame in out.sent] == ["a1", "h1"]


async def test_a_session_closed_while_a_handler_ran_sends_no_answer() -> None:
    out, cs, release = held_heartbeats()

    reading = asyncio.ensure_future(cs.receive(heartbeat_frame("h1")))
    await asyncio.sleep(0.02)
    await cs.close()
    release.set()
    await asyncio.wait_for(reading, 1)
    assert out.sent == []


async def test_while_a_call_of_ours_waits_calls_are_answered_in_a_task() -> None:
    """The peer's answer to our call must not wait behind a handler: the reader stays free."""
    out, cs, release = held_heartbeats()

    reset = asyncio.ensure_future(cs.call(m.ResetRequest(type=ResetType.SOFT)))
    await asyncio.sleep(0.01)
    [(_, unique_id, action, _)] = out.sent
    assert action == "Reset"
    await asyncio.wait_for(cs.receive(heartbeat_frame("h1")), 1)  # not answered in here
    await asyncio.wait_for(cs.receive(f'[3,"{unique_id}",{{"status":"Accepted"}}]'), 1)
    assert (await asyncio.wait_for(reset, 1)).status is ResetStatus.ACCEPTED
    release.set()
    for _ in range(100):
        if len(out.sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert out.sent[1][:2] == [3, "h1"]
