"""The registry of actions: who sends each one, and its request and response types.

`CORE` holds the 28 actions of OCPP 1.6; `SECURITY` the 11 of the security extension,
which a connection enables explicitly (`Registry(extensions={"security"})`).
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ocppd.protocol import messages as m
from ocppd.protocol import security as s
from ocppd.protocol.enums import Action, SecurityAction
from ocppd.protocol.fields import Payload
from ocppd.protocol.validation import PayloadCodec, codec_for


class Role(StrEnum):
    CHARGE_POINT = "ChargePoint"
    CENTRAL_SYSTEM = "CentralSystem"


CP = frozenset({Role.CHARGE_POINT})
CS = frozenset({Role.CENTRAL_SYSTEM})
BOTH = CP | CS


@dataclass(frozen=True)
class ActionSpec:
    name: str
    senders: frozenset[Role]
    request: type[Payload]
    response: type[Payload]
    extension: str | None = None
    request_codec: PayloadCodec[Any] = field(init=False, repr=False, compare=False)
    response_codec: PayloadCodec[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "request_codec", codec_for(self.request))
        object.__setattr__(self, "response_codec", codec_for(self.response))

    def sent_by(self, role: Role) -> bool:
        return role in self.senders


def _spec(
    name: str, senders: frozenset[Role], module: Any, extension: str | None = None
) -> ActionSpec:
    request = getattr(module, f"{name}Request")
    response = getattr(module, f"{name}Response")
    return ActionSpec(name, senders, request, response, extension)


_CORE_SENDERS = {
    Action.AUTHORIZE: CP,
    Action.BOOT_NOTIFICATION: CP,
    Action.CANCEL_RESERVATION: CS,
    Action.CHANGE_AVAILABILITY: CS,
    Action.CHANGE_CONFIGURATION: CS,
    Action.CLEAR_CACHE: CS,
    Action.CLEAR_CHARGING_PROFILE: CS,
    Action.DATA_TRANSFER: BOTH,
    Action.DIAGNOSTICS_STATUS_NOTIFICATION: CP,
    Action.FIRMWARE_STATUS_NOTIFICATION: CP,
    Action.GET_COMPOSITE_SCHEDULE: CS,
    Action.GET_CONFIGURATION: CS,
    Action.GET_DIAGNOSTICS: CS,
    Action.GET_LOCAL_LIST_VERSION: CS,
    Action.HEARTBEAT: CP,
    Action.METER_VALUES: CP,
    Action.REMOTE_START_TRANSACTION: CS,
    Action.REMOTE_STOP_TRANSACTION: CS,
    Action.RESERVE_NOW: CS,
    Action.RESET: CS,
    Action.SEND_LOCAL_LIST: CS,
    Action.SET_CHARGING_PROFILE: CS,
    Action.START_TRANSACTION: CP,
    Action.STATUS_NOTIFICATION: CP,
    Action.STOP_TRANSACTION: CP,
    Action.TRIGGER_MESSAGE: CS,
    Action.UNLOCK_CONNECTOR: CS,
    Action.UPDATE_FIRMWARE: CS,
}

_SECURITY_SENDERS = {
    SecurityAction.CERTIFICATE_SIGNED: CS,
    SecurityAction.DELETE_CERTIFICATE: CS,
    SecurityAction.EXTENDED_TRIGGER_MESSAGE: CS,
    SecurityAction.GET_INSTALLED_CERTIFICATE_IDS: CS,
    SecurityAction.GET_LOG: CS,
    SecurityAction.INSTALL_CERTIFICATE: CS,
    SecurityAction.LOG_STATUS_NOTIFICATION: CP,
    SecurityAction.SECURITY_EVENT_NOTIFICATION: CP,
    SecurityAction.SIGN_CERTIFICATE: CP,
    SecurityAction.SIGNED_FIRMWARE_STATUS_NOTIFICATION: CP,
    SecurityAction.SIGNED_UPDATE_FIRMWARE: CS,
}

CORE: dict[str, ActionSpec] = {
    action.value: _spec(action.value, senders, m) for action, senders in _CORE_SENDERS.items()
}
SECURITY: dict[str, ActionSpec] = {
    action.value: _spec(action.value, senders, s, "security")
    for action, senders in _SECURITY_SENDERS.items()
}
EXTENSIONS: dict[str, dict[str, ActionSpec]] = {"security": SECURITY}

_BY_REQUEST_TYPE: dict[type[Payload], ActionSpec] = {
    spec.request: spec for spec in (*CORE.values(), *SECURITY.values())
}


def spec_for_request(request: Payload) -> ActionSpec:
    """The action whose request `request` is (e.g. a HeartbeatRequest -> Heartbeat)."""
    try:
        return _BY_REQUEST_TYPE[type(request)]
    except KeyError:
        raise TypeError(f"{type(request).__name__} is not an OCPP request payload") from None


class Registry:
    """The actions one connection speaks: the core set plus the extensions it enables."""

    def __init__(self, extensions: frozenset[str] | set[str] = frozenset()) -> None:
        unknown = set(extensions) - EXTENSIONS.keys()
        if unknown:
            raise ValueError(f"Unknown extensions: {sorted(unknown)}")
        self.extensions = frozenset(extensions)
        self._actions = dict(CORE)
        for name in sorted(self.extensions):
            self._actions.update(EXTENSIONS[name])

    def get(self, action: str) -> ActionSpec | None:
        return self._actions.get(action)

    def __contains__(self, action: object) -> bool:
        return action in self._actions

    def __iter__(self) -> Any:
        return iter(self._actions.values())

    def __len__(self) -> int:
        return len(self._actions)
