"""A WebSocket client on a plain socket, for what a library client would not do: never answer
a ping, flood the server without reading, stop reading its answers."""

import asyncio
import socket
import struct

KEY = "MDEyMzQ1Njc4OWFiY2RlZg=="  # base64 of 16 bytes, as RFC 6455 asks


def upgrade_request(path: str, subprotocol: str = "ocpp1.6") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
    ).encode()


def masked_text_frame(text: str | bytes) -> bytes:
    """One final text frame as a client sends it: masked, with a zero key (legal, and the
    payload stays as it is, so floods are cheap to build). Bytes are sent as they are, UTF-8
    or not."""
    payload = text.encode() if isinstance(text, str) else text
    if len(payload) < 126:
        header = bytes([0x81, 0x80 | len(payload)])
    elif len(payload) < 65536:
        header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", len(payload))
    return header + bytes(4) + payload


async def open_upgraded(port: int, path: str) -> socket.socket:
    """A non-blocking socket past the 101 answer (whatever follows it stays unread)."""
    raw = socket.create_connection(("127.0.0.1", port))
    raw.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(raw, upgrade_request(path))
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = await asyncio.wait_for(loop.sock_recv(raw, 1), 5)
        assert chunk, f"closed during the handshake: {answer!r}"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return raw


class ServerFrames:
    """Frames from the server (never masked), parsed from what the socket delivers."""

    def __init__(self, raw: socket.socket) -> None:
        self.raw = raw
        self.buffer = b""
        self.eof = False

    async def next(self, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """(opcode, payload) of the next frame; None at the end of the stream."""
        loop = asyncio.get_running_loop()
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            if self.eof:
                return None
            chunk = await asyncio.wait_for(loop.sock_recv(self.raw, 65536), timeout)
            self.eof = not chunk
            self.buffer += chunk

    def _parse(self) -> tuple[int, bytes] | None:
        if len(self.buffer) < 2:
            return None
        opcode, length, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if length == 126:
            if len(self.buffer) < 4:
                return None
            (length,), start = struct.unpack("!H", self.buffer[2:4]), 4
        elif length == 127:
            if len(self.buffer) < 10:
                return None
            (length,), start = struct.unpack("!Q", self.buffer[2:10]), 10
        if len(self.buffer) < start + length:
            return None
        payload = self.buffer[start : start + length]
        self.buffer = self.buffer[start + length :]
        return opcode, payload
