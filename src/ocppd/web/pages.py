"""The dashboard's HTML: pure functions from the API's JSON to escaped markup.

Plain Python strings, no template engine: every value that comes from a charge point, an
operator or a URL goes through `esc` (text and attribute values alike, quotes included), and
the markup around it is constant. A page is a shell (layout, forms) rendered without data; the
data arrives in fragments that the page's script fetches with the operator's token.
"""

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import msgspec

STATIC_VERSION = "1"

CONNECTOR_STATUSES = (
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
)

STATES = {
    "": "All",
    "connected": "Connected",
    "disconnected": "Disconnected",
    "charging": "Charging",
    "faulted": "Faulted",
}

TRIGGERS = (
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
)


def esc(value: object) -> str:
    """Text or attribute value: `& < > " '` escaped; None is empty."""
    return "" if value is None else html.escape(str(value), quote=True)


def charge_point_href(charge_point_id: str) -> str:
    # Every character but unreserved ones encoded: a `/`, `?` or `#` in an identity stays
    # inside the path segment.
    return "/charge-points/" + quote(charge_point_id, safe="")


def layout(title: str, body: str, page: str, *, signed_in: bool = True, data: str = "") -> str:
    logout = '<button type="button" class="link" data-logout>Sign out</button>' if signed_in else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · ocppd</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css?v={STATIC_VERSION}">
<script src="/static/app.js?v={STATIC_VERSION}" defer></script>
</head>
<body data-page="{esc(page)}"{data}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/">ocppd</a>
<nav aria-label="Main"><a href="/">Charge points</a> {logout}</nav>
</header>
<main id="main" tabindex="-1">
{body}
</main>
<noscript><p class="notice">This dashboard needs JavaScript to call the API with your token.</p>
</noscript>
</body>
</html>
"""


def login_page() -> str:
    body = """<h1>Sign in</h1>
<form id="login" class="card narrow">
<p>Paste an API token (<code>ocppd token create --role operator</code>). It is kept in this
browser tab only (sessionStorage) and sent to the API as a bearer token.</p>
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required
 spellcheck="false" autofocus>
<button type="submit">Sign in</button>
<p id="login-error" class="error" role="alert"></p>
</form>"""
    return layout("Sign in", body, "login", signed_in=False)


def overview_page(query: str = "", state: str = "") -> str:
    options = "".join(
        f'<option value="{esc(value)}"{" selected" if value == state else ""}>{esc(label)}</option>'
        for value, label in STATES.items()
    )
    body = f"""<h1>Charge points</h1>
<form id="filters" class="filters" role="search" method="get" action="/">
<div><label for="q">Search</label>
<input id="q" name="q" type="search" value="{esc(query)}"
 placeholder="identity, vendor, model, firmware"></div>
<div><label for="state">Show</label>
<select id="state" name="state">{options}</select></div>
<button type="submit">Filter</button>
</form>
<div id="live" class="live" data-fragment="/fragments/overview" aria-live="polite"
 aria-busy="true"><p>Loading…</p></div>"""
    return layout("Charge points", body, "overview")


def charge_point_page(charge_point_id: str) -> str:
    fragment = "/fragments" + charge_point_href(charge_point_id)
    body = f"""<p class="crumbs"><a href="/">Charge points</a> /</p>
