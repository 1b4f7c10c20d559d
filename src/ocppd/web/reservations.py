"""Reservations: the list (by charge point, id tag, state), a form to reserve a connector
(ReserveNow to the chosen charge point), and Cancel on each active one (CancelReservation).

A reservation id is the operator's to choose (ReserveNow carries it); the form suggests one
more than the highest known, which the list's fragment reports.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ocppd.web import commands
from ocppd.web.forms import Field, api_form, filter_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import (
    badge,
    charge_point_href,
    dash,
    empty,
    esc,
    link,
    table,
    transaction_href,
    when,
)
from ocppd.web.paging import cursor_field, nothing_here, paging, with_cursor

STATES = ("Active", "Used", "Cancelled", "Expired", "NotReserved")
STATE_CLASSES = {
    "Active": "s-reserved",
    "Used": "s-available",
    "Cancelled": "s-unavailable",
    "Expired": "s-unavailable",
    "NotReserved": "s-faulted",
}
FILTERS = ("chargePointId", "idTag", "state")
LIST_LIMIT = 100
EVENTS = "CommandResult TransactionStarted"


def page(query: Mapping[str, str]) -> str:
    reserve = api_form(
        "reserve",
        "/charge-points/{chargePointId}/commands/ReserveNow",
        [Field("chargePointId", "Charge point", required=True), *commands.fields_of("ReserveNow")],
        "Reserve",
        title="Reserve a connector",
        refresh="live",
        reset=True,
    )
    filters = filter_form(
        "res-filters",
        [
            Field("chargePointId", "Charge point", value=query.get("chargePointId", "")),
            Field("idTag", "Id tag", max_length=20, value=query.get("idTag", "")),
            Field(
                "state",
                "State",
                "select",
                options=STATES,
                value=query.get("state", "") if query.get("state") in STATES else "",
            ),
            cursor_field(query),
        ],
        "Filter reservations",
    )
    body = (
        "<h1>Reservations</h1>"
        + reserve
        + filters
        + region("live", "/fragments/reservations", EVENTS, filters="res-filters")
    )
    return layout("Reservations", body, "reservations")


def api_params(query: Mapping[str, str]) -> dict[str, str]:
    filters = {k: query[k] for k in FILTERS if query.get(k)}
    return with_cursor(filters, query) | {"limit": str(LIST_LIMIT)}


def fragment(
    items: Sequence[Mapping[str, Any]],
    next_id: int,
    next_cursor: str | None = None,
    query: Mapping[str, str] | None = None,
) -> str:
    """A page of the list (links to the older ones and back to the newest, keeping the
    filters of `query`), and the next free reservation id for the form."""
    suggestion = f'<span hidden data-suggest="reserve-reservationId" data-value="{next_id}"></span>'
    if not items:
        back = nothing_here("/reservations", FILTERS, query or {})
        return suggestion + empty("No reservation matches.") + back
    rows = [_row(r) for r in items]
    headers = (
        "Reservation",
        "Charge point",
        "Connector",
        "Id tag",
        "Expiry",
        "State",
        "Charger's answer",
        "Transaction",
        "Actions",
    )
    more = paging("/reservations", FILTERS, len(items), next_cursor, query or {})
    return suggestion + more + table("Reservations", headers, rows)


def _row(r: Mapping[str, Any]) -> tuple[str, ...]:
    cp = str(r.get("chargePointId", ""))
    state = str(r.get("state", ""))
    cancel = ""
    if state == "Active":
        cancel = commands.one_click(
            f"cancel-{r.get('reservationId')}",
            cp,
            "CancelReservation",
            "reservationId",
            r.get("reservationId"),
            "Cancel",
            refresh="live",
        )
    tx = r.get("transactionId")
    return (
        f"#{esc(r.get('reservationId'))}",
        link(charge_point_href(cp), cp),
        esc(r.get("connectorId")),
        esc(r.get("idTag")),
        when(r.get("expiryDate")),
        badge(state, STATE_CLASSES.get(state, "s-unknown")),
        esc(r.get("status")),
        link(transaction_href(tx), f"#{tx}") if tx is not None else dash(None),
        cancel,
    )
