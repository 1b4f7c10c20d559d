"""The action registry: the 28 core and 11 security actions, their senders and types."""

import msgspec.inspect as mi
import pytest

from ocppd.protocol import messages as m
from ocppd.protocol import security as s
from ocppd.protocol.actions import CORE, SECURITY, ActionSpec, Registry, Role, spec_for_request
from ocppd.protocol.enums import ResetType
from ocppd.protocol.fields import Payload
from ocppd.protocol.validation import codec_for

CP_CORE = {
    "Authorize",
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
}
CS_CORE = {
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
}
CP_SECURITY = {
    "LogStatusNotification",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
}
CS_SECURITY = {
    "CertificateSigned",
    "DeleteCertificate",
    "ExtendedTriggerMessage",
    "GetInstalledCertificateIds",
    "GetLog",
    "InstallCertificate",
    "SignedUpdateFirmware",
}


def test_core_has_exactly_the_28_actions() -> None:
    assert len(CORE) == 28
    assert set(CORE) == CP_CORE | CS_CORE | {"DataTransfer"}


def test_security_has_exactly_the_11_actions() -> None:
    assert len(SECURITY) == 11
    assert set(SECURITY) == CP_SECURITY | CS_SECURITY
    assert not set(SECURITY) & set(CORE)


@pytest.mark.parametrize("name", sorted(CP_CORE | CP_SECURITY))
def test_charge_point_actions(name: str) -> None:
    spec = (CORE | SECURITY)[name]
    assert spec.senders == {Role.CHARGE_POINT}
    assert spec.sent_by(Role.CHARGE_POINT)
    assert not spec.sent_by(Role.CENTRAL_SYSTEM)


@pytest.mark.parametrize("name", sorted(CS_CORE | CS_SECURITY))
def test_central_system_actions(name: str) -> None:
    spec = (CORE | SECURITY)[name]
    assert spec.senders == {Role.CENTRAL_SYSTEM}
    assert spec.sent_by(Role.CENTRAL_SYSTEM)
    assert not spec.sent_by(Role.CHARGE_POINT)


def test_data_transfer_is_sent_by_both_sides() -> None:
    spec = CORE["DataTransfer"]
    assert spec.senders == {Role.CHARGE_POINT, Role.CENTRAL_SYSTEM}
    assert spec.sent_by(Role.CHARGE_POINT)
    assert spec.sent_by(Role.CENTRAL_SYSTEM)


def test_role_values_are_the_ocpp_names() -> None:
    assert Role.CHARGE_POINT == "ChargePoint"
    assert Role.CENTRAL_SYSTEM == "CentralSystem"


@pytest.mark.parametrize("name", sorted(CORE))
def test_core_types_are_named_after_the_action(name: str) -> None:
    spec = CORE[name]
    assert spec.name == name
    assert spec.request is getattr(m, f"{name}Request")
    assert spec.response is getattr(m, f"{name}Response")
    assert spec.request.__name__ == f"{name}Request"
    assert spec.response.__name__ == f"{name}Response"
    assert spec.extension is None


@pytest.mark.parametrize("name", sorted(SECURITY))
def test_security_types_are_named_after_the_action(name: str) -> None:
    spec = SECURITY[name]
    assert spec.name == name
    assert spec.request is getattr(s, f"{name}Request")
    assert spec.response is getattr(s, f"{name}Response")
    assert spec.extension == "security"


def test_every_payload_type_belongs_to_exactly_one_action() -> None:
    specs = [*CORE.values(), *SECURITY.values()]
    types = [t for spec in specs for t in (spec.request, spec.response)]
    assert len(types) == len(set(types)) == 78


def test_specs_carry_the_shared_codecs() -> None:
    spec = CORE["StartTransaction"]
    assert spec.request_codec is codec_for(m.StartTransactionRequest)
    assert spec.response_codec is codec_for(m.StartTransactionResponse)
    assert spec.request_codec.type is m.StartTransactionRequest


def test_spec_is_frozen() -> None:
    spec = CORE["Heartbeat"]
    with pytest.raises(AttributeError):
        spec.name = "Ping"  # type: ignore[misc]


# Registry


def test_default_registry_holds_the_core_only() -> None:
    registry = Registry()
    assert len(registry) == 28
    assert registry.extensions == frozenset()
    assert "BootNotification" in registry
    assert "SignCertificate" not in registry
    assert registry.get("SignCertificate") is None
    assert registry.get("BootNotification") is CORE["BootNotification"]
    assert {spec.name for spec in registry} == set(CORE)


def test_security_registry_holds_39_actions() -> None:
    registry = Registry({"security"})
    assert len(registry) == 39
    assert registry.extensions == {"security"}
    assert registry.get("SignCertificate") is SECURITY["SignCertificate"]
    assert registry.get("Heartbeat") is CORE["Heartbeat"]
    assert all(isinstance(spec, ActionSpec) for spec in registry)
    assert {spec.name for spec in registry} == set(CORE) | set(SECURITY)


def test_registry_lookup_is_case_sensitive() -> None:
    registry = Registry()
    assert "heartbeat" not in registry
    assert registry.get("heartbeat") is None
    assert registry.get("") is None


def test_registries_do_not_share_state() -> None:
    Registry({"security"})
    assert len(Registry()) == 28
    assert len(CORE) == 28


@pytest.mark.parametrize("extensions", [{"smartcharging"}, {"security", "Security"}, {""}])
def test_unknown_extension_is_refused(extensions: set[str]) -> None:
    with pytest.raises(ValueError, match="Unknown extensions"):
        Registry(extensions)


# spec_for_request


def _instance(payload_type: type[Payload]) -> Payload:
    """An instance of a payload type; the values do not matter to spec_for_request."""
    info = mi.type_info(payload_type)
    assert isinstance(info, mi.StructType)
    required = {
        f.name: [] if isinstance(f.type, mi.ListType) else None for f in info.fields if f.required
    }
    return payload_type(**required)


def test_spec_for_request() -> None:
    assert spec_for_request(m.HeartbeatRequest()) is CORE["Heartbeat"]
    assert spec_for_request(m.ResetRequest(type=ResetType.HARD)) is CORE["Reset"]
    assert (
        spec_for_request(s.SignCertificateRequest(csr="-----BEGIN CERTIFICATE REQUEST-----"))
        is SECURITY["SignCertificate"]
    )


@pytest.mark.parametrize("name", sorted(CORE))
def test_spec_for_request_finds_every_core_action(name: str) -> None:
    spec = CORE[name]
    request = _instance(spec.request)
    assert spec_for_request(request) is spec


def test_spec_for_request_refuses_a_response() -> None:
    with pytest.raises(TypeError, match="HeartbeatResponse is not an OCPP request payload"):
        spec_for_request(_instance(m.HeartbeatResponse))
