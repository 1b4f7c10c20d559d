"""The ceiling for `bench/server.py`: ocppd's WebSocket stack with nothing behind it.

uvicorn (httptools, `ws="websockets-sansio"`, uvloop) serving a raw ASGI app, configured like
`ocppd serve` (no deflate, same frame cap, pings): each CALL is parsed with msgspec and
answered with a fixed CALLRESULT that is valid for its action. No validation, no storage.
"""

import argparse
from typing import Any

import msgspec
import uvicorn

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
    while True:
        event = await receive()
        if event["type"] != "websocket.receive":
            return
        frame = decode(event.get("text") or event.get("bytes"))
        reply = [3, frame[1], REPLIES.get(frame[2], {})]
        await send({"type": "websocket.send", "text": encode(reply).decode()})


# ocppd serve's WebSocket settings (also used by server_memory.py's bare variant).
UVICORN = {
    "http": "httptools",
    "ws": "websockets-sansio",
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
    args = ap.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", **UVICORN)


if __name__ == "__main__":
    main()
