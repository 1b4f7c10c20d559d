"""`ocppd serve` as a running service: uvicorn, the OCPP endpoint and the central system.

On SIGTERM or SIGINT the charge points are closed first with 1001 (going away), what is
queued is committed, and only then does uvicorn stop.
"""

import asyncio
import gc
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from ocppd.csms.central_system import CentralSystem
from ocppd.csms.certificate_requests import trusted_ca_file
from ocppd.csms.client_trust import ClientTrust
from ocppd.csms.metrics import Metrics
from ocppd.csms.settings import Settings
from ocppd.transport.handshakes import GuardedHttpToolsProtocol, HandshakeGuard, OcppConfig
from ocppd.transport.server import ASGIApp, OcppApp
from ocppd.transport.tls import ServerContext, listen, server_context
from ocppd.transport.websocket_protocol import CompactWebSocketProtocol, quiet_denials

log = logging.getLogger("ocppd.csms.service")


def build_app(system: CentralSystem, fallback: ASGIApp | None = None) -> OcppApp:
    return OcppApp(system, system.settings.path_prefix, fallback)


def tls_context(settings: Settings, metrics: Metrics | None = None) -> ServerContext | None:
    """The SSL context of `--tls-cert` (and `--tls-ecdsa-cert`, `--tls-client-ca`), its
    refused handshakes counted in `metrics`; None without TLS."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    certificates = [(settings.tls_cert, settings.tls_key)]
    if settings.tls_ecdsa_cert is not None and settings.tls_ecdsa_key is not None:
        certificates.append((settings.tls_ecdsa_cert, settings.tls_ecdsa_key))
    client_cas = [settings.tls_client_ca] if settings.tls_client_ca else []
    # The CA that signs chargers' certificates (SignCertificate) is trusted too: a charger
    # moves to profile 3 with what ocppd issued it.
    signing_ca = trusted_ca_file(settings)
    if signing_ca is not None and signing_ca not in client_cas:
        client_cas.append(signing_ca)
    context = server_context(certificates, client_cas)
    if metrics is not None:
        context.observer = metrics.tls_handshake_refused
    return context


def uvicorn_config(
    app: ASGIApp, settings: Settings, context: ServerContext | None = None
) -> OcppConfig:
    """uvicorn's configuration for `settings`; TLS on the main port with `context` (default:
    `tls_context`) unless `tls_port` puts it on a port of its own."""
    ping = settings.ping_interval or None
    quiet_denials()
    if context is None:
        context = tls_context(settings)
    main_tls = context if settings.tls_port is None else None
    return OcppConfig(
        app,
        handshakes=HandshakeGuard(settings.handshake_timeout, settings.max_pending_handshakes),
        tls=main_tls,
        host=settings.host,
        port=settings.port,
        ws=CompactWebSocketProtocol,
        http=GuardedHttpToolsProtocol,
        loop="uvloop",
        ws_max_size=settings.max_frame_size,
        ws_per_message_deflate=False,
        ws_ping_interval=ping,
        ws_ping_timeout=ping,
        lifespan="off",
        log_level="info",
        log_config=None,
        access_log=False,
    )


class Service:
    """The central system behind uvicorn, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        fallback: ASGIApp | None = None,
        make_fallback: Callable[[CentralSystem], ASGIApp] | None = None,
        on_listening: Callable[[int], None] | None = None,
    ) -> None:
        """`make_fallback` builds the HTTP side from the central system (the API, whose
        module csms must not import: the command line passes it). `on_listening` is told the
        port once it is bound (the one the system chose, with port 0)."""
        self.settings = settings
        self.system = CentralSystem(settings)
        if make_fallback is not None:
            fallback = make_fallback(self.system)
        self.tls = tls_context(settings, self.system.metrics)
        self.client_trust = None if self.tls is None else self._trusting(self.tls)
        config = uvicorn_config(build_app(self.system, fallback), settings, self.tls)
        self.server = _GracefulServer(config)
        if settings.tls_port is not None and self.tls is not None:
            self.server.tls_port = (self.tls, settings.host, settings.tls_port)
        self.server.before_exit = self._close_charge_points
        self.server.after_startup = lambda: self._listening(on_listening)

    async def run(
        self,
        sockets: list[socket.socket] | None = None,
        tls_sockets: list[socket.socket] | None = None,
    ) -> None:
        """Serve until stopped; on `sockets` (and `tls_sockets` for `--tls-port`) when given
        (bound, not yet listening: a worker's share of a port), else on the settings' host
        and ports."""
        self.server.tls_sockets = tls_sockets
        await self.system.start()
        if self.client_trust is not None:
            self.client_trust.start()
        settle_garbage_collector()
        try:
            await self.server.serve(sockets)
        finally:
            with _sigterm_ignored():
                if self.client_trust is not None:
                    await self.client_trust.stop()
                await self.system.stop()

    def _trusting(self, context: ServerContext) -> ClientTrust:
        """The signing CA kept trusted by `context` (made or replaced while ocppd runs)."""
        trust = ClientTrust(context, lambda: trusted_ca_file(self.settings))
        checks = self.system.checks.setdefault("CertificateSigned", [])
        checks.append(trust.before_certificate_signed)
        return trust

    def _listening(self, on_listening: Callable[[int], None] | None) -> None:
        self.system.listening(self.port)
        if on_listening is not None:
            on_listening(self.port)

    async def _close_charge_points(self) -> None:
        # The sites this node drives go to another node of the cluster at once.
        await self.system.hand_over()
        # Open event streams would keep uvicorn waiting: end them first.
        self.system.events.close()
        # The calls sent to charge points are answered first (a cluster's other nodes wait
        # for them too); none is sent after.
        await self.system.finish_calls()
        count = len(self.system.connections)
        await asyncio.gather(
            *(
                c.close(1001, "central system shutting down")
                for c in self.system.connections.values()
            ),
            return_exceptions=True,
        )
        await self.system.writer.flush()
        log.info("closed %d charge point connections with 1001", count)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        servers = getattr(self.server, "servers", [])
        return int(servers[0].sockets[0].getsockname()[1]) if servers else self.settings.port

    @property
    def tls_port(self) -> int | None:
        """The TLS port actually bound (`--tls-port`), once listening; None without one."""
        return self.server.tls_port_bound


