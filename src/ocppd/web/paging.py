"""Lists a page at a time: the API's cursor (its opaque `nextCursor`) rides in the page's URL
and in a hidden field of the list's filter form, so the live region asks for that page. The
page's script empties that field when a filter changes: a new filter starts at the newest.
"""

from collections.abc import Mapping
from urllib.parse import urlencode

from ocppd.web.forms import Field
from ocppd.web.markup import link

CURSOR = "cursor"


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
) -> str:
    """How many are shown, and links to the older ones and back to the newest, keeping the
    `filters` of `query`."""
    kept = {k: query[k] for k in filters if query.get(k)}
    links = []
    if query.get(CURSOR):
        links.append(link(_href(path, kept), "Newest"))
    if next_cursor:
        links.append(link(_href(path, kept | {CURSOR: next_cursor}), "Older"))
    where = "older ones" if query.get(CURSOR) else "newest first"
    return f'<p class="muted paging">{shown} shown, {where}. {" ".join(links)}</p>'


def nothing_here(path: str, filters: tuple[str, ...], query: Mapping[str, str]) -> str:
    """Under an empty list: the way back to the newest, when the page was an older one (its
    entries went, or its cursor was made up)."""
    return paging(path, filters, 0, None, query) if query.get(CURSOR) else ""


def _href(path: str, params: Mapping[str, str]) -> str:
    return path + ("?" + urlencode(params) if params else "")
