"""A charge point's smart charging: the profiles it holds (as its answers said), the composite
schedule ocppd predicts on a connector as a step chart with its intervals, how the charger's
own GetCompositeSchedule answers compared with the prediction, and the smart charging
commands.

The window (connector, duration, unit) is a filter kept in the URL; durations are a few round
choices (an hour to a week) so that the chart stays readable.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ocppd.web import commands
from ocppd.web.chart import Step, amount, step_chart
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
    section,
    segment,
    table,
    transaction_href,
    when,
)

DURATIONS = (("3600", "1 hour"), ("21600", "6 hours"), ("86400", "1 day"), ("604800", "1 week"))
UNITS = ("A", "W")
EVENTS = "CommandResult TransactionStarted TransactionStopped TransactionReconciled"
CHECKS_SHOWN = 5
ACTIONS = ("SetChargingProfile", "ClearChargingProfile", "GetCompositeSchedule")


def window(query: Mapping[str, str]) -> dict[str, str]:
    """The composite's window from a page's query, each value one of the allowed ones; no
    connectorId (absent or not a connector): the first connector with profiles."""
    connector = query.get("connectorId", "")
    duration = query.get("duration", "86400")
    unit = query.get("chargingRateUnit", "A")
    return {
        "connectorId": connector if connector.isdigit() and len(connector) < 6 else "",
        "duration": duration if duration in dict(DURATIONS) else "86400",
        "chargingRateUnit": unit if unit in UNITS else "A",
    }


def first_with_profiles(held: Mapping[str, Any]) -> int:
    """The connector whose composite the page shows unless one is chosen: the lowest with a
    profile of its own, else 0 (the whole charger)."""
    connectors = {i.get("connectorId") for i in held.get("items") or []}
    numbered = sorted(c for c in connectors if isinstance(c, int) and c > 0)
    return numbered[0] if numbered else 0


def fragment_base(charge_point_id: str) -> str:
    return "/fragments" + charge_point_href(charge_point_id)


def page(charge_point_id: str, query: Mapping[str, str]) -> str:
    chosen = window(query)
    filters = filter_form(
        "sc-window",
        [
            Field(
                "connectorId",
                "Connector",
                "int",
                minimum=0,
                value=chosen["connectorId"],
                hint="0 = the whole charger; empty = the first with profiles",
            ),
            Field(
                "duration",
                "Window",
                "select",
                required=True,
                options=tuple(v for v, _ in DURATIONS),
                labels=DURATIONS,
                value=chosen["duration"],
            ),
            Field(
                "chargingRateUnit",
                "Unit",
                "select",
                required=True,
                options=UNITS,
                value=chosen["chargingRateUnit"],
            ),
        ],
        "Composite schedule window",
    )
    base = fragment_base(charge_point_id)
    forms = "".join(
        commands.command_form(charge_point_id, a, refresh="profiles composite") for a in ACTIONS
    )
    body = f"""<p class="crumbs"><a href="/">Charge points</a> /