@contextmanager
def _sigterm_ignored() -> Iterator[None]:
    """SIGTERM ignored (in the main thread): uvicorn has put back the default action, which
    would end the process before the central system has stopped (a cluster node's lease
    left behind to expire)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def settle_garbage_collector() -> None:
    """Move what start-up allocated out of the collector's sight, and collect less often:
    a busy server allocates many short-lived objects, and full collections over a large heap
    cost it (measured in decision 0002: 521 -> 469 us of CPU per message)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def run(
    service: Service,
    sockets: list[socket.socket] | None = None,
    tls_sockets: list[socket.socket] | None = None,
) -> None:
    """Run on uvloop where it is installed (uvicorn's `loop=` is ignored under asyncio.run)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(service.run(sockets, tls_sockets))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(service.run(sockets, tls_sockets))


class _GracefulServer(uvicorn.Server):
    """uvicorn closes WebSockets with 1012; charge points are closed with 1001 first.

    The first SIGTERM/SIGINT closes the charge points, flushes the writes, then stops the
    server, and the process exits 0 after `CentralSystem.stop` (uvicorn would re-raise the
    signal and skip it). A second SIGINT forces the exit, as with plain uvicorn; a second
    SIGTERM changes nothing, however late it comes (a worker gets one from its supervisor and
    one from systemd, which signals every process of the service): `Service.run` ignores it
    too once uvicorn has stopped, while the central system stops."""

    before_exit: Any = None
    after_startup: Callable[[], None] | None = None
    _closing = False
    tls_port: tuple[ServerContext, str, int] | None = None
    """`--tls-port`: its context, host and port."""
    tls_sockets: list[socket.socket] | None = None
    tls_port_bound: int | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.tls_port is not None:
            context, host, port = self.tls_port
            try:
                self.tls_port_bound = await listen(self, context, host, port, self.tls_sockets)
            except OSError as error:
                log.error("cannot listen on %s:%d (--tls-port): %s", host, port, error)
                self.started = False
                self.should_exit = True
                for server in self.servers:
                    server.close()
                raise SystemExit(3) from None
        if self.started and self.after_startup is not None:
            self.after_startup()

    def _log_started_message(self, listeners: Any) -> None:
        # uvicorn names the scheme after its own `ssl`, which is None when the TLS of the
        # port is ocppd's (`OcppConfig.tls`, done under the handshake guard).
        config = self.config
        tls = config.tls if isinstance(config, OcppConfig) else None
        if tls is None:
            super()._log_started_message(listeners)
            return
        config.ssl = tls
        try:
            super()._log_started_message(listeners)
        finally:
            config.ssl = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self._closing:
            # Not passed to uvicorn, which would raise it again once it has stopped, ending
            # the process before `CentralSystem.stop` (a cluster node's lease left behind).
            if sig == signal.SIGINT:
                self.should_exit = self.force_exit = True
            return
        if (
            self.should_exit
            or self.before_exit is None
            or sig not in (signal.SIGINT, signal.SIGTERM)
        ):
            super().handle_exit(sig, frame)
            return
        self._closing = True
        task = asyncio.get_running_loop().create_task(self.before_exit())
        task.add_done_callback(lambda _: setattr(self, "should_exit", True))
