"""One command to several charge points, as SteVe's operations pages do: the operator ticks
charge points in the overview (the ticks are kept in the tab's sessionStorage, across the
list's pages), chooses a command and fills its fields once; the page's script sends it to
each charge point through the API's command route (the same bearer token, the API checks the
role again) and shows each charger's answer, or the API's error, in a row of its own.

The commands are those of a charge point's page that go to one charge point's command route
(or `local-list`); the jobs (diagnostics, firmware) are left out: each has its own page.
"""

from ocppd.web import commands
from ocppd.web.forms import control
from ocppd.web.markup import esc

ACTIONS = tuple(
    action
    for _, actions in (*commands.GROUPS, ("Configuration", commands.CONFIGURATION_ACTIONS))
    for action in actions
    if action not in commands.JOBS
)
FIRST = "TriggerMessage"
"""Chosen when the page opens: harmless, and every charger answers it."""


def _fieldset(action: str) -> str:
    title, _ = commands.TITLES[action]
    form_id = f"bulk-{action}"
    controls = "".join(control(form_id, field) for field in commands.fields_of(action))
    hidden = "" if action == FIRST else " hidden disabled"
    path = commands.api_path(action)
    return (
        f'<fieldset data-action="{esc(action)}" data-path="{esc(path)}"{hidden}>'
        f"<legend>{esc(title)}</legend>{controls or '<p class=muted>No field.</p>'}</fieldset>"
    )


def section() -> str:
    """The form above the list, and the table of answers; operators only."""
    options = "".join(
        f'<option value="{esc(a)}"{" selected" if a == FIRST else ""}>'
        f"{esc(commands.TITLES[a][0])} ({esc(a)})</option>"
        for a in ACTIONS
    )
    fieldsets = "".join(_fieldset(a) for a in ACTIONS)
    return f"""<details class="card bulk" data-needs="operator" hidden>
<summary><h2 id="bulk-title">Send a command to the selected charge points</h2></summary>
<form id="bulk" data-bulk aria-labelledby="bulk-title">
<p id="bulk-count" class="muted" aria-live="polite">No charge point selected: tick them in the
list.</p>
<label for="bulk-action">Command</label>
<select id="bulk-action" name="action">{options}</select>
{fieldsets}
<button type="submit">Send to the selected</button>
<button type="button" class="secondary" data-clear-selection>Clear the selection</button>
<output class="answer" aria-live="polite"></output>
</form>
<table id="bulk-results" class="cards" hidden>
<caption>Answers</caption>
<thead><tr><th scope="col">Charge point</th><th scope="col">Answer</th></tr></thead>
<tbody></tbody></table>
</details>"""


def checkbox(identity: str) -> str:
    """A row's tick, for operators."""
    return (
        f'<td data-label="Select" data-needs="operator" hidden>'
        f'<input type="checkbox" data-select value="{esc(identity)}" '
        f'aria-label="Select {esc(identity)}"></td>'
    )


def select_all() -> str:
    """The list's header tick: every charge point shown."""
    return (
        '<th scope="col" data-needs="operator" hidden>'
        '<input type="checkbox" data-select-all aria-label="Select all shown"></th>'
    )
