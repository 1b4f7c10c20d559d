"""The operators' audit log (admin only): who changed what, when, and the outcome, newest
first, a page at a time, filtered as the API filters it (`GET /api/v1/audit-log`).

Its link in the navigation is shown to admins only; the API refuses other roles (403), and
the page then shows that refusal instead of its filters and entries.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ocppd.web.forms import Field, filter_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import (
    badge,
    charge_point_href,
    dash,
    empty,
    esc,
    link,
    pretty_json,
    table,
    when,
)
from ocppd.web.paging import cursor_field, nothing_here, paging, with_cursor

LIST_LIMIT = 100
OUTCOMES = ("succeeded", "refused", "failed", "unknown")
OUTCOME_CLASSES = {
    "succeeded": "s-available",
    "refused": "s-unavailable",
    "failed": "s-faulted",
    "unknown": "s-unknown",
}
FILTERS = ("actor", "chargePointId", "operation", "outcome", "since", "until")
TEXT_FILTERS = (
    ("actor", "Token name or user", 255),
    ("chargePointId", "Charge point", 255),
    ("operation", "Operation", 64),
)


def page(query: Mapping[str, str]) -> str:
    fields = [
        *(
            Field(name, label, max_length=length, value=query.get(name, ""))
            for name, label, length in TEXT_FILTERS
        ),
        Field(
            "outcome",
            "Outcome",
            "select",
            options=OUTCOMES,
            value=query.get("outcome", "") if query.get("outcome") in OUTCOMES else "",
        ),
        Field("since", "At or after", "datetime", hint="UTC", value=_local(query.get("since"))),
        Field("until", "Before", "datetime", hint="UTC", value=_local(query.get("until"))),
        cursor_field(query),
    ]
    body = (
        "<h1>Audit log</h1>"
        '<p class="muted">What operators changed or tried to: API tokens and the command line '
        "(admins only).</p>"
        # Its filters are for admins only too: another role sees the API's refusal alone.
        + '<div data-needs="admin" hidden>'
        + filter_form("audit-filters", fields, "Filter the audit log")
        + "</div>"
        + region("live", "/fragments/audit-log", "", filters="audit-filters")
    )
    return layout("Audit log", body, "audit-log")


def _local(value: str | None) -> str:
    """An API time (`...Z`) as a datetime-local value; anything else is left out."""
    try:
        parsed = datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return ""
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")


def api_params(query: Mapping[str, str]) -> dict[str, str]:
    params = {k: query[k] for k in FILTERS if query.get(k) and k != "outcome"}
    if query.get("outcome") in OUTCOMES:
        params["outcome"] = query["outcome"]
    return with_cursor(params, query) | {"limit": str(LIST_LIMIT)}


def fragment(
    items: Sequence[Mapping[str, Any]],
    next_cursor: str | None = None,
    query: Mapping[str, str] | None = None,
) -> str:
    query = query or {}
    if not items:
        return empty("No entry matches.") + nothing_here("/audit-log", FILTERS, query)
    more = paging("/audit-log", FILTERS, len(items), next_cursor, query)
    headers = ("At", "Who", "What", "Charge point", "Outcome", "Request")
    return more + table("Audit log", headers, [_row(e) for e in items], classes="audit")


def _row(entry: Mapping[str, Any]) -> tuple[str, ...]:
    outcome = str(entry.get("outcome") or "unknown")
    status = entry.get("status")
    charge_point = entry.get("chargePointId")
    result = entry.get("result")
    return (
        when(entry.get("at")),
        f"<strong>{dash(entry.get('actor'))}</strong> "
        f'<span class="muted">{esc(entry.get("role"))}</span>',
        f"{esc(entry.get('operation'))}<br>"
        f'<code class="muted">{esc(entry.get("method"))} {esc(entry.get("route"))}</code>',
        link(charge_point_href(str(charge_point)), charge_point) if charge_point else dash(None),
        badge(outcome, OUTCOME_CLASSES.get(outcome, "s-unknown"))
        + (f" {esc(status)}" if status is not None else "")
        + (f"<br>{esc(result)}" if result else ""),
        f"<details><summary>Details</summary><pre>{esc(pretty_json(_details(entry)))}</pre>"
        "</details>",
    )


def _details(entry: Mapping[str, Any]) -> dict[str, Any]:
    shown = {"request": entry.get("request")}
    if entry.get("response") is not None:
        shown["response"] = entry["response"]
    if entry.get("tokenId") is not None:
        shown["tokenId"] = entry["tokenId"]
    return shown
