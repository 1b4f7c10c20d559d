"""`ocppd serve --workers N`: N processes on one port, each a node of the cluster.

This process, the supervisor, serves nothing itself. It holds the port (bound, not listening:
`transport.shared_port`), then starts each worker as `python -m ocppd.cli.workers`, which
reads its settings from its standard input (the same as the supervisor's, but for its node
name NAME-i and the port), binds the port with SO_REUSEPORT and runs the central system as
`ocppd serve` does. A worker tells the supervisor that it listens through a pipe.

- Worker 1 starts alone, then the others together: the first migrates the database, and a
  configuration that cannot start fails once, not N times. If a worker ends before every one
  has listened once, the others are stopped and the supervisor exits with its code.
- A worker that ends later is started again under the same name, after a delay that doubles
  each time it ends again soon after its start (`FIRST_DELAY`..`MAX_DELAY`): one that dies at
  once does not spin.
- SIGTERM or SIGINT: each worker is sent SIGTERM (it closes its chargers with 1001 and leaves
  the cluster); the supervisor exits once all have ended, 0 when each ended cleanly. A second
  signal kills them, and so does the response timeout plus `STOP_MARGIN` passing first.
- Each worker runs in a process group of its own, so that Ctrl-C in a terminal reaches the
  supervisor only (one signal for each worker, not two); its standard input stays open while
  the supervisor lives, so that a worker whose supervisor was killed stops by itself (and
  ends by SIGALRM if it has not within the same time).
- prometheus-client's multiprocess mode: the workers write their metrics in
  `PROMETHEUS_MULTIPROC_DIR`, a directory the supervisor makes and removes, unless the
  operator set one.
"""

import asyncio
import logging
import math
import os
import pickle
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace

from ocppd.csms.settings import Settings, node_default_name
from ocppd.transport.shared_port import bind_shared_port, port_of

log = logging.getLogger("ocppd.cli.workers")

FIRST_DELAY = 0.5
"""Seconds before a worker that ended is started again..."""
MAX_DELAY = 30.0
"""... doubled each time it ends within `STABLE` seconds of its start, up to this."""
STABLE = 30.0

STOP_MARGIN = 30.0
"""Seconds, beyond the response timeout, a worker may take to stop before it is killed."""

READY = b"listening\n"
"""What a worker writes on its pipe once it listens."""

METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def worker_settings(settings: Settings, port: int, tls_port: int | None = None) -> list[Settings]:
    """Each worker's settings: a node named NAME-i on the supervisor's port (and TLS port)."""
    base = settings.node_name or node_default_name(port)
    return [
        replace(settings, port=port, tls_port=tls_port, node_name=f"{base}-{i}", workers=1)
        for i in range(1, settings.workers + 1)
    ]


class Worker:
    """One of the supervisor's workers: its settings, and the process now running them."""

    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.settings = settings
        self.env = env
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0

    @property
    def name(self) -> str:
        return self.settings.node_name

    async def start(self, stopping: asyncio.Event) -> bool:
        """A new process; True once it listens, False when it ended first or the supervisor
        is stopping meanwhile."""
        read_end, write_end = os.pipe()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ocppd.cli.workers",
                str(write_end),
                self.name,  # shown by ps
                stdin=asyncio.subprocess.PIPE,
                pass_fds=(write_end,),
                env=self.env,
                process_group=0,
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self.started_at = asyncio.get_running_loop().time()
        log.info("worker %s started (pid %d)", self.name, self.process.pid)
        assert self.process.stdin is not None
        # A few hundred bytes: the pipe's buffer takes them whether or not the worker reads.
        self.process.stdin.write(pickle.dumps(self.settings))
        try:
            listening = await _first_line(read_end, stopping) == READY
        finally:
            os.close(read_end)
        if listening:
            log.info("worker %s listening (pid %d)", self.name, self.process.pid)
        return listening

    async def ended(self) -> int:
        """Its exit code once it has ended (negative: the signal that ended it)."""
        assert self.process is not None
        code = await self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        return code

    def signal(self, number: int) -> None:
        if self.process is not None and self.process.returncode is None:
            with suppress(ProcessLookupError):  # it ended meanwhile
                self.process.send_signal(number)


