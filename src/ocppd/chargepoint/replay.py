"""Replay: a recorded exchange sent again as a station, with its timing or faster.

The recording is a JSON-lines file. Each line is either a bare OCPP-J frame
(`[2,"id","Action",{...}]`), or an object with the frame in `frame` or `payload` (as JSON or
as text) and, optionally, its time in `at` (RFC 3339) - the items of ocppd's message log
(`GET /api/v1/messages`: `{"direction": "in", "frame": [2,...], "at": "..."}`, or rows of
its table, `payload` as text) - or a whole page of that API (`{"items": [...]}`). When every
call has a time they are replayed in the order of time (the API lists newest first). Lines
that are not a CALL
of an action a charge point sends (results, errors, the central system's own calls) are
skipped: those come live from the central system, which the replaying station answers as a
simulated station would.

Frames go out exactly as recorded (unique ids, timestamps, even invalid payloads: a replay
is how a central system meets a charger's real traffic again), one at a time: the next is
sent once the previous is answered or `answer_timeout` has passed. With `speed` 2 the gaps
between recorded times are halved; `speed` None sends as fast as the answers come.
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from ocppd.protocol.actions import Registry, Role
from ocppd.rpc.session import Direction, Traffic
from ocppd.transport.client import ClientOptions, connect

_REGISTRY = Registry()


@dataclass(frozen=True)
class RecordedCall:
    text: str
    unique_id: str
    action: str
    at: datetime | None


@dataclass
class ReplayResult:
    sent: int = 0
    answered: Counter[str] = field(default_factory=Counter)
    """CALLRESULTs by action."""
    errors: Counter[str] = field(default_factory=Counter)
    """CALLERRORs by `<Action> <code>`, and `Timeout <Action>`."""
    skipped: int = 0
    """Lines of the recording that were not a charge point's call."""

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "answered": dict(sorted(self.answered.items())),
            "errors": dict(sorted(self.errors.items())),
            "skipped": self.skipped,
        }


class _Line(msgspec.Struct):
    frame: Any = None
    payload: Any = None
    at: datetime | None = None


def read_recording(path: Path | str) -> tuple[list[RecordedCall], int]:
    """The charge point's calls of a JSON-lines recording, and how many lines were skipped.
    ValueError when a line is not JSON."""
    calls: list[RecordedCall] = []
    skipped = 0
    with open(path, "rb") as file:
        for number, raw in enumerate(file, 1):
            if not raw.strip():
                continue
            try:
                line = msgspec.json.decode(raw)
                entries = line["items"] if isinstance(line, dict) and "items" in line else [line]
                for entry in entries:
                    call = _call_of(entry)
                    if call is None:
                        skipped += 1
                    else:
                        calls.append(call)
            except (msgspec.DecodeError, msgspec.ValidationError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
    if calls and all(call.at is not None for call in calls):
        calls.sort(key=lambda call: call.at)  # type: ignore[arg-type, return-value]
    return calls, skipped


def _call_of(entry: Any) -> RecordedCall | None:
    at = None
    if isinstance(entry, dict):
        record = msgspec.convert(entry, _Line, strict=False)
        entry = record.frame if record.frame is not None else record.payload
        at = record.at
    frame = msgspec.json.decode(entry) if isinstance(entry, str | bytes) else entry
    return _charge_point_call(frame, at)


def _charge_point_call(frame: Any, at: datetime | None) -> RecordedCall | None:
    if not (isinstance(frame, list) and len(frame) == 4 and frame[0] == 2):
        return None
    _, unique_id, action, _ = frame
    spec = _REGISTRY.get(action) if isinstance(action, str) else None
    if spec is None or not spec.sent_by(Role.CHARGE_POINT):
        return None
    text = msgspec.json.encode(frame).decode()
    return RecordedCall(text, str(unique_id), action, at)


async def replay(
    url: str,
    identity: str,
    calls: list[RecordedCall],
    *,
    speed: float | None = 1.0,
    options: ClientOptions | None = None,
    answer_timeout: float = 30.0,
) -> ReplayResult:
    """Connect as `identity` and send the recorded calls; what came back."""
    from ocppd.chargepoint.station import Station  # its answers to the CS's calls

    result = ReplayResult()
    waiting: dict[str, asyncio.Future[None]] = {}

    def observe(traffic: Traffic) -> None:
        if traffic.direction is not Direction.IN:
            return
        try:
            frame = msgspec.json.decode(traffic.data)
        except msgspec.DecodeError:
            return
        if not (isinstance(frame, list) and len(frame) >= 3 and frame[0] in (3, 4)):
            return
        future = waiting.get(str(frame[1]))
        if future is None or future.done():
            return
        action = pending_actions.get(str(frame[1]), "?")
        if frame[0] == 3:
            result.answered[action] += 1
        else:
            result.errors[f"{action} {frame[2]}"] += 1
        future.set_result(None)

    pending_actions: dict[str, str] = {}
    handlers = Station(url, identity).handlers
    client = await connect(url, identity, options=options, handlers=handlers, observer=observe)
    closed = asyncio.ensure_future(client.wait_closed())
    try:
        started = time.monotonic()
        first = next((c.at for c in calls if c.at is not None), None)
        for call in calls:
            if speed is not None and first is not None and call.at is not None:
                due = (call.at - first).total_seconds() / speed
                await asyncio.sleep(max(0.0, due - (time.monotonic() - started)))
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiting[call.unique_id] = future
            pending_actions[call.unique_id] = call.action
            await client.websocket.send(call.text, text=True)
            result.sent += 1
            try:
                async with asyncio.timeout(answer_timeout):
                    await asyncio.wait({future, closed}, return_when=asyncio.FIRST_COMPLETED)
            except TimeoutError:
                result.errors[f"Timeout {call.action}"] += 1
            waiting.pop(call.unique_id, None)
            if not client.open:
                result.errors["connection closed"] += 1
                break
    finally:
        closed.cancel()
        await client.close()
    return result
