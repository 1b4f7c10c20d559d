"""Id tags: the list (by status), a form to create or replace one, and per tag an edit form,
Block / Unblock and Delete.

Block and Unblock send the tag's whole idTagInfo again with the status changed (the API's PUT
replaces), so its expiry and parent stay as they were. Unblock means Accepted.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ocppd.web.forms import Field, api_form, filter_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import badge, dash, empty, esc, segment, table, when
from ocppd.web.paging import A_TO_Z, cursor_field, nothing_here, paging, with_cursor

STATUSES = ("Accepted", "Blocked", "Expired", "Invalid")
STATUS_CLASSES = {
    "Accepted": "s-available",
    "Blocked": "s-faulted",
    "Expired": "s-unavailable",
    "Invalid": "s-unavailable",
}
LIST_LIMIT = 200
FILTERS = ("status", "prefix")


def info_fields(status: str = "Accepted", expiry: str = "", parent: str = "") -> list[Field]:
    return [
        Field("status", "Status", "select", required=True, options=STATUSES, value=status),
        Field("expiryDate", "Expiry", "datetime", hint="UTC", value=expiry),
        Field("parentIdTag", "Parent id tag", max_length=20, value=parent),
    ]


def page(query: Mapping[str, str] | None = None) -> str:
    query = query or {}
    status = query.get("status", "")
    create = api_form(
        "tag-new",
        "/id-tags/{idTag}",
        [Field("idTag", "Id tag", required=True, max_length=20), *info_fields()],
        "Save",
        title="Add or replace an id tag",
        method="PUT",
        refresh="live",
        reset=True,
    )
    filters = filter_form(
        "tag-filters",
        [
            Field(
                "status",
                "Status",
                "select",
                options=STATUSES,
                value=status if status in STATUSES else "",
            ),
            Field("prefix", "Starts with", max_length=20, value=query.get("prefix", "")),
            cursor_field(query),
        ],
        "Filter id tags",
    )
    body = (
        "<h1>Id tags</h1>"
        + create
        + filters
        + region("live", "/fragments/id-tags", "", filters="tag-filters")
    )
    return layout("Id tags", body, "id-tags")


def api_params(query: Mapping[str, str]) -> dict[str, str]:
    filters = {"status": query["status"]} if query.get("status") in STATUSES else {}
    if query.get("prefix"):
        filters["prefix"] = query["prefix"]
    return with_cursor(filters, query) | {"limit": str(LIST_LIMIT)}


def fragment(
    items: Sequence[Mapping[str, Any]],
    next_cursor: str | None = None,
    query: Mapping[str, str] | None = None,
) -> str:
    """A page of the list, by tag from A (links to the next page and back to the first,
    keeping the filters of `query`)."""
    query = query or {}
    if not items:
        return empty("No id tag matches.") + nothing_here("/id-tags", FILTERS, query, A_TO_Z)
    rows = [_row(i, tag) for i, tag in enumerate(items)]
    more = paging("/id-tags", FILTERS, len(items), next_cursor, query, A_TO_Z)
    headers = ("Id tag", "Status", "Expiry", "Parent", "Updated", "Actions")
    return more + table("Id tags", headers, rows)


def _local(value: Any) -> str:
    return str(value or "").removesuffix("Z").split(".")[0].split("+")[0]


def _row(index: int, tag: Mapping[str, Any]) -> tuple[str, ...]:
    name = str(tag.get("idTag", ""))
    status = str(tag.get("status", ""))
    api = "/id-tags/" + segment(name)
    expiry, parent = tag.get("expiryDate") or "", tag.get("parentIdTag") or ""
    same = [
        Field("expiryDate", "Expiry", hidden=True, value=str(expiry)),
        Field("parentIdTag", "Parent", hidden=True, value=str(parent)),
    ]
    flip = "Accepted" if status == "Blocked" else "Blocked"
    toggle = api_form(
        f"tag-{index}-block",
        api,
        [Field("status", "Status", hidden=True, value=flip), *same],
        "Unblock" if status == "Blocked" else "Block",
        method="PUT",
        classes="inline-action",
        refresh="live",
    )
    edit = api_form(
        f"tag-{index}-edit",
        api,
        info_fields(status, _local(expiry), str(parent)),
        "Save",
        method="PUT",
        classes="edit",
        refresh="live",
    )
    remove = api_form(
        f"tag-{index}-delete",
        api,
        [],
        "Delete",
        method="DELETE",
        confirm=f"Delete the id tag {name}?",
        classes="inline-action danger",
        refresh="live",
    )
    actions = (
        f'<div class="actions">{toggle}{remove}</div>'
        f'<details data-key="edit-{esc(name)}" data-needs="operator" hidden>'
        f"<summary>Edit</summary>{edit}</details>"
    )
    return (
        f"<strong>{esc(name)}</strong>",
        badge(status, STATUS_CLASSES.get(status, "s-unknown")),
        when(expiry) if expiry else dash(None),
        dash(parent),
        when(tag.get("updatedAt")),
        actions,
    )
