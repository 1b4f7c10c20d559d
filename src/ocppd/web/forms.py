"""Forms that call the API: fields declared once, rendered with the constraints the API
checks, and read back into a JSON body by the page's script.

A command's fields come from its request type (`from_type`): the same msgspec Struct whose
codec validates the body on the API side gives each field its kind, whether it is required,
its maximum length and its enumeration, so the browser refuses what the API would refuse
(and the API's 400, with the field it names, is shown on the form when it still does).

In the browser (`static/app.js`), `data-type` says how a value goes into the body: `int`,
`number`, `datetime` (a UTC wall time, sent with `Z`), `list` (comma-separated), `json`
(parsed), anything else (`pem` too) as text; an empty field is left out. `data-api` is the API
path, where `{name}` takes the (URL-encoded) value of that field, which then stays out of the
body.
"""

import re
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from ocppd.web.markup import esc

Role = str
"""`viewer`, `operator` or `admin`: the least role a form needs (the API checks it again)."""


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"
    """text, int, number, select, datetime, list, json, pem (lines of text, sent as they are),
    url, file (the body of an upload), secret (text not shown as typed)."""
    required: bool = False
    options: tuple[str, ...] = ()
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    value: str = ""
    hint: str = ""
    hidden: bool = False
    """A value the form carries without showing it (its kind still types it)."""
    blank: str = "(none)"
    """How an optional select shows its empty choice."""
    labels: tuple[tuple[str, str], ...] = ()
    """How a select shows some of its options (value, label); the others as their value."""
    typed: str = ""
    """How the script types a select's value (`int`, `json` for true/false); text if empty."""


