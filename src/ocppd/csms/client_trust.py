"""The CA that signs chargers' certificates, trusted by the running TLS server as soon as it
exists or changes.

The TLS context is built at start with the CAs there are then (`--tls-client-ca`, the signing
CA). An operator who runs `ocppd ca init` (or `--force`, a new CA) while ocppd serves would
otherwise see the first charger it signs for refused on profile 3 ("unknown ca") until a
restart: the signing side reads the CA on each use, the TLS side did not. So the signing CA's
file is watched (one `stat` a second per process: every worker of `--workers` has its own
context) and read again before each CertificateSigned is sent, since the charger reconnects
with the new certificate right after it answers.

A CA that was trusted stays trusted until ocppd restarts: OpenSSL can add to a live context's
trust store, not remove from it.
"""

import asyncio
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("ocppd.csms.client_trust")

WATCH_INTERVAL = 1.0
"""Seconds between two looks at the signing CA's file."""


class ClientTrust:
    """Keeps `context` trusting the file `ca_file()` names (None: there is no CA yet)."""

    def __init__(self, context: ssl.SSLContext, ca_file: Callable[[], Path | None]) -> None:
        self.context = context
        self.ca_file = ca_file
        self._version: tuple[Path, int, int, int] | None = None
        self._task: asyncio.Task[None] | None = None

    def refresh(self) -> bool:
        """Trust the CA file if it is new or changed since the last look; True when it was
        loaded. A file that cannot be read (half written) is tried again next time."""
        path = self.ca_file()
        if path is None:
            return False
        try:
            stat = path.stat()
        except OSError:
            return False
        version = (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if version == self._version:
            return False
        try:
            self.context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError, ValueError) as error:
            log.warning("cannot trust the signing CA %s yet: %s", path, error)
            return False
        if self.context.verify_mode == ssl.CERT_NONE:
            # Client certificates were not asked for (no CA at start): they are from now on.
            self.context.verify_mode = ssl.CERT_OPTIONAL
        if self._version is not None:
            log.info("trusting client certificates of the signing CA %s (changed)", path)
        self._version = version
        return True

    async def before_certificate_signed(self, charge_point_id: str, request: Any) -> None:
        """A check of CertificateSigned (`CentralSystem.checks`): the CA of the chain being
        sent is trusted before the charger can reconnect with it."""
        self.refresh()

    def start(self) -> None:
        self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            self.refresh()
