"""Lists a page at a time: the API's cursor (its opaque `nextCursor`) rides in the page's URL
and in a hidden field of the list's filter form, so the live region asks for that page. The
page's script empties that field when a filter changes: a new filter starts at the first
page (the newest, or A for the id tags).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from ocppd.web.forms import Field
from ocppd.web.markup import link

CURSOR = "cursor"


@dataclass(frozen=True)
class Order:
    """How a list is sorted, in the words of its paging line and links."""

    first: str  # the link back to the first page
    following: str  # the link to the next page
    from_start: str  # the first page is...
    further: str  # a later page is...


NEWEST_FIRST = Order("Newest", "Older", "newest first", "older ones")
A_TO_Z = Order("First", "Next", "from A", "further on")


def cursor_field(query: Mapping[str, str]) -> Field:
    """The filter form's hidden field with the page's cursor."""
    return Field(CURSOR, "Page", hidden=True, value=query.get(CURSOR, ""))


def with_cursor(params: dict[str, str], query: Mapping[str, str]) -> dict[str, str]:
    """The API's query parameters `params`, from the page at `query`'s cursor."""
    return params | ({CURSOR: query[CURSOR]} if query.get(CURSOR) else {})


def paging(
    path: str,
    filters: tuple[str, ...],
    shown: int,
    next_cursor: str | None,
    query: Mapping[str, str],
    order: Order = NEWEST_FIRST,
) -> str:
    """How many are shown, and links to the next page and back to the first (the older ones
    and the newest, in `NEWEST_FIRST`), keeping the `filters` of `query`."""
    kept = {k: query[k] for k in filters if query.get(k)}
    links = []
    if query.get(CURSOR):
        links.append(link(_href(path, kept), order.first))
    if next_cursor:
        links.append(link(_href(path, kept | {CURSOR: next_cursor}), order.following))
    where = order.further if query.get(CURSOR) else order.from_start
    return f'<p class="muted paging">{shown} shown, {where}. {" ".join(links)}</p>'


def nothing_here(
    path: str, filters: tuple[str, ...], query: Mapping[str, str], order: Order = NEWEST_FIRST
) -> str:
    """Under an empty list: the way back to the first page, when the page was a later one
    (its entries went, or its cursor was made up)."""
    return paging(path, filters, 0, None, query, order) if query.get(CURSOR) else ""


def _href(path: str, params: Mapping[str, str]) -> str:
    return path + ("?" + urlencode(params) if params else "")