async def _first_line(fd: int, stopping: asyncio.Event) -> bytes:
    """What the worker writes on its pipe: READY, or b"" when it ends first; b"" too when the
    supervisor stops before either."""
    loop = asyncio.get_running_loop()
    readable = loop.create_future()

    def wake() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(fd, wake)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait([readable, stop], return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_reader(fd)
        stop.cancel()
    return os.read(fd, len(READY)) if readable.done() else b""


class Supervisor:
    """Runs `settings.workers` workers on one port until SIGTERM or SIGINT."""

    def __init__(
        self,
        settings: Settings,
        sockets: list[socket.socket],
        on_listening: Callable[..., None],
        tls_sockets: list[socket.socket] | None = None,
    ) -> None:
        """`sockets`: the port, bound (`bind_shared_port`), and `tls_sockets` the TLS port
        (`--tls-port`); closed at the end. `on_listening(port[, tls_port])`."""
        self.settings = settings
        self.sockets = sockets
        self.tls_sockets = tls_sockets or []
        self.on_listening = on_listening
        self.stopping = asyncio.Event()
        self.workers: list[Worker] = []
        self.failures: list[int] = []
        """Exit codes of workers that did not end cleanly once stopping."""
        self.stop_timeout = settings.response_timeout + STOP_MARGIN

    async def run(self) -> int:
        """The supervisor's exit code."""
        ports = [port_of(self.sockets)]
        if self.tls_sockets:
            ports.append(port_of(self.tls_sockets))
        try:
            with metrics_directory() as env:
                every = worker_settings(self.settings, *ports)
                self.workers = [Worker(s, env) for s in every]
                self._handle_signals()
                return await self._supervise(ports)
        finally:
            for sock in self.sockets + self.tls_sockets:
                sock.close()

    def _handle_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self._stop, number)

    def _stop(self, number: int) -> None:
        if not self.stopping.is_set():
            log.info("%s: stopping %d workers", signal.Signals(number).name, len(self.workers))
            self.stopping.set()
            for worker in self.workers:
                worker.signal(signal.SIGTERM)
        else:
            log.warning("%s again: killing the workers", signal.Signals(number).name)
            for worker in self.workers:
                worker.signal(signal.SIGKILL)

    async def _supervise(self, ports: list[int]) -> int:
        first, *others = self.workers
        failed = await self._start_all([first]) or await self._start_all(others)
        if failed is not None:
            log.error("worker %s could not start: stopping", failed.name)
            self.stopping.set()
            await self._stop_all()
            code = failed.process.returncode if failed.process is not None else None
            return code if code and code > 0 else 1
        if not self.stopping.is_set():
            self.on_listening(*ports)
        await asyncio.gather(*(self._keep(worker) for worker in self.workers))
        return 1 if self.failures else 0

    async def _start_all(self, workers: list[Worker]) -> Worker | None:
        """Starts them; the first that ended before it listened, if one did."""
        listening = await asyncio.gather(*(w.start(self.stopping) for w in workers))
        if self.stopping.is_set():
            return None
        return next((w for w, ok in zip(workers, listening, strict=True) if not ok), None)

    async def _stop_all(self) -> None:
        for worker in self.workers:
            worker.signal(signal.SIGTERM)
        started = [w for w in self.workers if w.process is not None]
        await asyncio.gather(*(self._stopped(w, asyncio.ensure_future(w.ended())) for w in started))

    async def _keep(self, worker: Worker) -> None:
        """Keeps the worker running, started again each time it ends, until stopping; then
        waits for it to end."""
        loop = asyncio.get_running_loop()
        delay = FIRST_DELAY
        while True:
            ended = asyncio.ensure_future(worker.ended())
            stop = asyncio.ensure_future(self.stopping.wait())
            await asyncio.wait([ended, stop], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if self.stopping.is_set():
                worker.signal(signal.SIGTERM)  # started after the others were signalled
                self._ended(worker, await self._stopped(worker, ended))
                return
            code = ended.result()
            if loop.time() - worker.started_at >= STABLE:
                delay = FIRST_DELAY
            mark_process_dead(worker)
            log.error(
                "worker %s (pid %d) ended (%s): starting it again in %.1f s",
                worker.name,
                worker.process.pid if worker.process is not None else 0,
                _exit_status(code),
                delay,
            )
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
                return
            delay = min(delay * 2, MAX_DELAY)
            try:
                await worker.start(self.stopping)
            except OSError as exc:  # no process to be had (out of memory, of processes)
                log.error("worker %s could not be started: %s", worker.name, exc)

    async def _stopped(self, worker: Worker, ended: "asyncio.Future[int]") -> int:
        """Its exit code once it has stopped: killed when it has not within `stop_timeout`
        (its calls in flight have the response timeout to finish)."""
        try:
            return await asyncio.wait_for(asyncio.shield(ended), self.stop_timeout)
        except TimeoutError:
            log.error(
                "worker %s has not stopped %.0f s after SIGTERM: killing it",
                worker.name,
                self.stop_timeout,
            )
            worker.signal(signal.SIGKILL)
            return await ended

    def _ended(self, worker: Worker, code: int) -> None:
        mark_process_dead(worker)
        if code in (0, -signal.SIGTERM):
            log.info("worker %s ended (%s)", worker.name, _exit_status(code))
        else:
            log.error("worker %s ended (%s)", worker.name, _exit_status(code))
            self.failures.append(code)


def _exit_status(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


@contextmanager
def metrics_directory() -> Iterator[dict[str, str]]:
    """The workers' environment: `PROMETHEUS_MULTIPROC_DIR` a new directory, removed at the
    end, unless the operator set one."""
    if os.environ.get(METRICS_DIR):
        yield dict(os.environ)
        return
    directory = tempfile.mkdtemp(prefix="ocppd-metrics-")
    try:
        yield {**os.environ, METRICS_DIR: directory}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def mark_process_dead(worker: Worker) -> None:
    """Its live gauges no longer count (prometheus-client's multiprocess mode)."""
    from ocppd.csms.metrics import worker_died

    if worker.process is not None:
        with suppress(OSError):
            worker_died(worker.process.pid, worker.env[METRICS_DIR])


# The worker's side


def work(ready_fd: int) -> None:
    """A worker's process: the central system on its share of the port, as a node named in
    the settings read from standard input."""
    import click

    from ocppd.cli.serve import configure_logging, run_node

    settings: Settings = pickle.load(sys.stdin.buffer)
    configure_logging(settings.log_format, settings.node_name)
    tls_sockets = None
    try:
        sockets = bind_shared_port(settings.host, settings.port)
        if settings.tls_port is not None:
            tls_sockets = bind_shared_port(settings.host, settings.tls_port)
    except OSError as exc:
        log.error(
            "cannot listen on %s (port %d, TLS port %s): %s",
            settings.host,
            settings.port,
            settings.tls_port,
            exc,
        )
        sys.exit(1)

    def listening(*_: object) -> None:
        os.write(ready_fd, READY)
        os.close(ready_fd)
        # Standard input ends when the supervisor is gone: no worker outlives it.
        stop_timeout = settings.response_timeout + STOP_MARGIN
        asyncio.get_running_loop().add_reader(0, _stop_when_orphaned, stop_timeout)

    try:
        run_node(settings, listening, sockets, tls_sockets)
    except click.ClickException as error:
        log.error("%s", error.format_message())
        sys.exit(error.exit_code)


def _stop_when_orphaned(stop_timeout: float) -> None:
    if os.read(0, 4096):
        return  # the supervisor sends nothing after the settings: ignored
    asyncio.get_running_loop().remove_reader(0)
    log.warning("the supervisor is gone: stopping")
    os.kill(os.getpid(), signal.SIGTERM)
    # No supervisor to kill it if it does not stop: SIGALRM's default action ends it then.
    signal.alarm(math.ceil(stop_timeout))


if __name__ == "__main__":
    work(int(sys.argv[1]))  # argv[2], the node name, is for ps
