"""Candidate: picows server on uvloop (callback API, WebSocket-only HTTP parser)."""

import argparse

import uvloop
from ocpp_reply import MAX_MESSAGE, PATH_PREFIX, SUBPROTOCOL, reply
from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

PREFIX = PATH_PREFIX.encode()


class OcppListener(WSListener):  # type: ignore[misc]  # picows is not in this venv
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        # Raw frames: a fragmented message arrives as TEXT(fin=False) + CONTINUATION frames.
        if frame.msg_type == WSMsgType.TEXT:
            transport.send(WSMsgType.TEXT, reply(frame.get_payload_as_memoryview()))
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


def route(request: WSUpgradeRequest) -> WSUpgradeResponseWithListener | None:
    # Called before the upgrade; request.path is bytes, request.headers a CIMultiDict.
    if not request.path.startswith(PREFIX):
        return None  # picows answers 404 and closes
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    headers = {"Sec-WebSocket-Protocol": SUBPROTOCOL} if SUBPROTOCOL in offered else None
    response = WSUpgradeResponse.create_101_response(extra_headers=headers)
    return WSUpgradeResponseWithListener(response, OcppListener())


async def main(port: int) -> None:
    server = await ws_create_server(
        route, "127.0.0.1", port, max_frame_size=MAX_MESSAGE, backlog=1024
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    uvloop.run(main(args.port))
