"""The operators' HTTP API under /api/v1 (Litestar, decision 0003), served as the OCPP app's
fallback on the same port.

One module per concept: `app` (assembly), `openapi` (what the document declares beyond
Litestar's defaults), `docs_page` (Swagger UI at /api/v1/docs, from a package, no CDN),
`auth` and `tokens` (bearer tokens, roles),
`problems` (the one error shape), `operator_input` (what operators send, checked at the edge:
text, dates, bounds), `pages` (cursor pagination), `system` (the injected
CentralSystem), `charge_points`, `id_tags`, `transactions`, `exports` (CSV), `messages`,
`me` (the caller's token), `cluster` (the nodes), `commands` (one route per action),
`sending` (one request and its failures, on whichever node holds the charger), and the flows
that keep what a command's answer says: `reservations`,
`configuration`, `local_lists`; `events` (the server-sent event stream, fed by
`ocppd.csms.events`); diagnostics and firmware jobs: `jobs` (the resource and the flow),
`diagnostics`, `firmware`, `uploads` (a file in a request body) and `transfers` (the
chargers' side, `/files`, outside /api/v1 and its OpenAPI document). The raw
GetDiagnostics/UpdateFirmware command routes pass through as they are; their notifications
are kept like any other. Smart charging: `charging_profiles` (the profiles a charger holds,
the composite ocppd predicts, the GetCompositeSchedule checks) and `schedule_plot` (its SVG).

Charge point identities containing `/` are refused at the OCPP upgrade and by `ocppd
charge-point add`: a percent-encoded `%2F` is decoded before routing, so no API path could
address them.
"""
