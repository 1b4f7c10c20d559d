"""File transfers of GetDiagnostics (upload) and UpdateFirmware (download), over HTTP(S).

`SupportedFileTransferProtocols` says HTTP,HTTPS: a location with another scheme (FTP, the
usual one of 1.6 chargers) is refused with a CALLERROR NotSupported. The transfers use the
standard library's `urllib.request` in a worker thread, so that the event loop, and the
thousands of other stations on it, never wait for a file.

- Upload: the location is a directory (section 3, GetDiagnostics). `PUT` sends the file to
  `<location>/<fileName>`, as `curl -T` does with a directory URL; `POST` sends it to the
  location itself as `multipart/form-data` (field `file`), as upload forms expect.
- Download: `GET <location>`.
- User and password in the URL (`https://user:secret@host/dir/`) become Basic auth.
"""

import asyncio
import base64
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from ssl import SSLContext
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from ocppd.protocol.errors import ActionNotSupported

SCHEMES = ("http", "https")
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
"""A firmware image larger than this is refused (the flash of a charger is not endless)."""

UploadMethod = Literal["PUT", "POST"]


class TransferFailed(Exception):
    """The transfer did not complete: connection refused, HTTP error status, timeout..."""


@dataclass(frozen=True)
class TransferOptions:
    upload_method: UploadMethod = "PUT"
    timeout: float = 30.0
    """Real seconds for one attempt to connect and transfer."""
    ssl: SSLContext | None = None
    """For https locations; None = the system's trusted CAs."""


def check_location(location: str) -> None:
    """Refuse, with a CALLERROR NotSupported, a location the station cannot reach."""
    scheme = urlsplit(location).scheme.lower()
    if scheme not in SCHEMES:
        raise ActionNotSupported(
            f"File transfer by {scheme or 'no scheme'!r} is not supported (HTTP, HTTPS only)"
        )


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
    """Send `data` as `file_name` to the directory `location`; the HTTP status."""
    options = options if options is not None else TransferOptions()
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
