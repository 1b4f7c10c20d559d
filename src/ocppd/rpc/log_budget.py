"""A log budget per charger: a charger that repeats an offence (bad frames, refused
handshakes, invalid UTF-8) gets a few lines in the log per period, not one per frame.

What is held back is counted and said in the next line that gets through. Only offenders have
an entry. When the table is full, the entries whose period is over are dropped; if a flood of
new names (a refused identity costs no credentials) leaves it more than three quarters full,
the oldest go too, counts and all. Either way the next sweep is a quarter of the table away,
so a new name costs O(1) amortized, never a scan of the table each.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

LINES_PER_PERIOD = 5
PERIOD = 60.0
MAX_KEYS = 10_000


class LogBudget:
    """At most `lines` log lines per `period` seconds for each key (a charge point, a path)."""

    def __init__(
        self,
        lines: int = LINES_PER_PERIOD,
        period: float = PERIOD,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.lines = lines
        self.period = period
        self.clock = clock
        self.max_keys = max_keys
        # key -> [start of its period, lines written in it, lines held back since the last]
        self._spent: dict[str, list[float]] = {}

    def log(self, logger: logging.Logger, level: int, key: str, message: str, *args: Any) -> bool:
        """Log `message % args` for `key` if its budget allows (True), else count it."""
        now = self.clock()
        spent = self._spent.get(key)
        if spent is None or now - spent[0] >= self.period:
            held = spent[2] if spent is not None else 0
            if spent is None and len(self._spent) >= self.max_keys:
                self._forget_expired(now)
            spent = self._spent[key] = [now, 0, held]
        if spent[1] >= self.lines:
            spent[2] += 1
            return False
        spent[1] += 1
        if spent[2]:
            message += " (%d similar lines held back)"
            args = (*args, int(spent[2]))
            spent[2] = 0
        logger.log(level, message, *args)
        return True

    def clear(self) -> None:
        """Every key starts afresh (between tests)."""
        self._spent.clear()

    def _forget_expired(self, now: float) -> None:
        counting = [
            (key, spent) for key, spent in self._spent.items() if now - spent[0] < self.period
        ]
        room = self.max_keys * 3 // 4
        self._spent = dict(counting[-room:] if room else [])


offences = LogBudget()
"""The budget shared by the transport and the sessions of one process."""
