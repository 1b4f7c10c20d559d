"""The frame of every page: head, navigation, and the live regions a page's script fills.

A page is a shell rendered without data (no token needed to load it); its regions name the
fragment that fills them, the events that refresh them and the filter form that narrows them.
"""

from ocppd.web.markup import esc

STATIC_VERSION = "10"

NAVIGATION = (
    ("/", "overview", "Charge points"),
    ("/transactions", "transactions", "Transactions"),
    ("/id-tags", "id-tags", "Id tags"),
    ("/reservations", "reservations", "Reservations"),
    ("/firmware", "firmware", "Firmware"),
    ("/security-events", "security-events", "Security"),
    ("/sites", "sites", "Sites"),
    ("/certificates", "certificates", "Certificates"),
    ("/audit-log", "audit-log", "Audit log"),
)
ADMIN_PAGES = frozenset({"audit-log"})
"""Links shown to admins only (hidden until the token's role is known)."""


def layout(title: str, body: str, page: str, *, signed_in: bool = True, data: str = "") -> str:
    """`data`: extra attributes of <body>, already escaped."""
    logout = '<button type="button" class="link" data-logout>Sign out</button>' if signed_in else ""
    nav = "".join(
        f'<a href="{href}"{" aria-current=page" if key == page else ""}'
        f"{' data-needs=admin hidden' if key in ADMIN_PAGES else ''}>{label}</a>"
        for href, key, label in NAVIGATION
    )
    role = (
        '<span id="stream" class="stream" role="status"></span><span id="role" class="role"></span>'
        if signed_in
        else ""
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · ocppd</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css?v={STATIC_VERSION}">
<script src="/static/app.js?v={STATIC_VERSION}" defer></script>
</head>
<body data-page="{esc(page)}"{data}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/">ocppd</a>
<nav aria-label="Main">{nav}</nav>
<div class="who">{role}{logout}</div>
</header>
<main id="main" tabindex="-1">
{body}
</main>
<noscript><p class="notice">This dashboard needs JavaScript to call the API with your token.</p>
</noscript>
</body>
</html>
"""


def region(
    key: str,
    fragment: str,
    events: str,
    *,
    filters: str = "",
    extra: str = "",
    throttle_ms: int = 0,
) -> str:
    """A live region: filled with `fragment` (plus the fields of the form `filters`), and
    refreshed when an event of a type in `events` (space-separated, `*` any) arrives, at most
    once per `throttle_ms` (the script's default when 0)."""
    narrowed = f' data-filters="{esc(filters)}"' if filters else ""
    if throttle_ms:
        narrowed += f' data-throttle="{throttle_ms}"'
    return (
        f'<div id="{esc(key)}" class="live" data-fragment="{esc(fragment)}" '
        f'data-events="{esc(events)}"{narrowed}{extra} aria-busy="true"><p>Loading…</p></div>'
    )


def login_page() -> str:
    body = """<h1>Sign in</h1>
<form id="login" class="card narrow">
<p>Paste an API token (<code>ocppd token create --role operator</code>). It is kept in this
browser tab only (sessionStorage) and sent to the API as a bearer token.</p>
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required
 spellcheck="false" autofocus>
<button type="submit">Sign in</button>
<p id="login-error" class="error" role="alert"></p>
</form>"""
    return layout("Sign in", body, "login", signed_in=False)


def not_found_page() -> str:
    return layout("Not found", "<h1>Not found</h1>", "missing")
