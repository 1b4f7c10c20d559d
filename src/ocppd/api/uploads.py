"""A file in an HTTP request body, streamed: the raw body (PUT, `curl -T`, `--data-binary`),
or the first file part of a `multipart/form-data` body (POST, upload forms, the simulator).

Both the chargers' uploads (`transfers`) and the operators' firmware uploads (`firmware`)
read files this way. The multipart parser is `multipart`'s push parser (the one Litestar
itself uses), so a part is never held in memory whole. Streams into `FileStore.receive`,
which enforces the size limit and keeps nothing of a failed transfer.
"""

from collections.abc import AsyncIterator
from typing import Any

import multipart  # type: ignore[import-untyped]  # Litestar's own multipart parser
from litestar import Request

from ocppd.api.problems import Problem, ProblemException
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.files import FileStore, Received, TooLarge

MAX_NAME = 255


class Upload:
    """The file of one request body; `name` is its file name once known (the multipart
    part's filename, or what the caller sets)."""

    def __init__(self, request: Request[Any, Any, Any], name: str | None = None) -> None:
        self.request = request
        self.name = name

    async def chunks(self) -> AsyncIterator[bytes]:
        kind, options = multipart.parse_options_header(self.request.headers.get("content-type", ""))
        if kind != "multipart/form-data":
            async for data in self.request.stream():
                if data:
                    yield data
            return
        boundary = options.get("boundary")
        if not boundary:
            raise _bad("multipart/form-data without a boundary")
        async for data in self._file_part(multipart.PushMultipartParser(boundary)):
            yield data

    async def _file_part(self, parser: Any) -> AsyncIterator[bytes]:
        state = "before"  # -> "in" the file part -> "after" it
        try:
            async for data in self.request.stream():
                for event in parser.parse(data):
                    if isinstance(event, multipart.MultipartSegment):
                        if state == "before" and (event.filename or event.name == "file"):
                            state = "in"
                            self.name = event.filename or self.name
                    elif event is None:
                        state = "after" if state == "in" else state
                    elif state == "in":
                        yield event
            parser.close()
        except multipart.MultipartError as error:
            raise _bad(f"invalid multipart body: {error}") from None
        if state == "before":
            raise _bad(
                "no file part in the multipart body (a part named 'file' or with a filename)"
            )


async def receive(store: FileStore, kind: str, upload: Upload, limit: int) -> Received:
    """The uploaded file, complete and within `limit` bytes, at its temporary path;
    413 beyond the limit (announced or streamed), 400 for a malformed body."""
    announced = upload.request.headers.get("content-length")
    if announced is not None and announced.isdigit() and int(announced) > limit + 64 * 1024:
        # A multipart envelope adds a little: refuse only what cannot fit.
        raise _too_large(limit)
    try:
        return await store.receive(kind, upload.chunks(), limit)
    except TooLarge:
        raise _too_large(limit) from None


def clean_name(name: str | None) -> str | None:
    """A file name as metadata: the last path segment, printable, bounded."""
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(c for c in base if c.isprintable()).strip()
    return printable[:MAX_NAME] or None


def _bad(error: str) -> ProblemException:
    return ProblemException(Problem(status=400, error=error))


def _too_large(limit: int) -> ProblemException:
    return ProblemException(Problem(status=413, error=f"the file is larger than {limit} bytes"))


def file_store(system: CentralSystem) -> FileStore:
    """The files under the data directory the server runs with."""
    return FileStore(system.settings.data_dir)
