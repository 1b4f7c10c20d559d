"""The overview: every charge point with its connection, connectors (colour-coded, status
written out), last heartbeat and firmware; counts; search and a state filter.

Identities are in natural order (`natural_sort`), a page of LIST_LIMIT at a time; the page's
cursor is the last identity shown. An offline charger's connectors are shown as unknown
(grey), their last known status in a tooltip: nobody knows what they are doing now. For the
same reason only connected chargers count as charging or faulted.
"""

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

from ocppd.web import bulk
from ocppd.web.forms import Field, filter_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import (
    charge_point_href,
    connection_badge,
    connector_badge,
    dash,
    esc,
    when,
)
from ocppd.web.natural_sort import identity_key, natural_key
from ocppd.web.paging import A_TO_Z, CURSOR, cursor_field, nothing_here, paging

LIST_LIMIT = 50
FILTERS = ("q", "state")

STATES = {
    "connected": "Connected",
    "disconnected": "Disconnected",
    "charging": "Charging",
    "faulted": "Faulted",
}
EVENTS = "Connected Disconnected BootNotification StatusNotification"
"""A fleet's overview reads every charge point: refreshed at most every 2 s, however many
events a busy fleet sends (bench/dashboard.py)."""


def overview_page(query: str = "", state: str = "", cursor: str = "") -> str:
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
        cursor_field({CURSOR: cursor}),
    ]
    body = (
        "<h1>Charge points</h1>"
        + filter_form("filters", fields, "Filter charge points")
        + bulk.section()
        + region("live", "/fragments/overview", EVENTS, filters="filters", throttle_ms=2000)
    )
    return layout("Charge points", body, "overview")


def is_charging(cp: Mapping[str, Any]) -> bool:
    return _any_connector(cp, "Charging")


def is_faulted(cp: Mapping[str, Any]) -> bool:
    return _any_connector(cp, "Faulted")


def _any_connector(cp: Mapping[str, Any], status: str) -> bool:
    """Whether a connector of a connected charger is in `status` (an offline one's are not
    known)."""
    connectors = cp.get("connectors") or []
    return bool(cp.get("connected")) and any(c.get("status") == status for c in connectors)


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
    charge_points: Sequence[Mapping[str, Any]], query: str = "", state: str = "", cursor: str = ""
) -> str:
    """Counts of the whole fleet, then the page after `cursor` (an identity) of those that
    match."""
    connected = sum(1 for cp in charge_points if cp.get("connected"))
    charging = sum(1 for cp in charge_points if is_charging(cp))
    faulted = sum(1 for cp in charge_points if is_faulted(cp))
    counts = f"""<dl class="counts">
<div><dt>Charge points</dt><dd id="count-all">{len(charge_points)}</dd></div>
<div><dt>Connected</dt><dd id="count-connected">{connected}</dd></div>
<div class="c-charging"><dt>Charging</dt><dd id="count-charging">{charging}</dd></div>
<div class="c-faulted"><dt>Faulted</dt><dd id="count-faulted">{faulted}</dd></div>
</dl>"""
    keyed = sorted(
        (
            (identity_key(str(cp.get("chargePointId", ""))), cp)
            for cp in charge_points
            if matches(cp, query, state)
        ),
        key=lambda pair: pair[0],
    )
    first = bisect_right(keyed, natural_key(cursor), key=lambda pair: pair[0]) if cursor else 0
    after = [cp for _, cp in keyed[first:]]
    shown = after[:LIST_LIMIT]
    kept = {"q": query, "state": state, CURSOR: cursor}
    if not shown:
        what = "No charge point matches the filter." if charge_points else "No charge points yet."
        return counts + f'<p class="empty">{what}</p>' + nothing_here("/", FILTERS, kept, A_TO_Z)
    following = str(shown[-1].get("chargePointId")) if len(after) > LIST_LIMIT else None
    rows = "\n".join(_overview_row(cp) for cp in shown)
    return (
        counts
        + paging("/", FILTERS, len(shown), following, kept, A_TO_Z)
        + f"""<table class="cards">
<caption class="visually-hidden">Charge points</caption>
<thead><tr>{bulk.select_all()}<th scope="col">Charge point</th><th scope="col">Connection</th>
<th scope="col">Connectors</th><th scope="col">Last heartbeat</th>
<th scope="col">Firmware</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>"""
    )


def connectors_inline(connectors: Sequence[Mapping[str, Any]], connected: bool) -> str:
    if not connectors:
        return '<span class="muted">none reported</span>'
    items = "".join(
        f'<li><span class="cn">#{esc(c.get("connectorId"))}</span> '
        f"{connector_badge(c, connected)}</li>"
        for c in connectors
    )
    return f'<ul class="connectors">{items}</ul>'


def _overview_row(cp: Mapping[str, Any]) -> str:
    identity = str(cp.get("chargePointId", ""))
    boot = cp.get("boot") or {}
    connected = bool(cp.get("connected"))
    connectors = connectors_inline(cp.get("connectors") or [], connected)
    return (
        f'<tr data-charge-point-id="{esc(identity)}">{bulk.checkbox(identity)}'
        f'<th scope="row" data-label="Charge point"><a href="{esc(charge_point_href(identity))}">'
        f"{esc(identity)}</a></th>"
        f'<td data-label="Connection">{connection_badge(connected)}</td>'
        f'<td data-label="Connectors">{connectors}</td>'
        f'<td data-label="Last heartbeat">{when(cp.get("lastHeartbeat"))}</td>'
        f'<td data-label="Firmware">{dash(boot.get("firmwareVersion"))}</td></tr>'
    )
