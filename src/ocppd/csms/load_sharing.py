"""How a site's limit is shared among its transactions: pure, no I/O, no clock.

Every quantity is in the site's unit (A per phase, or W); the controller converts.

- Fixed demands (a charger that refused or failed its profile: we cannot make it draw less)
  are counted at their maximum first; the rest of the limit is what the others share.
- Admission: in arrival order, each transaction is admitted while the minima of those admitted
  so far still fit. The first one that does not fit, and every later arrival, gets 0 (paused):
  whoever came first keeps charging, a new car waits for room rather than pushing everyone
  below the minimum. A car whose maximum is below the site's minimum needs only its maximum.
- Sharing: equal shares by water-filling. Every admitted transaction gets the common level,
  raised to its minimum and cut to its cap. The cap is its maximum, or, for a car that draws
  clearly less than the limit it has (`draw < current - margin / 2`), what it draws plus
  `margin`: the rest goes to the others. Held at its draw + margin, it stays so; once it draws
  what it is given, it is hungry again and gets the common level at the next rebalance.
- The sum of the shares never exceeds the limit left by the fixed demands, every admitted
  transaction gets at least its minimum and none more than its maximum. A higher limit never
  admits fewer transactions, never lowers the total, and, with the same transactions admitted,
  never lowers any share (a higher limit may admit one more car, which then takes its part).

`settle` is the hysteresis: which new shares are worth sending (see there).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Demand:
    """One active transaction, as the allocation sees it."""

    key: int
    """The transaction's id."""
    minimum: float
    maximum: float
    """What the car and its charger can take at most."""
    draw: float | None = None
    """The last measured draw; None = not measured yet."""
    current: float | None = None
    """The limit the charger applies now (last accepted); None = unknown."""
    fixed: bool = False
    """Not under our control: counted at `maximum`, never given a share."""

    @property
    def floor(self) -> float:
        """The minimum it needs when admitted (never more than its maximum)."""
        return min(self.minimum, self.maximum)

    def cap(self, margin: float) -> float:
        # Half the margin: a car held at its draw + margin stays satisfied (no flapping), and
        # meter noise under margin / 2 does not make a hungry car look satisfied.
        if (
            self.draw is not None
            and self.current is not None
            and self.draw < self.current - margin / 2
        ):
            return max(self.floor, min(self.maximum, self.draw + margin))
        return self.maximum


def allocate(limit: float, demands: Sequence[Demand], margin: float) -> dict[int, float]:
    """The share of every demand (given in arrival order); fixed ones at their maximum."""
    shares = {d.key: d.maximum for d in demands if d.fixed}
    available = available_to_share(limit, demands)
    admitted: list[Demand] = []
    needed = 0.0
    room = True
    for demand in demands:
        if demand.fixed:
            continue
        room = room and needed + demand.floor <= available
        if room:
            admitted.append(demand)
            needed += demand.floor
        else:
            shares[demand.key] = 0.0
    caps = [d.cap(margin) for d in admitted]
    level = water_level(available, [d.floor for d in admitted], caps)
    for demand, cap in zip(admitted, caps, strict=True):
        shares[demand.key] = min(max(level, demand.floor), cap)
    return shares


def available_to_share(limit: float, demands: Sequence[Demand]) -> float:
    """What the fixed demands leave of the limit."""
    return max(0.0, limit - sum(d.maximum for d in demands if d.fixed))


def water_level(available: float, floors: Sequence[float], caps: Sequence[float]) -> float:
    """The level h where the sum of min(max(h, floor), cap) reaches `available` (infinity when
    every cap fits). The sum is piecewise linear in h: walk its breakpoints in order."""
    if sum(caps) <= available:
        return float("inf")
    points = sorted([(f, 1) for f in floors] + [(c, -1) for c in caps])
    total = sum(floors)  # below every floor, each share is its floor
    slope = 0
    previous = points[0][0]
    for x, change in points:
        reached = total + slope * (x - previous)
        if reached >= available and slope > 0:
            return previous + (available - total) / slope
        total, previous = reached, x
        slope += change
    return float("inf")  # not reached: rounding at the last breakpoint


def settle(
    targets: Mapping[int, float],
    demands: Sequence[Demand],
    available: float,
    step: float,
) -> dict[int, float]:
    """The limits to apply: a target within `step` of the current limit keeps the current one
    (no profile sent for a small change), unless the sum then exceeds `available` (the limit
    left by the fixed demands), in which case the largest of the kept excesses are sent after
    all. A kept limit still respects the minimum (a paused transaction stays at 0)."""
    result = dict(targets)
    kept: list[tuple[float, int]] = []
    for demand in demands:
        target = targets.get(demand.key)
        current = demand.current
        if demand.fixed or target is None or current is None or current == target:
            continue
        within = abs(target - current) < step
        respects = current >= demand.floor if target > 0 else False
        if within and respects and current <= demand.maximum:
            result[demand.key] = current
            kept.append((current - target, demand.key))
    fixed = {d.key for d in demands if d.fixed}
    total = sum(v for k, v in result.items() if k not in fixed)
    for excess, key in sorted(kept, reverse=True):
        if total <= available or excess <= 0:
            break
        result[key] = targets[key]
        total -= excess
    return result
