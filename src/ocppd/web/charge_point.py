"""A charge point's page: its state, boot details and connectors, the transactions running on
it with their latest meter readings, its security settings (profile and extension: shown to
all, changed by an admin), the command forms, the configuration table (each writable key
editable, sent as ChangeConfiguration) and its message log (`message_log`).

The running transactions' readings are the last MeterValues group of each (all measurands,
as the charger sent them); the page refreshes on every event of this charge point.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ocppd.protocol.actions import CORE, SECURITY
from ocppd.web import commands, jobs
from ocppd.web.forms import Field, api_form, filter_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import (
    badge,
    charge_point_href,
    connection_badge,
    connector_badge,
    dash,
    empty,
    esc,
    facts,
    kwh,
    link,
    section,
    segment,
    table,
    transaction_href,
    when,
)
from ocppd.web.paging import CURSOR, cursor_field

BOOT_FIELDS = (
    ("chargePointVendor", "Vendor"),
    ("chargePointModel", "Model"),
    ("chargePointSerialNumber", "Serial number"),
    ("chargeBoxSerialNumber", "Charge box serial"),
    ("firmwareVersion", "Firmware"),
    ("iccid", "ICCID"),
    ("imsi", "IMSI"),
    ("meterType", "Meter type"),
    ("meterSerialNumber", "Meter serial"),
)
CONFIGURATION_EVENTS = "CommandResult BootNotification"
SECURITY_EVENTS = "SecurityEvent CommandResult"
"""A security event, or an answer (GetInstalledCertificateIds, DeleteCertificate)."""


def fragment_base(charge_point_id: str) -> str:
    return "/fragments" + charge_point_href(charge_point_id)


def charge_point_page(
    charge_point_id: str, action: str = "", direction: str = "", cursor: str = ""
) -> str:
    base = fragment_base(charge_point_id)
    read = commands.command_form(charge_point_id, "GetConfiguration", refresh="configuration")
    change = commands.command_form(charge_point_id, "ChangeConfiguration", refresh="configuration")
    log_filters = filter_form(
        "log-filters",
        [
            Field(
                "action",
                "Action",
                "select",
                options=tuple(sorted({*CORE, *SECURITY})),
                value=action,
            ),
            Field(
                "direction",
                "Direction",
                "select",
                options=("in", "out"),
                labels=(("in", "From the charger"), ("out", "To the charger")),
                value=direction,
            ),
            cursor_field({CURSOR: cursor}),
        ],
        "Filter the message log",
    )
    body = f"""<p class="crumbs"><a href="/">Charge points</a> /</p>
