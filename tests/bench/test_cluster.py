"""bench/cluster.py's pure parts: percentiles, Redis INFO deltas, the event stream's parsing,
the quick run's bounds. (The bench itself runs nodes for minutes: not a test.)"""

import importlib
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def cluster_bench() -> ModuleType:
    # The benches import each other as top-level modules (run as scripts from bench/).
    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))
    return importlib.import_module("cluster")


def test_percentiles_in_milliseconds(cluster_bench: ModuleType) -> None:
    spread = cluster_bench.Spread.of([i / 1000 for i in range(100, 0, -1)])  # 1..100 ms
    assert spread.n == 100
    assert spread.p50 == pytest.approx(50.5)
    assert spread.p99 == pytest.approx(99.01)
    assert spread.max == pytest.approx(100.0)


def test_no_p99_from_fewer_than_100(cluster_bench: ModuleType) -> None:
    spread = cluster_bench.Spread.of([0.002, 0.001, 0.003])
    assert (spread.n, spread.p50, spread.max) == (3, pytest.approx(2.0), pytest.approx(3.0))
    assert math.isnan(spread.p99)
    assert math.isnan(cluster_bench.Spread.of([]).p50)
    assert cluster_bench.Spread.of([0.004]).p50 == pytest.approx(4.0)


def test_redis_command_deltas_leave_out_info_and_unchanged(cluster_bench: ModuleType) -> None:
    before = {
        "cmdstat_info": {"calls": 5},
        "cmdstat_publish": {"calls": 10},
        "cmdstat_get": {"calls": 3},
    }
    after = {
        "cmdstat_info": {"calls": 9},
        "cmdstat_publish": {"calls": 12},
        "cmdstat_get": {"calls": 3},
        "cmdstat_evalsha": {"calls": 7, "usec": 70},
    }
    assert cluster_bench.command_deltas(before, after) == {"evalsha": 7, "publish": 2}
    assert list(cluster_bench.command_deltas(before, after)) == ["evalsha", "publish"]


def test_redis_commands_per_message_less_the_idle_ones(cluster_bench: ModuleType) -> None:
    per_message = cluster_bench.per_message
    assert per_message({"evalsha": 4}, 1000, {"evalsha": 2}, 2.0) == 0.0
    assert per_message({"evalsha": 4, "publish": 10}, 1000, {"evalsha": 2}, 2.0) == 0.01
    assert per_message({"publish": 3}, 0, {}, 1.0) == 3.0  # no message: per one, not a crash


def test_server_sent_events_parsed(cluster_bench: ModuleType) -> None:
    lines = [
        ": subscribed",
        "",
        "event: StatusNotification",
        'data: {"chargePointId": "EV1",',
        'data: "status": "Available"}',
        "",
        ": keepalive",
        "",
        'data: {"type": "x"}',
        "",
    ]
    assert list(cluster_bench.sse_events(lines)) == [
        ("StatusNotification", {"chargePointId": "EV1", "status": "Available"}),
        ("message", {"type": "x"}),
    ]


def test_quick_run_is_bounded(cluster_bench: ModuleType) -> None:
    args = cluster_bench.parse(["--quick"])
    assert args.budget <= 300 and args.storm <= 1000 and args.failover <= 200
    assert cluster_bench.parse(["--only", "events"]).only == ["events"]
