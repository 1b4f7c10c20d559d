"""What nodes say to each other on their channels (`ocppd:to:{node}`): requests, each with an
id and the channel to reply to, and replies. JSON through msgspec; a message that does not
decode is refused by `decode` (`Garbled`), never half-read.

A call's request and response travel as OCPP JSON (the wire form of their payloads), decoded
at the other end with the action's types. An exception the holder's call raised travels as
`RemoteError` and is rebuilt on the asking node as the same type (`error_from_wire`), so the
API answers a command sent through any node with the same status.
"""

from typing import Annotated, Any

import msgspec

from ocppd.csms.charging_profiles import ProfileRefused
from ocppd.csms.cluster import NoLeader, NotHeld, RemoteFailure, StaleFence
from ocppd.csms.local_list_limits import LocalListTooLong
from ocppd.csms.registration import CommandRefused
from ocppd.csms.reservations import ReservationRefused
from ocppd.protocol.actions import CORE, SECURITY, ActionSpec
from ocppd.protocol.enums import RegistrationStatus
from ocppd.protocol.errors import CallErrorReceived, ErrorCode, PayloadError
from ocppd.rpc.session import CallTimeout, SessionClosed


class Garbled(ValueError):
    """A message on a channel that is not one nodes send (another program, a corrupted or
    foreign message): dropped with a log line."""


class WireFence(msgspec.Struct, frozen=True):
    lease: str
    token: int


class Call(msgspec.Struct, tag="call", frozen=True):
    """Send `payload` (the request of `action`, as OCPP JSON) to a charge point held there."""

    id: str
    reply_to: str
    identity: str
    action: str
    payload: msgspec.Raw
    timeout: float | None
    force: bool = False
    fence: WireFence | None = None


class Replaced(msgspec.Struct, tag="replaced", frozen=True):
    """A newer connection of `identity` is held by the asker: close the one whose owners
    entry was `entry`, wait for what it was doing to end, then reply."""

    id: str
    reply_to: str
    identity: str
    entry: str


class Disconnect(msgspec.Struct, tag="disconnect", frozen=True):
    id: str
    reply_to: str
    identity: str
    code: Annotated[int, msgspec.Meta(ge=1000, le=4999)]
    """A close code a WebSocket may send: any other makes the close itself fail, after the
    connection was forgotten."""
    reason: Annotated[str, msgspec.Meta(max_length=30)]
    """A close reason may take 123 bytes: 30 characters of up to 4 bytes each fit (ocppd's
    own: "charge point deleted")."""


class Registration(msgspec.Struct, tag="registration", frozen=True):
    """The registration status of a charge point held there changed (its next boot's answer)."""

    id: str
    reply_to: str
    identity: str
    status: RegistrationStatus


class Lead(msgspec.Struct, tag="lead", frozen=True):
    """For the leader of the singleton `lease`: do `what` with `argument` (the site controller:
    reload a site, show its allocation), reply with the result as JSON."""

    id: str
    reply_to: str
    lease: str
    what: str
    argument: str


class RemoteError(msgspec.Struct, frozen=True):
    type: str
    message: str
    code: str = ""
    wire_code: str = ""
    details: dict[str, Any] = {}
    path: str = ""
    reason: str = ""


class Reply(msgspec.Struct, tag="reply", frozen=True):
    """The answer to request `id`: `result` (a call's response as OCPP JSON, or true/false)
    or `error`."""

    id: str
    result: msgspec.Raw
    """`null` with an error."""
    error: RemoteError | None = None


Request = Call | Replaced | Disconnect | Registration | Lead
Message = Request | Reply

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Message] = msgspec.json.Decoder(Message)


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes | str) -> Message:
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise Garbled(str(error)) from None


SPECS: dict[str, ActionSpec] = {**CORE, **SECURITY}


def spec(action: str) -> ActionSpec:
    found = SPECS.get(action)
    if found is None:
        raise Garbled(f"unknown action {action!r}")
    return found


def decode_payload(raw: bytes, type_: type[Any]) -> Any:
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.DecodeError as error:
        raise Garbled(f"{type_.__name__}: {error}") from None


# Exceptions a call raises that the API names with a status (api/sending.py), by type name.
_BY_MESSAGE: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        CommandRefused,
        ProfileRefused,
        LocalListTooLong,
        ReservationRefused,
        SessionClosed,
        CallTimeout,
        StaleFence,
        NoLeader,
    )
}


def error_to_wire(error: BaseException) -> RemoteError:
    name = type(error).__name__
    if isinstance(error, NotHeld):  # the central system's NotConnected too
        return RemoteError("NotHeld", str(error))
    if isinstance(error, CallErrorReceived):
        return RemoteError(
            name, error.description, error.code.value, error.wire_code, error.details
        )
    if isinstance(error, PayloadError):
        return RemoteError(name, str(error), error.code.value, path=error.path, reason=error.reason)
    if name in _BY_MESSAGE and isinstance(error, _BY_MESSAGE[name]):
        return RemoteError(name, str(error))
    return RemoteError("RemoteFailure", f"{name}: {error}")


def error_from_wire(remote: RemoteError) -> Exception:
    if remote.type == "NotHeld":
        return NotHeld(remote.message)
    if remote.type == "CallErrorReceived":
        return CallErrorReceived(
            _code(remote.code), remote.message, dict(remote.details), remote.wire_code
        )
    if remote.type == "PayloadError":
        return PayloadError(_code(remote.code), remote.reason, remote.path)
    cls = _BY_MESSAGE.get(remote.type)
    if cls is not None:
        return cls(remote.message)
    return RemoteFailure(remote.message)


def _code(value: str) -> ErrorCode:
    try:
        return ErrorCode(value)
    except ValueError:
        return ErrorCode.GENERIC_ERROR
