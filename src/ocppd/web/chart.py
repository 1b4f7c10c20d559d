"""Charts as SVG, drawn here (no chart library): values against time, on round ticks.

- `line_chart`: readings (time, value), joined by a line (power, energy).
- `step_chart`: a limit held over intervals (start, end, limit or None), as steps; an interval
  without a limit is shaded and labelled, not drawn at zero (smart charging's composite).

Geometry only; colours and fonts come from the style sheet (classes), so the strict CSP (no
inline style) holds. Each chart is an image with a title and a text summary for screen
readers, and a visible caption; the pages also offer the numbers as a table.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ocppd.web.markup import esc

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 28
"""The margins; the value axis's unit is written in the top one."""

Point = tuple[datetime, float]
Step = tuple[datetime, datetime, float | None]
"""From, until, the limit (None: nothing limits)."""

TIME_STEPS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)


def nice_step(span: float, count: int = 5) -> float:
    """A round step (1, 2 or 5 x 10^n) that cuts `span` into about `count` intervals."""
    if span <= 0:
        return 1.0
    raw = span / count
    power: float = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def time_step(seconds: float, count: int = 5) -> int:
    for step in TIME_STEPS:
        if seconds / step <= count:
            return step
    return TIME_STEPS[-1] * math.ceil(seconds / TIME_STEPS[-1] / count)


def number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def reading(value: float) -> str:
    """A reading in a chart's unit (kW, kWh): to two decimals, without trailing zeros
    (`11.11`, not `11.1111`: 10 W or 10 Wh is finer than a chart shows)."""
    return number(round(value, 2))


def amount(value: float) -> str:
    """A limit or a share of one: to one decimal (the precision of OCPP's limits), without
    trailing zeros (`11.1`, not `11.1111`; `16`, not `16.0`)."""
    return number(round(value, 1))


@dataclass(frozen=True)
class Frame:
    """The plot area: time from `start` to `end` across, values from `bottom` to `top` up."""

    start: datetime
    end: datetime
    bottom: float
    top: float
    step: float

    @classmethod
    def around(cls, start: datetime, end: datetime, values: Sequence[float]) -> "Frame":
        low = min(0.0, *values) if values else 0.0
        high = max(values) if values else 1.0
        step = nice_step(high - low if high > low else max(abs(high), 1.0))
        top = step * math.ceil(high / step) if high > low else low + step * 5
        return cls(start, end, step * math.floor(low / step), top, step)

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 1.0)

    def x(self, at: datetime) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (at - self.start).total_seconds() / self.seconds

    def y(self, value: float) -> float:
        inner = HEIGHT - TOP - BOTTOM
        return TOP + inner * (1 - (value - self.bottom) / (self.top - self.bottom))

    def axes(self, unit: str) -> str:
        """The grid, the value ticks (their `unit` at the head of the axis) and the time
        ticks."""
        parts = [
            f'<text class="tick unit" x="{LEFT - 6}" y="{TOP - 12}" text-anchor="end">'
            f"{esc(unit)}</text>"
        ]
        tick = self.bottom
        while tick <= self.top + self.step / 2:
            y = self.y(tick)
            parts.append(
                f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{number(tick)}</text>"
            )
            tick += self.step
        every = time_step(self.seconds)
        first = math.ceil(self.start.timestamp() / every) * every
        days = self.seconds > 86400
        for stamp in range(int(first), int(self.end.timestamp()) + 1, every):
            at = datetime.fromtimestamp(stamp, self.start.tzinfo)
            label = at.strftime("%d %H:%M" if days else "%H:%M:%S" if every < 60 else "%H:%M")
            parts.append(
                f'<text class="tick" x="{self.x(at):.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{label}</text>'
            )
        bottom = HEIGHT - BOTTOM
        parts.append(
            f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}"/>'
            f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom}" y2="{bottom}"/>'
        )
        return "".join(parts)


def _figure(key: str, title: str, unit: str, summary: str, drawing: str) -> str:
    ident = f"chart-{esc(key)}"
    return (
        f'<figure class="chart"><svg id="{ident}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{esc(title)} ({esc(unit)})</title>'
        f'<desc id="{ident}-desc">{esc(summary)}</desc>{drawing}</svg>'
        f"<figcaption>{esc(title)} ({esc(unit)}): {esc(summary)}</figcaption></figure>"
    )


def line_chart(
    key: str, title: str, unit: str, points: Sequence[Point], limits: Sequence[Step] = ()
) -> str:
    """An SVG line chart of `points` (sorted by time); an empty string for no points.
    `limits`: a limit in force over time, drawn over the line as dashed steps (where an
    interval has none, nothing is drawn), within the readings' time."""
    if not points:
        return ""
    values = [v for _, v in points]
    start, end = points[0][0], points[-1][0]
    shown = [(max(a, start), min(b, end), limit) for a, b, limit in limits if b > start and a < end]
    held = [limit for _, _, limit in shown if limit is not None]
    frame = Frame.around(start, end, values + held)
    line = " ".join(f"{frame.x(at):.1f},{frame.y(v):.1f}" for at, v in points)
    dots = "".join(
        f'<circle class="dot" cx="{frame.x(at):.1f}" cy="{frame.y(v):.1f}" r="2.5"/>'
        for at, v in points[-200:]
    )
    summary = (
        f"{len(points)} readings from {frame.start:%Y-%m-%d %H:%M:%S} to "
        f"{frame.end:%H:%M:%S} UTC, {reading(min(values))} to {reading(max(values))} {unit}"
    )
    if held:
        summary += "; limit in force (dashed): " + ", ".join(
            f"{amount(limit)} {unit}" for limit in sorted(set(held))
        )
    drawing = (
        frame.axes(unit)
        + f'<polyline class="series {esc(key)}" points="{line}"/>{dots}'
        + _limit_line(frame, shown)
    )
    return _figure(key, title, unit, summary, drawing)


