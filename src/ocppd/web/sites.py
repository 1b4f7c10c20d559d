"""Sites: groups of charge points sharing a limit. The list (an admin adds one), and a site's
page: its configuration, its charge points (an admin adds and removes them, changes the
limit), and the live allocation: the limit in force split among the running transactions
(a bar, then each share, applied limit, measured draw and state), and the profiles its
chargers refused.

The allocation is the site controller's view at the moment of reading; it is refreshed on
the events that move it (transactions, meter values, command results, refusals).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ocppd.web.chart import amount, share_bar
from ocppd.web.forms import Field, api_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import (
    badge,
    charge_point_href,
    dash,
    empty,
    esc,
    facts,
    link,
    section,
    segment,
    table,
    transaction_href,
    when,
)

EVENTS = (
    "TransactionStarted TransactionStopped TransactionReconciled MeterValues CommandResult "
    "SiteProfileFailed"
)
STATE_CLASSES = {
    "Charging": "s-charging",
    "Paused": "s-suspendedevse",
    "Pending": "s-preparing",
    "Fallback": "s-faulted",
}
UNITS = ("A", "W")
LIST_LIMIT = 1000


def site_href(site_id: str) -> str:
    return "/sites/" + segment(site_id)


def list_page() -> str:
    create = api_form(
        "site-new",
        "/sites/{siteId}",
        [
            Field(
                "siteId", "Site id", required=True, max_length=64, hint="letters, digits, . _ ~ -"
            ),
            Field("name", "Name", max_length=255),
            Field("limit", "Limit", "number", required=True, minimum=0),
            Field("unit", "Unit", "select", required=True, options=UNITS),
        ],
        "Save",
        title="Add a site",
        method="PUT",
        needs="admin",
        refresh="live",
        reset=True,
    )
    body = "<h1>Sites</h1>" + create + region("live", "/fragments/sites", "")
    return layout("Sites", body, "sites")


def list_fragment(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return empty("No site yet.")
    rows = [
        (
            link(site_href(str(s.get("siteId", ""))), s.get("siteId")),
            dash((s.get("config") or {}).get("name")),
            _amount((s.get("config") or {}).get("limit"), (s.get("config") or {}).get("unit")),
            esc(len(s.get("chargePoints") or [])),
        )
        for s in items
    ]
    return table("Sites", ("Site", "Name", "Limit", "Charge points"), rows)


def _amount(value: Any, unit: Any) -> str:
    if not isinstance(value, int | float):
        return dash(value)
    return f"{esc(amount(float(value)))} {esc(unit)}"


def page(site_id: str) -> str:
    api = site_href(site_id)
    change = api_form(
        "site-limit",
        api,
        [Field("limit", "New limit", "number", required=True, minimum=0)],
        "Change limit",
        title="Change the limit",
        method="PATCH",
        needs="admin",
        refresh="site allocation",
    )
    join = api_form(
        "site-join",
        api + "/charge-points/{chargePointId}",
        [Field("chargePointId", "Charge point", required=True)],
        "Add to the site",
        title="Add a charge point",
        method="PUT",
        needs="admin",
        refresh="site allocation",
        reset=True,
    )
    body = f"""<p class="crumbs"><a href="/sites">Sites</a> /</p>
<h1>Site <span class="cp-id">{esc(site_id)}</span></h1>
<section class="card" aria-labelledby="allocation-title">
<h2 id="allocation-title">Live allocation</h2>
{region("allocation", "/fragments" + api + "/allocation", EVENTS, throttle_ms=1000)}
</section>
{region("site", "/fragments" + api, "")}
<div class="commands">{change}{join}</div>"""
    return layout(f"Site {site_id}", body, "sites", data=f' data-site-id="{esc(site_id)}"')


def site_fragment(site: Mapping[str, Any]) -> str:
    config = site.get("config") or {}
    unit = config.get("unit")
    schedule = "; ".join(
        f"from {esc(p.get('start'))}: {_amount(p.get('limit'), unit)}"
        for p in config.get("schedule") or []
    )
    settings = facts(
        [
            ("Name", dash(config.get("name"))),
            ("Limit", _amount(config.get("limit"), unit)),
            ("Minimum per car", _amount(config.get("minPerCar"), unit)),
            ("Maximum per car", _amount(config.get("maxPerCar"), unit)),
            ("Voltage", _amount(config.get("voltage"), "V")),
            ("Phases", esc(config.get("phases"))),
            ("Time zone", esc(config.get("timezone"))),
            ("Daily schedule", schedule or "none"),
        ]
    )
    members = site.get("chargePoints") or []
    api = site_href(str(site.get("siteId", "")))
    rows = [
        (
            link(charge_point_href(str(cp)), cp),
            api_form(
                f"leave-{i}",
                api + "/charge-points/" + segment(str(cp)),
                [],
                "Remove",
                method="DELETE",
                needs="admin",
                confirm=f"Remove {cp} from the site?",
                classes="inline-action danger",
                refresh="site allocation",
            ),
        )
        for i, cp in enumerate(members)
    ]
    listing = (
        table("Charge points", ("Charge point", "Actions"), rows)
        if rows
        else empty("No charge point in this site.")
    )
    return section("settings", "Settings", settings) + section("members", "Charge points", listing)


def allocation_fragment(allocation: Mapping[str, Any]) -> str:
    unit = str(allocation.get("unit", ""))
    shares = allocation.get("transactions") or []
    limit = allocation.get("limit")
    whole = float(limit) if isinstance(limit, int | float) else 0.0
    parts = [
        (f"#{s.get('transactionId')} {s.get('chargePointId')}", float(s["share"]))
        for s in shares
        if isinstance(s.get("share"), int | float)
    ]
    bar = share_bar("allocation", "Shares of the site's limit", unit, whole, parts)
    totals = facts(
        [
            ("Limit now", _amount(limit, unit)),
            ("Allocated", _amount(allocation.get("allocated"), unit)),
            ("Drawn", _amount(allocation.get("drawn"), unit)),
            ("Computed", when(allocation.get("at"))),
        ]
    )
    rows = [
        (
            link(transaction_href(s.get("transactionId")), f"#{s.get('transactionId')}"),
            link(charge_point_href(str(s.get("chargePointId"))), s.get("chargePointId")),
            esc(s.get("connectorId")),
            _amount(s.get("share"), unit),
            _amount(s.get("appliedLimitA"), "A"),
            _amount(s.get("draw"), unit),
            badge(s.get("state"), STATE_CLASSES.get(str(s.get("state")), "s-unknown"))
            + (f" {esc(s.get('fallback'))}" if s.get("fallback") else ""),
        )
        for s in shares
    ]
    headers = (
        "Transaction",
        "Charge point",
        "Connector",
        "Share",
        "Applied limit",
        "Draw",
        "State",
    )
    listing = table("Shares", headers, rows) if rows else empty("No transaction running.")
    return totals + bar + listing + _problems(allocation)


def _problems(allocation: Mapping[str, Any]) -> str:
    failures = allocation.get("failures") or []
    missing = allocation.get("withoutDefault") or []
    if not failures and not missing:
        return ""
    items = [
        f"<li>{when(f.get('at'))} {esc(f.get('chargePointId'))}"
        f"{' #' + esc(f.get('transactionId')) if f.get('transactionId') is not None else ''}: "
        f"{esc(f.get('reason'))}</li>"
        for f in failures
    ]
    if missing:
        items.append(
            "<li>Without the site's default profile (refused or not connected): "
            + ", ".join(esc(m) for m in missing)
            + "</li>"
        )
    return section("site-problems", "Refused profiles", f"<ul>{''.join(items)}</ul>")
