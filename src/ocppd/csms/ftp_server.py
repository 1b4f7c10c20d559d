"""The central system's FTP server (`--ftp-port`, issue 20): chargers that speak only FTP
upload diagnostics and download firmware images here, in the same process and event loop.

aioftp's `Server` runs the protocol (the control connection, passive data connections,
timeouts, the connection bound); what a login may do is ocppd's, and narrow:

- A login is a job's credentials (`jobs.new_token`: `LOGIN:PASSWORD`, kept hashed), looked
  up in the database on PASS. Every name is asked for a password (no user enumeration, no
  anonymous login); a wrong one is answered 530 after a delay. Each transfer checks the
  credentials again: once the job has ended, expired or its upload was kept, they stop working.
- The only directory is `/`, empty to LIST (refused: there is nothing to list, and other
  jobs' files are not there). An upload job's login may STOR one file under a plain name of
  its own choosing (no `/`, `\\`, `..`, control characters or NUL: refused 553); a firmware
  job's login may RETR (and SIZE, REST) the image it was sent, by its name. Nothing else: no
  delete, rename, directories, append.
- An upload streams to the same `FileStore` as HTTP uploads: size limit (552, nothing kept),
  SHA-256, renamed into place when complete, the job's token consumed. FTP's stream mode ends
  a file by closing the data connection, so an upload whose client is gone by then (its
  control connection closed: it was killed or lost, not finished) is dropped, as are an upload
  cut by ABOR, an error or a data connection silent for `ftp_timeout` seconds; the job keeps
  why (`transfer_error`) and its credentials stay good for a retry.
- A data connection is accepted only from the control connection's address (else anyone
  who finds the passive port first takes the transfer).
- Bounded: `ftp_max_connections` control connections (beyond, 421 at once), a few password
  lookups in the database at a time, every read and write within `ftp_timeout`.
- A connection's commands run one after the other, in the order sent (aioftp runs each as
  a task of its own as soon as it is read: pipelined PASVs each took a passive port for
  good, pipelined STORs raced for one data connection, a command after REST could reset
  its offset before RETR read it), and one transfer at a time (another STOR or RETR
  meanwhile: 450). A failure of ours in a command is one WARNING line and 451, never a
  traceback that ends the connection.
- FTPS, explicit and optional: with `--tls-cert`, AUTH TLS upgrades the control connection
  and PROT P each data connection; a client that does not ask stays in plain FTP.
"""

import asyncio
import contextlib
import ipaddress
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import aioftp
from aioftp.common import Connection, StreamIO, ThrottleStreamIO

from ocppd.csms import jobs
from ocppd.csms.files import FileStore, Received, TooLarge
from ocppd.csms.models import firmware
from ocppd.csms.settings import Settings
from ocppd.csms.system_services import SystemServices

log = logging.getLogger("ocppd.csms.ftp_server")
# aioftp logs each connection's start and end at INFO: a line per charger transfer, and
# two hundred for a burst of a hundred logins. Our own lines say what matters.
logging.getLogger("aioftp.server").setLevel(logging.WARNING)

LOGIN_CHECKS = 4
"""Password lookups in the database at once: a burst of logins queues here rather than
taking the pool's connections."""
FAILED_LOGIN_DELAY = 1.0
"""Seconds before a wrong password is answered: guessing is slow (the secrets are long
anyway) and a client retrying in a loop costs little."""
BLOCK = 64 * 1024

UPGRADE = object()
"""Marks the 234 answer to AUTH TLS: the writer starts TLS once it is written."""

GONE = "\x00gone"
IDLE = "\x00idle"
TOO_LONG = "\x00too long"
"""Commands of our own for what `parse_command` saw: the client went, kept silent, or sent
a line beyond the reader's limit (64 KiB)."""

OFFSET = re.compile(r"[0-9]{1,18}")
"""REST's argument: ASCII digits (`str.isdigit` takes `²`, which `int` refuses), short
enough for a file offset (Python refuses to convert 4,300 digits and more)."""

Handler = Callable[[Connection, str], Awaitable[bool]]

