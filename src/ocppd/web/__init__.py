"""The operators' dashboard, served under `/` by `ocppd serve` (issue 7).

Server-rendered HTML from plain Python strings (`pages`, every value escaped; no template
engine, so no jinja2 dependency for a handful of small pages), a small vanilla script
(`static/app.js`) and a style sheet written here; no build step, no third-party front-end code.

The dashboard uses the HTTP API and its bearer tokens like any other client: the token typed
on the login page stays in the tab's sessionStorage and goes out as `Authorization: Bearer`;
the data arrives as HTML fragments rendered from the API's JSON (`app`), and commands are
POSTed by the script straight to `/api/v1/charge-points/{id}/commands/{Action}`.

Live updates poll the fragments every few seconds; `static/app.js` has the hook
(`startLiveUpdates`) where the API's event stream (`/api/v1/events`) will replace polling.

Not yet: transactions, id tags, reservations, configuration, smart charging pages; meter
values; filtering the message log by action; the remaining commands.
"""

from ocppd.web.app import app
from ocppd.web.routing import route

__all__ = ["app", "route"]
