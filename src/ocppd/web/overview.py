"""The overview: every charge point with its connection, connectors (colour-coded, status
written out), last heartbeat and firmware; counts; search and a state filter."""

from collections.abc import Mapping, Sequence
from typing import Any

from ocppd.web.forms import Field, filter_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import (
    charge_point_href,
    connection_badge,
    dash,
    esc,
    status_badge,
    when,
)

STATES = {
    "connected": "Connected",
    "disconnected": "Disconnected",
    "charging": "Charging",
    "faulted": "Faulted",
}
EVENTS = "Connected Disconnected BootNotification StatusNotification"
"""A fleet's overview reads every charge point: refreshed at most every 2 s, however many
events a busy fleet sends (bench/dashboard.py)."""


def overview_page(query: str = "", state: str = "") -> str:
    fields = [
        Field("q", "Search", value=query, hint="identity, vendor, model, firmware"),
        Field(
            "state",
            "Show",
            "select",
            options=tuple(STATES),
            labels=tuple(STATES.items()),
            value=state if state in STATES else "",
        ),
    ]
    body = (
        "<h1>Charge points</h1>"
        + filter_form("filters", fields, "Filter charge points")
        + region("live", "/fragments/overview", EVENTS, filters="filters", throttle_ms=2000)
    )
    return layout("Charge points", body, "overview")


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


def connectors_inline(connectors: Sequence[Mapping[str, Any]]) -> str:
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
    return (
        f'<tr data-charge-point-id="{esc(identity)}">'
        f'<th scope="row" data-label="Charge point"><a href="{esc(charge_point_href(identity))}">'
        f"{esc(identity)}</a></th>"
        f'<td data-label="Connection">{connection_badge(bool(cp.get("connected")))}</td>'
        f'<td data-label="Connectors">{connectors_inline(cp.get("connectors") or [])}</td>'
        f'<td data-label="Last heartbeat">{when(cp.get("lastHeartbeat"))}</td>'
        f'<td data-label="Firmware">{dash(boot.get("firmwareVersion"))}</td></tr>'
    )