RESERVED_NAMES = {".", ".."}


def plain_name(rest: str) -> str | None:
    """A file name without any path: no separator, not `.`/`..`, printable (no NUL or other
    control character), at most 255 characters; None for anything else."""
    name = rest  # the whole argument is the name
    if (
        not name
        or len(name) > 255
        or "/" in name
        or "\\" in name
        or name in RESERVED_NAMES
        or not name.isprintable()
    ):
        return None
    return name


class JobUser(aioftp.User):
    """A login; once its password is right, the job it belongs to."""

    def __init__(self, login: str) -> None:
        super().__init__(login, None, base_path="/nonexistent", home_path="/")
        self.token = ""
        self.job_id = 0
        self.kind = ""


class JobLogins(aioftp.AbstractUserManager):
    """The jobs' credentials, in the database."""

    def __init__(self, services: SystemServices) -> None:
        super().__init__()
        self.services = services
        self.checks = asyncio.Semaphore(LOGIN_CHECKS)

    async def get_user(
        self, login: str
    ) -> tuple[aioftp.AbstractUserManager.GetUserResponse, aioftp.User | None, str]:
        # Every name gets a password prompt: which logins exist is not told.
        required = aioftp.AbstractUserManager.GetUserResponse.PASSWORD_REQUIRED
        return required, JobUser(login), "password required"

    async def authenticate(self, user: aioftp.User, password: str) -> bool:
        assert isinstance(user, JobUser)
        token = f"{user.login}:{password}"
        job = await self.job(token)
        if job is None:
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            return False
        user.token, user.job_id, user.kind = token, int(job.id), str(job.kind)
        return True

    async def job(self, token: str) -> Any:
        """The open job of these FTP credentials, or None."""
        async with self.checks, self.services.engine.connect() as db:
            return await jobs.by_token(db, None, token, self.services.clock(), jobs.FTP)


def public_host(settings: Settings) -> str:
    """The host chargers are told: `ftp_public_host`, else the public URL's host; empty when
    neither is set (the API then takes the host its request came in on)."""
    return settings.ftp_public_host or urlsplit(settings.public_url).hostname or ""


HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def checked_host(text: str) -> str:
    """`--ftp-public-host` as it goes into chargers' `ftp://` URLs: an IP address (IPv6 with
    or without brackets) or a DNS name; ValueError saying why not. Anything else (`x@y`,
    `host:21`, a space, a URL) would make a location that no charger parses as meant."""
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    name = text.removesuffix(".")
    if len(name) <= 253 and all(HOST_LABEL.fullmatch(label) for label in name.split(".")):
        return name
    raise ValueError(f"{text!r} is not a host name or IP address (no port, user or path)")


