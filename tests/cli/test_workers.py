"""`ocppd serve --workers N`: real processes on one port, a PostgreSQL schema and a Redis of
the test's own (`tests/cluster_nodes.py`'s `cluster`). Which worker holds a charger: the
cluster says (`GET /charge-points/{id}`); which worker started, ended, listens: the
supervisor's log."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import AsyncExitStack, suppress
from pathlib import Path

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ocppd.cli.api_client import ApiClient
from ocppd.cli.workers import worker_settings
from ocppd.csms.settings import Settings, node_default_name
from tests.cli.test_serve import BOOT, Served
from tests.cluster_nodes import Charger, Cluster
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

DEADLINE = 60.0
"""Seconds a test waits for what it expects (the machine may be loaded)."""


class Supervised(Served):
    """`ocppd serve --workers N`: the supervisor, which prints the listening line once every
    worker listens; each worker starts the central system (two on a loaded machine take a
    while)."""

    start_deadline = 120.0
    api: ApiClient
    """Its API on the shared port, with an admin token."""

    def wait_for(self, pattern: str, after: int = 0, within: float = DEADLINE) -> re.Match[str]:
        """The first match of `pattern` in what it printed from character `after` on, once
        it is printed (within `within` seconds)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if found := re.compile(pattern, re.MULTILINE).search(self.printed(), after):
                return found
            time.sleep(0.05)
        raise AssertionError(f"never printed {pattern!r}:\n{self.printed()}")

    def listening(self) -> dict[str, int]:
        """Each worker's pid, the latest that listened."""
        found = re.findall(r"worker (\S+) listening \(pid (\d+)\)", self.printed())
        return {name: int(pid) for name, pid in found}

    def stop_gracefully(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=DEADLINE)
        self.stop()


@pytest.fixture
def supervise(tmp_path: Path, cluster: Cluster) -> Iterator[Callable[..., Supervised]]:
    """Starts `ocppd serve --workers 2` with extra arguments on the cluster's database and
    Redis; stopped at the end, its workers gone before the database and Redis are."""
    started: list[Supervised] = []

    def start(*args: str) -> Supervised:
        shared = ("--database", cluster.database, "--redis-url", cluster.redis.url)
        started.append(Supervised(tmp_path, "--workers", "2", *shared, *args))
        started[-1].api = ApiClient(f"http://127.0.0.1:{started[-1].port}", cluster.token)
        return started[-1]

    yield start
    for supervised in started:
        pids = list(supervised.listening().values())
        supervised.stop_gracefully()
        wait_until(lambda pids=pids: not any(map(alive, pids)), "workers ended", supervised)


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie left for its parent to reap."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # reaped before or while it was read
        return False


