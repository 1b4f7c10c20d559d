"""A file job's link is its credentials (csms/jobs.py): the one-time token of
`/files/<kind>/<token>/`, the password of `ftp://LOGIN:PASSWORD@host/`. Whoever reads the link
while the job runs can upload to it or download its firmware, so the message log (which any
viewer token reads, and the dashboard shows) keeps the frames that carry one with the secret
hidden. The same goes for a password an operator put in a location of their own
(`https://user:password@...`)."""

import re

from ocppd.csms.authorization_key import REDACTED

CARRYING_LOCATIONS = frozenset(
    {"GetDiagnostics", "UpdateFirmware", "GetLog", "SignedUpdateFirmware"}
)
"""The actions whose calls hold a file location (an error's details may echo it)."""

_LINK_TOKEN = re.compile(r"(/files/[A-Za-z]+/)[A-Za-z0-9_-]+/")
_PASSWORD = re.compile(r'(://[^/@"\\\s:]*:)[^/"\\\s]*@')
"""A URL's password: up to the last `@` before the host (a careless one may hold an `@`)."""


def redact_transfer_credentials(frame: str) -> str:
    """The frame with every link token and every password of a URL's user info hidden."""
    return hide_url_passwords(_LINK_TOKEN.sub(rf"\g<1>{REDACTED}/", frame))


def hide_url_passwords(text: str) -> str:
    """`text` with the password of every URL's user info hidden (the audit log's summaries
    use it too)."""
    return _PASSWORD.sub(rf"\g<1>{REDACTED}@", text)
