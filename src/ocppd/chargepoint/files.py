"""File transfers of GetDiagnostics (upload) and UpdateFirmware (download), over HTTP(S) or FTP.

Which protocols the station speaks is `TransferOptions.protocols` (`ocppd simulate
--upload-method`), and `SupportedFileTransferProtocols` says so:

- `any` (FTP,HTTP,HTTPS): each location by its scheme.
- `http` (HTTP,HTTPS): a location of another scheme is refused with a CALLERROR NotSupported.
- `ftp` (FTP): as the FTP-only chargers in the field do, an http(s) location is accepted and
  then fails (UploadFailed, DownloadFailed): they have no HTTP client.

Any other scheme is refused with NotSupported. `upload` and `download` dispatch on the scheme,
so every action that moves a file gets both protocols.

HTTP uses the standard library's `urllib.request` in a worker thread, so that the event loop,
and the thousands of other stations on it, never wait for a file.

- Upload: the location is a directory (section 3, GetDiagnostics). `PUT` sends the file to
  `<location>/<fileName>`, as `curl -T` does with a directory URL; `POST` sends it to the
  location itself as `multipart/form-data` (field `file`), as upload forms expect.
- Download: `GET <location>`.
- User and password in the URL (`https://user:secret@host/dir/`) become Basic auth.

FTP is `ftp_client.py` (aioftp's client, on the event loop).
"""

import asyncio
import base64
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ssl import SSLContext, create_default_context
from typing import Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from msgspec import UNSET, UnsetType

from ocppd.chargepoint import ftp_client
from ocppd.protocol.errors import ActionNotSupported

SCHEMES = ("http", "https")
FTP_SCHEMES = ("ftp",)
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
"""A firmware image larger than this is refused (the flash of a charger is not endless)."""

UploadMethod = Literal["PUT", "POST"]
Protocols = Literal["any", "http", "ftp"]
SUPPORTED: dict[Protocols, str] = {"any": "FTP,HTTP,HTTPS", "http": "HTTP,HTTPS", "ftp": "FTP"}
"""The station's `SupportedFileTransferProtocols`."""


class TransferFailed(Exception):
    """The transfer did not complete: connection refused, HTTP error status, timeout..."""


T = TypeVar("T")

MAX_RETRIES = 10
"""The most retries of one transfer, whatever a command asks: a central system asking for
2**31 retries with no interval between them would keep the station trying for good."""


async def with_retries(
    transfer: Callable[[], Awaitable[T]],
    retries: int | UnsetType,
    retry_interval: int | UnsetType,
    sleep: Callable[[float], Awaitable[None]],
    failed: Callable[[TransferFailed], None],
) -> T | None:
    """`transfer()`'s result once it succeeds: tried 1 + `retries` times at most (no more than
    `MAX_RETRIES` retries), `retry_interval` seconds apart by `sleep`; None when every try
    failed, each failure told to `failed`."""
    asked = 0 if retries is UNSET else max(retries, 0)
    attempts = 1 + min(asked, MAX_RETRIES)
    interval = 0 if retry_interval is UNSET else retry_interval
    for attempt in range(attempts):
        try:
            return await transfer()
        except TransferFailed as exc:
            failed(exc)
            if attempt + 1 < attempts:
                await sleep(interval)
    return None


@dataclass(frozen=True)
class TransferOptions:
    upload_method: UploadMethod = "PUT"
    timeout: float = 30.0
    """Real seconds. HTTP: for one attempt to connect and transfer. FTP: to connect and log
    in, then for each read or write of the control and data connections."""
    ssl: SSLContext | None = None
    """For https locations; None = the system's trusted CAs."""
    protocols: Protocols = "any"
    """What the station speaks (see the module's docstring)."""
    ftp_tls: bool = False
    """FTP in explicit TLS only (AUTH TLS before the login, `ssl` for the server's
    certificate): a server without it fails the transfer."""

    def ftp_context(self) -> SSLContext | None:
        """The TLS of FTP transfers; None: plain FTP."""
        if not self.ftp_tls:
            return None
        return self.ssl if self.ssl is not None else create_default_context()