def wait_until(condition: Callable[[], bool], what: str, served: Supervised | None = None) -> None:
    """Polls `condition` until it holds; fails after DEADLINE seconds, with what `served`
    printed."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        shown = f":\n{served.printed()}" if served is not None else ""
        assert time.monotonic() < deadline, f"not within {DEADLINE} s: {what}{shown}"
        time.sleep(0.05)


async def booted(port: int, identity: str, stack: AsyncExitStack) -> ClientConnection:
    """A charger connected on `port` whose BootNotification was answered."""
    ws = await stack.enter_async_context(
        connect(f"ws://127.0.0.1:{port}/ocpp/{identity}", subprotocols=["ocpp1.6"])
    )
    await ws.send(BOOT)
    answer = msgspec.json.decode(await asyncio.wait_for(ws.recv(), DEADLINE))
    assert answer[0] == 3 and answer[2]["status"] == "Accepted", answer
    return ws


async def held(served: Supervised, identities: list[str]) -> dict[str, str]:
    """The node holding each of these connected chargers (`GET /charge-points/{id}`)."""
    answers = await asyncio.gather(
        *(asyncio.to_thread(served.api.send, "GET", f"/charge-points/{i}") for i in identities)
    )
    assert all(a.status == 200 for a in answers), answers
    return {i: a.body["node"] for i, a in zip(identities, answers, strict=True)}


async def holders(served: Supervised, identities: list[str]) -> dict[str, str]:
    """The node each of these chargers is given, connected and booted together."""
    async with AsyncExitStack() as stack:
        await asyncio.gather(*(booted(served.port, i, stack) for i in identities))
        return await held(served, identities)


async def test_workers_share_one_port_and_the_chargers_spread_over_them(
    supervise: Callable[..., Supervised],
) -> None:
    served = supervise("--node-name", "edge")
    assert served.printed().count("ocppd: OCPP 1.6J on ws://") == 1
    assert set(served.listening()) == {"edge-1", "edge-2"}
    identities = [f"SPREAD{i}" for i in range(20)]
    async with AsyncExitStack() as stack:
        await asyncio.gather(*(booted(served.port, i, stack) for i in identities))
        # The kernel hashes each connection to a worker: all 20 on one has odds of 2 in 2^20.
        nodes = await held(served, identities)
        assert set(nodes.values()) == {"edge-1", "edge-2"}, nodes
        answer = await asyncio.to_thread(served.api.send, "GET", "/cluster")
        assert [n["name"] for n in answer.body["nodes"]] == ["edge-1", "edge-2"]
        # One scrape, by either worker, shows both (prometheus-client's multiprocess mode).
        await asyncio.to_thread(
            wait_until,
            lambda: _connected_by_node(served) == {"edge-1", "edge-2"},
            "both workers' chargers in /metrics",
            served,
        )


def _connected_by_node(served: Supervised) -> set[str]:
    """The nodes with chargers connected in a scrape of `GET /metrics`."""
    request = urllib.request.Request(f"http://127.0.0.1:{served.port}/metrics")
    request.add_header("Authorization", f"Bearer {served.api.token}")
    with urllib.request.urlopen(request, timeout=DEADLINE) as response:
        text = response.read().decode()
    found = re.findall(r'^ocppd_chargers_connected\{node="([^"]+)"\} (\S+)$', text, re.MULTILINE)
    return {node for node, value in found if float(value) > 0}


async def test_a_worker_killed_is_started_again_under_its_name(
    supervise: Callable[..., Supervised],
) -> None:
    served = supervise("--node-name", "edge")
    killed = served.listening()["edge-2"]
    os.kill(killed, signal.SIGKILL)
    after = len(served.printed())
    # Once its socket is closed with it (a connection the kernel gave it before is reset),
    # the port keeps serving through the other worker.
    await asyncio.to_thread(
        wait_until, lambda: not alive(killed), "the killed worker ended", served
    )
    assert set((await holders(served, ["ALONE"])).values()) <= {"edge-1", "edge-2"}
    restarted = await asyncio.to_thread(
        served.wait_for, r"worker edge-2 listening \(pid (\d+)\)", after, served.start_deadline
    )
    assert int(restarted[1]) != killed
    nodes = await holders(served, [f"BACK{i}" for i in range(20)])
    assert set(nodes.values()) == {"edge-1", "edge-2"}, nodes
    assert served.process.poll() is None


async def test_a_worker_that_keeps_dying_is_started_again_later_each_time(
    supervise: Callable[..., Supervised],
) -> None:
    """Each time it dies soon after its start, the delay doubles (the delays logged, not
    timed)."""
    served = supervise("--node-name", "edge")
    pid = served.listening()["edge-2"]
    for delay in ("0.5", "1.0", "2.0"):
        after = len(served.printed())
        os.kill(pid, signal.SIGKILL)
        ended = rf"worker edge-2 \(pid {pid}\) ended \(signal SIGKILL\): starting it again in "
        await asyncio.to_thread(served.wait_for, ended + rf"{delay} s", after)
        started = await asyncio.to_thread(
            served.wait_for, r"worker edge-2 started \(pid (\d+)\)", after
        )
        pid = int(started[1])
    listening = rf"worker edge-2 listening \(pid {pid}\)"
    await asyncio.to_thread(served.wait_for, listening, 0, served.start_deadline)


async def test_a_command_through_any_request_reaches_the_charger_wherever_it_is(
    supervise: Callable[..., Supervised],
) -> None:
    served = supervise("--node-name", "edge")
    identities: list[str] = []
    async with AsyncExitStack() as stack:
        chargers: list[Charger] = []
        # The kernel hashes each connection to a worker: chargers are added ten at a time until
        # both workers hold some (all 40 on one worker has odds of 1 in 2^39; ten had 1 in 2^9,
        # which a CI run met).
        while len(identities) < 40:
            more = [f"CMD{i}" for i in range(len(identities), len(identities) + 10)]
            chargers += [await _charger(served.port, identity, stack) for identity in more]
            identities += more
            if set((await held(served, identities)).values()) == {"edge-1", "edge-2"}:
                break
        assert set((await held(served, identities)).values()) == {"edge-1", "edge-2"}
        # Each request is a connection of its own, which the kernel gives to either worker:
        # 2 x 10 requests or more, all reaching the holder's own worker, has odds of 1 in 2^20.
        for _ in range(2):
            answers = await asyncio.gather(
                *(
                    asyncio.to_thread(
                        served.api.send,
                        "POST",
                        f"/charge-points/{i}/commands/Reset",
                        {"type": "Soft"},
                    )
                    for i in identities
                )
            )
            assert [(a.status, a.body) for a in answers] == [(200, {"status": "Accepted"})] * len(
                identities
            )
        for charger in chargers:
            assert charger.received == [("Reset", {"type": "Soft"})] * 2
    answering = set()
    for _ in range(100):  # both, but with odds of 1 in 2^99
        answering.add((await asyncio.to_thread(served.api.send, "GET", "/cluster")).body["node"])
    assert answering == {"edge-1", "edge-2"}


async def _charger(port: int, identity: str, stack: AsyncExitStack) -> Charger:
    """Booted, accepting each Reset; closed at the end of `stack`."""
    ws = await connect(
        f"ws://127.0.0.1:{port}/ocpp/{identity}", subprotocols=["ocpp1.6"], open_timeout=DEADLINE
    )
    charger = Charger(ws)
    stack.push_async_callback(charger.close)
    await charger.boot()
    charger.replies["Reset"] = {"status": "Accepted"}
    return charger


@pytest.mark.parametrize(
    ("number", "to_workers"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["SIGTERM", "SIGINT", "SIGTERM to every process"],
)
async def test_a_signal_closes_the_chargers_of_every_worker_with_1001(
    supervise: Callable[..., Supervised], cluster: Cluster, number: int, to_workers: bool
) -> None:
    """SIGINT: Ctrl-C. SIGTERM to every process: as systemd stops a service (its whole
    control group), each worker is sent SIGTERM by systemd and by the supervisor."""
    served = supervise()
    workers = served.listening()
    directory = _metrics_directory(workers.values())
    async with AsyncExitStack() as stack:
        chargers = await asyncio.gather(
            *(booted(served.port, f"STOP{i}", stack) for i in range(10))
        )
        served.process.send_signal(number)
        if to_workers:
            for pid in workers.values():
                os.kill(pid, signal.SIGTERM)
        codes = await asyncio.gather(*(_close_code(ws) for ws in chargers))
    assert codes == [1001] * 10
    assert await asyncio.to_thread(served.process.wait, DEADLINE) == 0
    output = served.output()
    assert output.count("charge point connections with 1001") == 2, output
    closed = re.findall(r"closed (\d+) charge point connections with 1001", output)
    assert sum(map(int, closed)) == 10
    assert not any(alive(pid) for pid in workers.values())
    assert not await asyncio.to_thread(directory.exists), "the metrics directory is removed"
    assert await _node_keys(cluster.redis.url) == [], f"a worker left its lease:\n{output}"


async def _node_keys(url: str) -> list[bytes]:
    client = Redis.from_url(url)
    try:
        return list(await client.keys("ocppd:node:*"))
    finally:
        await client.aclose()


async def _close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as caught:
        await asyncio.wait_for(ws.recv(), DEADLINE)
    return caught.value.rcvd.code if caught.value.rcvd is not None else None


def _metrics_directory(pids: Iterable[int]) -> Path:
    """The workers' PROMETHEUS_MULTIPROC_DIR: one, made by the supervisor."""
    directories = {_environment(pid)["PROMETHEUS_MULTIPROC_DIR"] for pid in pids}
    assert len(directories) == 1, "the workers share one metrics directory"
    directory = Path(directories.pop())
    assert directory.is_dir()
    return directory


