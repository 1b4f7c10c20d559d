"""A TCP proxy on 127.0.0.1 that can stop forwarding and resume: a network black hole between
the central system and its database, with no root and without touching the database server.

While it holds (`black_hole`), nothing passes in either direction and nothing is refused:
connections stay open, new ones are accepted but not connected through, bytes sent wait.
On `resume` what waited is delivered, as TCP delivers what it retransmits once a route
comes back; a connection that its client closed meanwhile is closed on the other side after
its bytes are delivered (a statement sent before the client gave up may still run).
"""

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.forwarding = asyncio.Event()
        self.forwarding.set()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def black_hole(self) -> None:
        self.forwarding.clear()

    def resume(self) -> None:
        self.forwarding.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        ends = [writer]
        self._writers.add(writer)
        try:
            await self.forwarding.wait()
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            ends.append(upstream_writer)
            self._writers.add(upstream_writer)
            await asyncio.gather(
                self._pump(reader, upstream_writer), self._pump(upstream_reader, writer)
            )
        except OSError:
            pass
        finally:
            self._tasks.discard(task)
            for end in ends:
                self._writers.discard(end)
                end.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.forwarding.wait()
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            await self.forwarding.wait()
            with contextlib.suppress(OSError):
                writer.close()
