"""The pieces every page and fragment is made of: escaping, times, badges, JSON, tables.

Every value that comes from a charge point, an operator or a URL goes through `esc` (text
and attribute values alike, quotes included); the markup around it is constant.
"""

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import msgspec

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


def esc(value: object) -> str:
    """Text or attribute value: `& < > " '` escaped; None is empty."""
    return "" if value is None else html.escape(str(value), quote=True)


def segment(value: object) -> str:
    """One URL path segment: a `/`, `?` or `#` in an identity stays inside it."""
    return quote(str(value), safe="")


def charge_point_href(charge_point_id: str) -> str:
    return "/charge-points/" + segment(charge_point_id)


def transaction_href(transaction_id: object) -> str:
    return "/transactions/" + segment(transaction_id)


def link(href: str, text: object) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def when(value: str | None) -> str:
    """An RFC 3339 timestamp from the API, shown as `YYYY-MM-DD HH:MM:SS` in UTC."""
    if not value:
        return '<span class="muted">never</span>'
    return f'<time datetime="{esc(value)}">{esc(_shown_time(value))} UTC</time>'


def _shown_time(value: str) -> str:
    return value.replace("T", " ").split(".")[0].removesuffix("Z").removesuffix("+00:00")


def dash(value: object) -> str:
    """A value, or a muted dash when there is none."""
    return '<span class="muted">-</span>' if value in (None, "") else esc(value)


def badge(text: object, kind: str) -> str:
    """`kind` is one of ours (a CSS class), never a value from outside."""
    return f'<span class="badge {kind}">{esc(text)}</span>'


def status_badge(status: str | None) -> str:
    known = status if status in CONNECTOR_STATUSES else "Unknown"
    return badge(status or "Unknown", f"s-{known.lower()}")


def connector_badge(connector: Mapping[str, Any], connected: bool) -> str:
    """A connector's status; a disconnected charger's connectors are unknown (grey), with
    their last known status as a tooltip and for screen readers."""
    if connected:
        return status_badge(connector.get("status"))
    last = f"Last known: {connector.get('status') or 'nothing'}"
    since = connector.get("timestamp")
    if since:
        last += f" (since {_shown_time(str(since))} UTC)"
    return (
        f'<span class="badge s-unknown offline-connector" title="{esc(last)}">Unknown'
        f'<span class="visually-hidden">. {esc(last)}</span></span>'
    )


def connection_badge(connected: bool) -> str:
    return badge("Online", "online") if connected else badge("Offline", "offline")


def pretty_json(value: Any) -> str:
    try:
        return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()
    except (TypeError, msgspec.EncodeError):
        return str(value)


def facts(items: Iterable[tuple[str, str]], extra_class: str = "") -> str:
    """A definition list of (label, already-escaped HTML) pairs."""
    body = "".join(f"<div><dt>{esc(label)}</dt><dd>{value}</dd></div>" for label, value in items)
    return f'<dl class="facts {extra_class}">{body}</dl>'


def table(
    caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]], classes: str = ""
) -> str:
    """A table that stacks into labelled cards on a phone; cells are already-escaped HTML,
    the first one the row's header. `classes`: ours (CSS), never a value from outside."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<{"th scope=row" if i == 0 else "td"} data-label="{esc(headers[i])}">{cell}'
            f"</{'th' if i == 0 else 'td'}>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<table class="{" ".join(["cards", classes]).strip()}">'
        f'<caption class="visually-hidden">{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
    )


def section(key: str, title: str, body: str) -> str:
    return (
        f'<section class="card" aria-labelledby="{key}-title">'
        f'<h2 id="{key}-title">{esc(title)}</h2>\n{body}\n</section>'
    )


def empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def problem_fragment(status: int, error: str) -> str:
    return f'<p class="error" role="alert">API answered {status}: {esc(error)}</p>'


def kwh(wh: object) -> str:
    """Watt-hours as kWh with 2 decimals; a dash when unknown."""
    if not isinstance(wh, int | float):
        return dash(None)
    return f"{wh / 1000:.2f} kWh"