<h1 class="cp-id">{esc(charge_point_id)}</h1>
<div id="live" class="live" data-fragment="{esc(fragment)}" aria-busy="true"><p>Loading…</p>
</div>
<section aria-labelledby="commands-title">
<h2 id="commands-title">Commands</h2>
<div class="commands">
{_command_forms()}
</div>
<div class="card answer-card"><h3>Answer</h3>
<output id="answer" aria-live="polite">No command sent yet.</output></div>
</section>"""
    return layout(
        charge_point_id,
        body,
        "charge-point",
        data=f' data-charge-point-id="{esc(charge_point_id)}"',
    )


def _field(form: str, name: str, label: str, control: str) -> str:
    return f'<label for="{form}-{name}">{label}</label>{control}'


def _number(form: str, name: str, label: str, minimum: int, required: bool = True) -> str:
    req = " required" if required else ""
    return _field(
        form,
        name,
        label + ("" if required else " (optional)"),
        f'<input id="{form}-{name}" name="{name}" type="number" inputmode="numeric" '
        f'min="{minimum}" step="1"{req}>',
    )


def _select(form: str, name: str, label: str, values: Iterable[str]) -> str:
    options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
    return _field(form, name, label, f'<select id="{form}-{name}" name="{name}">{options}</select>')


def _command(action: str, title: str, fields: str, button: str) -> str:
    return (
        f'<form class="card command" data-command="{action}" aria-label="{title}">'
        f'<h3>{title}</h3>{fields}<button type="submit">{button}</button></form>'
    )


def _command_forms() -> str:
    return "\n".join(
        [
            _command("Reset", "Reset", _select("reset", "type", "Type", ["Soft", "Hard"]), "Reset"),
            _command(
                "UnlockConnector",
                "Unlock connector",
                _number("unlock", "connectorId", "Connector", 1),
                "Unlock",
            ),
            _command(
                "RemoteStartTransaction",
                "Remote start",
                _field(
                    "start",
                    "idTag",
                    "Id tag",
                    '<input id="start-idTag" name="idTag" maxlength="20" required '
                    'autocomplete="off">',
                )
                + _number("start", "connectorId", "Connector", 1, required=False),
                "Start",
            ),
            _command(
                "RemoteStopTransaction",
                "Remote stop",
                _number("stop", "transactionId", "Transaction id", 0),
                "Stop",
            ),
            _command(
                "ChangeAvailability",
                "Change availability",
                _number("availability", "connectorId", "Connector (0 = whole charger)", 0)
                + _select("availability", "type", "Availability", ["Operative", "Inoperative"]),
                "Change",
            ),
            _command(
                "TriggerMessage",
                "Trigger message",
                _select("trigger", "requestedMessage", "Message", TRIGGERS)
                + _number("trigger", "connectorId", "Connector", 1, required=False),
                "Trigger",
            ),
        ]
    )


# Fragments: the data, refreshed by polling (or, later, by the event stream).


def status_badge(status: str | None) -> str:
    known = status if status in CONNECTOR_STATUSES else "Unknown"
    return f'<span class="badge s-{known.lower()}">{esc(status or "Unknown")}</span>'


def connection_badge(connected: bool) -> str:
    if connected:
        return '<span class="badge online">Online</span>'
    return '<span class="badge offline">Offline</span>'


def when(value: str | None) -> str:
    """An RFC 3339 timestamp from the API, shown as `YYYY-MM-DD HH:MM:SS` in UTC."""
    if not value:
        return '<span class="muted">never</span>'
    shown = value.replace("T", " ").split(".")[0].removesuffix("Z").removesuffix("+00:00")
    return f'<time datetime="{esc(value)}">{esc(shown)} UTC</time>'


def is_charging(cp: Mapping[str, Any]) -> bool:
    return any(c.get("status") == "Charging" for c in cp.get("connectors") or [])


def is_faulted(cp: Mapping[str, Any]) -> bool:
    return any(c.get("status") == "Faulted" for c in cp.get("connectors") or [])


def matches(cp: Mapping[str, Any], query: str, state: str) -> bool:
    if state == "connected" and not cp.get("connected"):
        return False
    if state == "disconnected" and cp.get("connected"):
        return False
    if state == "charging" and not is_charging(cp):
        return False
    if state == "faulted" and not is_faulted(cp):
        return False
    if query:
        boot = cp.get("boot") or {}
        haystack = " ".join(
            str(v or "")
            for v in (
                cp.get("chargePointId"),
                boot.get("chargePointVendor"),
                boot.get("chargePointModel"),
                boot.get("firmwareVersion"),
            )
        ).casefold()
        return all(word in haystack for word in query.casefold().split())
    return True


def overview_fragment(
    charge_points: Sequence[Mapping[str, Any]], query: str = "", state: str = ""
) -> str:
    connected = sum(1 for cp in charge_points if cp.get("connected"))
    charging = sum(1 for cp in charge_points if is_charging(cp))
    faulted = sum(1 for cp in charge_points if is_faulted(cp))
    shown = [cp for cp in charge_points if matches(cp, query, state)]
    counts = f"""<dl class="counts">
<div><dt>Charge points</dt><dd id="count-all">{len(charge_points)}</dd></div>
<div><dt>Connected</dt><dd id="count-connected">{connected}</dd></div>
<div class="c-charging"><dt>Charging</dt><dd id="count-charging">{charging}</dd></div>
<div class="c-faulted"><dt>Faulted</dt><dd id="count-faulted">{faulted}</dd></div>
</dl>"""
    if not shown:
        what = "No charge point matches the filter." if charge_points else "No charge points yet."
        return counts + f'<p class="empty">{what}</p>'
    rows = "\n".join(_overview_row(cp) for cp in shown)
    return (
        counts
        + f"""<p class="muted">{len(shown)} shown</p>
