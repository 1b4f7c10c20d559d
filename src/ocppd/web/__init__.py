"""The operators' dashboard, served under `/` by `ocppd serve` (issue 7).

Server-rendered HTML from plain Python strings (every value escaped in `markup`; no template
engine), a small vanilla script (`static/app.js`) and a style sheet written here; no build
step, no third-party front-end code. Charts are SVG drawn by `chart`.

The dashboard uses the HTTP API and its bearer tokens like any other client: the token typed
on the login page stays in the tab's sessionStorage and goes out as `Authorization: Bearer`;
the data arrives as HTML fragments rendered from the API's JSON (`app`), and what an operator
changes (commands, configuration, id tags, reservations) the script sends to the API itself,
through forms declared in `forms` (fields typed and bounded from the protocol's request types).
`GET /api/v1/me` tells the script the token's role: a viewer sees no command forms.

Live updates: the script reads the API's event stream (`/api/v1/events`, with fetch so the
token goes in a header) and refreshes the regions an event concerns; a slow 30 s refresh
catches what the bus does not publish (heartbeats); a lost stream is retried with backoff.

Modules: `app` (routes, the in-process API reads), `layout` (the frame, live regions),
`markup` (escaping and small pieces), `forms`, `commands`, `overview`, `charge_point`,
`transactions`, `chart`, `id_tags`, `reservations`, `jobs` (diagnostics, firmware),
`smart_charging`, and `sites` (a site's settings, members and live allocation).
"""

from ocppd.web.app import app
from ocppd.web.routing import route

__all__ = ["app", "route"]
