"""The OCPP-J RPC state machine of one connection, with no I/O (in the manner of h11).

It is fed received text (`receive`) and returns an event; it builds the text to send
(`start_call`, `result`, `error`). It matches results to calls by unique id, validates every
payload in and out, and answers on its own what needs no application: frames that are not
frames, unknown actions, actions nobody handles, invalid payloads, duplicate in-flight ids.
"""

import itertools
import secrets
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ocppd.protocol.actions import ActionSpec, Registry, Role, spec_for_request
from ocppd.protocol.errors import (
    CallErrorReceived,
    ErrorCode,
    OCPPError,
    PayloadError,
    error_code_from_wire,
    shortened,
)
from ocppd.protocol.fields import Payload
from ocppd.protocol.frames import (
    Call,
    CallError,
    CallResult,
    FrameError,
    MessageType,
    encode_call,
    encode_error,
    encode_result,
    parse_frame,
)
from ocppd.protocol.leniency import Leniency, Repair

# Events returned by `RpcConnection.receive`.


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A valid CALL for an action that has a handler: answer it with `result` or `error`."""

    unique_id: str
    spec: ActionSpec
    payload: Any
    repairs: list[Repair]


@dataclass(frozen=True, slots=True)
class Reply:
    """Something the connection answered by itself (a CALLERROR); send `data`, log `error`."""

    data: bytes
    error: OCPPError
    action: str | None = None
    unique_id: str | None = None


@dataclass(frozen=True, slots=True)
class IncomingResult:
    """The valid result of our outstanding call `unique_id`."""

    unique_id: str
    spec: ActionSpec
    payload: Any
    repairs: list[Repair]


@dataclass(frozen=True, slots=True)
class IncomingError:
    """Our call `unique_id` failed: a CALLERROR came back, or its result was invalid."""

    unique_id: str
    spec: ActionSpec
    error: OCPPError


@dataclass(frozen=True, slots=True)
class Dropped:
    """Received text that gets no answer (a late result, an unknown message type); log it."""

    reason: str


Event = IncomingCall | Reply | IncomingResult | IncomingError | Dropped


@dataclass
class Options:
    """How a connection speaks. The defaults are strict OCPP-J."""

    result_with_action: bool = False
    """Send CALLRESULTs in the seed document's form `[3, id, action, payload]`."""
    check_direction: bool = True
    """Refuse to send a CALL that the local role does not send in OCPP 1.6."""
    leniency: Leniency = field(default_factory=Leniency)
    """Tolerance rules for received payloads (none by default)."""