<table class="cards">
<caption class="visually-hidden">Charge points</caption>
<thead><tr><th scope="col">Charge point</th><th scope="col">Connection</th>
<th scope="col">Connectors</th><th scope="col">Last heartbeat</th>
<th scope="col">Firmware</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>"""
    )


def _connectors_inline(connectors: Sequence[Mapping[str, Any]]) -> str:
    if not connectors:
        return '<span class="muted">none reported</span>'
    items = "".join(
        f'<li><span class="cn">#{esc(c.get("connectorId"))}</span> '
        f"{status_badge(c.get('status'))}</li>"
        for c in connectors
    )
    return f'<ul class="connectors">{items}</ul>'


def _overview_row(cp: Mapping[str, Any]) -> str:
    identity = str(cp.get("chargePointId", ""))
    boot = cp.get("boot") or {}
    firmware = boot.get("firmwareVersion")
    return (
        f'<tr data-charge-point-id="{esc(identity)}">'
        f'<th scope="row" data-label="Charge point"><a href="{esc(charge_point_href(identity))}">'
        f"{esc(identity)}</a></th>"
        f'<td data-label="Connection">{connection_badge(bool(cp.get("connected")))}</td>'
        f'<td data-label="Connectors">{_connectors_inline(cp.get("connectors") or [])}</td>'
        f'<td data-label="Last heartbeat">{when(cp.get("lastHeartbeat"))}</td>'
        f'<td data-label="Firmware">{esc(firmware) if firmware else "<span class=muted>-</span>"}'
        "</td></tr>"
    )


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


def charge_point_fragment(cp: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]) -> str:
    boot = cp.get("boot")
    if boot:
        details = "".join(
            f"<div><dt>{label}</dt><dd>{esc(boot.get(key)) or '-'}</dd></div>"
            for key, label in BOOT_FIELDS
        )
        details += f"<div><dt>Booted</dt><dd>{when(boot.get('timestamp'))}</dd></div>"
    else:
        details = "<div><dt>Boot</dt><dd>no BootNotification yet</dd></div>"
    state = f"""<section class="card" aria-labelledby="state-title">
<h2 id="state-title">State</h2>
<dl class="facts">
<div><dt>Connection</dt><dd id="connection">{connection_badge(bool(cp.get("connected")))}</dd></div>
<div><dt>Connected since</dt><dd>{when(cp.get("connectedAt"))}</dd></div>
<div><dt>Registration</dt><dd>{esc(cp.get("registrationStatus"))}</dd></div>
<div><dt>Last heartbeat</dt><dd>{when(cp.get("lastHeartbeat"))}</dd></div>
</dl>
</section>
<section class="card" aria-labelledby="boot-title">
<h2 id="boot-title">Boot details</h2>
<dl class="facts">{details}</dl>
</section>"""
    return state + _connectors_section(cp.get("connectors") or []) + _messages_section(messages)


def _connectors_section(connectors: Sequence[Mapping[str, Any]]) -> str:
    if not connectors:
        body = '<p class="empty">No StatusNotification yet.</p>'
    else:
        rows = "\n".join(
            f'<tr><th scope="row" data-label="Connector">{esc(c.get("connectorId"))}</th>'
            f'<td data-label="Status">{status_badge(c.get("status"))}</td>'
            f'<td data-label="Error">{esc(c.get("errorCode"))}</td>'
            f'<td data-label="Info">{esc(c.get("info")) or "-"}</td>'
            f'<td data-label="Since">{when(c.get("timestamp"))}</td></tr>'
            for c in connectors
        )
        body = f"""<table class="cards">
<thead><tr><th scope="col">Connector</th><th scope="col">Status</th><th scope="col">Error</th>
<th scope="col">Info</th><th scope="col">Since</th></tr></thead>
<tbody>
{rows}
</tbody></table>"""
    return f"""<section class="card" aria-labelledby="connectors-title">
<h2 id="connectors-title">Connectors</h2>
{body}
</section>"""


def pretty_json(value: Any) -> str:
    try:
        return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()
    except (TypeError, msgspec.EncodeError):
        return str(value)


MESSAGE_TYPES = {2: "CALL", 3: "RESULT", 4: "ERROR"}


def _messages_section(messages: Sequence[Mapping[str, Any]]) -> str:
    if not messages:
        body = '<p class="empty">No messages yet.</p>'
    else:
        items = "\n".join(
            f'<li class="msg {"in" if m.get("direction") == "in" else "out"}">'
            f'<details data-key="msg-{esc(m.get("id"))}"><summary>'
            f'<span class="dir">{"⇠ in" if m.get("direction") == "in" else "⇢ out"}</span> '
            f"<strong>{esc(m.get('action') or '?')}</strong> "
            f'<span class="mt">{esc(MESSAGE_TYPES.get(m.get("messageType") or 0, "unreadable"))}'
            f"</span> {when(m.get('at'))}</summary>"
            f"<pre>{esc(pretty_json(m.get('frame')))}</pre></details></li>"
            for m in messages
        )
        body = f'<ol class="log">{items}</ol>'
    return f"""<section class="card" aria-labelledby="log-title">
<h2 id="log-title">Recent messages</h2>
{body}
</section>"""


def problem_fragment(status: int, error: str) -> str:
    return f'<p class="error" role="alert">API answered {status}: {esc(error)}</p>'
