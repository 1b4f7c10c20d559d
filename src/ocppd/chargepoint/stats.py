"""What stations did, counted: calls sent and received by action, errors, latencies, and
what went wrong from the charger's point of view (`went_wrong`): authorizations the central
system did not accept, commands the station's handlers failed, CALLERRORs it received.

One `Stats` per station, merged for the summary of a run.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CALL_ERROR = "CallError "
"""How a CALLERROR received is counted among `errors`: `CallError <Action> <code>`."""


@dataclass
class Stats:
    sent: Counter[str] = field(default_factory=Counter)
    """Calls the station sent, by action."""
    received: Counter[str] = field(default_factory=Counter)
    """Calls the central system sent, by action."""
    errors: Counter[str] = field(default_factory=Counter)
    """By kind: `CallError <Action> <code>`, `Timeout <Action>`, `connect <reason>`..."""
    refused: Counter[str] = field(default_factory=Counter)
    """Answers whose idTagInfo was not Accepted: `<Action> <status>` (Authorize Invalid)."""
    failed: Counter[str] = field(default_factory=Counter)
    """Calls of the central system the station's handler failed (answered with a CALLERROR):
    `<Action> <code>`."""
    latencies: dict[str, list[float]] = field(default_factory=dict)
    """Seconds from a call to its answer, by action."""
    connections: int = 0

    def went_wrong(self) -> dict[str, int]:
        """The charger's point of view: how many of each kind of trouble."""
        return {
            "authorizations_refused": sum(self.refused.values()),
            "commands_failed": sum(self.failed.values()),
            "callerrors_received": sum(
                n for kind, n in self.errors.items() if kind.startswith(CALL_ERROR)
            ),
        }

    def answered(self, action: str, seconds: float) -> None:
        self.latencies.setdefault(action, []).append(seconds)

    def merge(self, other: "Stats") -> None:
        self.sent.update(other.sent)
        self.received.update(other.received)
        self.errors.update(other.errors)
        self.refused.update(other.refused)
        self.failed.update(other.failed)
        for action, values in other.latencies.items():
            self.latencies.setdefault(action, []).extend(values)
        self.connections += other.connections

    def export(self) -> dict[str, Any]:
        """Everything, as JSON data another process can merge (`imported`): latencies as
        counts per 0.1 ms."""
        latencies = {}
        for action, values in self.latencies.items():
            buckets = Counter(round(value * 1000, 1) for value in values)
            latencies[action] = sorted(buckets.items())
        return {
            "connections": self.connections,
            "sent": dict(self.sent),
            "received": dict(self.received),
            "errors": dict(self.errors),
            "refused": dict(self.refused),
            "failed": dict(self.failed),
            "latencies": latencies,
        }

    @classmethod
    def imported(cls, data: dict[str, Any]) -> "Stats":
        stats = cls(
            sent=Counter(data["sent"]),
            received=Counter(data["received"]),
            errors=Counter(data["errors"]),
            refused=Counter(data["refused"]),
            failed=Counter(data["failed"]),
            connections=data["connections"],
        )
        for action, buckets in data["latencies"].items():
            stats.latencies[action] = [ms / 1000 for ms, n in buckets for _ in range(n)]
        return stats

    def summary(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "sent": dict(sorted(self.sent.items())),
            "received": dict(sorted(self.received.items())),
            "errors": dict(sorted(self.errors.items())),
            "refused": dict(sorted(self.refused.items())),
            "failed": dict(sorted(self.failed.items())),
            "went_wrong": self.went_wrong(),
            "latency_ms": {
                action: _percentiles(values) for action, values in sorted(self.latencies.items())
            },
        }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(fraction: float) -> float:
        index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
        return round(ordered[index] * 1000, 2)

    return {"p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": at(1.0)}
