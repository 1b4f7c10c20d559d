import logging

import pytest

from ocppd.rpc.log_budget import LogBudget

log = logging.getLogger("tests.log_budget")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_a_key_gets_its_lines_per_period_then_the_count_of_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    budget = LogBudget(lines=2, period=60, clock=clock)
    with caplog.at_level(logging.INFO):
        written = [budget.log(log, logging.WARNING, "A", "bad %d", n) for n in range(5)]
        assert budget.log(log, logging.WARNING, "B", "other")  # another key: its own budget
        clock.now = 60.0
        budget.log(log, logging.WARNING, "A", "bad %d", 5)
    assert written == [True, True, False, False, False]
    assert messages(caplog) == ["bad 0", "bad 1", "other", "bad 5 (3 similar lines held back)"]


def test_the_table_of_keys_stays_bounded() -> None:
    clock = Clock()
    budget = LogBudget(lines=1, period=60, clock=clock, max_keys=3)
    for n in range(10):
        clock.now = n
        budget.log(log, logging.DEBUG, f"key {n}", "x")
    assert len(budget._spent) <= 3
    clock.now = 100.0  # every period over: all forgotten at once, not one by one
    budget.log(log, logging.DEBUG, "new", "x")
    assert list(budget._spent) == ["new"]


def test_a_flood_of_new_keys_sweeps_the_table_once_a_quarter_of_it() -> None:
    """Names still counting fill the table: the oldest quarter goes at once, so the next
    sweep is a quarter of the table away (not one scan of the table per new name)."""
    clock = Clock()
    budget = LogBudget(lines=1, period=60, clock=clock, max_keys=8)
    sweeps = 0
    sweep = budget._forget_expired

    def counted(now: float) -> None:
        nonlocal sweeps
        sweeps += 1
        sweep(now)

    budget._forget_expired = counted  # type: ignore[method-assign]
    for n in range(80):
        budget.log(log, logging.DEBUG, f"key {n}", "x")
        assert len(budget._spent) <= 8
    assert sweeps <= 80 // 2  # a sweep every 2 new keys at most, of a table of 8
    assert "key 79" in budget._spent and "key 0" not in budget._spent  # the newest stay