<h1 class="cp-id">{esc(charge_point_id)}</h1>
<nav class="related" aria-label="Related">
<a href="{esc("/transactions?chargePointId=" + segment(charge_point_id))}">Its transactions</a>
<a href="{esc("/reservations?chargePointId=" + segment(charge_point_id))}">Its reservations</a>
<a href="{esc(charge_point_href(charge_point_id) + "/smart-charging")}">Smart charging</a>
<a href="{esc(charge_point_href(charge_point_id) + "/jobs")}">Diagnostics and firmware</a>
</nav>
{region("live", base, "*")}
{security_section(charge_point_id)}
<section class="card" aria-labelledby="security-events-title">
<h2 id="security-events-title">Security events and certificates</h2>
{region("security", base + "/security", SECURITY_EVENTS)}
</section>
{commands.commands_section(charge_point_id)}
<section class="card" aria-labelledby="configuration-title">
<h2 id="configuration-title">Configuration</h2>
<div class="commands">{read}{change}</div>
{region("configuration", base + "/configuration", CONFIGURATION_EVENTS)}
</section>
<section class="card" aria-labelledby="log-title">
<h2 id="log-title">Message log</h2>
{log_filters}
{region("messages", base + "/messages", "*", filters="log-filters")}
</section>"""
    return layout(
        charge_point_id,
        body,
        "charge-point",
        data=f' data-charge-point-id="{esc(charge_point_id)}"',
    )


PROFILES = (
    ("0", "0: no security"),
    ("1", "1: Basic auth"),
    ("2", "2: TLS, Basic auth"),
    ("3", "3: TLS, client certificate"),
)


def profile_label(cp: Mapping[str, Any]) -> str:
    return esc(dict(PROFILES).get(str(cp.get("securityProfile")), cp.get("securityProfile")))


def security_section(charge_point_id: str) -> str:
    """The form that changes the security settings (admin: the API's PATCH); what is left at
    "(unchanged)" stays as it is."""
    fields = [
        Field(
            "securityProfile",
            "Security profile",
            "select",
            options=tuple(v for v, _ in PROFILES),
            labels=PROFILES,
            blank="(unchanged)",
            typed="int",
            hint="the lowest its connections may use; a lower one is recorded",
        ),
        Field(
            "securityExtension",
            "Security extension",
            "select",
            options=("true", "false"),
            labels=(("true", "on"), ("false", "off")),
            blank="(unchanged)",
            typed="json",
        ),
        # Profiles 1 and 2 (and an upgrade to 2) need it; without it here the dashboard's
        # upgrade stopped at "set one first" with nowhere to set it.
        Field(
            "authorizationKey",
            "AuthorizationKey",
            "secret",
            max_length=255,
            hint="the charger's Basic auth password; empty = unchanged",
        ),
    ]
    form = api_form(
        "security-settings",
        f"/charge-points/{segment(charge_point_id)}",
        fields,
        "Save security settings",
        method="PATCH",
        needs="admin",
        refresh="live",
    )
    upgrade = api_form(
        "security-upgrade-form",
        f"/charge-points/{segment(charge_point_id)}/security-upgrade",
        [
            Field(
                "profile",
                "Raise to profile",
                "select",
                required=True,
                options=("2", "3"),
                labels=PROFILES[2:],
                typed="int",
                hint="installs ocppd's root certificate, (3) has its certificate signed, "
                "changes SecurityProfile, waits for the reconnection",
            )
        ],
        "Start the security upgrade",
        confirm="Raise this charger's security profile? It reconnects on the new profile.",
        refresh="security-upgrade",
    )
    base = fragment_base(charge_point_id)
    return f"""<section class="card" aria-labelledby="security-title">
<h2 id="security-title">Security</h2>
<div class="commands">{form}{upgrade}</div>
<h3>Security upgrade</h3>
{region("security-upgrade", base + "/security-upgrade", "SecurityUpgrade")}
</section>"""


def security_upgrade_fragment(upgrade: Mapping[str, Any] | None) -> str:
    """The latest security upgrade of the charger, step by step."""
    if not upgrade:
        return empty("No security upgrade yet.")
    summary = facts(
        [
            (
                "Upgrade",
                f"profile {esc(upgrade.get('previous'))} to {esc(upgrade.get('profile'))}",
            ),
            ("Status", f'<span id="security-upgrade-status">{_step_status(upgrade)}</span>'),
            ("Started", when(upgrade.get("startedAt"))),
            # Not "never" while it runs or a step waits: a dash until it happens.
            ("Ended", _at(upgrade.get("endedAt"))),
        ]
    )
    rows = [
        (
            esc(step.get("name")),
            _step_status(step),
            _at(step.get("at")),
            dash(step.get("detail")),
        )
        for step in upgrade.get("steps") or []
    ]
    steps = table("Security upgrade steps", ("Step", "Status", "Time", "Detail"), rows, "words")
    return summary + f'<div class="scroll">{steps}</div>'


STEP_CLASSES = {
    "done": "s-available",
    "succeeded": "s-available",
    "running": "s-preparing",
    "failed": "s-faulted",
}
"""A step's (or the upgrade's) status as a coloured badge: a failure stands out; pending and
skipped are grey."""


def _at(value: str | None) -> str:
    return when(value) if value else dash(None)


def _step_status(item: Mapping[str, Any]) -> str:
    status = str(item.get("status"))
    return badge(status, STEP_CLASSES.get(status, "s-unknown"))


def charge_point_fragment(cp: Mapping[str, Any], running: Sequence[Mapping[str, Any]] = ()) -> str:
    """State, boot details, connectors; `running`: its active transactions (details)."""
    state = facts(
        [
            (
                "Connection",
                f'<span id="connection">{connection_badge(bool(cp.get("connected")))}</span>',
            ),
            ("Connected since", when(cp.get("connectedAt"))),
            ("Registration", esc(cp.get("registrationStatus"))),
            ("Security profile", f'<span id="security-profile">{profile_label(cp)}</span>'),
            (
                "Security extension",
                f'<span id="security-extension">{"on" if cp.get("securityExtension") else "off"}'
                "</span>",
            ),
            (
                "File transport",
                f'<span id="file-transport">{jobs.transport_label(cp)}</span>',
            ),
            (
                "AuthorizationKey",
                f'<span id="authorization-key">{"set" if cp.get("basicAuth") else "none"}</span>',
            ),
            ("Last heartbeat", when(cp.get("lastHeartbeat"))),
        ]
    )
    boot = cp.get("boot")
    if boot:
        details = facts(
            [(label, dash(boot.get(key))) for key, label in BOOT_FIELDS]
            + [("Booted", when(boot.get("timestamp")))]
        )
    else:
        details = empty("No BootNotification yet.")
    return (
        section("state", "State", state)
        + section("boot", "Boot details", details)
        + _connectors_section(cp.get("connectors") or [], bool(cp.get("connected")))
        + section("running", "Current transactions", _running(running))
    )


def _connectors_section(connectors: Sequence[Mapping[str, Any]], connected: bool) -> str:
    if not connectors:
        return section("connectors", "Connectors", empty("No StatusNotification yet."))
    rows = [
        (
            esc(c.get("connectorId")),
            connector_badge(c, connected),
            esc(c.get("errorCode")),
            dash(c.get("info")),
            when(c.get("timestamp")),
        )
        for c in connectors
    ]
    return section(
        "connectors",
        "Connectors",
        table("Connectors", ("Connector", "Status", "Error", "Info", "Since"), rows),
    )


def _running(running: Sequence[Mapping[str, Any]]) -> str:
    if not running:
        return empty("No transaction running.")
    return "\n".join(_transaction_now(t) for t in running)


def latest_readings(meter_values: Sequence[Mapping[str, Any]]) -> tuple[str | None, list[Any]]:
    """The timestamp and sampled values of the newest MeterValues group."""
    if not meter_values:
        return None, []
    last = meter_values[-1]
    return last.get("timestamp"), list(last.get("sampledValue") or [])


def _transaction_now(t: Mapping[str, Any]) -> str:
    at, samples = latest_readings(t.get("meterValues") or [])
    summary = facts(
        [
            (
                "Transaction",
                link(transaction_href(t.get("transactionId")), f"#{t.get('transactionId')}"),
            ),
            ("Connector", esc(t.get("connectorId"))),
            ("Id tag", esc(t.get("idTag"))),
            ("Started", when(t.get("startedAt"))),
            ("Energy so far", f'<span class="energy">{kwh(t.get("energyWh"))}</span>'),
            ("Last reading", when(at)),
        ]
    )
    if not samples:
        return summary + empty("No meter values yet.")
    rows = [
        (
            esc(s.get("measurand")) + (f" ({esc(s.get('phase'))})" if s.get("phase") else ""),
            f"{esc(s.get('value'))} {esc(s.get('unit'))}",
            esc(s.get("context")),
        )
        for s in samples
    ]
    readings = table("Latest meter readings", ("Measurand", "Value", "Context"), rows)
    return f'<div class="running" data-transaction-id="{esc(t.get("transactionId"))}">' + (
        summary + readings + "</div>"
    )


def configuration_fragment(charge_point_id: str, configuration: Mapping[str, Any]) -> str:
    keys = configuration.get("configurationKey") or []
    unknown = configuration.get("unknownKey") or []
    if not keys and not unknown:
        return empty("Not read yet: press Read from charger.")
    api = f"/charge-points/{segment(charge_point_id)}/commands/ChangeConfiguration"
    rows = [_configuration_row(api, i, k) for i, k in enumerate(keys)]
    body = table("Configuration", ("Key", "Value", "Access", "Updated"), rows)
    if unknown:
        body += "<p>Unknown to the charger: " + ", ".join(esc(k) for k in unknown) + "</p>"
    return body


def _configuration_row(api: str, index: int, item: Mapping[str, Any]) -> tuple[str, ...]:
    key = str(item.get("key", ""))
    value = item.get("value")
    pending = (
        ' <span class="badge pending">after reboot</span>' if item.get("rebootRequired") else ""
    )
    if item.get("readonly"):
        cell = dash(value)
        access = '<span class="nowrap">read-only</span>'
    else:
        fields = [
            Field("key", "Key", hidden=True, value=key),
            Field(
                "value",
                f"New value of {key}",
                required=True,
                max_length=500,
                value="" if value is None else str(value),
            ),
        ]
        cell = f'<span class="value" data-needs-not="operator">{dash(value)}</span>' + api_form(
            f"cfg-{index}", api, fields, "Save", classes="inline", refresh="configuration"
        )
        access = '<span class="nowrap">writable</span>'
    return (esc(key), cell + pending, access, when(item.get("updatedAt")))
