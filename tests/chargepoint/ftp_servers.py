"""FTP servers for the simulator's tests, each on a free port of its own.

- `real_ftp_server`: aioftp's server on a temporary directory, one user with a password: what
  a working site looks like (it also refuses a wrong password, 530, and a missing file or
  directory, 550).
- `ScriptedFtp`: a small server of our own speaking just enough FTP (USER, PASS, TYPE, EPSV,
  PASV, STOR, RETR, QUIT) whose sessions break as told, which aioftp's server cannot be made
  to do: drop both connections mid-transfer, refuse an upload over a size limit (552), stall
  on the data connection, never greet.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aioftp

USER = "ops"
PASSWORD = "s3cret p@ss:/?#%"
"""Every character that must be percent-encoded in a URL's user info."""
PASSWORD_IN_URL = "s3cret%20p%40ss%3A%2F%3F%23%25"


@contextlib.asynccontextmanager
async def real_ftp_server(root: Path) -> AsyncIterator[str]:
    """aioftp's server serving `root` to USER/PASSWORD; yields `ftp://USER:PASSWORD@host:port`."""
    user = aioftp.User(USER, PASSWORD, base_path=root, home_path="/")
    server = aioftp.Server([user])
    await server.start("127.0.0.1", 0)
    try:
        yield f"ftp://{USER}:{PASSWORD_IN_URL}@127.0.0.1:{server.address[1]}"
    finally:
        await server.close()


Behaviour = Literal["ok", "drop", "too-large", "stall", "trickle", "silent"]


@dataclass
class ScriptedFtp:
    """Sessions behave as `behaviours` says, one per session in order, then "ok":

    - ok: serves `files` (RETR, by the path as sent) and keeps uploads in `stored` (STOR).
    - drop: on STOR or RETR, both connections closed after a few bytes.
    - too-large: STOR answered 552 once more than `limit` bytes came (data connection closed).
    - stall: STOR or RETR answered 150, then nothing more on either connection.
    - trickle: STOR's data read whole, then "226-" continuation lines, a few a second, never
      the last line (each line well within any read timeout).
    - silent: the connection accepted, no greeting ever.
    """

    behaviours: list[Behaviour] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    stored: dict[str, bytes] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    """Every command line received, in order (PASS included: a test server)."""
    sessions: int = 0
    limit: int = 100
    epsv: bool = True
    """False: EPSV answered 502, as by servers that know PASV only."""
    url: str = ""
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def __aenter__(self) -> "ScriptedFtp":
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ftp://{USER}:{PASSWORD_IN_URL}@127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        behaviour = self.behaviours.pop(0) if self.behaviours else "ok"
        self.sessions += 1
        self._writers.add(writer)
        data: Passive | None = None
        try:
            if behaviour == "silent":
                await reader.read()  # until the client gives up
                return
            reply(writer, "220 scripted")
            while line := await reader.readline():
                command = line.decode("utf-8", "replace").rstrip("\r\n")
                self.commands.append(command)
                verb, _, argument = command.partition(" ")
                verb = verb.upper()
                if verb in ("STOR", "RETR"):
                    if data is None:
                        reply(writer, "425 use EPSV or PASV first")
                        continue
                    transfer = self._stor if verb == "STOR" else self._retr
                    if not await transfer(behaviour, argument, data, reader, writer):
                        return
                    data.close()
                    data = None
                elif verb == "PASV" or (verb == "EPSV" and self.epsv):
                    data = await Passive.open()
                    if verb == "EPSV":
                        reply(writer, f"229 Entering Extended Passive Mode (|||{data.port}|)")
                    else:
                        high, low = divmod(data.port, 256)
                        # An address the client cannot reach (a server behind NAT names
                        # its private one): the client must use the control connection's.
                        reply(writer, f"227 Entering Passive Mode (192,0,2,1,{high},{low})")
                elif verb == "QUIT":
                    reply(writer, "221 bye")
                    return
                else:
                    reply(writer, self._answer(verb, argument))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if data is not None:
                data.close()
            writer.close()
            self._writers.discard(writer)

    def _answer(self, verb: str, argument: str) -> str:
        if verb == "USER":
            return "331 password please"
        if verb == "PASS":
            return "230 welcome" if argument == PASSWORD else "530 wrong password"
        if verb == "TYPE":
            return "200 type set"
        return f"502 {verb} not implemented"

    async def _stor(
        self,
        behaviour: Behaviour,
        path: str,
        data: "Passive",
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """False: the session ends here."""
        reply(writer, "150 send it")
        incoming, outgoing = await data.connection()
        if behaviour == "drop":
            await incoming.read(10)
            return False
        if behaviour == "stall":
            await reader.read()
            return False
        received = b""
        while chunk := await incoming.read(65536):
            received += chunk
            if behaviour == "too-large" and len(received) > self.limit:
                outgoing.close()
                reply(writer, "552 exceeded storage allocation")
                return True
        while behaviour == "trickle":
            reply(writer, "226-still storing")
            await writer.drain()
            await asyncio.sleep(0.1)
        self.stored[path] = received
        reply(writer, "226 stored")
        return True

    async def _retr(
        self,
        behaviour: Behaviour,
        path: str,
        data: "Passive",
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        content = self.files.get(path)
        if content is None:
            reply(writer, "550 no such file")
            return True
        reply(writer, "150 here it comes")
        _, outgoing = await data.connection()
        if behaviour == "stall":
            await reader.read()
            return False
        if behaviour == "drop":
            outgoing.write(content[: len(content) // 2])
            await outgoing.drain()
            return False
        outgoing.write(content)
        await outgoing.drain()
        outgoing.close()
        reply(writer, "226 sent")
        return True


def reply(writer: asyncio.StreamWriter, line: str) -> None:
    writer.write(line.encode() + b"\r\n")


@dataclass
class Passive:
    """A listener for one data connection."""

    server: asyncio.Server
    port: int
    arrived: "asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]"

    @classmethod
    async def open(cls) -> "Passive":
        arrived: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
        arrived = asyncio.get_running_loop().create_future()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if arrived.done():
                writer.close()
            else:
                arrived.set_result((reader, writer))

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        return cls(server, server.sockets[0].getsockname()[1], arrived)

    async def connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.shield(self.arrived), 60)

    def close(self) -> None:
        self.server.close()
        if self.arrived.done():
            self.arrived.result()[1].close()