def location(host: str, port: int, token: str, name: str = "") -> str:
    """`ftp://LOGIN:PASSWORD@HOST:PORT/NAME` (both URL-safe: `jobs.new_token`; `name` quoted
    by the caller); an IPv6 address in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"ftp://{token}@{shown}:{port}/{name}"


def _ipv4(host: str) -> str | None:
    try:
        socket.inet_aton(host)
    except OSError:
        return None
    return host if host.count(".") == 3 else None


def answer(connection: Connection, code: str, info: str) -> bool:
    connection.response(code, info)
    return True


class JobFtpServer(aioftp.Server):
    """aioftp's server with ocppd's commands (see the module's docstring)."""

    def __init__(self, services: SystemServices) -> None:
        settings = services.settings
        ports = settings.ftp_passive_ports
        super().__init__(
            JobLogins(services),
            block_size=BLOCK,
            socket_timeout=settings.ftp_timeout,
            idle_timeout=settings.ftp_timeout,
            wait_future_timeout=settings.ftp_timeout,
            maximum_connections=settings.ftp_max_connections,
            ipv4_pasv_forced_response_address=_ipv4(public_host(settings)),
            data_ports=None if ports is None else range(ports[0], ports[1] + 1),
            welcome_message="ocppd: log in with a job's credentials",
        )
        self.services = services
        self.tls = _tls_context(settings)
        """For AUTH TLS (explicit FTPS) with `--tls-cert`; None: plain FTP only."""
        self.logins: JobLogins = self.user_manager  # type: ignore[assignment]
        self.store = FileStore(settings.data_dir)
        commands: dict[str, Handler] = {
            "user": self.login_name,
            "pass": self.password,
            "quit": self.quit_after_transfer,
            "syst": self.syst,
            "type": self.type,
            "pwd": self.pwd,
            "cwd": self.change_directory,
            "cdup": self.parent_directory,
            "noop": self.noop,
            "feat": self.feat,
            "opts": self.opts,
            "mode": self.mode,
            "stru": self.stru,
            "pasv": self.passive,
            "epsv": self.extended_passive,
            "rest": self.restart,
            "abor": self.abor,
            "auth": self.auth,
            "pbsz": self.protection_buffer,
            "prot": self.protection,
            "size": self.file_size,
            "retr": self.retrieve,
            "stor": self.store_file,
            **dict.fromkeys(("list", "nlst", "mlsd", "mlst", "stat"), self.no_listing),
        }
        self.commands_mapping = {
            **{name: _in_order(name, handler) for name, handler in commands.items()},
            GONE: self.gone,
            IDLE: self.idle,
            TOO_LONG: self.too_long,
        }

    # The control connection: what aioftp would log as an exception is a client's doing.

    async def dispatcher(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """aioftp's, except that the cancellation with which `close` ends a connection stops
        here. The task is the one asyncio's streams started for the connection, and Python
        3.11 asks a finished one for its exception: a cancelled one raised there, an ERROR
        with a traceback for every connection open at each shutdown. Its transfers have been
        concluded (recorded, nothing partial kept) by aioftp's own clean-up by then."""
        with contextlib.suppress(asyncio.CancelledError):
            await super().dispatcher(reader, writer)

    async def parse_command(
        self, stream: StreamIO, censor_commands: tuple[str] = ("pass",)
    ) -> tuple[str, str]:
        while True:
            try:
                line = await stream.readline()
                break
            except TimeoutError:
                # The control connection is silent during a transfer: only a connection
                # with none under way is idle.
                connection = self.connections.get(stream)
                if connection is None or not connection.extra_workers:
                    return IDLE, ""
            except ValueError:  # a line beyond the reader's limit
                return TOO_LONG, ""
            except OSError:  # reset
                return GONE, ""
        if not line:
            return GONE, ""
        text = line.decode(self.encoding, errors="replace").rstrip("\r\n")
        command, _, rest = text.partition(" ")
        return command.lower(), rest

    async def response_writer(self, stream: StreamIO, response_queue: asyncio.Queue[Any]) -> None:
        """aioftp's, except that a client gone (or not reading) ends nothing here: the reader
        sees it and the connection ends there, without a traceback."""
        while True:
            args = await response_queue.get()
            try:
                if args[-1] is UPGRADE:
                    await self._upgrade(stream, *args[:-1])
                else:
                    await self.write_response(stream, *args)
            except (OSError, TimeoutError, ssl.SSLError):
                stream.close()
            finally:
                response_queue.task_done()

    async def _upgrade(self, stream: StreamIO, code: str, info: str) -> None:
        """234, then TLS on the control connection. Reading pauses before the answer goes
        out, so the client's handshake never reaches the command reader as text."""
        assert self.tls is not None
        cast(asyncio.Transport, stream.writer.transport).pause_reading()
        await self.write_response(stream, code, info)
        await stream.start_tls(self.tls, None)

    async def gone(self, connection: Connection, rest: str) -> bool:
        return False

    async def idle(self, connection: Connection, rest: str) -> bool:
        connection.response("421", "idle too long, closing")
        return False

    async def too_long(self, connection: Connection, rest: str) -> bool:
        # The rest of the line may still come: nothing after it can be read as a command.
        log.info("ftp: a command line over 64 KiB from %s; closing", connection.client_host)
        connection.response("500", "command line too long, closing")
        return False

    # Logging in and out, never while a transfer runs under the login.

    async def login_name(self, connection: Connection, rest: str) -> bool:
        if _transferring(connection):
            return answer(connection, "503", "a transfer is under way: USER after it ends")
        return await self.user(connection, rest)

    async def password(self, connection: Connection, rest: str) -> bool:
        if _transferring(connection):
            return answer(connection, "503", "a transfer is under way: PASS after it ends")
        return await self.pass_(connection, rest)

    async def quit_after_transfer(self, connection: Connection, rest: str) -> bool:
        """221 once the transfer under way (if any) has ended and been answered (RFC 959:
        QUIT during a transfer waits for its reply), so that a client that sends QUIT
        right after its data loses neither the upload nor the answer."""
        running = _running(connection)
        if running:
            await asyncio.wait(running)
        connection.response("221", "bye")
        return False

    async def noop(self, connection: Connection, rest: str) -> bool:
        return answer(connection, "200", "")

    async def feat(self, connection: Connection, rest: str) -> bool:
        connection.response(
            "211", ["features:", "EPSV", "PASV", "SIZE", "REST STREAM", "end"], True
        )
        return True

    async def opts(self, connection: Connection, rest: str) -> bool:
        if rest.upper() == "UTF8 ON":
            return answer(connection, "200", "always UTF-8")
        return answer(connection, "501", "no such option")

    async def mode(self, connection: Connection, rest: str) -> bool:
        return answer(connection, *(("200", "") if rest.upper() == "S" else ("504", "stream only")))

    async def stru(self, connection: Connection, rest: str) -> bool:
        return answer(connection, *(("200", "") if rest.upper() == "F" else ("504", "file only")))

    # Explicit TLS (AUTH TLS, then PBSZ 0 and PROT P for the data connections).

    async def auth(self, connection: Connection, rest: str) -> bool:
        if self.tls is None:
            return answer(connection, "502", "no TLS here (the server has no --tls-cert)")
        if rest.upper() not in ("TLS", "TLS-C", "SSL"):
            return answer(connection, "504", "AUTH TLS only")
        if _protected_control(connection):
            return answer(connection, "503", "TLS is on already")
        connection.response("234", "TLS it is", UPGRADE)
        return True

    async def protection_buffer(self, connection: Connection, rest: str) -> bool:
        if not _protected_control(connection):
            return answer(connection, "503", "AUTH TLS first")
        return answer(connection, "200", "PBSZ=0")

    async def protection(self, connection: Connection, rest: str) -> bool:
        if not _protected_control(connection):
            return answer(connection, "503", "AUTH TLS first")
        level = rest.upper()
        if level not in ("C", "P"):
            return answer(connection, "536", "PROT C or P only")
        connection.protected_data = level == "P"
        return answer(connection, "200", f"PROT {level}")

    # The one directory.

    async def change_directory(self, connection: Connection, rest: str) -> bool:
        if not _logged_in(connection):
            return True
        if rest in ("/", "", "."):
            return answer(connection, "250", "")
        return answer(connection, "550", "no such directory: the job's file is in /")

    async def parent_directory(self, connection: Connection, rest: str) -> bool:
        if not _logged_in(connection):
            return True
        return answer(connection, "250", "")

    async def no_listing(self, connection: Connection, rest: str) -> bool:
        if not _logged_in(connection):
            return True
        return answer(connection, "550", "listing is not allowed")

    # Data connections: passive only, and only from the control connection's address.

    def _data_handler(self, connection: Connection) -> Any:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername", ("",))[0]
            if connection.future.data_connection.done() or peer != connection.client_host:
                writer.close()
                return
            if self.tls is not None and _protected_data(connection):
                try:
                    await writer.start_tls(
                        self.tls, ssl_handshake_timeout=connection.socket_timeout
                    )
                except (OSError, TimeoutError, ssl.SSLError):
                    writer.close()
                    return
            connection.data_connection = ThrottleStreamIO(
                reader,
                writer,
                throttles=connection.command_connection.throttles,
                timeout=connection.socket_timeout,
            )

        return handler

    async def _listen(self, connection: Connection) -> bool:
        if connection.future.passive_server.done():
            return True
        try:
            connection.passive_server = await self._start_passive_server(
                connection, self._data_handler(connection)
            )
        except aioftp.errors.NoAvailablePort:
            connection.response("421", "no free passive port")
            return False
        return True

    async def passive(self, connection: Connection, rest: str) -> bool:
        if not _logged_in(connection):
            return True
        if not await self._listen(connection):
            return True
        for sock in connection.passive_server.sockets:
            if sock.family == socket.AF_INET:
                host, port = sock.getsockname()[:2]
                host = self.ipv4_pasv_forced_response_address or host
                numbers = [*host.split("."), str(port >> 8), str(port & 0xFF)]
                return answer(connection, "227", f"Entering Passive Mode ({','.join(numbers)})")
        return answer(connection, "425", "IPv6: use EPSV")

    async def extended_passive(self, connection: Connection, rest: str) -> bool:
        if not _logged_in(connection):
            return True
        if rest:
            return answer(connection, "522", "EPSV without an argument only")
        if not await self._listen(connection):
            return True
        port = connection.passive_server.sockets[0].getsockname()[1]
        return answer(connection, "229", f"Entering Extended Passive Mode (|||{port}|)")

    # The job's file.

    async def current_job(self, connection: Connection) -> Any:
        """The login's job if its credentials still work, else None (answered 530)."""
        user: JobUser = connection.user
        job = await self.logins.job(user.token)
        if job is None:
            connection.response("530", "these credentials have ended with their job")
        return job

    async def restart(self, connection: Connection, rest: str) -> bool:
        """A resumed download: the offset RETR starts at (checked against the image's size
        there). An upload starts at 0: its file is one whole, never appended to."""
        if not _logged_in(connection):
            return True
        if connection.user.kind != jobs.FIRMWARE:
            return answer(connection, "504", "REST only for a download: an upload starts at 0")
        if OFFSET.fullmatch(rest) is None:
            return answer(connection, "501", "REST takes a byte offset (at most 18 digits)")
        connection.restart_at = int(rest)
        return answer(connection, "350", f"RETR starts at byte {rest}")

    async def file_size(self, connection: Connection, rest: str) -> bool:
        if not _logged_in(connection):
            return True
        image = await self._image(connection, rest)
        if image is not None:
            connection.response("213", str(image.size))
        return True

    async def _image(self, connection: Connection, rest: str) -> Any:
        """The firmware image `rest` names, if it is this login's; else answered and None."""
        user: JobUser = connection.user
        if user.kind != jobs.FIRMWARE:
            connection.response("550", "this login uploads its file; it downloads nothing")
            return None
        job = await self.current_job(connection)
        if job is None:
            return None
        async with self.services.engine.connect() as db:
            query = firmware.select().where(firmware.c.id == job.firmware_id)
            image = (await db.execute(query)).first()
        if image is None or plain_name(rest) != image.name:
            connection.response("550", "no such file")
            return None
        return image

    async def retrieve(self, connection: Connection, rest: str) -> bool:
        if not _logged_in(connection) or not _listening(connection) or _busy(connection):
            return True
        offset: int = connection.restart_at
        image = await self._image(connection, rest)
        if image is None:
            return True
        if offset > image.size:
            return answer(
                connection, "554", f"REST {offset} is beyond the image's {image.size} bytes"
            )
        path = self.store.path(jobs.FIRMWARE, image.id)
        self._transfer(connection, self._send(connection, path, offset))
        return True

    async def _send(self, connection: Connection, path: Path, offset: int) -> None:
        stream = await self._data_connection(connection)
        if stream is None:
            return
        try:
            with await asyncio.to_thread(path.open, "rb") as file:
                await asyncio.to_thread(file.seek, offset)
                while block := await asyncio.to_thread(file.read, BLOCK):
                    await stream.write(block)
        except FileNotFoundError:
            connection.response("550", "the image is gone")
        except (OSError, TimeoutError):
            connection.response("426", "data connection lost or too slow")
        else:
            connection.response("226", "transfer complete")
        finally:
            stream.close()

    async def store_file(self, connection: Connection, rest: str) -> bool:
        if not _logged_in(connection) or not _listening(connection) or _busy(connection):
            return True
        user: JobUser = connection.user
        if user.kind == jobs.FIRMWARE:
            return answer(connection, "550", "this login downloads its image; it uploads nothing")
        name = plain_name(rest)
        if name is None:
            return answer(
                connection, "553", "a plain file name only (no path, no control characters)"
            )
        job = await self.current_job(connection)
        if job is not None:
            token = connection.user.token  # the login's, whatever USER comes next
            self._transfer(connection, self._receive(connection, job, token, name))
        return True

    async def _receive(self, connection: Connection, job: Any, token: str, name: str) -> None:
        stream = await self._data_connection(connection)
        if stream is None:
            return
        limit = self.services.settings.max_file_size
        received: Received | None = None
        failure = ""
        reply: tuple[str, str] | None = None
        cancelled = False
        try:
            received = await self.store.receive(job.kind, _blocks(stream), limit)
        except TooLarge:
            failure = f"larger than {limit} bytes"
            reply = "552", f"the file is larger than {limit} bytes; nothing kept"
        except TimeoutError:
            failure = f"the data connection was silent for {self.socket_timeout:g} s"
            reply = "426", "data connection too slow; nothing kept"
        except OSError as error:
            failure = f"the data connection failed ({error.__class__.__name__})"
            reply = "426", "data connection lost; nothing kept"
        except asyncio.CancelledError:  # ABOR, or the control connection ended
            failure, cancelled = "aborted, or the client went during the upload", True
        except Exception as error:  # ours: recorded and answered, no traceback
            failure = f"a failure of the server's ({error.__class__.__name__}: {error})"
            log.warning("ftp: upload for job %d: %s", job.id, failure)
            reply = "451", "local error; nothing kept"
        finally:
            stream.close()
        if not failure and _client_gone(connection):
            failure = "the client went before the end was confirmed"
        # Shielded to its end: the client going meanwhile (a cancellation, which may also
        # come late: asyncio's wait_for can swallow one) must neither leave a file the
        # database does not know of nor go unrecorded.
        await asyncio.shield(self._conclude(connection, job, token, name, received, failure))
        if cancelled:
            raise asyncio.CancelledError  # answered by `_abortable`
        # Answered last, once recorded and with nothing left to await: a client that
        # retries at once finds the transfer ended (not 450) and the job saying why.
        if reply is not None:
            connection.response(*reply)

    async def _conclude(
        self,
        connection: Connection,
        job: Any,
        token: str,
        name: str,
        received: Received | None,
        failure: str,
    ) -> None:
        if received is not None and not failure:
            await self._keep(connection, job, token, name, received)
            return
        if received is not None:
            await self.store.drop(received)
        await self._failed(job, name, failure)

    async def _keep(
        self, connection: Connection, job: Any, token: str, name: str, received: Received
    ) -> None:
        if not await jobs.upload_received(self.services, self.store, job, token, name, received):
            connection.response("530", "these credentials have ended with their job")
            return
        log.info(
            "ftp: %s job %d of %s: %s received (%d bytes)",
            job.kind,
            job.id,
            job.charge_point_id,
            name,
            received.size,
        )
        connection.response("226", "transfer complete")

    async def _failed(self, job: Any, name: str, reason: str) -> None:
        """Recorded on the job: nothing was kept, and why."""
        text = f"upload of {name!r} over FTP: {reason}; nothing kept"
        log.info("ftp: %s job %d of %s: %s", job.kind, job.id, job.charge_point_id, text)
        await jobs.upload_failed(self.services, job, text)

    def _transfer(self, connection: Connection, work: Coroutine[Any, Any, None]) -> None:
        connection.extra_workers.add(asyncio.create_task(_abortable(connection, work)))
        connection.response("150", "data transfer starts")

    async def _data_connection(self, connection: Connection) -> ThrottleStreamIO | None:
        """The data connection once the client opened it (425 if it does not in time)."""
        try:
            await asyncio.wait_for(
                asyncio.shield(connection.future.data_connection), self.wait_future_timeout
            )
        except TimeoutError:
            connection.response("425", "no data connection opened")
            return None
        stream: ThrottleStreamIO = connection.data_connection
        del connection.data_connection
        return stream


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    """`--tls-cert` and `--tls-key` for explicit FTPS; TLS 1.2 at least."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


def _protected_control(connection: Connection) -> bool:
    writer = connection.command_connection.writer
    return writer.get_extra_info("ssl_object") is not None


def _protected_data(connection: Connection) -> bool:
    return bool(connection.future.protected_data.done() and connection.protected_data)


def _logged_in(connection: Connection) -> bool:
    if connection.future.logged.done():
        return True
    connection.response("530", "log in first (USER, PASS)")
    return False


def _running(connection: Connection) -> set[asyncio.Task[Any]]:
    """The connection's transfers under way (the dispatcher forgets ended ones later)."""
    return {task for task in connection.extra_workers if not task.done()}


def _transferring(connection: Connection) -> bool:
    return bool(_running(connection))


def _busy(connection: Connection) -> bool:
    """A transfer is under way on this connection (answered 450): one at a time, each on a
    data connection of its own."""
    if not _transferring(connection):
        return False
    connection.response("450", "a transfer is under way on this connection: one at a time")
    return True


def _in_order(name: str, handler: Handler) -> Handler:
    """`handler` run after the connection's earlier commands have ended (see the module's
    docstring); REST's offset holds for the next command only. A failure of ours is
    answered 451 and logged in one line: the client's connection and the server go on."""

    async def run(connection: Connection, rest: str) -> bool:
        if not connection.future.turn.done():
            connection.turn = asyncio.Lock()
            connection.restart_at = 0
        async with connection.turn:
            try:
                return await handler(connection, rest)
            except Exception as error:  # one line, not a traceback
                log.warning(
                    "ftp: %s from %s failed on the server's side: %s: %s",
                    name.upper(),
                    connection.client_host,
                    error.__class__.__name__,
                    error,
                )
                return answer(connection, "451", "local error; try again")
            finally:
                if name != "rest":
                    connection.restart_at = 0

    return run


def _listening(connection: Connection) -> bool:
    if connection.future.passive_server.done():
        return True
    connection.response("503", "PASV or EPSV first (passive mode only)")
    return False


async def _abortable(connection: Connection, work: Coroutine[Any, Any, None]) -> None:
    """A transfer that ABOR (or the connection's end) may cancel: answered as aborted,
    and never a cancellation escaping into aioftp's dispatcher (which would end the
    connection)."""
    try:
        await work
    except asyncio.CancelledError:
        connection.response("426", "transfer aborted")
        connection.response("226", "abort successful")
    except Exception as error:  # one line, not a traceback
        log.warning(
            "ftp: a transfer for %s failed on the server's side: %s: %s",
            connection.client_host,
            error.__class__.__name__,
            error,
        )
        connection.response("451", "local error; nothing kept")


async def _blocks(stream: ThrottleStreamIO) -> AsyncIterator[bytes]:
    while block := await stream.read(BLOCK):
        yield block


def _client_gone(connection: Connection) -> bool:
    """The control connection has ended (the client was killed or lost during the upload:
    its data connection's end was no "done")."""
    reader = connection.command_connection.reader
    return bool(reader.at_eof() or reader.exception() is not None)


class FtpServer:
    """The server on `ftp_port`, started and stopped with the central system."""

    def __init__(self, services: SystemServices) -> None:
        self.services = services
        self.server = JobFtpServer(services)
        self.port: int | None = None
        """Once listening: the port bound (the one the system chose for port 0)."""

    async def start(self) -> None:
        settings = self.services.settings
        await self.server.start(settings.host, settings.ftp_port or 0)
        self.port = int(self.server.server.sockets[0].getsockname()[1])
        log.info("ocppd: FTP for job files on %s:%d", settings.host, self.port)

    async def stop(self) -> None:
        if self.port is not None:
            self.port = None
            await self.server.close()
