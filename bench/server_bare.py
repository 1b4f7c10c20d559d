"""The ceiling for `bench/server.py`: ocppd's WebSocket stack with nothing behind it.

uvicorn (httptools, ocppd's `CompactWebSocketProtocol`, uvloop) serving a raw ASGI app,
configured like `ocppd serve` (no deflate, same frame cap, pings): each CALL is parsed with
msgspec and answered with a fixed CALLRESULT that is valid for its action. No validation, no
storage.
"""

import argparse
from typing import Any

import msgspec
import uvicorn

from ocppd.transport.websocket_protocol import CompactWebSocketProtocol

NOW = "2026-01-01T00:00:00.000Z"
REPLIES = {
    "BootNotification": {"status": "Accepted", "currentTime": NOW, "interval": 300},
    "Heartbeat": {"currentTime": NOW},
    "StatusNotification": {},
    "MeterValues": {},
    "StartTransaction": {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
    "StopTransaction": {"idTagInfo": {"status": "Accepted"}},
    "Authorize": {"idTagInfo": {"status": "Accepted"}},
}
decode = msgspec.json.decode
encode = msgspec.json.encode


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    accept = {"type": "websocket.accept"}
    if "ocpp1.6" in scope.get("subprotocols", ()):
        accept["subprotocol"] = "ocpp1.6"
    await send(accept)
    # As ocppd's OcppApp: the headers are not kept once accepted, and nothing of a message
    # while waiting for the next one.
    scope["headers"] = ()
    while (reply := reply_to(await receive())) is not None:
        await send({"type": "websocket.send", "text": reply})


def reply_to(event: dict[str, Any]) -> str | None:
    if event["type"] != "websocket.receive":
        return None
    frame = decode(event.get("text") or event["bytes"])
    return encode([3, frame[1], REPLIES.get(frame[2], {})]).decode()


# ocppd serve's WebSocket settings (also used by server_memory.py's bare variant).
UVICORN: dict[str, Any] = {
    "http": "httptools",
    "ws": CompactWebSocketProtocol,
    "ws_max_size": 1024 * 1024,
    "ws_per_message_deflate": False,
    "ws_ping_interval": 60.0,
    "ws_ping_timeout": 60.0,
    "lifespan": "off",
    "log_level": "warning",
    "access_log": False,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--uvicorn-ws", action="store_true", help="uvicorn's own sans-I/O protocol")
    args = ap.parse_args()
    options = dict(UVICORN)
    if args.uvicorn_ws:
        options["ws"] = "websockets-sansio"
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", **options)


if __name__ == "__main__":
    main()
