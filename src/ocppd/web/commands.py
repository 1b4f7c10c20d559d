"""The command forms of a charge point's page: every action a central system sends, grouped
as operators think of them (each group folds; Charging is open), each form built from the
action's request type (`forms`).

SendLocalList is offered as the API's `POST .../local-list`, which builds the list from the
id-tag store and picks its version (typing a list by hand is what a script does, through the
command route). GetDiagnostics, GetLog, UpdateFirmware and SignedUpdateFirmware are the API's
jobs (`web.jobs`: ocppd gives the charger its own upload place or image link, and signs the
image). GetConfiguration and ChangeConfiguration
live with the configuration table.
"""

from dataclasses import replace

from ocppd.protocol.actions import CORE, SECURITY
from ocppd.protocol.actions import Role as Sender
from ocppd.web import jobs
from ocppd.web.forms import Field, api_form, from_type, humanize
from ocppd.web.markup import esc, segment

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Charging",
        (
            "RemoteStartTransaction",
            "RemoteStopTransaction",
            "UnlockConnector",
            "ReserveNow",
            "CancelReservation",
        ),
    ),
    ("Availability", ("ChangeAvailability", "Reset", "TriggerMessage")),
    ("Authorization", ("ClearCache", "SendLocalList", "GetLocalListVersion")),
    ("Smart charging", ("SetChargingProfile", "ClearChargingProfile", "GetCompositeSchedule")),
    ("Maintenance", ("GetDiagnostics", "UpdateFirmware", "DataTransfer")),
    (
        "Security extension",
        (
            "ExtendedTriggerMessage",
            "GetInstalledCertificateIds",
            "InstallCertificate",
            "DeleteCertificate",
            "CertificateSigned",
            "GetLog",
            "SignedUpdateFirmware",
        ),
    ),
)
"""The security extension's commands go only to a charger whose securityExtension is on (the
API answers 409 otherwise)."""
CONFIGURATION_ACTIONS = ("GetConfiguration", "ChangeConfiguration")
SPECS = {**CORE, **SECURITY}

TITLES = {
    "RemoteStartTransaction": ("Remote start", "Start"),
    "RemoteStopTransaction": ("Remote stop", "Stop"),
    "UnlockConnector": ("Unlock connector", "Unlock"),
    "ReserveNow": ("Reserve", "Reserve"),
    "CancelReservation": ("Cancel reservation", "Cancel reservation"),
    "ChangeAvailability": ("Change availability", "Change"),
    "Reset": ("Reset", "Reset"),
    "TriggerMessage": ("Trigger message", "Trigger"),
    "ClearCache": ("Clear authorization cache", "Clear cache"),
    "SendLocalList": ("Send local list", "Send list"),
    "GetLocalListVersion": ("Local list version", "Ask version"),
    "SetChargingProfile": ("Set charging profile", "Set profile"),
    "ClearChargingProfile": ("Clear charging profiles", "Clear profiles"),
    "GetCompositeSchedule": ("Composite schedule", "Ask schedule"),
    "GetDiagnostics": ("Get diagnostics", "Request upload"),
    "UpdateFirmware": ("Update firmware", "Update"),
    "DataTransfer": ("Data transfer", "Send"),
    "GetConfiguration": ("Read configuration", "Read from charger"),
    "ChangeConfiguration": ("Change a key", "Change"),
    "ExtendedTriggerMessage": ("Extended trigger", "Trigger"),
    "GetInstalledCertificateIds": ("Installed certificates", "Ask"),
    "InstallCertificate": ("Install a root certificate", "Install"),
    "DeleteCertificate": ("Delete a certificate", "Delete"),
    "CertificateSigned": ("Send a signed certificate", "Send"),
}

LABELS = {
    "connectorId": "Connector",
    "idTag": "Id tag",
    "parentIdTag": "Parent id tag",
    "type": "Type",
    "requestedMessage": "Message",
    "csChargingProfiles": "Charging profile (JSON)",
    "chargingProfile": "Charging profile (JSON, TxProfile)",
    "duration": "Duration (s)",
    "retryInterval": "Retry interval (s)",
    "key": "Key",
    "value": "Value",
    "certificate": "Certificate (PEM)",
    "certificateChain": "Certificate chain (PEM)",
    "certificateHashData": "Certificate hash data (JSON)",
}

EXAMPLE_HASH_DATA = """{
  "hashAlgorithm": "SHA256",
  "issuerNameHash": "",
  "issuerKeyHash": "",
  "serialNumber": ""
}"""
PEM_FIELDS = ("certificate", "certificateChain")
"""Several lines: a text area whose text goes as it is (`json` would parse it)."""

