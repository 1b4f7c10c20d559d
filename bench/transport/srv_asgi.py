"""Candidate: an ASGI server (uvicorn or granian) running a tiny ASGI app on uvloop."""

import argparse
from typing import Any

from ocpp_reply import MAX_MESSAGE, PATH_PREFIX, SUBPROTOCOL, reply

Scope = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok\n"})
        return
    await websocket(scope, receive, send)


async def websocket(scope: Scope, receive: Any, send: Any) -> None:
    await receive()  # websocket.connect; scope["path"], scope["headers"] readable before accept
    if not scope["path"].startswith(PATH_PREFIX):
        # ASGI "websocket.http.response" extension: a real HTTP answer instead of the upgrade.
        await send({"type": "websocket.http.response.start", "status": 404, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"not found\n"})
        return
    accept = {"type": "websocket.accept"}
    if SUBPROTOCOL in scope.get("subprotocols", ()):
        accept["subprotocol"] = SUBPROTOCOL
    await send(accept)
    while True:
        event = await receive()
        if event["type"] != "websocket.receive":
            return
        data = event.get("text") or event.get("bytes")
        await send({"type": "websocket.send", "text": reply(data).decode()})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    ap.add_argument("--ws", default="websockets-sansio", help="uvicorn ws implementation")
    args = ap.parse_args()
    if args.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            "srv_asgi:app",
            host="127.0.0.1",
            port=args.port,
            loop="uvloop",
            http="httptools",
            ws=args.ws,
            ws_max_size=MAX_MESSAGE,
            backlog=1024,
            log_level="warning",
            access_log=False,
        )
    else:
        from granian.constants import Interfaces, Loops
        from granian.log import LogLevels
        from granian.server import Server

        Server(
            "srv_asgi:app",
            address="127.0.0.1",
            port=args.port,
            interface=Interfaces.ASGI,
            loop=Loops.uvloop,
            backlog=2048,
            log_level=LogLevels.warning,
        ).serve()


if __name__ == "__main__":
    main()