<a href="{esc(charge_point_href(charge_point_id))}">{esc(charge_point_id)}</a> /</p>
<h1>Smart charging <span class="cp-id">{esc(charge_point_id)}</span></h1>
<section class="card" aria-labelledby="composite-title">
<h2 id="composite-title">Predicted composite schedule</h2>
{filters}
{region("composite", base + "/composite", EVENTS, filters="sc-window", throttle_ms=2000)}
</section>
<section class="card" aria-labelledby="profiles-title">
<h2 id="profiles-title">Installed profiles</h2>
{region("profiles", base + "/charging-profiles", EVENTS)}
</section>
<section aria-labelledby="sc-commands-title" data-needs="operator" hidden>
<h2 id="sc-commands-title">Commands</h2>
<div class="commands">{forms}</div>
</section>"""
    return layout(
        f"Smart charging {charge_point_id}",
        body,
        "smart-charging",
        data=f' data-charge-point-id="{esc(charge_point_id)}"',
    )


def api_paths(
    charge_point_id: str, query: Mapping[str, str], connector_id: int = 0
) -> tuple[str, dict[str, str]]:
    """The API path of the composite for the page's window (on `connector_id` when the
    window names none), and its query."""
    chosen = window(query)
    connector = chosen["connectorId"] or str(connector_id)
    path = f"/charge-points/{segment(charge_point_id)}/connectors/{connector}/composite-schedule"
    return path, {k: v for k, v in chosen.items() if k != "connectorId"}


def profiles_fragment(held: Mapping[str, Any]) -> str:
    items = held.get("items") or []
    if not items:
        return empty("No charging profile installed (as far as its answers said).")
    rows = [_profile_row(i, item) for i, item in enumerate(items)]
    headers = (
        "Profile",
        "Connector",
        "Purpose",
        "Stack level",
        "Kind",
        "Schedule",
        "Valid",
        "Transaction",
        "Installed",
    )
    return f'<div class="scroll">{table("Installed profiles", headers, rows, "words")}</div>'


def _profile_row(index: int, item: Mapping[str, Any]) -> tuple[str, ...]:
    profile = item.get("chargingProfile") or {}
    schedule = profile.get("chargingSchedule") or {}
    unit = schedule.get("chargingRateUnit")
    periods = "<br>".join(
        f'<span class="nowrap">+{esc(p.get("startPeriod"))} s: '
        f"{limit_text(p.get('limit'), str(unit or ''))}</span>"
        for p in (schedule.get("chargingSchedulePeriod") or [])[:6]
    )
    valid = (
        f"{when(profile.get('validFrom'))} to {when(profile.get('validTo'))}"
        if (profile.get("validFrom") or profile.get("validTo"))
        else "always"
    )
    tx = item.get("transactionId")
    transaction = link(transaction_href(tx), f"#{tx}") if tx is not None else dash(None)
    if item.get("pending"):
        transaction += " " + badge("pending start", "pending")
    json = (
        f'<details data-key="profile-{index}"><summary>#{esc(profile.get("chargingProfileId"))}'
        f"</summary><pre>{esc(pretty_json(profile))}</pre></details>"
    )
    return (
        json,
        esc(item.get("connectorId")),
        esc(profile.get("chargingProfilePurpose")),
        esc(profile.get("stackLevel")),
        esc(profile.get("chargingProfileKind")),
        periods or dash(None),
        valid,
        transaction,
        when(item.get("installedAt")),
    )


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def steps(intervals: Sequence[Mapping[str, Any]]) -> list[Step]:
    found: list[Step] = []
    for interval in intervals:
        start, end = _time(interval.get("start")), _time(interval.get("end"))
        limit = interval.get("limit")
        if start is None or end is None or end <= start:
            continue
        found.append((start, end, float(limit) if isinstance(limit, int | float) else None))
    return found


def limit_text(limit: Any, unit: str) -> str:
    if limit is None:
        return "no limit"
    if isinstance(limit, int | float):
        return f"{esc(amount(float(limit)))} {esc(unit)}"
    return esc(limit)


def composite_fragment(
    composite: Mapping[str, Any], checks: Sequence[Mapping[str, Any]], chosen: bool = True
) -> str:
    """`chosen`: the connector was the page's choice, not the first with profiles (which the
    page's field then takes as its value)."""
    unit = str(composite.get("chargingRateUnit", ""))
    connector = composite.get("connectorId")
    why = ""
    if not chosen:
        why = (
            " (the first with profiles)"
            if connector
            else " (the whole charger: no connector has profiles of its own)"
        )
    which = f'<p class="muted">Connector {esc(connector)}{why}.</p>'
    if not chosen:
        which += (
            f'<span hidden data-suggest="sc-window-connectorId" data-value="{esc(connector)}">'
            "</span>"
        )
    intervals = composite.get("intervals") or []
    chart = step_chart("composite", "Limit", unit, steps(intervals))
    conversion = (
        f'<p class="muted">A and W converted at {esc(composite.get("voltage"))} V, '
        f"{esc(composite.get('phases'))} phases.</p>"
    )
    rows = [
        (
            when(i.get("start")),
            when(i.get("end")),
            limit_text(i.get("limit"), unit),
            dash(i.get("numberPhases")),
        )
        for i in intervals
    ]
    listing = (
        '<details data-key="intervals"><summary>Intervals</summary>'
        + table("Intervals", ("From", "Until", "Limit", "Phases"), rows)
        + "</details>"
        if rows
        else empty("No interval.")
    )
    return which + (chart or empty("Nothing predicted.")) + conversion + listing + _checks(checks)


def _checks(checks: Sequence[Mapping[str, Any]]) -> str:
    if not checks:
        body = empty("The charger has not answered a GetCompositeSchedule on this connector.")
    else:
        rows = [
            (
                when(c.get("checkedAt")),
                badge("matches", "s-available")
                if c.get("matches")
                else badge("differs", "s-faulted"),
                _mismatch(c.get("mismatch"), str(c.get("chargingRateUnit", ""))),
                f'<span class="nowrap">{esc(c.get("duration"))} s</span>',
            )
            for c in checks[:CHECKS_SHOWN]
        ]
        body = table("Comparisons", ("Answered", "Prediction", "First difference", "Window"), rows)
    return section("checks", "The charger's answers against the prediction", body)


def _mismatch(mismatch: Any, unit: str) -> str:
    if not isinstance(mismatch, dict):
        return dash(None)
    return (
        f"{when(mismatch.get('at'))}: predicted "
        f"{limit_text(mismatch.get('predictedLimit'), unit)}, "
        f"reported {limit_text(mismatch.get('reportedLimit'), unit)}"
    )
