"""The node's metrics (`csms.metrics`): what the hot path counts reaches Prometheus as
prometheus_client itself would count it, a charger's strings never become labels of their
own, and the Grafana dashboard in docs/ asks only for what ocppd exports."""

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from ocppd.csms.metrics import (
    SECONDS,
    UNKNOWN,
    Buckets,
    Metrics,
    close_code_label,
    error_code_label,
)
from ocppd.rpc.session import Direction, Traffic

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


def samples(metrics: Metrics) -> list[tuple[str, dict[str, str], float]]:
    text = metrics.exposition().decode()
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def call(unique_id: str, action: str) -> Traffic:
    return Traffic(Direction.IN, f'[2,"{unique_id}","{action}",{{}}]', 2, unique_id, action)


def answer(unique_id: str, action: str) -> Traffic:
    return Traffic(Direction.OUT, f'[3,"{unique_id}",{{}}]'.encode(), 3, unique_id, action)


def test_buckets_count_as_a_histogram_observes() -> None:
    """Values on a bound, between bounds, beyond the last: the same buckets and sum as
    `Histogram.observe` gives."""
    values = [0.0, 0.001, 0.0010001, 0.004, 0.25, 10.0, 11.0, 0.0025]
    registry = CollectorRegistry()
    observed = Histogram("observed", "", ["node"], registry=registry, buckets=SECONDS)
    added = Histogram("added", "", ["node"], registry=registry, buckets=SECONDS)
    buckets = Buckets(SECONDS)
    for value in values:
        observed.labels("n").observe(value)
        buckets.add(value)
    buckets.flush_into(added.labels("n"))
    buckets.flush_into(added.labels("n"))  # nothing more: flushed means counted once

    def of(name: str) -> list[tuple[str, dict[str, str], float]]:
        return [
            (sample.name.removeprefix(name), sample.labels, sample.value)
            for family in registry.collect()
            if family.name == name
            for sample in family.samples
            if not sample.name.endswith("_created")
        ]

    assert of("added") == of("observed")


def test_answers_are_timed_by_action_and_frames_counted() -> None:
    metrics = Metrics("n")
    observe = metrics.meter()
    observe(call("1", "Heartbeat"))
    observe(answer("1", "Heartbeat"))
    observe(call("2", "Heartbeat"))
    observe(call("3", "Heartbeat"))  # before "2" was answered: only the last one is timed
    observe(answer("2", "Heartbeat"))
    observe(answer("3", "Heartbeat"))
    seen = samples(metrics)
    counts = {
        (labels["direction"], labels["type"], labels["action"]): value
        for name, labels, value in seen
        if name == "ocppd_messages_total"
    }
    assert counts == {("in", "call", "Heartbeat"): 3, ("out", "result", "Heartbeat"): 3}
    timed = [v for n, labels, v in seen if n == "ocppd_handler_seconds_count"]
    assert timed == [2]


def test_a_chargers_strings_never_become_labels() -> None:
    """Actions and CALLERROR codes are a charger's strings: beyond OCPP 1.6's, all are
    `unknown` (one series, and nothing kept per string)."""
    metrics = Metrics("n")
    observe = metrics.meter()
    for n in range(1000):
        observe(call(f"u{n}", f"Action{n}"))
        observe(
            Traffic(
                Direction.OUT,
                f'[4,"u{n}","NotImplemented","",{{}}]'.encode(),
                4,
                f"u{n}",
                f"Action{n}",
            )
        )
        observe(Traffic(Direction.IN, f'[4,"x","Code{n}","",{{}}]', 4, "x", "Reset"))
    frames = metrics.frames
    assert set(frames.incoming[2]) == {UNKNOWN}
    assert set(frames.outgoing[4]) == {UNKNOWN}
    assert set(frames.answers) == {UNKNOWN}
    seen = samples(metrics)
    actions = {labels["action"] for name, labels, _ in seen if "action" in labels}
    assert actions == {UNKNOWN, "Reset"}
    codes = {
        (labels["direction"], labels["code"]): value
        for name, labels, value in seen
        if name == "ocppd_callerrors_total"
    }
    assert codes == {("out", "NotImplemented"): 1000, ("in", UNKNOWN): 1000}


def test_labels_of_codes() -> None:
    assert error_code_label("FormatViolation") == "FormationViolation"  # 2.0.1's spelling
    assert error_code_label("InternalError") == "InternalError"
    assert error_code_label("Whatever") == error_code_label(None) == UNKNOWN
    assert [close_code_label(c) for c in (1000, 1006, 1015, 999, 1016, 3000, 4999)] == [
        "1000",
        "1006",
        "1015",
        "other",
        "other",
        "other",
        "other",
    ]


def exported() -> dict[str, set[str]]:
    """Every sample name ocppd exports, with its label names: each metric exercised once."""
    metrics = Metrics("n")
    observe = metrics.meter()
    observe(call("1", "Heartbeat"))
    observe(Traffic(Direction.OUT, b'[4,"1","InternalError","",{}]', 4, "1", "Heartbeat"))
    metrics.connection_opened(1)
    metrics.connection_closed(1000, 0)
    metrics.committed(1, 0.001)
    metrics.database_error("lost")
    metrics.command("Reset", "answered")
    metrics.cross_node_call(0.002)
    metrics.event_stream_opened()
    metrics.redis_error("publish")
    names: dict[str, set[str]] = {}
    for name, labels, _ in samples(metrics):
        names.setdefault(name, set()).update(labels)
    return names


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
PROMQL_WORDS |= {"and", "or", "unless", "offset", "inf", "nan"}


def names_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """The metric names an expression reads, and the label names it matches or groups by."""
    labels: set[str] = set()
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    for grouping in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels |= {label.strip() for label in grouping.split(",") if label.strip()}
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without)\s*\([^)]*\)", " ", bare)
    words = re.findall(r"[a-zA-Z_:][\w:]*(?!\w|\s*\()", bare)
    return {w for w in words if w not in PROMQL_WORDS}, labels


def test_the_grafana_dashboard_reads_only_what_ocppd_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = exported()
    all_labels = set().union(*names.values())
    targets = [target for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(targets) >= 14
    read: set[str] = set()
    for target in targets:
        metrics, labels = names_and_labels(target["expr"])
        assert metrics, target["expr"]
        assert metrics <= names.keys(), (target["expr"], metrics - names.keys())
        assert labels <= all_labels, (target["expr"], labels - all_labels)
        for metric in metrics:
            assert labels - {"le"} <= names[metric], (target["expr"], metric)
        read |= metrics
    # Each metric ocppd exports has a panel.
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in names}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in read}
    assert families == shown
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["definition"])
            assert found is not None, variable["definition"]
            assert found[2] in names[found[1]]
