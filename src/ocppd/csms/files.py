"""Files of the central system on disk: diagnostics chargers uploaded, firmware operators
uploaded, under `<data_dir>/files/<kind>/<id>`.

Names on disk are the database ids only: what a charger or an operator calls a file is
metadata, so no name can reach outside the directory. A file is streamed to a temporary
file beside its final place, hashed on the way, and renamed into place only once it is
complete and within the size limit: a failed, aborted or oversized transfer leaves nothing.
"""

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 64 * 1024


class TooLarge(Exception):
    """More bytes than the limit: nothing was kept."""


@dataclass(frozen=True)
class Received:
    """A complete file, still at its temporary path until `FileStore.keep`."""

    path: Path
    size: int
    sha256: str


class FileStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "files"

    def path(self, kind: str, file_id: int) -> Path:
        return self.root / kind / str(int(file_id))

    async def receive(self, kind: str, chunks: AsyncIterable[bytes], limit: int) -> Received:
        """Stream `chunks` to a temporary file of `kind`; TooLarge beyond `limit` bytes.
        The caller keeps it (`keep`) or drops it (`drop`)."""
        folder = self.root / kind
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        path = folder / f".partial-{secrets.token_hex(8)}"
        digest = hashlib.sha256()
        size = 0
        file = await asyncio.to_thread(path.open, "xb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"more than {limit} bytes")
                digest.update(chunk)
                await asyncio.to_thread(file.write, chunk)
            await asyncio.to_thread(_sync_close, file)
        except BaseException:
            file.close()
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        return Received(path, size, digest.hexdigest())

    async def keep(self, received: Received, kind: str, file_id: int) -> None:
        """Move a received file to its final place (replacing one of the same id)."""
        await asyncio.to_thread(os.replace, received.path, self.path(kind, file_id))

    async def drop(self, received: Received) -> None:
        await asyncio.to_thread(received.path.unlink, missing_ok=True)

    async def read(self, kind: str, file_id: int) -> AsyncIterator[bytes]:
        """The file's bytes in chunks (FileNotFoundError at the first chunk if it is gone)."""
        file = await asyncio.to_thread(self.path(kind, file_id).open, "rb")
        try:
            while chunk := await asyncio.to_thread(file.read, CHUNK):
                yield chunk
        finally:
            file.close()


def _sync_close(file: BinaryIO) -> None:
    """On disk before the database says the file is there."""
    file.flush()
    os.fsync(file.fileno())
    file.close()
