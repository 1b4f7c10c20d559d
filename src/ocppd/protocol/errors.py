"""OCPP-J error codes and the exceptions that carry them.

An `OCPPError` is what a CALLERROR says: a code, a description and details. It is raised by
payload validation (the peer sent something wrong), by frame parsing, and by a handler that
wants to answer with a specific CALLERROR.
"""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """The complete OCPP 1.6 set. `OccurenceConstraintViolation` keeps the spec's typo."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


# Spellings of OCPP 2.0.1 that 1.6 peers send by mistake; accepted on input, never sent.
_RECEIVED_ALIASES = {
    "FormatViolation": ErrorCode.FORMATION_VIOLATION,
    "OccurrenceConstraintViolation": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "RpcFrameworkError": ErrorCode.GENERIC_ERROR,
    "MessageTypeNotSupported": ErrorCode.NOT_IMPLEMENTED,
}


def error_code_from_wire(code: str) -> ErrorCode | None:
    """The 1.6 error code a received CALLERROR means, or None when the code is unknown."""
    try:
        return ErrorCode(code)
    except ValueError:
        return _RECEIVED_ALIASES.get(code)


# How much of a value the peer sent a CALLERROR (and its log line) repeats: a field name or an
# action can be as long as the frame (1 MiB), and echoing it whole, in the description and
# again in the details, answered 100 KB with 400 KB.
ECHOED_CHARACTERS = 100


def shortened(text: str, limit: int = ECHOED_CHARACTERS) -> str:
    """`text`, or its first `limit` characters and how many it had."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


class OCPPError(Exception):
    """A failure that is answered, or was answered, with a CALLERROR."""

    code: ErrorCode = ErrorCode.GENERIC_ERROR

    def __init__(
        self,
        description: str = "",
        details: dict[str, Any] | None = None,
        *,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(description)
        if code is not None:
            self.code = code
        self.description = description
        self.details: dict[str, Any] = details if details is not None else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value}: {self.description!r})"


class ActionNotImplemented(OCPPError):
    code = ErrorCode.NOT_IMPLEMENTED


class ActionNotSupported(OCPPError):
    code = ErrorCode.NOT_SUPPORTED


class InternalError(OCPPError):
    code = ErrorCode.INTERNAL_ERROR


class ProtocolError(OCPPError):
    code = ErrorCode.PROTOCOL_ERROR


class SecurityError(OCPPError):
    code = ErrorCode.SECURITY_ERROR


class FormationViolation(OCPPError):
    code = ErrorCode.FORMATION_VIOLATION


class PropertyConstraintViolation(OCPPError):
    code = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


class OccurenceConstraintViolation(OCPPError):
    code = ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION


class TypeConstraintViolation(OCPPError):
    code = ErrorCode.TYPE_CONSTRAINT_VIOLATION


class GenericError(OCPPError):
    code = ErrorCode.GENERIC_ERROR


class PayloadError(OCPPError):
    """A payload that does not match its schema: names the field (a JSON path) and why."""

    def __init__(self, code: ErrorCode, reason: str, path: str) -> None:
        # What is answered and logged repeats a bounded part of what the peer sent; `path`
        # and `reason` stay whole for the leniency rules that find the field by them.
        shown_path, shown_reason = shortened(path), shortened(reason)
        where = f" at {shown_path}" if path and path != "$" else ""
        details = {"path": shown_path, "reason": shown_reason}
        super().__init__(f"{shown_reason}{where}", details, code=code)
        self.path = path
        self.reason = reason


class CallErrorReceived(OCPPError):
    """The peer answered our CALL with a CALLERROR. `wire_code` is the code exactly as sent."""

    def __init__(
        self, code: ErrorCode, description: str, details: dict[str, Any], wire_code: str
    ) -> None:
        super().__init__(description, details, code=code)
        self.wire_code = wire_code

    def __str__(self) -> str:
        return f"{self.wire_code}: {self.description}"
