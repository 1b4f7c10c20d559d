"""Candidate: aiohttp web server on uvloop (serves plain HTTP routes on the same port)."""

import argparse

import uvloop
from aiohttp import WSMsgType, web
from ocpp_reply import MAX_MESSAGE, SUBPROTOCOL, reply


async def ocpp(request: web.Request) -> web.StreamResponse:
    # Before prepare(): request.match_info["cp_id"], request.headers["Authorization"], ...
    # Returning/raising an HTTP error here (e.g. web.HTTPUnauthorized) rejects before upgrading.
    ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), max_msg_size=MAX_MESSAGE)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_frame(reply(msg.data), WSMsgType.TEXT)
    return ws


async def health(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    app = web.Application()
    app.router.add_get("/ocpp/{cp_id}", ocpp)
    app.router.add_get("/health", health)
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        backlog=1024,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
