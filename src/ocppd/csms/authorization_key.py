"""The AuthorizationKey is write-only (security white paper): its value is never shown to
anyone, in the message log (and so the API and the dashboard), in the event stream, in the
stored configuration (`api/configuration.py`), or in the answer a command gets back (a
GetConfiguration sent through the API, `hidden_in_answer`)."""

from typing import Any

import msgspec

REDACTED = "<redacted>"
AUTHORIZATION_KEY = "authorizationkey"
NAMING_AUTHORIZATION_KEY = frozenset({"ChangeConfiguration", "GetConfiguration"})
"""The actions whose frames can carry the AuthorizationKey's value (DataTransfer aside): a
ChangeConfiguration call, a GetConfiguration answer, and either's errors (a detail may
echo it)."""


def redact_authorization_key(frame: str, action: str | None) -> str:
    """The frame with the value of every AuthorizationKey it names hidden (`hide`). `action`
    None: a frame the session could not tie to an action (a late answer, an unreadable
    frame), searched only when it names the key; one that names it and cannot be read is not
    kept at all."""
    if action is None and AUTHORIZATION_KEY not in frame.lower():
        return frame
    try:
        document = msgspec.json.decode(frame)
    except (msgspec.DecodeError, RecursionError):
        return frame if action is not None else REDACTED
    if not hide(document):
        return frame
    return msgspec.json.encode(document).decode()


def hidden_in_answer(action: str, response: Any) -> Any:
    """A charger's answer (a payload Struct) with the AuthorizationKey's value hidden; the
    same object when it names none."""
    if action not in NAMING_AUTHORIZATION_KEY:
        return response
    document = msgspec.to_builtins(response)
    if not hide(document):
        return response
    return msgspec.convert(document, type(response))


def hide(document: Any) -> bool:
    """Hide, in place, the value of every object of `document` with `"key":
    "AuthorizationKey"` (in any case) and a `value`; whether there was one. Iterative,
    whatever the nesting."""
    hidden = False
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending += node
        elif isinstance(node, dict):
            key = node.get("key")
            if isinstance(key, str) and key.lower() == AUTHORIZATION_KEY and "value" in node:
                node["value"] = REDACTED
                hidden = True
            pending += node.values()
    return hidden
