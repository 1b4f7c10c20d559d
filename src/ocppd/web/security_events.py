"""Security events: the critical ones first (the white paper's list: a tamper, a reboot, a
cleared security log...), then every event with filters, a page at a time; both refreshed on
each `SecurityEvent`. A critical event is marked in every list that shows it. A charge
point's page shows its latest events and the root certificates it reported installed.
"""

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from ocppd.web.forms import Field, filter_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import badge, charge_point_href, dash, empty, esc, link, table, when
from ocppd.web.paging import cursor_field, nothing_here, paging, with_cursor

EVENTS = "SecurityEvent"
FILTERS = ("chargePointId", "type", "critical", "source")
LIST_LIMIT = 100
CRITICAL_SHOWN = 10
LATEST_SHOWN = 10
SOURCES = (("charger", "The charger"), ("central_system", "The central system"))


def page(query: Mapping[str, str]) -> str:
    critical = query.get("critical", "")
    source = query.get("source", "")
    filters = filter_form(
        "sec-filters",
        [
            Field("chargePointId", "Charge point", value=query.get("chargePointId", "")),
            Field("type", "Type", max_length=50, value=query.get("type", "")),
            Field(
                "critical",
                "Critical",
                "select",
                options=("true", "false"),
                labels=(("true", "Critical"), ("false", "Not critical")),
                value=critical if critical in ("true", "false") else "",
            ),
            Field(
                "source",
                "Recorded by",
                "select",
                options=tuple(value for value, _ in SOURCES),
                labels=SOURCES,
                value=source if source in dict(SOURCES) else "",
            ),
            cursor_field(query),
        ],
        "Filter security events",
    )
    body = f"""<h1>Security events</h1>
<section class="card critical-events" aria-labelledby="critical-title">
<h2 id="critical-title">Critical events</h2>
{region("critical", "/fragments/security-events/critical", EVENTS)}
</section>
<section class="card" aria-labelledby="all-title">
<h2 id="all-title">All events</h2>
{filters}
{region("live", "/fragments/security-events", EVENTS, filters="sec-filters")}
</section>"""
    return layout("Security events", body, "security-events")


def api_params(query: Mapping[str, str]) -> dict[str, str]:
    filters = {k: query[k] for k in FILTERS if query.get(k)}
    return with_cursor(filters, query) | {"limit": str(LIST_LIMIT)}


def list_fragment(
    items: Sequence[Mapping[str, Any]], next_cursor: str | None, query: Mapping[str, str]
) -> str:
    if not items:
        return empty("No security event matches.") + nothing_here(
            "/security-events", FILTERS, query
        )
    more = paging("/security-events", FILTERS, len(items), next_cursor, query)
    return more + events_table(items)


def critical_fragment(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return empty("No critical security event.")
    return events_table(items[:CRITICAL_SHOWN])


def events_table(items: Sequence[Mapping[str, Any]], with_charge_point: bool = True) -> str:
    headers = ("When", *(("Charge point",) if with_charge_point else ()), "Type", "By", "Info")
    rows = []
    for e in items:
        cp = str(e.get("chargePointId", ""))
        kind = esc(e.get("type"))
        if e.get("critical"):
            kind = f"{badge('Critical', 's-faulted')} <strong>{kind}</strong>"
        rows.append(
            (
                when(e.get("timestamp")),
                *((link(charge_point_href(cp), cp),) if with_charge_point else ()),
                kind,
                esc(dict(SOURCES).get(str(e.get("source")), e.get("source"))),
                dash(e.get("techInfo")),
            )
        )
    return table("Security events", headers, rows, classes="security-events")


def charge_point_fragment(
    charge_point_id: str,
    events: Sequence[Mapping[str, Any]],
    certificates: Sequence[Mapping[str, Any]],
) -> str:
    """A charge point's latest security events and its installed root certificates."""
    latest = (
        events_table(events[:LATEST_SHOWN], with_charge_point=False)
        if events
        else empty("No security event.")
    )
    everything = link(
        "/security-events?" + urlencode({"chargePointId": charge_point_id}),
        "All its security events",
    )
    return (
        f"<h3>Latest security events</h3>{latest}<p>{everything}</p>"
        f"<h3>Installed root certificates</h3>{certificates_table(certificates)}"
    )


def certificates_table(certificates: Sequence[Mapping[str, Any]]) -> str:
    if not certificates:
        # An answer NotFound empties the list too: the text must not claim nobody asked.
        return empty(
            "None reported (not asked yet, or the charger answered NotFound): send "
            "GetInstalledCertificateIds (Commands, Security extension) to ask."
        )
    rows = [
        (
            esc(c.get("certificateType")),
            f'<code class="hash">{esc(c.get("serialNumber"))}</code>',
            esc(c.get("hashAlgorithm")),
            f'<code class="hash">{esc(c.get("issuerNameHash"))}</code>',
            f'<code class="hash">{esc(c.get("issuerKeyHash"))}</code>',
            when(c.get("reportedAt")),
        )
        for c in certificates
    ]
    headers = ("Type", "Serial number", "Hash", "Issuer name hash", "Issuer key hash", "Reported")
    return table("Installed root certificates", headers, rows)
