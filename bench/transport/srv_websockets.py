"""Candidate: websockets (new asyncio implementation), optionally on uvloop."""

import argparse
import asyncio
import http

from ocpp_reply import MAX_MESSAGE, PATH_PREFIX, SUBPROTOCOL, reply
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol


def process_request(conn: ServerConnection, request: Request) -> Response | None:
    # Runs before the upgrade: path, headers (Authorization, Sec-WebSocket-Protocol) are here.
    if not request.path.startswith(PATH_PREFIX):
        return conn.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
    return None


async def handler(ws: ServerConnection) -> None:
    try:
        while True:
            data = await ws.recv(decode=False)  # bytes, no UTF-8 decode round trip
            await ws.send(reply(data), text=True)  # bytes sent as a TEXT frame
    except ConnectionClosed:
        pass


async def main(port: int) -> None:
    async with serve(
        handler,
        "127.0.0.1",
        port,
        process_request=process_request,
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        max_size=MAX_MESSAGE,
        compression=None,
        backlog=1024,
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.run(main(args.port))
    else:
        asyncio.run(main(args.port))