def humanize(name: str) -> str:
    """`connectorId` -> `Connector id`."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()
    return words[:1].upper() + words[1:]


def from_type(struct: type[msgspec.Struct], labels: dict[str, str] | None = None) -> list[Field]:
    """The fields of a request type, required ones first as declared."""
    labels = labels or {}
    fields = []
    for info in msgspec.inspect.type_info(struct).fields:  # type: ignore[attr-defined]
        name = info.encode_name
        field = _field_for(name, labels.get(name, humanize(name)), info.type)
        fields.append(replace(field, required=info.required))
    return fields


def _field_for(name: str, label: str, kind: Any) -> Field:
    inspect = msgspec.inspect
    if isinstance(kind, inspect.IntType):
        low = kind.ge if kind.ge is not None else (None if kind.gt is None else kind.gt + 1)
        high = kind.le if kind.le is not None else (None if kind.lt is None else kind.lt - 1)
        return Field(name, label, "int", minimum=low, maximum=high)
    if isinstance(kind, inspect.FloatType):
        return Field(name, label, "number", minimum=kind.ge, maximum=kind.le)
    if isinstance(kind, inspect.StrType):
        return Field(name, label, "text", max_length=kind.max_length)
    if isinstance(kind, inspect.EnumType):
        return Field(name, label, "select", options=tuple(str(m.value) for m in kind.cls))
    if isinstance(kind, inspect.DateTimeType):
        return Field(name, label, "datetime")
    if isinstance(kind, inspect.ListType) and isinstance(kind.item_type, inspect.StrType):
        return Field(name, label, "list", max_length=kind.item_type.max_length)
    return Field(name, label, "json")


def control(form_id: str, field: Field, *, note_optional: bool = True) -> str:
    """The label and the control of one field."""
    ident = f"{form_id}-{field.name}"
    if field.hidden:
        return (
            f'<input type="hidden" id="{esc(ident)}" name="{esc(field.name)}" '
            f'data-type="{field.kind}" value="{esc(field.value)}">'
        )
    label = field.label + ("" if field.required or not note_optional else " (optional)")
    hint = f' <span class="hint">{esc(field.hint)}</span>' if field.hint else ""
    head = f'<label for="{esc(ident)}">{esc(label)}{hint}</label>'
    common = f'id="{esc(ident)}" name="{esc(field.name)}"' + (" required" if field.required else "")
    return head + _input(field, common)


def _input(field: Field, common: str) -> str:
    if field.kind == "select":
        blank = [] if field.required else [""]
        shown = dict(field.labels)
        options = "".join(
            f'<option value="{esc(v)}"{" selected" if v == field.value else ""}>'
            f"{esc(shown.get(v, v or field.blank))}</option>"
            for v in [*blank, *field.options]
        )
        typed = f' data-type="{field.typed}"' if field.typed else ""
        return f"<select {common}{typed}>{options}</select>"
    if field.kind in ("json", "pem"):
        limit = f' maxlength="{field.max_length}"' if field.max_length is not None else ""
        return (
            f'<textarea {common} data-type="{field.kind}" rows="6" spellcheck="false" '
            f'autocomplete="off"{limit}>{esc(field.value)}</textarea>'
        )
    attrs = [common, f'value="{esc(field.value)}"']
    if field.kind in ("int", "number"):
        attrs.append(f'type="number" data-type="{field.kind}" inputmode="numeric"')
        attrs.append('step="1"' if field.kind == "int" else 'step="any"')
        if field.minimum is not None:
            attrs.append(f'min="{field.minimum}"')
        if field.maximum is not None:
            attrs.append(f'max="{field.maximum}"')
    elif field.kind == "datetime":
        attrs.append('type="datetime-local" step="1" data-type="datetime"')
    elif field.kind == "list":
        attrs.append('type="text" data-type="list" autocomplete="off"')
    elif field.kind == "file":
        return f'<input {common} type="file">'
    elif field.kind == "url":
        attrs.append('type="url" autocomplete="off"')
    elif field.kind == "secret":
        attrs.append('type="password" autocomplete="new-password"')
    else:
        attrs.append('type="text" autocomplete="off"')
    if field.max_length is not None and field.kind != "list":
        attrs.append(f'maxlength="{field.max_length}"')
    return f"<input {' '.join(attrs)}>"


def api_form(
    form_id: str,
    api: str,
    fields: list[Field],
    button: str,
    *,
    title: str = "",
    method: str = "POST",
    needs: Role = "operator",
    confirm: str = "",
    refresh: str = "",
    classes: str = "card command",
    reset: bool = False,
) -> str:
    """A form the script sends to the API (`api`, relative to /api/v1) with the token; the
    answer (or the Problem) is shown in its <output>. Hidden until the token's role is known
    to allow `needs` (the API refuses it anyway)."""
    heading = f"<h3>{esc(title)}</h3>" if title else ""
    attrs = [
        f'id="{esc(form_id)}"',
        f'class="{classes}"',
        f'data-api="{esc(api)}"',
        f'data-method="{method}"',
        f'data-needs="{needs}"',
        "hidden",
    ]
    if title:
        attrs.append(f'aria-label="{esc(title)}"')
    if confirm:
        attrs.append(f'data-confirm="{esc(confirm)}"')
    if refresh:
        attrs.append(f'data-refresh="{esc(refresh)}"')
    if reset:
        attrs.append("data-reset")
    controls = "".join(control(form_id, f) for f in fields)
    return (
        f"<form {' '.join(attrs)}>{heading}{controls}"
        f'<button type="submit">{esc(button)}</button>'
        f'<output class="answer" aria-live="polite"></output></form>'
    )


def filter_form(form_id: str, fields: list[Field], label: str) -> str:
    """Filters of a list: applied as one types, kept in the page's URL. Every filter may be
    left empty ("All")."""
    controls = "".join(
        control(form_id, f)
        if f.hidden  # not a flex item: it would take a column's room
        else f"<div>{control(form_id, replace(f, blank='All'), note_optional=False)}</div>"
        for f in fields
    )
    return (
        f'<form id="{esc(form_id)}" class="filters" role="search" aria-label="{esc(label)}" '
        f'data-url-filters>{controls}<button type="submit">Filter</button></form>'
    )
