"""The OCPP 1.6J protocol, with no I/O: message types, frames, validation and errors."""

from ocppd.protocol.actions import CORE, SECURITY, ActionSpec, Registry, Role, spec_for_request
from ocppd.protocol.datatypes import *  # noqa: F403
from ocppd.protocol.enums import *  # noqa: F403
from ocppd.protocol.errors import (
    CallErrorReceived,
    ErrorCode,
    OCPPError,
    PayloadError,
)
from ocppd.protocol.frames import Call, CallError, CallResult, FrameError, parse_frame
from ocppd.protocol.messages import *  # noqa: F403
from ocppd.protocol.security import *  # noqa: F403
from ocppd.protocol.validation import PayloadCodec, codec_for

__all__ = [
    "CORE",
    "SECURITY",
    "ActionSpec",
    "Call",
    "CallError",
    "CallErrorReceived",
    "CallResult",
    "ErrorCode",
    "FrameError",
    "OCPPError",
    "PayloadCodec",
    "PayloadError",
    "Registry",
    "Role",
    "codec_for",
    "parse_frame",
    "spec_for_request",
]
