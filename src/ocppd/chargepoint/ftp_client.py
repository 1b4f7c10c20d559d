"""A station's FTP client: one file up or down per attempt, with aioftp's client.

What a charger in the field does with an `ftp://` location, and what `files.py` asks of it:

- Passive mode only (EPSV, then PASV): a charger sits behind NAT and cannot accept a data
  connection. The data connection goes to the host of the URL, whatever address a PASV answer
  names (a server behind NAT often names its private one).
- `ftp://USER:PASSWORD@HOST:PORT/PATH`: user and password percent-decoded (RFC 3986), no user
  = anonymous (RFC 1738). The path is relative to the login directory (RFC 1738), so
  `ftp://h/dir/f.bin` is `RETR dir/f.bin`; an upload location is a directory, the file is
  stored there under the name the station chose (`STOR dir/<name>`). Binary type.
- Timeouts are real seconds (the network is real even when the station's clock runs fast):
  connecting; the greeting and login together; each exchange on the control connection as a
  whole (so a server trickling continuation lines cannot hold it); every read or write of the
  data connection. A server that stops answering fails the attempt.
- A transfer counts only once the server confirmed it (226 after the data connection closed):
  a dropped connection or a refusal (530 login, 550 path, 552 size limit) fails it.

A user, password or path holding CR, LF or NUL fails before anything is sent: it would
smuggle a second command into the control connection.

Explicit FTPS (`tls`, `ocppd simulate --ftp-tls`): AUTH TLS right after the greeting, the
server's certificate checked against the URL's host, then PBSZ 0 and PROT P (the data
connections in TLS too, resuming the control connection's TLS session), all before USER:
the credentials never travel in the clear. A server that does not take AUTH TLS fails the
attempt, as a charger that insists on TLS does (curl's `--ssl-reqd`).
"""

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aioftp

BLOCK_BYTES = 64 * 1024
"""Written and read per socket operation: each has the timeout of its own."""

FORBIDDEN = frozenset("\r\n\0")

# What a failed attempt raises, from the network or a server answering nonsense: refused or
# reset connections and timeouts (OSError), unexpected codes (aioftp's errors), answers
# that do not parse (ValueError, LookupError), a connection closed mid-read (EOFError).
FAILURES = (aioftp.AIOFTPException, OSError, ValueError, LookupError, EOFError)


class FtpFailed(Exception):
    """The transfer did not complete; the message says where and why."""


@dataclass(frozen=True)
class FtpLocation:
    host: str
    port: int
    user: str
    password: str
    path: str
    """Relative to the login directory, percent-decoded; '' for the login directory itself."""

    @classmethod
    def parse(cls, url: str) -> "FtpLocation":
        parts = urlsplit(url)
        try:
            port = parts.port or aioftp.DEFAULT_PORT
        except ValueError:
            raise FtpFailed(f"{_shown(url)}: not a valid port") from None
        if not parts.hostname:
            raise FtpFailed(f"{_shown(url)}: no host")
        location = cls(
            host=parts.hostname,
            port=port,
            user=unquote(parts.username) if parts.username else "anonymous",
            password=unquote(parts.password) if parts.password else "",
            path=unquote(parts.path).strip("/"),
        )
        for value in (location.user, location.password, location.path):
            if FORBIDDEN.intersection(value):
                raise FtpFailed(f"{_shown(url)}: CR, LF or NUL in the user, password or path")
        return location