EXAMPLE_PROFILE = """{
  "chargingProfileId": 1,
  "stackLevel": 0,
  "chargingProfilePurpose": "TxDefaultProfile",
  "chargingProfileKind": "Relative",
  "chargingSchedule": {
    "chargingRateUnit": "A",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]
  }
}"""

HINTS = {
    "connectorId": "0 = the whole charger",
    "key": "comma-separated; empty = all",
}

LOCAL_LIST_FIELDS = [
    Field(
        "updateType",
        "Update type",
        "select",
        options=("Full", "Differential"),
        hint="none = Differential when the charger acknowledged a list",
    )
]


def fields_of(action: str) -> list[Field]:
    """The form fields of `action`'s request, with the dashboard's labels and hints."""
    if action == "SendLocalList":
        return LOCAL_LIST_FIELDS
    fields = from_type(SPECS[action].request, LABELS)
    shown = []
    for field in fields:
        if field.kind == "datetime":
            field = replace(field, hint="UTC")
        elif field.name in ("location",):
            field = replace(field, kind="url")
        elif field.name == "connectorId" and action in ("ChangeAvailability", "ReserveNow"):
            field = replace(field, hint=HINTS["connectorId"])
        elif field.name == "key" and field.kind == "list":
            field = replace(field, hint=HINTS["key"])
        if field.name == "csChargingProfiles":
            field = replace(field, value=EXAMPLE_PROFILE)
        elif field.name == "certificateHashData":
            field = replace(field, value=EXAMPLE_HASH_DATA, hint="as GetInstalledCertificateIds")
        elif field.name in PEM_FIELDS:
            field = replace(field, kind="pem")
        shown.append(field)
    return shown


JOBS = {
    "GetDiagnostics": jobs.diagnostics_form,
    "UpdateFirmware": jobs.firmware_form,
    "GetLog": jobs.log_form,
    "SignedUpdateFirmware": jobs.signed_firmware_form,
}


def api_path(action: str) -> str:
    """The command's API path after `/charge-points/{id}`."""
    return "/local-list" if action == "SendLocalList" else f"/commands/{action}"


def command_form(charge_point_id: str, action: str, refresh: str = "") -> str:
    if action in JOBS:
        return JOBS[action](charge_point_id, refresh)
    title, button = TITLES[action]
    base = f"/charge-points/{segment(charge_point_id)}"
    api = base + api_path(action)
    return api_form(
        f"cmd-{action}",
        api,
        fields_of(action),
        button,
        title=title,
        refresh=refresh,
        confirm="Reset the charger?" if action == "Reset" else "",
    )


def one_click(
    form_id: str,
    charge_point_id: str,
    action: str,
    field: str,
    value: object,
    button: str,
    refresh: str = "",
) -> str:
    """A command whose request is one integer the page already knows, as a button."""
    return api_form(
        form_id,
        f"/charge-points/{segment(charge_point_id)}/commands/{action}",
        [Field(field, humanize(field), "int", hidden=True, value=str(value))],
        button,
        classes="inline-action",
        refresh=refresh,
    )


def commands_section(charge_point_id: str) -> str:
    groups = "\n".join(
        f'<details class="group"{" open" if i == 0 else ""}><summary>{esc(name)}</summary>'
        '<div class="commands">'
        + "".join(command_form(charge_point_id, action) for action in actions)
        + "</div></details>"
        for i, (name, actions) in enumerate(GROUPS)
    )
    return (
        '<section aria-labelledby="commands-title" data-needs="operator" hidden>'
        f'<h2 id="commands-title">Commands</h2>\n{FORCE}\n{groups}\n</section>'
    )


FORCE = (
    '<p class="force"><input type="checkbox" id="force-commands" data-force> '
    '<label for="force-commands">Force: send even though the charger\'s boot was Rejected'
    "</label> "
    '<span class="hint">OCPP 1.6 says a Rejected charger SHOULD NOT be sent commands; '
    "without this they are refused (409). It never lifts the ban on remote start and stop "
    "while its boot is Pending</span></p>"
)
"""Sends the section's forms with `?force=true` while checked (`static/app.js`)."""


def every_action() -> set[str]:
    """The actions a central system sends: each has a form (a check for the tests)."""
    return {name for name, spec in SPECS.items() if spec.sent_by(Sender.CENTRAL_SYSTEM)}