def _environment(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as environ:
        pairs = environ.read().decode().split("\0")
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


async def test_the_workers_stop_when_their_supervisor_is_killed(
    supervise: Callable[..., Supervised],
) -> None:
    served = supervise()
    workers = served.listening().values()
    served.process.kill()
    await asyncio.to_thread(
        wait_until, lambda: not any(map(alive, workers)), "workers ended", served
    )
    assert "the supervisor is gone: stopping" in served.output()


def test_a_worker_that_cannot_start_stops_the_supervisor(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Worker 1 starts alone: a configuration that cannot start fails once."""
    nowhere = "postgresql://nobody@127.0.0.1:1/nothing"  # nothing listens on port 1
    ended = subprocess.run(
        [
            *(sys.executable, "-m", "ocppd", "serve", "--port", "0", "--workers", "2"),
            *("--data-dir", str(tmp_path / "data"), "--database", nowhere),
            *("--redis-url", redis_server.url),
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE * 2,
    )
    assert ended.returncode != 0
    assert "could not start: stopping" in ended.stderr
    assert "-2 started" not in ended.stderr, "the second worker started though the first failed"
    assert "ocppd: OCPP 1.6J on" not in ended.stdout


def test_each_worker_is_a_node_named_after_the_node_name_or_the_host_and_port() -> None:
    named = worker_settings(Settings(workers=3, node_name="edge", port=0), 9100)
    assert [(s.node_name, s.port, s.workers) for s in named] == [
        ("edge-1", 9100, 1),
        ("edge-2", 9100, 1),
        ("edge-3", 9100, 1),
    ]
    default = worker_settings(Settings(workers=2), 9100)
    assert [s.node_name for s in default] == [f"{node_default_name(9100)}-{i}" for i in (1, 2)]


async def test_one_scrape_of_the_port_shows_every_worker(
    supervise: Callable[..., Supervised], cluster: Cluster
) -> None:
    """The workers share PROMETHEUS_MULTIPROC_DIR (the supervisor's): whichever answers
    `GET /metrics` shows each worker's counts under its own node name."""
    served = supervise("--node-name", "edge")
    nodes = await holders(served, [f"SCRAPE{i}" for i in range(20)])
    assert set(nodes.values()) == {"edge-1", "edge-2"}, nodes
    boots = {node: list(nodes.values()).count(node) for node in ("edge-1", "edge-2")}

    def counted() -> dict[str, float]:
        answer = httpx.get(
            f"http://127.0.0.1:{served.port}/metrics",
            headers={"Authorization": f"Bearer {cluster.token}"},
            timeout=DEADLINE,
        )
        assert answer.status_code == 200, answer.text
        found = {node: 0.0 for node in boots}
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name == "ocppd_messages_total"
                    and (labels["direction"], labels["action"]) == ("in", "BootNotification")
                    and labels["node"] in found
                ):
                    found[labels["node"]] += sample.value
        return found

    # Each scrape is a connection of its own, which the kernel gives to either worker; a
    # worker's counts reach the files within a second.
    for _ in range(4):
        await asyncio.to_thread(wait_until, lambda: counted() == boots, "both workers' boots")
