"""Line charts as SVG, drawn here (no chart library): a series of (time, value) points on a
time axis, with round ticks on both axes.

Geometry only; colours and fonts come from the style sheet (classes), so the strict CSP
(no inline style) holds. The chart is an image with a title and a text summary for screen
readers; the page also offers the numbers as a table.
"""

import math
from collections.abc import Sequence
from datetime import datetime

from ocppd.web.markup import esc

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 28

Point = tuple[datetime, float]


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


def time_step(seconds: float, count: int = 5) -> int:
    for step in TIME_STEPS:
        if seconds / step <= count:
            return step
    return TIME_STEPS[-1] * math.ceil(seconds / TIME_STEPS[-1] / count)


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def line_chart(key: str, title: str, unit: str, points: Sequence[Point]) -> str:
    """An SVG line chart of `points` (sorted by time); an empty string for no points."""
    if not points:
        return ""
    start, end = points[0][0], points[-1][0]
    seconds = max((end - start).total_seconds(), 1.0)
    low = min(0.0, min(v for _, v in points))
    high = max(v for _, v in points)
    step = nice_step(high - low if high > low else max(abs(high), 1.0))
    top = step * math.ceil(high / step) if high > low else low + step * 5
    bottom = step * math.floor(low / step)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + inner_w * (at - start).total_seconds() / seconds

    def y(value: float) -> float:
        return TOP + inner_h * (1 - (value - bottom) / (top - bottom))

    grid = []
    tick = bottom
    while tick <= top + step / 2:
        grid.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}"/><text class="tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{_number(tick)}</text>'
        )
        tick += step
    every = time_step(seconds)
    first = math.ceil(start.timestamp() / every) * every
    for stamp in range(int(first), int(end.timestamp()) + 1, every):
        at = datetime.fromtimestamp(stamp, start.tzinfo)
        label = at.strftime("%H:%M:%S" if every < 60 else "%H:%M")
        grid.append(
            f'<text class="tick" x="{x(at):.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{label}</text>"
        )
    line = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in points)
    dots = "".join(
        f'<circle class="dot" cx="{x(at):.1f}" cy="{y(v):.1f}" r="2.5"/>' for at, v in points[-200:]
    )
    summary = (
        f"{len(points)} readings from {start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S} UTC, "
        f"{_number(min(v for _, v in points))} to {_number(high)} {unit}"
    )
    return (
        f'<figure class="chart"><svg id="chart-{esc(key)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="chart-{esc(key)}-title chart-{esc(key)}-desc">'
        f'<title id="chart-{esc(key)}-title">{esc(title)} ({esc(unit)})</title>'
        f'<desc id="chart-{esc(key)}-desc">{esc(summary)}</desc>'
        + "".join(grid)
        + f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" '
        f'y2="{HEIGHT - BOTTOM}"/>'
        f'<polyline class="series {esc(key)}" points="{line}"/>{dots}</svg>'
        f"<figcaption>{esc(title)} ({esc(unit)}): {esc(summary)}</figcaption></figure>"
    )