def _shown(url: str) -> str:
    """The URL for a message or a log line: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()


async def upload(
    url: str, file_name: str, data: bytes, timeout: float, tls: ssl.SSLContext | None = None
) -> None:
    """Store `data` as `file_name` in the directory `url` (over explicit FTPS with `tls`)."""
    location = FtpLocation.parse(url)
    target = f"{location.path}/{file_name}" if location.path else file_name
    if FORBIDDEN.intersection(target):
        raise FtpFailed(f"{_shown(url)}: CR, LF or NUL in the file name")
    async with _session(url, location, timeout, tls) as client:
        stream = await _data_connection(client, f"STOR {target}", timeout)
        try:
            for start in range(0, len(data), BLOCK_BYTES):
                await stream.write(data[start : start + BLOCK_BYTES])
        finally:
            stream.close()  # the end of the file, in FTP's stream mode
        await _transfer_confirmed(client, timeout)


async def download(
    url: str, timeout: float, max_bytes: int, tls: ssl.SSLContext | None = None
) -> bytes:
    """The file at `url`; more than `max_bytes` fails (over explicit FTPS with `tls`)."""
    location = FtpLocation.parse(url)
    if not location.path:
        raise FtpFailed(f"{_shown(url)}: no file named")
    blocks: list[bytes] = []
    size = 0
    async with _session(url, location, timeout, tls) as client:
        stream = await _data_connection(client, f"RETR {location.path}", timeout)
        try:
            async for block in stream.iter_by_block(BLOCK_BYTES):
                size += len(block)
                if size > max_bytes:
                    raise FtpFailed(f"{_shown(url)}: larger than {max_bytes} bytes")
                blocks.append(block)
        finally:
            stream.close()
        await _transfer_confirmed(client, timeout)
    return b"".join(blocks)


async def _data_connection(
    client: aioftp.Client, command: str, timeout: float
) -> aioftp.DataConnectionThrottleStreamIO:
    """The passive data connection of `command`, once the server said the transfer starts
    (1xx). The exchange has `timeout` as a whole (a server trickling continuation lines
    cannot hold it), and a refusal closes the data connection already opened (aioftp's
    `get_stream` leaves it open)."""
    async with asyncio.timeout(timeout):
        reader, writer = await client.get_passive_connection("I")
        try:
            await client.command(command, "1xx")
        except BaseException:
            writer.close()
            raise
    return aioftp.DataConnectionThrottleStreamIO(
        client, reader, writer, throttles={"_": client.throttle}, timeout=timeout
    )


async def _transfer_confirmed(client: aioftp.Client, timeout: float) -> None:
    """The server's 2xx after the data connection closed: only then did the file arrive
    whole. Within `timeout` as a whole."""
    async with asyncio.timeout(timeout):
        await client.command(None, "2xx", "1xx")


@contextlib.asynccontextmanager
async def _session(
    url: str, location: FtpLocation, timeout: float, tls: ssl.SSLContext | None
) -> AsyncIterator[aioftp.Client]:
    """A logged-in client (in TLS first with `tls`); every failure inside becomes
    `FtpFailed` naming the URL."""
    client = aioftp.Client(
        socket_timeout=timeout, connection_timeout=timeout, passive_commands=("epsv", "pasv")
    )
    try:
        try:
            async with asyncio.timeout(timeout):  # a greeting or login that never ends
                await client.connect(location.host, location.port)
                if tls is not None:
                    await client.upgrade_to_tls(tls)
                await client.login(location.user, location.password)
            yield client
        except FtpFailed:
            raise
        except aioftp.StatusCodeError as exc:
            raise FtpFailed(f"{_shown(url)}: the server answered {_answer(exc)}") from None
        except FAILURES as exc:
            raise FtpFailed(f"{_shown(url)}: {_reason(exc, timeout)}") from None
        with contextlib.suppress(*FAILURES):
            # The server confirmed the transfer; how it ends the session does not matter.
            await client.quit()
    finally:
        client.close()


def _reason(exc: Exception, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionError | EOFError) and not str(exc):
        return f"the connection was closed ({type(exc).__name__})"
    return f"{type(exc).__name__} {exc}".rstrip()


def _answer(exc: aioftp.StatusCodeError) -> str:
    codes = ",".join(str(code) for code in exc.received_codes)
    info = " ".join(str(line) for line in exc.info) if isinstance(exc.info, list) else exc.info
    return f"{codes} {info.strip()}".strip()
