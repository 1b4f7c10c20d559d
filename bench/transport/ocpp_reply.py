"""The work every candidate server does per message: parse an OCPP CALL, answer a CALLRESULT."""

import orjson

PAYLOAD = {"currentTime": "2026-01-01T00:00:00Z"}
SUBPROTOCOL = "ocpp1.6"
PATH_PREFIX = "/ocpp/"
MAX_MESSAGE = 64 * 1024


def reply(data: bytes | bytearray | memoryview | str) -> bytes:
    """Parse `[2, id, action, payload]` and return `[3, id, PAYLOAD]` as UTF-8 JSON."""
    msg = orjson.loads(data)
    answer: bytes = orjson.dumps([3, msg[1], PAYLOAD])
    return answer
