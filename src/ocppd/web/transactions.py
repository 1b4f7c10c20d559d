"""Transactions: the list (filters by charge point, id tag, running or stopped, time) and a
transaction's page with its power and energy over time, its readings, and a CSV export.

The charts use phase-less readings of Power.Active.Import (W or kW; a unit other than kW is
taken as W, since the spec's default unit, Wh, cannot be meant for power) and of
Energy.Active.Import.Register (Wh or kWh), shown as energy delivered since meterStart. When a
charger reports no power, power is derived from consecutive energy readings (plotted at the
end of each interval). The list shows LIST_LIMIT matches at a time, newest first, with a link
to the older ones (the API's cursor, carried in the page's URL and its filter form).

Over the power curve of a running transaction, the limit in force is drawn (dashed): the
composite ocppd predicts on its connector from the profiles the charger holds (its TxProfile
included), in W, from the start to the latest reading. A finished transaction's TxProfile is
not kept, so its chart has no limit line (and says so).
"""

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from ocppd.web import commands
from ocppd.web.chart import Point, Step, line_chart
from ocppd.web.forms import Field, filter_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import (
    badge,
    charge_point_href,
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
from ocppd.web.paging import cursor_field, nothing_here, paging, with_cursor
from ocppd.web.smart_charging import steps

LIST_LIMIT = 100
TABLE_LIMIT = 1000
POWER = "Power.Active.Import"
ENERGY = "Energy.Active.Import.Register"
EVENTS = "TransactionStarted TransactionStopped TransactionReconciled MeterValues"
STATES = ("running", "stopped")
DETAIL_THROTTLE_MS = 3000
"""A long session's page reads all its meter values: redrawn at most every 3 s."""
FILTERS = ("chargePointId", "idTag", "state", "since", "until")
MAX_LIMITS_WINDOW = 31 * 86400
"""The composite's longest window (the API's)."""


def list_page(query: Mapping[str, str]) -> str:
    fields = [
        Field("chargePointId", "Charge point", value=query.get("chargePointId", "")),
        Field("idTag", "Id tag", max_length=20, value=query.get("idTag", "")),
        Field(
            "state",
            "State",
            "select",
            options=STATES,
            labels=(("running", "Running"), ("stopped", "Stopped")),
            value=query.get("state", ""),
        ),
        Field(
            "since",
            "Running at or after",
            "datetime",
            hint="UTC",
            value=_local(query.get("since", "")),
        ),
        Field(
            "until", "Started before", "datetime", hint="UTC", value=_local(query.get("until", ""))
        ),
        cursor_field(query),
    ]
    body = (
        "<h1>Transactions</h1>"
        + filter_form("tx-filters", fields, "Filter transactions")
        + region("live", "/fragments/transactions", EVENTS, filters="tx-filters")
    )
    return layout("Transactions", body, "transactions")


def _local(value: str) -> str:
    """An API time (`...Z`) as a datetime-local value; anything else is left out."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return ""


def api_params(query: Mapping[str, str]) -> dict[str, str]:
    """The list's filters as the API's query parameters."""
    params = {k: query[k] for k in FILTERS if query.get(k) and k != "state"}
    if query.get("state") in STATES:
        params["active"] = "true" if query["state"] == "running" else "false"
    return with_cursor(params, query) | {"limit": str(LIST_LIMIT)}


def list_fragment(
    items: Sequence[Mapping[str, Any]],
    next_cursor: str | None = None,
    query: Mapping[str, str] | None = None,
) -> str:
    """A page of the list; links to the older matches (`next_cursor`) and back to the newest,
    keeping the filters of `query`."""
    if not items:
        return empty("No transaction matches.") + nothing_here(
            "/transactions", FILTERS, query or {}
        )
    rows = [
        (
            link(transaction_href(t.get("transactionId")), f"#{t.get('transactionId')}"),
            link(charge_point_href(str(t.get("chargePointId"))), t.get("chargePointId")),
            esc(t.get("connectorId")),
            esc(t.get("idTag")),
            when(t.get("startedAt")),
            badge("Running", "s-charging") if t.get("active") else when(t.get("stoppedAt")),
            kwh(t.get("energyWh")),
            dash(t.get("reason")),
        )
        for t in items
    ]
    more = paging("/transactions", FILTERS, len(items), next_cursor, query or {})
    headers = (
        "Transaction",
        "Charge point",
        "Connector",
        "Id tag",
        "Started",
        "Stopped",
        "Energy",
        "Stop reason",
    )
    return more + table("Transactions", headers, rows)


def detail_page(transaction_id: int) -> str:
    live = region(
        "live",
        f"/fragments/transactions/{transaction_id}",
        EVENTS,
        extra=f' data-transaction-id="{transaction_id}"',
        throttle_ms=DETAIL_THROTTLE_MS,
    )
    body = f"""<p class="crumbs"><a href="/transactions">Transactions</a> /</p>
<h1>Transaction #{transaction_id}</h1>
<p><button type="button" class="secondary"
 data-download="/transactions/{transaction_id}/meter-values.csv">Export meter values (CSV)</button>
<output class="answer" aria-live="polite"></output></p>
{live}"""
    return layout(f"Transaction {transaction_id}", body, "transaction")


def limits_query(t: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The API path and query of the composite over a running transaction's readings (in W);
    None when it is not running or has no reading."""
    started = _time(t.get("startedAt"))
    readings = [_time(g.get("timestamp")) for g in t.get("meterValues") or []]
    last = max((at for at in readings if at is not None), default=None)
    if not t.get("active") or started is None or last is None:
        return None
    seconds = math.ceil((last - started).total_seconds()) + 1
    path = (
        f"/charge-points/{segment(str(t.get('chargePointId', '')))}"
        f"/connectors/{int(t.get('connectorId') or 0)}/composite-schedule"
    )
    return path, {
        "start": started.isoformat(),
        "duration": str(min(max(seconds, 1), MAX_LIMITS_WINDOW)),
        "chargingRateUnit": "W",
    }


def limit_steps(composite: Mapping[str, Any] | None) -> list[Step]:
    """The composite's intervals in kW, as the power chart draws them."""
    if not composite or composite.get("chargingRateUnit") != "W":
        return []
    return [
        (start, end, None if limit is None else limit / 1000)
        for start, end, limit in steps(composite.get("intervals") or [])
    ]


def detail_fragment(t: Mapping[str, Any], limits: Mapping[str, Any] | None = None) -> str:
    """`limits`: the composite over the transaction (`limits_query`), when it runs."""
    cp = str(t.get("chargePointId", ""))
    summary = facts(
        [
            ("Charge point", link(charge_point_href(cp), cp)),
            ("Connector", esc(t.get("connectorId"))),
            ("Id tag", esc(t.get("idTag"))),
            ("Start answered", esc(t.get("startStatus"))),
            ("State", badge("Running", "s-charging") if t.get("active") else "Stopped"),
            ("Started", when(t.get("startedAt"))),
            ("Stopped", when(t.get("stoppedAt")) if not t.get("active") else dash(None)),
            ("Stop reason", _reason(t)),
            ("Meter start", _wh(t.get("meterStart"))),
            ("Meter stop", _wh(t.get("meterStop"))),
            ("Energy", f'<span id="energy">{kwh(t.get("energyWh"))}</span>'),
            ("Reservation", dash(t.get("reservationId"))),
        ]
    )
    stop = ""
    if t.get("active"):
        stop = commands.one_click(
            "stop",
            cp,
            "RemoteStopTransaction",
            "transactionId",
            t.get("transactionId"),
            "Remote stop",
        )
    values = t.get("meterValues") or []
    power, energy = series(values, t.get("meterStart"))
    charts = line_chart("power", "Power", "kW", power, limit_steps(limits)) + line_chart(
        "energy", "Energy delivered", "kWh", energy
    )
    if charts and not t.get("active"):
        charts += (
            '<p class="muted">The limit in force is drawn while a transaction runs: the '
            "profiles of a finished one are not kept.</p>"
        )
    return (
        section("summary", "Summary", summary + stop)
        + section(
            "charts",
            "Power and energy",
            f'<div class="charts">{charts}</div>' if charts else empty("No meter values yet."),
        )
        + section("readings", "Meter values", _readings(values))
    )


def _reason(t: Mapping[str, Any]) -> str:
    """The stop reason; for a transaction the charger forgot, what showed it over (its meter
    stop and energy stay unknown: ocppd never invents a reading)."""
    evidence = t.get("stopEvidence")
    if not evidence:
        return dash(t.get("reason"))
    return (
        f"{esc(t.get('reason'))}: the charger forgot this transaction; closed on "
        f"{esc(evidence)}. Meter stop and energy unknown."
    )


def _wh(value: Any) -> str:
    return dash(value) if value is None else f"{esc(value)} Wh"


def series(
    meter_values: Sequence[Mapping[str, Any]], meter_start: int | None
) -> tuple[list[Point], list[Point]]:
    """(power kW, energy delivered kWh) over time."""
    power: list[Point] = []
    register: list[Point] = []
    for group in meter_values:
        at = _time(group.get("timestamp"))
        if at is None:
            continue
        samples = group.get("sampledValue") or []
        kw = _power(samples)
        if kw is not None:
            power.append((at, kw))
        wh = _energy(samples)
        if wh is not None:
            register.append((at, wh))
    origin = meter_start if meter_start is not None else (register[0][1] if register else 0)
    energy = [(at, (wh - origin) / 1000) for at, wh in register]
    if not power and len(register) > 1:
        power = [
            (b_at, (b - a) / 1000 / ((b_at - a_at).total_seconds() / 3600))
            for (a_at, a), (b_at, b) in pairwise(register)
            if b_at > a_at
        ]
    return power, energy


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _power(samples: Sequence[Mapping[str, Any]]) -> float | None:
    readings = [s for s in samples if s.get("measurand") == POWER]
    total = [s for s in readings if not s.get("phase")] or readings
    values = [_float(s.get("value")) for s in total]
    known = [
        v * (1.0 if s.get("unit") == "kW" else 0.001)
        for v, s in zip(values, total, strict=True)
        if v is not None
    ]
    return sum(known) if known else None


def _energy(samples: Sequence[Mapping[str, Any]]) -> float | None:
    for s in samples:
        if s.get("measurand") == ENERGY and not s.get("phase") and s.get("unit") in ("Wh", "kWh"):
            value = _float(s.get("value"))
            if value is not None:
                return value * (1000 if s.get("unit") == "kWh" else 1)
    return None


def _readings(meter_values: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        (
            when(group.get("timestamp")),
            esc(s.get("measurand")) + (f" ({esc(s.get('phase'))})" if s.get("phase") else ""),
            f"{esc(s.get('value'))} {esc(s.get('unit'))}",
            esc(s.get("context")),
            esc(s.get("location")),
        )
        for group in meter_values
        for s in group.get("sampledValue") or []
    ]
    if not rows:
        return empty("No meter values yet.")
    shown = rows[-TABLE_LIMIT:]
    note = (
        f'<p class="muted">The last {TABLE_LIMIT} of {len(rows)}; the CSV export has all.</p>'
        if len(rows) > len(shown)
        else ""
    )
    readings = table("Meter values", ("Time", "Measurand", "Value", "Context", "Location"), shown)
    return (
        f'<details data-key="readings"><summary>{len(rows)} sampled values</summary>'
        f"{note}{readings}</details>"
    )
