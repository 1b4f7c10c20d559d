"""A charge point's message log: each call shown with its answer (matched by unique id; the
charger's and the central system's calls are told apart by direction), both payloads in
view, newest first, a page at a time with links to older frames (`paging`).

A page of the API is MESSAGES_SHOWN frames. When an answer on it has its call on the next
(older) page, the page takes the older frames up to that call too (looking LOOKAHEAD frames
further at most), so an exchange is never split between two pages.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ocppd.web.markup import charge_point_href, empty, esc, pretty_json, when
from ocppd.web.paging import nothing_here, paging

MESSAGES_SHOWN = 50
LOOKAHEAD = 20
FILTERS = ("action", "direction")
CALL, RESULT, ERROR = 2, 3, 4
KINDS = {CALL: "CALL", RESULT: "CALLRESULT", ERROR: "CALLERROR"}

Frame = Mapping[str, Any]


@dataclass
class Exchange:
    """A call and its answer when both are known; a lone frame otherwise (an answer whose call
    is not on the page, a call not answered yet, a frame that could not be read)."""

    call: Frame | None = None
    answer: Frame | None = None
    frames: list[Frame] = field(default_factory=list)


def _key(frame: Frame) -> tuple[str, str] | None:
    """Who called, and the call's unique id: what a call and its answer share."""
    kind, unique_id = frame.get("messageType"), frame.get("uniqueId")
    if kind not in KINDS or unique_id is None:
        return None
    inbound = frame.get("direction") == "in"
    caller_is_charger = inbound if kind == CALL else not inbound
    return ("charger" if caller_is_charger else "central system"), str(unique_id)


def exchanges(frames: Sequence[Frame]) -> list[Exchange]:
    """`frames` (newest first) as exchanges, newest first by their first frame."""
    found: list[Exchange] = []
    open_calls: dict[tuple[str, str], Exchange] = {}
    for frame in reversed(frames):
        key = _key(frame)
        if key is not None and frame.get("messageType") == CALL:
            exchange = Exchange(call=frame, frames=[frame])
            open_calls[key] = exchange
        elif key is not None and key in open_calls:
            exchange = open_calls.pop(key)
            exchange.answer = frame
            exchange.frames.append(frame)
            continue
        else:
            exchange = Exchange(answer=frame, frames=[frame])
        found.append(exchange)
    return found[::-1]


def calls_wanted(frames: Sequence[Frame]) -> set[tuple[str, str]]:
    """The keys of the answers on a page whose calls are not on it."""
    return {
        key
        for exchange in exchanges(frames)
        if exchange.call is None and (key := _key(exchange.frames[0])) is not None
    }


def cursor_after(page: Mapping[str, Any], taken: int) -> str | None:
    """The API's cursor after the first `taken` frames of `page`: the id of the last one
    taken (`/messages` pages newest first by id), or the page's own where all were taken."""
    items = page["items"]
    if taken >= len(items):
        return page.get("nextCursor")
    return str(items[taken - 1]["id"])


def reach(older: Sequence[Frame], wanted: set[tuple[str, str]]) -> int:
    """How many of the `older` frames (newest first) a page must take to hold the calls of
    its `wanted` answers (0: none of them is there)."""
    found = [
        i
        for i, frame in enumerate(older)
        if frame.get("messageType") == CALL and _key(frame) in wanted
    ]
    return max(found) + 1 if found else 0


def fragment(
    charge_point_id: str,
    frames: Sequence[Frame],
    next_cursor: str | None,
    query: Mapping[str, str],
) -> str:
    path = charge_point_href(charge_point_id)
    if not frames:
        return empty("No messages match.") + nothing_here(path, FILTERS, query)
    items = "\n".join(_exchange(e) for e in exchanges(frames))
    more = paging(path, FILTERS, len(frames), next_cursor, query)
    return f'{more}<ol class="log">{items}</ol>'


def _exchange(exchange: Exchange) -> str:
    first = exchange.frames[0]
    inbound = first.get("direction") == "in"
    call, answer = exchange.call, exchange.answer
    if call is not None:
        head = f'<span class="dir">{"⇠ from the charger" if inbound else "⇢ to the charger"}</span>'
    else:
        head = f'<span class="dir">{"⇠ in" if inbound else "⇢ out"}</span>'
    action = esc(first.get("action") or "?")
    parts = [_payload(f) for f in exchange.frames]
    if call is not None and answer is None:
        parts.append('<div class="payload"><p class="empty">No answer (yet).</p></div>')
    elif call is None and answer is not None and answer.get("messageType") in (RESULT, ERROR):
        parts.insert(0, '<div class="payload"><p class="empty">Its call is not shown.</p></div>')
    unique = esc(first.get("uniqueId"))
    return (
        f'<li class="msg {"in" if inbound else "out"}" data-unique-id="{unique}">'
        f'<p class="head">{head} <strong>{action}</strong> {when(first.get("at"))} '
        f'<span class="mt">id {unique or "-"}</span></p>'
        f'<div class="exchange">{"".join(parts)}</div></li>'
    )


def _payload(frame: Frame) -> str:
    kind = frame.get("messageType")
    label = KINDS.get(kind or 0, "unreadable frame")
    body = frame.get("frame")
    if isinstance(body, list) and kind == CALL and len(body) > 3:
        shown: Any = body[3]
    elif isinstance(body, list) and kind == RESULT and len(body) > 2:
        shown = body[2]
    elif isinstance(body, list) and kind == ERROR and len(body) > 4:
        shown = {"errorCode": body[2], "errorDescription": body[3], "errorDetails": body[4]}
        label += f" {body[2]}"
    else:
        shown = body
    state = "error" if kind == ERROR else "call" if kind == CALL else "answer"
    return (
        f'<div class="payload {state}"><p class="mt">{esc(label)} {when(frame.get("at"))}</p>'
        f"<pre>{esc(pretty_json(shown))}</pre></div>"
    )