def _limit_line(frame: "Frame", steps: Sequence[Step]) -> str:
    """The limited intervals as dashed steps; an interval without a limit breaks the line."""
    parts = [
        ""
        if limit is None
        else f"{frame.x(start):.1f},{frame.y(limit):.1f} {frame.x(end):.1f},{frame.y(limit):.1f}"
        for start, end, limit in steps
    ]
    return "".join(f'<polyline class="limit-line" points="{run}"/>' for run in _joined(parts))


def step_chart(key: str, title: str, unit: str, steps: Sequence[Step]) -> str:
    """An SVG step chart of limits over consecutive intervals; empty for no intervals."""
    if not steps:
        return ""
    limits = [limit for _, _, limit in steps if limit is not None]
    frame = Frame.around(steps[0][0], steps[-1][1], limits)
    shaded = []
    path = []
    for start, end, limit in steps:
        x1, x2 = frame.x(start), frame.x(end)
        if limit is None:
            shaded.append(
                f'<rect class="unlimited" x="{x1:.1f}" y="{TOP}" width="{max(x2 - x1, 0):.1f}" '
                f'height="{HEIGHT - TOP - BOTTOM}"/>'
                f'<text class="tick" x="{(x1 + x2) / 2:.1f}" y="{TOP + 14}" '
                f'text-anchor="middle">no limit</text>'
            )
            path.append("")
            continue
        y = frame.y(limit)
        path.append(f"{x1:.1f},{y:.1f} {x2:.1f},{y:.1f}")
    lines = "".join(
        f'<polyline class="series {esc(key)}" points="{run}"/>' for run in _joined(path) if run
    )
    summary = "; ".join(
        f"{start:%Y-%m-%d %H:%M} to {_until(start, end)}: "
        + ("no limit" if limit is None else f"{amount(limit)} {unit}")
        for start, end, limit in steps[:12]
    ) + ("; …" if len(steps) > 12 else "")
    return _figure(key, title, unit, summary, "".join(shaded) + frame.axes(unit) + lines)


def _until(start: datetime, end: datetime) -> str:
    """The end of an interval: its time, with its date when that is another day."""
    return f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"


def _joined(parts: Sequence[str]) -> list[str]:
    """Consecutive limited intervals as one line (the steps' risers included); an unlimited
    interval breaks it."""
    runs: list[str] = []
    current: list[str] = []
    for part in parts:
        if part:
            current.append(part)
        elif current:
            runs.append(" ".join(current))
            current = []
    if current:
        runs.append(" ".join(current))
    return runs


Part = tuple[str, float]
"""A labelled part of a whole."""


def share_bar(key: str, title: str, unit: str, whole: float, parts: Sequence[Part]) -> str:
    """One horizontal bar of `whole`, split into `parts` (in order) and what is left; parts
    beyond the whole are drawn past its end, marked as over."""
    height, left, right = 64, 8, 8
    total = sum(max(v, 0.0) for _, v in parts)
    span = max(whole, total, 1e-9)
    inner = WIDTH - left - right

    def w(value: float) -> float:
        return inner * max(value, 0.0) / span

    x = float(left)
    drawn = []
    for i, (label, value) in enumerate(parts):
        width = w(value)
        drawn.append(
            f'<rect class="part p{i % 6}" x="{x:.1f}" y="8" width="{width:.1f}" height="32">'
            f"<title>{esc(label)}: {amount(value)} {esc(unit)}</title></rect>"
        )
        if width > 40:
            drawn.append(
                f'<text class="part-label" x="{x + width / 2:.1f}" y="29" '
                f'text-anchor="middle">{esc(amount(value))} {esc(unit)}</text>'
            )
        x += width
    limit_x = left + w(whole)
    drawn.append(
        f'<line class="limit" x1="{limit_x:.1f}" x2="{limit_x:.1f}" y1="2" y2="46"/>'
        f'<text class="tick" x="{limit_x:.1f}" y="60" text-anchor="end">limit '
        f"{esc(amount(whole))} {esc(unit)}</text>"
    )
    summary = (
        f"{amount(total)} of {amount(whole)} {unit} shared: "
        + ", ".join(f"{label} {amount(value)} {unit}" for label, value in parts[:20])
        if parts
        else f"nothing shared of {amount(whole)} {unit}"
    )
    ident = f"chart-{esc(key)}"
    return (
        f'<figure class="chart"><svg id="{ident}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc"><title id="{ident}-title">'
        f'{esc(title)}</title><desc id="{ident}-desc">{esc(summary)}</desc>'
        f'<rect class="whole" x="{left}" y="8" width="{w(whole):.1f}" height="32"/>'
        + "".join(drawn)
        + f"</svg><figcaption>{esc(title)}: {esc(summary)}</figcaption></figure>"
    )