class UniqueIds:
    """Unique ids that stay unique across reconnects: a random prefix per instance + a counter."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)

    def __next__(self) -> str:
        return f"{self._prefix}-{next(self._counter):x}"


_default_ids = UniqueIds()


class RpcConnection:
    """One side of an OCPP-J connection: `role` is who we are."""

    def __init__(
        self,
        role: Role,
        handled: Set[str],
        registry: Registry | None = None,
        options: Options | None = None,
        ids: UniqueIds | None = None,
    ) -> None:
        self.role = role
        self.handled = handled
        self.registry = registry if registry is not None else Registry()
        self.options = options if options is not None else Options()
        self._ids = ids if ids is not None else _default_ids
        self._outgoing: dict[str, ActionSpec] = {}
        self._incoming: dict[str, ActionSpec] = {}

    # Receiving

    def receive(self, data: bytes | str) -> Event:
        try:
            frame = parse_frame(data)
        except FrameError as exc:
            if exc.answerable and exc.unique_id is not None:
                data = encode_error(exc.unique_id, exc.code, exc.description)
                return Reply(data, exc, unique_id=exc.unique_id)
            return self._unreadable_answer(exc) or Dropped(f"{exc.description}: {_preview(data)}")
        if isinstance(frame, Call):
            return self._receive_call(frame)
        if isinstance(frame, CallResult):
            return self._receive_result(frame)
        return self._receive_error(frame)

    def _receive_call(self, call: Call) -> Event:
        unique_id = call.unique_id
        spec = self.registry.get(call.action)
        if spec is None:
            return self._refuse(
                unique_id,
                ErrorCode.NOT_IMPLEMENTED,
                f"Unknown action {shortened(call.action)!r}",
                call.action,
            )
        if call.action not in self.handled:
            return self._refuse(
                unique_id,
                ErrorCode.NOT_SUPPORTED,
                f"Action {call.action} is not supported",
                call.action,
            )
        if unique_id in self._incoming:
            return self._refuse(
                unique_id,
                ErrorCode.GENERIC_ERROR,
                f"Unique id {unique_id!r} belongs to a call still being processed",
                call.action,
            )
        try:
            payload, repairs = self.options.leniency.decode(spec.request_codec, call.payload)
        except PayloadError as exc:
            data = encode_error(unique_id, exc.code, exc.description, exc.details)
            return Reply(data, exc, call.action, unique_id)
        self._incoming[unique_id] = spec
        return IncomingCall(unique_id, spec, payload, repairs)

    def _refuse(self, unique_id: str, code: ErrorCode, description: str, action: str) -> Reply:
        error = OCPPError(description, code=code)
        return Reply(encode_error(unique_id, code, description), error, action, unique_id)

    def _unreadable_answer(self, exc: FrameError) -> IncomingError | None:
        """The failure of our call whose answer names it but is no frame (not JSON, a lone
        surrogate, too deep, the wrong shape): its caller learns it now, as of an invalid
        payload, instead of at its timeout (30 s, then "no answer")."""
        answer = (MessageType.CALLRESULT, MessageType.CALLERROR)
        if exc.unique_id is None or exc.message_type not in answer:
            return None
        spec = self._outgoing.pop(exc.unique_id, None)
        if spec is None:
            return None
        return IncomingError(exc.unique_id, spec, PayloadError(exc.code, exc.description, "$"))

    def _receive_result(self, result: CallResult) -> Event:
        spec = self._outgoing.pop(result.unique_id, None)
        if spec is None:
            return Dropped(f"CALLRESULT for unknown or expired call {result.unique_id!r}")
        try:
            payload, repairs = self.options.leniency.decode(spec.response_codec, result.payload)
        except PayloadError as exc:
            return IncomingError(result.unique_id, spec, exc)
        return IncomingResult(result.unique_id, spec, payload, repairs)

    def _receive_error(self, error: CallError) -> Event:
        spec = self._outgoing.pop(error.unique_id, None)
        if spec is None:
            return Dropped(f"CALLERROR for unknown or expired call {error.unique_id!r}")
        code = error_code_from_wire(error.error_code) or ErrorCode.GENERIC_ERROR
        received = CallErrorReceived(
            code, error.error_description, error.error_details, error.error_code
        )
        return IncomingError(error.unique_id, spec, received)

    # Sending

    def start_call(self, request: Payload) -> tuple[str, bytes]:
        """(unique id, frame) for a new CALL; PayloadError if `request` is invalid."""
        spec = spec_for_request(request)
        if spec.name not in self.registry:
            raise ValueError(f"Action {spec.name} is not enabled on this connection")
        if self.options.check_direction and not spec.sent_by(self.role):
            raise ValueError(f"A {self.role.value} does not send {spec.name}")
        payload = spec.request_codec.encode(request)
        unique_id = next(self._ids)
        self._outgoing[unique_id] = spec
        return unique_id, encode_call(unique_id, spec.name, payload)

    def forget_call(self, unique_id: str) -> None:
        """Our call timed out or was cancelled: a result that comes later is dropped."""
        self._outgoing.pop(unique_id, None)

    def result(self, unique_id: str, response: Payload | dict[str, Any]) -> bytes:
        """The CALLRESULT answering incoming call `unique_id`.

        A response of the wrong type or that is invalid is never sent: PayloadError or
        TypeError is raised and the call stays open, to be answered with `error`.
        """
        spec = self._incoming[unique_id]
        if isinstance(response, dict):
            response = spec.response_codec.convert(response)
        elif type(response) is not spec.response:
            raise TypeError(
                f"{spec.name} must be answered with {spec.response.__name__}, "
                f"not {type(response).__name__}"
            )
        payload = spec.response_codec.encode(response)
        del self._incoming[unique_id]
        action = spec.name if self.options.result_with_action else msgspec.UNSET
        return encode_result(unique_id, payload, action)

    def error(self, unique_id: str, error: OCPPError) -> bytes:
        """The CALLERROR answering incoming call `unique_id`."""
        self._incoming.pop(unique_id, None)
        return encode_error(unique_id, error.code, error.description, error.details)

    @property
    def outstanding(self) -> int:
        """How many of our calls await an answer."""
        return len(self._outgoing)


def _preview(data: bytes | str, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = [
    "Dropped",
    "Event",
    "IncomingCall",
    "IncomingError",
    "IncomingResult",
    "Options",
    "Reply",
    "RpcConnection",
    "UniqueIds",
]