def check_location(location: str, options: TransferOptions | None = None) -> None:
    """Refuse, with a CALLERROR NotSupported, a location the station cannot reach."""
    protocols = options.protocols if options is not None else "any"
    scheme = urlsplit(location).scheme.lower()
    accepted = FTP_SCHEMES + SCHEMES if protocols in ("any", "ftp") else SCHEMES
    if scheme not in accepted:
        raise ActionNotSupported(
            f"File transfer by {scheme or 'no scheme'!r} is not supported"
            f" ({SUPPORTED[protocols].replace(',', ', ')} only)"
        )


def _uses_ftp(location: str, options: TransferOptions) -> bool:
    """Whether `location` goes by FTP; TransferFailed when the station cannot use it."""
    scheme = urlsplit(location).scheme.lower()
    ftp = scheme in FTP_SCHEMES
    if (ftp and options.protocols == "http") or (not ftp and options.protocols == "ftp"):
        raise TransferFailed(f"{scheme}: this station speaks {SUPPORTED[options.protocols]} only")
    return ftp


def _split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without user info, and the Authorization header it implied."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    token = f"{parts.username}:{parts.password or ''}".encode()
    return clean, {"Authorization": "Basic " + base64.b64encode(token).decode("ascii")}


def upload_target(location: str, file_name: str, method: UploadMethod) -> str:
    if method == "POST":
        return location
    return location.rstrip("/") + "/" + quote(file_name)


async def upload(
    location: str, file_name: str, data: bytes, options: TransferOptions | None = None
) -> int:
    """Send `data` as `file_name` to the directory `location`; the HTTP status (FTP: 226)."""
    options = options if options is not None else TransferOptions()
    if _uses_ftp(location, options):
        try:
            tls = options.ftp_context()
            await ftp_client.upload(location, file_name, data, options.timeout, tls)
        except ftp_client.FtpFailed as exc:
            raise TransferFailed(str(exc)) from None
        return 226  # the FTP server's "transfer complete"
    url, headers = _split_credentials(upload_target(location, file_name, options.upload_method))
    if options.upload_method == "POST":
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="file"; filename="{file_name}"\r\n'.encode(),
                b"Content-Type: application/octet-stream\r\n\r\n",
                data,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    else:
        body = data
        headers["Content-Type"] = "application/octet-stream"
    request = urllib.request.Request(url, data=body, headers=headers, method=options.upload_method)
    status, _ = await asyncio.to_thread(_perform, request, options, 0)
    return status


async def download(location: str, options: TransferOptions | None = None) -> bytes:
    """The file at `location`."""
    options = options if options is not None else TransferOptions()
    if _uses_ftp(location, options):
        try:
            tls = options.ftp_context()
            return await ftp_client.download(location, options.timeout, MAX_DOWNLOAD_BYTES, tls)
        except ftp_client.FtpFailed as exc:
            raise TransferFailed(str(exc)) from None
    url, headers = _split_credentials(location)
    request = urllib.request.Request(url, headers=headers, method="GET")
    _, body = await asyncio.to_thread(_perform, request, options, MAX_DOWNLOAD_BYTES)
    return body


def _perform(
    request: urllib.request.Request, options: TransferOptions, max_bytes: int
) -> tuple[int, bytes]:
    """One blocking HTTP exchange (in a worker thread): the status and, when `max_bytes`,
    the body."""
    context = options.ssl if request.type == "https" else None
    try:
        with urllib.request.urlopen(request, timeout=options.timeout, context=context) as answer:
            body = b""
            if max_bytes:
                body = answer.read(max_bytes + 1)
                if len(body) > max_bytes:
                    raise TransferFailed(f"{request.full_url}: larger than {max_bytes} bytes")
            return int(answer.status), body
    except urllib.error.HTTPError as exc:
        what = f"{request.get_method()} {request.full_url}"
        raise TransferFailed(f"{what}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        what = f"{request.get_method()} {request.full_url}"
        raise TransferFailed(f"{what}: {getattr(exc, 'reason', exc)}") from None
